// The browser's stand-in for runtime/wasm/pool.ts (scripts/build-web.mjs swaps it
// in for runtime/backends/js.ts): the same names, with the thread pool made of
// Web Workers (runtime/wasm/pool-browser.ts). A browser pool starts
// asynchronously, so the training worker starts it first (`startPool`), and
// `sharedPool` hands that one out; asking for threads without it is an error.

import type { ThreadPool } from '../../runtime/wasm/pool-common.ts';
import { browserDefaultThreads, createBrowserPool } from '../../runtime/wasm/pool-browser.ts';

export type { CeldaHeap, ThreadPool } from '../../runtime/wasm/pool-common.ts';
export { fmaAvailable, kernelBytes, sharedMemoryAvailable, simdAvailable, THREAD_MIN_MACS, THREADS_DEFAULT_MIN_STEP_FLOPS } from '../../runtime/wasm/pool-common.ts';

export const defaultThreads = browserDefaultThreads;

let pool: ThreadPool | null = null;

/** Start (or keep) the pool of `threads` threads that sharedPool hands out; rejects with the reason where memory cannot be shared. */
export async function startPool(threads: number): Promise<ThreadPool> {
  if (pool && pool.threads === threads) return pool;
  await pool?.close();
  pool = null;
  pool = await createBrowserPool(threads);
  return pool;
}

export function sharedPool(threads: number): ThreadPool {
  if (!pool || pool.threads !== threads) throw new Error(`celda: no ${threads}-thread pool was started in this worker`);
  return pool;
}
