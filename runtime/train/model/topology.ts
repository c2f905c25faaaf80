// The notes' four topologies as thin wrappers over the stack's scan:
//
//   many-to-many (T_x = T_y)  a loss at every step of the source        (tagging)
//   many-to-one               a loss at each example's last step          (classification)
//   one-to-many               x^<1> = ∅, then the true previous output    (generation, teacher forcing)
//   encoder–decoder           the encoder's final states start a
//                             teacher-forced decoder                      (translation, T_x ≠ T_y)
//
// `runBatch` computes the mean loss over the batch's target tokens and, given a
// gradient table, adds the gradient of that mean into it.

import type { Vec } from '../../backend.ts';
import type { Example, Padded } from '../data/batch.ts';
import { pad, shiftRight, timeSlice } from '../data/batch.ts';
import { TrainError } from '../errors.ts';
import { classLogProbs, classLoss } from './heads.ts';
import type { Model, SeqModule } from './model.ts';
import { outputModule } from './model.ts';
import type { Stack, StackRun } from './stack.ts';
import { gatherRows, scatterRows } from './stack.ts';
import type { Table } from '../tensor.ts';
import { dense, denseBackward } from '../tensor.ts';

export interface Batch {
  readonly B: number;
  /** What the first stack reads: the source, or (one-to-many) ∅ and the shifted targets. */
  readonly src: Padded;
  /** Encoder–decoder: what the decoder reads (∅ and the shifted targets). */
  readonly dec: Padded | null;
  /** Class per target row ([T][B], or [B] for many-to-one); −1 is masked. */
  readonly target: Int32Array;
}

export function makeBatch(model: Model, examples: readonly Example[]): Batch {
  const B = examples.length;
  const need = (e: Example) => {
    if (!e.x || e.x.length === 0) throw new TrainError('an example has an empty source sequence');
    return e.x;
  };
  switch (model.spec.topology) {
    case 'many-to-many': {
      const src = pad(examples.map(need));
      examples.forEach((e) => { if (e.y.length !== e.x!.length) throw new TrainError('many-to-many needs one target per source token'); });
      return { B, src, dec: null, target: pad(examples.map((e) => e.y)).ids };
    }
    case 'many-to-one':
      return { B, src: pad(examples.map(need)), dec: null, target: Int32Array.from(examples, (e) => e.y[0]!) };
    case 'one-to-many': {
      const { input, target } = shiftRight(examples.map((e) => e.y));
      return { B, src: input, dec: null, target: target.ids };
    }
    case 'encoder-decoder': {
      const { input, target } = shiftRight(examples.map((e) => e.y));
      return { B, src: pad(examples.map(need)), dec: input, target: target.ids };
    }
  }
}

export interface RunOptions {
  /** Truncated BPTT: backpropagate through at most this many steps (0 = the whole sequence). */
  readonly bptt?: number;
  /** Also return log p(class) of every target row. */
  readonly logProbs?: boolean;
  /** Many-to-many / one-to-many: start from these states (per layer), as constants. */
  readonly init?: Record<string, Float64Array>[];
  /** Many-to-many / one-to-many: also return the states at the last row (per layer). */
  readonly carry?: boolean;
  /**
   * The number of target tokens the mean is over, when this batch is one shard
   * of a larger one (data-parallel workers); default: this batch's own count.
   */
  readonly count?: number;
}

export interface RunResult {
  /** Summed loss over the counted target rows. */
  readonly loss: number;
  readonly count: number;
  /** [rows × classes] when asked for. */
  readonly logProbs?: Float64Array;
  readonly carry?: Record<string, Float64Array>[];
}

export const countTargets = (t: Int32Array) => t.reduce((n, y) => n + (y >= 0 ? 1 : 0), 0);

/**
 * The head on N rows of the output module's values (the top output, or the cell's
 * ŷ): loss against the targets, and the cotangent of those values.
 */
function headLoss(model: Model, params: Table, values: Vec, N: number, target: Int32Array, scale: number, grads: Table | null, wantLogProbs: boolean) {
  const h = model.head;
  const scores = h.source === 'runtime' ? dense(params.get(h.W!)!.data, params.get(h.b!)!.data, values, N, h.inSize, h.size) : values;
  const dScores = new Float64Array(N * h.size);
  const loss = classLoss(scores, h.kind, N, h.size, target, dScores, scale);
  let dValues: Float64Array | null = null;
  if (grads) dValues = h.source === 'runtime' ? denseBackward(params.get(h.W!)!.data, values, dScores, N, h.inSize, h.size, grads.get(h.W!)!.data, grads.get(h.b!)!.data) : dScores;
  return { loss, dValues, logProbs: wantLogProbs ? classLogProbs(scores, h.kind, N, h.size) : undefined };
}

/**
 * The VJP of a module: its stack's, then its input code's; returns ∂/∂init of each
 * block. The stack is asked for ∂x only when the code reads it: an embedding
 * learns from it, a one-hot code (no parameter) does not.
 */
