// Plain numeric helpers for the pieces the runtime adds around a cell: named
// float64 tensors, dense layers, global norms. Loops over Float64Array, nothing
// clever — the cell backends do the heavy lifting.

import type { Vec } from '../backend.ts';

/** A named parameter, gradient or optimizer moment: row-major data and its shape. */
export interface Tensor64 {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** Name → tensor, in a fixed (insertion) order: the order of checkpoints and of every sum. */
export type Table = Map<string, Tensor64>;

export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function zerosLike(t: Table): Table {
  return new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: new Float64Array(v.data.length) }]));
}

export function cloneTable(t: Table): Table {
  return new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data) }]));
}

/** Add `src` into `dst` element by element. */
export function addInto(dst: Float64Array, src: Vec, scale = 1): void {
  for (let i = 0; i < dst.length; i++) dst[i] += scale * src[i]!;
}

/** The first element that is NaN or ±Inf, by table order; null if all are finite. */
export function firstNonFinite(t: Table): { name: string; index: number[]; value: number } | null {
  for (const [name, v] of t) {
    for (let i = 0; i < v.data.length; i++) {
      const x = v.data[i]!;
      if (!Number.isFinite(x)) return { name, index: unflatIndex(i, v.shape), value: x };
    }
  }
  return null;
}

export function unflatIndex(i: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return out;
}

/** √(Σ over all tensors of Σ x²), summed in table order so it is reproducible. */
export function globalNorm(t: Table): number {
  let s = 0;
  for (const v of t.values()) for (let i = 0; i < v.data.length; i++) s += v.data[i]! * v.data[i]!;
  return Math.sqrt(s);
}

/** y[N×O] = x[N×I] · Wᵀ + b, with W stored as rows [O×I] (as the cells store theirs). */
export function dense(W: Float64Array, b: Float64Array | null, x: Vec, N: number, I: number, O: number): Float64Array {
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      const wo = o * I;
      for (let i = 0; i < I; i++) s += W[wo + i]! * x[xo + i]!;
      y[n * O + o] = s;
    }
  }
  return y;
}

/** The VJP of `dense`: accumulates dW += dyᵀx, db += Σ dy, and returns dx = dy · W. */
export function denseBackward(W: Float64Array, x: Vec, dy: Float64Array, N: number, I: number, O: number, dW: Float64Array, db: Float64Array | null): Float64Array {
  const dx = new Float64Array(N * I);
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    for (let o = 0; o < O; o++) {
      const g = dy[n * O + o]!;
      if (g === 0) continue;
      if (db) db[o] += g;
      const wo = o * I;
      for (let i = 0; i < I; i++) {
        dW[wo + i] += g * x[xo + i]!;
        dx[xo + i] += g * W[wo + i]!;
      }
    }
  }
  return dx;
}

/** Index of the largest of n values at `off`. */
export function argmax(v: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[off + i]! > v[off + best]!) best = i;
  return best;
}

/** log Σ exp over n values at `off`, stably. */
export function logSumExp(v: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, v[off + i]!);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(v[off + i]! - m);
  return m + Math.log(s);
}
