// The fused elementwise loops of float32 SIMD modules as WebAssembly
// (compiler/emit/wasm/loops-wat.ts): which loops a module hands over (their bytes:
// test/compiler/emit/wasm/assembler.test.ts), that instances
// run them where the heap's memory allows and fall back to the JavaScript loops
// where it does not, and that both paths agree with the interpreter and with
// each other — on every example cell, a cell with every op the kernels have, a
// cell with one they lack (exp), and widths that leave a tail of 1–3 features.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../../compiler/compile.ts';
import { dimNum, dimVar } from '../../../../compiler/ir/dims.ts';
import type { Access } from '../../../../compiler/emit/js/loops.ts';
import { lockstepSafe } from '../../../../compiler/emit/js/loops.ts';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import type { Expr, View } from '../../../../compiler/lower/loop-ir.ts';
import { ACT_KINDS, actBody } from '../../../../compiler/emit/wasm/kernels-wat.ts';
import type { JsCellInstance } from '../../../../runtime/backends/js.ts';
import { jsBackend } from '../../../../runtime/backends/js.ts';
import type { ThreadPool } from '../../../../runtime/wasm/pool.ts';
import { createPool } from '../../../../runtime/wasm/pool.ts';
import { agreement, relativeError } from '../../../support/emit-js.ts';
import { allValues, bitDifference, makeHeap, simdBackend } from '../../../support/simd.ts';
import { compileOk, example, exampleFiles, WASM_EXP_CELL, WASM_OPS_CELL } from '../../../support/cells.ts';

const F32_TOL = 1e-5;
const dimsOf = (c: CompiledCell, n = 5) => Object.fromEntries(c.typed.dims.map((d, i) => [d, n + i]));
const stepsOf = (c: CompiledCell) => (c.typed.mode === 'unrolled' ? c.typed.steps : 4);

/** Whether an expression of a loop uses op. */
const uses = (e: Expr, op: string): boolean => e.e === 'op' && (e.op === op || e.args.some((x) => uses(x, op)));

