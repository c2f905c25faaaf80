// The contract every execution backend meets (interpreter, generated JS, gpu.js,
// WebAssembly): run a compiled cell over T steps, then its VJP. Arrays are flat,
// row-major: per-step values are [T][B][n], initial states [B][n], parameters as
// their shapes (matrices as rows). Missing cotangents are zero.

import type { CompiledCell } from '../compiler/compile.ts';

export type Vec = Float64Array | Float32Array;

/** A table keyed by a cell's names, without a prototype: `constructor` or `toString` is a name like any other. */
export const byName = <T>(entries: Iterable<readonly [string, T]> = []): Record<string, T> =>
  Object.assign(Object.create(null) as Record<string, T>, Object.fromEntries(entries));

/** A name's entry in such a table, never one inherited from Object.prototype (tables also come from JSON and worker messages). */
export const entry = <T>(table: Readonly<Record<string, T>> | undefined, name: string): T | undefined =>
  (table !== undefined && Object.hasOwn(table, name) ? table[name] : undefined);

export interface StepValues {
  readonly states: Record<string, Vec>;
  readonly outputs: Record<string, Vec>;
}

export interface GradValues {
  readonly params: Record<string, Vec>;
  readonly inputs: Record<string, Vec>;
  readonly init: Record<string, Vec>;
}

export interface CellBackend {
  readonly name: string;
  readonly precision: 'f64' | 'f32';
  /** js backend, float32: whether its products run as WebAssembly SIMD, between how many threads, and with the relaxed-SIMD kernels; whether its fused elementwise loops run as WebAssembly SIMD too. */
  readonly simd?: boolean;
  readonly threads?: number;
  readonly fma?: boolean;
  readonly wasmLoops?: boolean;
  /** Run `steps` steps from `init` (default: each state's declared constant), saving what backward needs. */
  forward(steps: number, params: Readonly<Record<string, Vec>>, inputs: Readonly<Record<string, Vec>>, init?: Readonly<Record<string, Vec>>): StepValues;
  /**
   * The VJP of the last forward: cotangents of states and outputs at every step → gradients (params summed over batch and time).
   * `{ inputs: false }`: the caller reads no input gradient; a backend that can skip the work only those need
   * (gpujs) leaves `inputs` empty, the others compute them anyway. Either way every other gradient is the same.
   */
  backward(cot: { readonly states?: Readonly<Record<string, Vec>>; readonly outputs?: Readonly<Record<string, Vec>> }, want?: { readonly inputs?: boolean }): GradValues;
}

/** Dimension values by name (`n_a`, `n_x`, …) and the batch size the backend is built for. */
export interface BackendOptions {
  readonly dims: Readonly<Record<string, number>>;
  readonly batch: number;
  readonly precision?: 'f64' | 'f32';
  /** Float32 on the js backend: matrix products as WebAssembly SIMD (default true where the runtime has it). */
  readonly simd?: boolean;
  /** Float32 SIMD on the js backend: threads to split large products between (default: the cores, when a step is large enough to gain). */
  readonly threads?: number;
  /** Float32 SIMD on the js backend: false keeps the plain kernels where relaxed SIMD's multiply-add is available (whose products and activations give the same bits on every runtime with WebAssembly SIMD). */
  readonly fma?: boolean;
  /** Float32 SIMD on the js backend: false keeps the fused elementwise loops in JavaScript (default: WebAssembly SIMD, as the products). */
  readonly wasmLoops?: boolean;
  /**
   * js and gpujs backends: run diagonal linear recurrences as scans (compiler/lower/scan.ts; default true);
   * false is `--no-scan`; 'log' (`--scan log`): gpu.js's parallel scan in log space where the decay is
   * positive by its form (minGRU's 1 − σ, RG-LRU's exp), the same scans otherwise.
   */
  readonly scan?: boolean | 'log';
}

export type BackendFactory = (cell: CompiledCell, opts: BackendOptions) => CellBackend;

/**
 * The same contract for backends whose device reads back only asynchronously
 * (gpu.js on WebGPU): `forward` and `backward` return Promises.
 */
export interface AsyncCellBackend {
  readonly name: string;
  readonly precision: 'f64' | 'f32';
  forward(steps: number, params: Readonly<Record<string, Vec>>, inputs: Readonly<Record<string, Vec>>, init?: Readonly<Record<string, Vec>>): Promise<StepValues>;
  backward(cot: { readonly states?: Readonly<Record<string, Vec>>; readonly outputs?: Readonly<Record<string, Vec>> }): Promise<GradValues>;
}
