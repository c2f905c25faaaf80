// Output heads: what turns the top layer's per-step values into class scores,
// and the loss and log-probabilities those scores mean.
//
// A head is either the cell's own `ŷ^<t>` (the notes' `softmax(W_ya a^<t> + b_y)`)
// or a dense layer the runtime attaches to the readout. Its scores are logits,
// softmax probabilities or sigmoid probabilities, decided by the op that makes ŷ;
// a two-class task uses one score (sigmoid) unless the head is a softmax.

import type { CompiledCell } from '../../../compiler/compile.ts';
import { TrainError } from '../errors.ts';
import { probBinaryCrossEntropy, probCrossEntropy, sigmoidCrossEntropy, softmaxCrossEntropy } from './losses.ts';
import { logSumExp } from '../tensor.ts';

export type ScoreKind = 'logits' | 'softmax' | 'sigmoid';

/** The notes' name for a cell's prediction; a cell that defines it brings its own head. */
export const CELL_HEAD = 'y_hat';

/** How the cell's ŷ^<t> is made: its last op decides what its values mean. */
export function cellHeadKind(cell: CompiledCell): ScoreKind | null {
  const root = cell.forward.roots.find((r) => r.role === 'output' && r.name === CELL_HEAD);
  if (!root) return null;
  const op = cell.forward.nodes[root.id]!.op;
  return op === 'softmax' ? 'softmax' : op === 'sigmoid' ? 'sigmoid' : 'logits';
}

/** Number of scores a head of this kind needs for `classes` classes. */
export function headSize(kind: ScoreKind, classes: number): number {
  if (classes === 2 && kind !== 'softmax') return 1;
  if (classes === 1) throw new TrainError('a task needs at least two classes');
  return classes;
}

/** The training loss of class targets (−1 = masked) under scores of this kind; see losses.ts. */
export function classLoss(scores: ArrayLike<number>, kind: ScoreKind, N: number, C: number, target: Int32Array, grad: Float64Array, scale: number): number {
  if (C === 1) {
    const mask = Uint8Array.from(target, (y) => (y >= 0 ? 1 : 0));
    const y01 = Float64Array.from(target, (y) => (y > 0 ? 1 : 0));
    return kind === 'logits' ? sigmoidCrossEntropy(scores, N, 1, y01, mask, grad, scale) : probBinaryCrossEntropy(scores, N, 1, y01, mask, grad, scale);
  }
  if (kind === 'logits') return softmaxCrossEntropy(scores, N, C, target, grad, scale);
  if (kind === 'softmax') return probCrossEntropy(scores, N, C, target, grad, scale);
  // One sigmoid per class: the one-hot target, class by class.
  const mask = Uint8Array.from(target, (y) => (y >= 0 ? 1 : 0));
  const onehot = new Float64Array(N * C);
  target.forEach((y, n) => { if (y >= 0) onehot[n * C + y] = 1; });
  return probBinaryCrossEntropy(scores, N, C, onehot, mask, grad, scale);
}

/** log p(class) per row, [N × classes]: what decoding, sampling and NLL read. */
export function classLogProbs(scores: ArrayLike<number>, kind: ScoreKind, N: number, C: number): Float64Array {
  const K = C === 1 ? 2 : C;
  const out = new Float64Array(N * K);
  const log = (p: number) => Math.log(Math.max(p, 1e-300));
  for (let n = 0; n < N; n++) {
    if (C === 1) {
      const z = scores[n]!;
      if (kind === 'logits') {
        // log σ(z) = −softplus(−z), log(1−σ(z)) = −softplus(z)
        const sp = (u: number) => Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u)));
        out[n * 2] = -sp(z); out[n * 2 + 1] = -sp(-z);
      } else { out[n * 2] = log(1 - z); out[n * 2 + 1] = log(z); }
      continue;
    }
    const o = n * C;
    if (kind === 'logits') {
      const lse = logSumExp(scores, o, C);
      for (let c = 0; c < C; c++) out[o + c] = scores[o + c]! - lse;
    } else {
      // softmax probabilities are already normalised; per-class sigmoids are renormalised.
      let s = 0;
      for (let c = 0; c < C; c++) s += scores[o + c]!;
      for (let c = 0; c < C; c++) out[o + c] = log(scores[o + c]! / (kind === 'softmax' ? 1 : s));
    }
  }
  return out;
}
