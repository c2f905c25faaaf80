// Discrete inputs → vectors: a learned embedding table (with its gradient) or a
// fixed one-hot code. Token −1 is ∅, the notes' empty input x^<1> = ∅ of the
// one-to-many topology and the padding of shorter sequences: a zero vector.

import type { Table } from '../tensor.ts';

export interface InputCode {
  /** Width of the vectors it makes (the cell's n_x). */
  readonly size: number;
  /** Name of its parameter in the table, or null for one-hot. */
  readonly param: string | null;
  encode(params: Table, ids: Int32Array): Float64Array;
  /** Accumulate the gradient of the table from the gradient of the vectors. */
  backward(ids: Int32Array, dOut: ArrayLike<number>, grads: Table): void;
}

export function embedding(param: string, vocab: number, size: number): InputCode {
  return {
    size, param,
    encode(params, ids) {
      const E = params.get(param)!.data;
      const out = new Float64Array(ids.length * size);
      ids.forEach((id, n) => { if (id >= 0) out.set(E.subarray(id * size, (id + 1) * size), n * size); });
      return out;
    },
    backward(ids, dOut, grads) {
      const g = grads.get(param)!.data;
      ids.forEach((id, n) => {
        if (id < 0) return;
        for (let k = 0; k < size; k++) g[id * size + k] += dOut[n * size + k]!;
      });
    },
  };
}

export function oneHot(vocab: number): InputCode {
  return {
    size: vocab, param: null,
    encode(_params, ids) {
      const out = new Float64Array(ids.length * vocab);
      ids.forEach((id, n) => { if (id >= 0) out[n * vocab + id] = 1; });
      return out;
    },
    backward() {},
  };
}

/** Embedding table shape for a vocabulary. */
export const embeddingShape = (vocab: number, size: number) => [vocab, size] as const;
