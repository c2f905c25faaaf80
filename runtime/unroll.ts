// Unrolling a compiled cell over T steps: the forward pass, and backpropagation
// through time that runs the backward step graph from t = T down to 1, carrying
// only the cotangents of the states.

import type { CompiledCell } from '../compiler/compile.ts';
import { stateDims } from '../compiler/check/typed-cell.ts';
import type { Graph, Node } from '../compiler/ir/graph.ts';
import type { Tensor } from '../compiler/ir/ops.ts';
import type { DimEnv } from './interpreter.ts';
import { interpret, zerosFor } from './interpreter.ts';
import { entry } from './backend.ts';

export interface Run {
  readonly batch: number;
  readonly steps: number;
  readonly env: DimEnv;
  readonly params: Readonly<Record<string, Tensor>>;
  /** Per input name, one [batch × n] tensor per step. */
  readonly inputs: Readonly<Record<string, readonly Tensor[]>>;
  /** Initial states; a state missing here starts at its declared constant. */
  readonly init: Readonly<Record<string, Tensor>>;
}

export interface Trajectory {
  readonly states: Record<string, Tensor[]>;
  readonly outputs: Record<string, Tensor[]>;
  /** The initial states actually used. */
  readonly init: Record<string, Tensor>;
}

export interface Cotangents {
  readonly states?: Readonly<Record<string, readonly Tensor[]>>;
  readonly outputs?: Readonly<Record<string, readonly Tensor[]>>;
}

export interface Grads {
  readonly params: Record<string, Tensor>;
  readonly inputs: Record<string, Tensor[]>;
  readonly init: Record<string, Tensor>;
}

/**
 * An unrolled cell's holes: for each state and output, the steps (1-based) at
 * which no equation defines it — the notes' many-to-one written out defines
 * `y^<T>` alone. Every backend gives zeros there (and a cotangent there reaches
 * nothing); `celda eval` prints them as null. None for a step cell.
 */
export function holes(cell: CompiledCell): { readonly states: Record<string, number[]>; readonly outputs: Record<string, number[]> } {
  const states: Record<string, number[]> = {}, outputs: Record<string, number[]> = {};
  if (cell.typed.mode !== 'unrolled') return { states, outputs };
  const T = cell.typed.steps;
  for (const [role, names, bucket] of [['state', cell.typed.states.map((s) => s.name), states], ['output', cell.typed.outputs.map((o) => o.name), outputs]] as const) {
    for (const name of names) {
      const defined = new Set(cell.forward.roots.filter((r) => r.role === role && r.name === name).map((r) => r.step));
      const missing = Array.from({ length: T }, (_, i) => i + 1).filter((t) => !defined.has(t));
      if (missing.length) bucket[name] = missing;
    }
  }
  return { states, outputs };
}

const add = (a: Tensor, b: Tensor): Tensor => ({ ...a, data: a.data.map((x, i) => x + b.data[i]!) });

export function initialStates(cell: CompiledCell, run: Run): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const s of cell.typed.states) {
    const given = entry(run.init, s.name);
    if (given) out[s.name] = given;
    else {
      const z = zerosFor({ batch: true, dims: stateDims(s) }, run.env, run.batch);
      if (s.init !== 0) z.data.fill(s.init);
      out[s.name] = z;
    }
  }
  return out;
}

function leafReader(run: Run, t: number | undefined, prev: Record<string, Tensor>, cot: (n: Node) => Tensor | undefined) {
  return (n: Node): Tensor | undefined => {
    const name = n.attrs.name!;
    switch (n.op) {
      case 'param': return run.params[name];
      case 'input': return run.inputs[name]?.[(n.attrs.step ?? t!) - 1];
      case 'prev': return prev[name];
      case 'cot': return cot(n);
      default: return undefined;
    }
  };
}

