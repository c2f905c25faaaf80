// build: typed cell → the forward Graph of one step (or of the whole unrolled
// block). Leaves are parameters, inputs at t, and states at t-1; roots are the
// states at t and the per-step outputs. Notation sugar was already resolved to
// primitives by the checker, so this is a direct walk.

import type { TExpr, TypedCell } from '../check/typed-cell.ts';
import { stateShapeDims } from '../check/typed-cell.ts';
import type { Graph, Root } from '../ir/graph.ts';
import { Builder } from '../ir/graph.ts';
import type { Shape } from '../ir/ops.ts';

const key = (name: string, step?: number) => (step === undefined ? name : `${name}@${step}`);
const vec = (d: Shape['dims'][number]): Shape => ({ batch: true, dims: [d] });

export function build(cell: TypedCell): Graph {
  const b = new Builder();
  const values = new Map<string, number>();
  const paramShape = new Map(cell.params.map((p) => [p.name, { batch: false, dims: p.shape } as Shape]));
  const inputDim = new Map(cell.inputs.map((i) => [i.name, i.dim]));
  const stateDim = new Map(cell.states.map((s) => [s.name, s.dim]));
  const stateShape = new Map(cell.states.map((s) => [s.name, { batch: true, dims: stateShapeDims(s) } as Shape]));

  const walk = (e: TExpr): number => {
    if (e.k === 'leaf') {
      switch (e.leaf) {
        case 'const': return b.const(e.value!);
        case 'param': return b.node('param', [], { name: e.name, shape: paramShape.get(e.name)! }, e.span);
        case 'input': return b.node('input', [], { name: e.name, step: e.step, shape: vec(inputDim.get(e.name)!) }, e.span);
        case 'prev': return b.node('prev', [], { name: e.name, step: e.step, shape: stateShape.get(e.name) ?? vec(e.shape!.dims[0]!) }, e.span);
        case 'ref': return values.get(key(e.name, e.step))!;
      }
    }
    return b.node(e.op, e.args.map(walk), e.attrs, e.span);
  };

  for (const eq of cell.equations) {
    let id = walk(eq.expr);
    const s = b.shape(id);
    const timed = stateDim.has(eq.name) || cell.outputs.some((o) => o.name === eq.name);
    if (timed && !s.batch) id = b.node('bcast', [id], { shape: { batch: true, dims: s.dims.length ? s.dims : [] } }, eq.span);
    values.set(key(eq.name, eq.step), id);
    if (!timed) b.label(id, eq.name);
  }

  const roots: Root[] = [];
  const steps = cell.mode === 'unrolled' ? Array.from({ length: cell.steps }, (_, i) => i + 1) : [undefined];
  for (const step of steps) {
    for (const s of cell.states) {
      const id = values.get(key(s.name, step));
      if (id !== undefined) roots.push(step === undefined ? { name: s.name, role: 'state', id } : { name: s.name, role: 'state', id, step });
    }
    for (const o of cell.outputs) {
      const id = values.get(key(o.name, step));
      if (id !== undefined) roots.push(step === undefined ? { name: o.name, role: 'output', id } : { name: o.name, role: 'output', id, step });
    }
  }
  return b.finish(roots);
}
