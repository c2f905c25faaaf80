// What every part of the gpu.js planner (emit/gpujs/plan.ts) shares: its error,
// the plan's types, how a value is laid out in a device buffer and indexed, and
// how a number or a name is written in a kernel.

import type { Root } from '../../ir/graph.ts';

export class GpujsPlanError extends Error {}

/** A float literal; non-finite constants cannot be written in every kernel language. */
export function lit(v: number): string {
  if (!Number.isFinite(v)) throw new GpujsPlanError(`the constant ${v} cannot be written in a gpu.js kernel`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Where a kernel argument comes from when the plan runs. */
export type Arg =
  | { readonly from: 'param'; readonly name: string }
  /** All steps of an input, rows [T·B] × n; a step reads rows offset…offset+B. */
  | { readonly from: 'input'; readonly name: string }
  /** All steps of a cotangent (`state:c`, `output:y_hat`), rows [T·B] × n. */
  | { readonly from: 'cot'; readonly name: string }
  /** The state at t-1: a device buffer [B][n] in the forward pass; all steps [T·B] × n in the backward pass. */
  | { readonly from: 'prev'; readonly name: string }
  /** Backward: ∂ℒ/∂state^<t> carried from step t+1, [B][n]. */
  | { readonly from: 'carry'; readonly name: string }
  /** Backward: the running sum over later steps of a parameter gradient. */
  | { readonly from: 'acc'; readonly name: string }
  /** The output of an earlier kernel of the same step. */
  | { readonly from: 'kernel'; readonly index: number }
  /** The number (t-1)·B: the first row of this step in an all-steps buffer. */
  | { readonly from: 'offset' };

export interface KernelPlan {
  /** Readable: the notation name of the value it computes (`Gamma_u`, `c`, `dW_aa`). */
  readonly name: string;
  /** The graph node it computes; -1 for a transposed copy of one (plan.ts `transposed`). */
  readonly node: number;
  /** gpu.js output size, x fastest: [n, B] per example, [n] or [n, m] without batch, [1, B] / [1] for scalars. */
  readonly output: readonly number[];
  readonly args: readonly Arg[];
  /** `function (p_W_aa, prev_a, …) { … }` for gpu.js's createKernel. */
  readonly source: string;
  /** 'Array(4)': each element holds four floats (a copy packed by four, plan.ts `packed`); absent: one float. */
  readonly returnType?: 'Array(4)';
}

export interface StepPlan {
  readonly kernels: readonly KernelPlan[];
  /** Each root of the graph and the kernel whose output it is. */
  readonly roots: readonly { readonly root: Root; readonly kernel: number }[];
}

export interface PlanOptions {
  readonly dims: ReadonlyMap<string, number>;
  readonly batch: number;
  /** 'loop': one step of a recurrence, run T times; 'unrolled': a whole fixed-length unrolled graph, run once. */
  readonly mode: 'loop' | 'unrolled';
  /** Largest output extent along x or y the device takes (the texture size limit). */
  readonly maxExtent?: number;
  /** Most arrays one kernel may read (WebGPU: storage buffers per shader stage, less the output). */
  readonly maxArrays?: number;
  /** Nodes to materialize besides those the rule picks (a scanned forward's products, which its backward reads instead of computing them again). */
  readonly materialize?: ReadonlySet<number>;
  /**
   * Kernels run on the CPU (gpu.js's webasm and cpu modes, a browser's
   * software renderer such as SwiftShader), where a thread's loop reads
   * fastest along an array's rows; on a hardware GPU neighbouring threads
   * reading neighbouring elements is what counts.
   */
  readonly cpu?: boolean;
  /**
   * The batch is all T·B rows of a scanned pass on the CPU (emit/gpujs/scan.ts
   * sets it where `cpu` is): every product per example is a kernel of its own,
   * operands a product loop reads are materialized even when cheap, a
   * transposed weight is copied once, and a gradient summed over the rows
   * reads its operands transposed (materialize.ts, kernel-writer.ts `outer`).
   */
  readonly rows?: boolean;
  /**
   * Sum loops (products, batch and feature sums) take this many terms per
   * iteration where it divides their length. WebGPU on SwiftShader: a product
   * over [8192 × 256] outputs, 256 terms each, 1,424–1,502 ms as one term per
   * iteration, 787–821 ms as four (measured in Chromium, under load); WebGL2
   * on SwiftShader gained nothing (928–1,035 ms either way).
   */
  readonly unroll?: number;
  /**
   * With `rows`: a product over all rows reads both operands from copies
   * packed four floats to an element (gpu.js Array(4) kernels), four terms per
   * read. WebGL2 on SwiftShader: every read of a gpu.js array costs two integer
   * divisions (index → texel), so four floats per read make a product over
   * [2048 × 256] outputs of 256 terms 365 ms against 928–1,035 ms (packing
   * included; measured in Chromium under load). On WebGPU (with
   * patches/gpu.js+2.24.1.patch; stock gpu.js 2.24's WGSL translation reads no
   * Array(4) arguments) vec4 reads alone gain nothing; `quad` is what pays.
   */
  readonly pack?: boolean;
  /**
   * With `rows`: a product over all rows (a scan's input products y = W·v over
   * T·B rows, its gradients' sums Σ_r u_r ⊗ v_r) is a kernel of four outputs
   * per thread (gpu.js Array(4)), reading one element of each operand packed by
   * four (`pack`'s copies) per four terms, 16 multiply-adds per 5 reads
   * instead of 4 per 8; the product's own kernel takes its element from it.
   * WebGPU on SwiftShader, [8192 × 256] outputs of 256 terms: about 1.6 s with
   * one output per thread, scalar or vec4 reads alike, 0.63–0.69 s with four
   * outputs reading vec4s (bench/wgsl-products.ts, hand-written WGSL; figures in
   * BENCHMARKS.md, "Measurements behind the code"). Needs gpu.js's
   * WebGPU backend to read Array(4) results as arguments
   * (patches/gpu.js+2.24.1.patch).
   */
  readonly quad?: boolean;
}

// ---------------------------------------------------------------- storage

/** A value's numeric layout; every device buffer is a 1-D or 2-D array. */
export interface Layout {
  readonly batched: boolean;
  readonly dims: readonly number[];
}

/** Index expressions for one element: b (example), i (row/feature), j (column). */
export interface Idx {
  readonly b?: string;
  readonly i?: string;
  readonly j?: string;
}

export const outputOf = (l: Layout, B: number): number[] => {
  if (l.dims.length === 2) {
    // A matrix per example: one row of rows × cols numbers (row-major) per example.
    if (l.batched) return [l.dims[0]! * l.dims[1]!, B];
    return [l.dims[1]!, l.dims[0]!];
  }
  const n = l.dims.length === 1 ? l.dims[0]! : 1;
  return l.batched ? [n, B] : [n];
};

/** A batched vector: one vector per example (row). */
export const batchedVector = (l: Layout): boolean => l.batched && l.dims.length === 1;

/** The thread's own index for a value of this layout. */
export const ownIdx = (l: Layout): Idx =>
  l.dims.length === 2 && l.batched ? { b: 'this.thread.y', i: `Math.floor(this.thread.x / ${l.dims[1]!})`, j: `(this.thread.x % ${l.dims[1]!})` }
  : l.dims.length === 2 ? { i: 'this.thread.y', j: 'this.thread.x' }
    : { ...(l.batched ? { b: 'this.thread.y' } : {}), ...(l.dims.length === 1 ? { i: 'this.thread.x' } : {}) };

/** Drop the index parts a value does not have (broadcasting). */
export const norm = (l: Layout, x: Idx): Idx => ({
  ...(l.batched ? { b: x.b ?? '0' } : {}),
  ...(l.dims.length >= 1 ? { i: x.i ?? '0' } : {}),
  ...(l.dims.length === 2 ? { j: x.j ?? '0' } : {}),
});
export const idxKey = (x: Idx) => `${x.b ?? ''}|${x.i ?? ''}|${x.j ?? ''}`;

/** Read element `x` of a buffer holding a value of layout `l`; `rowOffset` shifts the batch row (all-steps buffers). */
export function readBuffer(name: string, l: Layout, x: Idx, rowOffset?: string): string {
  const n = norm(l, x);
  const row = (b: string) => (rowOffset === undefined ? b : `${rowOffset} + ${b}`);
  if (l.dims.length === 2 && l.batched) return `${name}[${row(n.b!)}][(${n.i}) * ${l.dims[1]!} + ${n.j}]`;
  if (l.dims.length === 2) return `${name}[${n.i}][${n.j}]`;
  if (l.batched) return `${name}[${row(n.b!)}][${l.dims.length === 1 ? n.i : '0'}]`;
  return `${name}[${l.dims.length === 1 ? n.i : '0'}]`;
}

export const ident = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_').slice(0, 40);
