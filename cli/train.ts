// `celda train`, `celda sample`, `celda predict`, `celda compare`: training cells
// on the four tasks, and using what was trained. Each command returns its exit
// code; a user error is one `error:` line, never a stack trace.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CompiledCell } from '../compiler/compile.ts';
import type { BackendFactory, BackendOptions } from '../runtime/backend.ts';
import { LimitError, printable } from '../runtime/limits.ts';
import { Rng } from '../runtime/random.ts';
import { ensureDir, withFiles } from '../runtime/train/io/files.ts';
import { checkRunMemory, decodingBytes, samplingBytes } from '../runtime/train/run/memory.ts';
import type { Kind } from '../runtime/train/run/settings.ts';
import { MAX_COUNT, MAX_SEED, MAX_STEPS, parseSetting, settingProblem, SETTINGS, STEPS, validateConfig } from '../runtime/train/run/settings.ts';
import { loadBackend, withScan } from '../runtime/train/run/backends.ts';
import type { Checkpoint, HistoryPoint } from '../runtime/train/io/checkpoint.ts';
import { loadCheckpoint, validateTable } from '../runtime/train/io/checkpoint.ts';
import type { Series } from '../runtime/train/io/curves.ts';
import { lineChart } from '../runtime/train/io/curves.ts';
import { beamDecode, generate, greedyDecode } from '../runtime/train/run/decode.ts';
import { NonFiniteError, TrainError } from '../runtime/train/errors.ts';
import { meanLoss } from '../runtime/train/run/evaluate.ts';
import type { RunConfig } from '../runtime/train/run/loop.ts';
import { checkRunLimits, checkSettings, modelFor, prepareBackends, train } from '../runtime/train/run/loop.ts';
import type { TrainCore } from '../runtime/train/run/core.ts';
import { defaultConfig } from '../runtime/train/run/core.ts';
import { chooseReadout } from '../runtime/train/model/fit.ts';
import type { Model } from '../runtime/train/model/model.ts';
import { formatDuration, reporter } from '../runtime/train/io/progress.ts';
import { getTask, TASKS } from '../runtime/train/data/tasks/index.ts';
import type { Task } from '../runtime/train/data/tasks/task.ts';
import type { Table } from '../runtime/train/tensor.ts';
import { argmax } from '../runtime/train/tensor.ts';
import { byName } from '../runtime/backend.ts';
import { makeBatch, runBatch } from '../runtime/train/model/topology.ts';
import { cellFrom, cellFromFile, maxMemoryOption, readTextFile, reporting, suggestion, UsageError } from './common.ts';
import { COMPARE, PREDICT, SAMPLE, TRAIN } from './commands.ts';
import { taskNamed } from './data.ts';
import { parseOptions } from './options.ts';
import { parseSchedule } from '../runtime/train/optim/schedule.ts';
import { scanOption as scanFlag } from './scan-option.ts';

/**
 * A command: a training failure (the cell, a file, a checkpoint) prints
 * `error: …` and exits 1. A setting the runtime refuses is a UsageError
 * (runtime/usage.ts), which cli/main.ts prints and maps to exit 2.
 */
function guarded(f: () => Promise<number> | number): Promise<number> {
  return reporting(async () => {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof TrainError)) throw e;
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
  });
}

// ------------------------------------------------------------------ settings

type Values = Partial<Record<string, string | boolean | string[] | undefined>>;

/** An option's text by the rules of its setting (runtime/train/run/settings.ts), or a UsageError saying what it must be. */
function parseValue(opt: string, text: string, kind: Kind): number | string {
  const r = parseSetting(text, kind);
  if ('problem' in r) throw new UsageError(`--${opt} ${r.problem}`);
  return r.value;
}

/** `--max-memory SIZE`: the memory limit in bytes, or undefined for the default (CELDA_MAX_MEMORY, else 4 GiB). */
const memoryLimit = (v: Values): number | undefined => maxMemoryOption(typeof v['max-memory'] === 'string' ? v['max-memory'] : undefined);

/** The settings the command line gives explicitly, as RunConfig fields. */
function explicitSettings(v: Values): Partial<Record<keyof RunConfig, unknown>> {
  const out: Partial<Record<keyof RunConfig, unknown>> = {};
  for (const s of SETTINGS) if (typeof v[s.opt] === 'string') out[s.key] = parseValue(s.opt, v[s.opt] as string, s.kind);
  if (typeof out.schedule === 'string') checkSchedule(out.schedule);
  if (v.bidirectional && v.unidirectional) throw new UsageError('--bidirectional and --unidirectional contradict each other');
  if (v.bidirectional) out.bidirectional = true;
  if (v.unidirectional) out.bidirectional = false;
  if (v['no-bucket']) out.bucket = false;
  if (v.dim) {
    const dims = byName<number>();
    for (const d of v.dim as string[]) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(d);
      if (!m) throw new UsageError(`--dim ${d}: expected NAME=N, like --dim n_k=16`);
      dims[m[1]!] = parseValue(`dim ${m[1]}`, m[2]!, { int: 1, max: MAX_COUNT }) as number;
    }
    out.dims = dims;
  }
  return out;
}

