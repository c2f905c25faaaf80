// An unrolled cell whose output is defined at some steps only (the notes'
// many-to-one written out: ŷ^<3> alone): every backend gives zeros at the
// holes and no gradient flows from them; `celda eval` prints them as null
// (docs/eval-json.md). gpu.js on webasm also runs it through allCases
// (test/runtime/backends/gpujs.test.ts), and in a browser on WebGL2/WebGPU.

import { describe, expect, it } from 'vitest';
import type { CellBackend, Vec } from '../../runtime/backend.ts';
import { gpujsSyncBackend } from '../../runtime/backends/gpujs.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { evaluate } from '../../runtime/eval-json.ts';
import { holes } from '../../runtime/unroll.ts';
import { makeCase, relativeErrors } from '../browser/cases.ts';
import { compileOk, example, MANY_TO_ONE_CELL } from '../support/cells.ts';

const cell = compileOk(MANY_TO_ONE_CELL)[0]!;
const c = makeCase('many-to-one', MANY_TO_ONE_CELL, { batch: 2 });
const f64 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
const plain = (r: Readonly<Record<string, Vec>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

const BACKENDS: Record<string, { make: () => CellBackend; tol: number }> = {
  interp: { make: () => interpBackend(cell, { dims: c.dims, batch: c.batch }), tol: 0 },
  'js f64': { make: () => jsBackend(cell, { dims: c.dims, batch: c.batch, precision: 'f64' }), tol: 1e-12 },
  'js f32': { make: () => jsBackend(cell, { dims: c.dims, batch: c.batch, precision: 'f32' }), tol: 1e-5 },
  'gpujs webasm': { make: () => gpujsSyncBackend(cell, { dims: c.dims, batch: c.batch, mode: 'webasm' }), tol: 1e-4 },
  'gpujs cpu': { make: () => gpujsSyncBackend(cell, { dims: c.dims, batch: c.batch, mode: 'cpu' }), tol: 1e-4 },
};

/** A run with the case's cotangents, the hole steps' cotangents scaled by `holeScale`. */
function run(b: CellBackend, holeScale: number) {
  const f = b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
  const n = c.batch * c.dims.n_y!;
  const yCot = c.cot.outputs.y_hat!.map((v, i) => (i < 2 * n ? v * holeScale : v));
  const g = b.backward({ states: f64(c.cot.states), outputs: { y_hat: Float64Array.from(yCot) } });
  return { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
}

describe('an unrolled cell with holes (an output at some steps only)', () => {
  it('holes() names the steps no equation defines', () => {
    expect(holes(cell)).toEqual({ states: {}, outputs: { y_hat: [1, 2] } });
    expect(holes(example('rnn-unrolled.celda'))).toEqual({ states: {}, outputs: {} });
    expect(holes(example('rnn.celda'))).toEqual({ states: {}, outputs: {} });
  });

  const want = run(BACKENDS.interp!.make(), 1);
  for (const [name, { make, tol }] of Object.entries(BACKENDS)) {
    it(`${name}: zeros at the holes, the interpreter's values elsewhere, and no gradient from a hole's cotangent`, () => {
      const got = run(make(), 1);
      const n = c.batch * c.dims.n_y!;
      expect(got.outputs.y_hat!.length).toBe(c.steps * n);
      expect(got.outputs.y_hat!.slice(0, 2 * n).every((v) => v === 0)).toBe(true);
      // softmax at the last step: each row sums to 1
      expect(got.outputs.y_hat!.slice(2 * n, 2 * n + c.dims.n_y!).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const errors = relativeErrors(got, want);
      expect(Object.entries(errors).filter(([, e]) => !(e <= tol))).toEqual([]);
      // a cotangent at a hole reaches nothing: scaling it leaves every gradient as it was
      const scaled = run(make(), 1000);
      expect(Object.entries(relativeErrors(scaled, got)).filter(([, e]) => !(e <= tol))).toEqual([]);
    });
  }

  it('celda eval prints the holes as null on every backend', () => {
    const x = [[[0.5, -1, 0.2]], [[0.1, 0.3, -0.4]], [[1, 0, 0.5]]];
    const inputs = { dims: { n_a: 2, n_y: 3 }, inputs: { x }, cotangents: { y_hat: [[[1, 1, 1]], [[1, 1, 1]], [[1, 0, 0]]] } };
    const results = (['interp', 'js'] as const).map((backend) => evaluate(cell, { inputs }, { seed: 1, backend }).result);
    for (const r of results) {
      const y = (r.outputs as { y_hat: unknown[] }).y_hat;
      expect(y[0]).toBeNull();
      expect(y[1]).toBeNull();
      expect((y[2] as number[][])[0]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect((r.states as { a: unknown[] }).a.every((s) => Array.isArray(s))).toBe(true);
      expect(JSON.stringify(r)).not.toContain('NaN');
    }
    const g = results[0]!.grads as { params: { W_ya: number[][] } };
    expect(g.params.W_ya.flat().some((v) => v !== 0)).toBe(true);
  });
});
