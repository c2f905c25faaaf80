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

/**
 * A gpu.js backend of a cell and random data for one training step, made in the page (bench/scan.ts:
 * T·B·n numbers need not cross page.evaluate): its forward, and its backward for the parameters'
 * and initial states' gradients (x is data).
 */
export async function scanStep(source: string, dims: Record<string, number>, batch: number, steps: number, mode: GpuMode, scan: boolean | 'log') {
  const cell = compile(source, { defaultCellName: 'cell' }).cells[0]!;
  const backend = await gpujsBackend(cell, { dims, batch, mode, scan });
  const rng = new Rng(1);
  const n = dims.n!;
  const vec = (k: number) => Float64Array.from({ length: k }, () => rng.normal() / Math.sqrt(n));
  const P = Object.fromEntries(cell.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? n * n : n)]));
  const X = { x: vec(steps * batch * n) }, cot = { states: { h: vec(steps * batch * n) } };
  return { backend, forward: () => backend.forward(steps, P, X), backward: () => backend.backward(cot, { inputs: false }) };
}

export async function profileScan(source: string, dims: Record<string, number>, batch: number, steps: number, mode: GpuMode, scan: boolean | 'log'): Promise<Profile> {
  const created: PipelineLike[] = [];
  const proto = GPU.prototype as unknown as { createPipeline(this: unknown, ...a: unknown[]): { pipeline: PipelineLike } };
  const original = proto.createPipeline;
  proto.createPipeline = function (...a: unknown[]) { const s = original.apply(this, a); created.push(s.pipeline); return s; };
  const { forward, backward } = await scanStep(source, dims, batch, steps, mode, scan);
  const step = async () => {
    const t0 = performance.now();
    await forward();
    const t1 = performance.now();
    await backward();
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
  p._uploadArg = (pl, i, v) => { const t = performance.now(); const r = up(pl, i, v); upload += performance.now() - t; return r; };
  // the readback is not timed apart on WebGL2: it is the rest of the profiled pass
  io.push({ pass, get upload() { return upload; }, readback: NaN });
}

