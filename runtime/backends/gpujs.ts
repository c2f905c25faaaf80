// The gpu.js backend: the kernel plans of compiler/emit-gpujs.ts run as one
// gpu.js pipeline per pass (createPipeline): the whole forward pass over T
// steps, or the whole backward pass from T down to 1, is recorded once and
// replayed, with every intermediate resident on the device (textures on
// WebGL2, storage buffers on WebGPU, one shared WebAssembly memory in Node)
// and only the results the caller asks for read back. float32 only.
//
// Modes: 'webasm' (Node's default: there is no GL in Node here), 'webgl2' (a
// browser's default), 'webgpu' (browser, on request), 'cpu' (gpu.js's plain
// JavaScript fallback). A run that gpu.js quietly moved to its CPU kernel when
// a GPU mode was asked for is an error, with gpu.js's reason.

import { GPU, input } from 'gpu.js';
import type { CompiledCell } from '../../compiler/compile.ts';
import type { Arg, KernelPlan, StepPlan } from '../../compiler/emit-gpujs.ts';
import { GpujsPlanError, copyPlan, layoutOutput, planStep, zerosPlan } from '../../compiler/emit-gpujs.ts';
import type { AsyncCellBackend, BackendOptions, GradValues, StepValues, Vec } from '../backend.ts';
import { dimValue } from '../interp.ts';

export const GPU_MODES = ['webasm', 'webgl2', 'webgpu', 'cpu'] as const;
export type GpuMode = (typeof GPU_MODES)[number];

/** A request the gpu.js backend cannot serve (precision, mode, sizes); the message says why. */
export class GpujsError extends Error {}

export interface GpujsOptions extends BackendOptions {
  /** Default: 'webgl2' in a browser, 'webasm' elsewhere. */
  readonly mode?: GpuMode;
  /** webasm: let gpu.js split large steps over worker threads (default true). */
  readonly threads?: boolean;
}

/** What actually ran on the last call: the backend gpu.js used and why it left the one asked for. */
export interface RunInfo {
  readonly requested: GpuMode;
  readonly backend: string;
  readonly executor: string;
  readonly fallbackReason: string | null;
}

export interface GpujsBackend extends AsyncCellBackend {
  readonly mode: GpuMode;
  /** The kernel plans, for inspection (`celda` prints them; tests count them). */
  readonly plans: { readonly forward: StepPlan; readonly backward: StepPlan };
  lastRun(): RunInfo | null;
  /** The VJP; `{ inputs: false }` leaves the per-step input gradients on the device (training needs only the rest). */
  backward(cot: Parameters<AsyncCellBackend['backward']>[0], want?: { readonly inputs?: boolean }): Promise<GradValues>;
}

const inBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined';
export const defaultMode = (): GpuMode => (inBrowser() ? 'webgl2' : 'webasm');

// ---------------------------------------------------------------- devices and caches

type Kernel = ((...args: unknown[]) => unknown) & { kernel?: { fallbackReason?: string | null; constructor: { mode?: string } }; destroy?: () => void };
interface Pipeline {
  (...args: unknown[]): Promise<Record<string, unknown>>;
  readonly executorKind: string;
  readonly backend: string;
  readonly fallbackReason: string | null;
}

/** One gpu.js instance per mode: a pipeline may only call kernels of its own instance. */
const devices = new Map<GpuMode, GPU>();

async function device(mode: GpuMode): Promise<GPU> {
  const found = devices.get(mode);
  if (found) return found;
  if (mode === 'webasm' && !GPU.isWebAssemblySupported) throw new GpujsError('gpu.js reports no WebAssembly support here');
  if (mode === 'webgl2' && !GPU.isWebGL2Supported) throw new GpujsError('WebGL2 is not available here (gpu.js mode webgl2); try --gpu-mode webasm');
  if (mode === 'webgpu' && !(GPU.isWebGPUSupported && (await GPU.isWebGPUAvailable())))
    throw new GpujsError('WebGPU is not available here (no adapter answered); try --gpu-mode webgl2 or webasm');
  const gpu = new GPU({ mode: mode as never });
  devices.set(mode, gpu);
  return gpu;
}

