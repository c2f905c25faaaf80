// Test support for the emit/js suites (not a test file itself).
// Agreement of a backend with the float64 interpreter: the same seeded random
// parameters, inputs, initial states and cotangents through both, compared array
// by array with a relative error ‖a − b‖∞ / ‖b‖∞ (absolute when b is all zeros).

import { expect } from 'vitest';
import type { CompiledCell } from '../../compiler/compile.ts';
import { stateShapeDims } from '../../compiler/check/typed-cell.ts';
import type { Dim } from '../../compiler/ir/dims.ts';
import { evalDim } from '../../compiler/ir/dims.ts';
import type { BackendFactory, Vec } from '../../runtime/backend.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { Rng } from '../../runtime/random.ts';

export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale > 0 ? diff / scale : diff;
}

export interface Agreement {
  /** Worst relative error over every state, output and gradient. */
  readonly worst: number;
  readonly where: string;
  readonly errors: Readonly<Record<string, number>>;
  /**
   * The same, but relative to the largest value of the cell's forward values (for
   * states and outputs) or of its gradients (for gradients): a gradient that is a
   * sum of nearly cancelling terms is small, and its error is judged against the
   * cell's scale instead of its own.
   */
  readonly worstScaled: number;
  /** The largest magnitude among the reference's values and gradients. */
  readonly scale: number;
  /**
   * How far the float64 reference itself moves (scaled like `worstScaled`) when every
   * parameter, input, initial state and cotangent is perturbed by one float32 rounding
   * (relative 2⁻²⁴): the cell's own conditioning, which no float32 computation can beat.
   */
  readonly conditioning: number;
}

export function agreement(cell: CompiledCell, factory: BackendFactory, o: { dims: Record<string, number>; batch: number; steps: number; seed: number; precision?: 'f64' | 'f32'; scale?: number }): Agreement {
  const t = cell.typed;
  const rng = new Rng(o.seed);
  const size = (ds: readonly Dim[]) => ds.reduce((n, d) => n * evalDim(d, o.dims)!, 1);
  const s = o.scale ?? 0.5;
  const rand = (n: number) => Float64Array.from({ length: n }, () => s * rng.normal());
  const { batch: B, steps: T } = o;
  const params = Object.fromEntries(t.params.map((p) => [p.name, rand(size(p.shape))]));
  const inputs = Object.fromEntries(t.inputs.map((i) => [i.name, rand(T * B * size([i.dim]))]));
  const init = Object.fromEntries(t.states.map((st) => [st.name, rand(B * size(stateShapeDims(st)))]));
  const cot = {
    states: Object.fromEntries(t.states.map((st) => [st.name, rand(T * B * size(stateShapeDims(st)))])),
    outputs: Object.fromEntries(t.outputs.map((out) => [out.name, rand(T * B * size(out.shape.dims))])),
  };
  const run = (f: BackendFactory, precision: 'f64' | 'f32') => {
    const b = f(cell, { dims: o.dims, batch: B, precision });
    const fw = b.forward(T, params, inputs, init);
    const bw = b.backward(cot);
    return { fw, bw };
  };
  const ref = run(interpBackend, 'f64');
  const got = run(factory, o.precision ?? 'f64');
  // The reference again, on inputs each moved by one float32 rounding.
  const nudge = (r: Record<string, Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => x * (1 + (rng.next() < 0.5 ? -1 : 1) * 2 ** -24))]));
  const pb = interpBackend(cell, { dims: o.dims, batch: B });
  const pf = pb.forward(T, nudge(params), nudge(inputs), nudge(init));
  const pw = pb.backward({ states: nudge(cot.states), outputs: nudge(cot.outputs) });
  const errors: Record<string, number> = {};
  const scaled: Record<string, number> = {};
  const moved: Record<string, number> = {};
  const maxAbs = (vs: readonly Vec[]) => {
    let m = 0;
    for (const v of vs) for (let i = 0; i < v.length; i++) if (!(Math.abs(v[i]!) <= m)) m = Math.abs(v[i]!);
    return m;
  };
  const fwdScale = maxAbs([...Object.values(ref.fw.states), ...Object.values(ref.fw.outputs)]);
  const bwdScale = maxAbs([...Object.values(ref.bw.params), ...Object.values(ref.bw.inputs), ...Object.values(ref.bw.init)]);
  const cmp = (what: string, a: Vec | undefined, b: Vec, p: Vec) => {
    errors[what] = a ? relativeError(a, b) : Infinity;
    const scale = (what.startsWith('grads') ? bwdScale : fwdScale) || 1;
    scaled[what] = a ? relativeError(a, b) * (maxAbs([b]) || 1) / scale : Infinity;
    moved[what] = relativeError(p, b) * (maxAbs([b]) || 1) / scale;
  };
  for (const [k, v] of Object.entries(ref.fw.states)) cmp(`states.${k}`, got.fw.states[k], v, pf.states[k]!);
  for (const [k, v] of Object.entries(ref.fw.outputs)) cmp(`outputs.${k}`, got.fw.outputs[k], v, pf.outputs[k]!);
  for (const [k, v] of Object.entries(ref.bw.params)) cmp(`grads.params.${k}`, got.bw.params[k], v, pw.params[k]!);
  for (const [k, v] of Object.entries(ref.bw.inputs)) cmp(`grads.inputs.${k}`, got.bw.inputs[k], v, pw.inputs[k]!);
  for (const [k, v] of Object.entries(ref.bw.init)) cmp(`grads.init.${k}`, got.bw.init[k], v, pw.init[k]!);
  let worst = 0, where = '';
  for (const [k, e] of Object.entries(errors)) if (!(e <= worst)) { worst = e; where = k; }
  const worstScaled = Object.values(scaled).reduce((m, e) => (e <= m ? m : e), 0);
  const conditioning = Object.values(moved).reduce((m, e) => (e <= m ? m : e), 0);
  return { worst, where, errors, worstScaled, scale: Math.max(fwdScale, bwdScale), conditioning };
}

/** The generated JavaScript module as a backend: float64 or float32 (SIMD unless told), with the scan unless told. */
export const jsAt = (precision: 'f64' | 'f32', scan = true, simd = true): BackendFactory => (c, o) => jsBackend(c, { ...o, precision, scan, simd });

/**
 * A random run of `cell` (the source `source`, shown when it fails) on the generated JavaScript,
 * float64 and float32 SIMD, against the interpreter: values and every gradient, float64 to 1e-11
 * (scaled), float32 within its own tolerance (1e-4, or 50× the cell's conditioning).
 */
export function expectJsAgrees(cell: CompiledCell, source: string, B: number, T: number): void {
  const a = agreement(cell, jsAt('f64'), { dims: { n: 3 }, batch: B, steps: T, seed: B * 7 + T });
  expect(a.worstScaled, `${a.where}\n${source}`).toBeLessThan(1e-11);
  const b = agreement(cell, jsAt('f32'), { dims: { n: 4 }, batch: B, steps: T, seed: B * 7 + T, precision: 'f32' });
  expect(b.worstScaled, `${b.where}\n${source}`).toBeLessThan(Math.max(1e-4, 50 * b.conditioning));
}
