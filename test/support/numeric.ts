// Numeric helpers for the gradient tests: seeded random tensors, runs and
// cotangents for a compiled cell; central finite differences in float64; inner
// products; a generic "grad() of a graph against finite differences" check;
// and `staticUnroll`, which composes a step graph T times into one Graph so
// that BPTT can be compared with grad() of the whole unrolled computation.

import type { CompiledCell } from '../../compiler/compile.ts';
import { stateDims, stateShapeDims } from '../../compiler/check/typed-cell.ts';
import type { Dim } from '../../compiler/ir/dims.ts';
import type { Graph, Node, Root } from '../../compiler/ir/graph.ts';
import { Builder } from '../../compiler/ir/graph.ts';
import type { LeafOp } from '../../compiler/passes/grad.ts';
import { cotNameIn, grad } from '../../compiler/passes/grad.ts';
import type { Shape, Tensor } from '../../compiler/ir/ops.ts';
import type { DimEnv } from '../../runtime/interpreter.ts';
import { interpret, numericShape } from '../../runtime/interpreter.ts';
import { Rng } from '../../runtime/random.ts';
import type { Cotangents, Grads, Run, Trajectory } from '../../runtime/unroll.ts';
import { backward, forward } from '../../runtime/unroll.ts';

// ---------------------------------------------------------------- tensors

export const size = (batched: boolean, dims: readonly number[], batch: number) => (batched ? batch : 1) * dims.reduce((a, b) => a * b, 1);

/** How a random value is drawn: the default is a normal scaled by `scale`. */
export type Domain = 'any' | 'positive' | 'awayFromZero';

export function draw(rng: Rng, domain: Domain = 'any', scale = 1): number {
  switch (domain) {
    case 'any': return scale * rng.normal();
    // Away from 0, so log/sqrt/division and the kinks of abs/relu are far from a difference step.
    case 'positive': return rng.uniform(0.5, 2);
    case 'awayFromZero': return (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.5, 2);
  }
}

export function randomTensor(rng: Rng, batched: boolean, dims: readonly number[], batch: number, domain: Domain = 'any', scale = 1): Tensor {
  const data = new Float64Array(size(batched, dims, batch));
  for (let i = 0; i < data.length; i++) data[i] = draw(rng, domain, scale);
  return { batched, dims: [...dims], data };
}

