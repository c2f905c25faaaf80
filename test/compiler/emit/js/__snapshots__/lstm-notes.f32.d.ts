// celda: types of the module compiled from the cell `LSTM_notes` (float32).
// Arrays are flat and row-major: per-step values [T][B][n], initial states [B][n],
// matrices by rows. Results are views of the instance's buffers, valid until its next call.

/** Sizes of the cell's dimensions. */
export interface LSTM_notesDims {
  readonly "n_x": number;
  readonly "n_a": number;
}

export interface LSTM_notesParams {
  readonly "w_c": ArrayLike<number>;
  readonly "b_c": ArrayLike<number>;
  readonly "w_u": ArrayLike<number>;
  readonly "b_u": ArrayLike<number>;
  readonly "w_f": ArrayLike<number>;
  readonly "b_f": ArrayLike<number>;
  readonly "w_o": ArrayLike<number>;
  readonly "b_o": ArrayLike<number>;
}

/** Each input for all steps: [T][B][n]. */
export interface LSTM_notesInputs {
  readonly "x": ArrayLike<number>;
}

/** Initial states [B][n]; a state not given starts at its declared constant. */
export interface LSTM_notesInit {
  readonly "c"?: ArrayLike<number>;
  readonly "a"?: ArrayLike<number>;
}

export interface LSTM_notesTrajectory {
  /** Each state after every step: [T][B][n]. */
  readonly states: { readonly "c": Float32Array; readonly "a": Float32Array };
  readonly outputs: { readonly "c_tilde": Float32Array };
}

/** Cotangents ∂ℒ/∂v of states and outputs at every step, [T][B][n]; missing ones are zero. */
export interface LSTM_notesCotangents {
  readonly states?: { readonly "c"?: ArrayLike<number>; readonly "a"?: ArrayLike<number> };
  readonly outputs?: { readonly "c_tilde"?: ArrayLike<number> };
}

/** Gradients: parameters summed over the batch and time; inputs per step; initial states. */
export interface LSTM_notesGradients {
  readonly params: { readonly "w_c": Float32Array; readonly "b_c": Float32Array; readonly "w_u": Float32Array; readonly "b_u": Float32Array; readonly "w_f": Float32Array; readonly "b_f": Float32Array; readonly "w_o": Float32Array; readonly "b_o": Float32Array };
  readonly inputs: { readonly "x": Float32Array };
  readonly init: { readonly "c": Float32Array; readonly "a": Float32Array };
}

export interface LSTM_notesInstance {
  /** Run T steps (T from the inputs' length, or `steps`), saving what backward needs. */
  forward(params: LSTM_notesParams, inputs: LSTM_notesInputs, init?: LSTM_notesInit, steps?: number): LSTM_notesTrajectory;
  /** BPTT over the last forward, from step T down to 1. */
  backward(cotangents: LSTM_notesCotangents): LSTM_notesGradients;
  /** One step (T = 1) on a separate instance: the last forward's trajectory is kept. */
  step(params: LSTM_notesParams, inputs: LSTM_notesInputs, init?: LSTM_notesInit): LSTM_notesTrajectory;
  /** The VJP of the last `step`. */
  stepBackward(cotangents: LSTM_notesCotangents): LSTM_notesGradients;
  readonly cell: "LSTM_notes";
  readonly precision: "f32";
  readonly batch: number;
  /** Whether the products run as WebAssembly SIMD (false: plain JavaScript). */
  readonly simd: boolean;
  /** Threads the products are split between (1 without a thread pool's heap). */
  readonly threads: number;
  /** Whether the product runs the relaxed-SIMD kernels (f32x4.relaxed_madd: fused on CPUs with FMA), as runtimes that have relaxed SIMD do unless options.fma is false. */
  readonly fma: boolean;
  /** Whether the fused elementwise loops (gate arithmetic, tanh, σ) run as WebAssembly SIMD too (false: JavaScript). */
  readonly wasmLoops: boolean;
}

/** Where an instance keeps its buffers: one memory, and the matrix product over byte addresses in it. */
export interface CeldaHeap {
  readonly memory: { readonly buffer: ArrayBufferLike };
  alloc(bytes: number): number;
  free(at: number, bytes: number): void;
  gemm(M: number, N: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, acc: number): void;
  /** tanh (kind 0) or σ (kind 1) in place on n floats at byte address p; without it, plain JavaScript. */
  act?(kind: number, p: number, n: number): void;
  /** dst[j·ldd + r] = src[r·lds + j] for r < R, j < W (strides in floats); without it, plain JavaScript. */
  transpose?(R: number, W: number, src: number, lds: number, dst: number, ldd: number): void;
  /** dst[i] (+)= Σ_r src[r·lds + i] for i < n, rows in order; without it, plain JavaScript. */
  sumRows?(R: number, n: number, src: number, lds: number, dst: number, acc: number): void;
  /** n floats of each of R rows (lds 0: one row repeated); without it, plain JavaScript. */
  copyRows?(R: number, n: number, src: number, lds: number, dst: number, ldd: number): void;
  readonly threads: number;
  /** Its product uses relaxed SIMD's multiply-add. */
  readonly fma?: boolean;
}

export interface CeldaOptions {
  /** false: plain-JavaScript products (default: WebAssembly SIMD where the runtime has it). */
  readonly simd?: boolean;
  /** false: the plain kernels (multiply, then add) even where the relaxed-SIMD ones are available (default: use them). With a heap, the heap's kernels run: false with an fma heap is refused. */
  readonly fma?: boolean;
  /** false: the fused elementwise loops run as JavaScript (default: as WebAssembly SIMD on the same memory, where the runtime and heap allow). */
  readonly wasmLoops?: boolean;
  /** A heap from celda's thread pool, to split the products between worker threads. */
  readonly heap?: CeldaHeap;
}

export declare function createLSTM_notes(dims: LSTM_notesDims, batch: number, options?: CeldaOptions): LSTM_notesInstance;
export default createLSTM_notes;
