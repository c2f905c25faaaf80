// The SIMD kernel module's data movement (compiler/emit/wasm/kernels-wat.ts): `transpose`,
// `sumRows` and `copyRows` on a memory of their own, at 4-byte (not 16-byte)
// aligned addresses with strides wider than the data. transpose and copyRows only
// move floats, so they are checked bit for bit (NaN payloads included) against a
// reference loop over the whole memory: every float they should write, and none
// they should not (the memory holds a sentinel first). sumRows must give the same
// floats as the plain-JS helper `$sumRows` (KERNELS, evaluated as emitted modules
// carry it) run on the same memory — rows added in the same order, so rounding
// alike on values of mixed magnitude, and +0 / −0 alike. Then random shapes
// (fast-check), and the instance wrappers of SIMD_MOVES ($ktranspose, $ksumRows,
// $kcopy, $kpack) on a heap with the kernels and on one without: the same floats
// either way.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KERNELS } from '../../../../compiler/emit/js/helpers.ts';
import { SIMD_MOVES } from '../../../../compiler/emit/js/simd-helpers.ts';
import { Rng } from '../../../../runtime/random.ts';
import type { CeldaHeap } from '../../../../runtime/wasm/pool.ts';
import { freshKernel, makeHeap } from '../../../support/simd.ts';

// ---------------------------------------------------------------- support

/** Bits no kernel writes: a float (−6.26e18) that stands out in a message. */
const SENTINEL = 0xdeadbeef;