export function randomFor(rng: Rng, s: Shape, env: DimEnv, batch: number, domain: Domain = 'any', scale = 1): Tensor {
  const { batched, dims } = numericShape(s, env);
  return randomTensor(rng, batched, dims, batch, domain, scale);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dot: lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---------------------------------------------------------------- finite differences

/**
 * The derivative of f at x[i] by the fourth-order central difference
 * (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h. x is restored afterwards.
 * With h = 1e-3 the truncation error is O(h⁴) and the rounding error ~1e-13·|f|,
 * so float64 agreement to ~1e-8 relative is routine.
 */
export function centralDiff(f: () => number, x: Float64Array, i: number, h = 1e-3): number {
  const x0 = x[i]!;
  const at = (d: number) => { x[i] = x0 + d; const v = f(); x[i] = x0; return v; };
  return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
}

/** The directional derivative of f along v (moving every slot at once). */
export function directionalDiff(f: () => number, slots: readonly Float64Array[], dirs: readonly Float64Array[], h = 1e-3): number {
  const saved = slots.map((s) => Float64Array.from(s));
  const at = (d: number) => {
    slots.forEach((s, k) => { for (let i = 0; i < s.length; i++) s[i] = saved[k]![i]! + d * dirs[k]![i]!; });
    const v = f();
    slots.forEach((s, k) => s.set(saved[k]!));
    return v;
  };
  return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
}

/** |a − b| against rtol·max(|a|, |b|) + atol; the scaled error (≤ 1 passes). */
export const scaledError = (a: number, b: number, rtol = 1e-6, atol = 1e-9) => Math.abs(a - b) / (rtol * Math.max(Math.abs(a), Math.abs(b)) + atol);

/** A labelled set of numbers that a function depends on, with its analytic gradient. */
export interface Slot {
  readonly label: string;
  readonly data: Float64Array;
  readonly grad: ArrayLike<number>;
}

export interface Mismatch { readonly label: string; readonly index: number; readonly analytic: number; readonly numeric: number }

export interface FdReport {
  /** Number of scalars checked. */
  readonly count: number;
  /** Largest |analytic − numeric| / max(1e-300, |numeric|) over entries with |numeric| > 1e-6. */
  readonly maxRel: number;
  readonly maxAbs: number;
  readonly mismatches: readonly Mismatch[];
}

/** Every scalar of every slot against a central difference of f. */
export function checkSlots(f: () => number, slots: readonly Slot[], tol: { rtol?: number; atol?: number; h?: number } = {}): FdReport {
  const mismatches: Mismatch[] = [];
  let count = 0, maxRel = 0, maxAbs = 0;
  for (const s of slots) {
    if (s.grad.length !== s.data.length) throw new Error(`${s.label}: gradient has ${s.grad.length} numbers for ${s.data.length}`);
    for (let i = 0; i < s.data.length; i++) {
      const numeric = centralDiff(f, s.data, i, tol.h);
      const analytic = s.grad[i]!;
      count++;
      const abs = Math.abs(analytic - numeric);
      maxAbs = Math.max(maxAbs, abs);
      if (Math.abs(numeric) > 1e-6) maxRel = Math.max(maxRel, abs / Math.abs(numeric));
      if (!(scaledError(analytic, numeric, tol.rtol, tol.atol) <= 1)) mismatches.push({ label: s.label, index: i, analytic, numeric });
    }
  }
  return { count, maxRel, maxAbs, mismatches };
}

/** A readable summary of the first few mismatches, for failing expectations. */
export const describeMismatches = (ms: readonly Mismatch[], n = 8) =>
  ms.slice(0, n).map((m) => `${m.label}[${m.index}]: analytic ${m.analytic} vs numeric ${m.numeric}`).join('\n');

// ---------------------------------------------------------------- compiled cells

/** Every dimension variable a cell's shapes mention. */
export function cellDims(cell: CompiledCell): string[] {
  const t = cell.typed;
  const names = new Set<string>(t.dims);
  const add = (d: Dim) => d.terms.forEach(([v]) => names.add(v));
  t.params.forEach((p) => p.shape.forEach(add));
  t.inputs.forEach((i) => add(i.dim));
  t.states.forEach((s) => stateDims(s).forEach(add));
  t.outputs.forEach((o) => o.shape.dims.forEach(add));
  return [...names];
}

/** Bind every dimension of a cell: the sizes given, else `fallback`. */
export function dimEnv(cell: CompiledCell, sizes: Readonly<Record<string, number>>, fallback = 3): Map<string, number> {
  return new Map(cellDims(cell).map((d) => [d, sizes[d] ?? fallback]));
}

export interface RunOptions {
  readonly env: DimEnv;
  readonly batch: number;
  readonly steps: number;
  readonly seed: number;
  /** Scale of the random parameters (inputs and initial states are standard normal). */
  readonly paramScale?: number;
  /** Random initial states (default) or each state's declared constant. */
  readonly randomInit?: boolean;
}

/** Seeded random parameters, inputs at every step and initial states. */
export function randomRun(cell: CompiledCell, o: RunOptions): Run {
  const rng = new Rng(o.seed);
  const t = cell.typed;
  const steps = t.mode === 'unrolled' ? t.steps : o.steps;
  const vec = (d: Dim): Shape => ({ batch: true, dims: [d] });
  return {
    batch: o.batch, steps, env: o.env,
    params: Object.fromEntries(t.params.map((p) => [p.name, randomFor(rng, { batch: false, dims: p.shape }, o.env, o.batch, 'any', o.paramScale ?? 0.5)])),
    inputs: Object.fromEntries(t.inputs.map((i) => [i.name, Array.from({ length: steps }, () => randomFor(rng, vec(i.dim), o.env, o.batch))])),
    init: o.randomInit === false ? {} : Object.fromEntries(t.states.map((s) => [s.name, randomFor(rng, { batch: true, dims: stateShapeDims(s) }, o.env, o.batch)])),
  };
}

/** Random cotangents for every state and output at every step. */
export function randomCotangents(cell: CompiledCell, run: Run, seed: number): Required<Cotangents> {
  const rng = new Rng(seed);
  const traj = forward(cell, run);
  const like = (ts: readonly Tensor[]) => ts.map((x) => randomTensor(rng, x.batched, x.dims, run.batch));
  return {
    states: Object.fromEntries(Object.entries(traj.states).map(([k, v]) => [k, like(v)])),
    outputs: Object.fromEntries(Object.entries(traj.outputs).map(([k, v]) => [k, like(v)])),
  };
}

/** L = Σ_t Σ ⟨cot, value⟩ over the states and outputs of a trajectory. */
export function pairing(traj: Trajectory, cot: Cotangents): number {
  let s = 0;
  for (const [bucket, cots] of [[traj.states, cot.states], [traj.outputs, cot.outputs]] as const)
    for (const [name, cs] of Object.entries(cots ?? {})) cs.forEach((c, t) => { s += dot(c.data, bucket[name]![t]!.data); });
  return s;
}

export const lossOf = (cell: CompiledCell, run: Run, cot: Cotangents) => pairing(forward(cell, run), cot);

/** Every number the run feeds the cell, with the matching entry of `grads` (in place: mutating `data` changes the run). */
export function runSlots(cell: CompiledCell, run: Run, grads: Grads): Slot[] {
  const init = run.init;
  const slots: Slot[] = [];
  for (const p of cell.typed.params) slots.push({ label: `param ${p.name}`, data: run.params[p.name]!.data, grad: grads.params[p.name]!.data });
  for (const i of cell.typed.inputs) run.inputs[i.name]!.forEach((x, t) => slots.push({ label: `input ${i.name}^<${t + 1}>`, data: x.data, grad: grads.inputs[i.name]![t]!.data }));
  for (const s of cell.typed.states) if (init[s.name]) slots.push({ label: `init ${s.name}^<0>`, data: init[s.name]!.data, grad: grads.init[s.name]!.data });
  return slots;
}

/** BPTT gradients of the run, the slots they belong to, and the loss they are the gradient of. */
export function cellGradients(cell: CompiledCell, run: Run, cot: Cotangents) {
  const grads = backward(cell, run, forward(cell, run), cot);
  return { grads, slots: runSlots(cell, run, grads), loss: () => lossOf(cell, run, cot) };
}

// ---------------------------------------------------------------- graphs

/** `param:W_aa`, `input:x@3`, `cot:state:a@2`: how leaves are found in a value table. */
export const leafKey = (op: string, name: string, step?: number) => `${op}:${name}${step === undefined ? '' : `@${step}`}`;
const nodeLeafKey = (n: Node) => leafKey(n.op, n.attrs.name!, n.attrs.step);
export const isLeafOp = (op: string): op is LeafOp => op === 'param' || op === 'input' || op === 'prev' || op === 'cot';

/** Random values for every named leaf of a graph (domains per leaf, default normal). */
export function randomLeaves(g: Graph, env: DimEnv, batch: number, rng: Rng, domain: (n: Node) => Domain = () => 'any'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const n of g.nodes) if (isLeafOp(n.op) && !out.has(nodeLeafKey(n))) out.set(nodeLeafKey(n), randomFor(rng, n.shape, env, batch, domain(n)));
  return out;
}

