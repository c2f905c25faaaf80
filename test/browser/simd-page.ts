// The browser side of the SIMD-module tests, bundled by esbuild: load an emitted
// float32 module (served as text by simd-server.ts; it has no imports), run it
// on its own WebAssembly SIMD heap, as plain JavaScript ({ simd: false }) and on
// the heap of a two-thread createBrowserPool, and hand back the numbers and
// whether the pool's are bit for bit the single-thread SIMD ones. The same
// bundle runs as a module Web Worker (where Atomics.wait is allowed) when the
// page asks it to.

import { canBlock, createBrowserPool } from '../../runtime/wasm/pool-browser.ts';
import type { CeldaHeap, ThreadPool } from '../../runtime/wasm/pool-common.ts';
import { simdAvailable, splitOf } from '../../runtime/wasm/pool-common.ts';
import type { CaseData } from './cases.ts';

type Arrays = Record<string, number[]>;
interface Result { states: Arrays; outputs: Arrays; grads: { params: Arrays; inputs: Arrays; init: Arrays } }
type Views = Record<string, Float32Array>;
interface Instance {
  forward(p: unknown, x: unknown, i: unknown, steps: number): { states: Views; outputs: Views };
  backward(cot: unknown): { params: Views; inputs: Views; init: Views };
  readonly simd: boolean;
  readonly threads: number;
  readonly wasmLoops: boolean;
}
type Factory = (dims: Record<string, number>, batch: number, options?: { simd?: boolean; heap?: CeldaHeap }) => Instance;
/** instance.simd, .threads and .wasmLoops: where a run ran. */
export interface Ran { simd: boolean; threads: number; wasmLoops: boolean }

export interface Probe { crossOriginIsolated: boolean; sharedArrayBuffer: boolean; simd: boolean; canBlock: boolean; worker: boolean; ua: string }
export interface Comparison {
  /** instance.simd / .threads / .wasmLoops of each run. */
  readonly runs: Record<'simd' | 'js' | 'pool', Ran>;
  readonly results: Record<'simd' | 'js' | 'pool', Result>;
  /** Numbers of the pool's run whose bits differ from the single-thread SIMD run's, per array. */
  readonly bitsDiffer: Record<string, number>;
  /** Products the pool split between its threads, by columns and by rows. */
  readonly split: { cols: number; rows: number; whole: number };
  /** Where it ran. */
  readonly probe: Probe;
}

const isWorker = typeof document === 'undefined';

function probe(): Probe {
  return {
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    simd: simdAvailable(),
    canBlock: typeof SharedArrayBuffer === 'function' && canBlock(),
    worker: isWorker,
    ua: navigator.userAgent,
  };
}

const copies = (r: Readonly<Record<string, Float32Array>>): Views => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
const plain = (r: Views): Arrays => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

/** forward then backward; copies of every result (they are views of the heap, valid until the next call). */
function runOnce(create: Factory, c: CaseData, options: { simd?: boolean; heap?: CeldaHeap }) {
  const cell = create(c.dims, c.batch, options);
  const f = cell.forward(c.params, c.inputs, c.init, c.steps);
  const states = copies(f.states), outputs = copies(f.outputs);
  const g = cell.backward(c.cot);
  const all: Record<string, Views> = { states, outputs, 'd.params': copies(g.params), 'd.inputs': copies(g.inputs), 'd.init': copies(g.init) };
  const result: Result = { states: plain(states), outputs: plain(outputs), grads: { params: plain(all['d.params']!), inputs: plain(all['d.inputs']!), init: plain(all['d.init']!) } };
  return { run: { simd: cell.simd, threads: cell.threads, wasmLoops: cell.wasmLoops }, all, result };
}

function bitsDiffer(a: Record<string, Views>, b: Record<string, Views>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [group, views] of Object.entries(b)) {
    for (const [k, v] of Object.entries(views)) {
      const w = a[group]?.[k];
      if (!w || w.length !== v.length) { out[`${group}.${k}`] = Infinity; continue; }
      const x = new Uint32Array(w.buffer, w.byteOffset, w.length), y = new Uint32Array(v.buffer, v.byteOffset, v.length);
      let n = 0;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
      out[`${group}.${k}`] = n;
    }
  }
  return out;
}

let pool: ThreadPool | null = null;

/** The module at `url` on its own SIMD heap, as plain JavaScript, and on a two-thread pool splitting every product it can. */
async function compare(c: CaseData, url: string): Promise<Comparison> {
  const create = ((await import(/* @vite-ignore */ url)) as { default: Factory }).default;
  const simd = runOnce(create, c, {});
  const js = runOnce(create, c, { simd: false });
  pool ??= await createBrowserPool(2, 0);
  const heap = pool.heap;
  // The pool's heap, counting the products it splits (the same rule as its gemm).
  const split = { cols: 0, rows: 0, whole: 0 };
  const counting: CeldaHeap = {
    memory: heap.memory, alloc: heap.alloc, free: heap.free, act: heap.act, transpose: heap.transpose, sumRows: heap.sumRows, copyRows: heap.copyRows, threads: heap.threads,
    gemm(M, N, K, a, lda, b, ldb, cc, ldc, acc) {
      const s = splitOf(M, N, heap.threads);
      if (s === null) split.whole++;
      else if (s.byCols) split.cols++;
      else split.rows++;
      heap.gemm(M, N, K, a, lda, b, ldb, cc, ldc, acc);
    },
  };
  const threaded = runOnce(create, c, { heap: counting });
  return {
    runs: { simd: simd.run, js: js.run, pool: { simd: threaded.run.simd, threads: heap.threads, wasmLoops: threaded.run.wasmLoops } },
    results: { simd: simd.result, js: js.result, pool: threaded.result },
    bitsDiffer: bitsDiffer(threaded.all, simd.all),
    split,
    probe: probe(),
  };
}

/** What createBrowserPool says here (on a page that is not crossOriginIsolated: why it cannot). */
async function tryPool(): Promise<{ ok: boolean; message: string }> {
  try {
    const p = await createBrowserPool(2);
    await p.close();
    return { ok: true, message: '' };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/** The module at `url` on its own heap: where it ran (instance.simd, .threads, .wasmLoops). */
async function single(c: CaseData, url: string): Promise<Ran> {
  const create = ((await import(/* @vite-ignore */ url)) as { default: Factory }).default;
  return runOnce(create, c, {}).run;
}

/** Run `compare` in a module Web Worker made from this bundle. */
function inWorker(c: CaseData, url: string): Promise<Comparison> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('/simd-page.js', location.href), { type: 'module' });
    worker.onerror = (e) => { reject(new Error(`worker: ${e.message}`)); worker.terminate(); };
    worker.onmessage = (e: MessageEvent<{ ok?: Comparison; error?: string }>) => {
      worker.terminate();
      if (e.data.error !== undefined) reject(new Error(`worker: ${e.data.error}`));
      else resolve(e.data.ok!);
    };
    worker.postMessage({ c, url: new URL(url, location.href).href });
  });
}

const api = { probe, compare, single, tryPool, inWorker };
export type SimdPageApi = typeof api;

if (isWorker) {
  self.onmessage = async (e: MessageEvent<{ c: CaseData; url: string }>) => {
    try {
      self.postMessage({ ok: await compare(e.data.c, e.data.url) });
    } catch (err) {
      self.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
    }
  };
} else {
  (globalThis as { celdaSimd?: unknown }).celdaSimd = api;
  // browser.ts's openPage waits for this title.
  document.title = 'celda gpu.js ready';
}
