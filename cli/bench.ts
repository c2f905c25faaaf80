// `celda bench CELL [--dims n_x=16,n_a=32] [--batch B] [--steps T] [--backend js|interp|gpujs]
// [--precision f32|f64] [--cell NAME]`: time one training step (forward over T
// steps, BPTT, parameter gradients) and print one JSON line
// {ms_per_step, tokens_per_s, gflops}. The median of repeated runs after warm-up.

import type { CompiledCell } from '../compiler/compile.ts';
import { stateShapeDims } from '../compiler/check/typed-cell.ts';
import { evalDim } from '../compiler/ir/dims.ts';
import { trainingStepFlops } from '../compiler/lower/cost.ts';
import type { CellBackend, Vec } from '../runtime/backend.ts';
import { interpBackend } from '../runtime/backends/interp.ts';
import { jsBackend } from '../runtime/backends/js.ts';
import { cellRunBytes, checkMemory, maxBytes, printable } from '../runtime/limits.ts';
import { Rng } from '../runtime/random.ts';
import { cellFromFile, maxMemoryOption, precisionOption, reporting, suggestion, UsageError } from './common.ts';
import { BENCH } from './commands.ts';
import { parseOptions } from './options.ts';
import { scanOption } from './scan-option.ts';

export interface Timing {
  /** Median milliseconds per run. */
  readonly ms: number;
  readonly runs: number;
}

/** Warm up (at least `warmup` runs and `warmupMs`), then time runs until `minRuns` and `minMs`; the median. */
export function measure(run: () => void, o: { warmup?: number; warmupMs?: number; minRuns?: number; minMs?: number; maxRuns?: number } = {}): Timing {
  const { warmup = 3, warmupMs = 500, minRuns = 7, minMs = 1500, maxRuns = 500 } = o;
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < warmupMs; i++) run();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < maxRuns && (times.length < minRuns || performance.now() - t0 < minMs)) {
    const s = performance.now();
    run();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return { ms: times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2, runs: times.length };
}

/** Seeded random parameters (scaled by 1/√fan-in), inputs and cotangents of every state and output. */
export function randomWorkload(cell: CompiledCell, dims: Readonly<Record<string, number>>, batch: number, steps: number, seed = 1) {
  const t = cell.typed;
  const rng = new Rng(seed);
  const size = (d: Parameters<typeof evalDim>[0]) => {
    const v = evalDim(d, dims);
    if (v === undefined) throw new UsageError(`dimension of ${cell.name} not given: ${d.terms.map(([n]) => n).join(', ')} (use --dims)`);
    return v;
  };
  const fill = (n: number, s: number) => Float64Array.from({ length: n }, () => s * rng.normal());
  const params: Record<string, Vec> = {};
  for (const p of t.params) {
    const shape = p.shape.map(size);
    params[p.name] = fill(shape.reduce((a, b) => a * b, 1), 1 / Math.sqrt(Math.max(1, shape[shape.length - 1] ?? 1)));
  }
  const inputs = Object.fromEntries(t.inputs.map((i) => [i.name, fill(steps * batch * size(i.dim), 1)]));
  const cot = {
    states: Object.fromEntries(t.states.map((s) => [s.name, fill(steps * batch * stateShapeDims(s).reduce((a, d) => a * size(d), 1), 0.1)])),
    outputs: Object.fromEntries(t.outputs.map((o) => [o.name, fill(steps * batch * o.shape.dims.reduce((a, d) => a * size(d), 1), 0.1)])),
  };
  return { params, inputs, cot };
}

export interface BenchResult {
  readonly ms_per_step: number;
  readonly tokens_per_s: number;
  readonly gflops: number;
}

/** One training step of a backend, timed: forward over `steps`, then BPTT. */
export function benchBackend(cell: CompiledCell, backend: CellBackend, dims: Readonly<Record<string, number>>, batch: number, steps: number, o: Parameters<typeof measure>[1] = {}): BenchResult {
  const w = randomWorkload(cell, dims, batch, steps);
  const { ms } = measure(() => {
    backend.forward(steps, w.params, w.inputs);
    backend.backward(w.cot);
  }, o);
  return {
    ms_per_step: ms,
    tokens_per_s: (steps * batch) / (ms / 1000),
    gflops: trainingStepFlops(cell, dims, batch, steps) / (ms * 1e6),
  };
}

function parseDims(text: string | undefined): Record<string, number> {
  // No prototype: a dimension named `constructor` is not found here unless given.
  const out = Object.create(null) as Record<string, number>;
  if (text === undefined) return out;
  for (const part of text.split(',').filter(Boolean)) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--dims: expected name=size pairs like n_x=16,n_a=32, got \`${printable(part)}\``);
    const n = Number(m[2]);
    if (!(n >= 1 && n <= MAX_SIZE)) throw new UsageError(`--dims: ${printable(m[1]!)} must be from 1 to ${MAX_SIZE}, not ${printable(m[2]!)}`);
    out[m[1]!] = n;
  }
  return out;
}

/** No size of a run (a dimension, the batch, the steps) goes past this: past it, the memory check names the need. */
const MAX_SIZE = 2 ** 31 - 1;

function positive(v: string | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a whole number ≥ 1, not \`${printable(v)}\``);
  if (n > MAX_SIZE) throw new UsageError(`${what} must be at most ${MAX_SIZE}, not ${printable(v)}`);
  return n;
}

