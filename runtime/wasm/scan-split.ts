// A scan (compiler/emit/wasm/scan-wat.ts) split between the threads of a pool
// (pool-common.ts): over lanes when there are enough of them, each thread running
// the whole recurrence for its columns; otherwise, for long sequences (B = 1), over
// time in chunks — each thread scans its chunk from a zero state keeping the product
// of the coefficients per lane, a short pass carries the state from chunk to chunk,
// and each chunk is fixed up by its entering state times the running product.
//
// Lanes: every output is the same sequence of float operations as on one thread,
// so results are bit-identical. Time: h = local + P · carry reassociates the
// recurrence, so results differ from one thread's in the last bits (a float32
// rounding per chunk boundary, scaled by the products of a).

import type { CeldaHeap } from './pool-common.ts';

type Scan = NonNullable<CeldaHeap['scan']>;
type ScanFix = NonNullable<CeldaHeap['scanFix']>;

export interface ScanSplitOptions {
  /** Lane·steps below which a scan stays on the calling thread (default 2¹⁶). */
  readonly minWork?: number;
  /** Columns each thread needs for the split over lanes (default 64). */
  readonly minLanes?: number;
  /** Steps each chunk needs for the split over time (default 64). */
  readonly minSteps?: number;
  /** For tests: force one split ('lanes', or 'time' even on one thread), and the number of chunks over time. */
  readonly split?: 'lanes' | 'time';
  readonly chunks?: number;
}

const REVERSE = 1, A = 2, LOCAL = 8, A_ROW = 16, B_ROW = 32;

/** Run `op` with arguments per thread k < threads (k = 0: this thread; null: nothing to do). */
export type RunSplit = (op: 1 | 2, args: (k: number) => readonly number[] | null, what: string) => void;

/** Where part k of n starts over W columns split in whole groups of four (SIMD lanes), as even as they come. */
export const laneBound = (W: number, k: number, n: number): number => Math.min(W, Math.round((Math.ceil(W / 4) * k) / n) * 4);

/** The pool heap's `scan`: split between threads, or the kernel on this one. */
export function splitScan(memory: WebAssembly.Memory, heap: CeldaHeap, scan: Scan, fix: ScanFix, threads: () => number, run: RunSplit, o: ScanSplitOptions): Scan {
  const minWork = o.minWork ?? 1 << 16, minLanes = o.minLanes ?? 64, minSteps = o.minSteps ?? 64;
  return (flags, R, S, W, dst, src, ld, a, lda, b, ldb) => {
    const n = threads();
    const T = S > 0 ? R / S : 0;
    const work = R * W;
    if (o.split === 'lanes' || (o.split === undefined && n > 1 && work >= minWork && W >= minLanes * n)) {
      run(1, (k) => {
        const c0 = laneBound(W, k, n), c1 = laneBound(W, k + 1, n);
        if (c1 <= c0) return null;
        return [flags, R, S, c1 - c0, dst + 4 * c0, src + 4 * c0, ld, a + (flags & A_ROW ? 0 : 4 * c0), lda, b + (flags & B_ROW ? 0 : 4 * c0), ldb, 0];
      }, 'a scan split over lanes');
      return;
    }
    const chunks = Math.min(T, o.chunks ?? n);
    if (chunks >= 2 && (o.split === 'time' || (n > 1 && work >= minWork && T >= minSteps * chunks))) {
      overTime(memory, heap, fix, run, n, chunks, flags, R, S, W, dst, src, ld, a, lda, b, ldb);
      return;
    }
    scan(flags, R, S, W, dst, src, ld, a, lda, b, ldb, 0);
  };
}

function overTime(memory: WebAssembly.Memory, heap: CeldaHeap, fix: ScanFix, run: RunSplit, n: number, P: number,
  flags: number, R: number, S: number, W: number, dst: number, src: number, ld: number, a: number, lda: number, b: number, ldb: number): void {
  const T = R / S, rev = (flags & REVERSE) !== 0;
  // Chunk j: steps [c[j], c[j + 1]).
  const c = Array.from({ length: P + 1 }, (_, j) => Math.round((T * j) / P));
  const lanes = S * W;
  const prod = heap.alloc(4 * P * lanes);
  try {
    // The chunk the scan starts from runs exactly (forward the first, reverse the last); the others from zero.
    const exact = rev ? P - 1 : 0;
    for (let g = 0; g < P; g += n) {
      run(1, (k) => {
        const j = g + k;
        if (j >= P) return null;
        const r0 = c[j]! * S, rows = (c[j + 1]! - c[j]!) * S;
        return [j === exact ? flags : flags | LOCAL, rows, S, W, dst + 4 * r0 * ld, src + 4 * r0 * ld, ld, a + 4 * r0 * lda, lda, b + 4 * r0 * ldb, ldb, prod + 4 * j * lanes];
      }, 'a chunk of a scan split over time');
    }
    // The state entering each chunk, chunk by chunk: the first step a chunk ran (forward: its last step; reverse:
    // its first) gets the product of the chunk's coefficients times the state entering it.
    const F = new Float32Array(memory.buffer);
    const row = (step: number) => (dst >> 2) + step * S * ld;
    const carry = (at: number, from: number, j: number) => {
      const p = (prod >> 2) + j * lanes;
      for (let k = 0; k < S; k++) for (let i = 0; i < W; i++) F[at + k * ld + i]! += F[p + k * W + i]! * F[from + k * ld + i]!;
    };
    if (!rev) for (let j = 1; j < P; j++) carry(row(c[j + 1]! - 1), row(c[j]! - 1), j);
    else for (let j = P - 2; j >= 0; j--) carry(row(c[j]!), row(c[j + 1]!), j);
    // Every other step of each chunk: += P · the state entering it.
    const fixFlags = flags & (REVERSE | A | A_ROW);
    for (let g = 0; g < P; g += n) {
      run(2, (k) => {
        const j = g + k;
        if (j >= P || j === exact || c[j + 1]! - c[j]! < 2) return null;
        const s0 = rev ? c[j]! + 1 : c[j]!, s1 = rev ? c[j + 1]! : c[j + 1]! - 1;
        const enter = rev ? c[j + 1]! : c[j]! - 1;
        return [fixFlags, (s1 - s0) * S, S, W, dst + 4 * s0 * S * ld, dst + 4 * enter * S * ld, ld, a + 4 * s0 * S * lda, lda, prod + 4 * j * lanes];
      }, 'the fix-up of a scan split over time');
    }
  } finally {
    heap.free(prod, 4 * P * lanes);
  }
}
