// Layers stacked over a batch of variable-length sequences, time-major
// [T][B][n], each example b valid for its first lengths[b] steps. A block is one
// cell reading forward, or the bidirectional wrapper: one cell forward, another
// over each sequence reversed within its own length, outputs concatenated.
// Padding rows are computed but masked out by every loss, and never reach the
// valid rows: forward in time they come after them, and the reversal keeps them last.

import type { Vec } from '../../backend.ts';
import { TrainError } from '../errors.ts';
import type { CellLayer, ScanResult } from './layer.ts';
import type { Table } from '../tensor.ts';
import { byName, entry } from '../../backend.ts';

export type Block =
  | { readonly kind: 'uni'; readonly layer: CellLayer }
  | { readonly kind: 'bi'; readonly fwd: CellLayer; readonly bwd: CellLayer };

export interface StackRun {
  readonly T: number;
  readonly B: number;
  readonly lengths: Int32Array;
  readonly scans: readonly (readonly ScanResult[])[];
  /** The top block's output, [T][B][outSize]. */
  readonly top: Vec;
  /** The top cell's own ŷ, [T][B][C], when it is the head. */
  readonly head: Vec | null;
}

/** Per example, the first lengths[b] steps in reverse order; padding rows stay put. Its own inverse and VJP. */
export function reverseWithin(x: ArrayLike<number>, T: number, B: number, n: number, lengths: Int32Array): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  for (let b = 0; b < B; b++) {
    const L = lengths[b]!;
    for (let t = 0; t < L; t++) {
      const src = ((L - 1 - t) * B + b) * n, dst = (t * B + b) * n;
      for (let k = 0; k < n; k++) out[dst + k] = x[src + k]!;
    }
  }
  return out;
}

/** Row (rowOf(b), b) of each example, [B][n]. */
export function gatherRows(x: ArrayLike<number>, B: number, n: number, rowOf: (b: number) => number, col = 0, width = n): Float64Array {
  const out = new Float64Array(B * width);
  for (let b = 0; b < B; b++) {
    const o = (rowOf(b) * B + b) * n + col;
    for (let k = 0; k < width; k++) out[b * width + k] = x[o + k]!;
  }
  return out;
}

/** The VJP of gatherRows: adds g [B][width] into dx [T][B][n]. */
export function scatterRows(dx: Float64Array, g: ArrayLike<number>, B: number, n: number, rowOf: (b: number) => number, col = 0, width = n): void {
  for (let b = 0; b < B; b++) {
    const o = (rowOf(b) * B + b) * n + col;
    for (let k = 0; k < width; k++) dx[o + k] += g[b * width + k]!;
  }
}

function concatFeatures(a: Vec, na: number, b: Vec, nb: number, rows: number): Float64Array {
  const out = new Float64Array(rows * (na + nb));
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < na; k++) out[r * (na + nb) + k] = a[r * na + k]!;
    for (let k = 0; k < nb; k++) out[r * (na + nb) + na + k] = b[r * nb + k]!;
  }
  return out;
}

function splitFeatures(x: ArrayLike<number>, na: number, nb: number, rows: number): [Float64Array, Float64Array] {
  const a = new Float64Array(rows * na), b = new Float64Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < na; k++) a[r * na + k] = x[r * (na + nb) + k]!;
    for (let k = 0; k < nb; k++) b[r * nb + k] = x[r * (na + nb) + na + k]!;
  }
  return [a, b];
}

const lastRow = (lengths: Int32Array) => (b: number) => lengths[b]! - 1;

export class Stack {
  constructor(readonly blocks: readonly Block[]) {
    if (blocks.length === 0) throw new TrainError('a model needs at least one layer');
  }

  static outSizeOf(block: Block): number {
    return block.kind === 'uni' ? block.layer.plan.readout.size : block.fwd.plan.readout.size + block.bwd.plan.readout.size;
  }
  get outSize(): number { return Stack.outSizeOf(this.blocks[this.blocks.length - 1]!); }
  get top(): Block { return this.blocks[this.blocks.length - 1]!; }
  get isBidirectional(): boolean { return this.blocks.some((b) => b.kind === 'bi'); }

  forward(params: Table, x: Vec, T: number, B: number, lengths: Int32Array, init?: readonly (Readonly<Record<string, Vec>> | undefined)[]): StackRun {
    const scans: ScanResult[][] = [];
    let h: Vec = x;
    let head: Vec | null = null;
    this.blocks.forEach((block, i) => {
      if (block.kind === 'uni') {
        const s = block.layer.scan(params, h, T, B, init?.[i]);
        scans.push([s]);
        h = s.readout;
        head = s.head;
      } else {
        if (init?.[i]) throw new TrainError('a bidirectional layer cannot start from a carried state');
        const n = block.fwd.plan.input.size;
        const f = block.fwd.scan(params, h, T, B);
        const b = block.bwd.scan(params, reverseWithin(h, T, B, n, lengths), T, B);
        scans.push([f, b]);
        const nb = block.bwd.plan.readout.size;
        h = concatFeatures(f.readout, block.fwd.plan.readout.size, reverseWithin(b.readout, T, B, nb, lengths), nb, T * B);
        head = null;
      }
    });
    return { T, B, lengths, scans, top: h, head };
  }

