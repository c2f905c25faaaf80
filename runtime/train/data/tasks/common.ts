// What the four tasks share: loading a dataset from an installed npm package (no
// downloads), a fixed train/validation/test split, and symbol vocabularies.

import { createRequire } from 'node:module';
import { TrainError } from '../../errors.ts';

const require = createRequire(import.meta.url);

/** A dataset package's main export, called (the @stdlib datasets are functions). */
export function loadPackage<T>(name: string, ...args: unknown[]): T {
  let mod: unknown;
  try {
    mod = require(name);
  } catch (e) {
    throw new TrainError(`the dataset package ${name} is not installed (npm install ${name}): ${(e as Error).message.split('\n')[0]}`);
  }
  return (mod as (...a: unknown[]) => T)(...args);
}

/** FNV-1a of a string: a stable hash, the same on every machine and Node version. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export type Split = 'train' | 'val' | 'test';

/** The fixed split: by the hash of an item's key, 80% train, 10% validation, 10% test. */
export function splitOf(key: string): Split {
  const r = fnv1a(key) % 10;
  return r < 8 ? 'train' : r === 8 ? 'val' : 'test';
}

export function splitBy<T>(items: readonly T[], key: (t: T) => string): Record<Split, T[]> {
  const out: Record<Split, T[]> = { train: [], val: [], test: [] };
  for (const it of items) out[splitOf(key(it))].push(it);
  return out;
}

/** Symbols ↔ ids. Symbols not in the vocabulary map to `unknown` when there is one. */
export class Vocab {
  private readonly index: Map<string, number>;
  constructor(readonly symbols: readonly string[], readonly unknown?: string) {
    this.index = new Map(symbols.map((s, i) => [s, i]));
  }
  get size(): number { return this.symbols.length; }
  id(s: string): number {
    const i = this.index.get(s) ?? (this.unknown !== undefined ? this.index.get(this.unknown) : undefined);
    if (i === undefined) throw new TrainError(`\`${s}\` is not in the vocabulary (${this.symbols.filter((x) => x.length === 1).join('')})`);
    return i;
  }
  has(s: string): boolean { return this.index.has(s); }
  encode(seq: Iterable<string>): Int32Array { return Int32Array.from(seq, (s) => this.id(s)); }
  decode(ids: ArrayLike<number>, sep = ''): string { return Array.from(ids, (i) => this.symbols[i] ?? '?').join(sep); }
}

/** Memoise a loader: datasets are read once per process. */
export function once<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}
