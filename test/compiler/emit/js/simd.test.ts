// WebAssembly SIMD matrix products of the float32 JavaScript backend (issue 6).
//
// The kernel (compiler/emit/wasm/kernels-wat.ts) on a memory of its own: bit for bit the
// float32 emulation of its documented summation order, within float32's error
// bound of the float64 product, never reading the gaps of strided operands nor
// writing C's, and bit-identical however the product is split (as the thread
// pool splits it). kernels-bytes.ts is what wabt assembles from the text today. The
// heap allocator modules carry. Then whole cells: every example cell and random
// cells against the float64 interpreter with SIMD on (the fused loops in
// WebAssembly too, or kept in JavaScript), off, and on two threads (the same tolerance as the float32 JS backend), threads on and off bit-identical;
// instances sharing one heap that grows; the backend's flags.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../../compiler/compile.ts';
import { compile } from '../../../../compiler/compile.ts';
import { hasErrors } from '../../../../compiler/diagnostics.ts';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import { assemble, KERNELS_FILE, kernelsSource } from '../../../../scripts/build-wasm.ts';
import type { JsCellFactory, JsCellInstance } from '../../../../runtime/backends/js.ts';
import { jsBackend, loadJsFactory } from '../../../../runtime/backends/js.ts';
import { Rng } from '../../../../runtime/random.ts';
import type { CeldaHeap, ThreadPool } from '../../../../runtime/wasm/pool.ts';
import type { Kernels } from '../../../../runtime/wasm/pool-common.ts';
import { createPool, kernelBytes, sharedMemoryAvailable, sharedPool, simdAvailable } from '../../../../runtime/wasm/pool.ts';
import { agreement, relativeError } from '../../../support/emit-js.ts';
import type { Product } from '../../../support/simd.ts';
import {
  allValues, bitDifference, cellSource, cellSpec, emulate, extent, fill, firstDifference, freshHeap, freshKernel, layout, makeHeap,
  randomRun, readC, reference, run, SENTINEL, simdBackend,
} from '../../../support/simd.ts';
import { compileOk, example, exampleFiles } from '../../../support/cells.ts';

// The same dimensions, batches, steps and tolerance as the float32 agreement of
// test/compiler/emit/js/emit.test.ts.
const dimsOf = (c: CompiledCell) => Object.fromEntries(c.typed.dims.map((d, i) => [d, 2 + ((i * 3) % 4)]));
const stepsOf = (c: CompiledCell) => (c.typed.mode === 'unrolled' ? c.typed.steps : 5);
const F32_TOL = 1e-5;

// Two threads that split every product, however small (minMacs 0), so the small
// example cells exercise the split; closed after the file.
let pool: ThreadPool;
beforeAll(() => {
  pool = createPool(2, 0);
});
afterAll(async () => {
  await pool.close();
  // jsBackend's threads option uses the process's shared pool of that size.
  await sharedPool(2).close();
});

describe('the runtime', () => {
  it('has WebAssembly SIMD and shared memory (Node 20), so the tests below run the kernel', () => {
    expect(simdAvailable()).toBe(true);
    expect(sharedMemoryAvailable()).toBe(true);
    expect(WebAssembly.validate(kernelBytes(true))).toBe(true);
    expect(pool.threads).toBe(2);
    expect(pool.heap.threads).toBe(2);
  });
});

// ---------------------------------------------------------------- the kernel

