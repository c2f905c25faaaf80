// The float64 interpreter: the reference semantics every backend is tested
// against. Evaluates a graph node by node with each primitive's `eval`.

import type { Dim } from '../compiler/ir/dims.ts';
import { dimToString, evalDim } from '../compiler/ir/dims.ts';
import type { Graph, Node } from '../compiler/ir/graph.ts';
import type { Shape, Tensor } from '../compiler/ir/ops.ts';
import { OPS } from '../compiler/ir/ops.ts';

export type DimEnv = ReadonlyMap<string, number>;

export function dimValue(d: Dim, env: DimEnv): number {
  const v = evalDim(d, env);
  if (v === undefined) throw new Error(`dimension ${dimToString(d)} is not bound`);
  return v;
}

export const numericShape = (s: Shape, env: DimEnv) => ({ batched: s.batch, dims: s.dims.map((d) => dimValue(d, env)) });

export function zerosFor(s: Shape, env: DimEnv, batch: number): Tensor {
  const { batched, dims } = numericShape(s, env);
  return { batched, dims, data: new Float64Array((batched ? batch : 1) * dims.reduce((a, b) => a * b, 1)) };
}

/** Values of leaves, by node: parameters, inputs, previous states, cotangents. */
export type LeafValues = (n: Node) => Tensor | undefined;

/** Evaluate every node (or only those needed by `want`); returns the values by id. */
export function interpret(g: Graph, leaves: LeafValues, env: DimEnv, batch: number, want?: ReadonlySet<number>): (Tensor | undefined)[] {
  const values: (Tensor | undefined)[] = new Array(g.nodes.length);
  const ctx = { batch, dim: (d: Dim) => dimValue(d, env) };
  for (const n of g.nodes) {
    if (want && !want.has(n.id)) continue;
    const out = numericShape(n.shape, env);
    if (n.op === 'param' || n.op === 'input' || n.op === 'prev' || n.op === 'cot') {
      const v = leaves(n);
      if (!v) throw new Error(`no value for ${n.op} ${n.attrs.name}${n.attrs.step !== undefined ? `@${n.attrs.step}` : ''}`);
      const size = (out.batched ? batch : 1) * out.dims.reduce((a, b) => a * b, 1);
      if (v.data.length !== size) throw new Error(`${n.op} ${n.attrs.name}: expected ${size} numbers, got ${v.data.length}`);
      // The node's own shape: a scalar state per example is stored as one number per example ([B][1]) and read as a scalar.
      values[n.id] = v.batched === out.batched && v.dims.length === out.dims.length ? v : { ...out, data: v.data };
      continue;
    }
    const args = n.inputs.map((x) => values[x]!);
    values[n.id] = { ...out, data: OPS[n.op].eval(args, n.attrs, { ...ctx, out }) };
  }
  return values;
}
