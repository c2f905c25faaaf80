// The platform-independent half of celda's thread pool for the SIMD matrix
// products (pool.ts on Node's worker_threads, pool-browser.ts on Web Workers):
// the kernel's bytes, the heap over one shared WebAssembly memory, the control
// block's layout, how a product is split, and the loop every worker runs. No
// `node:` imports and no DOM: both pools, and a browser bundle, import it.
//
// Synchronisation is Atomics on a small shared control block: the caller writes
// the product's arguments and each worker's range, bumps a sequence number and
// wakes the workers; each computes its share and counts itself done; the caller
// does its own share and waits for the count (how it waits is the platform's:
// Atomics.wait where the thread may block, a spin on Atomics.load where it may
// not). Every output is computed whole by one thread, in the kernel's fixed
// order, so results are bit-identical with any number of threads. Small
// products stay on the calling thread, where waking a worker would cost more
// than it saves.

import { SIMD_KERNELS } from '../../compiler/emit/js/simd-helpers.ts';
import { DEFAULT_GEMM } from '../../compiler/emit/wasm/kernels-wat.ts';
import type { ScanSplitOptions } from './scan-split.ts';
import { laneBound, splitScan } from './scan-split.ts';

export type { ScanSplitOptions } from './scan-split.ts';

/** What an emitted SIMD module allocates from and multiplies with (its `options.heap`). */
export interface CeldaHeap {
  readonly memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(at: number, bytes: number): void;
  gemm(M: number, N: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, acc: number): void;
  /** Activations in place (0: tanh, 1: σ) on n floats from byte address p (16-byte aligned; whole groups of four). */
  act?(kind: number, p: number, n: number): void;
  /** dst[j·ldd + r] = src[r·lds + j] for r < R, j < W. */
  transpose?(R: number, W: number, src: number, lds: number, dst: number, ldd: number): void;
  /** dst[i] (+)= Σ_r src[r·lds + i] for i < n, rows in order. */
  sumRows?(R: number, n: number, src: number, lds: number, dst: number, acc: number): void;
  /** n floats of each of R rows (lds 0: one row repeated). */
  copyRows?(R: number, n: number, src: number, lds: number, dst: number, ldd: number): void;
  /**
   * A linear recurrence over R rows of S-row steps (compiler/emit/wasm/scan-wat.ts): flags 1 reverse,
   * 2 a, 4 b, 16 a one per row, 32 b one per row; byte addresses, strides in floats. A pool's splits it between threads.
   */
  scan?(flags: number, R: number, S: number, W: number, dst: number, src: number, ld: number, a: number, lda: number, b: number, ldb: number, prod?: number): void;
  /** The fix-up of a chunk of a scan split over time (scan-wat.ts). */
  scanFix?(flags: number, R: number, S: number, W: number, dst: number, carry: number, ld: number, a: number, lda: number, prod: number): void;
  readonly threads: number;
  /** false: the products run as plain JavaScript. */
  readonly simd?: boolean;
  /** true: the product uses relaxed SIMD's multiply-add (the fma kernels). */
  readonly fma?: boolean;
}

/** A kernel instance's exports besides gemm, which a heap passes on to the modules it serves. */
export type Kernels = Pick<CeldaHeap, 'act' | 'transpose' | 'sumRows' | 'copyRows' | 'scan' | 'scanFix'>;

export interface ThreadPool {
  readonly heap: CeldaHeap;
  /** Threads a large product is split between, this one included. */
  readonly threads: number;
  /** Stop the workers (the heap then runs every product on the calling thread). */
  close(): Promise<void>;
}

export type Gemm = CeldaHeap['gemm'];

/**
 * Multiply-adds below which a product stays on the calling thread: between the M
 * size's per-step products, which a second thread did not speed up, and L's, which
 * it did (BENCHMARKS.md, "Measurements behind the code").
 */
export const THREAD_MIN_MACS = 1 << 22;

/** Floats a transpose or a sum over rows moves from which a pool splits it between threads (the T·B-row ones of a long sequence). */
export const MOVE_MIN_FLOATS = 1 << 16;

/** FLOPs of one step of the recurrence (its products) from which backends use threads by default: L, not M. */
export const THREADS_DEFAULT_MIN_STEP_FLOPS = 1 << 25;

