// The training loop: one seed fixes the initial parameters and the order of the
// examples, so a run is reproducible bit for bit; a checkpoint holds everything
// the loop carries, so a resumed run continues exactly as if never stopped.

import { resolve } from 'node:path';
import type { BackendFactory, BackendOptions } from '../../backend.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import type { Example } from '../data/batch.ts';
import type { Checkpoint, HistoryPoint } from '../io/checkpoint.ts';
import { claimCheckpointDir, saveCheckpoint, validateTable } from '../io/checkpoint.ts';
import type { Model } from '../model/model.ts';
import { buildModel } from '../model/model.ts';
import { optimizerState } from '../optim/optimizers.ts';
import type { Task } from '../data/tasks/task.ts';
import type { RunConfig } from './settings.ts';
import type { Table } from '../tensor.ts';
import { zerosLike } from '../tensor.ts';
import { checkBackendLimits, checkRunMemory, parameterCount, trainingBytes } from './memory.ts';
import { GradWorkers } from './parallel.ts';
import type { Update } from './core.ts';
import { modelSpec, TrainCore } from './core.ts';

/** The settings of a run, everything that defines it (saved in its checkpoints; settings.ts holds them and their rules). */
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
  /**
   * The scan option `factory` passes its backends (`--no-scan`, `--scan log`),
   * for the worker threads, which make theirs from `backendName` and this.
   */
  readonly scan?: BackendOptions['scan'];
  /** Checkpoint directory (none: nothing is saved). */
  readonly out?: string;
  readonly saveEvery?: number;
  readonly resume?: Checkpoint;
  /** The directory `resume` was read from: continuing there overwrites its checkpoint. */
  readonly resumeDir?: string;
  /**
   * The run's core as checkSettings made it from these settings, its limits
   * checked (checkRunLimits): trained as it is, not made and checked again.
   */
  readonly checked?: TrainCore;
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

export function modelFor(task: Task, cell: CompiledCell, c: RunConfig, factory: BackendFactory): Model {
  return buildModel(cell, modelSpec(task, c), factory);
}

/** Sequence positions a batch runs through the cells: source steps, and decoder (or generator) steps. */
function positions(model: Model, examples: readonly Example[]): number {
  const t = model.spec.topology, dec = t === 'one-to-many' || t === 'encoder-decoder';
  return examples.reduce((n, e) => n + (e.x?.length ?? 0) + (dec ? e.y.length : 0), 0);
}

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
 * cell so before it trains the first. The core made for the check is the run's:
 * `celda train` passes it on (TrainInput.checked).
 */
export function checkSettings(task: Task, cell: CompiledCell, c: RunConfig, factory: BackendFactory): TrainCore {
  return new TrainCore({ task, cell, config: c, factory });
}

/** The memory a run needs against the limit (`maxBytes`, else CELDA_MAX_MEMORY, else 4 GiB) and the backend's hard limits: a LimitError before anything trains. */
export function checkRunLimits(task: Task, cell: CompiledCell, c: RunConfig, model: Model, backendName: string | undefined, maxBytes: number | undefined): void {
  const data = task.load();
  const shape = `${c.layers} layer${c.layers === 1 ? '' : 's'} of ${cell.name}, hidden ${c.hidden}, batch ${c.batch}, ${c.threads} thread${c.threads === 1 ? '' : 's'}`;
  checkRunMemory(`training ${task.name} (${shape}, ${parameterCount(model)} parameters)`, trainingBytes(model, c, data), maxBytes);
  checkBackendLimits(model, c, data, backendName);
  if (backendName === 'gpujs') prepareBackends(model, c);
}

/**
 * Every layer's backend for this thread's share of the batch, built now: gpu.js
 * plans its kernels when a backend is made, and refuses a cell it cannot write
 * then (a UsageError, runtime/backends/gpujs-refusals.ts) — before the run's
 * directory is made. Training reuses them.
 */
export function prepareBackends(model: Model, c: RunConfig): void {
  const shard = Math.ceil(c.batch / c.threads);
  for (const mod of [model.encoder, ...(model.decoder ? [model.decoder] : [])])
    for (const block of mod.stack.blocks) for (const layer of block.kind === 'uni' ? [block.layer] : [block.fwd, block.bwd]) layer.prepare(shard);
}

async function trainHere(input: TrainInput, hooks: TrainHooks): Promise<TrainResult> {
  const { task, cell, config: c, out, resume } = input;
  const core = input.checked ?? new TrainCore({ task, cell, config: c, factory: input.factory });
  const { model } = core;

  if (!input.checked) checkRunLimits(task, cell, c, model, input.backendName, input.maxBytes);

  const history: HistoryPoint[] = [];
  if (resume) {
    validateTable('the checkpoint\'s parameters', resume.params, model.shapes);
    const fresh = optimizerState(core.opt, resume.params);
    validateTable('the checkpoint\'s optimizer state', resume.optimizer.tensors, new Map([...fresh.tensors].map(([k, v]) => [k, v.shape])));
    core.restore({ params: resume.params, optimizer: { tensors: resume.optimizer.tensors, t: resume.optimizer.t }, rngState: resume.rngState, order: resume.order, step: resume.step });
    history.push(...resume.history);
  } else {
    core.init();
  }

  let savedAt: number | null = resume ? resume.step : null;
  const save = () => {
    if (!out) return;
    saveCheckpoint(out, {
      step: core.step, cellSource: cell.source, cellName: cell.name, config: { ...c }, params: core.params,
      optimizer: core.state, rngState: core.rng.state, order: core.order, history, pending: [lossSum, lossN],
    });
    savedAt = core.step;
    hooks.saved?.(core.step, out);
  };
  const logEvery = Math.max(1, Math.floor(c.evalEvery / 10));
  let tokens = 0;
  let [lossSum, lossN] = resume?.pending ?? [0, 0];

  hooks.start?.(model, core.params, core.step);
  const workers = c.threads > 1
    ? await GradWorkers.start(c.threads, { cellSource: cell.source, cellName: cell.name, spec: modelSpec(task, c), backend: input.backendName ?? 'interp', ...(input.scan !== undefined ? { scan: input.scan } : {}) }, core.params)
    : null;
  try {
    while (core.step < c.steps) {
      const kept = !out ? '' : savedAt === null ? '; no checkpoint was written' : `; the checkpoint of step ${savedAt} in ${out} is kept`;
      let u: Update, examples: readonly Example[];
      if (workers) {
        examples = core.batch();
        const grads = zerosLike(core.params);
        u = core.update(grads, await workers.step(model, core.params, examples, grads, c.bptt), kept);
      } else {
        const r = core.stepOnce(undefined, kept);
        u = r; examples = r.examples;
      }
      const { step } = core;
      tokens += positions(model, examples);
      lossSum += u.loss; lossN++;
      hooks.step?.({ step, steps: c.steps, loss: u.loss, lr: u.lr, gradNorm: u.gradNorm, tokens });
      if (step % logEvery === 0) { history.push({ step, loss: lossSum / lossN }); lossSum = 0; lossN = 0; }
      if (step % c.evalEvery === 0) {
        const metrics = core.evaluate();
        history.push({ step, metrics });
        hooks.eval?.(step, metrics);
      }
      if (input.saveEvery && step % input.saveEvery === 0 && step < c.steps) save();
    }
  } finally {
    await workers?.close();
  }
  save();
  return { model, params: core.params, step: core.step, history };
}