  /** Every state of every (unidirectional) block at each example's last valid step (or at row `at`), [B][n], copied. */
  finals(run: StackRun, at?: number): Record<string, Float64Array>[] {
    const rowOf = at === undefined ? lastRow(run.lengths) : () => at;
    return this.blocks.map((block, i) => {
      if (block.kind !== 'uni') throw new TrainError('the final state of a bidirectional layer is not defined; use a unidirectional encoder');
      const s = run.scans[i]![0]!;
      return byName(block.layer.plan.states.map((st) => [st.name, gatherRows(entry(s.states, st.name)!, run.B, st.size, rowOf)]));
    });
  }

  /** The many-to-one summary of the top output, [B][outSize]: forward half at the last step, backward half at the first. */
  summary(run: StackRun): Float64Array {
    const top = this.top, F = this.outSize;
    if (top.kind === 'uni') return gatherRows(run.top, run.B, F, lastRow(run.lengths));
    const nf = top.fwd.plan.readout.size;
    const out = new Float64Array(run.B * F);
    const f = gatherRows(run.top, run.B, F, lastRow(run.lengths), 0, nf), b = gatherRows(run.top, run.B, F, () => 0, nf, F - nf);
    for (let i = 0; i < run.B; i++) { out.set(f.subarray(i * nf, (i + 1) * nf), i * F); out.set(b.subarray(i * (F - nf), (i + 1) * (F - nf)), i * F + nf); }
    return out;
  }

  /** The VJP of `summary`: the cotangent of the top output, [T][B][outSize]. */
  summaryBackward(run: StackRun, g: Float64Array): Float64Array {
    const top = this.top, F = this.outSize;
    const d = new Float64Array(run.T * run.B * F);
    if (top.kind === 'uni') { scatterRows(d, g, run.B, F, lastRow(run.lengths)); return d; }
    const nf = top.fwd.plan.readout.size;
    const [gf, gb] = splitFeatures(g, nf, F - nf, run.B);
    scatterRows(d, gf, run.B, F, lastRow(run.lengths), 0, nf);
    scatterRows(d, gb, run.B, F, () => 0, nf, F - nf);
    return d;
  }

  /** Cotangents of the finals as full [T][B][n] state cotangents of one block. */
  private finalCotangents(run: StackRun, i: number, g: Readonly<Record<string, Float64Array>>): Record<string, Float64Array> {
    const block = this.blocks[i]!;
    if (block.kind !== 'uni') throw new TrainError('the final state of a bidirectional layer is not defined');
    const out: Record<string, Float64Array> = byName();
    for (const st of block.layer.plan.states) {
      const gs = entry(g, st.name);
      if (!gs) continue;
      const d = new Float64Array(run.T * run.B * st.size);
      scatterRows(d, gs, run.B, st.size, lastRow(run.lengths));
      out[st.name] = d;
    }
    return out;
  }

  /**
   * The VJP of `forward`: cotangents of the top output, of the cell's ŷ, and of
   * each block's final states; adds parameter gradients into `grads`, returns
   * ∂/∂init of each block, and ∂/∂x when `inputs` asks for it (an embedding reads
   * it; a one-hot code does not: then the first block is asked for none, and dx is
   * null). Every block above the first is asked: the block below reads its ∂x.
   */
  backward(run: StackRun, cot: { top?: Float64Array | null; head?: Float64Array | null; finals?: readonly (Readonly<Record<string, Float64Array>> | undefined)[] }, grads: Table, inputs = true): { dx: Float64Array | null; dInit: Readonly<Record<string, Vec>>[] } {
    const { T, B, lengths } = run;
    let dh: Float64Array | null = cot.top ?? null;
    let dHead = cot.head ?? null;
    const dInit: Readonly<Record<string, Vec>>[] = new Array(this.blocks.length).fill({});
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const block = this.blocks[i]!;
      const want = i > 0 || inputs;
      if (block.kind === 'uni') {
        const finals = cot.finals?.[i];
        const r = block.layer.backward(B, { readout: dh, head: dHead, states: finals ? this.finalCotangents(run, i, finals) : undefined }, grads, want);
        dh = r.dx && Float64Array.from(r.dx);
        dInit[i] = r.dInit;
      } else {
        const nf = block.fwd.plan.readout.size, nb = block.bwd.plan.readout.size, n = block.fwd.plan.input.size;
        const [df, dbRev] = dh ? splitFeatures(dh, nf, nb, T * B) : [null, null];
        const rf = block.fwd.backward(B, { readout: df }, grads, want);
        const rb = block.bwd.backward(B, { readout: dbRev ? reverseWithin(dbRev, T, B, nb, lengths) : null }, grads, want);
        dh = null;
        if (rf.dx && rb.dx) {
          const dx = Float64Array.from(rf.dx);
          const back = reverseWithin(rb.dx, T, B, n, lengths);
          for (let k = 0; k < dx.length; k++) dx[k] += back[k]!;
          dh = dx;
        }
      }
      dHead = null;
    }
    return { dx: dh, dInit };
  }
}