/** The schedules `--schedule` takes, by the word before the first `:`. */
const SCHEDULES = ['constant', 'cosine', 'step'];

/** `--schedule S` checked on the command line (exit 2), with "did you mean" for its word. */
function checkSchedule(text: string): void {
  const problem = parseSchedule(text, 1, 0);
  if (typeof problem !== 'string') return;
  const word = text.split(':')[0]!;
  throw new UsageError(SCHEDULES.includes(word) ? problem : `--schedule must be constant, cosine[:DECAY_STEPS[:FLOOR]] or step:EVERY:GAMMA, not \`${printable(text)}\`${suggestion(word, SCHEDULES)}`);
}

/** `--readout NAME` names a state or an output of the cell, or is refused with a did-you-mean (exit 2). */
function checkReadout(readout: string | undefined, cells: readonly CompiledCell[]): void {
  if (readout === undefined) return;
  for (const c of cells) {
    const names = [...c.typed.states.map((s) => s.name), ...c.typed.outputs.map((o) => o.name)];
    if (!names.includes(readout)) throw new UsageError(`--readout ${printable(readout)}: cell ${c.name} has no state or output \`${printable(readout)}\` (it has ${names.join(', ')})${suggestion(readout, names)}`);
  }
}

/**
 * `CELDA_MAX_STEPS=N` (the environment): every run stops after at most N steps,
 * said on stderr. For a quick look at a documented command; the docs' own test
 * runs every training of the docs so (test/docs/).
 */
function capSteps(config: RunConfig): RunConfig {
  const cap = quickRun();
  if (cap === undefined) return config;
  process.stderr.write(`note: CELDA_MAX_STEPS=${cap}: a quick run${config.steps > cap ? `, stopped at step ${cap}, not ${config.steps}` : ''}; its final metrics use ${config.evalSize} validation examples, not the whole split\n`);
  return config.steps > cap ? { ...config, steps: cap } : config;
}

/** CELDA_MAX_STEPS as a number, or undefined when it is not set. */
function quickRun(): number | undefined {
  const env = process.env.CELDA_MAX_STEPS;
  if (env === undefined || env === '') return undefined;
  const r = parseSetting(env, STEPS.kind);
  if ('problem' in r) throw new UsageError(`CELDA_MAX_STEPS ${r.problem}`);
  return r.value as number;
}

/** `n` items spread evenly over a list (the periodic evaluation's choice: runtime/train/run/loop.ts). */
const spread = <T>(xs: readonly T[], n: number): T[] => {
  const stride = Math.max(1, xs.length / n);
  return Array.from({ length: Math.min(n, xs.length) }, (_, i) => xs[Math.floor(i * stride)]!);
};

/** `--dim NAME=N` names a dimension of the cells, or is refused with a did-you-mean (it was silently ignored). */
function checkDimNames(dims: Readonly<Record<string, number>> | undefined, cells: readonly CompiledCell[]): void {
  const known = [...new Set(cells.flatMap((c) => c.typed.dims))];
  for (const k of Object.keys(dims ?? {})) {
    if (known.includes(k)) continue;
    throw new UsageError(`--dim ${printable(k)}: ${cells.map((c) => c.name).join(', ')} ${cells.length === 1 ? 'has' : 'have'} no dimension \`${printable(k)}\` (dimensions: ${known.join(', ') || 'none'})${suggestion(k, known)}`);
  }
}

