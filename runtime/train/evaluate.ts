// Running a model over a whole split without gradients, in fixed-size batches
// (the last one filled up with repeats, so every backend is built for one size).

import type { Example } from './batch.ts';
import { greedyDecode } from './decode.ts';
import type { Model } from './model.ts';
import type { Table } from './tensor.ts';
import { argmax } from './tensor.ts';
import { makeBatch, runBatch } from './topology.ts';

function* chunks<T>(items: readonly T[], size: number): Generator<{ part: T[]; real: number }> {
  for (let i = 0; i < items.length; i += size) {
    const part = items.slice(i, i + size);
    const real = part.length;
    while (part.length < size && items.length >= size) part.push(items[i]!);
    yield { part, real };
  }
}

/** Mean loss per target token (NLL in nats for the cross-entropies). */
export function meanLoss(model: Model, params: Table, examples: readonly Example[], batch: number): number {
  let loss = 0, count = 0;
  for (const { part, real } of chunks(examples, batch)) {
    const b = makeBatch(model, part);
    const r = runBatch(model, params, b, null, { logProbs: real < part.length });
    if (real === part.length) { loss += r.loss; count += r.count; continue; }
    // Only the real examples count: recompute their share from the log-probabilities.
    const K = model.head.size === 1 ? 2 : model.head.size;
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
  const out: Int32Array[] = [];
  const K = model.head.size === 1 ? 2 : model.head.size;
  for (const { part, real } of chunks(examples, batch)) {
    const b = makeBatch(model, part);
    const r = runBatch(model, params, b, null, { logProbs: true });
    const lp = r.logProbs!;
    for (let i = 0; i < real; i++) {
      if (model.spec.topology === 'many-to-one') out.push(Int32Array.of(argmax(lp, i * K, K)));
      else {
        const L = part[i]!.x!.length;
        out.push(Int32Array.from({ length: L }, (_, t) => argmax(lp, (t * b.B + i) * K, K)));
      }
    }
  }
  return out;
}

/** Encoder–decoder: greedy outputs for every example's source. */
export function decodeAll(model: Model, params: Table, examples: readonly Example[], batch: number, maxLen: number, eos: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (const { part, real } of chunks(examples, batch)) out.push(...greedyDecode(model, params, part.map((e) => e.x!), maxLen, eos).slice(0, real));
  return out;
}
