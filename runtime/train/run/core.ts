// The pure part of training, shared by `celda train` (loop.ts adds checkpoints,
// worker threads and the memory check) and the playground's trainer (which runs
// it in a Web Worker): the model a task's settings define, its parameters, the
// optimizer with its schedule and clipping, the order of the examples, one
// update at a time, and the periodic evaluation. It imports no `node:*`, so the
// page trains exactly what the command line trains.

import type { BackendFactory } from '../../backend.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { permutation, Rng } from '../../random.ts';
import type { Example } from '../data/batch.ts';
import type { Task, TaskData } from '../data/tasks/task.ts';
import { NonFiniteError, TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';
import type { Model, ModelSpec } from '../model/model.ts';
import { buildModel, initParams } from '../model/model.ts';
import type { Batch } from '../model/topology.ts';
import { makeBatch, runBatch } from '../model/topology.ts';
import type { OptimizerConfig, OptimizerState } from '../optim/optimizers.ts';
import { clipByGlobalNorm, defaultOptimizer, optimizerState, optimizerStep } from '../optim/optimizers.ts';
import type { Schedule } from '../optim/schedule.ts';
import { lrAt, parseSchedule } from '../optim/schedule.ts';
import type { Table } from '../tensor.ts';
import { firstNonFinite, zerosLike } from '../tensor.ts';
import type { RunConfig } from './settings.ts';

/** A fresh run's settings: the task's defaults, then those given (as `celda train` builds them). */
export function defaultConfig(task: Task, given: Partial<RunConfig> = {}): RunConfig {
  return { ...task.defaults, task: task.name, seed: 0, head: 'auto', ...given } as RunConfig;
}

export function modelSpec(task: Task, c: RunConfig): ModelSpec {
  return {
    topology: task.topology, inVocab: task.inVocab, classes: task.classes, embed: c.embed, hidden: c.hidden,
    layers: c.layers, bidirectional: c.bidirectional, head: c.head, readout: c.readout, dims: c.dims,
  };
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

export interface CoreInput {
  readonly task: Task;
  readonly cell: CompiledCell;
  readonly config: RunConfig;
  readonly factory: BackendFactory;
}

/** What a run carries from step to step (a checkpoint holds it). */
export interface CoreState {
  readonly params: Table;
  readonly optimizer: OptimizerState;
  readonly rngState: number;
  readonly order: Int32Array;
  readonly step: number;
}

/** One update: its loss (per position), learning rate and gradient norm before clipping. */
export interface Update {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
}

const where = (bad: { name: string; index: number[]; value: number }) => `${bad.name}[${bad.index.join(', ')}] is ${bad.value}`;

/**
 * A training run without files or threads: `new TrainCore` builds the model
 * and checks the settings (allocating nothing large; a refused value is a
 * UsageError: the command line is wrong, exit 2), `init` or `restore` sets
 * the parameters, then `batch` + `update` (or `step`, both at once) advance it.
 */
export class TrainCore {
  readonly task: Task;
  readonly config: RunConfig;
  readonly data: TaskData;
  readonly model: Model;
  readonly opt: OptimizerConfig;
  readonly schedule: Schedule;
  readonly perEpoch: number;
  /** The periodic evaluation's examples: `evalSize`, evenly spaced over the validation split. */
  readonly evalSubset: readonly Example[];
  params: Table = new Map();
  state: OptimizerState = { tensors: new Map(), t: 0 };
  rng = new Rng(0);
  order: Int32Array = new Int32Array(0);
  step = 0;

  constructor(input: CoreInput) {
    const { task, cell, config: c } = input;
    this.task = task;
    this.config = c;
    this.data = task.load();
    this.model = buildModel(cell, modelSpec(task, c), input.factory);
    const schedule = parseSchedule(c.schedule, c.decaySteps, c.warmup);
    if (typeof schedule === 'string') throw new UsageError(schedule);
    this.schedule = schedule;
    this.opt = optimizerConfig(c);
    if (!Number.isInteger(c.batch) || c.batch < 1) throw new UsageError('--batch must be a whole number ≥ 1');
    this.perEpoch = Math.floor(this.data.train.length / c.batch);
    if (this.perEpoch < 1) throw new UsageError(`--batch ${c.batch} is larger than the training split (${this.data.train.length} examples)`);
    if (!Number.isInteger(c.threads) || c.threads < 1) throw new UsageError('--threads must be a whole number ≥ 1');
    if (c.threads > c.batch) throw new UsageError(`--threads ${c.threads} is more than the batch of ${c.batch}`);
    if (c.bptt > 0 && (task.topology === 'many-to-one' || task.topology === 'encoder-decoder'))
      throw new UsageError(`--bptt truncates a loss-per-step sequence (many-to-many, one-to-many); ${task.name} is ${task.topology}`);
    if (c.bptt > 0 && c.bidirectional) throw new UsageError('--bptt carries the state forward from window to window, which a bidirectional layer cannot do; use --unidirectional');
    // Evenly spaced over the split (the splits are in key order, so the first N would all start with "a").
    const val = this.data.val, stride = Math.max(1, val.length / c.evalSize);
    this.evalSubset = Array.from({ length: Math.min(c.evalSize, val.length) }, (_, i) => val[Math.floor(i * stride)]!);
  }

  /** A fresh start: parameters initialised from the seed, the optimizer's moments zero. */
  init(): this {
    const c = this.config;
    this.rng = new Rng(c.seed);
    this.params = initParams(this.model, this.rng, { kind: c.init, forgetBias: c.forgetBias });
    this.state = optimizerState(this.opt, this.params);
    this.order = new Int32Array(this.data.train.length);
    this.step = 0;
    return this;
  }

  /** Continue from a saved state (its tables already validated against the model's shapes). */
  restore(s: CoreState): this {
    const n = this.data.train.length;
    if (s.order.length !== n) throw new TrainError(`the checkpoint's example order covers ${s.order.length} examples, but the training split has ${n}`);
    const stray = s.order.findIndex((i) => i < 0 || i >= n);
    if (stray >= 0) throw new TrainError(`the checkpoint's example order holds ${s.order[stray]} at position ${stray}, not an example of the training split (0 to ${n - 1}); the file was edited or damaged`);
    this.params = s.params;
    this.state = s.optimizer;
    this.rng = new Rng(0);
    this.rng.state = s.rngState;
    this.order = s.order;
    this.step = s.step;
    return this;
  }

  /** The next update's examples (a new epoch's order drawn when one begins). */
  batch(): Example[] {
    const c = this.config, k = this.step % this.perEpoch;
    if (k === 0) this.order = epochOrder(this.data.train, c.batch, c.bucket, this.rng);
    return Array.from(this.order.subarray(k * c.batch, (k + 1) * c.batch), (i) => this.data.train[i]!);
  }

  /**
   * Apply a batch's summed gradients: refuse a non-finite loss, gradient or
   * result (`kept` ends the message: what was saved), clip, step the optimizer
   * at the schedule's learning rate.
   */
  update(grads: Table, r: { readonly loss: number; readonly count: number }, kept = ''): Update {
    const loss = r.loss / Math.max(1, r.count);
    const n = this.step + 1;
    if (!Number.isFinite(loss)) throw new NonFiniteError(`step ${n}: the loss is ${loss}; training stopped${kept}`);
    const badGrad = firstNonFinite(grads);
    if (badGrad) throw new NonFiniteError(`step ${n}: the gradient of ${where(badGrad)}; training stopped${kept}`);
    const gradNorm = clipByGlobalNorm(grads, this.config.clip);
    const lr = lrAt(this.config.lr, this.schedule, this.step);
    optimizerStep(this.opt, this.state, this.params, grads, lr);
    const badParam = firstNonFinite(this.params);
    if (badParam) throw new NonFiniteError(`step ${n}: after the update, parameter ${where(badParam)} (learning rate ${lr}); training stopped${kept}`);
    this.step = n;
    return { step: n, loss, lr, gradNorm };
  }

  /** One whole update on this thread; `shape` may rewrite the batch as made (the page pads its length for gpu.js). */
  stepOnce(shape: (b: Batch) => Batch = (b) => b, kept = ''): Update & { readonly examples: readonly Example[] } {
    const examples = this.batch();
    const grads = zerosLike(this.params);
    const r = runBatch(this.model, this.params, shape(makeBatch(this.model, examples)), grads, { bptt: this.config.bptt });
    return { ...this.update(grads, r, kept), examples };
  }

  /** The task's metrics on the evaluation subset. */
  evaluate(): Record<string, number> {
    return this.task.metrics({ model: this.model, params: this.params }, this.evalSubset, this.data.train);
  }
}
