// Running a model over a whole split without gradients, in fixed-size batches
// of examples of similar length (less padding, and decoding batches that finish
// together); the last batch is filled up with repeats, so every backend is built
// for one size. Results come back in the split's order.

import type { Example } from '../data/batch.ts';
import { greedyDecode } from './decode.ts';
import type { Model } from '../model/model.ts';
import type { Table } from '../tensor.ts';
import { argmax } from '../tensor.ts';
import { makeBatch, runBatch } from '../model/topology.ts';

/** Source length (target length for one-to-many): batching by it never looks at what is predicted. */
const lengthOf = (e: Example) => e.x?.length ?? e.y.length;

/** Batches of indices into `items`, shortest examples first; `real` of each are not filler. */
function* batches(items: readonly Example[], size: number): Generator<{ idx: number[]; real: number }> {
  const order = items.map((_, i) => i).sort((a, b) => lengthOf(items[a]!) - lengthOf(items[b]!) || a - b);
  for (let i = 0; i < order.length; i += size) {
    const idx = order.slice(i, i + size);
    const real = idx.length;
    while (idx.length < size && order.length >= size) idx.push(idx[0]!);
    yield { idx, real };
  }
}

/** Mean loss per target token (NLL in nats for the cross-entropies). */
export function meanLoss(model: Model, params: Table, examples: readonly Example[], batch: number): number {
  let loss = 0, count = 0;
  const K = model.head.size === 1 ? 2 : model.head.size;
  for (const { idx, real } of batches(examples, batch)) {
    const b = makeBatch(model, idx.map((i) => examples[i]!));
    const r = runBatch(model, params, b, null, { logProbs: real < idx.length });
    if (real === idx.length) { loss += r.loss; count += r.count; continue; }
    // Only the real examples count: their share, from the log-probabilities.
    const rows = b.target.length / b.B;
    for (let t = 0; t < rows; t++) for (let i = 0; i < real; i++) {
      const y = b.target[t * b.B + i]!;
      if (y >= 0) { loss -= r.logProbs![(t * b.B + i) * K + y]!; count++; }
    }
  }
  return loss / Math.max(1, count);
}

/** The likeliest class of every target row: one per example (many-to-one) or per token (many-to-many). */
export function predictClasses(model: Model, params: Table, examples: readonly Example[], batch: number): Int32Array[] {
  const out: Int32Array[] = new Array(examples.length);
  const K = model.head.size === 1 ? 2 : model.head.size;
  for (const { idx, real } of batches(examples, batch)) {
    const b = makeBatch(model, idx.map((i) => examples[i]!));
    const lp = runBatch(model, params, b, null, { logProbs: true }).logProbs!;
    for (let j = 0; j < real; j++) {
      const e = examples[idx[j]!]!;
      out[idx[j]!] = model.spec.topology === 'many-to-one'
        ? Int32Array.of(argmax(lp, j * K, K))
        : Int32Array.from({ length: e.x!.length }, (_, t) => argmax(lp, (t * b.B + j) * K, K));
    }
  }
  return out;
}

/** Encoder–decoder: greedy outputs for every example's source. */
export function decodeAll(model: Model, params: Table, examples: readonly Example[], batch: number, maxLen: number, eos: number): Int32Array[] {
  const out: Int32Array[] = new Array(examples.length);
  for (const { idx, real } of batches(examples, batch)) {
    const dec = greedyDecode(model, params, idx.map((i) => examples[i]!.x!), maxLen, eos);
    for (let j = 0; j < real; j++) out[idx[j]!] = dec[j]!;
  }
  return out;
}