/** Largest output side the mode takes: the texture size limit on WebGL2. */
function maxExtent(mode: GpuMode): number | undefined {
  if (mode !== 'webgl2') return undefined;
  const features = (GPU as unknown as { features?: { maxTextureSize?: number } }).features;
  return features?.maxTextureSize;
}

interface Compiled {
  readonly forward: StepPlan;
  readonly backward: StepPlan;
  readonly fwd: Kernel[];
  readonly bwd: Kernel[];
  readonly helpers: Map<string, Kernel>;
  readonly pipelines: Map<string, Pipeline>;
}

/** Kernels and pipelines per gpu.js instance, cell, and shape (dims + batch). */
const cache = new WeakMap<GPU, WeakMap<CompiledCell, Map<string, Compiled>>>();

function makeKernel(gpu: GPU, k: Omit<KernelPlan, 'args'>): Kernel {
  const settings = { output: [...k.output], precision: 'single', tactic: 'precision' };
  return (gpu.createKernel as unknown as (src: string, s: object) => Kernel)(k.source, settings);
}

function compiled(gpu: GPU, cell: CompiledCell, opts: GpujsOptions, mode: GpuMode): Compiled {
  let byCell = cache.get(gpu);
  if (!byCell) cache.set(gpu, (byCell = new WeakMap()));
  let byShape = byCell.get(cell);
  if (!byShape) byCell.set(cell, (byShape = new Map()));
  const key = JSON.stringify([Object.entries(opts.dims).sort(), opts.batch]);
  const found = byShape.get(key);
  if (found) return found;
  const plan = { dims: new Map(Object.entries(opts.dims)), batch: opts.batch, mode: cell.typed.mode === 'unrolled' ? 'unrolled' as const : 'loop' as const, maxExtent: maxExtent(mode) };
  let forward: StepPlan, backward: StepPlan;
  try {
    forward = planStep(cell.forward, plan);
    backward = planStep(cell.backward, plan);
  } catch (e) {
    if (e instanceof GpujsPlanError) throw new GpujsError(`cell ${cell.name}: ${e.message}`);
    throw e;
  }
  const c: Compiled = {
    forward, backward,
    fwd: forward.kernels.map((k) => makeKernel(gpu, k)),
    bwd: backward.kernels.map((k) => makeKernel(gpu, k)),
    helpers: new Map(), pipelines: new Map(),
  };
  byShape.set(key, c);
  return c;
}

function helper(gpu: GPU, c: Compiled, kind: 'copy' | 'zeros', output: readonly number[]): Kernel {
  const key = `${kind}:${output.join('x')}`;
  let k = c.helpers.get(key);
  if (!k) c.helpers.set(key, (k = makeKernel(gpu, kind === 'copy' ? copyPlan(output[0]!, output[1]!) : zerosPlan(output))));
  return k;
}

// ---------------------------------------------------------------- host arrays

const f32 = (v: Vec) => (v instanceof Float32Array ? v : Float32Array.from(v));

/** A result of gpu.js (a typed array, or rows of them) as one flat Float32Array. */
function flat(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v.slice();
  if (ArrayBuffer.isView(v)) return Float32Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) {
    const rows = v.map(flat);
    const out = new Float32Array(rows.reduce((s, r) => s + r.length, 0));
    let o = 0;
    for (const r of rows) { out.set(r, o); o += r.length; }
    return out;
  }
  throw new GpujsError(`gpu.js returned ${typeof v} where an array was expected`);
}

/** Upload form of a flat array for a value read as rows × cols (`a[row][col]`) or as a vector. */
const upload = (data: Float32Array, output: readonly number[]) => (output.length === 2 ? input(data, [output[0]!, output[1]!]) : data);

