// The zoo's files (examples/zoo/) and the ones waiting for notation from other
// branches, shared by test/examples/zoo.test.ts and the printing tests.
import { readdirSync, readFileSync } from 'node:fs';

export const ZOO_DIR = new URL('../../examples/zoo/', import.meta.url);

/**
 * Zoo cells that need notation from the branches `shapes`, `matrix` and
 * `notation` (issue 13 items 3–8). REMOVE A FILE FROM THIS SET once it compiles:
 * test/examples/zoo.test.ts fails until then, and runs every check on it after.
 */
export const AWAITING_NOTATION: ReadonlySet<string> = new Set([
  'intersection-rnn.celda', // superscript labels W^{yx}, y^{in}, g^{y}
  'ugrnn.celda', // superscript labels W^{cx}
  'mingru.celda', // a user function g(v) with \begin{cases}
  'minlstm.celda', // g(v) with cases, primes f′ i′
  'slstm.celda', // primes i′ f′
  'mlstm.celda', // dim d as a number, state C : d × d, state m : 1, w^T x, v k^T, C q, primes
  'rg-lru.celda', // tensor exponent a^{8 r}
  'ln-lstm.celda', // LN(z; α, β) defined in the cell, mean, split left side [f, i, o, g]
  'mamba-s6.celda', // W_Δ, state h : D × N, diag(Δ) A, outer product, matrix–vector C
]);

export const zooFiles = (): string[] => readdirSync(ZOO_DIR).filter((f) => f.endsWith('.celda')).sort();
export const zooSource = (file: string): string => readFileSync(new URL(file, ZOO_DIR), 'utf8');