/**
 * The kernels' bytes, for a shared memory (`shared`) or an unshared one; `fma`: the
 * variant whose product accumulates with relaxed SIMD's multiply-add (kernels-wat.ts).
 * The decoder emitted modules carry (one source: emit/js/simd-helpers.ts).
 */
export const kernelBytes = new Function(`${SIMD_KERNELS.$decode}\n${SIMD_KERNELS.$wasmBytes}\nreturn (shared, fma = false) => $wasmBytes(shared, fma);`)() as (shared: boolean, fma?: boolean) => Uint8Array<ArrayBuffer>;

/** Whether this runtime has WebAssembly SIMD (the kernel validates). */
export function simdAvailable(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(kernelBytes(false));
  } catch {
    return false;
  }
}

/**
 * Whether it also has relaxed SIMD (the multiply-add kernels validate): Chrome ≥ 114,
 * Node ≥ 21; Node 20 with `--experimental-wasm-relaxed-simd`.
 */
export function fmaAvailable(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(kernelBytes(false, true));
  } catch {
    return false;
  }
}

/** Whether threads can share a WebAssembly memory here (in a browser: only when crossOriginIsolated). */
export function sharedMemoryAvailable(): boolean {
  try {
    return simdAvailable() && typeof SharedArrayBuffer === 'function' && new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** The memory a pool's heap allocates from and every thread's kernel works on. */
export const newSharedMemory = () => new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });

type MakeHeap = (memory: WebAssembly.Memory, gemm: Gemm, kernels?: Kernels) => CeldaHeap & { threads: number };
/** The allocator emitted modules carry (one source: emit/js/simd-helpers.ts), so a pool's heap allocates alike. */
export const makeHeap = new Function(`${SIMD_KERNELS.$makeHeap}\nreturn $makeHeap;`)() as MakeHeap;

// ---------------------------------------------------------------- the control block

// An Int32Array over its own SharedArrayBuffer.
export const SEQ = 0; // bumped by the caller for each product (and to stop)
export const DONE = 1; // workers done with the current product (at start-up: workers ready)
export const STOP = 2; // 1: workers leave their loop
export const SPLIT = 3; // 0: the product's columns N are split, 1: its rows M
export const FAULT = 4; // 1: a worker's kernel threw (the caller then throws)
export const ARGS = 5; // ARGS … ARGS+9: M N K a lda b ldb c ldc acc
export const OP = ARGS + 10; // 0: a product; else the kernel OPS[op], each worker with its own arguments
/** The kernels a worker runs by their op code besides the product, each with the arguments the caller wrote for that worker. */
export const OPS = ['gemm', 'scan', 'scanFix', 'transpose', 'sumRows'] as const;
export const RANGE = OP + 1; // worker w: [RANGE + STRIDE·w, … + 1] = [from, to) of the product's split dimension,
export const STRIDE = 14; //     then up to 12 arguments of its call of OPS[op] (the second 0: nothing to do)

/** The control block for `threads` threads (this one and threads − 1 workers). */
export const controlBlock = (threads: number) => new Int32Array(new SharedArrayBuffer(4 * (RANGE + STRIDE * threads)));

/**
 * Source of `celdaWorkerLoop(gemm, ctl, index)`: count itself ready, then for
 * each bump of SEQ compute worker `index`'s range of the product and count
 * itself done, until STOP. Blocks in Atomics.wait (workers may block on every
 * platform). Each platform's worker script defines it with this text and calls
 * it with its own instance of the kernel on the shared memory.
 */
export const WORKER_LOOP = `function celdaWorkerLoop(gemm, ctl, index, kernels) {
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, ${SEQ}, seen);
    seen = Atomics.load(ctl, ${SEQ});
    if (Atomics.load(ctl, ${STOP}) !== 0) break;
    const at = ${RANGE} + ${STRIDE} * index, op = ctl[${OP}];
    const from = ctl[at], to = ctl[at + 1];
    if (op !== 0) {
      const x = ctl, p = at + 2;
      try {
        // WebAssembly ignores the arguments beyond a function's parameters.
        if (x[p + 1] > 0) kernels[${JSON.stringify(OPS)}[op]](x[p], x[p + 1], x[p + 2], x[p + 3], x[p + 4], x[p + 5], x[p + 6], x[p + 7], x[p + 8], x[p + 9], x[p + 10], x[p + 11]);
      } catch {
        Atomics.store(ctl, ${FAULT}, 1);
      }
    } else if (to > from) {
      const M = ctl[${ARGS}], N = ctl[${ARGS} + 1], K = ctl[${ARGS} + 2], a = ctl[${ARGS} + 3], lda = ctl[${ARGS} + 4];
      const b = ctl[${ARGS} + 5], ldb = ctl[${ARGS} + 6], c = ctl[${ARGS} + 7], ldc = ctl[${ARGS} + 8], acc = ctl[${ARGS} + 9];
      try {
        if (ctl[${SPLIT}] === 0) gemm(M, to - from, K, a, lda, b + 4 * from * ldb, ldb, c + 4 * from, ldc, acc);
        else gemm(to - from, N, K, a + 4 * from * lda, lda, b, ldb, c + 4 * from * ldc, ldc, acc);
      } catch {
        Atomics.store(ctl, ${FAULT}, 1);
      }
    }
    Atomics.add(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
}`;