function moduleBackward(mod: SeqModule, run: StackRun, cot: Parameters<Stack['backward']>[1], ids: Int32Array, grads: Table): readonly Readonly<Record<string, Vec>>[] {
  const { dx, dInit } = mod.stack.backward(run, cot, grads, mod.code.param !== null);
  if (dx) mod.code.backward(ids, dx, grads);
  return dInit;
}

/** Which of the top's values the head reads. */
const headValues = (model: Model, run: StackRun): Vec => (model.head.source === 'cell' ? run.head! : run.top);
const headCot = (model: Model, d: Float64Array) => (model.head.source === 'cell' ? { head: d } : { top: d });

/** many-to-many and one-to-many: a loss at every step, optionally in truncated-BPTT chunks. */
function perStep(model: Model, params: Table, mod: SeqModule, src: Padded, target: Int32Array, grads: Table | null, o: RunOptions): RunResult {
  const { T, B } = src;
  const count = countTargets(target);
  const scale = 1 / Math.max(1, o.count ?? count);
  const K = o.bptt && o.bptt > 0 && !mod.stack.isBidirectional ? o.bptt : T;
  let carry = o.init;
  let loss = 0;
  const logProbs: Float64Array[] = [];
  for (let t0 = 0; t0 < T; t0 += K) {
    const t1 = Math.min(T, t0 + K);
    const chunk = t0 === 0 && t1 === T ? src : timeSlice(src, t0, t1);
    const x = mod.code.encode(params, chunk.ids);
    const run = mod.stack.forward(params, x, chunk.T, B, chunk.lengths, carry);
    // The carried state is a constant for the next chunk: no gradient crosses it.
    // (Copied now: a backend may reuse its buffers.)
    if (t1 < T || o.carry) carry = mod.stack.finals(run, chunk.T - 1);
    const r = headLoss(model, params, headValues(model, run), chunk.T * B, target.subarray(t0 * B, t1 * B), scale, grads, !!o.logProbs);
    loss += r.loss;
    if (r.logProbs) logProbs.push(r.logProbs);
    if (grads) moduleBackward(mod, run, headCot(model, r.dValues!), chunk.ids, grads);
  }
  return { loss, count, logProbs: o.logProbs ? concat(logProbs) : undefined, carry: o.carry ? carry : undefined };
}

function manyToOne(model: Model, params: Table, batch: Batch, grads: Table | null, o: RunOptions): RunResult {
  const mod = model.encoder, { src, target, B } = batch;
  const count = countTargets(target);
  const run = mod.stack.forward(params, mod.code.encode(params, src.ids), src.T, B, src.lengths);
  const last = (b: number) => src.lengths[b]! - 1;
  const values = model.head.source === 'cell' ? gatherRows(run.head!, B, model.head.size, last) : mod.stack.summary(run);
  const r = headLoss(model, params, values, B, target, 1 / Math.max(1, o.count ?? count), grads, !!o.logProbs);
  if (grads) {
    let cot;
    if (model.head.source === 'cell') {
      const d = new Float64Array(src.T * B * model.head.size);
      scatterRows(d, r.dValues!, B, model.head.size, last);
      cot = { head: d };
    } else cot = { top: mod.stack.summaryBackward(run, r.dValues!) };
    moduleBackward(mod, run, cot, src.ids, grads);
  }
  return { loss: r.loss, count, logProbs: r.logProbs };
}

function encoderDecoder(model: Model, params: Table, batch: Batch, grads: Table | null, o: RunOptions): RunResult {
  const enc = model.encoder, dec = model.decoder!, { src, target, B } = batch, din = batch.dec!;
  const count = countTargets(target);
  const encRun = enc.stack.forward(params, enc.code.encode(params, src.ids), src.T, B, src.lengths);
  const handoff = enc.stack.finals(encRun);
  const decRun = dec.stack.forward(params, dec.code.encode(params, din.ids), din.T, B, din.lengths, handoff);
  const r = headLoss(model, params, headValues(model, decRun), din.T * B, target, 1 / Math.max(1, o.count ?? count), grads, !!o.logProbs);
  if (grads) {
    const dInit = moduleBackward(dec, decRun, headCot(model, r.dValues!), din.ids, grads);
    const finals = dInit.map((g) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Float64Array.from(v)])));
    moduleBackward(enc, encRun, { finals }, src.ids, grads);
  }
  return { loss: r.loss, count, logProbs: r.logProbs };
}

/** How many target tokens a batch of these examples has (the mean's denominator). */
export function targetCount(model: Model, examples: readonly Example[]): number {
  return model.spec.topology === 'many-to-one' ? examples.length : examples.reduce((n, e) => n + e.y.length, 0);
}

export function runBatch(model: Model, params: Table, batch: Batch, grads: Table | null, o: RunOptions = {}): RunResult {
  switch (model.spec.topology) {
    case 'many-to-many':
    case 'one-to-many': return perStep(model, params, outputModule(model), batch.src, batch.target, grads, o);
    case 'many-to-one': return manyToOne(model, params, batch, grads, o);
    case 'encoder-decoder': return encoderDecoder(model, params, batch, grads, o);
  }
}

function concat(parts: readonly Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
