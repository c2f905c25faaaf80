// The browser side of the gpu.js tests, bundled by esbuild from the same
// TypeScript sources as the CLI: compile a cell, run it on a gpu.js mode,
// hand the numbers back to the test (as plain arrays, to cross page.evaluate).

import { GPU } from 'gpu.js';
import { compile } from '../../compiler/compile.ts';
import type { Vec } from '../../runtime/backend.ts';
import type { GpuMode } from '../../runtime/backends/gpujs.ts';
import { gpujsBackend, softwareRenderer } from '../../runtime/backends/gpujs.ts';
import type { CaseData, CaseResult } from './cases.ts';
import { profileScan, scanStep } from './profile.ts';

const f64 = (r: Readonly<Record<string, readonly number[]>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
const plain = (r: Readonly<Record<string, Vec>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

/** `maxExtent`: a tighter limit on kernel outputs than the device's (a scan then runs in segments); `quad`: PlanOptions.quad, on or off rather than the mode's default. */
async function run(c: CaseData, mode: GpuMode, maxExtent?: number, quad?: boolean): Promise<CaseResult> {
  const { cells, diagnostics } = compile(c.source, { defaultCellName: 'cell' });
  const cell = cells[0];
  if (!cell) throw new Error(`does not compile: ${diagnostics.map((d) => d.message).join('; ')}`);
  const backend = await gpujsBackend(cell, { dims: c.dims, batch: c.batch, mode, ...(maxExtent ? { limits: { maxExtent } } : {}), ...(quad !== undefined ? { quad } : {}) });
  const fwd = await backend.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
  const info = backend.lastRun();
  const grads = await backend.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
  const l = backend.launches();
  return {
    scanned: [!!l.forward?.scan, !!l.backward?.scan],
    launches: [l.forward?.launches ?? 0, l.backward?.launches ?? 0],
    states: plain(fwd.states), outputs: plain(fwd.outputs),
    grads: { params: plain(grads.params), inputs: plain(grads.inputs), init: plain(grads.init) },
    runs: [info!, backend.lastRun()!],
  };
}

async function probe() {
  return { webgl2: GPU.isWebGL2Supported, webgpu: GPU.isWebGPUSupported && (await GPU.isWebGPUAvailable()), ua: navigator.userAgent };
}

async function time(c: CaseData, mode: GpuMode, repeats: number): Promise<{ forward: number; backward: number }> {
  const cell = compile(c.source, { defaultCellName: 'cell' }).cells[0]!;
  const backend = await gpujsBackend(cell, { dims: c.dims, batch: c.batch, mode });
  const P = f64(c.params), X = f64(c.inputs), I = f64(c.init), cot = { states: f64(c.cot.states), outputs: f64(c.cot.outputs) };
  await backend.forward(c.steps, P, X, I);
  await backend.backward(cot, { inputs: false });
  let forward = 0, backward = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await backend.forward(c.steps, P, X, I);
    const t1 = performance.now();
    await backend.backward(cot, { inputs: false });
    forward += t1 - t0;
    backward += performance.now() - t1;
  }
  return { forward: forward / repeats, backward: backward / repeats };
}

/** One training step of a cell (profile.ts scanStep), with or without scans: ms per step over `repeats` after one warm-up, and the kernel launches. */
async function timeScan(source: string, dims: Record<string, number>, batch: number, steps: number, mode: GpuMode, repeats: number, scan: boolean | 'log'): Promise<{ ms: number; launches: number; scanned: boolean }> {
  const { backend, forward, backward } = await scanStep(source, dims, batch, steps, mode, scan);
  const step = async () => {
    await forward();
    await backward();
  };
  await step();
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) await step();
  const l = backend.launches();
  return { ms: (performance.now() - t0) / repeats, launches: (l.forward?.launches ?? 0) + (l.backward?.launches ?? 0), scanned: !!(l.forward?.scan && l.backward?.scan) };
}

/**
 * gpu.js alone (patches/gpu.js+2.24.1.patch): a kernel returning Array(4) in
 * pipeline mode, its result passed to a second kernel that reads each element
 * as four floats, called directly and inside a recorded pipeline (on WebGPU the
 * fused encoder). [2 × 3] elements, element (y, x) = [x + 3y, 10·…, 100·…, 1000·…].
 */
async function vec4Arguments(mode: GpuMode): Promise<{ direct: number[][]; piped: number[][]; executor: string; declared: string }> {
  const gpu = new GPU({ mode });
  try {
    const settings = { output: [3, 2], pipeline: true, immutable: true, precision: 'single' as const };
    const quad = gpu.createKernel(function (this: { thread: { x: number; y: number } }, x: number[][]) {
      const v = x[this.thread.y][this.thread.x];
      return [v, 10 * v, 100 * v, 1000 * v];
    }, settings);
    const read = gpu.createKernel(function (this: { thread: { x: number; y: number } }, q: number[][][]) {
      const e = q[this.thread.y][this.thread.x];
      return e[0] + e[1] + e[2] + e[3] + this.thread.x;
    }, settings);
    const x = [[0, 1, 2], [3, 4, 5]];
    const rows = (r: unknown) => Array.from(r as ArrayLike<ArrayLike<number>>, (row) => Array.from(row));
    const call = (k: unknown, a: unknown) => (k as (a: unknown) => unknown)(a);
    const direct = rows(await (await call(read, await call(quad, x)) as { toArray(): Promise<unknown> }).toArray());
    const pipeline = (gpu.createPipeline as unknown as (fn: unknown) => ((...a: unknown[]) => Promise<Record<string, unknown>>) & { executorKind: string })(
      function (input: unknown) { return { out: call(read, call(quad, input)) }; });
    const piped = rows((await pipeline(x)).out);
    // a reader whose argument is declared a plain Array cannot take the four floats: refused, not read float by float
    const plainRead = gpu.createKernel(function (this: { thread: { x: number; y: number } }, q: number[][]) {
      return q[this.thread.y][this.thread.x];
    }, { ...settings, argumentTypes: { q: 'Array' } } as never);
    const declared = await (gpu.createPipeline as unknown as (fn: unknown) => (...a: unknown[]) => Promise<Record<string, unknown>>)(
      function (input: unknown) { return { out: call(plainRead, call(quad, input)) }; })(x).then(() => 'ran', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    return { direct, piped, executor: pipeline.executorKind, declared };
  } finally {
    gpu.destroy();
  }
}

(globalThis as { celda?: unknown }).celda = { run, probe, time, timeScan, profileScan, softwareRenderer, vec4Arguments };
document.title = 'celda gpu.js ready';
