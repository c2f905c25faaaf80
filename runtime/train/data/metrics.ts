// Task metrics: accuracy, per-class and macro F1, edit-distance error rates,
// and the n-gram baseline that a character model must beat.

import { distance } from 'fastest-levenshtein';

export function accuracy(pred: readonly ArrayLike<number>[], gold: readonly ArrayLike<number>[]): number {
  let ok = 0;
  pred.forEach((p, i) => { if (p[0] === gold[i]![0]) ok++; });
  return ok / Math.max(1, pred.length);
}

/** The accuracy of always answering the most frequent training label. */
export function majorityAccuracy(trainLabels: readonly number[], evalLabels: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const y of trainLabels) counts.set(y, (counts.get(y) ?? 0) + 1);
  const major = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  return evalLabels.filter((y) => y === major).length / Math.max(1, evalLabels.length);
}

/** F1 of each class over all tokens (predicted vs gold); a class never predicted nor present scores 1. */
export function f1PerClass(pred: readonly ArrayLike<number>[], gold: readonly ArrayLike<number>[], classes: readonly number[]): Map<number, number> {
  const tp = new Map<number, number>(), fp = new Map<number, number>(), fn = new Map<number, number>();
  const inc = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  pred.forEach((p, i) => {
    const g = gold[i]!;
    for (let t = 0; t < g.length; t++) {
      if (p[t] === g[t]) inc(tp, g[t]!);
      else { inc(fp, p[t]!); inc(fn, g[t]!); }
    }
  });
  return new Map(classes.map((c) => {
    const a = tp.get(c) ?? 0, b = fp.get(c) ?? 0, d = fn.get(c) ?? 0;
    return [c, a + b + d === 0 ? 1 : (2 * a) / (2 * a + b + d)];
  }));
}

/** Token sequences → strings of code points, so edit distance works on tokens. */
const asText = (s: ArrayLike<number>) => String.fromCodePoint(...Array.from(s, (x) => 0x100 + x));

/** Σ edit distance / Σ reference length (phoneme error rate), and the share of sequences with any error. */
export function errorRates(pred: readonly ArrayLike<number>[], gold: readonly ArrayLike<number>[]): { per: number; wer: number } {
  let edits = 0, total = 0, wrong = 0;
  pred.forEach((p, i) => {
    const d = distance(asText(p), asText(gold[i]!));
    edits += d;
    total += gold[i]!.length;
    if (d > 0) wrong++;
  });
  return { per: edits / Math.max(1, total), wer: wrong / Math.max(1, pred.length) };
}

/**
 * Bigram NLL in nats per token: P(c | previous) from counts on `train` with
 * add-α smoothing (the previous of the first token is a start symbol), measured
 * on `evalSeqs`. Sequences include their end token, as the model's do.
 */
export function bigramNll(train: readonly ArrayLike<number>[], evalSeqs: readonly ArrayLike<number>[], classes: number, alpha = 0.1): number {
  const start = classes;
  const counts = new Float64Array((classes + 1) * classes), totals = new Float64Array(classes + 1);
  for (const s of train) {
    let prev = start;
    for (let t = 0; t < s.length; t++) { counts[prev * classes + s[t]!]++; totals[prev]++; prev = s[t]!; }
  }
  let nll = 0, n = 0;
  for (const s of evalSeqs) {
    let prev = start;
    for (let t = 0; t < s.length; t++) {
      nll -= Math.log((counts[prev * classes + s[t]!]! + alpha) / (totals[prev]! + alpha * classes));
      n++;
      prev = s[t]!;
    }
  }
  return nll / Math.max(1, n);
}