/** The batched loops of a cell's plan (the candidates; those with exp), and how many the SIMD module calls as WebAssembly. */
function handedOver(cell: CompiledCell): { candidates: number; withExp: number; calls: number; text: string | null; module: string } {
  const e = emitJs(cell, { precision: 'f32' });
  const ks = [e.plan.forward, e.plan.backward].flatMap((p) => Object.values(p.phases).flat());
  const loops = ks.filter((k) => k.k === 'fused' && k.rows !== 'one' && k.width.length > 0);
  const withExp = loops.filter((k) => k.k === 'fused' && k.stmts.some((st) => uses(st.expr, 'exp'))).length;
  return { candidates: loops.length, withExp, calls: (e.module.match(/\$ew\.ew\d+\(/g) ?? []).length, text: e.wasmLoopsWat, module: e.module };
}

let pool: ThreadPool;
beforeAll(() => {
  pool = createPool(2, 0);
});
afterAll(async () => {
  await pool.close();
});

describe('which loops a SIMD module hands over', () => {
  it('every batched loop of every example cell (their ops are all in the kernels)', () => {
    for (const file of exampleFiles()) {
      const h = handedOver(example(file));
      expect(h.candidates, file).toBeGreaterThan(0);
      expect(h.calls, file).toBe(h.candidates);
    }
  });

  it('relu, abs (and sign, its derivative), sqrt, x², division, negation, tanh, σ, step', () => {
    const h = handedOver(compileOk(WASM_OPS_CELL)[0]!);
    expect(h.calls).toBe(h.candidates);
    expect(h.text).toContain('(f32x4.pmax (f32x4.splat (f32.const 0))'); // relu
    expect(h.text).toContain('(f32x4.sqrt');
    expect(h.text).toContain('(v128.bitselect (f32x4.splat (f32.const 1)) (v128.bitselect (f32x4.splat (f32.const -1))'); // sign
    expect(h.text).toContain('(v128.and (f32x4.gt'); // step
    expect(h.text).toContain('(f32x4.abs');
    expect(h.text).toContain('(f32x4.div');
  });

  it('not a loop with exp (Math.exp stays: the kernels\' exp is clamped for σ and tanh), but the others of the cell', () => {
    const h = handedOver(compileOk(WASM_EXP_CELL)[0]!);
    expect(h.withExp).toBeGreaterThan(0);
    expect(h.calls).toBeGreaterThan(0);
    expect(h.calls).toBe(h.candidates - h.withExp);
  });

  it('the plain module (simd: false) and float64 hand over nothing', () => {
    const cell = example('gru.celda');
    for (const e of [emitJs(cell, { precision: 'f32', simd: false }), emitJs(cell, { precision: 'f64' })]) {
      expect(e.wasmLoopsWat).toBeNull();
      expect(e.module).not.toContain('$ew');
    }
  });
});

describe('the loops\' WebAssembly', () => {
  it('snapshot: the GRU\'s loops as WebAssembly text', async () => {
    await expect(emitJs(example('gru.celda'), { precision: 'f32' }).wasmLoopsWat).toMatchFileSnapshot('__snapshots__/gru.f32-loops.wat');
  });

  it('tanh and σ are the act kernel\'s own instructions (the same floats as the products\' module)', () => {
    const text = handedOver(example('lstm.celda')).text!;
    for (const kind of ACT_KINDS) expect(text).toContain(actBody(kind).join(' '));
  });
});

describe('agreement: loops in WebAssembly and in JavaScript, with the interpreter and with each other', () => {
  const cells = () => [...exampleFiles().map((f) => [f, example(f)] as const), ['ops', compileOk(WASM_OPS_CELL)[0]!] as const, ['exp', compileOk(WASM_EXP_CELL)[0]!] as const];

  it('every example cell, the ops cell and the exp cell: both paths within float32 tolerance of the interpreter', () => {
    for (const [name, cell] of cells()) {
      for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
        const o = { dims: dimsOf(cell), batch, steps: stepsOf(cell), seed, precision: 'f32' as const, scale: 0.4 };
        for (const wasmLoops of [true, false]) {
          const made: JsCellInstance[] = [];
          const a = agreement(cell, simdBackend({ simd: true, wasmLoops }, (i) => made.push(i)), o);
          expect(made[0]!.wasmLoops, name).toBe(wasmLoops);
          expect(a.worst, `${name}, wasmLoops ${wasmLoops}, batch ${batch}: worst at ${a.where}`).toBeLessThanOrEqual(F32_TOL);
        }
      }
    }
  });

  it('widths 1 to 9 (tails of 0–3 features after the groups of four), batch 1 and 3: the two paths within float32 precision of each other', () => {
    for (const file of ['gru.celda', 'lstm.celda']) {
      const cell = example(file);
      for (let n = 1; n <= 9; n++) {
        for (const batch of [1, 3]) {
          const o = { dims: Object.fromEntries(cell.typed.dims.map((d) => [d, n])), batch, steps: 3, seed: n };
          const made: JsCellInstance[] = [];
          const wasm = allValues(cell, simdBackend({ simd: true }, (i) => made.push(i)), o);
          const js = allValues(cell, simdBackend({ simd: true, wasmLoops: false }, (i) => made.push(i)), o);
          expect(made.map((i) => i.wasmLoops)).toEqual([true, false]);
          for (const [k, v] of Object.entries(js)) expect(relativeError(wasm[k]!, v), `${file} n ${n} batch ${batch}: ${k}`).toBeLessThanOrEqual(F32_TOL);
        }
      }
    }
  });

  it('on the thread pool\'s shared memory (the module\'s shared build): the same floats as on one thread', () => {
    for (const file of ['gru.celda', 'lstm-peephole.celda']) {
      const cell = example(file);
      const o = { dims: dimsOf(cell), batch: 3, steps: 4, seed: 7 };
      const made: JsCellInstance[] = [];
      const two = allValues(cell, simdBackend({ heap: pool.heap }, (i) => made.push(i)), o);
      expect(made[0]!.wasmLoops).toBe(true);
      expect(made[0]!.threads).toBe(2);
      expect(bitDifference(two, allValues(cell, simdBackend({ simd: true }), o)), file).toBeNull();
    }
  });
});

