// Matrices per example on every backend: the mLSTM-like and Mamba-S6-like cells
// (test/support/matrix-cells.ts) — states, outputs and the VJP (parameters,
// inputs, initial states) — on generated JavaScript in float64, in float32 with
// the WebAssembly SIMD products and loops (one thread and several) and without
// SIMD, and on gpu.js in Node (WebAssembly), each against the float64
// interpreter, whose gradients test/compiler/check/matrices.test.ts checks
// against finite differences. (gpu.js on WebGL2 and WebGPU runs the same cases
// in Chromium: test/browser/cases.ts lists them.)
import { describe, expect, it } from 'vitest';
import type { BackendOptions, CellBackend } from '../../../runtime/backend.ts';
import { planStep } from '../../../compiler/emit/gpujs/plan.ts';
import { gpujsSyncBackend } from '../../../runtime/backends/gpujs.ts';
import { jsBackend } from '../../../runtime/backends/js.ts';
import type { CaseData } from '../../browser/cases.ts';
import { loadCell, makeCase, reference, relativeErrors } from '../../browser/cases.ts';
import { MLSTM, S6 } from '../../support/matrix-cells.ts';

const f64 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
const plain = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

function run(b: CellBackend, c: CaseData) {
  const f = b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
  const g = b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
  return { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
}

type Make = (c: CaseData) => CellBackend;
const opts = (c: CaseData): BackendOptions => ({ dims: c.dims, batch: c.batch });
const BACKENDS: Record<string, { make: Make; tol: number }> = {
  'js f64': { make: (c) => jsBackend(loadCell(c.source), { ...opts(c), precision: 'f64' }), tol: 1e-12 },
  'js f32, WebAssembly SIMD': { make: (c) => jsBackend(loadCell(c.source), { ...opts(c), precision: 'f32', simd: true, threads: 1 }), tol: 1e-4 },
  'js f32, WebAssembly SIMD, 2 threads': { make: (c) => jsBackend(loadCell(c.source), { ...opts(c), precision: 'f32', simd: true, threads: 2 }), tol: 1e-4 },
  'js f32, no SIMD': { make: (c) => jsBackend(loadCell(c.source), { ...opts(c), precision: 'f32', simd: false }), tol: 1e-4 },
  'gpu.js (webasm)': { make: (c) => gpujsSyncBackend(loadCell(c.source), { ...opts(c), mode: 'webasm' }), tol: 1e-4 },
};

const CASES = [
  makeCase('mLSTM-like', MLSTM.ascii, { dims: { d: 4, n_x: 3 }, batch: 3, steps: 5, seed: 7 }),
  makeCase('Mamba-S6-like', S6.ascii, { dims: { d: 4, N: 3 }, batch: 3, steps: 5, seed: 8 }),
  // a bigger one, so the products per example are not all tiny
  makeCase('mLSTM-like, d = 16', MLSTM.ascii, { dims: { d: 16, n_x: 8 }, batch: 5, steps: 3, seed: 9 }),
];

describe.each(CASES.map((c) => [c.name, c] as const))('%s: every backend agrees with the float64 interpreter', (_name, c) => {
  const want = reference(c);
  for (const [name, { make, tol }] of Object.entries(BACKENDS)) {
    it(name, () => {
      const errors = relativeErrors(run(make(c), c), want);
      expect(Object.keys(errors)).toEqual(expect.arrayContaining(['states.C', 'd.init.C'].map((k) => (c.name.startsWith('Mamba') ? k.replace('C', 'h') : k))));
      expect(Object.entries(errors).filter(([, e]) => !(e <= tol))).toEqual([]);
    });
  }
});

describe('large enough that the float32 products are split between threads', () => {
  it('mLSTM-like, d = 64, batch 64: two threads, the per-example products and loops between them, agree with the interpreter', () => {
    const c = makeCase('mLSTM-like, d = 64', MLSTM.ascii, { dims: { d: 64, n_x: 64 }, batch: 64, steps: 3, seed: 3 });
    const b = jsBackend(loadCell(c.source), { ...opts(c), precision: 'f32', simd: true, threads: 2 });
    expect(b.threads).toBe(2);
    const errors = relativeErrors(run(b, c), reference(c));
    expect(Object.keys(errors)).toContain('d.init.C');
    expect(Object.entries(errors).filter(([, e]) => !(e <= 1e-4))).toEqual([]);
  });
});

/**
 * A scalar per example times a matrix per example (mLSTM's `f′ C^<t-1>`): its VJP
 * sums the matrix cotangent over both of its axes (sum_feat of a batched d × d
 * value), for the gate's gradient. The forward also sums a matrix directly.
 */
const SCALAR_GATE = `cell ScalarGate {
  input x : n_x
  state C : d * d
  state s : 1
  param b_f : 1
  k = W_k x^<t>
  v = W_v x^<t>
  f = sigma(w_f^T x^<t> + b_f)
  C^<t> = f C^<t-1> + v k^T
  s^<t> = f s^<t-1> + sum(C^<t>)
  h^<t> = C^<t> k
}`;

describe('a sum over the features of a matrix per example', () => {
  const cell = loadCell(SCALAR_GATE);
  const matrixSums = (g: typeof cell.forward) =>
    g.nodes.filter((n) => n.op === 'sum_feat' && g.nodes[n.inputs[0]!]!.shape.batch && g.nodes[n.inputs[0]!]!.shape.dims.length === 2).length;

  it('is in both step graphs: the forward sums C, the backward sums the gate\'s matrix cotangent', () => {
    expect(matrixSums(cell.forward)).toBeGreaterThan(0);
    expect(matrixSums(cell.backward)).toBeGreaterThan(0);
  });

  it('gpu.js plans it as two nested loops over the rows and the columns of each example\'s matrix', () => {
    const dims = new Map([['d', 3], ['n_x', 2]]);
    const sources = planStep(cell.backward, { dims, batch: 2, mode: 'loop' }).kernels.map((k) => k.source).join('\n');
    expect(sources).toMatch(/for \(let (k\d+) = 0; \1 < 3; \1\+\+\) \{\n\s*for \(let (k\d+) = 0; \2 < 3; \2\+\+\) \{/);
  });

  const c = makeCase('scalar gate × matrix', SCALAR_GATE, { dims: { d: 4, n_x: 3 }, batch: 3, steps: 4, seed: 5 });
  const want = reference(c);
  for (const [name, { make, tol }] of Object.entries(BACKENDS)) {
    it(`${name} agrees with the float64 interpreter`, () => {
      const errors = relativeErrors(run(make(c), c), want);
      expect(Object.keys(errors)).toEqual(expect.arrayContaining(['states.C', 'states.s', 'd.params.w_f', 'd.params.b_f', 'd.init.C', 'd.init.s']));
      expect(Object.entries(errors).filter(([, e]) => !(e <= tol))).toEqual([]);
    });
  }
});
