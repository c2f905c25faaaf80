// Scalars per example, reductions, dimensions as numbers and tensor powers on
// every backend: the JavaScript module in float64, the float32 SIMD module with
// its loops in WebAssembly and in JavaScript, and gpu.js (WebAssembly mode),
// each against the float64 interpreter — on a cell with all of them
// (SHAPES_CELL), the mLSTM's scalar gates and RG-LRU.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { jsBackend } from '../../../runtime/backends/js.ts';
import type { JsCellInstance } from '../../../runtime/backends/js.ts';
import { gpujsBackend } from '../../../runtime/backends/gpujs.ts';
import { agreement } from '../../support/emit-js.ts';
import { allValues, bitDifference, simdBackend } from '../../support/simd.ts';
import type { ThreadPool } from '../../../runtime/wasm/pool.ts';
import { createPool } from '../../../runtime/wasm/pool.ts';
import { MLSTM_GATES_CELL, RG_LRU_CELL, SHAPES_CELL, compileOk } from '../../support/cells.ts';
import { makeCase, reference, relativeErrors } from '../../browser/cases.ts';

/** A linear recurrence of a scalar state (the backends may scan it) and an inner product with a state read at <t>. */
const LINEAR_SCALAR = `cell Lin {
  input x : n
  state m : 1
  state k : n
  k^<t> = tanh(W x^<t>)
  m^<t> = σ(w^T x^<t>) * m^<t-1> + k^<t>^T x^<t> / n
}`;

const CELLS = { shapes: SHAPES_CELL, mlstm: MLSTM_GATES_CELL, rglru: RG_LRU_CELL, linear: LINEAR_SCALAR };
const dimsOf = (c: CompiledCell, n = 5) => Object.fromEntries(c.typed.dims.map((d, i) => [d, n + i]));

describe('every backend agrees with the interpreter', () => {
  for (const [name, source] of Object.entries(CELLS)) {
    const cell = compileOk(source)[0]!;

    it(`${name}: JavaScript float64`, () => {
      for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
        const a = agreement(cell, jsBackend, { dims: dimsOf(cell), batch, steps: 4, seed, scale: 0.4 });
        expect(a.worst, `batch ${batch}: worst at ${a.where}`).toBeLessThanOrEqual(1e-10);
        expect(Object.keys(a.errors).length).toBeGreaterThan(4);
      }
    });

    it(`${name}: float32 SIMD, loops in WebAssembly and in JavaScript`, () => {
      for (const wasmLoops of [true, false]) {
        for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
          const made: JsCellInstance[] = [];
          const a = agreement(cell, simdBackend({ simd: true, wasmLoops }, (i) => made.push(i)), { dims: dimsOf(cell), batch, steps: 4, seed, precision: 'f32', scale: 0.4 });
          expect(made[0]!.wasmLoops).toBe(wasmLoops);
          expect(a.worst, `wasmLoops ${wasmLoops}, batch ${batch}: worst at ${a.where}`).toBeLessThanOrEqual(1e-4);
        }
      }
    });

    it(`${name}: gpu.js (webasm)`, async () => {
      const c = makeCase(name, source, { batch: 3, steps: 4, seed: 4 });
      const f64 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
      const plain = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));
      const b = await gpujsBackend(compileOk(source)[0]!, { dims: c.dims, batch: c.batch, mode: 'webasm' });
      const f = await b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
      const g = await b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
      const got = { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
      const errors = relativeErrors(got, reference(c));
      expect(Object.keys(errors).length).toBeGreaterThan(4);
      expect(Object.entries(errors).filter(([, e]) => !(e <= 1e-4))).toEqual([]);
    });
  }
});

describe('on the thread pool', () => {
  let pool: ThreadPool;
  beforeAll(() => {
    pool = createPool(2, 0);
  });
  afterAll(async () => {
    await pool.close();
  });

  it('two threads on shared memory give the same floats as one thread', () => {
    for (const [name, source] of Object.entries(CELLS)) {
      const cell = compileOk(source)[0]!;
      const o = { dims: dimsOf(cell), batch: 3, steps: 4, seed: 7 };
      const made: JsCellInstance[] = [];
      const two = allValues(cell, simdBackend({ heap: pool.heap }, (i) => made.push(i)), o);
      expect(made[0]!.threads, name).toBe(2);
      expect(bitDifference(two, allValues(cell, simdBackend({ simd: true }), o)), name).toBeNull();
    }
  });
});