/** Interpret a graph with leaves from a table; the values of its roots, in order. */
export function evalRoots(g: Graph, leaves: ReadonlyMap<string, Tensor>, env: DimEnv, batch: number): Tensor[] {
  const values = interpret(g, (n) => leaves.get(nodeLeafKey(n)), env, batch);
  return g.roots.map((r) => values[r.id]!);
}

export interface GraphGradCheck extends FdReport {
  /** The VJP graph that was checked. */
  readonly vjp: Graph;
}

/**
 * grad(g) against central differences of L = Σ_r ⟨c_r, root_r⟩ with random leaves
 * and random root cotangents c_r: every scalar of every leaf in `wrt`.
 */
export function checkGraphGrad(g: Graph, opts: {
  env: DimEnv; batch: number; seed: number;
  wrt?: readonly LeafOp[];
  domain?: (n: Node) => Domain;
  rtol?: number; atol?: number; h?: number;
}): GraphGradCheck {
  const wrt = opts.wrt ?? ['param', 'input', 'prev', 'cot'];
  const rng = new Rng(opts.seed);
  const leaves = randomLeaves(g, opts.env, opts.batch, rng, opts.domain);
  const cots = g.roots.map((r) => randomFor(rng, g.nodes[r.id]!.shape, opts.env, opts.batch));
  const loss = () => evalRoots(g, leaves, opts.env, opts.batch).reduce((s, v, k) => s + dot(cots[k]!.data, v.data), 0);

  const vjp = grad(g, wrt);
  const all = new Map(leaves);
  g.roots.forEach((r, k) => all.set(leafKey('cot', cotNameIn(g, r), r.step), cots[k]!));
  const gradValues = evalRoots(vjp, all, opts.env, opts.batch);
  const slots: Slot[] = vjp.roots.map((r, k) => {
    const key = leafKey(r.of!, r.name, r.step);
    const data = leaves.get(key);
    if (!data) throw new Error(`grad root ${key} has no leaf`);
    return { label: key, data: data.data, grad: gradValues[k]!.data };
  });
  return { ...checkSlots(loss, slots, opts), vjp };
}