/** --steps N or --epochs N (counted on the training split); undefined if neither. */
function stepsFrom(v: Values, task: Task, batch: number): number | undefined {
  if (v.steps !== undefined && v.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  if (typeof v.steps === 'string') return parseValue('steps', v.steps, STEPS.kind) as number;
  if (typeof v.epochs === 'string') {
    const e = parseValue('epochs', v.epochs, { num: 0 }) as number;
    const steps = Math.ceil(e * Math.floor(task.load().train.length / batch));
    if (settingProblem(STEPS.kind, steps) !== null) throw new UsageError(`--epochs ${v.epochs} makes ${steps} steps, more than the most a run takes (${MAX_STEPS})`);
    return steps;
  }
  return undefined;
}

/** `--no-scan`: the js or gpujs backend with the sequential lowering of linear recurrences; `--scan log`: gpu.js's scan in log space. */
function scanOption<B extends { name: string; factory: BackendFactory }>(b: B, v: Values): B & { scan?: BackendOptions['scan'] } {
  if (!v['no-scan'] && v.scan === undefined) return b;
  return withScan(b, scanFlag(v.scan as string | undefined, v['no-scan'] === true, b.name.startsWith('js') ? 'js' : b.name));
}

/**
 * `--backend` and `--precision`: the name of the backend for loadBackend. The
 * generated JavaScript (`--backend js`, the default) in float32 with its products
 * and fused loops in WebAssembly SIMD (`js-f32`) unless `--precision f64` asks for
 * the same module in float64 (`js`, the reference precision, about 4× slower).
 */
function backendName(v: Values): string | undefined {
  const backend = v.backend as string | undefined, precision = v.precision as string | undefined;
  if (precision !== undefined && precision !== 'f64' && precision !== 'f32') throw new UsageError(`--precision must be f64 or f32, not \`${precision}\``);
  if (backend === undefined || backend === 'js') return precision === 'f64' ? 'js' : 'js-f32';
  if (precision === undefined || (backend === 'js-f32' && precision === 'f32')) return backend;
  throw new UsageError(`--precision ${precision} is for --backend js (${backend === 'js-f32' ? 'js-f32 is float32' : backend === 'gpujs' ? 'gpu.js computes in float32 only' : backend === 'interp' ? 'the interpreter is float64 only' : `no backend \`${backend}\``})`);
}

// ------------------------------------------------------------------ cells

// ------------------------------------------------------------------ one run

interface Summary {
  task: string;
  cell: string;
  steps: number;
  seconds: number;
  /** CPU time of all threads (user + system): what the run costs when the machine is shared. */
  cpu_seconds: number;
  metrics: Record<string, number>;
  backend: string;
  out: string;
  /** Wall time of one training step (evaluations and saves left out), milliseconds. */
  ms_per_step?: number;
}

interface RunRequest {
  readonly task: Task;
  readonly cell: CompiledCell;
  readonly config: RunConfig;
  readonly backend: { name: string; factory: BackendFactory; scan?: BackendOptions['scan'] };
  readonly out: string;
  /** The run's core, its settings and limits checked (TrainInput.checked). */
  readonly checked?: TrainCore;
  readonly resume?: Checkpoint;
  /** Where `resume` was read from, and whether a checkpoint already in `out` may be overwritten. */
  readonly resumeDir?: string;
  readonly force?: boolean;
  readonly saveEvery?: number;
  readonly quiet?: boolean;
  readonly label?: string;
  readonly maxBytes?: number;
}

function writeCurves(dir: string, history: readonly HistoryPoint[], title: string): void {
  const loss: Series = { label: 'train loss', points: history.filter((h) => h.loss !== undefined).map((h) => [h.step, h.loss!]) };
  writeFileSync(join(dir, 'loss.svg'), lineChart(`${title}: training loss`, 'step', [loss]));
  const keys = [...new Set(history.flatMap((h) => Object.keys(h.metrics ?? {})))];
  const series = keys.map((k) => ({ label: k, points: history.filter((h) => h.metrics?.[k] !== undefined).map((h) => [h.step, h.metrics![k]!] as const) }));
  writeFileSync(join(dir, 'metrics.svg'), lineChart(`${title}: validation metrics`, 'step', series));
}

async function runOne(r: RunRequest): Promise<{ summary: Summary; history: readonly HistoryPoint[]; model: Model; params: Table }> {
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  const { task, cell, config } = r;
  const startStep = r.resume?.step ?? 0;
  const rep = reporter({ tty: !!process.stderr.isTTY, watch: task.watch.name, startStep, total: config.steps, quiet: r.quiet });
  if (r.label) rep.note(r.label);
  let result;
  // Time per training step: the gaps between consecutive steps, except those an evaluation or save falls in.
  let last: number | undefined, busy = false, stepMs = 0, timed = 0;
  try {
    result = await train({ task, cell, config, factory: r.backend.factory, backendName: r.backend.name, ...(r.backend.scan !== undefined ? { scan: r.backend.scan } : {}), out: r.out, checked: r.checked, resume: r.resume, resumeDir: r.resumeDir, force: r.force, saveEvery: r.saveEvery ?? config.evalEvery, maxBytes: r.maxBytes }, {
      start: (model, params, step) => {
        const n = [...params.values()].reduce((k, t) => k + t.data.length, 0);
        const shape = `${config.layers > 1 ? `${config.layers} × ` : ''}${config.bidirectional ? 'bidirectional ' : ''}${cell.name}, hidden ${config.hidden}`;
        rep.note(`${task.name} (${task.topology}): ${shape}, ${model.head.source === 'cell' ? 'the cell’s ŷ' : 'a runtime'} head, ${n} parameters; backend ${r.backend.name}, ${config.threads} thread${config.threads === 1 ? '' : 's'}; steps ${step}→${config.steps}`);
      },
      step: (p) => {
        const now = performance.now();
        if (last !== undefined && !busy) { stepMs += now - last; timed++; }
        last = now; busy = false;
        rep.step(p);
      },
      eval: (step, m) => { busy = true; rep.eval(step, m); },
      saved: () => { busy = true; },
    });
  } finally {
    rep.stop();
  }
  const data = task.load();
  // a quick run (CELDA_MAX_STEPS) takes its final metrics on the periodic evaluation's examples, not the whole split
  const val = quickRun() ? spread(data.val, config.evalSize) : data.val;
  const metrics = task.metrics({ model: result.model, params: result.params }, val, data.train);
  const cpu = process.cpuUsage(cpu0);
  const summary: Summary = {
    task: task.name, cell: cell.name, steps: result.step, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)), metrics, backend: r.backend.name, out: r.out,
    ...(timed > 0 ? { ms_per_step: Number((stepMs / timed).toFixed(2)) } : {}),
  };
  withFiles(`cannot write the run's curves and summary in ${r.out}`, () => {
    writeCurves(r.out, result.history, `${task.name} · ${cell.name}`);
    writeFileSync(join(r.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  });
  return { summary, history: result.history, model: result.model, params: result.params };
}