/** Runs one product on a fresh kernel; checks it against the emulation (bits), the float64 bound, and C's gaps. */
function checkProduct(q: Product, seed: number): void {
  const { memory, gemm } = freshKernel(Math.ceil((4 * extent(q) + 64) / 65536));
  const F = new Float32Array(memory.buffer);
  fill(F, q, new Rng(seed));
  const want = emulate(F, q);
  const ref = reference(F, q);
  const before = F.slice();
  run(gemm, q);
  const got = readC(F, q);
  const shape = `${q.M}×${q.N}×${q.K} lda ${q.lda} ldb ${q.ldb} ldc ${q.ldc} at ${q.a}/${q.b}/${q.c} acc ${q.acc}`;
  const d = firstDifference(got, want);
  expect(d, `${shape}: output ${d} is ${got[d]}, the documented order gives ${want[d]}`).toBe(-1);
  for (let k = 0; k < got.length; k++) {
    const err = Math.abs(got[k]! - ref.value[k]!);
    if (!(err <= ref.bound[k]!)) expect.fail(`${shape}: output ${k} is ${got[k]}, float64 ${ref.value[k]}, error ${err} > bound ${ref.bound[k]}`);
  }
  // Nothing outside the M × N outputs changed (C's gaps keep their sentinel, A and B their NaNs).
  const inC = new Set<number>();
  for (let i = 0; i < q.M; i++) for (let j = 0; j < q.N; j++) inC.add(q.c + i * q.ldc + j);
  for (let k = 0; k < F.length; k++) {
    if (inC.has(k) || Object.is(F[k], before[k])) continue;
    expect.fail(`${shape}: float ${k} outside C changed from ${before[k]} to ${F[k]}${before[k] === SENTINEL ? ' (a gap of C)' : ''}`);
  }
}

