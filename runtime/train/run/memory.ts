// What a training, sampling or decoding run needs in memory, estimated from
// the model's shapes before anything large is allocated, and checked against
// the limit (runtime/limits.ts): `--hidden 100000` or `sample --n 1e9` is
// refused with both figures instead of growing until the machine gives out.
//
// The estimate is an upper bound in float64: the parameters with their
// gradients and optimizer moments (and each worker thread's copies), plus the
// activations of one pass, forward and back, of a batch over the longest
// sequence — per thread, and again for the evaluation batches the main thread
// runs on the side.

import { jsLimitProblem } from '../../backends/js-memory.ts';
import { cellRunBytes, checkMemory, LimitError, maxBytes } from '../../limits.ts';
import { simdAvailable } from '../../wasm/pool-common.ts';
import type { TaskData } from '../data/tasks/task.ts';
import type { Model, SeqModule } from '../model/model.ts';
import { sizeOf } from '../tensor.ts';
import type { RunConfig } from './settings.ts';

/** The batch the periodic and final evaluations run (data/tasks: 256 examples at a time). */
export const EVAL_BATCH = 256;

const F64 = 8;

/** Numbers in the model's parameters. */
export const parameterCount = (model: Model): number => [...model.shapes.values()].reduce((n, s) => n + sizeOf(s), 0);

/** Bytes of one pass of a module's layers over T steps of B rows, forward and back, with its input codes. */
function moduleBytes(mod: SeqModule, B: number, T: number): number {
  let bytes = F64 * T * B * mod.code.size * 2;
  for (const block of mod.stack.blocks) {
    for (const layer of block.kind === 'uni' ? [block.layer] : [block.fwd, block.bwd]) {
      bytes += cellRunBytes(layer.plan.cell, new Map(Object.entries(layer.plan.dims)), B, T);
    }
  }
  return bytes;
}

/** Activations of one batch of B rows: source steps Tx, target steps Ty (with the ∅ that starts them). */
function batchBytes(model: Model, B: number, Tx: number, Ty: number): number {
  const t = model.spec.topology;
  const enc = moduleBytes(model.encoder, B, t === 'one-to-many' ? Ty : Tx);
  const dec = model.decoder ? moduleBytes(model.decoder, B, Ty) : 0;
  const rows = t === 'many-to-one' ? B : B * (t === 'many-to-many' ? Tx : Ty);
  return enc + dec + F64 * rows * model.head.size * 3;
}

const longest = (data: TaskData, f: (e: TaskData['train'][number]) => number) =>
  [data.train, data.val].reduce((m, split) => split.reduce((k, e) => Math.max(k, f(e)), m), 1);

/** Bytes a training run of this model needs at most (see the top of this file). */
export function trainingBytes(model: Model, c: RunConfig, data: TaskData): number {
  const P = parameterCount(model);
  const moments = c.optimizer === 'sgd' ? 1 : 2;
  // Here: parameters, gradients, moments, a clipped copy; each worker: its view, its gradients, the flat reply.
  const params = F64 * P * (3 + moments + 3 * (c.threads - 1));
  const Tx = longest(data, (e) => e.x?.length ?? 0), Ty = longest(data, (e) => e.y.length + 1);
  const shard = Math.ceil(c.batch / c.threads);
  const evalBatch = Math.min(EVAL_BATCH, Math.max(1, data.val.length));
  return params + c.threads * batchBytes(model, shard, Tx, Ty) + batchBytes(model, evalBatch, Tx, Ty);
}

/** Bytes `celda sample` needs for n sequences of at most maxLen tokens. */
export function samplingBytes(model: Model, n: number, maxLen: number): number {
  const K = Math.max(2, model.head.size);
  return F64 * parameterCount(model) + batchBytes(model, n, 1, 1) + F64 * n * (K * 2 + maxLen);
}

/** Bytes decoding one source of srcLen tokens needs (greedy: beam 1), up to maxLen tokens. */
export function decodingBytes(model: Model, beam: number, srcLen: number, maxLen: number): number {
  const K = Math.max(2, model.head.size);
  // A beam step keeps a candidate per (row, class), and each hypothesis its tokens.
  return F64 * parameterCount(model) + batchBytes(model, beam, srcLen, 1) + beam * K * 64 + F64 * 2 * beam * maxLen;
}

/** Refuse a run that needs more than the limit (`limit`, else CELDA_MAX_MEMORY, else the default). */
export function checkRunMemory(what: string, bytes: number, limit?: number): void {
  checkMemory(what, bytes, maxBytes(limit));
}

/**
 * The hard limits of the js backends (runtime/backends/js-memory.ts) for every
 * layer of a training run: each training thread's instance (its share of the
 * batch) and the evaluation batch's, over the longest sequence. A LimitError
 * before anything trains, instead of running out of memory at the first
 * evaluation or the first long batch.
 */
export function checkBackendLimits(model: Model, c: RunConfig, data: TaskData, backend: string | undefined): void {
  const precision = backend === 'js-f32' ? 'f32' : backend === 'js' ? 'f64' : null;
  if (precision === null) return;
  const simd = precision === 'f32' && simdAvailable();
  const t = model.spec.topology;
  const Tx = longest(data, (e) => e.x?.length ?? 0), Ty = longest(data, (e) => e.y.length + 1);
  const shard = Math.ceil(c.batch / c.threads);
  const evalBatch = Math.min(EVAL_BATCH, Math.max(1, data.val.length));
  const modules = [{ mod: model.encoder, T: t === 'one-to-many' ? Ty : Tx }, ...(model.decoder ? [{ mod: model.decoder, T: Ty }] : [])];
  for (const { mod, T } of modules) {
    for (const block of mod.stack.blocks) {
      for (const layer of block.kind === 'uni' ? [block.layer] : [block.fwd, block.bwd]) {
        for (const [rows, what] of [[shard, `a training batch of ${shard}${c.threads > 1 ? ' per thread' : ''}`], [evalBatch, `the evaluation batch of ${evalBatch}`]] as const) {
          const problem = jsLimitProblem(layer.plan.cell, layer.plan.dims, rows, T, precision, simd, what);
          if (problem) throw new LimitError(problem);
        }
      }
    }
  }
}