export async function benchCommand(argv: string[]): Promise<number> {
  return reporting(async () => {
    const { values, positionals } = parseOptions(argv, BENCH);
    if (positionals.length !== 1) throw new UsageError(`celda bench needs one cell file, got ${positionals.length} (usage: celda bench CELL [options]; celda bench --help lists them)`);
    const limit = maxBytes(maxMemoryOption(values['max-memory']));
    const backendName = values.backend ?? 'js';
    if (backendName === 'gpujs' && values.precision === 'f64') throw new UsageError('gpu.js computes in float32 only: use --precision f32 (the default for gpujs)');
    // float32 with WebAssembly SIMD unless asked otherwise; the interpreter is float64 only
    const precision = precisionOption(values.precision, backendName === 'interp' ? 'f64' : 'f32');
    if (backendName === 'interp' && precision === 'f32') throw new UsageError('--precision f32 needs --backend js (the interpreter is float64)');
    const { simd, threads } = simdOptions(values['no-simd'], values.threads, backendName, precision);
    const scan = scanOption(values.scan, values['no-scan'], backendName);
    const batch = positive(values.batch, 1, '--batch');
    const cell = cellFromFile(positionals[0]!, values.cell);
    const t = cell.typed;
    const steps = t.mode === 'unrolled' ? t.steps : positive(values.steps, 32, '--steps');
    if (t.mode === 'unrolled' && values.steps !== undefined && Number(values.steps) !== t.steps) throw new UsageError(`${cell.name} is unrolled over ${t.steps} steps; --steps must be ${t.steps}`);
    const given = parseDims(values.dims);
    for (const k of Object.keys(given)) if (!t.dims.includes(k)) throw new UsageError(`--dims: ${cell.name} has no dimension \`${printable(k)}\` (its dimensions: ${t.dims.join(', ') || 'none'})${suggestion(k, t.dims)}`);
    const dims: Record<string, number> = {};
    const defaulted: string[] = [];
    for (const d of t.dims) {
      dims[d] = given[d] ?? t.dimDefaults[d] ?? 32;
      if (given[d] === undefined && t.dimDefaults[d] === undefined) defaulted.push(d);
    }
    if (defaulted.length) process.stderr.write(`note: ${defaulted.map((d) => `${d}=32`).join(', ')} (not given in --dims)\n`);
    // Before anything is allocated: the run's memory (the workload is float64, as the bound counts), against the limit.
    checkMemory(`benchmarking ${cell.name} over ${steps} step${steps === 1 ? '' : 's'} of ${batch} example${batch === 1 ? '' : 's'} (${Object.entries(dims).map(([k, v]) => `${k} = ${v}`).join(', ') || 'no dimensions'})`,
      cellRunBytes(cell, new Map(Object.entries(dims)), batch, steps), limit);
    // gpu.js loaded only when asked for; what it refuses is one line with a way out
    const gpujs = async () => {
      const { gpujsSyncRefusing } = await import('../runtime/backends/gpujs-refusals.ts');
      return gpujsSyncRefusing('--backend js runs the cell without gpu.js')(cell, { dims, batch, scan });
    };
    const backend = backendName === 'js' ? jsBackend(cell, { dims, batch, precision, simd, threads, scan })
      : backendName === 'gpujs' ? await gpujs()
      : interpBackend(cell, { dims, batch });
    if (backendName === 'js') process.stderr.write(`note: ${describeJs(backend)}\n`);
    const r = benchBackend(cell, backend, dims, batch, steps, backendName === 'interp' ? { warmup: 1, warmupMs: 0, minRuns: 3, minMs: 500 } : {});
    process.stdout.write(JSON.stringify({ ms_per_step: round(r.ms_per_step), tokens_per_s: round(r.tokens_per_s), gflops: round(r.gflops) }) + '\n');
    return 0;
  });
}

const round = (x: number) => Number(x.toPrecision(4));

/** More threads than this only add workers that wait. */
const MAX_THREADS = 64;

/** `--no-simd` and `--threads N`: the js backend's float32 products (float64 always runs plain JavaScript). */
export function simdOptions(noSimd: boolean | undefined, threadsText: string | undefined, backend: string, precision: 'f64' | 'f32'): { simd: boolean; threads: number | undefined } {
  if ((noSimd || threadsText !== undefined) && backend !== 'js') throw new UsageError(`${noSimd ? '--no-simd' : '--threads'} is for --backend js`);
  const threads = threadsText === undefined ? undefined : positive(threadsText, 1, '--threads');
  if (threads !== undefined && threads > MAX_THREADS) throw new UsageError(`--threads must be at most ${MAX_THREADS}, not ${threads}`);
  if (threads !== undefined && precision !== 'f32') throw new UsageError('--threads splits the WebAssembly SIMD products of --precision f32 (float64 runs plain JavaScript on one thread)');
  if (threads !== undefined && threads > 1 && noSimd) throw new UsageError('--threads needs the WebAssembly SIMD products (drop --no-simd)');
  return { simd: noSimd !== true, threads };
}

/** How the js backend runs: `float32, products and fused loops in WebAssembly SIMD on 2 threads`. */
export function describeJs(b: CellBackend): string {
  if (b.precision === 'f64') return 'js backend, float64 (plain JavaScript)';
  if (!b.simd) return 'js backend, float32, plain JavaScript products';
  return `js backend, float32, products${b.wasmLoops ? ' and fused loops' : ''} in WebAssembly SIMD${b.fma ? ' (relaxed-SIMD multiply-add)' : ''} on ${b.threads ?? 1} thread${(b.threads ?? 1) === 1 ? '' : 's'}`;
}
