// The interpreter as a CellBackend: float64, node by node. The reference the
// other backends are tested against; slow, but always available.

import type { CompiledCell } from '../../compiler/compile.ts';
import { stateDims } from '../../compiler/check/typed-cell.ts';
import type { Tensor } from '../../compiler/ir/ops.ts';
import type { BackendOptions, CellBackend, GradValues, StepValues, Vec } from '../backend.ts';
import { dimValue } from '../interpreter.ts';
import type { Run, Trajectory } from '../unroll.ts';
import { backward, forward } from '../unroll.ts';

/** [T][B][…dims] flat → one tensor per step; dims is [n], or [rows, cols] for a matrix per example. */
const split = (v: Vec, steps: number, batch: number, dims: number | readonly number[]): Tensor[] => {
  const ds = typeof dims === 'number' ? [dims] : [...dims];
  const n = ds.reduce((a, b) => a * b, 1);
  return Array.from({ length: steps }, (_, t) => ({ batched: true, dims: ds, data: Float64Array.from(v.subarray(t * batch * n, (t + 1) * batch * n)) }));
};
const join = (ts: readonly Tensor[]): Float64Array => {
  const out = new Float64Array(ts.reduce((s, t) => s + t.data.length, 0));
  let o = 0;
  for (const t of ts) { out.set(t.data, o); o += t.data.length; }
  return out;
};

export function interpBackend(cell: CompiledCell, opts: BackendOptions): CellBackend {
  // One rule for every backend (the generated module's too): every dimension is a whole number ≥ 1.
  for (const d of cell.typed.dims) {
    const v = opts.dims[d];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`dims.${d} must be a whole number ≥ 1, got ${v}`);
  }
  const env = new Map(Object.entries(opts.dims));
  const B = opts.batch;
  const t = cell.typed;
  const size = (d: Parameters<typeof dimValue>[0]) => dimValue(d, env);
  let last: { run: Run; traj: Trajectory } | null = null;
  return {
    name: 'interp',
    precision: 'f64',
    forward(steps, params, inputs, init): StepValues {
      const run: Run = {
        batch: B, steps, env,
        params: Object.fromEntries(t.params.map((p) => [p.name, { batched: false, dims: p.shape.map(size), data: Float64Array.from(params[p.name]!) }])),
        inputs: Object.fromEntries(t.inputs.map((i) => [i.name, split(inputs[i.name]!, steps, B, size(i.dim))])),
        init: Object.fromEntries(t.states.filter((s) => init !== undefined && Object.hasOwn(init, s.name) && init[s.name] !== undefined).map((s) => [s.name, { batched: true, dims: stateDims(s).map(size), data: Float64Array.from(init![s.name]!) }])),
      };
      const traj = forward(cell, run);
      last = { run, traj };
      return {
        states: Object.fromEntries(Object.entries(traj.states).map(([k, v]) => [k, join(v)])),
        outputs: Object.fromEntries(Object.entries(traj.outputs).map(([k, v]) => [k, join(v)])),
      };
    },
    backward(cot): GradValues {
      if (!last) throw new Error('backward before forward');
      const { run, traj } = last;
      const n = (name: string) => {
        const s = t.states.find((x) => x.name === name);
        if (s) return stateDims(s).map(size);
        return t.outputs.find((o) => o.name === name)!.shape.dims.map(size);
      };
      const per = (r: Readonly<Record<string, Vec>> | undefined) => Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, split(v, run.steps, B, n(k))]));
      const g = backward(cell, run, traj, { states: per(cot.states), outputs: per(cot.outputs) });
      return {
        params: Object.fromEntries(Object.entries(g.params).map(([k, v]) => [k, v.data])),
        inputs: Object.fromEntries(Object.entries(g.inputs).map(([k, v]) => [k, join(v)])),
        init: Object.fromEntries(Object.entries(g.init).map(([k, v]) => [k, v.data])),
      };
    },
  };
}