/** Settings for a fresh run: the task's defaults, then the command line. */
function freshConfig(task: Task, v: Values): RunConfig {
  const given = explicitSettings(v);
  const base = defaultConfig(task, given as Partial<RunConfig>);
  const steps = stepsFrom(v, task, base.batch);
  return { ...base, steps: steps ?? base.steps };
}

// ------------------------------------------------------------------ commands

export function trainCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values: v, positionals } = parseOptions(argv, TRAIN) as { values: Values & { cell?: string; resume?: string }; positionals: string[] };
    if (v.report) throw new UsageError('--report is for celda compare');
    if (positionals.length > 1) throw new UsageError(`expected one task, got ${positionals.join(' ')}`);
    let resume: Checkpoint | undefined;
    let config: RunConfig, cell: CompiledCell, task: Task;
    if (v.resume) {
      resume = loadCheckpoint(checkpointDir(v.resume));
      if (resume.recovered) process.stderr.write(`note: ${resume.recovered}\n`);
      const saved = validateConfig(resume.config, join(v.resume, 'model.safetensors'));
      if (positionals[0] && positionals[0] !== saved.task) throw new UsageError(`the checkpoint in ${v.resume} is for task ${saved.task}, not ${positionals[0]}`);
      task = getTask(saved.task);
      const given = explicitSettings(v);
      for (const [k, val] of Object.entries(given)) {
        if (JSON.stringify(val) !== JSON.stringify((saved as unknown as Record<string, unknown>)[k])) {
          const opt = SETTINGS.find((s) => s.key === k)?.opt ?? k;
          throw new UsageError(`--${opt} ${JSON.stringify(val)} differs from the checkpoint's ${JSON.stringify((saved as unknown as Record<string, unknown>)[k])}; a resumed run keeps its settings (only --steps/--epochs, --out and --backend may change)`);
        }
      }
      config = { ...saved, steps: stepsFrom(v, task, saved.batch) ?? saved.steps };
      cell = v.cell ? cellFromFile(v.cell, v['cell-name'] as string | undefined, '--cell-name') : cellFrom(resume.cellSource, `${v.resume}/cell.celda`, resume.cellName || undefined, '--cell-name');
    } else {
      if (positionals.length !== 1) throw new UsageError(`celda train needs a task (${Object.keys(TASKS).join(', ')})`);
      task = taskNamed(positionals[0]!);
      if (!v.cell) throw new UsageError('celda train needs --cell FILE');
      cell = cellFromFile(v.cell, v['cell-name'] as string | undefined, '--cell-name');
      config = freshConfig(task, v);
      checkDimNames(config.dims, [cell]);
      checkReadout(config.readout, [cell]);
    }
    config = capSteps(config);
    const backend = scanOption(await loadBackend(backendName(v)), v);
    const out = (v.out as string | undefined) ?? v.resume ?? join('runs', `${task.name}-${cell.name}`);
    const maxBytes = memoryLimit(v);
    const saveEvery = typeof v['save-every'] === 'string' ? (parseValue('save-every', v['save-every'], { int: 1 }) as number) : undefined;
    // a refused setting, or a run over a memory limit, leaves no directory behind
    const checked = checkSettings(task, cell, config, backend.factory);
    checkRunLimits(task, cell, config, checked.model, backend.name, maxBytes);
    ensureDir(out);
    let run;
    try {
      run = await runOne({ task, cell, config, backend, out, checked, resume, resumeDir: v.resume as string | undefined, force: !!v.force, saveEvery, quiet: !!v.quiet, maxBytes });
    } catch (e) {
      if (e instanceof NonFiniteError) { process.stderr.write(`error: ${e.message}\n`); return 1; }
      throw e;
    }
    if (task.topology === 'one-to-many') {
      const n = typeof v.samples === 'string' ? (parseValue('samples', v.samples, { int: 0, max: MAX_COUNT }) as number) : 10;
      checkRunMemory(`sampling ${n} sequences`, samplingBytes(run.model, n, 32), maxBytes);
      const samples = generate(run.model, run.params, n, new Rng(config.seed), { temperature: 1, topK: 0, greedy: false, maxLen: 32, eos: task.eos! });
      // on stderr, as the progress: stdout carries only the result, the JSON line below
      if (n > 0) process.stderr.write(`samples: ${samples.map((s) => JSON.stringify(task.show(null, s))).join(', ')}\n`);
    }
    const s = run.summary;
    process.stdout.write(JSON.stringify({ task: s.task, cell: s.cell, steps: s.steps, seconds: s.seconds, metrics: s.metrics, cpu_seconds: s.cpu_seconds, backend: s.backend, out: s.out }) + '\n');
    return 0;
  });
}

