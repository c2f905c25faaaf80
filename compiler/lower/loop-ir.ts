// The lowered program of a cell: buffers sized once, and for the forward and the
// backward pass an ordered list of kernels per phase. It says what to compute and
// where every value lives, not how a backend spells it: emit/js renders it as
// JavaScript, and a GPU backend can render the same grouping as kernels.
//
// Phases of a pass over T steps:
//   static — once per call, from parameters only (packed weights, transposes);
//   pre    — before the time loop, over all T·B rows at once (input projections);
//   loop   — once per step, the recurrence (t = 0…T-1 forward, T-1…0 backward);
//   post   — after the loop, over all T·B rows (outputs, dW as one product, dx).
// An unrolled cell has no loop: its `loop` phase runs once.

import type { Dim } from '../ir/dims.ts';
import type { ElementwiseOp } from '../ir/ops.ts';
import type { Graph } from '../ir/graph.ts';

export type Phase = 'static' | 'pre' | 'loop' | 'post';

/** How many rows a buffer holds. */
export type Extent =
  | 'one' //    an unbatched value: a parameter, packed weights, a parameter's gradient
  | 'step' //   B rows, overwritten every step
  | 'seq' //    T·B rows; block t holds step t
  | 'states'; // (T+1)·B rows; slot 0 is the initial state, slot t the state after step t

export type BufferRole =
  | 'param' | 'input' | 'state' | 'output' // the interface of the forward pass
  | 'cot' | 'dparam' | 'dinput' // the interface of the backward pass
  | 'value' | 'pack' | 'scratch';

export interface BufferDecl {
  readonly id: number;
  /** A readable name from the notation (`Gamma_u`, `dW_c`, `stack`); not yet a JS identifier. */
  readonly name: string;
  readonly extent: Extent;
  /** Numbers per row, as a product of dimensions (a matrix: [m, n]). */
  readonly size: readonly Dim[];
  readonly role: BufferRole;
  /** The public name of an interface buffer (`W_c`, `x`, `c`). */
  readonly key?: string;
}

/** Which rows of a buffer a kernel touches. */
export type RowSel =
  | { readonly at: 'zero' } // an unbatched or per-step buffer
  | { readonly at: 't'; readonly shift: number } // block t + shift, inside the loop
  | { readonly at: 'block'; readonly block: number } // a fixed block (unrolled cells)
  | { readonly at: 'all'; readonly shift: number }; // T·B rows from block `shift` on

/** A run of columns of a batched (or unbatched) vector buffer. */
export interface View {
  readonly buf: number;
  readonly rows: RowSel;
  readonly col: Dim;
  readonly width: Dim;
}

/** How many rows a kernel runs over: B (one step), T·B (all steps), or one unbatched row. */
export type RowCount = 'B' | 'TB' | 'one';

// ---------------------------------------------------------------- elementwise loops

/** How an operand is indexed inside a loop over (row b, feature i). */
export type ReadMode = 'elem' | 'row' | 'feat' | 'one';

export type Expr =
  | { readonly e: 'num'; readonly v: number }
  | { readonly e: 'read'; readonly view: View; readonly mode: ReadMode }
  /** A value computed earlier in the same loop body. */
  | { readonly e: 'local'; readonly id: number }
  | { readonly e: 'op'; readonly op: ElementwiseOp; readonly args: readonly Expr[]; readonly p?: number };

export interface Store {
  readonly view: View;
  readonly accumulate: boolean;
}

/** One value of a fused loop: computed once per element, then stored or kept as a local. */
export interface Stmt {
  readonly id: number;
  readonly expr: Expr;
  readonly stores: readonly Store[];
  /** Named in the notation or used more than once: gets its own `const`. */
  readonly local: boolean;
}

// ---------------------------------------------------------------- kernels

/** Where the rows of a packed weight come from: a block of a (possibly transposed) matrix. */
export interface PackBlock {
  readonly src: number; // matrix buffer
  readonly trans: boolean;
  readonly srcRow: Dim; // in the effective (transposed if trans) matrix
  readonly srcCol: Dim;
  readonly rows: Dim;
  readonly cols: Dim;
  readonly dstRow: Dim;
  readonly dstCol: Dim;
}

