// Every JavaScript rendering of the research notation (functions, LN and RMSNorm,
// a split left-hand side, cases with comparisons) against the float64 interpreter:
// float64, float32, and float32 with SIMD and the WebAssembly loops (which render
// select as v128.bitselect and the comparisons as masked lanes). gpu.js runs the
// same cell among test/browser/cases.ts's cases (test/runtime/backends/gpujs.test.ts).

import { describe, expect, it } from 'vitest';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import type { JsCellInstance } from '../../../../runtime/backends/js.ts';
import { jsBackend } from '../../../../runtime/backends/js.ts';
import { agreement } from '../../../support/emit-js.ts';
import { simdBackend } from '../../../support/simd.ts';
import { compileOk, RESEARCH_CELL, WASM_OPS_CELL } from '../../../support/cells.ts';

const cell = () => compileOk(RESEARCH_CELL)[0]!;
const dims = { n_x: 3, n_h: 5 };

describe('the research cell on every JavaScript backend', () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`plain JavaScript, ${precision}`, () => {
      const tol = precision === 'f64' ? 1e-12 : 1e-5;
      for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
        const a = agreement(cell(), jsBackend, { dims, batch, steps: 4, seed, precision });
        expect(Object.keys(a.errors).length).toBeGreaterThan(5);
        expect(a.worst, `worst at ${a.where}`).toBeLessThanOrEqual(tol);
      }
    });
  }

  it('float32 with SIMD, with and without the WebAssembly loops', () => {
    for (const wasmLoops of [true, false]) {
      const made: JsCellInstance[] = [];
      const a = agreement(cell(), simdBackend({ simd: true, wasmLoops }, (i) => made.push(i)), { dims, batch: 3, steps: 4, seed: 3, precision: 'f32', scale: 0.4 });
      expect(made[0]!.wasmLoops).toBe(wasmLoops);
      expect(a.worst, `wasmLoops ${wasmLoops}: worst at ${a.where}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('select and the comparisons are in the WebAssembly loops (not left in JavaScript)', () => {
    const wat = emitJs(compileOk(WASM_OPS_CELL)[0]!, { precision: 'f32' }).wasmLoopsWat!;
    expect(wat).toContain('(v128.bitselect');
    expect(wat).toContain('(f32x4.ne');
    expect(wat).toContain('(f32x4.ge');
    const js = emitJs(cell(), { precision: 'f64' }).module;
    expect(js).toMatch(/ !== 0 \? /);
  });
});
