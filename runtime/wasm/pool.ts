// Threads for the SIMD matrix products on Node: a heap over one shared
// WebAssembly memory whose `gemm` splits a product's output between this thread
// and worker_threads, each running the same kernel (compiler/emit/wasm/kernels-wat.ts)
// on the same memory. Emitted float32 modules take it as `options.heap`. Its `scan`
// splits a linear recurrence between the threads too (scan-split.ts).
//
// The control block, the split and the workers' loop are pool-common.ts (shared
// with the browser's pool-browser.ts). Here the calling thread may block, so it
// waits for the workers with Atomics.wait. Results are bit-identical with any
// number of threads: every output is computed whole by one thread.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Gemm, Kernels, ScanSplitOptions, ThreadPool } from './pool-common.ts';
import { assemblePool, controlBlock, DONE, fmaAvailable, kernelBytes, newSharedMemory, sharedMemoryAvailable, THREAD_MIN_MACS, waitForWorkers, WORKER_LOOP } from './pool-common.ts';

export type { CeldaHeap, ScanSplitOptions, ThreadPool } from './pool-common.ts';
export { fmaAvailable, kernelBytes, sharedMemoryAvailable, simdAvailable, THREAD_MIN_MACS, THREADS_DEFAULT_MIN_STEP_FLOPS } from './pool-common.ts';

/** Threads worth using by default: the cores this process may run on, at most 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

// Evaluated as CommonJS by worker_threads (`eval: true`).
const WORKER = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, control, index } = workerData;
const kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
${WORKER_LOOP}
celdaWorkerLoop(kernels.gemm, new Int32Array(control), index, kernels);
`;

/** Block until ctl[DONE] ≥ count (the calling thread of a Node process may wait). */
const waitDone = (ctl: Int32Array, count: number) => waitForWorkers(ctl, count, true);

/**
 * A pool of `threads` threads (this one and threads − 1 workers) over a new
 * shared memory. Blocks until the workers are ready. Throws where memory cannot
 * be shared (then use the module's own heap). `fma`: the relaxed-SIMD multiply-add
 * kernels where the runtime has them (the default; results then differ from the
 * plain kernels' in the last bits, the same with any number of threads).
 */
export function createPool(threads = defaultThreads(), minMacs = THREAD_MIN_MACS, fma = true, scan: ScanSplitOptions = {}): ThreadPool {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a whole number ≥ 1, got ${threads}`);
  if (!sharedMemoryAvailable()) throw new Error('threads need WebAssembly SIMD and a shared memory (SharedArrayBuffer), which this runtime lacks');
  const memory = newSharedMemory();
  const useFma = fma && fmaAvailable();
  const bytes = kernelBytes(true, useFma);
  const kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as Kernels & { gemm: Gemm };
  const local = kernels.gemm;
  const ctl = controlBlock(threads);
  const workers: Worker[] = [];
  for (let w = 0; w < threads - 1; w++) {
    const worker = new Worker(WORKER, { eval: true, workerData: { memory, bytes, control: ctl.buffer, index: w } });
    worker.unref();
    workers.push(worker);
  }
  // Wait until every worker has its kernel (they start on their own threads).
  const deadline = Date.now() + 30_000;
  let failure: unknown = null;
  for (const w of workers) w.once('error', (e) => { failure = e; });
  while (Atomics.load(ctl, DONE) < workers.length) {
    if (failure !== null || Date.now() > deadline) {
      for (const w of workers) void w.terminate();
      throw new Error(`celda: worker threads did not start${failure instanceof Error ? `: ${failure.message}` : ''}`);
    }
    Atomics.wait(ctl, DONE, Atomics.load(ctl, DONE), 50);
  }
  return assemblePool(memory, local, ctl, workers.length, minMacs, waitDone, async () => {
    await Promise.all(workers.map((w) => w.terminate()));
  }, kernels, useFma, scan);
}

const pools = new Map<string, ThreadPool>();

/**
 * One pool per thread count (and kernel variant) for the whole process (instances of
 * every cell share its memory); a closed one (down to one thread) is replaced.
 * `fma: false` keeps the product on f32x4.mul then add where relaxed SIMD is available.
 */
export function sharedPool(threads: number, fma = true): ThreadPool {
  // Keyed on the kernels the pool will really run (without relaxed SIMD, both keys are the plain pool).
  const key = `${threads}${fma && fmaAvailable() ? '' : ' no fma'}`;
  let p = pools.get(key);
  if (!p || p.threads !== threads) pools.set(key, (p = createPool(threads, THREAD_MIN_MACS, fma)));
  return p;
}