describe('the kernel: C (+)= A·Bᵀ', () => {
  it('every M, N, K in 1…13, strided and at unaligned addresses, acc 0 and 1: the documented order bit for bit', () => {
    const rng = new Rng(3);
    let n = 0;
    for (let M = 1; M <= 13; M++) {
      for (let N = 1; N <= 13; N++) {
        for (let K = 1; K <= 13; K++) {
          // lda > K, ldb > K, ldc > N on most; offsets in floats, so addresses multiples of 4 bytes but rarely of 16.
          const pick = () => Math.floor(rng.next() * 4);
          const q = layout({ M, N, K, padA: pick(), padB: pick(), padC: pick(), gap: Math.floor(rng.next() * 7), acc: (M + N + K) % 2 === 0 });
          checkProduct(q, n++);
          checkProduct({ ...q, acc: !q.acc }, n++);
        }
      }
    }
    expect(n).toBe(2 * 13 ** 3);
  });

  it('larger shapes: several register and column blocks, matrix–vector products, K < 4, K mod 4 ≠ 0', () => {
    const shapes: [number, number, number][] = [
      [37, 50, 129], [64, 64, 64], [1, 300, 67], [300, 1, 67], [100, 3, 7], [2, 2, 1000], [7, 11, 3], [5, 37, 4099], // 4099: the column blocks (of ⌊49152 / K⌋ = 11 → 9 columns)
    ];
    shapes.forEach(([M, N, K], s) => {
      for (const acc of [false, true]) checkProduct(layout({ M, N, K, padA: (s % 3) + 1, padB: s % 2, padC: 5, gap: s, acc }), 100 + s);
    });
  });

  it('K = 0 writes zeros (acc 0) or leaves C (acc 1); M = 0 or N = 0 touches nothing', () => {
    const { memory, gemm } = freshKernel();
    const F = new Float32Array(memory.buffer);
    F.fill(7, 0, 64);
    gemm(2, 3, 0, 0, 0, 0, 0, 4 * 16, 3, 0);
    expect(Array.from(F.subarray(16, 22))).toEqual([0, 0, 0, 0, 0, 0]);
    F.fill(7, 16, 22);
    gemm(2, 3, 0, 0, 0, 0, 0, 4 * 16, 3, 1);
    expect(Array.from(F.subarray(16, 22))).toEqual([7, 7, 7, 7, 7, 7]);
    gemm(0, 3, 4, 0, 4, 0, 4, 4 * 16, 3, 0);
    gemm(2, 0, 4, 0, 4, 0, 4, 4 * 16, 3, 0);
    expect(Array.from(F.subarray(0, 64)).every((v) => v === 7)).toBe(true);
  });

  it('random shapes, strides and offsets (fast-check)', () => {
    const shape = fc.record({
      M: fc.integer({ min: 1, max: 40 }), N: fc.integer({ min: 1, max: 40 }), K: fc.integer({ min: 0, max: 70 }),
      padA: fc.nat(6), padB: fc.nat(6), padC: fc.nat(6), gap: fc.nat(9), acc: fc.boolean(),
    });
    fc.assert(fc.property(shape, fc.nat(1e6), (s, seed) => { checkProduct(layout(s), seed); }), { numRuns: 300, seed: 61 });
  });

  it('each output is the same float however the product is split, by columns or by rows (as the pool splits it)', () => {
    const cases = [
      { M: 37, N: 50, K: 129, cuts: [1, 17, 40] }, { M: 13, N: 13, K: 13, cuts: [2, 4, 5] }, { M: 5, N: 37, K: 4099, cuts: [10, 11] },
      { M: 1, N: 29, K: 31, cuts: [7] }, { M: 29, N: 1, K: 31, cuts: [13, 14] }, { M: 8, N: 8, K: 3, cuts: [3, 6] },
    ];
    for (const [s, c] of cases.entries()) {
      for (const acc of [false, true]) {
        const q = layout({ M: c.M, N: c.N, K: c.K, padA: 3, padB: 1, padC: 2, gap: s, acc });
        const { memory, gemm } = freshKernel(Math.ceil((4 * extent(q) + 64) / 65536));
        const F = new Float32Array(memory.buffer);
        fill(F, q, new Rng(200 + s));
        const C0 = F.slice(q.c, q.c + q.M * q.ldc);
        run(gemm, q);
        const whole = readC(F, q);
        const ranges = (n: number) => [0, ...c.cuts.filter((k) => k < n), n];
        // By columns: rows j of B and columns j of C from `from` on.
        F.set(C0, q.c);
        const cols = ranges(q.N);
        for (let k = 0; k + 1 < cols.length; k++) run(gemm, { ...q, N: cols[k + 1]! - cols[k]!, b: q.b + cols[k]! * q.ldb, c: q.c + cols[k]! });
        const byCols = readC(F, q);
        // By rows: rows i of A and of C.
        F.set(C0, q.c);
        const rows = ranges(q.M);
        for (let k = 0; k + 1 < rows.length; k++) run(gemm, { ...q, M: rows[k + 1]! - rows[k]!, a: q.a + rows[k]! * q.lda, c: q.c + rows[k]! * q.ldc });
        const byRows = readC(F, q);
        expect(firstDifference(byCols, whole), `${c.M}×${c.N}×${c.K} by columns ${cols}`).toBe(-1);
        expect(firstDifference(byRows, whole), `${c.M}×${c.N}×${c.K} by rows ${rows}`).toBe(-1);
      }
    }
  });

  it('the pool\'s gemm (two threads, every product split) equals the kernel on one thread, bit for bit', () => {
    const heap = pool.heap;
    for (const [M, N, K] of [[37, 50, 129], [50, 37, 129], [4, 9, 5], [9, 4, 5], [1, 31, 17], [31, 1, 17]] as const) {
      for (const acc of [false, true]) {
        const s = { M, N, K, padA: 1, padB: 2, padC: 3, gap: 0, acc };
        const floats = extent(layout(s)) + 8;
        const at = heap.alloc(4 * floats);
        const q = layout(s, at / 4);
        const F = new Float32Array(heap.memory.buffer);
        fill(F, q, new Rng(M * N + K));
        const want = emulate(F, q);
        run(heap.gemm, q);
        const got = readC(new Float32Array(heap.memory.buffer), q);
        expect(firstDifference(got, want), `${M}×${N}×${K} acc ${acc}`).toBe(-1);
        heap.free(at, 4 * floats);
      }
    }
  });
});

describe('compiler/emit/wasm/kernels-bytes.ts', () => {
  it('is what wabt assembles from kernels-wat.ts today (run `npm run wasm` after changing the kernel)', async () => {
    const a = await assemble();
    expect(kernelsSource(a)).toBe(readFileSync(KERNELS_FILE, 'utf8'));
    expect(WebAssembly.validate(kernelBytes(false))).toBe(true);
  });
});

// ---------------------------------------------------------------- the heap