// ---------------------------------------------------------------- the backend

export async function gpujsBackend(cell: CompiledCell, opts: GpujsOptions): Promise<GpujsBackend> {
  const mode = opts.mode ?? defaultMode();
  if (!(GPU_MODES as readonly string[]).includes(mode)) throw new GpujsError(`unknown gpu.js mode \`${mode}\` (modes: ${GPU_MODES.join(', ')})`);
  if (opts.precision === 'f64')
    throw new GpujsError('the gpujs backend computes in float32 only (no gpu.js target has float64); use --backend interp for float64 results');
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new GpujsError('batch must be a whole number ≥ 1');
  const gpu = await device(mode);
  const c = compiled(gpu, cell, opts, mode);
  const t = cell.typed;
  const env = new Map(Object.entries(opts.dims));
  const B = opts.batch;
  const size = (d: Parameters<typeof dimValue>[0]) => dimValue(d, env);
  const unrolled = t.mode === 'unrolled';
  const stateN = new Map(t.states.map((s) => [s.name, size(s.dim)]));
  const outputN = new Map(t.outputs.map((o) => [o.name, o.shape.dims.reduce((a, d) => a * size(d), 1)]));
  const inputN = new Map(t.inputs.map((i) => [i.name, size(i.dim)]));
  const paramOut = new Map(t.params.map((p) => [p.name, layoutOutput({ batch: false, dims: p.shape }, env, B)]));
  let info: RunInfo | null = null;
  let last: { steps: number; params: Float32Array[]; inputs: Float32Array[]; init: Map<string, Float32Array>; states: Record<string, Float32Array> } | null = null;

  const check = (what: string, v: Vec | undefined, n: number): Float32Array => {
    if (!v) throw new GpujsError(`${what}: missing`);
    if (v.length !== n) throw new GpujsError(`${what}: expected ${n} numbers, got ${v.length}`);
    return f32(v);
  };

  /** Run a pipeline and refuse a silent move to gpu.js's CPU kernel. */
  async function run(p: Pipeline, args: unknown[]): Promise<Record<string, unknown>> {
    const result = await p(...args);
    info = { requested: mode, backend: p.backend, executor: p.executorKind, fallbackReason: p.fallbackReason };
    if (mode !== 'cpu' && p.backend === 'cpu')
      throw new GpujsError(`gpu.js fell back to its CPU kernel instead of ${mode}${p.fallbackReason ? `: ${p.fallbackReason}` : ''}`);
    return result;
  }

  const pipeline = (key: string, arity: number, body: (a: readonly unknown[]) => Record<string, unknown>): Pipeline => {
    let p = c.pipelines.get(key);
    if (p) return p;
    // gpu.js counts the orchestration's parameters to know how many handles to pass
    const orchestrate = function (...a: unknown[]) { return body(a); };
    Object.defineProperty(orchestrate, 'length', { value: arity });
    p = (gpu.createPipeline as unknown as (fn: unknown, s: object) => Pipeline)(orchestrate, { threads: opts.threads ?? true });
    c.pipelines.set(key, p);
    return p;
  };

  /** Call the kernels of one step; `source` resolves every argument but kernel outputs. */
  function step(plan: StepPlan, kernels: Kernel[], source: (a: Arg) => unknown): unknown[] {
    const outs: unknown[] = [];
    plan.kernels.forEach((k, i) => {
      outs[i] = kernels[i]!(...k.args.map((a) => (a.from === 'kernel' ? outs[a.index] : source(a))));
    });
    return outs;
  }

  const paramIndex = new Map(t.params.map((p, i) => [p.name, i]));
  const inputIndex = new Map(t.inputs.map((x, i) => [x.name, t.params.length + i]));

  return {
    name: `gpujs-${mode}`,
    precision: 'f32',
    mode,
    plans: { forward: c.forward, backward: c.backward },
    lastRun: () => info,

    async forward(steps, params, inputs, init): Promise<StepValues> {
      if (!Number.isInteger(steps) || steps < 1) throw new GpujsError('steps must be a whole number ≥ 1');
      if (unrolled && steps !== t.steps) throw new GpujsError(`cell ${t.name} is unrolled over ${t.steps} steps, got ${steps}`);
      const P = t.params.map((p) => check(`params.${p.name}`, params[p.name], paramOut.get(p.name)!.reduce((a, b) => a * b, 1)));
      const X = t.inputs.map((x) => check(`inputs.${x.name}`, inputs[x.name], steps * B * inputN.get(x.name)!));
      const I = new Map(t.states.map((s) => {
        const n = stateN.get(s.name)!;
        const given = init?.[s.name];
        return [s.name, given ? check(`init.${s.name}`, given, B * n) : new Float32Array(B * n).fill(s.init)];
      }));
      const arity = P.length + X.length + t.states.length;
      const p = pipeline(`forward:${steps}`, arity, (a) => {
        const initIndex = new Map(t.states.map((s, i) => [s.name, P.length + X.length + i]));
        let prev = new Map(t.states.map((s) => [s.name, helper(gpu, c, 'copy', [stateN.get(s.name)!, B])(a[initIndex.get(s.name)!])]));
        const out: Record<string, unknown> = {};
        for (let s = 1; s <= (unrolled ? 1 : steps); s++) {
          const outs = step(c.forward, c.fwd, (arg) => {
            switch (arg.from) {
              case 'param': return a[paramIndex.get(arg.name)!];
              case 'input': return a[inputIndex.get(arg.name)!];
              case 'prev': return prev.get(arg.name);
              case 'offset': return (s - 1) * B;
              default: throw new GpujsError(`a forward kernel reads ${arg.from}`);
            }
          });
          const next = new Map(prev);
          for (const { root, kernel } of c.forward.roots) {
            const at = root.step ?? s;
            out[`${root.role}:${root.name}:${at}`] = outs[kernel];
            if (root.role === 'state' && (root.step === undefined || root.step === t.steps)) next.set(root.name, outs[kernel]);
          }
          prev = next;
        }
        return out;
      });
      const args = [
        ...t.params.map((q, i) => upload(P[i]!, paramOut.get(q.name)!)),
        ...t.inputs.map((x, i) => upload(X[i]!, [inputN.get(x.name)!, steps * B])),
        ...t.states.map((s) => upload(I.get(s.name)!, [stateN.get(s.name)!, B])),
      ];
      const r = await run(p, args);
      const gather = (role: 'state' | 'output', names: Map<string, number>) => Object.fromEntries([...names].map(([name, n]) => {
        const all = new Float32Array(steps * B * n);
        for (let s = 1; s <= steps; s++) {
          const v = r[`${role}:${name}:${s}`];
          if (v !== undefined) all.set(flat(v), (s - 1) * B * n);
        }
        return [name, all];
      }));
      const states = gather('state', stateN);
      const outputs = gather('output', outputN);
      last = { steps, params: P, inputs: X, init: I, states };
      return { states, outputs };
    },

    async backward(cot, want = {}): Promise<GradValues> {
      if (!last) throw new GpujsError('backward before forward');
      const { steps, params: P, inputs: X, init: I, states } = last;
      const wantInputs = want.inputs ?? true;
      for (const k of Object.keys(cot.states ?? {})) if (!stateN.has(k)) throw new GpujsError(`cotangents: the cell has no state \`${k}\``);
      for (const k of Object.keys(cot.outputs ?? {})) if (!outputN.has(k)) throw new GpujsError(`cotangents: the cell has no output \`${k}\``);
      // every cotangent leaf of the backward graph is a pipeline argument (zeros when not given)
      const cotNames = [...new Set(c.backward.kernels.flatMap((k) => k.args.flatMap((a) => (a.from === 'cot' ? [a.name] : []))))];
      const cots = cotNames.map((name) => {
        const [role, of] = name.split(':') as [string, string];
        const n = role === 'state' ? stateN.get(of)! : outputN.get(of)!;
        const given = role === 'state' ? cot.states?.[of] : cot.outputs?.[of];
        return given ? check(`cotangents.${of}`, given, steps * B * n) : new Float32Array(steps * B * n);
      });
      // the state at t-1 for every t: the initial state, then the trajectory without its last step
      const trajectories = t.states.map((s) => {
        const n = stateN.get(s.name)!;
        const all = new Float32Array(steps * B * n);
        all.set(I.get(s.name)!, 0);
        all.set(states[s.name]!.subarray(0, (steps - 1) * B * n), B * n);
        return all;
      });
      const base = P.length + X.length;
      const prevIndex = new Map(t.states.map((s, i) => [s.name, base + i]));
      const cotIndex = new Map(cotNames.map((n, i) => [n, base + t.states.length + i]));
      const arity = base + t.states.length + cotNames.length;
      const p = pipeline(`backward:${steps}:${wantInputs}`, arity, (a) => {
        const zeros = (output: readonly number[]) => helper(gpu, c, 'zeros', output)();
        let carry = new Map(t.states.map((s) => [s.name, zeros([stateN.get(s.name)!, B])]));
        const acc = new Map(t.params.map((q) => [q.name, zeros(paramOut.get(q.name)!)]));
        const out: Record<string, unknown> = {};
        for (let s = unrolled ? 1 : steps; s >= 1; s--) {
          const outs = step(c.backward, c.bwd, (arg) => {
            switch (arg.from) {
              case 'param': return a[paramIndex.get(arg.name)!];
              case 'input': return a[inputIndex.get(arg.name)!];
              case 'prev': return a[prevIndex.get(arg.name)!];
              case 'cot': return a[cotIndex.get(arg.name)!];
              case 'carry': return carry.get(arg.name);
              case 'acc': return acc.get(arg.name);
              case 'offset': return (s - 1) * B;
              default: throw new GpujsError(`a backward kernel reads ${(arg as Arg).from}`);
            }
          });
          const next = new Map(carry);
          for (const { root, kernel } of c.backward.roots) {
            if (root.of === 'param') acc.set(root.name, outs[kernel]);
            else if (root.of === 'prev') next.set(root.name, outs[kernel]);
            else if (root.of === 'input' && wantInputs) out[`input:${root.name}:${root.step ?? s}`] = outs[kernel];
          }
          carry = next;
        }
        for (const [name, v] of acc) out[`param:${name}`] = v;
        for (const [name, v] of carry) out[`init:${name}`] = v;
        return out;
      });
      const args = [
        ...t.params.map((q, i) => upload(P[i]!, paramOut.get(q.name)!)),
        ...t.inputs.map((x, i) => upload(X[i]!, [inputN.get(x.name)!, steps * B])),
        ...t.states.map((s, i) => upload(unrolled ? I.get(s.name)! : trajectories[i]!, [stateN.get(s.name)!, unrolled ? B : steps * B])),
        ...cotNames.map((name, i) => {
          const [role, of] = name.split(':') as [string, string];
          return upload(cots[i]!, [role === 'state' ? stateN.get(of)! : outputN.get(of)!, steps * B]);
        }),
      ];
      const r = await run(p, args);
      const inputsOut: Record<string, Float32Array> = {};
      for (const [name, n] of inputN) {
        const all = new Float32Array(steps * B * n);
        for (let s = 1; s <= steps; s++) {
          const v = r[`input:${name}:${s}`];
          if (v !== undefined) all.set(flat(v), (s - 1) * B * n);
        }
        inputsOut[name] = all;
      }
      return {
        params: Object.fromEntries(t.params.map((q) => [q.name, flat(r[`param:${q.name}`])])),
        inputs: wantInputs ? inputsOut : {},
        init: Object.fromEntries(t.states.map((s) => [s.name, flat(r[`init:${s.name}`])])),
      };
    },
  };
}