/** Longest a product may go without a worker counting itself done before the pool gives up on it. */
export const STALL_MS = 120_000;

/**
 * Wait until ctl[DONE] ≥ count: blocking in Atomics.wait where the thread may
 * (Node, a Web Worker), spinning on Atomics.load where it may not (a page's main
 * thread). A worker that died mid-product never counts itself done, and its
 * error event cannot arrive while this thread waits: after STALL_MS without
 * progress, throw.
 */
export function waitForWorkers(ctl: Int32Array, count: number, block: boolean): void {
  let last = Atomics.load(ctl, DONE), since = Date.now();
  for (;;) {
    const done = Atomics.load(ctl, DONE);
    if (done >= count) return;
    if (done !== last) {
      last = done;
      since = Date.now();
    } else if (Date.now() - since > STALL_MS) {
      throw new Error(`celda: a worker thread stopped answering (${count - done} of ${count} have not finished a matrix product in ${STALL_MS / 1000} s)`);
    }
    if (block) Atomics.wait(ctl, DONE, done, 1000);
  }
}

// ---------------------------------------------------------------- the split

export interface Split {
  /** true: ranges of the columns N; false: of the rows M. */
  readonly byCols: boolean;
  /** n + 1 increasing bounds from 0 to the split extent: thread k (0 the caller) takes [bounds[k], bounds[k + 1]). */
  readonly bounds: readonly number[];
}

/** Rows and columns of the kernel's register block both divide this: ranges of it keep every thread on whole blocks. */
const SPLIT_UNIT = lcm(DEFAULT_GEMM.mr, DEFAULT_GEMM.nr);

