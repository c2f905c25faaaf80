// Losses in their stable forms, each returning the summed loss over the rows it
// counts and writing scale · ∂loss/∂input into `grad` (scale = 1/count for a mean).
// Rows are examples or time steps; an Int32 target of -1 marks a masked row
// (padding), which adds neither loss nor gradient.

import { logSumExp } from '../tensor.ts';

/** −log softmax(z)[y] = logΣexp(z) − z_y; gradient softmax(z) − onehot(y). */
export function softmaxCrossEntropy(logits: ArrayLike<number>, N: number, C: number, target: Int32Array, grad: Float64Array, scale: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const y = target[n]!;
    if (y < 0) continue;
    const o = n * C;
    const lse = logSumExp(logits, o, C);
    loss += lse - logits[o + y]!;
    for (let c = 0; c < C; c++) grad[o + c] += scale * (Math.exp(logits[o + c]! - lse) - (c === y ? 1 : 0));
  }
  return loss;
}

/**
 * −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − z·y + log(1 + e^−|z|), which
 * never overflows; gradient σ(z) − y. Targets in [0, 1]; `mask[n] = 0` skips row n.
 */
export function sigmoidCrossEntropy(logits: ArrayLike<number>, N: number, C: number, target: ArrayLike<number>, mask: Uint8Array | null, grad: Float64Array, scale: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    if (mask && !mask[n]) continue;
    for (let c = 0; c < C; c++) {
      const i = n * C + c, z = logits[i]!, y = target[i]!;
      loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      const s = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
      grad[i] += scale * (s - y);
    }
  }
  return loss;
}

/** Σ (p − y)² over the row's C values; gradient 2(p − y). */
export function meanSquaredError(pred: ArrayLike<number>, N: number, C: number, target: ArrayLike<number>, mask: Uint8Array | null, grad: Float64Array, scale: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    if (mask && !mask[n]) continue;
    for (let c = 0; c < C; c++) {
      const i = n * C + c, d = pred[i]! - target[i]!;
      loss += d * d;
      grad[i] += scale * 2 * d;
    }
  }
  return loss;
}

/**
 * The smallest probability a loss takes the log of. A cell's own softmax or
 * sigmoid head hands over probabilities, not logits, so −log p must be guarded;
 * below this the loss is flat (gradient 0) rather than infinite.
 */
export const PROB_FLOOR = 1e-12;

/** −log p_y for probabilities p (a cell's own softmax head); gradient −1/p_y at y. */
export function probCrossEntropy(probs: ArrayLike<number>, N: number, C: number, target: Int32Array, grad: Float64Array, scale: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const y = target[n]!;
    if (y < 0) continue;
    const p = probs[n * C + y]!;
    if (p > PROB_FLOOR) { loss -= Math.log(p); grad[n * C + y] += -scale / p; } else loss -= Math.log(PROB_FLOOR);
  }
  return loss;
}

/** −[y log p + (1−y) log(1−p)] for probabilities p (a cell's own sigmoid head), guarded the same way. */
export function probBinaryCrossEntropy(probs: ArrayLike<number>, N: number, C: number, target: ArrayLike<number>, mask: Uint8Array | null, grad: Float64Array, scale: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    if (mask && !mask[n]) continue;
    for (let c = 0; c < C; c++) {
      const i = n * C + c, p = probs[i]!, y = target[i]!;
      const p1 = Math.max(p, PROB_FLOOR), p0 = Math.max(1 - p, PROB_FLOOR);
      loss -= y * Math.log(p1) + (1 - y) * Math.log(p0);
      grad[i] += scale * ((p > PROB_FLOOR ? -y / p : 0) + (1 - p > PROB_FLOOR ? (1 - y) / (1 - p) : 0));
    }
  }
  return loss;
}
