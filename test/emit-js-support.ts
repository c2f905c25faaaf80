// Test support for the emit-js suites (not a test file itself).
// Agreement of a backend with the float64 interpreter: the same seeded random
// parameters, inputs, initial states and cotangents through both, compared array
// by array with a relative error ‖a − b‖∞ / ‖b‖∞ (absolute when b is all zeros).

import type { CompiledCell } from '../compiler/compile.ts';
import type { Dim } from '../compiler/dims.ts';
import { evalDim } from '../compiler/dims.ts';
import type { BackendFactory, Vec } from '../runtime/backend.ts';
import { interpBackend } from '../runtime/backends/interp.ts';
import { Rng } from '../runtime/random.ts';

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
  const init = Object.fromEntries(t.states.map((st) => [st.name, rand(B * size([st.dim]))]));
  const cot = {
    states: Object.fromEntries(t.states.map((st) => [st.name, rand(T * B * size([st.dim]))])),
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
  const errors: Record<string, number> = {};
  const cmp = (what: string, a: Vec | undefined, b: Vec) => (errors[what] = a ? relativeError(a, b) : Infinity);
  for (const [k, v] of Object.entries(ref.fw.states)) cmp(`states.${k}`, got.fw.states[k], v);
  for (const [k, v] of Object.entries(ref.fw.outputs)) cmp(`outputs.${k}`, got.fw.outputs[k], v);
  for (const [k, v] of Object.entries(ref.bw.params)) cmp(`grads.params.${k}`, got.bw.params[k], v);
  for (const [k, v] of Object.entries(ref.bw.inputs)) cmp(`grads.inputs.${k}`, got.bw.inputs[k], v);
  for (const [k, v] of Object.entries(ref.bw.init)) cmp(`grads.init.${k}`, got.bw.init[k], v);
  let worst = 0, where = '';
  for (const [k, e] of Object.entries(errors)) if (!(e <= worst)) { worst = e; where = k; }
  return { worst, where, errors };
}