/** A checkpoint directory named on the command line: one that does not exist is a usage error (exit 2), with what makes one. */
function checkpointDir(dir: string): string {
  if (!existsSync(dir)) throw new UsageError(`no checkpoint directory ${printable(dir)}: it does not exist (celda train TASK --cell FILE writes one, in runs/TASK-CELL unless --out DIR)`);
  return dir;
}

/** A checkpoint, its task and cell, and the model with its parameters loaded and checked. */
async function restore(dir: string, v: Values) {
  const ck = loadCheckpoint(checkpointDir(dir));
  const config = validateConfig(ck.config, join(dir, 'model.safetensors'));
  const task = getTask(config.task);
  const cell = cellFrom(ck.cellSource, join(dir, 'cell.celda'), ck.cellName || undefined, '--cell-name');
  const backend = await loadBackend(backendName(v));
  const model = modelFor(task, cell, config, backend.factory);
  validateTable(`the parameters in ${dir}`, ck.params, model.shapes);
  return { ck, config, task, cell, model, params: ck.params, maxBytes: memoryLimit(v) };
}

/**
 * `celda sample`'s line for a sample whose first token was the end (a barely
 * trained run draws many), and `celda predict`'s field for such a g2p
 * prediction: said in words, where an empty line or field reads as a failure.
 * No name or phoneme holds its parentheses or colon, so it is never a sample itself.
 */
export const EMPTY_SAMPLE = '(empty: the model ended the sequence at once)';

export function sampleCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values: v, positionals } = parseOptions(argv, SAMPLE);
    if (positionals.length !== 1) throw new UsageError('celda sample needs one checkpoint directory');
    // --greedy takes the likeliest token: a temperature or a top-k would be silently ignored
    for (const o of ['temperature', 'top-k'] as const) if (v.greedy && v[o] !== undefined) throw new UsageError(`--greedy always takes the likeliest token, so --${o} would be ignored: give one or the other`);
    // the command line first (exit 2), then the checkpoint it names (exit 1)
    const num = (name: string, text: string | undefined, def: number, kind: Kind) => (text === undefined ? def : (parseValue(name, text, kind) as number));
    const temperature = num('temperature', v.temperature, 1, { num: 0 });
    if (temperature === 0) throw new UsageError('--temperature must be > 0 (use --greedy for the likeliest sequence)');
    const n = num('n', v.n, 10, { int: 1, max: MAX_COUNT }), maxLen = num('max-len', v['max-len'], 32, { int: 1, max: MAX_COUNT });
    const seed = num('seed', v.seed, 0, { int: 0, max: MAX_SEED }), topK = num('top-k', v['top-k'], 0, { int: 0, max: MAX_COUNT });
    const r = await restore(positionals[0]!, v);
    if (r.task.topology !== 'one-to-many') throw new UsageError(`celda sample generates from nothing (one-to-many); task ${r.task.name} is ${r.task.topology}: use celda predict`);
    checkRunMemory(`sampling ${n} sequence${n === 1 ? '' : 's'} of up to ${maxLen} tokens`, samplingBytes(r.model, n, maxLen), r.maxBytes);
    const out = generate(r.model, r.params, n, new Rng(seed), { temperature, topK, greedy: !!v.greedy, maxLen, eos: r.task.eos! });
    for (const s of out) process.stdout.write((s.length === 0 ? EMPTY_SAMPLE : r.task.show(null, s)) + '\n');
    return 0;
  });
}