describe('the heap allocator ($makeHeap)', () => {
  const noGemm = () => undefined;
  const jsMemory = () => ({
    buffer: new ArrayBuffer(65536) as ArrayBufferLike,
    grow(pages: number) {
      const b = new ArrayBuffer(this.buffer.byteLength + pages * 65536);
      new Uint8Array(b).set(new Uint8Array(this.buffer));
      this.buffer = b;
    },
  });

  it('gives 16-byte-aligned blocks from 16 on, one after another', () => {
    const h = makeHeap(jsMemory(), noGemm);
    const a = h.alloc(1), b = h.alloc(17), c = h.alloc(32), d = h.alloc(4);
    expect([a, b, c, d]).toEqual([16, 32, 64, 96]);
    expect(h.threads).toBe(1);
  });

  it('reuses a freed block, first fit, splitting it', () => {
    const h = makeHeap(jsMemory(), noGemm);
    const a = h.alloc(64), b = h.alloc(64);
    h.alloc(16); // keeps a and b off the top
    h.free(a, 64);
    expect(h.alloc(16)).toBe(a);
    expect(h.alloc(48)).toBe(a + 16);
    expect(h.alloc(16)).toBeGreaterThan(b); // nothing free fits below
  });

  it('merges a freed block with its free neighbours on both sides', () => {
    const h = makeHeap(jsMemory(), noGemm);
    const [a, b, c] = [h.alloc(32), h.alloc(32), h.alloc(32)];
    const guard = h.alloc(16);
    h.free(a, 32);
    h.free(c, 32);
    h.free(b, 32); // a, b, c: one block of 96
    expect(h.alloc(96)).toBe(a);
    expect(h.alloc(16)).toBe(guard + 16);
  });

  it('lowers the top when the last block is freed, and through free blocks below it', () => {
    const h = makeHeap(jsMemory(), noGemm);
    const [a, b, c] = [h.alloc(32), h.alloc(32), h.alloc(32)];
    h.free(c, 32);
    expect(h.alloc(32)).toBe(c);
    h.free(b, 32);
    h.free(c, 32); // b and c merge, reach the top: the top comes down to b
    h.free(a, 32); // and then to 16
    expect(h.alloc(200)).toBe(16);
  });

  it('grows a WebAssembly memory (at least doubling), keeping its contents', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const h = makeHeap(memory, noGemm);
    const a = h.alloc(1000);
    new Float32Array(memory.buffer, a, 250).fill(3.5);
    const b = h.alloc(70000); // past the first page
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(b + 70000);
    expect(memory.buffer.byteLength).toBe(2 * 65536);
    expect(Array.from(new Float32Array(memory.buffer, a, 250)).every((v) => v === 3.5)).toBe(true);
    const c = h.alloc(1 << 20);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(c + (1 << 20));
  });

  it('grows only what is needed when doubling passes the maximum, and says so when even that fails', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 3 });
    const h = makeHeap(memory, noGemm);
    h.alloc(2 * 65536 - 16); // fills two pages
    h.alloc(100); // doubling would ask 4 pages of at most 3: one page instead
    expect(memory.buffer.byteLength).toBe(3 * 65536);
    expect(() => h.alloc(65536)).toThrow('celda: out of memory');
    expect(h.alloc(16)).toBeLessThan(3 * 65536); // the failed request left the heap usable
  });

  it('never gives overlapping live blocks, and comes back to empty (fast-check)', () => {
    const op = fc.oneof(fc.record({ k: fc.constant('alloc' as const), bytes: fc.integer({ min: 0, max: 40000 }) }), fc.record({ k: fc.constant('free' as const), pick: fc.nat() }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), (ops, wasm) => {
        const memory = wasm ? new WebAssembly.Memory({ initial: 1, maximum: 65536 }) : jsMemory();
        const h = makeHeap(memory, noGemm);
        const live: { at: number; bytes: number }[] = [];
        for (const o of ops) {
          if (o.k === 'alloc') {
            const at = h.alloc(o.bytes);
            expect(at % 16).toBe(0);
            expect(at).toBeGreaterThanOrEqual(16);
            expect(at + o.bytes).toBeLessThanOrEqual(memory.buffer.byteLength);
            for (const l of live) if (o.bytes > 0 && l.bytes > 0 && at < l.at + l.bytes && l.at < at + o.bytes) expect.fail(`[${at}, ${at + o.bytes}) overlaps [${l.at}, ${l.at + l.bytes})`);
            live.push({ at, bytes: o.bytes });
          } else if (live.length > 0) {
            const [l] = live.splice(o.pick % live.length, 1);
            h.free(l!.at, l!.bytes);
          }
        }
        for (const l of live) h.free(l.at, l.bytes);
        // Everything merged back: the top is at 16 again.
        expect(h.alloc(16)).toBe(16);
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});

// ---------------------------------------------------------------- whole cells

describe('agreement with the interpreter on every example cell: SIMD on, off, on two threads', () => {
  for (const file of exampleFiles()) {
    it(file, () => {
      const cell = example(file);
      const modes = [
        { name: 'SIMD', options: { simd: true }, simd: true, threads: 1, wasmLoops: true },
        { name: 'SIMD, loops in JavaScript', options: { simd: true, wasmLoops: false }, simd: true, threads: 1, wasmLoops: false },
        { name: 'SIMD module, simd: false', options: { simd: false }, simd: false, threads: 1, wasmLoops: false },
        { name: 'SIMD, two threads', options: { heap: pool.heap }, simd: true, threads: 2, wasmLoops: true },
      ];
      for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
        const o = { dims: dimsOf(cell), batch, steps: stepsOf(cell), seed, precision: 'f32' as const };
        for (const m of modes) {
          const made: JsCellInstance[] = [];
          const a = agreement(cell, simdBackend(m.options, (i) => made.push(i)), o);
          expect(made).toHaveLength(1);
          expect(made[0]!.simd, m.name).toBe(m.simd);
          expect(made[0]!.threads, m.name).toBe(m.threads);
          expect(made[0]!.wasmLoops, m.name).toBe(m.wasmLoops);
          expect(Object.keys(a.errors).length).toBeGreaterThan(0);
          expect(a.worst, `${m.name}, batch ${batch}: worst at ${a.where}`).toBeLessThanOrEqual(F32_TOL);
        }
        // The plain float32 module (no SIMD helpers at all).
        const plain = agreement(cell, (c, b) => jsBackend(c, { ...b, simd: false }), o);
        expect(plain.worst, `plain module, batch ${batch}: worst at ${plain.where}`).toBeLessThanOrEqual(F32_TOL);
        // simd: false runs the plain module's arithmetic on views of the fallback heap — except that a
        // step's tanh and σ take their arguments from a float32 scratch (the SIMD path's layout), so it
        // agrees with the plain module to float32 precision rather than bit for bit.
        const off = allValues(cell, simdBackend({ simd: false }), o);
        const plainValues = allValues(cell, (c, b) => jsBackend(c, { ...b, simd: false }), o);
        for (const [k, v] of Object.entries(plainValues)) expect(relativeError(off[k]!, v), `simd: false vs the plain module, batch ${batch}: ${k}`).toBeLessThanOrEqual(F32_TOL);
        // Threads change nothing: the same floats.
        const one = allValues(cell, simdBackend({ simd: true }), o);
        const two = allValues(cell, simdBackend({ heap: pool.heap }), o);
        expect(bitDifference(two, one), `threads on vs off, batch ${batch}`).toBeNull();
      }
    });
  }

  it('at larger sizes too, with products split by columns and by rows (LSTM n_x 7, n_a 13, batch 5, T 9; GRU n_a 37)', () => {
    for (const [file, dims, batch, steps] of [['lstm.celda', { n_x: 7, n_a: 13 }, 5, 9], ['gru.celda', { n_x: 11, n_a: 37 }, 4, 6]] as const) {
      const cell = example(file);
      const o = { dims, batch, steps, seed: 4, precision: 'f32' as const, scale: 0.3 };
      for (const options of [{ simd: true }, { simd: true, wasmLoops: false }, { simd: false }, { heap: pool.heap }]) {
        const a = agreement(cell, simdBackend(options), o);
        expect(a.worst, `${file} ${JSON.stringify(Object.keys(options))}: worst at ${a.where}`).toBeLessThanOrEqual(F32_TOL);
      }
      expect(bitDifference(allValues(cell, simdBackend({ heap: pool.heap }), o), allValues(cell, simdBackend({ simd: true }), o)), file).toBeNull();
    }
  });
});

describe('random cells: SIMD on, off and on two threads agree with the interpreter', () => {
  /** Same criterion as test/compiler/emit/js/random.test.ts's float32 check. */
  function check(text: string, dims: Record<string, number>, seed: number): boolean {
    const r = compile(text);
    if (hasErrors(r.diagnostics) || r.cells.length !== 1) return true;
    const cell = r.cells[0]!;
    const env = Object.fromEntries(cell.typed.dims.map((d) => [d, dims[d] ?? 2]));
    const o = { dims: env, batch: 1 + (seed % 3), steps: 3, seed, precision: 'f32' as const };
    for (const [name, options] of [['SIMD', { simd: true }], ['SIMD, loops in JavaScript', { simd: true, wasmLoops: false }], ['simd: false', { simd: false }], ['two threads', { heap: pool.heap }]] as const) {
      const a = agreement(cell, simdBackend(options), o);
      if (!(a.scale < 1e30)) return true; // float32 cannot hold this cell's values
      const tol = Math.max(F32_TOL, 20 * a.conditioning);
      if (!(a.worstScaled <= tol)) throw new Error(`${name}: error ${a.worstScaled} > ${tol} at ${a.where}\n${text}`);
    }
    const d = bitDifference(allValues(cell, simdBackend({ heap: pool.heap }), o), allValues(cell, simdBackend({ simd: true }), o));
    if (d !== null) throw new Error(`threads on vs off differ: ${d}\n${text}`);
    return true;
  }

  it('compiles most random cells (the test is not vacuous)', () => {
    let ok = 0;
    fc.assert(fc.property(cellSpec, (s) => { if (!hasErrors(compile(cellSource(s).text).diagnostics)) ok++; }), { numRuns: 40, seed: 13 });
    expect(ok).toBeGreaterThan(20);
  });

  it('float32: 1e-5 of the cell\'s scale; threads bit-identical', () => {
    fc.assert(fc.property(cellSpec, fc.nat(1000), (s, seed) => {
      const { text, dims } = cellSource(s);
      return check(text, dims, seed);
    }), { numRuns: 80, seed: 9 });
  });
});

// ---------------------------------------------------------------- instances sharing a heap

describe('instances sharing one heap', () => {
  const cell = example('lstm.celda');
  const dims = { n_x: 5, n_a: 9 }, B = 2;
  // Steps of instance B: about 222 floats per step and example, 2 · 1000 · 222 · 4 bytes ≈ 1.8 MB, past
  // a module heap's first page and the pool's first 16 pages.
  const BIG = 1000;
  const runOf = (T: number, seed: number) => randomRun(cell, { dims, batch: B, steps: T, seed });
  const flat = (r: { params: object; inputs: object; init: object }) => ({ ...r.params, ...Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [`x.${k}`, v])), ...Object.fromEntries(Object.entries(r.init).map(([k, v]) => [`init.${k}`, v])) }) as Record<string, Float32Array>;

  /**
   * A forward T = 3; B on the same heap forward with a T that grows the memory;
   * then A's backward (and forward again) must equal a fresh instance's.
   */
  function sharedHeapCase(create: JsCellFactory, options: object, grew: () => boolean, fresh: JsCellFactory, freshOptions: object) {
    const small = runOf(3, 1), big = runOf(BIG, 2);
    const a = create(dims, B, options as never);
    a.forward(small.params, small.inputs, small.init, 3);
    const b = create(dims, B, options as never);
    b.forward(big.params, big.inputs, big.init, BIG);
    expect(grew()).toBe(true);
    const gotBw = a.backward(small.cot);
    const got = flat({ params: gotBw.params, inputs: gotBw.inputs, init: gotBw.init });
    const f = fresh(dims, B, freshOptions as never);
    f.forward(small.params, small.inputs, small.init, 3);
    const wantBw = f.backward(small.cot);
    const want = flat({ params: wantBw.params, inputs: wantBw.inputs, init: wantBw.init });
    expect(bitDifference(got, want), 'A.backward after B grew the heap').toBeNull();
    // And A's forward again (its views made anew), and B's backward.
    const again = a.forward(small.params, small.inputs, small.init, 3);
    const fAgain = f.forward(small.params, small.inputs, small.init, 3);
    expect(bitDifference(again.states, fAgain.states)).toBeNull();
    const bBw = b.backward(big.cot);
    const g = fresh(dims, B, freshOptions as never);
    g.forward(big.params, big.inputs, big.init, BIG);
    expect(bitDifference(bBw.params, g.backward(big.cot).params)).toBeNull();
  }

  it('a heap of their own (unshared WebAssembly memory: growth detaches the old views)', () => {
    const heap = freshHeap(1);
    const pages = () => heap.memory.buffer.byteLength;
    const start = pages();
    const create = loadJsFactory(cell, 'f32', true);
    sharedHeapCase(create, { heap }, () => pages() > start, create, { simd: true });
  });

  it('the module\'s own heap, a fresh module (its memory starts at one page)', () => {
    const create = new Function(emitJs(cell, { precision: 'f32' }).body)() as JsCellFactory;
    sharedHeapCase(create, {}, () => true, loadJsFactory(cell, 'f32', true), { simd: true });
  });

  it('the plain-JS fallback heap (simd: false), whose growth copies into a new ArrayBuffer', () => {
    const create = new Function(emitJs(cell, { precision: 'f32' }).body)() as JsCellFactory;
    sharedHeapCase(create, { simd: false }, () => true, loadJsFactory(cell, 'f32', true), { simd: false });
  });

  it('the thread pool\'s heap (shared memory)', async () => {
    const p = createPool(2, 0);
    try {
      const start = p.heap.memory.buffer.byteLength;
      sharedHeapCase(loadJsFactory(cell, 'f32', true), { heap: p.heap }, () => p.heap.memory.buffer.byteLength > start, loadJsFactory(cell, 'f32', true), { simd: true });
    } finally {
      await p.close();
    }
  });

  it('growth by one instance does not detach the views another instance returned (stacked layers of one cell)', () => {
    // Layer 2 reads layer 1's returned states as its inputs while layer 2 grows for a larger T.
    // Each instance has a memory of its own (a shared module heap would detach layer 1's views:
    // `inputs.x: expected …, got 0`).
    const c = compileOk('cell C {\n  input x : n\n  state h : n\n  h^<t> = tanh(W h^<t-1> + U x^<t>)\n}\n')[0]!;
    const create = new Function(emitJs(c, { precision: 'f32' }).body)() as JsCellFactory;
    const n = 64, b = 4, T = 400;
    const p = { W: new Float32Array(n * n).fill(0.01), U: new Float32Array(n * n).fill(0.02) };
    const l1 = create({ n }, b), l2 = create({ n }, b);
    l2.forward(p, { x: new Float32Array(2 * b * n).fill(1) });
    const h1 = l1.forward(p, { x: new Float32Array(T * b * n).fill(1) }).states.h!;
    expect(l2.forward(p, { x: h1 }).states.h!.length).toBe(T * b * n);
  });

  it('refuses a heap that is not one', () => {
    const create = loadJsFactory(cell, 'f32', true);
    expect(() => create(dims, B, { heap: {} as never })).toThrow('options.heap: expected { memory, alloc, free, gemm }');
  });
});

