// The training loop: one seed fixes the initial parameters and the order of the
// examples, so a run is reproducible bit for bit; a checkpoint holds everything
// the loop carries, so a resumed run continues exactly as if never stopped.

import { resolve } from 'node:path';
import type { BackendFactory } from '../../backend.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { permutation, Rng } from '../../random.ts';
import type { Example } from '../data/batch.ts';
import type { Checkpoint, HistoryPoint } from '../io/checkpoint.ts';
import { claimCheckpointDir, saveCheckpoint, validateTable } from '../io/checkpoint.ts';
import { NonFiniteError, TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';
import type { Model, ModelSpec } from '../model/model.ts';
import { buildModel, initParams } from '../model/model.ts';
import type { OptimizerConfig, OptimizerState } from '../optim/optimizers.ts';
import { clipByGlobalNorm, defaultOptimizer, optimizerState, optimizerStep } from '../optim/optimizers.ts';
import type { Schedule } from '../optim/schedule.ts';
import { lrAt, parseSchedule } from '../optim/schedule.ts';
import type { Task } from '../data/tasks/task.ts';
import type { RunConfig } from './settings.ts';
import type { Table } from '../tensor.ts';
import { firstNonFinite, zerosLike } from '../tensor.ts';
import { checkBackendLimits, checkRunMemory, parameterCount, trainingBytes } from './memory.ts';
import { GradWorkers } from './parallel.ts';
import { makeBatch, runBatch } from '../model/topology.ts';

/** Everything that defines a run (saved in its checkpoints). */
/** The settings of a run (settings.ts holds them and their rules). */
export type { RunConfig } from './settings.ts';

export interface Progress {
  /** Updates done so far (1-based after the first). */
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** Sequence positions (source and decoder steps) processed by this process so far. */
  readonly tokens: number;
}

export interface TrainHooks {
  /** Once the model is built and its parameters are ready. */
  start?(model: Model, params: Table, step: number): void;
  step?(p: Progress): void;
  eval?(step: number, metrics: Readonly<Record<string, number>>): void;
  saved?(step: number, dir: string): void;
}

export interface TrainInput {
  readonly task: Task;
  readonly cell: CompiledCell;
  readonly config: RunConfig;
  readonly factory: BackendFactory;
  /** The backend's name, for worker threads to load the same one (default interp). */
  readonly backendName?: string;
  /** Checkpoint directory (none: nothing is saved). */
  readonly out?: string;
  readonly saveEvery?: number;
  readonly resume?: Checkpoint;
  /** The directory `resume` was read from: continuing there overwrites its checkpoint. */
  readonly resumeDir?: string;
  /** Overwrite a checkpoint already in `out` (else a fresh run refuses to). */
  readonly force?: boolean;
  /** The memory limit in bytes (default: CELDA_MAX_MEMORY, else runtime/limits.ts's). */
  readonly maxBytes?: number;
}

export interface TrainResult {
  readonly model: Model;
  readonly params: Table;
  readonly step: number;
  readonly history: readonly HistoryPoint[];
}

export function modelSpec(task: Task, c: RunConfig): ModelSpec {
  return {
    topology: task.topology, inVocab: task.inVocab, classes: task.classes, embed: c.embed, hidden: c.hidden,
    layers: c.layers, bidirectional: c.bidirectional, head: c.head, readout: c.readout, dims: c.dims,
  };
}

export function modelFor(task: Task, cell: CompiledCell, c: RunConfig, factory: BackendFactory): Model {
  return buildModel(cell, modelSpec(task, c), factory);
}

export function optimizerConfig(c: RunConfig): OptimizerConfig {
  return { ...defaultOptimizer(c.optimizer), momentum: c.momentum, weightDecay: c.weightDecay };
}

/** Batches per bucketing window: sorting this many batches' worth of examples by length. */
export const BUCKET_WINDOW = 50;

/**
 * An epoch's order: a random permutation, and with `bucket`, each window of
 * BUCKET_WINDOW batches sorted by length, cut into batches, and the batches
 * shuffled — so a batch holds sequences of similar length and pads little.
 * Consecutive `batch`-sized blocks of the result are the epoch's batches.
 */
export function epochOrder(examples: readonly Example[], batch: number, bucket: boolean, rng: Rng): Int32Array {
  const p = permutation(examples.length, rng);
  if (!bucket) return p;
  const len = (i: number) => (examples[i]!.x?.length ?? 0) + examples[i]!.y.length;
  const out = new Int32Array(p.length);
  const W = batch * BUCKET_WINDOW;
  for (let w = 0; w < p.length; w += W) {
    const win = Array.from(p.subarray(w, Math.min(p.length, w + W)));
    win.sort((a, b) => len(a) - len(b) || a - b);
    const blocks = Array.from({ length: Math.ceil(win.length / batch) }, (_, k) => win.slice(k * batch, (k + 1) * batch));
    // Keep a short last block last (it may be dropped as the epoch's remainder).
    const full = blocks.filter((b) => b.length === batch), rest = blocks.filter((b) => b.length < batch);
    const shuffled = Array.from(permutation(full.length, rng), (i) => full[i]!);
    out.set([...shuffled, ...rest].flat(), w);
  }
  return out;
}

/** Sequence positions a batch runs through the cells: source steps, and decoder (or generator) steps. */
function positions(model: Model, examples: readonly Example[]): number {
  const t = model.spec.topology, dec = t === 'one-to-many' || t === 'encoder-decoder';
  return examples.reduce((n, e) => n + (e.x?.length ?? 0) + (dec ? e.y.length : 0), 0);
}

const where = (bad: { name: string; index: number[]; value: number }) => `${bad.name}[${bad.index.join(', ')}] is ${bad.value}`;

/**
 * Train a cell on a task. With `out`, the run holds that directory (a lock) while
 * it lasts and refuses to start over on a checkpoint already there unless told
 * to (`force`), or unless it continues that very checkpoint (`resumeDir`).
 */
export async function train(input: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { out, resume, resumeDir } = input;
  const continuing = resume !== undefined && resumeDir !== undefined && out !== undefined && resolve(resumeDir) === resolve(out);
  const release = out ? claimCheckpointDir(out, { overwrite: input.force === true || continuing }) : () => {};
  try {
    return await trainHere(input, hooks);
  } finally {
    release();
  }
}

/**
 * The settings of a run checked against the task and the cell, before anything
 * trains: a refused value is a UsageError (the command line is wrong, exit 2); a
 * cell that cannot fit the task is a TrainError. `celda compare` checks every
 * cell so before it trains the first.
 */
export function checkSettings(task: Task, cell: CompiledCell, c: RunConfig, factory: BackendFactory): { model: Model; schedule: Schedule } {
  const model = modelFor(task, cell, c, factory);
  const schedule = parseSchedule(c.schedule, c.decaySteps, c.warmup);
  if (typeof schedule === 'string') throw new UsageError(schedule);
  if (!Number.isInteger(c.batch) || c.batch < 1) throw new UsageError('--batch must be a whole number ≥ 1');
  const train = task.load().train.length;
  if (Math.floor(train / c.batch) < 1) throw new UsageError(`--batch ${c.batch} is larger than the training split (${train} examples)`);
  if (!Number.isInteger(c.threads) || c.threads < 1) throw new UsageError('--threads must be a whole number ≥ 1');
  if (c.threads > c.batch) throw new UsageError(`--threads ${c.threads} is more than the batch of ${c.batch}`);
  if (c.bptt > 0 && (task.topology === 'many-to-one' || task.topology === 'encoder-decoder'))
    throw new UsageError(`--bptt truncates a loss-per-step sequence (many-to-many, one-to-many); ${task.name} is ${task.topology}`);
  if (c.bptt > 0 && c.bidirectional) throw new UsageError('--bptt carries the state forward from window to window, which a bidirectional layer cannot do; use --unidirectional');
  return { model, schedule };
}

/** The memory a run needs against the limit (`maxBytes`, else CELDA_MAX_MEMORY, else 4 GiB) and the backend's hard limits: a LimitError before anything trains. */
export function checkRunLimits(task: Task, cell: CompiledCell, c: RunConfig, model: Model, backendName: string | undefined, maxBytes: number | undefined): void {
  const data = task.load();
  const shape = `${c.layers} layer${c.layers === 1 ? '' : 's'} of ${cell.name}, hidden ${c.hidden}, batch ${c.batch}, ${c.threads} thread${c.threads === 1 ? '' : 's'}`;
  checkRunMemory(`training ${task.name} (${shape}, ${parameterCount(model)} parameters)`, trainingBytes(model, c, data), maxBytes);
  checkBackendLimits(model, c, data, backendName);
}

async function trainHere(input: TrainInput, hooks: TrainHooks): Promise<TrainResult> {
  const { task, cell, config: c, out, resume } = input;
  const data = task.load();
  const { model, schedule } = checkSettings(task, cell, c, input.factory);
  const opt = optimizerConfig(c);
  const perEpoch = Math.floor(data.train.length / c.batch);

  checkRunLimits(task, cell, c, model, input.backendName, input.maxBytes);

  let params: Table, state: OptimizerState, rng: Rng, order: Int32Array, step: number;
  const history: HistoryPoint[] = [];
  if (resume) {
    validateTable('the checkpoint\'s parameters', resume.params, model.shapes);
    params = resume.params;
    state = optimizerState(opt, params);
    validateTable('the checkpoint\'s optimizer state', resume.optimizer.tensors, new Map([...state.tensors].map(([k, v]) => [k, v.shape])));
    state = { tensors: resume.optimizer.tensors, t: resume.optimizer.t };
    rng = new Rng(0);
    rng.state = resume.rngState;
    order = resume.order;
    if (order.length !== data.train.length) throw new TrainError(`the checkpoint's example order covers ${order.length} examples, but the training split has ${data.train.length}`);
    const stray = order.findIndex((i) => i < 0 || i >= data.train.length);
    if (stray >= 0) throw new TrainError(`the checkpoint's example order holds ${order[stray]} at position ${stray}, not an example of the training split (0 to ${data.train.length - 1}); the file was edited or damaged`);
    step = resume.step;
    history.push(...resume.history);
  } else {
    rng = new Rng(c.seed);
    params = initParams(model, rng, { kind: c.init, forgetBias: c.forgetBias });
    state = optimizerState(opt, params);
    order = new Int32Array(data.train.length);
    step = 0;
  }

  let savedAt: number | null = resume ? resume.step : null;
  const save = () => {
    if (!out) return;
    saveCheckpoint(out, {
      step, cellSource: cell.source, cellName: cell.name, config: { ...c }, params,
      optimizer: state, rngState: rng.state, order, history, pending: [lossSum, lossN],
    });
    savedAt = step;
    hooks.saved?.(step, out);
  };
  // Evenly spaced over the split (the splits are in key order, so the first N would all start with "a").
  const stride = Math.max(1, data.val.length / c.evalSize);
  const evalSubset = Array.from({ length: Math.min(c.evalSize, data.val.length) }, (_, i) => data.val[Math.floor(i * stride)]!);
  const logEvery = Math.max(1, Math.floor(c.evalEvery / 10));
  let tokens = 0;
  let [lossSum, lossN] = resume?.pending ?? [0, 0];

  hooks.start?.(model, params, step);
  const workers = c.threads > 1
    ? await GradWorkers.start(c.threads, { cellSource: cell.source, cellName: cell.name, spec: modelSpec(task, c), backend: input.backendName ?? 'interp' }, params)
    : null;
  try {
    while (step < c.steps) {
      const k = step % perEpoch;
      if (k === 0) order = epochOrder(data.train, c.batch, c.bucket, rng);
      const examples: Example[] = Array.from(order.subarray(k * c.batch, (k + 1) * c.batch), (i) => data.train[i]!);
      const grads = zerosLike(params);
      const r = workers ? await workers.step(model, params, examples, grads, c.bptt) : runBatch(model, params, makeBatch(model, examples), grads, { bptt: c.bptt });
      const loss = r.loss / Math.max(1, r.count);
      const n = step + 1;
      const kept = !out ? '' : savedAt === null ? '; no checkpoint was written' : `; the checkpoint of step ${savedAt} in ${out} is kept`;
      if (!Number.isFinite(loss)) throw new NonFiniteError(`step ${n}: the loss is ${loss}; training stopped${kept}`);
      const badGrad = firstNonFinite(grads);
      if (badGrad) throw new NonFiniteError(`step ${n}: the gradient of ${where(badGrad)}; training stopped${kept}`);
      const gradNorm = clipByGlobalNorm(grads, c.clip);
      const lr = lrAt(c.lr, schedule, step);
      optimizerStep(opt, state, params, grads, lr);
      const badParam = firstNonFinite(params);
      if (badParam) throw new NonFiniteError(`step ${n}: after the update, parameter ${where(badParam)} (learning rate ${lr}); training stopped${kept}`);
      step = n;
      tokens += positions(model, examples);
      lossSum += loss; lossN++;
      hooks.step?.({ step, steps: c.steps, loss, lr, gradNorm, tokens });
      if (step % logEvery === 0) { history.push({ step, loss: lossSum / lossN }); lossSum = 0; lossN = 0; }
      if (step % c.evalEvery === 0) {
        const metrics = task.metrics({ model, params }, evalSubset, data.train);
        history.push({ step, metrics });
        hooks.eval?.(step, metrics);
      }
      if (input.saveEvery && step % input.saveEvery === 0 && step < c.steps) save();
    }
  } finally {
    await workers?.close();
  }
  save();
  return { model, params, step, history };
}
