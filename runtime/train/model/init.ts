// Initialisers: Glorot (Xavier) uniform and orthogonal for matrices, zeros for
// biases, and the forget-gate bias option. One seeded Rng makes them reproducible.

import type { Rng } from '../../random.ts';
import { sizeOf } from '../tensor.ts';

export type InitKind = 'glorot' | 'orthogonal';
export const INIT_KINDS: readonly InitKind[] = ['glorot', 'orthogonal'];

/** U(−√(6/(fan_in+fan_out)), +…): keeps activations' variance steady in both directions. */
export function glorot(rows: number, cols: number, rng: Rng): Float64Array {
  const r = Math.sqrt(6 / (rows + cols));
  return Float64Array.from({ length: rows * cols }, () => rng.uniform(-r, r));
}

/**
 * A matrix with orthonormal rows (rows ≤ cols) or columns (rows > cols): Gram–Schmidt
 * on a Gaussian matrix, with the sign fix that makes it uniform (Saxe et al. 2014).
 */
export function orthogonal(rows: number, cols: number, rng: Rng): Float64Array {
  const n = Math.min(rows, cols), m = Math.max(rows, cols);
  // n vectors of length m, orthonormalised in turn.
  const q = Array.from({ length: n }, () => Float64Array.from({ length: m }, () => rng.normal()));
  for (let i = 0; i < n; i++) {
    const v = q[i]!;
    for (let j = 0; j < i; j++) {
      const u = q[j]!;
      let d = 0;
      for (let k = 0; k < m; k++) d += u[k]! * v[k]!;
      for (let k = 0; k < m; k++) v[k] -= d * u[k]!;
    }
    let norm = 0;
    for (let k = 0; k < m; k++) norm += v[k]! * v[k]!;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < m; k++) v[k] /= norm;
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = rows <= cols ? q[r]![c]! : q[c]![r]!;
  return out;
}

/** Is this parameter a bias? The notes name them b_…; they start at zero. */
export const isBias = (name: string) => /^b(_|$)/.test(name);

/** The notes' forget gate Γ_f uses b_f: `--forget-bias` sets it (1 is the usual choice). */
export const isForgetBias = (name: string) => name === 'b_f';

/**
 * A fresh value for a cell parameter of the given numeric shape: matrices by
 * `kind`, biases zero (b_f = forgetBias), other vectors and scalars small uniform.
 */
export function initParam(name: string, shape: readonly number[], kind: InitKind, rng: Rng, forgetBias = 0): Float64Array {
  if (shape.length === 2) return kind === 'orthogonal' ? orthogonal(shape[0]!, shape[1]!, rng) : glorot(shape[0]!, shape[1]!, rng);
  const n = sizeOf(shape);
  if (isForgetBias(name)) return new Float64Array(n).fill(forgetBias);
  if (isBias(name)) return new Float64Array(n);
  return Float64Array.from({ length: n }, () => rng.uniform(-0.1, 0.1));
}
