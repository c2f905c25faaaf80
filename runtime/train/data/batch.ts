// Examples → padded, time-major batches. Token −1 is padding (and ∅): a zero
// input vector and a masked target.

export interface Example {
  /** Source tokens (many-to-many, many-to-one, encoder–decoder). */
  readonly x?: Int32Array;
  /** Targets: one per source token (many-to-many), one label (many-to-one), or a sequence ending in EOS. */
  readonly y: Int32Array;
}

export interface Padded {
  readonly T: number;
  readonly B: number;
  /** [T][B], −1 after each sequence's end. */
  readonly ids: Int32Array;
  readonly lengths: Int32Array;
}

export function pad(seqs: readonly ArrayLike<number>[], minT = 1): Padded {
  const B = seqs.length;
  const T = Math.max(minT, ...seqs.map((s) => s.length));
  const ids = new Int32Array(T * B).fill(-1);
  seqs.forEach((s, b) => { for (let t = 0; t < s.length; t++) ids[t * B + b] = s[t]!; });
  return { T, B, ids, lengths: Int32Array.from(seqs, (s) => s.length) };
}

/** Teacher forcing: the decoder reads ∅ then the true previous tokens, and predicts each token. */
export function shiftRight(y: readonly Int32Array[]): { input: Padded; target: Padded } {
  const target = pad(y);
  const input = pad(y.map((s) => Int32Array.from({ length: s.length }, (_, t) => (t === 0 ? -1 : s[t - 1]!))));
  return { input, target };
}

/** Rows t0 ≤ t < t1 of a padded batch (truncated BPTT chunks). */
export function timeSlice(p: Padded, t0: number, t1: number): Padded {
  return {
    T: t1 - t0, B: p.B,
    ids: p.ids.slice(t0 * p.B, t1 * p.B),
    lengths: Int32Array.from(p.lengths, (L) => Math.max(0, Math.min(L, t1) - t0)),
  };
}
