// Running a trained model one step at a time, feeding each output back in:
// sampling (temperature, top-k, a seed) and greedy decoding for one-to-many,
// greedy and beam-search decoding for encoder–decoder. Each step is the same
// scan with T = 1, carrying the states by hand.

import type { Vec } from '../../backend.ts';
import type { Rng } from '../../random.ts';
import { pad } from '../data/batch.ts';
import { classLogProbs } from '../model/heads.ts';
import type { Model, SeqModule } from '../model/model.ts';
import type { Table } from '../tensor.ts';
import { argmax, dense } from '../tensor.ts';

type Carry = Record<string, Float64Array>[];

/** One decoder step for B rows: log p(next token) [B × classes] and the new carry. */
function step(model: Model, params: Table, mod: SeqModule, ids: Int32Array, carry: Carry | undefined): { logProbs: Float64Array; carry: Carry } {
  const B = ids.length;
  const run = mod.stack.forward(params, mod.code.encode(params, ids), 1, B, new Int32Array(B).fill(1), carry);
  const h = model.head;
  const scores: Vec = h.source === 'cell' ? run.head! : dense(params.get(h.W!)!.data, params.get(h.b!)!.data, run.top, B, h.inSize, h.size);
  return { logProbs: classLogProbs(scores, h.kind, B, h.size), carry: mod.stack.finals(run, 0) };
}

export interface SampleOptions {
  /** Divides the log-probabilities: < 1 sharper, > 1 flatter. */
  readonly temperature: number;
  /** Keep only the k likeliest tokens (0 = all). */
  readonly topK: number;
  readonly greedy: boolean;
  readonly maxLen: number;
  readonly eos: number;
}

/** Draw one class from log-probabilities under temperature and top-k. */
export function sampleClass(lp: Float64Array, off: number, K: number, o: Pick<SampleOptions, 'temperature' | 'topK'>, rng: Rng): number {
  const idx = Array.from({ length: K }, (_, i) => i).sort((a, b) => lp[off + b]! - lp[off + a]! || a - b);
  const keep = idx.slice(0, o.topK > 0 ? Math.min(o.topK, K) : K);
  const m = lp[off + keep[0]!]!;
  const w = keep.map((i) => Math.exp((lp[off + i]! - m) / o.temperature));
  let u = rng.next() * w.reduce((a, b) => a + b, 0);
  for (let j = 0; j < keep.length; j++) if ((u -= w[j]!) < 0) return keep[j]!;
  return keep[keep.length - 1]!;
}

/** One-to-many: n sequences from x^<1> = ∅, each output fed back as the next input, up to EOS. */
export function generate(model: Model, params: Table, n: number, rng: Rng, o: SampleOptions): Int32Array[] {
  const K = model.head.size === 1 ? 2 : model.head.size;
  const out: number[][] = Array.from({ length: n }, () => []);
  const done = new Uint8Array(n);
  let ids = new Int32Array(n).fill(-1);
  let carry: Carry | undefined;
  for (let t = 0; t < o.maxLen && done.some((d) => !d); t++) {
    const s = step(model, params, model.encoder, ids, carry);
    carry = s.carry;
    ids = Int32Array.from({ length: n }, (_, b) => (o.greedy ? argmax(s.logProbs, b * K, K) : sampleClass(s.logProbs, b * K, K, o, rng)));
    ids.forEach((c, b) => { if (!done[b]) { if (c === o.eos) done[b] = 1; else out[b]!.push(c); } });
  }
  return out.map((s) => Int32Array.from(s));
}

function encode(model: Model, params: Table, sources: readonly Int32Array[]): Carry {
  const enc = model.encoder, src = pad(sources);
  const run = enc.stack.forward(params, enc.code.encode(params, src.ids), src.T, src.B, src.lengths);
  return enc.stack.finals(run);
}

/** Encoder–decoder, greedy: the likeliest token at each step, for a batch of sources. */
export function greedyDecode(model: Model, params: Table, sources: readonly Int32Array[], maxLen: number, eos: number): Int32Array[] {
  const B = sources.length, K = model.head.size === 1 ? 2 : model.head.size;
  let carry = encode(model, params, sources);
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Uint8Array(B);
  let ids = new Int32Array(B).fill(-1);
  for (let t = 0; t < maxLen && done.some((d) => !d); t++) {
    const s = step(model, params, model.decoder!, ids, carry);
    carry = s.carry;
    ids = Int32Array.from({ length: B }, (_, b) => argmax(s.logProbs, b * K, K));
    ids.forEach((c, b) => { if (!done[b]) { if (c === eos) done[b] = 1; else out[b]!.push(c); } });
  }
  return out.map((s) => Int32Array.from(s));
}

/**
 * Encoder–decoder, beam search of width k over summed log-probabilities. The
 * beam always holds k rows (a fixed batch); rows not yet in use score −∞.
 * Stops when the best finished hypothesis beats every live one.
 */
export function beamDecode(model: Model, params: Table, source: Int32Array, k: number, maxLen: number, eos: number): Int32Array {
  const K = model.head.size === 1 ? 2 : model.head.size;
  const enc = encode(model, params, [source]);
  let carry: Carry = enc.map((layer) => Object.fromEntries(Object.entries(layer).map(([name, v]) => [name, gatherBy(v, 1, new Array<number>(k).fill(0))])));
  let hyps: { tokens: number[]; score: number }[] = Array.from({ length: k }, (_, i) => ({ tokens: [], score: i === 0 ? 0 : -Infinity }));
  let best: { tokens: number[]; score: number } | null = null;
  for (let t = 0; t < maxLen; t++) {
    const ids = Int32Array.from(hyps, (h) => (h.tokens.length ? h.tokens[h.tokens.length - 1]! : -1));
    const s = step(model, params, model.decoder!, ids, carry);
    const cands: { parent: number; c: number; score: number }[] = [];
    hyps.forEach((h, r) => {
      if (h.score === -Infinity) return;
      for (let c = 0; c < K; c++) cands.push({ parent: r, c, score: h.score + s.logProbs[r * K + c]! });
    });
    cands.sort((a, b) => b.score - a.score || a.parent - b.parent || a.c - b.c);
    const next: { tokens: number[]; score: number; parent: number }[] = [];
    for (const cand of cands) {
      if (next.length === k) break;
      const tokens = [...hyps[cand.parent]!.tokens];
      if (cand.c === eos) { if (!best || cand.score > best.score) best = { tokens, score: cand.score }; continue; }
      next.push({ tokens: [...tokens, cand.c], score: cand.score, parent: cand.parent });
    }
    if (next.length === 0 || (best && best.score >= next[0]!.score)) break;
    while (next.length < k) next.push({ tokens: [], score: -Infinity, parent: 0 });
    carry = s.carry.map((layer) => Object.fromEntries(Object.entries(layer).map(([name, v]) => [name, gatherBy(v, k, next.map((h) => h.parent))])));
    hyps = next;
  }
  return Int32Array.from(best ? best.tokens : hyps[0]!.tokens);
}

/** Rows `parents[r]` of a [rows × n] array, in order. */
function gatherBy(v: Float64Array, rows: number, parents: readonly number[]): Float64Array {
  const n = v.length / rows;
  const out = new Float64Array(parents.length * n);
  parents.forEach((p, r) => out.set(v.subarray(p * n, (p + 1) * n), r * n));
  return out;
}
