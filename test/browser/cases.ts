// Test data for the gpu.js agreement tests, shared by the Node (webasm) and
// browser (WebGL2, WebGPU) suites: every example cell with seeded random
// parameters, inputs, initial states and cotangents; the float64 interpreter's
// answer; and the comparison (relative to the largest reference magnitude).

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile } from '../../compiler/compile.ts';
import type { CompiledCell } from '../../compiler/compile.ts';
import type { Dim } from '../../compiler/ir/dims.ts';
import { evalDim } from '../../compiler/ir/dims.ts';
import { stateDims } from '../../compiler/check/typed-cell.ts';
import { MLSTM, S6 } from '../support/matrix-cells.ts';
import type { Vec } from '../../runtime/backend.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { Rng } from '../../runtime/random.ts';
import { MANY_TO_ONE_CELL, RESEARCH_CELL, SHAPES_CELL } from '../support/cells.ts';

type Arrays = Record<string, number[]>;

export interface CaseData {
  readonly name: string;
  readonly source: string;
  readonly dims: Record<string, number>;
  readonly batch: number;
  readonly steps: number;
  readonly params: Arrays;
  readonly inputs: Arrays;
  readonly init: Arrays;
  readonly cot: { readonly states: Arrays; readonly outputs: Arrays };
}

export interface CaseResult {
  readonly states: Arrays;
  readonly outputs: Arrays;
  readonly grads: { readonly params: Arrays; readonly inputs: Arrays; readonly init: Arrays };
  readonly runs: readonly { requested: string; backend: string; executor: string; fallbackReason: string | null }[];
  /** Whether the forward and the backward ran as scans (the gpu.js page says). */
  readonly scanned?: readonly boolean[];
  /** Kernel launches of the forward and the backward (the gpu.js page says). */
  readonly launches?: readonly number[];
}

export const examplesDir = fileURLToPath(new URL('../../examples/cells/', import.meta.url));
export const exampleFiles = () => readdirSync(examplesDir).filter((f) => f.endsWith('.celda')).sort();

export function loadCell(source: string): CompiledCell {
  const { cells, diagnostics } = compile(source, { defaultCellName: 'cell' });
  if (!cells[0]) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return cells[0];
}

/** Seeded data for one cell: dims 3, 4, 5, … in the order the cell names them. */
export function makeCase(name: string, source: string, opts: { batch?: number; steps?: number; seed?: number; dims?: Record<string, number> } = {}): CaseData {
  const cell = loadCell(source);
  const t = cell.typed;
  const rng = new Rng(opts.seed ?? 1);
  const dims: Record<string, number> = {};
  t.dims.forEach((d, i) => (dims[d] = opts.dims?.[d] ?? 3 + i));
  const env = new Map(Object.entries(dims));
  const size = (ds: readonly Dim[]) => ds.reduce((a, d) => a * evalDim(d, env)!, 1);
  const batch = opts.batch ?? 4;
  const steps = t.mode === 'unrolled' ? t.steps : opts.steps ?? 5;
  const fill = (n: number, f: () => number) => Array.from({ length: n }, f);
  return {
    name, source, dims, batch, steps,
    params: Object.fromEntries(t.params.map((p) => [p.name, fill(size(p.shape), () => rng.uniform(-0.8, 0.8))])),
    inputs: Object.fromEntries(t.inputs.map((x) => [x.name, fill(steps * batch * size([x.dim]), () => rng.normal())])),
    init: Object.fromEntries(t.states.map((s) => [s.name, fill(batch * size(stateDims(s)), () => rng.uniform(-0.5, 0.5))])),
    cot: {
      states: Object.fromEntries(t.states.map((s) => [s.name, fill(steps * batch * size(stateDims(s)), () => rng.normal())])),
      outputs: Object.fromEntries(t.outputs.map((o) => [o.name, fill(steps * batch * size(o.shape.dims), () => rng.normal())])),
    },
  };
}

/** Every function and operator the lowering handles, in one cell (the examples use only tanh, σ and softmax). */
export const OPS_CELL = `# exercises every primitive of the gpu.js lowering
cell Ops {
  input x : n
  state h : n
  param b_1 : n
  param W_2 : n_y × n
  param w : 1
  u = relu(W_1 h^<t-1> + x^<t>) + abs(x^<t>) / (2 + exp(b_1))
  v = sqrt(1 + u * u) + log(1 + sigmoid(x^<t>)) + softplus(x^<t>) - (h^<t-1>)^3 / 4
  h^<t> = tanh(v - u - W_3 [x^<t>, u] + w * h^<t-1> + 0.5 * max(u, x^<t>) - min(v, 1) * sg(u))
  y^<t> = softmax(W_2 h^<t>)
}
`;

/** The example cells and the ops cell. */
export const allCases = (opts: Parameters<typeof makeCase>[2] = {}) => [
  ...exampleFiles().map((f) => makeCase(f, readFileSync(examplesDir + f, 'utf8'), opts)),
  makeCase('ops (every primitive)', OPS_CELL, opts),
  makeCase('research (functions, LN and RMSNorm, a split, cases, time subscripts)', RESEARCH_CELL, opts),
  makeCase('shapes (scalars per example, reductions, tensor powers)', SHAPES_CELL, opts),
  makeCase('many-to-one written out (ŷ at the last step only)', MANY_TO_ONE_CELL, opts),
  // matrices per example (test/support/matrix-cells.ts)
  makeCase('mLSTM-like (a matrix state)', MLSTM.ascii, opts),
  makeCase('Mamba-S6-like (a matrix state)', S6.ascii, opts),
];

const f64 = (r: Arrays) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
const plain = (r: Readonly<Record<string, Vec>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

/** The float64 interpreter's answer for a case. */
export function reference(c: CaseData): Omit<CaseResult, 'runs'> {
  const b = interpBackend(loadCell(c.source), { dims: c.dims, batch: c.batch });
  const f = b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
  const g = b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
  return { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
}

/** max |got − want| / max |want| (want's scale floored at 1e-6), per named array. */
export function relativeErrors(got: Omit<CaseResult, 'runs'>, want: Omit<CaseResult, 'runs'>): Record<string, number> {
  const out: Record<string, number> = {};
  const one = (what: string, g: Arrays, w: Arrays) => {
    for (const [k, wv] of Object.entries(w)) {
      const gv = g[k];
      if (!gv || gv.length !== wv.length) { out[`${what}.${k}`] = Infinity; continue; }
      let err = 0, scale = 0;
      wv.forEach((x, i) => { err = Math.max(err, Math.abs(gv[i]! - x)); scale = Math.max(scale, Math.abs(x)); });
      out[`${what}.${k}`] = Number.isNaN(err) ? Infinity : err / Math.max(scale, 1e-6);
    }
  };
  one('states', got.states, want.states);
  one('outputs', got.outputs, want.outputs);
  one('d.params', got.grads.params, want.grads.params);
  one('d.inputs', got.grads.inputs, want.grads.inputs);
  one('d.init', got.grads.init, want.grads.init);
  return out;
}