describe('what a reused or grown block must not change', () => {
  it('a block another instance freed starts from zeros: gradients of unused inputs stay 0', () => {
    // x reaches nothing: its gradient must be exactly 0 even on memory full of old values.
    const c = compileOk('cell U {\n  input x : n\n  input u : n\n  state h : n\n  h^<t> = tanh(W h^<t-1> + V u^<t>)\n}\n')[0]!;
    const create = new Function(emitJs(c, { precision: 'f32' }).body)() as JsCellFactory;
    const heap = freshHeap(1);
    const junk = heap.alloc(1 << 16);
    new Float32Array(heap.memory.buffer, junk, 1 << 14).fill(0.3);
    heap.free(junk, 1 << 16);
    const n = 4, b = 2, T = 3;
    const inst = create({ n }, b, { heap });
    const p = { W: new Float32Array(n * n).fill(0.1), V: new Float32Array(n * n).fill(0.2) };
    inst.forward(p, { x: new Float32Array(T * b * n).fill(1), u: new Float32Array(T * b * n).fill(0.5) });
    const g = inst.backward({ states: { h: new Float32Array(T * b * n).fill(1) } });
    expect([...g.inputs.x!].every((v) => v === 0)).toBe(true);
  });

  it('arrays an instance returned can be passed back when the next call grows its memory', () => {
    const cell = example('lstm.celda');
    const create = loadJsFactory(cell, 'f32', true);
    const dims = { n_x: 3, n_a: 4 }, b = 2;
    const small = randomRun(cell, { dims, batch: b, steps: 2, seed: 1 }), big = randomRun(cell, { dims, batch: b, steps: 400, seed: 2 });
    const a = create(dims, b), ref = create(dims, b);
    const r = a.forward(small.params, small.inputs, small.init, 2);
    const init = { c: r.states.c!.subarray(b * 4), a: r.states.a!.subarray(b * 4) };
    const want = Float32Array.from(ref.forward(big.params, big.inputs, { c: Float32Array.from(init.c), a: Float32Array.from(init.a) }, 400).states.a!);
    expect(bitDifference({ a: a.forward(big.params, big.inputs, init, 400).states.a! }, { a: want })).toBeNull();
  });

  it('an instance whose memory cannot grow says so, and still runs at the sizes it had', () => {
    const cell = example('gru.celda');
    const create = loadJsFactory(cell, 'f32', true);
    const dims = { n_x: 3, n_a: 4 }, b = 1;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const k = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(false)), { env: { memory } }).exports as Required<Kernels> & { gemm: CeldaHeap['gemm'] };
    const heap = makeHeap(memory, k.gemm, k);
    const inst = create(dims, b, { heap });
    const small = randomRun(cell, { dims, batch: b, steps: 3, seed: 4 });
    const first = Float32Array.from(inst.forward(small.params, small.inputs, small.init, 3).states.c!);
    const huge = randomRun(cell, { dims, batch: b, steps: 20000, seed: 5 });
    expect(() => inst.forward(huge.params, huge.inputs, huge.init, 20000)).toThrow(/out of memory/);
    expect(bitDifference({ c: inst.forward(small.params, small.inputs, small.init, 3).states.c! }, { c: first })).toBeNull();
  });
});