function lcm(a: number, b: number): number {
  let x = a, y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

/**
 * How an M × N output is split between n threads: the larger dimension, in
 * ranges of whole multiples of the kernel's register block (4 × 2: of 4); null
 * when it has fewer than two such units.
 */
export function splitOf(M: number, N: number, n: number): Split | null {
  const byCols = N >= M;
  const extent = byCols ? N : M;
  const unit = SPLIT_UNIT;
  const chunks = Math.ceil(extent / unit);
  if (chunks < 2) return null;
  const bounds: number[] = [];
  for (let k = 0; k <= n; k++) bounds.push(Math.min(extent, Math.round((chunks * k) / n) * unit));
  return { byCols, bounds };
}

/**
 * A pool over `memory`: its heap's `gemm` runs products of at least `minMacs`
 * multiply-adds split between this thread (`local`, its instance of the kernel)
 * and `workers` workers already counted ready in `ctl`. `waitDone(ctl, count)`
 * returns once ctl[DONE] ≥ count; `terminate` ends the workers after they were
 * told to stop.
 */
export function assemblePool(
  memory: WebAssembly.Memory, local: Gemm, ctl: Int32Array, workers: number, minMacs: number,
  waitDone: (ctl: Int32Array, count: number) => void, terminate: () => Promise<void>, kernels?: Kernels, fma = false, scan: ScanSplitOptions = {},
): ThreadPool {
  let open = workers > 0;
  const n = workers + 1;

  const gemm: Gemm = (M, N, K, a, lda, b, ldb, c, ldc, acc) => {
    if (!open || M * N * K < minMacs) return local(M, N, K, a, lda, b, ldb, c, ldc, acc);
    const split = splitOf(M, N, n);
    if (split === null) return local(M, N, K, a, lda, b, ldb, c, ldc, acc);
    const { byCols, bounds } = split;
    ctl[ARGS] = M; ctl[ARGS + 1] = N; ctl[ARGS + 2] = K; ctl[ARGS + 3] = a; ctl[ARGS + 4] = lda;
    ctl[ARGS + 5] = b; ctl[ARGS + 6] = ldb; ctl[ARGS + 7] = c; ctl[ARGS + 8] = ldc; ctl[ARGS + 9] = acc;
    ctl[SPLIT] = byCols ? 0 : 1;
    ctl[OP] = 0;
    for (let w = 0; w < n - 1; w++) {
      ctl[RANGE + STRIDE * w] = bounds[w + 1]!;
      ctl[RANGE + STRIDE * w + 1] = bounds[w + 2]!;
    }
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    // This thread's share: the first range.
    const to = bounds[1]!;
    try {
      if (to > 0) {
        if (byCols) local(M, to, K, a, lda, b, ldb, c, ldc, acc);
        else local(to, N, K, a, lda, b, ldb, c, ldc, acc);
      }
    } finally {
      // Even when this thread's share throws, the workers finish theirs before the next product starts.
      waitDone(ctl, n - 1);
    }
    if (Atomics.load(ctl, FAULT) !== 0) {
      Atomics.store(ctl, FAULT, 0);
      throw new Error(`celda: a worker thread failed in a ${M}×${N}×${K} matrix product`);
    }
  };

  const heap = makeHeap(memory, gemm, kernels);
  if (kernels?.scan && kernels.scanFix && kernels.transpose && kernels.sumRows) {
    const fns = kernels as Record<(typeof OPS)[number], (...args: number[]) => void>;
    // Thread k's share is args(k); a closed pool (or one of a single thread) runs only this thread's, args(0).
    const run = (op: 1 | 2 | 3 | 4, args: (k: number) => readonly number[] | null, what: string) => {
      if (!open) {
        const own = args(0);
        if (own !== null) fns[OPS[op]](...own);
        return;
      }
      for (let w = 0; w < n - 1; w++) {
        const a = args(w + 1), at = RANGE + STRIDE * w + 2;
        ctl[at + 1] = 0;
        if (a !== null) for (let i = 0; i < a.length; i++) ctl[at + i] = a[i]!;
      }
      ctl[OP] = op;
      Atomics.store(ctl, DONE, 0);
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
      const own = args(0);
      try {
        if (own !== null) fns[OPS[op]](...own);
      } finally {
        waitDone(ctl, n - 1);
      }
      if (Atomics.load(ctl, FAULT) !== 0) {
        Atomics.store(ctl, FAULT, 0);
        throw new Error(`celda: a worker thread failed in ${what}`);
      }
    };
    heap.scan = splitScan(memory, heap, kernels.scan, kernels.scanFix, () => (open ? n : 1), run, scan);
    // The data movement around a step's products over all T·B rows, split over columns (whole groups of four):
    // each thread moves or sums its columns in the kernel's order, so the floats are the same as on one thread.
    const big = (R: number, W: number) => open && R * W >= MOVE_MIN_FLOATS && W >= 8 * n;
    const { transpose, sumRows } = kernels;
    heap.transpose = (R, W, src, lds, dst, ldd) => {
      if (!big(R, W)) return transpose(R, W, src, lds, dst, ldd);
      run(3, (k) => {
        const j0 = laneBound(W, k, n), j1 = laneBound(W, k + 1, n);
        return j1 > j0 ? [R, j1 - j0, src + 4 * j0, lds, dst + 4 * j0 * ldd, ldd] : null;
      }, 'a transpose');
    };
    heap.sumRows = (R, m, src, lds, dst, acc) => {
      if (!big(R, m)) return sumRows(R, m, src, lds, dst, acc);
      run(4, (k) => {
        const i0 = laneBound(m, k, n), i1 = laneBound(m, k + 1, n);
        return i1 > i0 ? [R, i1 - i0, src + 4 * i0, lds, dst + 4 * i0, acc] : null;
      }, 'a sum over rows');
    };
  }
  Object.defineProperty(heap, 'threads', { get: () => (open ? n : 1) });
  Object.defineProperty(heap, 'fma', { value: fma });
  return {
    heap,
    get threads() {
      return open ? n : 1;
    },
    async close() {
      if (!open) return;
      open = false;
      Atomics.store(ctl, STOP, 1);
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
      await terminate();
    },
  };
}
