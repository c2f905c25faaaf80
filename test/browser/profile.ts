// Per-kernel times of one gpu.js training step in the browser (bench/scan-profile.ts):
// the pipelines the backend records are replayed one kernel at a time, each
// waited for (WebGL2: gl.finish after each step of the generic executor;
// WebGPU: each compute pass of the fused encoder submitted alone and awaited),
// so the times say where a step goes. Waiting after every kernel adds a little
// per launch; the step's total is timed as it normally runs too.

import { GPU } from 'gpu.js';
import { compile } from '../../compiler/compile.ts';
import type { GpuMode } from '../../runtime/backends/gpujs.ts';
import { gpujsBackend } from '../../runtime/backends/gpujs.ts';
import { Rng } from '../../runtime/random.ts';

export interface KernelTime { readonly pass: string; readonly step: number; readonly output: readonly number[]; readonly ms: number; readonly source: string }
export interface Profile {
  /** ms of a normal step (forward, backward), then of the profiled one, and the parts of the profiled one outside kernels. */
  readonly normal: { forward: number; backward: number };
  readonly profiled: { forward: number; backward: number };
  readonly kernels: KernelTime[];
  /** Uploads of the pipeline's arguments and readback of its results, per pass. */
  readonly io: { pass: string; upload: number; readback: number }[];
}

interface PipelineLike {
  _executor: unknown;
  plan: { steps: { kernel: number; output: number[] }[]; kernels: { shortcut: { kernel: { source: string } } }[] } | null;
  _genericClone(plan: unknown, step: unknown): (...a: unknown[]) => unknown;
  _uploadArg(plan: unknown, i: number, v: unknown): unknown;
}

type Pass = { pipeline: unknown; bindGroup: unknown; groups: number[] };
type Exec = { kind: string; _device: { queue: { submit(c: unknown[]): void; onSubmittedWorkDone(): Promise<void>; writeBuffer(...a: unknown[]): void }; createCommandEncoder(): { beginComputePass(): { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number, y: number, z: number): void; end(): void }; finish(): unknown } }; _passes: Pass[]; execute(args: unknown[]): Promise<unknown> };

export async function profileScan(source: string, dims: Record<string, number>, batch: number, steps: number, mode: GpuMode, scan: boolean | 'log'): Promise<Profile> {
  const created: PipelineLike[] = [];
  const proto = GPU.prototype as unknown as { createPipeline(this: unknown, ...a: unknown[]): { pipeline: PipelineLike } };
  const original = proto.createPipeline;
  proto.createPipeline = function (...a: unknown[]) { const s = original.apply(this, a); created.push(s.pipeline); return s; };
  const cell = compile(source, { defaultCellName: 'cell' }).cells[0]!;
  const backend = await gpujsBackend(cell, { dims, batch, mode, scan });
  const rng = new Rng(1);
  const n = dims.n!;
  const vec = (k: number) => Float64Array.from({ length: k }, () => rng.normal() / Math.sqrt(n));
  const P = Object.fromEntries(cell.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? n * n : n)]));
  const X = { x: vec(steps * batch * n) }, cot = { states: { h: vec(steps * batch * n) } };
  const step = async () => {
    const t0 = performance.now();
    await backend.forward(steps, P, X);
    const t1 = performance.now();
    await backend.backward(cot, { inputs: false });
    return { forward: t1 - t0, backward: performance.now() - t1 };
  };
  try {
    await step();
    const normal = await step();
    const kernels: KernelTime[] = [];
    const io: Profile['io'] = [];
    const names = ['forward', 'backward'];
    created.forEach((p, i) => instrument(p, names[i] ?? `pass ${i}`, kernels, io));
    const profiled = await step();
    return { normal, profiled, kernels, io };
  } finally {
    proto.createPipeline = original;
  }
}