describe('the js backend\'s flags', () => {
  const cell = example('gru.celda');
  const dims = { n_x: 3, n_a: 4 };

  it('float32: SIMD unless asked not to; float64: never', () => {
    expect(jsBackend(cell, { dims, batch: 2, precision: 'f32' }).simd).toBe(true);
    expect(jsBackend(cell, { dims, batch: 2, precision: 'f32', simd: false }).simd).toBe(false);
    expect(jsBackend(cell, { dims, batch: 2, precision: 'f64' }).simd).toBe(false);
    expect(jsBackend(cell, { dims, batch: 2, precision: 'f32', threads: 1 }).threads).toBe(1);
    expect(jsBackend(cell, { dims, batch: 2, precision: 'f32' }).threads).toBe(1); // a small cell stays on one thread by default
  });

  it('threads: 2 runs on two threads, and still agrees', () => {
    const b = jsBackend(cell, { dims, batch: 2, precision: 'f32', threads: 2 });
    expect(b.simd).toBe(true);
    expect(b.threads).toBe(2);
    const a = agreement(cell, (c, o) => jsBackend(c, { ...o, threads: 2 }), { dims, batch: 2, steps: 4, seed: 3, precision: 'f32' });
    expect(a.worst, a.where).toBeLessThanOrEqual(F32_TOL);
    expect(() => jsBackend(cell, { dims, batch: 2, precision: 'f32', threads: 0 })).toThrow('threads must be a whole number ≥ 1');
  });
});