export function forward(cell: CompiledCell, run: Run): Trajectory {
  const g = cell.forward;
  const init = initialStates(cell, run);
  const states: Record<string, Tensor[]> = Object.fromEntries(cell.typed.states.map((s) => [s.name, []]));
  const outputs: Record<string, Tensor[]> = Object.fromEntries(cell.typed.outputs.map((o) => [o.name, []]));
  const collect = (values: (Tensor | undefined)[], t?: number) => {
    for (const r of g.roots) {
      if (t !== undefined && r.step !== undefined) continue;
      const bucket = r.role === 'state' ? states : outputs;
      const at = (r.step ?? t)! - 1;
      bucket[r.name]![at] = values[r.id]!;
    }
  };
  if (cell.typed.mode === 'unrolled') {
    collect(interpret(g, leafReader(run, undefined, init, () => undefined), run.env, run.batch));
    // a step no equation defines (a hole) holds zeros
    const h = holes(cell);
    for (const s of cell.typed.states) for (const t of h.states[s.name] ?? []) states[s.name]![t - 1] = zerosFor({ batch: true, dims: stateDims(s) }, run.env, run.batch);
    for (const o of cell.typed.outputs) for (const t of h.outputs[o.name] ?? []) outputs[o.name]![t - 1] = zerosFor({ batch: true, dims: o.shape.dims }, run.env, run.batch);
    return { states, outputs, init };
  }
  let prev = init;
  for (let t = 1; t <= run.steps; t++) {
    const values = interpret(g, leafReader(run, t, prev, () => undefined), run.env, run.batch);
    collect(values, t);
    prev = Object.fromEntries(cell.typed.states.map((s) => [s.name, states[s.name]![t - 1]!]));
  }
  return { states, outputs, init };
}

/** The VJP of all states and outputs at all steps with the given cotangents. */
export function backward(cell: CompiledCell, run: Run, traj: Trajectory, cot: Cotangents): Grads {
  const g: Graph = cell.backward;
  const zeros = (n: Node) => zerosFor(n.shape, run.env, run.batch);
  const params: Record<string, Tensor> = Object.fromEntries(cell.typed.params.map((p) => [p.name, zerosFor({ batch: false, dims: p.shape }, run.env, run.batch)]));
  const inputs: Record<string, Tensor[]> = Object.fromEntries(cell.typed.inputs.map((i) => [i.name, Array.from({ length: run.steps }, () => zerosFor({ batch: true, dims: [i.dim] }, run.env, run.batch))]));
  const given = (role: string, name: string, t: number): Tensor | undefined =>
    entry(role === 'state' ? cot.states : cot.outputs, name)?.[t - 1];

  if (cell.typed.mode === 'unrolled') {
    const cotOf = (n: Node) => {
      const [role, name] = n.attrs.name!.split(':') as [string, string];
      return given(role, name, n.attrs.step!) ?? zeros(n);
    };
    const values = interpret(g, leafReader(run, undefined, traj.init, cotOf), run.env, run.batch);
    const init: Record<string, Tensor> = Object.fromEntries(cell.typed.states.map((s) => [s.name, zerosFor({ batch: true, dims: stateDims(s) }, run.env, run.batch)]));
    for (const r of g.roots) {
      const v = values[r.id]!;
      if (r.of === 'param') params[r.name] = v;
      else if (r.of === 'input') inputs[r.name]![r.step! - 1] = v;
      else if (r.of === 'prev') init[r.name] = v;
    }
    return { params, inputs, init };
  }

  let carry = new Map<string, Tensor>();
  for (let t = run.steps; t >= 1; t--) {
    const prev = t === 1 ? traj.init : Object.fromEntries(cell.typed.states.map((s) => [s.name, traj.states[s.name]![t - 2]!]));
    const cotOf = (n: Node) => {
      const [role, name] = n.attrs.name!.split(':') as [string, string];
      const c = given(role, name, t);
      const k = role === 'state' ? carry.get(name) : undefined;
      return c && k ? add(c, k) : c ?? k ?? zeros(n);
    };
    const values = interpret(g, leafReader(run, t, prev, cotOf), run.env, run.batch);
    const next = new Map<string, Tensor>();
    for (const r of g.roots) {
      const v = values[r.id]!;
      if (r.of === 'param') params[r.name] = add(params[r.name]!, v);
      else if (r.of === 'input') inputs[r.name]![t - 1] = v;
      else if (r.of === 'prev') next.set(r.name, v);
    }
    carry = next;
  }
  const init: Record<string, Tensor> = Object.fromEntries(cell.typed.states.map((s) => [s.name, carry.get(s.name) ?? zerosFor({ batch: true, dims: stateDims(s) }, run.env, run.batch)]));
  return { params, inputs, init };
}