/** A transposed buffer (`transpose` kernel) and the row where an operand's columns start in it. */
export interface Transposed {
  readonly buf: number;
  readonly row: Dim;
}

/** A matrix operand: rows of a buffer from `row` on, `ld` numbers apart. */
export interface MatView {
  readonly buf: number;
  readonly row: Dim;
  readonly col: Dim;
  readonly ld: Dim;
}

export type Kernel =
  /** Fill a packed weight [rows × cols] from blocks of parameters (zeros elsewhere). */
  | { readonly k: 'pack'; readonly dst: number; readonly rows: Dim; readonly cols: Dim; readonly blocks: readonly PackBlock[]; readonly zero: boolean; readonly note: string }
  /**
   * C (+)= A · Bᵀ over `rows` rows: C[r, j] = Σ_p A[r, p] · B[j, p]. A is a vector
   * operand (rows of a batched buffer), B a packed weight whose rows are read contiguously.
   */
  | { readonly k: 'gemm'; readonly rows: RowCount; readonly n: Dim; readonly depth: Dim; readonly a: View; readonly b: MatView; readonly c: View; readonly accumulate: boolean; readonly note: string }
  /** dst[j, r] = src[r, j] for all rows r: makes the batch axis contiguous for a product over rows. */
  | { readonly k: 'transpose'; readonly rows: RowCount; readonly src: View; readonly dst: number }
  /** C[i, j] (+)= Σ_r U[r, i] V[r, j] over rows r (the notes' Σ_batch u vᵀ), from transposed operands. */
  | { readonly k: 'outer'; readonly rows: RowCount; readonly u: View; readonly v: View; readonly ut: Transposed | null; readonly vt: Transposed | null; readonly c: MatView; readonly m: Dim; readonly n: Dim; readonly accumulate: boolean; readonly note: string }
  | { readonly k: 'fused'; readonly rows: RowCount; readonly width: readonly Dim[]; readonly stmts: readonly Stmt[]; readonly note: string }
  | { readonly k: 'softmax'; readonly rows: RowCount; readonly n: Dim; readonly src: View; readonly dst: View; readonly note: string }
  /** Σ over features of each row (sum_feat). */
  | { readonly k: 'sumFeat'; readonly rows: RowCount; readonly n: readonly Dim[]; readonly src: View; readonly dst: View; readonly note: string }
  /** Σ over rows (sum_batch; over T·B rows after the loop it is also the sum over time). */
  | { readonly k: 'sumRows'; readonly rows: RowCount; readonly src: View; readonly dst: View; readonly accumulate: boolean; readonly note: string }
  /** Unbatched matrix products and general matrix–vector products (cold paths). */
  | { readonly k: 'matmul'; readonly m: Dim; readonly n: Dim; readonly depth: Dim; readonly a: MatView; readonly aTrans: boolean; readonly b: MatView; readonly bTrans: boolean; readonly c: MatView; readonly accumulate: boolean; readonly note: string }
  | { readonly k: 'matvec'; readonly rows: RowCount; readonly m: Dim; readonly n: Dim; readonly w: MatView; readonly v: View; readonly c: View; readonly note: string }
  /**
   * Products per example (matrices per example), each row by itself, never summed over rows:
   * outer C[r] = u[r] v[r]ᵀ ([m], [n] → [m, n]); matvec C[r] = W[r] v[r] ([m, n], [n] → [m]);
   * vecmat C[r] = u[r]ᵀ W[r] ([m], [m, n] → [n]). An operand that is not batched is shared by every row.
   */
  | { readonly k: 'each'; readonly op: 'outer' | 'matvec' | 'vecmat'; readonly rows: RowCount; readonly m: Dim; readonly n: Dim; readonly a: View; readonly aBatched: boolean; readonly b: View; readonly bBatched: boolean; readonly c: View; readonly note: string }
  /** Copy a run of columns (concat, pad, slice materialised); an unbatched source is repeated on every row. */
  | { readonly k: 'copy'; readonly rows: RowCount; readonly src: View; readonly srcBatched: boolean; readonly dst: View }
  | { readonly k: 'fill'; readonly rows: RowCount; readonly dst: View; readonly size: readonly Dim[]; readonly value: number }
  /**
   * A whole recurrence of the loop as one call over all T steps (scan-kernels.ts): for every
   * row r of T·B (step t = ⌊r / B⌋) and lane i of `width`, forward (r ascending)
   * dst[r, i] = a[r, i] · src[r, i] + b[r, i], where src is dst one step earlier;
   * reverse (r descending) dst[r, i] += a[r, i] · src[r, i] + b[r, i], src one step later.
   * a null: 1; b null: 0. dst and src are views of one buffer, rows `all` with their shifts.
   */
  | { readonly k: 'scan'; readonly reverse: boolean; readonly width: readonly Dim[]; readonly dst: View; readonly src: View; readonly a: ScanOperand | null; readonly b: ScanOperand | null; readonly note: string };