// ---------------------------------------------------------------- static unroll

/**
 * The step graph composed T times into one Graph: the `prev` leaves of step 1
 * become `prev` leaves at step 0 (the initial states), those of step t > 1 the
 * state roots of step t − 1; `input` leaves get their step; parameters are
 * shared. Roots are every state and output at every step, tagged with the step.
 */
export function staticUnroll(step: Graph, T: number): Graph {
  const b = new Builder();
  const roots: Root[] = [];
  let states = new Map<string, number>();
  for (let t = 1; t <= T; t++) {
    const map: number[] = [];
    for (const n of step.nodes) {
      let id: number;
      if (n.op === 'prev') {
        const carried = states.get(n.attrs.name!);
        id = t > 1 && carried !== undefined ? carried : b.node('prev', [], { ...n.attrs, step: 0 }, n.span);
        if (t > 1 && carried === undefined) throw new Error(`state ${n.attrs.name} is read at t-1 but is not a root`);
      } else if (n.op === 'input') id = b.node('input', [], { ...n.attrs, step: t }, n.span);
      else id = b.node(n.op, n.inputs.map((x) => map[x]!), n.attrs, n.span);
      map[n.id] = id;
      const label = step.labels[n.id];
      if (label !== undefined) b.label(id, label);
    }
    const next = new Map<string, number>();
    for (const r of step.roots) {
      roots.push({ ...r, id: map[r.id]!, step: t });
      if (r.role === 'state') next.set(r.name, map[r.id]!);
    }
    states = next;
  }
  return b.finish(roots);
}

/** Leaf values of a static unroll (or an unrolled cell) from a run, its initial states and cotangents. */
export function unrolledLeaves(g: Graph, run: Run, init: Readonly<Record<string, Tensor>>, cot: Cotangents, env: DimEnv): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const n of g.nodes) {
    const name = n.attrs.name!, step = n.attrs.step;
    let v: Tensor | undefined;
    if (n.op === 'param') v = run.params[name];
    else if (n.op === 'input') v = run.inputs[name]?.[step! - 1];
    else if (n.op === 'prev') v = init[name];
    else if (n.op === 'cot') {
      const [role, root] = name.split(':') as [string, string];
      v = (role === 'state' ? cot.states : cot.outputs)?.[root]?.[step! - 1];
      v ??= { ...numericShape(n.shape, env), data: new Float64Array(size(n.shape.batch, numericShape(n.shape, env).dims, run.batch)) };
    } else continue;
    if (!v) throw new Error(`no value for ${n.op} ${name}@${step}`);
    out.set(nodeLeafKey(n), v);
  }
  return out;
}