export function predictCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values: v, positionals } = parseOptions(argv, PREDICT);
    if (positionals.length < 1) throw new UsageError('celda predict needs a checkpoint directory, then inputs (or lines on stdin)');
    // the command line first (exit 2), then the checkpoint it names (exit 1)
    const beam = v.beam === undefined ? 1 : (parseValue('beam', v.beam, { int: 1, max: MAX_COUNT }) as number);
    const maxLen = v['max-len'] === undefined ? 32 : (parseValue('max-len', v['max-len'], { int: 1, max: MAX_COUNT }) as number);
    const r = await restore(positionals[0]!, v);
    const inputs = positionals.length > 1 ? positionals.slice(1) : readTextFile('-', 'standard input').split('\n').filter((l) => l.trim() !== '');
    if (beam > 1 && r.task.topology !== 'encoder-decoder') throw new UsageError('--beam is for encoder–decoder tasks');
    const { model, params, task } = r;
    const K = model.head.size === 1 ? 2 : model.head.size;
    for (const text of inputs) {
      const src = task.parseInput(text);
      if (src.length === 0) throw new UsageError(`empty input \`${text}\``);
      checkRunMemory(`predicting for an input of ${src.length} tokens${beam > 1 ? ` with a beam of ${beam}` : ''}, up to ${maxLen} output tokens`, decodingBytes(model, beam, src.length, maxLen), r.maxBytes);
      switch (task.topology) {
        case 'one-to-many': {
          const nll = meanLoss(model, params, [{ y: Int32Array.from([...src, task.eos!]) }], 1);
          process.stdout.write(`${task.show(null, src)}\t${nll.toFixed(4)} nats/char\n`);
          break;
        }
        case 'many-to-one': {
          const res = runBatch(model, params, makeBatch(model, [{ x: src, y: Int32Array.of(0) }]), null, { logProbs: true });
          const c = argmax(res.logProbs!, 0, K);
          process.stdout.write(`${task.show(src, Int32Array.of(c))}\t${Math.exp(res.logProbs![c]!).toFixed(3)}\n`);
          break;
        }
        case 'many-to-many': {
          const res = runBatch(model, params, makeBatch(model, [{ x: src, y: new Int32Array(src.length) }]), null, { logProbs: true });
          process.stdout.write(task.show(src, Int32Array.from(src, (_, t) => argmax(res.logProbs!, t * K, K))) + '\n');
          break;
        }
        case 'encoder-decoder': {
          const out = beam > 1 ? beamDecode(model, params, src, beam, maxLen, task.eos!) : greedyDecode(model, params, [src], maxLen, task.eos!)[0]!;
          process.stdout.write(task.show(src, out) + (out.length === 0 ? EMPTY_SAMPLE : '') + '\n');
          break;
        }
      }
    }
    return 0;
  });
}

/**
 * The value a compared cell's head reads. `--readout` when given; otherwise the
 * runtime's own choice (`a^<t>`, or the only state) — and for a cell with
 * several states and no `a^<t>` (an sLSTM's c, n, m, h), its `h`, else its `y`,
 * so that one command compares cells that name their output as their papers do.
 */
function compareReadout(cell: CompiledCell, given: string | undefined): string | undefined {
  if (given !== undefined) return given;
  try {
    chooseReadout(cell);
    return undefined;
  } catch {
    return ['h', 'y'].find((n) => { try { chooseReadout(cell, n); return true; } catch { return false; } });
  }
}

interface CompareRow {
  file: string;
  cell: string;
  params?: number;
  summary?: Summary;
  error?: string;
  /** `yes`, `no: NaN guard`, `failed`, or `no: loss diverged` (the last logged training loss a quarter above the first). */
  stable: string;
  history: readonly HistoryPoint[];
}

