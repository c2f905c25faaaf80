// Threads for the SIMD matrix products in a browser: the pool of pool.ts on Web
// Workers. The workers come from a Blob URL (no file to serve); each gets the
// compiled kernel, the shared WebAssembly memory and the control block by
// postMessage, and then blocks in Atomics.wait between products (pool-common.ts).
//
// A shared memory needs a page that is crossOriginIsolated (served with
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
// require-corp`); without it createBrowserPool rejects, and emitted modules run
// single-threaded on their own heap.
//
// Waiting for the workers: a browser's main thread may not block, so
// Atomics.wait throws there; on the main thread the caller spins on Atomics.load
// until the workers are done (a product is split only when it is large enough
// that the workers finish within about the time the caller takes for its own
// share). Inside a worker (a pool made by a worker) the caller blocks in
// Atomics.wait as on Node. Which one is found by trying Atomics.wait once.
//
// No `node:` imports: this file is bundled for the browser.

import type { Gemm, Kernels, ThreadPool } from './pool-common.ts';
import { assemblePool, controlBlock, DONE, fmaAvailable, kernelBytes, newSharedMemory, sharedMemoryAvailable, THREAD_MIN_MACS, waitForWorkers, WORKER_LOOP } from './pool-common.ts';

export type { CeldaHeap, ThreadPool } from './pool-common.ts';

// The worker's script: wait for its one message, then run the loop for good.
const WORKER = `'use strict';
${WORKER_LOOP}
self.onmessage = (e) => {
  self.onmessage = null;
  const { module, memory, control, index } = e.data;
  let kernels;
  try {
    kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  } catch (err) {
    self.postMessage({ error: String(err && err.message || err) });
    return;
  }
  celdaWorkerLoop(kernels.gemm, new Int32Array(control), index, kernels);
};
`;

/** Threads worth using by default in a browser: its logical processors, at most 8. */
export function browserDefaultThreads(): number {
  const n = typeof navigator === 'object' ? navigator.hardwareConcurrency : 1;
  return Math.max(1, Math.min(8, Number.isInteger(n) ? n : 1));
}

/** Whether this thread may block in Atomics.wait (a worker may; a page's main thread may not). */
export function canBlock(): boolean {
  try {
    // A value that differs: returns 'not-equal' at once where waiting is allowed, throws where it is not.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

const blockUntilDone = (ctl: Int32Array, count: number) => waitForWorkers(ctl, count, true);
const spinUntilDone = (ctl: Int32Array, count: number) => waitForWorkers(ctl, count, false);

/** Why threads cannot run here, or null. */
function whyNoThreads(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; Blob?: unknown };
  if (g.crossOriginIsolated === false || typeof SharedArrayBuffer !== 'function')
    return 'celda: threads need a shared memory, and this page is not crossOriginIsolated (SharedArrayBuffer is unavailable); serve it with the headers `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`, or run without a pool (single-threaded)';
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function') return 'celda: threads need Web Workers, which this context lacks';
  if (!sharedMemoryAvailable()) return 'celda: threads need WebAssembly SIMD and a shared WebAssembly memory, which this browser lacks';
  return null;
}

/**
 * A pool of `threads` threads (this one and threads − 1 Web Workers) over a new
 * shared memory; resolves once every worker has its kernel. Rejects with the
 * reason where memory cannot be shared (not crossOriginIsolated, no
 * SharedArrayBuffer, no WebAssembly SIMD). Products of fewer than `minMacs`
 * multiply-adds stay on the calling thread; `fma` as createPool's (pool.ts).
 */
export async function createBrowserPool(threads = browserDefaultThreads(), minMacs = THREAD_MIN_MACS, fma = true): Promise<ThreadPool> {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a whole number ≥ 1, got ${threads}`);
  const why = whyNoThreads();
  if (why !== null) throw new Error(why);
  const memory = newSharedMemory();
  // Asynchronous compilation: Chrome limits synchronous compilation on the main thread (to 8 MB in
  // Chromium 156; older versions refused modules over 4 KB, where an emitted module falls back to plain JS).
  const useFma = fma && fmaAvailable();
  const module = await WebAssembly.compile(kernelBytes(true, useFma));
  const kernels = (await WebAssembly.instantiate(module, { env: { memory } })).exports as Kernels & { gemm: Gemm };
  const local = kernels.gemm;
  const ctl = controlBlock(threads);
  const workers: Worker[] = [];
  const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`celda: worker threads did not start: ${why}`));
      const timer = setTimeout(() => fail('no answer within 30 s'), 30_000);
      const poll = () => {
        if (Atomics.load(ctl, DONE) >= workers.length) { clearTimeout(timer); resolve(); } else setTimeout(poll, 2);
      };
      for (let w = 0; w < threads - 1; w++) {
        const worker = new Worker(url, { name: `celda-gemm-${w + 1}` });
        worker.onerror = (e) => { e.preventDefault(); clearTimeout(timer); fail(e.message || 'a worker failed to load'); };
        worker.onmessage = (e: MessageEvent<{ error?: string }>) => { if (e.data?.error) { clearTimeout(timer); fail(e.data.error); } };
        worker.postMessage({ module, memory, control: ctl.buffer, index: w });
        workers.push(worker);
      }
      poll();
    });
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    URL.revokeObjectURL(url);
  }
  return assemblePool(memory, local, ctl, workers.length, minMacs, canBlock() ? blockUntilDone : spinUntilDone, async () => {
    for (const w of workers) w.terminate();
  }, kernels, useFma);
}
