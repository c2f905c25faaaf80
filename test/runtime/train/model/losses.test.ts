// The losses: values against their textbook formulas, gradients against finite
// differences, and stability where the naive formulas overflow.

import { describe, expect, it } from 'vitest';
import { classLogProbs, classLoss } from '../../../../runtime/train/model/heads.ts';
import { meanSquaredError, probBinaryCrossEntropy, probCrossEntropy, sigmoidCrossEntropy, softmaxCrossEntropy } from '../../../../runtime/train/model/losses.ts';

/** Central differences of f at x, one coordinate at a time. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  return Float64Array.from(x, (_, i) => {
    const up = Float64Array.from(x); up[i] += eps;
    const down = Float64Array.from(x); down[i] -= eps;
    return (f(up) - f(down)) / (2 * eps);
  });
}

const z = Float64Array.of(0.3, -1.2, 2.0, 0.1, 0.5, -0.7); // 2 rows × 3

describe('softmax cross-entropy from logits', () => {
  it('is −log softmax(z)[y], with gradient softmax − onehot', () => {
    const grad = new Float64Array(6);
    const loss = softmaxCrossEntropy(z, 2, 3, Int32Array.of(2, 0), grad, 1);
    const naive = (r: number[], y: number) => -Math.log(Math.exp(r[y]!) / r.reduce((s, v) => s + Math.exp(v), 0));
    expect(loss).toBeCloseTo(naive([0.3, -1.2, 2.0], 2) + naive([0.1, 0.5, -0.7], 0), 12);
    const fd = numericGrad((x) => softmaxCrossEntropy(x, 2, 3, Int32Array.of(2, 0), new Float64Array(6), 1), z);
    grad.forEach((g, i) => expect(g).toBeCloseTo(fd[i]!, 8));
  });

  it('stays finite for logits of ±1000 and skips masked rows', () => {
    const grad = new Float64Array(6);
    const loss = softmaxCrossEntropy(Float64Array.of(1000, -1000, 0, 5, 5, 5), 2, 3, Int32Array.of(1, -1), grad, 1);
    expect(loss).toBeCloseTo(2000, 9);
    expect([...grad.subarray(0, 3)].map((g) => Math.round(g))).toEqual([1, -1, 0]);
    expect([...grad.subarray(3)]).toEqual([0, 0, 0]);
  });
});

describe('sigmoid cross-entropy from logits', () => {
  it('matches −[y log σ + (1−y) log(1−σ)] and its gradient σ − y', () => {
    const y = Float64Array.of(1, 0, 0.25, 1, 0, 1);
    const grad = new Float64Array(6);
    const loss = sigmoidCrossEntropy(z, 2, 3, y, null, grad, 1);
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    expect(loss).toBeCloseTo([...z].reduce((acc, v, i) => acc - (y[i]! * Math.log(s(v)) + (1 - y[i]!) * Math.log(1 - s(v))), 0), 12);
    const fd = numericGrad((x) => sigmoidCrossEntropy(x, 2, 3, y, null, new Float64Array(6), 1), z);
    grad.forEach((g, i) => expect(g).toBeCloseTo(fd[i]!, 8));
  });

  it('stays finite at ±1000', () => {
    const grad = new Float64Array(2);
    const loss = sigmoidCrossEntropy(Float64Array.of(1000, -1000), 1, 2, Float64Array.of(0, 1), null, grad, 1);
    expect(loss).toBeCloseTo(2000, 9);
    expect([...grad]).toEqual([1, -1]);
  });
});

describe('mean squared error and the probability losses of a cell’s own head', () => {
  it('MSE is Σ(p − y)² with gradient 2(p − y); masked rows count for nothing', () => {
    const y = Float64Array.of(0, 0, 0, 1, 1, 1);
    const grad = new Float64Array(6);
    const loss = meanSquaredError(z, 2, 3, y, Uint8Array.of(1, 0), grad, 0.5);
    expect(loss).toBeCloseTo(0.09 + 1.44 + 4, 12);
    expect([...grad]).toEqual([0.3, -1.2, 2.0, 0, 0, 0].map((v) => v));
  });

  it('−log p and binary cross-entropy on probabilities have the right gradients', () => {
    const p = Float64Array.of(0.2, 0.5, 0.3, 0.6, 0.3, 0.1);
    const fdCE = numericGrad((x) => probCrossEntropy(x, 2, 3, Int32Array.of(1, 0), new Float64Array(6), 1), p);
    const g = new Float64Array(6);
    expect(probCrossEntropy(p, 2, 3, Int32Array.of(1, 0), g, 1)).toBeCloseTo(-Math.log(0.5) - Math.log(0.6), 12);
    g.forEach((v, i) => expect(v).toBeCloseTo(fdCE[i]!, 6));
    const y = Float64Array.of(0, 1, 0, 1, 0, 0);
    const fdB = numericGrad((x) => probBinaryCrossEntropy(x, 2, 3, y, null, new Float64Array(6), 1), p);
    const gb = new Float64Array(6);
    probBinaryCrossEntropy(p, 2, 3, y, null, gb, 1);
    gb.forEach((v, i) => expect(v).toBeCloseTo(fdB[i]!, 6));
  });

  it('a probability of 0 gives a large finite loss, not Infinity', () => {
    const g = new Float64Array(2);
    const loss = probCrossEntropy(Float64Array.of(0, 1), 1, 2, Int32Array.of(0), g, 1);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeGreaterThan(27);
  });
});

describe('class losses by head kind', () => {
  it('two classes on one logit are a sigmoid; the log-probabilities sum to one', () => {
    const g = new Float64Array(2);
    const loss = classLoss(Float64Array.of(0.7, -2), 'logits', 2, 1, Int32Array.of(1, 0), g, 1);
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    expect(loss).toBeCloseTo(-Math.log(s(0.7)) - Math.log(1 - s(-2)), 12);
    const lp = classLogProbs(Float64Array.of(0.7, -2), 'logits', 2, 1);
    expect(Math.exp(lp[0]!) + Math.exp(lp[1]!)).toBeCloseTo(1, 12);
    expect(lp[1]).toBeCloseTo(Math.log(s(0.7)), 12);
  });
});