/** A coefficient of a scan kernel: a view (rows `all` at shift 0, or `zero`) and how a lane reads it. */
export interface ScanOperand {
  readonly view: View;
  readonly mode: ReadMode;
}

export interface PassPlan {
  readonly phases: Readonly<Record<Phase, readonly Kernel[]>>;
  /** Readable names of the values the kernels compute (`Gamma_u`, `dW_c`, `delta_3`), by node id. */
  readonly names: Readonly<Record<number, string>>;
  /** Nodes named in the notation (labels, roots), as opposed to names made up for temporaries. */
  readonly named: readonly number[];
  /**
   * A staged pass (lower/scan.ts): earlier stages, each a whole pass over T steps
   * with phases of its own, run in order before this plan's phases. A stage reads
   * what earlier stages computed as complete sequences (mLSTM: m's loop first,
   * then C and n as scans with coefficients from m's whole sequence).
   */
  readonly stages?: readonly PassPlan[];
}

/** How to read one named value of the interface from its buffer after a pass. */
export interface Binding {
  readonly key: string;
  readonly buf: number;
  /** For states: slot 1 on (the initial state is slot 0). */
  readonly shift: number;
}

export interface CellPlan {
  readonly name: string;
  readonly precision: 'f64' | 'f32';
  readonly mode: 'step' | 'unrolled';
  /** Fixed number of steps of an unrolled cell. */
  readonly steps: number;
  readonly dims: readonly string[];
  readonly buffers: readonly BufferDecl[];
  readonly forward: PassPlan;
  readonly backward: PassPlan;
  readonly params: readonly { key: string; buf: number; shape: readonly Dim[] }[];
  readonly inputs: readonly { key: string; buf: number; width: Dim }[];
  /** Initial values: buffer slot 0 of each state; `init` is the declared constant. */
  /** `cols`: a matrix per example, `width` × `cols` numbers per row. */
  readonly states: readonly { key: string; buf: number; width: Dim; init: number; cols?: Dim }[];
  readonly outputs: readonly { key: string; buf: number; shift: number; width: readonly Dim[] }[];
  /**
   * Cotangents. A state's buffer has T+1 slots like the state's own: slot t+1 holds
   * ∂ℒ/∂state^<t+1> as given, and step t adds the carried ∂ℒ/∂state^<t> into slot t,
   * so after the loop slot 0 is the gradient of the initial state.
   */
  readonly cotangents: readonly { key: string; kind: 'state' | 'output'; buf: number; width: readonly Dim[] }[];
  readonly dparams: readonly { key: string; buf: number }[];
  readonly dinputs: readonly { key: string; buf: number }[];
  /** Backward nodes read from the forward's buffers, and the forward node each one is. */
  readonly savedFrom: Readonly<Record<number, number>>;
  /** The states whose recurrence runs as a scan (lower/scan.ts), forward and backward; absent when none does. */
  readonly scans?: {
    readonly forward: readonly string[];
    readonly backward: readonly string[];
    /** The states each stage of a staged pass carries, in order (absent: one stage each). */
    readonly stages?: { readonly forward: readonly (readonly string[])[]; readonly backward: readonly (readonly string[])[] };
  };
  /** The step graphs lowered when they are not the cell's own (a scan rewrites them): node ids above are theirs. */
  readonly graphs?: { readonly forward: Graph; readonly backward: Graph };
}