describe('falling back to the JavaScript loops', () => {
  const cell = example('gru.celda');
  const o = { dims: { n_x: 3, n_a: 6 }, batch: 2, steps: 3, seed: 3, precision: 'f32' as const };

  it('a heap whose memory the module cannot import (no maximum): JavaScript loops, still right', () => {
    // (The kernels' module imports the same limits: the product here is JavaScript.)
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = makeHeap(memory, (M, N, K, a, lda, b, ldb, c, ldc, acc) => {
      const F = new Float32Array(memory.buffer);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let p = 0; p < K; p++) s += F[(a >> 2) + i * lda + p]! * F[(b >> 2) + j * ldb + p]!;
          F[(c >> 2) + i * ldc + j] = acc ? F[(c >> 2) + i * ldc + j]! + s : s;
        }
      }
    });
    const made: JsCellInstance[] = [];
    const a = agreement(cell, simdBackend({ heap }, (i) => made.push(i)), o);
    expect(made[0]!.simd).toBe(true);
    expect(made[0]!.wasmLoops).toBe(false);
    expect(a.worst).toBeLessThanOrEqual(F32_TOL);
  });

  it('simd: false, and the backend\'s wasmLoops: false', () => {
    const made: JsCellInstance[] = [];
    agreement(cell, simdBackend({ simd: false }, (i) => made.push(i)), o);
    expect(made[0]!.wasmLoops).toBe(false);
    const b = jsBackend(cell, { dims: o.dims, batch: 2, precision: 'f32', threads: 1, wasmLoops: false });
    expect(b.simd).toBe(true);
    expect(b.wasmLoops).toBe(false);
    expect(jsBackend(cell, { dims: o.dims, batch: 2, precision: 'f32', threads: 1 }).wasmLoops).toBe(true);
    expect(jsBackend(cell, { dims: o.dims, batch: 2, precision: 'f64' }).wasmLoops).toBe(false);
  });
});

describe('lockstepSafe: four elements at a time give what one at a time does', () => {
  const n = dimVar('n');
  const view = (buf: number, col = dimNum(0), rows: View['rows'] = { at: 't', shift: 0 }): View => ({ buf, rows, col, width: n });
  const read = (v: View, mode: Access['mode'] = 'elem'): Access => ({ view: v, mode, store: false });
  const store = (v: View): Access => ({ view: v, mode: 'elem', store: true });

  it('reading and storing the same elements, or other buffers', () => {
    expect(lockstepSafe([read(view(0)), store(view(0))])).toBe(true);
    expect(lockstepSafe([read(view(1)), store(view(0)), store(view(2))])).toBe(true);
  });

  it('other blocks of rows (c^<t-1> read, c^<t> stored)', () => {
    expect(lockstepSafe([read(view(0, dimNum(0), { at: 't', shift: 0 })), store(view(0, dimNum(0), { at: 't', shift: 1 }))])).toBe(true);
    expect(lockstepSafe([read(view(0, dimNum(0), { at: 'block', block: 0 })), store(view(0, dimNum(0), { at: 'block', block: 2 }))])).toBe(true);
  });

  it('columns that cannot overlap (a stacked buffer\'s gates), but not ones that may', () => {
    expect(lockstepSafe([store(view(0, dimNum(0))), store(view(0, n))])).toBe(true);
    expect(lockstepSafe([read(view(0, n)), store(view(0, dimNum(0)))])).toBe(true);
    // Columns 1 … n against 0 … n − 1: every element but one is both.
    expect(lockstepSafe([read(view(0, dimNum(1))), store(view(0, dimNum(0)))])).toBe(false);
    // All T·B rows from block 0 and from block 1: row b of one is never row b of the other.
    expect(lockstepSafe([read(view(0, dimNum(0), { at: 'all', shift: 0 })), store(view(0, dimNum(0), { at: 'all', shift: 1 }))])).toBe(true);
    // Step t's rows against all rows from block 0: the same rows when t = 0.
    expect(lockstepSafe([read(view(0, dimNum(0), { at: 'all', shift: 0 })), store(view(0, dimNum(0), { at: 't', shift: 0 }))])).toBe(false);
  });

  it('a stored buffer read one float per row or per feature', () => {
    expect(lockstepSafe([read(view(0), 'row'), store(view(0))])).toBe(false);
    expect(lockstepSafe([read(view(0), 'feat'), store(view(0))])).toBe(false);
    // One float per row of another step's rows is apart; per feature (always row 0 of the buffer) it is not.
    expect(lockstepSafe([read(view(0), 'row'), store(view(0, dimNum(0), { at: 't', shift: 1 }))])).toBe(true);
    expect(lockstepSafe([read(view(0), 'feat'), store(view(0, dimNum(0), { at: 't', shift: 1 }))])).toBe(false);
  });
});