/** One kernel instance on one page (16384 floats), the views of its memory (which never grows here). */
function bench() {
  const { memory, kernels } = freshKernel(1);
  return { kernels, U: new Uint32Array(memory.buffer), F: new Float32Array(memory.buffer) };
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const floatOf = (bits: number) => ((u32[0] = bits), f32[0]!);
const hex = (bits: number) => `0x${(bits >>> 0).toString(16).padStart(8, '0')}`;
const isNaNBits = (b: number) => (b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0;

/**
 * The first float index where got and want differ — in bits, or (floats: true)
 * as floats by Object.is (any NaN equals any NaN; +0 and −0 differ) — described; null when none.
 */
function difference(got: Uint32Array, want: Uint32Array, floats = false): string | null {
  for (let k = 0; k < want.length; k++) {
    const g = got[k]!, w = want[k]!;
    if (g === w || (floats && isNaNBits(g) && isNaNBits(w))) continue;
    return `float ${k}: got ${floatOf(g)} (${hex(g)}), want ${floatOf(w)} (${hex(w)})`;
  }
  return null;
}

/** Any 32 bits: NaNs with payloads, −0, subnormals, infinities all come up. */
const randomBits = (rng: Rng) => Math.floor(rng.next() * 2 ** 32) >>> 0;

/** Float32 values of mixed magnitude (2⁻²⁰ … 2²⁰, either sign) and a few zeros of both signs: sums of them round differently in another order. */
function mixed(rng: Rng): number {
  const u = rng.next();
  if (u < 0.03) return -0;
  if (u < 0.06) return 0;
  const e = Math.floor(rng.uniform(-20, 21));
  return Math.fround((rng.next() < 0.5 ? -1 : 1) * rng.uniform(1, 2) * 2 ** e);
}

/** A float index at least `from` that is not a multiple of four (a byte address 4- but not 16-aligned). */
const unaligned = (from: number) => (from % 4 === 0 ? from + 1 : from);

// The plain-JS helpers, evaluated from the text modules carry.
type SumRowsJs = (R: number, n: number, src: Float32Array, so: number, lds: number, dst: Float32Array, dO: number, acc: number) => void;
const sumRowsJs = new Function(`${KERNELS.$sumRows}\nreturn $sumRows;`)() as SumRowsJs;

// ---------------------------------------------------------------- transpose

/** transpose(R, W) from float s (row stride lds) to float d (row stride ldd) on random bits; the whole memory against the reference loop. */
function checkTranspose(b: ReturnType<typeof bench>, R: number, W: number, s: number, lds: number, d: number, ldd: number, seed: number): void {
  const { kernels, U } = b;
  const rng = new Rng(seed);
  U.fill(SENTINEL);
  for (let k = s; k < s + R * lds; k++) U[k] = randomBits(rng);
  const want = U.slice();
  for (let r = 0; r < R; r++) for (let j = 0; j < W; j++) want[d + j * ldd + r] = want[s + r * lds + j]!;
  kernels.transpose(R, W, 4 * s, lds, 4 * d, ldd);
  const diff = difference(U, want);
  if (diff !== null) expect.fail(`transpose R ${R} W ${W} src ${s} lds ${lds} dst ${d} ldd ${ldd}: ${diff}`);
}

/** A layout for transpose(R, W): src from an unaligned float, then dst after a gap, also unaligned. */
function transposeLayout(R: number, W: number, padS: number, padD: number, at: number, gap: number) {
  const lds = W + padS, ldd = R + padD, s = unaligned(at), d = unaligned(s + R * lds + gap);
  return { lds, ldd, s, d };
}

describe('transpose: dst[j·ldd + r] = src[r·lds + j]', () => {
  it('every R, W in 0…13, strides wider than the data, unaligned addresses: bit for bit, nothing else written', () => {
    const b = bench();
    for (let R = 0; R <= 13; R++) {
      for (let W = 0; W <= 13; W++) {
        const { lds, ldd, s, d } = transposeLayout(R, W, 1 + (R % 3), 1 + (W % 3), 1 + ((R + W) % 3), 3 + (R % 2));
        checkTranspose(b, R, W, s, lds, d, ldd, 100 * R + W);
      }
    }
  });

  it('tight strides (lds = W, ldd = R)', () => {
    const b = bench();
    for (const [R, W] of [[4, 4], [5, 7], [8, 12], [13, 9], [1, 70], [70, 1]] as const) {
      const { lds, ldd, s, d } = transposeLayout(R, W, 0, 0, 2, 1);
      checkTranspose(b, R, W, s, lds, d, ldd, R * W);
    }
  });

  it('larger shapes: several panels of 64 columns, tiles and edges (67 × 70, 130 × 5, 5 × 130, 64 × 64, 33 × 129)', () => {
    const b = bench();
    for (const [R, W] of [[67, 70], [130, 5], [5, 130], [64, 64], [33, 129]] as const) {
      const { lds, ldd, s, d } = transposeLayout(R, W, 3, 5, 3, 2);
      checkTranspose(b, R, W, s, lds, d, ldd, R + 1000 * W);
    }
  });

  it('random shapes, strides and offsets (fast-check)', () => {
    const b = bench();
    const shape = fc.record({
      R: fc.nat(40), W: fc.nat(140), padS: fc.nat(6), padD: fc.nat(6), at: fc.nat(9), gap: fc.nat(9), seed: fc.nat(1e6),
    });
    fc.assert(fc.property(shape, (q) => {
      // Any 4-byte alignment here, 16-byte aligned ones too.
      const lds = q.W + q.padS, ldd = q.R + q.padD, s = q.at, d = s + q.R * lds + q.gap;
      checkTranspose(b, q.R, q.W, s, lds, d, ldd, q.seed);
    }), { numRuns: 300, seed: 17 });
  });
});

// ---------------------------------------------------------------- sumRows

/**
 * sumRows(R, n) of rows of stride lds from float s into float d, acc or not, on
 * values from `value`, against $sumRows on the same memory (reset in between):
 * the whole memory, as floats. With acc 0 the destination starts as NaN (a kernel
 * that added to it would show). Returns the kernel's result.
 */
function checkSumRows(b: ReturnType<typeof bench>, R: number, n: number, s: number, lds: number, d: number, acc: 0 | 1, value: () => number): Float32Array {
  const { kernels, U, F } = b;
  U.fill(SENTINEL);
  for (let r = 0; r < R; r++) for (let i = 0; i < n; i++) F[s + r * lds + i] = value();
  for (let i = 0; i < n; i++) F[d + i] = acc ? value() : NaN;
  const before = U.slice();
  kernels.sumRows(R, n, 4 * s, lds, 4 * d, acc);
  const got = U.slice();
  U.set(before);
  sumRowsJs(R, n, F, s, lds, F, d, acc);
  const diff = difference(got, U, true);
  if (diff !== null) expect.fail(`sumRows R ${R} n ${n} src ${s} lds ${lds} dst ${d} acc ${acc}: ${diff} (the plain-JS helper's)`);
  return new Float32Array(got.buffer, 4 * d, n).slice();
}

describe('sumRows: dst[i] (+)= Σ_r src[r·lds + i], the same floats as the plain-JS $sumRows', () => {
  it('R ∈ {0, 1, 2, 5, 33}, every n in 0…37, acc 0 and 1, strided rows, unaligned addresses, mixed magnitudes', () => {
    const b = bench();
    for (const R of [0, 1, 2, 5, 33]) {
      for (let n = 0; n <= 37; n++) {
        for (const acc of [0, 1] as const) {
          const rng = new Rng(1000 * R + 10 * n + acc);
          const lds = n + 1 + (n % 3), s = unaligned(1 + (n % 3)), d = unaligned(s + Math.max(R, 1) * lds + 2);
          checkSumRows(b, R, n, s, lds, d, acc, () => mixed(rng));
        }
      }
    }
  });

  it('the values above are order-sensitive: adding the rows in reverse would change many sums', () => {
    // Otherwise the comparison with the helper would not pin the order.
    const rng = new Rng(7), R = 33, n = 37;
    const rows = Array.from({ length: R }, () => Array.from({ length: n }, () => mixed(rng)));
    let differ = 0;
    for (let i = 0; i < n; i++) {
      let fwd = 0, rev = 0;
      for (let r = 0; r < R; r++) fwd = Math.fround(fwd + rows[r]![i]!);
      for (let r = R - 1; r >= 0; r--) rev = Math.fround(rev + rows[r]![i]!);
      if (!Object.is(fwd, rev)) differ++;
    }
    expect(differ).toBeGreaterThan(n / 3);
  });

  it('zeros: −0 rows sum to +0 from 0 (acc 0) and stay −0 onto −0 (acc 1); R = 0 writes 0 or leaves dst', () => {
    const b = bench();
    for (const n of [1, 4, 5, 16, 17, 21]) {
      // Every lane width: sixteen, four and one at a time.
      const s = 3, lds = n + 2, d = unaligned(s + 4 * lds + 1);
      expect([...checkSumRows(b, 3, n, s, lds, d, 0, () => -0)].every((x) => Object.is(x, 0))).toBe(true);
      expect([...checkSumRows(b, 3, n, s, lds, d, 1, () => -0)].every((x) => Object.is(x, -0))).toBe(true);
      expect([...checkSumRows(b, 0, n, s, lds, d, 0, () => -0)].every((x) => Object.is(x, 0))).toBe(true);
      expect([...checkSumRows(b, 0, n, s, lds, d, 1, () => 2.5)].every((x) => x === 2.5)).toBe(true);
    }
  });

  it('special values: infinities, NaN, subnormals, overflow to ∞ (no flush to zero)', () => {
    const b = bench();
    const specials = [Infinity, -Infinity, NaN, 3.4e38, -3.4e38, 1e-40, -1e-40, 1.4e-45, -0, 0, 1, -1, 2 ** 24, 1];
    for (const [R, n] of [[5, 37], [33, 20], [2, 16], [7, 3]] as const) {
      const rng = new Rng(R * n);
      const value = () => specials[Math.floor(rng.next() * specials.length)]!;
      for (const acc of [0, 1] as const) checkSumRows(b, R, n, 1, n + 3, unaligned(2 + R * (n + 3)), acc, value);
    }
    // Subnormal sums stay subnormal.
    const sub = checkSumRows(b, 4, 5, 1, 6, 30, 0, () => 1e-40);
    expect([...sub].every((x) => x > 0 && x < 1e-38)).toBe(true);
  });

  it('random shapes, strides (overlapping and repeated rows too) and offsets (fast-check)', () => {
    const b = bench();
    const shape = fc.record({
      R: fc.nat(40), n: fc.nat(50), stride: fc.oneof(fc.nat(6), fc.constant(-1)), at: fc.nat(9), gap: fc.nat(9),
      acc: fc.constantFrom(0 as const, 1 as const), seed: fc.nat(1e6),
    });
    fc.assert(fc.property(shape, (q) => {
      // stride −1: lds 0 (one row added R times); else lds from n − 3 up (rows overlapping when below n).
      const lds = q.stride < 0 ? 0 : Math.max(0, q.n - 3 + q.stride);
      const rows = Math.max(q.R, 1) * Math.max(lds, q.n);
      const rng = new Rng(q.seed);
      checkSumRows(b, q.R, q.n, q.at, lds, q.at + rows + q.n + q.gap, q.acc, () => mixed(rng));
    }), { numRuns: 300, seed: 23 });
  });
});

// ---------------------------------------------------------------- copyRows

describe('copyRows: n floats of each row (lds 0: one row repeated)', () => {
  /** copyRows(R, n) on random bits, the whole memory against the reference loop. */
  function checkCopy(b: ReturnType<typeof bench>, R: number, n: number, s: number, lds: number, d: number, ldd: number, seed: number): void {
    const { kernels, U } = b;
    const rng = new Rng(seed);
    U.fill(SENTINEL);
    for (let k = s; k < s + Math.max(R, 1) * Math.max(lds, n); k++) U[k] = randomBits(rng);
    const want = U.slice();
    for (let r = 0; r < R; r++) for (let i = 0; i < n; i++) want[d + r * ldd + i] = want[s + r * lds + i]!;
    kernels.copyRows(R, n, 4 * s, lds, 4 * d, ldd);
    const diff = difference(U, want);
    if (diff !== null) expect.fail(`copyRows R ${R} n ${n} src ${s} lds ${lds} dst ${d} ldd ${ldd}: ${diff}`);
  }

  it('R in 0…6, every n in 0…37, strided and repeated (lds 0) rows, unaligned addresses: bit for bit, neighbours untouched', () => {
    const b = bench();
    for (let R = 0; R <= 6; R++) {
      for (let n = 0; n <= 37; n++) {
        for (const repeat of [false, true]) {
          const lds = repeat ? 0 : n + 1 + (R % 3), ldd = n + 1 + (n % 2), s = unaligned(1 + R);
          const d = unaligned(s + Math.max(R, 1) * Math.max(lds, n) + 3);
          checkCopy(b, R, n, s, lds, d, ldd, 100 * R + n + (repeat ? 50 : 0));
        }
      }
    }
  });

  it('tight rows (ldd = n: one contiguous block) and a large one', () => {
    const b = bench();
    checkCopy(b, 9, 13, 1, 13, 201, 13, 1);
    checkCopy(b, 9, 13, 1, 0, 201, 13, 2);
    checkCopy(b, 40, 130, 5, 133, 6000, 131, 3);
  });
});

// ---------------------------------------------------------------- the instance wrappers

interface Wrappers {
  $ktranspose(R: number, W: number, src: Float32Array, off: number, ld: number, dst: Float32Array): void;
  $ksumRows(R: number, n: number, src: Float32Array, so: number, lds: number, dst: Float32Array, dO: number, acc: number): void;
  $kcopy(R: number, n: number, src: Float32Array, so: number, lds: number, dst: Float32Array, dO: number, ldd: number): void;
  $kpack(dst: Float32Array, ld: number, dstRow: number, dstCol: number, src: Float32Array, lds: number, trans: boolean,
    srcRow: number, srcCol: number, rows: number, cols: number, acc: number): void;
}

/** The wrappers as a module carries them (SIMD_MOVES with the plain-JS helpers they fall back to), over `$heap`. */
const wrappersOver = new Function('$heap', [
  KERNELS.$transpose, KERNELS.$sumRows, KERNELS.$copy, KERNELS.$pack,
  SIMD_MOVES.$transpose, SIMD_MOVES.$sumRows, SIMD_MOVES.$copy, SIMD_MOVES.$pack,
  'return { $ktranspose, $ksumRows, $kcopy, $kpack };',
].join('\n')) as (heap: CeldaHeap) => Wrappers;

/**
 * A wasm memory with a heap made as modules make theirs — with the kernel
 * instance's exports or without — whose kernel calls are counted; the wrappers over it.
 */
function side(withKernels: boolean) {
  const { memory, gemm, kernels } = freshKernel(1);
  const heap = withKernels ? makeHeap(memory, gemm, kernels) : makeHeap(memory, gemm);
  if (withKernels) {
    expect(heap.transpose).toBe(kernels.transpose);
    expect(heap.sumRows).toBe(kernels.sumRows);
    expect(heap.copyRows).toBe(kernels.copyRows);
  } else {
    expect(heap.transpose ?? heap.sumRows ?? heap.copyRows).toBeUndefined();
  }
  const calls = { transpose: 0, sumRows: 0, copyRows: 0 };
  const counted: CeldaHeap = {
    ...heap,
    transpose: heap.transpose && ((...a) => { calls.transpose++; heap.transpose!(...a); }),
    sumRows: heap.sumRows && ((...a) => { calls.sumRows++; heap.sumRows!(...a); }),
    copyRows: heap.copyRows && ((...a) => { calls.copyRows++; heap.copyRows!(...a); }),
  };
  const buffer = memory.buffer;
  return { w: wrappersOver(counted), calls, U: new Uint32Array(buffer), F: new Float32Array(buffer), view: (at: number, n: number) => new Float32Array(buffer, 4 * at, n) };
}

type Side = ReturnType<typeof side>;

/**
 * Both memories filled alike (finite mixed values, ±0), `op` run on each (views
 * at the same unaligned places), then: the same bits everywhere, and the kernel
 * side's calls as expected. Returns the memory before, for a reference.
 */
function same(k: Side, js: Side, seed: number, op: (s: Side) => void, kernelCalls: Partial<Side['calls']>, what: string): { before: Float32Array; after: Float32Array } {
  const rng = new Rng(seed);
  for (let i = 0; i < k.F.length; i++) k.F[i] = mixed(rng);
  js.U.set(k.U);
  const before = k.F.slice();
  const c0 = { ...k.calls };
  op(k);
  op(js);
  const diff = difference(k.U, js.U);
  if (diff !== null) expect.fail(`${what}: with the kernels ${diff} (without)`);
  for (const key of ['transpose', 'sumRows', 'copyRows'] as const) {
    expect(k.calls[key] - c0[key], `${what}: kernel ${key} calls`).toBe(kernelCalls[key] ?? 0);
  }
  expect(js.calls).toEqual({ transpose: 0, sumRows: 0, copyRows: 0 });
  return { before, after: k.F.slice() };
}

describe('the SIMD_MOVES wrappers: the same floats with the heap\'s kernels and with the plain-JS helpers', () => {
  const shapes = [[0, 3], [3, 0], [1, 1], [3, 5], [4, 4], [5, 7], [9, 4], [13, 11], [17, 70]] as const;

  it('$kpack: trans true and false, acc 0 (the kernels) and acc 1 (the plain-JS $pack), sub-blocks at nonzero rows and columns', () => {
    const k = side(true), js = side(false);
    let seed = 0;
    for (const [rows, cols] of shapes) {
      for (const trans of [false, true]) {
        for (const acc of [0, 1]) {
          const dstRow = 2, dstCol = 3, srcRow = 1, srcCol = 2;
          const ld = dstCol + cols + 2;
          const lds = trans ? srcRow + rows + 3 : srcCol + cols + 3;
          const srcLen = (trans ? srcCol + cols : srcRow + rows) * lds, dstLen = (dstRow + rows) * ld;
          const sAt = 5, dAt = unaligned(sAt + srcLen + 6);
          const what = `$kpack rows ${rows} cols ${cols} trans ${trans} acc ${acc}`;
          const { before, after } = same(k, js, ++seed, (s) => {
            s.w.$kpack(s.view(dAt, dstLen), ld, dstRow, dstCol, s.view(sAt, srcLen), lds, trans, srcRow, srcCol, rows, cols, acc);
          }, acc === 0 ? { [trans ? 'transpose' : 'copyRows']: 1 } : {}, what);
          // And what $pack means: dst[(dstRow + r)·ld + dstCol + c] (+)= E[srcRow + r][srcCol + c].
          const want = before.slice();
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const e = before[sAt + (trans ? (srcCol + c) * lds + srcRow + r : (srcRow + r) * lds + srcCol + c)]!;
              const o = dAt + (dstRow + r) * ld + dstCol + c;
              want[o] = acc ? Math.fround(want[o]! + e) : e;
            }
          }
          const diff = difference(new Uint32Array(after.buffer), new Uint32Array(want.buffer));
          if (diff !== null) expect.fail(`${what}: ${diff} ($pack's definition)`);
        }
      }
    }
  });

  it('$ktranspose, $ksumRows, $kcopy at nonzero offsets into views at unaligned places', () => {
    const k = side(true), js = side(false);
    let seed = 100;
    for (const [R, W] of shapes) {
      const off = 3, ld = W + 2, sAt = 1, srcLen = off + R * ld, dAt = unaligned(sAt + srcLen + 5);
      same(k, js, ++seed, (s) => s.w.$ktranspose(R, W, s.view(sAt, srcLen), off, ld, s.view(dAt, R * W)), { transpose: 1 }, `$ktranspose R ${R} W ${W}`);
      for (const acc of [0, 1]) {
        same(k, js, ++seed, (s) => s.w.$ksumRows(R, W, s.view(sAt, srcLen), off, ld, s.view(dAt, W + 4), 2, acc), { sumRows: 1 }, `$ksumRows R ${R} n ${W} acc ${acc}`);
      }
      for (const lds of [ld, 0]) {
        const ldd = W + 1;
        same(k, js, ++seed, (s) => s.w.$kcopy(R, W, s.view(sAt, srcLen), off, lds, s.view(dAt, 2 + R * ldd), 2, ldd), { copyRows: 1 }, `$kcopy R ${R} n ${W} lds ${lds}`);
      }
    }
  });
});
