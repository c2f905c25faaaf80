// The generated-JavaScript backend: the cell's module (compiler/emit/js/emit.ts) loaded
// in-process with `new Function` — the same code `celda compile` writes to a file.
// The fast path for evaluation and training. Results are copies, so they stay
// valid when the backend runs again. Float32 runs the matrix products as
// WebAssembly SIMD (on a thread pool when the products are large), float64 as
// plain JavaScript.

import type { CompiledCell } from '../../compiler/compile.ts';
import { emitJs } from '../../compiler/emit/js/emit.ts';
import { trainingStepFlops } from '../../compiler/lower/cost.ts';
import type { BackendOptions, CellBackend, GradValues, StepValues, Vec } from '../backend.ts';
import type { CeldaHeap } from '../wasm/pool.ts';
import { defaultThreads, sharedMemoryAvailable, sharedPool, simdAvailable, THREADS_DEFAULT_MIN_STEP_FLOPS } from '../wasm/pool.ts';

/** What an emitted module's factory returns (see the .d.ts `celda compile` writes). */
export interface JsCellInstance {
  forward(params: Readonly<Record<string, ArrayLike<number>>>, inputs: Readonly<Record<string, ArrayLike<number>>>, init?: Readonly<Record<string, ArrayLike<number>>>, steps?: number): { states: Record<string, Vec>; outputs: Record<string, Vec> };
  backward(cot: { states?: Readonly<Record<string, ArrayLike<number>>>; outputs?: Readonly<Record<string, ArrayLike<number>>> }): { params: Record<string, Vec>; inputs: Record<string, Vec>; init: Record<string, Vec> };
  /** Float32 SIMD modules: whether the products run as WebAssembly SIMD, on how many threads, and with relaxed SIMD's multiply-add; whether the fused loops run as WebAssembly too. */
  readonly simd?: boolean;
  readonly threads?: number;
  readonly fma?: boolean;
  readonly wasmLoops?: boolean;
}

/** Options of a float32 SIMD module's factory (see emit/js/simd-helpers.ts). */
export interface JsInstanceOptions {
  readonly simd?: boolean;
  /** false: the plain kernels even where relaxed SIMD's multiply-add is available. */
  readonly fma?: boolean;
  /** false: the fused elementwise loops in JavaScript (default: WebAssembly SIMD where the heap's memory allows). */
  readonly wasmLoops?: boolean;
  readonly heap?: CeldaHeap;
}

export type JsCellFactory = (dims: Readonly<Record<string, number>>, batch: number, options?: JsInstanceOptions) => JsCellInstance;

// One compiled factory per cell and precision: backends for other batch sizes share its code.
const factories = new WeakMap<CompiledCell, Map<string, JsCellFactory>>();

/** The emitted module of a cell, loaded: its factory (float32: with the WebAssembly SIMD products unless `simd` is false). */
export function loadJsFactory(cell: CompiledCell, precision: 'f64' | 'f32' = 'f64', simd = true, scan = true): JsCellFactory {
  let byKind = factories.get(cell);
  if (!byKind) factories.set(cell, (byKind = new Map()));
  const key = `${precision}${precision === 'f32' && simd ? '+simd' : ''}${scan ? '' : '-scan'}`;
  let f = byKind.get(key);
  if (!f) {
    const { body } = emitJs(cell, { precision, simd, ...(scan ? {} : { scan: false }) });
    f = new Function(body)() as JsCellFactory;
    byKind.set(key, f);
  }
  return f;
}

/**
 * The options a float32 SIMD instance gets: the heap of a shared thread pool
 * when threads are asked for — by default, when this machine has more than one
 * core and one step of the recurrence is large enough to gain — else none.
 */
export function instanceOptions(cell: CompiledCell, opts: BackendOptions): JsInstanceOptions {
  const simd = opts.simd ?? true;
  if ((opts.precision ?? 'f64') !== 'f32' || !simd || !simdAvailable()) return { simd: simd && simdAvailable() };
  let threads = opts.threads;
  if (threads === undefined) {
    const perStep = trainingStepFlops(cell, opts.dims, opts.batch, 1);
    threads = perStep >= THREADS_DEFAULT_MIN_STEP_FLOPS && sharedMemoryAvailable() ? defaultThreads() : 1;
  }
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a whole number ≥ 1, got ${threads}`);
  const fma = opts.fma ?? true;
  const wasmLoops = opts.wasmLoops ?? true;
  if (threads === 1) return { simd: true, fma, wasmLoops };
  return { simd: true, fma, wasmLoops, heap: sharedPool(threads, fma).heap };
}

/** Copies of the module's views (which its next call overwrites), in one allocation. */
function copyAll<K extends string>(groups: Readonly<Record<K, Readonly<Record<string, Vec>>>>, f32: boolean): Record<K, Record<string, Vec>> {
  let n = 0;
  for (const g of Object.values<Readonly<Record<string, Vec>>>(groups)) for (const v of Object.values(g)) n += v.length;
  const all = f32 ? new Float32Array(n) : new Float64Array(n);
  let at = 0;
  const out = {} as Record<K, Record<string, Vec>>;
  for (const [k, g] of Object.entries<Readonly<Record<string, Vec>>>(groups)) {
    const r: Record<string, Vec> = {};
    for (const [name, v] of Object.entries(g)) {
      all.set(v, at);
      r[name] = all.subarray(at, at + v.length);
      at += v.length;
    }
    out[k as K] = r;
  }
  return out;
}

export function jsBackend(cell: CompiledCell, opts: BackendOptions): CellBackend {
  const precision = opts.precision ?? 'f64';
  const dims: Record<string, number> = {};
  for (const d of cell.typed.dims) {
    const v = opts.dims[d];
    if (v === undefined) throw new Error(`js backend: dimension ${d} of ${cell.name} is not bound`);
    dims[d] = v;
  }
  const simd = opts.simd ?? true;
  const instance = loadJsFactory(cell, precision, simd, opts.scan !== false)(dims, opts.batch, instanceOptions(cell, { ...opts, dims }));
  return {
    name: 'js',
    precision,
    simd: instance.simd === true,
    threads: instance.threads ?? 1,
    fma: instance.fma === true,
    wasmLoops: instance.wasmLoops === true,
    forward(steps, params, inputs, init): StepValues {
      return copyAll(instance.forward(params, inputs, init ?? {}, steps), precision === 'f32');
    },
    backward(cot): GradValues {
      return copyAll(instance.backward({ states: cot.states ?? {}, outputs: cot.outputs ?? {} }), precision === 'f32');
    },
  };
}