function instrument(p: PipelineLike, pass: string, kernels: KernelTime[], io: Profile['io']) {
  const plan = p.plan!;
  const src = (i: number) => plan.kernels[plan.steps[i]!.kernel]!.shortcut.kernel.source;
  const exec = p._executor as Exec | false | undefined;
  if (exec && exec.kind === 'fused-encoder') {
    const device = exec._device;
    const run = exec.execute.bind(exec);
    const passes = exec._passes;
    exec.execute = async (args) => {
      // the arguments' uploads and the readback: the executor with no passes
      const t0 = performance.now();
      exec._passes = [];
      const r = await run(args);
      const t1 = performance.now();
      for (let i = 0; i < passes.length; i++) {
        const s = passes[i]!;
        const t = performance.now();
        const enc = device.createCommandEncoder();
        const cp = enc.beginComputePass();
        cp.setPipeline(s.pipeline); cp.setBindGroup(0, s.bindGroup); cp.dispatchWorkgroups(s.groups[0]!, s.groups[1]!, s.groups[2]!); cp.end();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        kernels.push({ pass, step: i, output: plan.steps[i]!.output, ms: performance.now() - t, source: src(i) });
      }
      // the results again, now computed (the first read copied them before any pass ran)
      exec._passes = [];
      const t2 = performance.now();
      const out = await run(args);
      io.push({ pass, upload: t1 - t0, readback: performance.now() - t2 });
      exec._passes = passes;
      return out;
    };
    return;
  }
  // the generic executor (WebGL2): every step through its clone, finished before the next
  // (gl.finish does not wait in Chromium: reading one pixel of the framebuffer just rendered does)
  type GL = { readPixels(x: number, y: number, w: number, h: number, f: number, t: number, b: Float32Array): void; RGBA: number; FLOAT: number };
  const pixel = new Float32Array(4);
  const wait = (gl: GL) => gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.FLOAT, pixel);
  const clone = p._genericClone.bind(p);
  p._genericClone = (pl, st) => {
    const k = clone(pl, st) as ((...a: unknown[]) => unknown) & { kernel: { context: GL } };
    const i = plan.steps.indexOf(st as never);
    return (...a: unknown[]) => {
      const gl = k.kernel.context;
      wait(gl);
      const t = performance.now();
      const r = k(...a);
      wait(gl);
      kernels.push({ pass, step: i, output: plan.steps[i]!.output, ms: performance.now() - t, source: src(i) });
      return r;
    };
  };
  const up = p._uploadArg.bind(p);
  let upload = 0;
  p._uploadArg = (pl, i, v) => { const t = performance.now(); const r = up(pl, i, v); (r as { kernel?: unknown }); upload += performance.now() - t; return r; };
  io.push({ pass, get upload() { return upload; }, readback: NaN });
}

/**
 * A kernel source timed alone on a mode (bench/scan-profile.ts --micro): random [cols, rows] matrices as
 * arguments, the source run in a one-kernel pipeline `repeats` times; ms per run (upload and readback included:
 * compare variants with each other).
 */
export async function timeKernel(mode: GpuMode, source: string, output: number[], args: [number, number][], repeats: number, settings: Record<string, unknown> = {}): Promise<{ ms: number; first: number[] }> {
  const gpu = new GPU({ mode: mode as never });
  try {
    const rng = new Rng(2);
    const { Input } = await import('gpu.js');
    const values = args.map(([c, r]) => new Input(Float32Array.from({ length: c * r }, () => rng.normal()) as unknown as number[], [c, r]));
    const k = (gpu.createKernel as unknown as (s: string, o: object) => (...a: unknown[]) => unknown)(source, { output, precision: 'single', tactic: 'precision', pipeline: true, immutable: true, dynamicArguments: true, ...settings });
    const fn = function (...a: unknown[]) { return { r: k(...a) }; };
    Object.defineProperty(fn, 'length', { value: args.length });
    const p = (gpu.createPipeline as unknown as (f: unknown, s: object) => (...a: unknown[]) => Promise<{ r: unknown }>)(fn, {});
    let r = await p(...values);
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) r = await p(...values);
    const ms = (performance.now() - t0) / repeats;
    const flat = (v: unknown): number[] => (Array.isArray(v) ? flat(v[0]) : ArrayBuffer.isView(v) ? Array.from(v as Float32Array).slice(0, 4) : [Number(v)]);
    return { ms, first: flat(r.r) };
  } finally {
    gpu.destroy();
  }
}

/** Like timeKernel, a chain of kernels in one pipeline: each reads arguments ('a0', 'a1', …) or earlier kernels' outputs ('k0', …); the last is the result. */
export async function timeKernels(mode: GpuMode, kernels: { source: string; output: number[]; reads: string[]; settings?: Record<string, unknown> }[], args: [number, number][], repeats: number): Promise<{ ms: number; first: number[]; executor: string; reason: string | null }> {
  const gpu = new GPU({ mode: mode as never });
  try {
    const rng = new Rng(2);
    const { Input } = await import('gpu.js');
    const values = args.map(([c, r]) => new Input(Float32Array.from({ length: c * r }, () => rng.normal()) as unknown as number[], [c, r]));
    const ks = kernels.map((k) => (gpu.createKernel as unknown as (s: string, o: object) => (...a: unknown[]) => unknown)(k.source, { output: k.output, precision: 'single', tactic: 'precision', pipeline: true, immutable: true, dynamicArguments: true, ...k.settings }));
    const fn = function (...a: unknown[]) {
      const outs: unknown[] = [];
      kernels.forEach((k, i) => { outs.push(ks[i]!(...k.reads.map((r) => (r[0] === 'a' ? a[Number(r.slice(1))] : outs[Number(r.slice(1))])))); });
      return { r: outs[outs.length - 1] };
    };
    Object.defineProperty(fn, 'length', { value: args.length });
    const p = (gpu.createPipeline as unknown as (f: unknown, s: object) => ((...a: unknown[]) => Promise<{ r: unknown }>) & { executorKind: string; fallbackReason: string | null })(fn, {});
    let r = await p(...values);
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) r = await p(...values);
    const ms = (performance.now() - t0) / repeats;
    const flat = (v: unknown): number[] => (Array.isArray(v) ? flat(v[0]) : ArrayBuffer.isView(v) ? Array.from(v as Float32Array).slice(0, 4) : [Number(v)]);
    return { ms, first: flat(r.r), executor: p.executorKind, reason: p.fallbackReason };
  } finally {
    gpu.destroy();
  }
}