function stability(history: readonly HistoryPoint[], error?: { nonFinite: boolean; message: string }): string {
  // the reason itself is in the table once, in the first metric's column
  if (error) return error.nonFinite ? 'no: NaN guard' : 'failed';
  const losses = history.map((h) => h.loss).filter((l): l is number => l !== undefined);
  if (losses.some((l) => !Number.isFinite(l))) return 'no: non-finite loss';
  // A quarter above the first logged loss: noise early in a short run stays below it
  if (losses.length >= 2 && losses.at(-1)! > 1.25 * losses[0]!) return `no: loss diverged (${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)})`;
  return 'yes';
}

/** The markdown table of a comparison: per cell its parameters, metrics, speed and stability. */
function compareTable(rows: readonly CompareRow[], watch: string): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.summary?.metrics ?? {})))];
  if (keys.length === 0) keys.push(watch);
  const header = ['cell', 'file', 'params', 'steps', 'seconds', ...keys, 'ms/step', 'stable'];
  const cellsOf = (r: CompareRow) => [
    r.cell, r.file, r.params ?? '–', r.summary?.steps ?? '–', r.summary?.seconds ?? '–',
    // a failed cell's reason once, in the first metric's column
    ...keys.map((k, i) => (r.summary ? r.summary.metrics[k]?.toFixed(4) ?? '–' : i === 0 ? `failed: ${r.error!.split('\n')[0]!.replace(/\|/g, '\\|')}` : '–')),
    r.summary?.ms_per_step ?? '–', r.stable,
  ];
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cellsOf(r).join(' | ')} |`)].join('\n');
}

/**
 * `--report FILE`: the comparison as a section of a markdown file, between
 * markers naming the task, so comparisons on several tasks fill one file
 * (docs/zoo.md) and a rerun replaces its own section; text outside the
 * markers is kept. Its curves are written next to it (FILE-TASK-loss.svg …).
 */
function writeReportSection(file: string, task: Task, body: (svg: (name: string) => string) => string, charts: Record<string, string>): void {
  const stem = basename(file).replace(/\.md$/, '');
  const svg = (name: string) => `${stem}-${task.name}-${name}.svg`;
  for (const [name, content] of Object.entries(charts)) writeFileSync(join(dirname(file), svg(name)), content);
  const begin = `<!-- celda compare ${task.name}: begin (generated; rerun the command below to update) -->`, end = `<!-- celda compare ${task.name}: end -->`;
  const section = `${begin}\n${body(svg)}\n${end}`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = old.indexOf(begin), j = old.indexOf(end);
  const text = i >= 0 && j > i ? old.slice(0, i) + section + old.slice(j + end.length) : `${old}${old && !old.endsWith('\n\n') ? (old.endsWith('\n') ? '\n' : '\n\n') : ''}${section}\n`;
  writeFileSync(file, text);
}

export function compareCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values: v, positionals } = parseOptions(argv, COMPARE) as { values: Values & { cells?: string[] }; positionals: string[] };
    if (positionals.length < 1) throw new UsageError(`celda compare needs a task (${Object.keys(TASKS).join(', ')}) and --cells`);
    const task = taskNamed(positionals[0]!);
    const files = [...(v.cells ?? []), ...positionals.slice(1)];
    if (files.length < 1) throw new UsageError('celda compare needs --cells a.celda b.celda …');
    const config = capSteps(freshConfig(task, v));
    const backend = scanOption(await loadBackend(backendName(v)), v);
    const out = (v.out as string | undefined) ?? join('runs', `compare-${task.name}`);
    const report = v.report as string | undefined;
    if (report !== undefined && !existsSync(dirname(report) || '.')) throw new UsageError(`--report ${report}: the directory ${dirname(report)} does not exist`);
    const maxBytes = memoryLimit(v);
    const cells = files.map((f) => ({ file: f, cell: cellFromFile(f, v['cell-name'] as string | undefined, '--cell-name') }));
    checkDimNames(config.dims, cells.map((c) => c.cell));
    checkReadout(config.readout, cells.map((c) => c.cell));
    const configOf = (cell: CompiledCell): RunConfig => {
      const readout = compareReadout(cell, config.readout);
      return readout === undefined ? config : { ...config, readout };
    };
    // Every cell's settings before the first trains: a refused one stops the comparison (exit 2), it is no failed row.
    // The core each check makes is the one its run trains (TrainInput.checked): each model is built once. A cell that
    // cannot fit the task (a TrainError) fails its row when its turn comes, as does one over the memory limit.
    // So every cell's core (its parameters, optimiser state and, on gpujs, its planned kernels) is held until its turn:
    // the memory limit is checked per cell, and a comparison is of a few cells.
    const checked: (TrainCore | TrainError | undefined)[] = cells.map(({ cell }) => {
      try {
        const core = checkSettings(task, cell, configOf(cell), backend.factory);
        if (backend.name === 'gpujs') prepareBackends(core.model, config);
        return core;
      } catch (e) {
        if (!(e instanceof TrainError)) throw e;
        return e;
      }
    });
    ensureDir(out);
    const rows: CompareRow[] = [];
    const used = new Set<string>();
    for (const [i, { file, cell }] of cells.entries()) {
      let dirName = cell.name;
      for (let k = 2; used.has(dirName); k++) dirName = `${cell.name}_${k}`;
      used.add(dirName);
      const cellConfig = configOf(cell);
      const core = checked[i]!;
      checked[i] = undefined; // its run holds it from here; the comparison need not
      try {
        if (core instanceof TrainError) throw core;
        checkRunLimits(task, cell, cellConfig, core.model, backend.name, maxBytes);
        const run = await runOne({ task, cell, config: cellConfig, backend, out: join(out, dirName), checked: core, force: !!v.force, quiet: !!v.quiet, maxBytes, label: `[${i + 1}/${cells.length}] ${cell.name} (${file})` });
        const params = [...run.params.values()].reduce((n, t) => n + t.data.length, 0);
        rows.push({ file, cell: cell.name, params, summary: run.summary, history: run.history, stable: stability(run.history) });
        process.stderr.write(`${cell.name}: ${JSON.stringify(run.summary.metrics)} in ${formatDuration(run.summary.seconds)}\n`);
      } catch (e) {
        // a cell that fails to train, or needs more memory than the limit, is a row of the table; the others still run.
        // So is a refusal met only now (every setting was checked above): a training thread's, from a backend the main
        // thread's check accepted — the rows before it keep their report.
        if (!(e instanceof TrainError) && !(e instanceof LimitError) && !(e instanceof UsageError)) throw e;
        rows.push({ file, cell: cell.name, error: e.message, history: [], stable: stability([], { nonFinite: e instanceof NonFiniteError, message: e.message }) });
        process.stderr.write(`${cell.name}: failed: ${e.message}\n`);
      }
    }
    const w = task.watch.name;
    const table = compareTable(rows, w);
    const lossSeries = rows.map((r) => ({ label: r.cell, points: r.history.filter((h) => h.loss !== undefined).map((h) => [h.step, h.loss!] as const) }));
    const metricSeries = rows.map((r) => ({ label: r.cell, points: r.history.filter((h) => h.metrics?.[w] !== undefined).map((h) => [h.step, h.metrics![w]!] as const) }));
    const charts = { loss: lineChart(`${task.name}: training loss`, 'step', lossSeries), [w]: lineChart(`${task.name}: validation ${w}`, 'step', metricSeries) };
    const settings = Object.entries(config).filter(([k]) => k !== 'task').map(([k, val]) => `${k}=${JSON.stringify(val)}`).join(' ');
    const body = (svg: (name: string) => string) => [
      `## ${task.name}: ${rows.length} cells, same seed and budget`, '',
      `${task.summary}. Backend ${backend.name}; settings: ${settings}. \`ms/step\` is the wall time of one training step (evaluations and saves left out); \`stable\` says whether training stopped at the NaN guard or its logged loss ended more than a quarter above where it began.`, '',
      `    celda compare ${argv.map((a) => (/^[\w./=:,-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`, '',
      table, '',
      `![training loss](${svg('loss')})`, '', `![validation ${w}](${svg(w)})`,
    ].join('\n');
    withFiles(`cannot write the report in ${out}`, () => {
      for (const [name, content] of Object.entries(charts)) writeFileSync(join(out, `${name}.svg`), content);
      writeFileSync(join(out, 'report.md'), `# ${task.name}\n\n${body((name) => `${name}.svg`).replace(/^## .*\n\n/, '')}\n`);
      writeFileSync(join(out, 'report.json'), JSON.stringify({ task: task.name, config, rows: rows.map(({ history: _h, ...r }) => r) }, null, 2) + '\n');
    });
    if (report !== undefined) withFiles(`cannot write the report ${report}`, () => writeReportSection(report, task, body, charts));
    process.stdout.write(`${table}\n\nreport: ${join(out, 'report.md')}${report !== undefined ? `, ${report} (section ${task.name}; curves ${join(dirname(report), basename(report).replace(/\.md$/, ''))}-${task.name}-*.svg)` : ''}\n`);
    return rows.some((r) => r.error) ? 1 : 0;
  });
}
