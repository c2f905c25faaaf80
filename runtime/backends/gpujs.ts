// The gpu.js backend: the kernel plans of compiler/emit/gpujs/plan.ts run as one
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

import * as gpujs from 'gpu.js';
import { GPU, Input } from 'gpu.js';
import type { CompiledCell } from '../../compiler/compile.ts';
import { stateDims } from '../../compiler/check/typed-cell.ts';
import type { TypedCell } from '../../compiler/check/typed-cell.ts';
import type { Arg, KernelPlan, StepPlan } from '../../compiler/emit/gpujs/plan.ts';
import { GpujsPlanError, copyPlan, kernelsWithoutInputGrads, layoutOutput, planStep, zerosPlan } from '../../compiler/emit/gpujs/plan.ts';
import type { AsyncCellBackend, BackendOptions, CellBackend, GradValues, StepValues, Vec } from '../backend.ts';
import { entry } from '../backend.ts';
import { dimValue } from '../interpreter.ts';
import type { ScanForms } from '../../compiler/lower/scan.ts';
import { scanForms } from '../../compiler/lower/scan.ts';
import { linearity } from '../../compiler/passes/linearity.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import type { PlanOptions } from '../../compiler/emit/gpujs/base.ts';
import type { ScanPass } from './gpujs-scan.ts';
import { backwardScan, forwardScan, logScannable, makeScanPass, scannedPasses } from './gpujs-scan.ts';
import { nodeKeys, readSaved } from '../../compiler/emit/gpujs/scan.ts';

export const GPU_MODES = ['webasm', 'webgl2', 'webgpu', 'cpu'] as const;
export type GpuMode = (typeof GPU_MODES)[number];

/** A request the gpu.js backend cannot serve (precision, mode, sizes); the message says why. */
export class GpujsError extends Error {}

export interface GpujsOptions extends BackendOptions {
  /** Default: 'webgl2' in a browser, 'webasm' elsewhere. */
  readonly mode?: GpuMode;
  /** webasm: let gpu.js split large steps over worker threads (default true). */
  readonly webasmThreads?: boolean;
  /** Tighter kernel limits than the device's (tests use them to exercise kernel splitting). */
  readonly limits?: { readonly maxArrays?: number; readonly maxExtent?: number };
  /** Terms per iteration of the kernels' sum loops (PlanOptions.unroll; default 4 on WebGPU in software, else 1). */
  readonly unroll?: number;
  /** Whether a scan's products over all rows read operands packed by four (PlanOptions.pack; default: on WebGL2 in software). */
  readonly pack?: boolean;
  /** Whether a scan's products over all rows compute four outputs per thread (PlanOptions.quad; default: on WebGPU in software, where gpu.js reads Array(4) results). */
  readonly quad?: boolean;
  /**
   * Most T·B rows one segment of a scanned pass runs over (default: webasm and
   * cpu 1024 — measured under load at n = 256, B = 8, T = 512, a training step
   * took 12–19 s against 16–30 s in one segment: its gradient sums over all rows
   * read columns of [T·B, n] arrays; GPU modes: the device's texture size).
   */
  readonly scanRows?: number;
}

/** The default of GpujsOptions.scanRows on the CPU modes (measured: runtime/backends/gpujs-scan.ts's segments). */
export const CPU_SCAN_ROWS = 1024;

/** What actually ran on the last call: the backend gpu.js used and why it left the one asked for. */
export interface RunInfo {
  readonly requested: GpuMode;
  /** gpu.js's own answer (`pipeline.backend`): 'webasm', 'webgpu', 'gpu' for the GL backends, 'cpu'. */
  readonly backend: string;
  /** The kernel classes the generic executor ran, where gpu.js exposes them ('gpu', 'cpu', …). */
  readonly kernels: readonly string[];
  readonly executor: string;
  readonly fallbackReason: string | null;
}

/** What a pipeline says about its last run: the supported introspection, plus the generic executor's kernel modes. */
export function runInfo(requested: GpuMode, p: { readonly backend: string | null; readonly executorKind: string; readonly fallbackReason: string | null; readonly plan?: unknown }): RunInfo {
  const clones = (p.plan as { genericClones?: Map<string, { kernel?: { constructor?: { mode?: string } } }> } | null | undefined)?.genericClones;
  const kernels = clones instanceof Map ? [...new Set([...clones.values()].map((c) => c.kernel?.constructor?.mode ?? '?'))] : [];
  return { requested, backend: p.backend ?? 'none', kernels, executor: p.executorKind, fallbackReason: p.fallbackReason };
}

/** Why a run does not count as the mode asked for (gpu.js moved it to its CPU kernel), or null. */
export function fallbackProblem(info: RunInfo): string | null {
  if (info.requested === 'cpu') return null;
  if (info.backend === 'cpu' || info.kernels.includes('cpu'))
    return `gpu.js fell back to its CPU kernel instead of ${info.requested}${info.fallbackReason ? `: ${info.fallbackReason}` : ''}`;
  const expected = { webasm: ['webasm'], webgl2: ['gpu', 'webgl2'], webgpu: ['webgpu'] }[info.requested];
  if (!expected.includes(info.backend)) return `gpu.js ran on ${info.backend} instead of ${info.requested}`;
  return null;
}

export interface GpujsBackend extends AsyncCellBackend {
  readonly mode: GpuMode;
  /** The kernel plans, for inspection (their sources, arguments and output sizes). */
  readonly plans: { readonly forward: StepPlan; readonly backward: StepPlan };
  lastRun(): RunInfo | null;
  /** Kernel launches of the last forward and backward call (a scanned pass: as many at every T; stepping through time: O(T)), whether each ran as a scan, and why not. */
  launches(): Launches;
  /** The VJP; `{ inputs: false }`: no per-step input gradients (training needs only the rest), and none of the kernels only they need run. */
  backward(cot: Parameters<AsyncCellBackend['backward']>[0], want?: { readonly inputs?: boolean }): Promise<GradValues>;
}

const inBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined';
export const defaultMode = (): GpuMode => (inBrowser() ? 'webgl2' : 'webasm');

// ---------------------------------------------------------------- devices and caches

type Kernel = ((...args: unknown[]) => unknown) & { kernel?: { fallbackReason?: string | null; constructor: { mode?: string } }; destroy?: () => void };
interface Pipeline {
  (...args: unknown[]): Promise<Record<string, unknown>>;
  readonly executorKind: string;
  readonly backend: string | null;
  readonly fallbackReason: string | null;
  readonly plan?: unknown;
}

/** One gpu.js instance per mode: a pipeline may only call kernels of its own instance. */
const devices = new Map<GpuMode, GPU>();
/** Whether a mode's kernels run on the CPU (webasm, cpu; a browser's software renderer), for the plans' layout (PlanOptions.cpu). */
const onCpu = new Map<GpuMode, boolean>();

/**
 * Whether a GPU mode renders in software (SwiftShader, llvmpipe: shaders run
 * on the CPU), as the browser reports it; false where it does not say. There
 * the all-rows kernels of a scan are planned as for the CPU: measured in
 * Chromium's SwiftShader (minGRU, n = 256, B = 1, T = 1024, under load), the
 * scanned step took 3.0 s against 3.6–4.4 s on WebGPU, 2.09 s against 2.67 s
 * on WebGL2. On a hardware GPU neighbouring threads reading neighbouring
 * elements counts more; that layout stays there.
 */
export async function softwareRenderer(mode: GpuMode): Promise<boolean> {
  try {
    const g = globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string }; isFallbackAdapter?: boolean } | null> } }; document?: { createElement(t: string): { getContext(k: string): unknown } } };
    if (mode === 'webgpu') {
      const a = await g.navigator?.gpu?.requestAdapter();
      // GPUAdapterInfo's fields are getters on its prototype: read by name
      const info = a?.info;
      return a?.isFallbackAdapter === true || /swiftshader|llvmpipe|software/i.test([info?.vendor, info?.architecture, info?.device, info?.description].join(' '));
    }
    if (mode === 'webgl2' && g.document) {
      const gl = g.document.createElement('canvas').getContext('webgl2') as { RENDERER: number; getParameter(p: number): unknown; getExtension(n: string): { UNMASKED_RENDERER_WEBGL: number } | null } | null;
      const ext = gl?.getExtension('WEBGL_debug_renderer_info');
      return gl ? /swiftshader|llvmpipe|software/i.test(String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER))) : false;
    }
  } catch {
    // a browser that does not say: a hardware GPU's layout
  }
  return false;
}

async function device(mode: GpuMode): Promise<GPU> {
  const found = devices.get(mode);
  if (found) return found;
  if (mode === 'webasm' && !GPU.isWebAssemblySupported) throw new GpujsError('gpu.js reports no WebAssembly support here');
  if (mode === 'webgl2' && !GPU.isWebGL2Supported) throw new GpujsError('WebGL2 is not available here (gpu.js mode webgl2); try --gpu-mode webasm');
  if (mode === 'webgpu' && !(GPU.isWebGPUSupported && (await GPU.isWebGPUAvailable())))
    throw new GpujsError('WebGPU is not available here (no adapter answered); try --gpu-mode webgl2 or webasm');
  const gpu = new GPU({ mode: mode as never });
  devices.set(mode, gpu);
  onCpu.set(mode, mode === 'webasm' || mode === 'cpu' || (await softwareRenderer(mode)));
  return gpu;
}

/** Destroy every gpu.js instance (its kernels, pipelines and webasm worker threads), so a command can exit. */
export async function releaseDevices(): Promise<void> {
  const all = [...devices.values()];
  devices.clear();
  onCpu.clear();
  await Promise.all(all.map((g) => g.destroy()));
}

/**
 * What one kernel may take on a mode: the largest output side (WebGL2's
 * texture size) and the most arrays it reads — WebGPU binds 8 storage buffers
 * per shader stage by default (gpu.js asks for no more), one of them the
 * output; WebGL2 guarantees 16 texture units.
 */
function limits(gpu: GPU, mode: GpuMode): { maxExtent?: number; maxArrays?: number } {
  if (mode === 'webgpu') return { maxArrays: 7 };
  if (mode !== 'webgl2') return {};
  const features = (gpu as unknown as { Kernel?: { features?: { maxTextureSize?: number } } }).Kernel?.features;
  return { maxArrays: 16, ...(features?.maxTextureSize ? { maxExtent: features.maxTextureSize } : {}) };
}

interface Compiled {
  readonly forward: StepPlan;
  readonly backward: StepPlan;
  readonly fwd: Kernel[];
  readonly bwd: Kernel[];
  readonly helpers: Map<string, Kernel>;
  readonly pipelines: Map<string, Pipeline>;
  readonly planOptions: PlanOptions;
  /** The cell's scans (compiler/lower/scan.ts) and which passes they cover; their kernels per pass and T (a string: why that T does not fit the device); why a pass is no scan, worked out once; the forward step graph, for why a state is no scan. */
  readonly scan: { readonly forms: ScanForms | null; readonly forward: boolean; readonly backward: boolean; readonly kernels: Map<string, ScanPass | string>; readonly why: Map<'forward' | 'backward', string>; readonly graph: Graph;
    /** A forward that is a scan in stages (mLSTM): its forms (the first stage's states not among its scans) and the first stage's states, stepped. */
    readonly staged: { readonly forms: ScanForms; readonly stepped: readonly string[] } | null;
    /** Node keys shared by both passes' graphs (emit/gpujs/scan.ts nodeKeys). */
    readonly table: Map<string, number> };
}

/** Kernel launches of one pass; `scan`: whether it ran as a scan; `reason`: why it stepped through time instead. */
export interface PassLaunches {
  readonly launches: number;
  readonly scan: boolean;
  readonly form?: 'plain' | 'log';
  readonly reason?: string;
}

/** Kernel launches per pass of the last calls. */
export interface Launches {
  readonly forward: PassLaunches | null;
  readonly backward: PassLaunches | null;
}

/** Kernels and pipelines per gpu.js instance, cell, and shape (dims + batch). */
const cache = new WeakMap<GPU, WeakMap<CompiledCell, Map<string, Compiled>>>();

function makeKernel(gpu: GPU, k: Omit<KernelPlan, 'args'>): Kernel {
  // pipeline + immutable: called directly (the synchronous backend), every call returns a fresh result
  // dynamicArguments: the all-steps arrays change size with T from call to call
  const settings = { output: [...k.output], precision: 'single', tactic: 'precision', pipeline: true, immutable: true, dynamicArguments: true, ...(k.returnType ? { returnType: k.returnType } : {}) };
  return (gpu.createKernel as unknown as (src: string, s: object) => Kernel)(k.source, settings);
}

/**
 * Whether gpu.js's WebGPU backend reads an Array(4) pipeline result passed to
 * another kernel as vec4 elements: patches/gpu.js+2.24.1.patch adds it (and
 * this marker); stock gpu.js 2.24 refuses such arguments.
 */
const vec4Arguments = (): boolean => (gpujs as unknown as { WebGPUKernel?: { acceptsVec4Arguments?: boolean } }).WebGPUKernel?.acceptsVec4Arguments === true;

function compiled(gpu: GPU, cell: CompiledCell, opts: GpujsOptions, mode: GpuMode): Compiled {
  let byCell = cache.get(gpu);
  if (!byCell) cache.set(gpu, (byCell = new WeakMap()));
  let byShape = byCell.get(cell);
  if (!byShape) byCell.set(cell, (byShape = new Map()));
  const key = JSON.stringify([Object.entries(opts.dims).sort(), opts.batch, opts.limits ?? null, opts.unroll ?? null, opts.pack ?? null, opts.quad ?? null]);
  const found = byShape.get(key);
  if (found) return found;
  const plan = { dims: new Map(Object.entries(opts.dims)), batch: opts.batch, mode: cell.typed.mode === 'unrolled' ? 'unrolled' as const : 'loop' as const, cpu: onCpu.get(mode) ?? (mode === 'webasm' || mode === 'cpu'),
    // WebGPU in software (SwiftShader): sum loops four terms per iteration (PlanOptions.unroll)
    unroll: opts.unroll ?? (mode === 'webgpu' && onCpu.get(mode) === true ? 4 : 1),
    // WebGL2 in software: a scan's products over all rows read operands packed by four (PlanOptions.pack)
    pack: opts.pack ?? (mode === 'webgl2' && onCpu.get(mode) === true),
    // WebGPU in software: a scan's products over all rows four outputs per thread (PlanOptions.quad), where this gpu.js reads Array(4) results
    quad: opts.quad ?? (mode === 'webgpu' && onCpu.get(mode) === true && vec4Arguments()), ...limits(gpu, mode), ...opts.limits };
  let forward: StepPlan, backward: StepPlan;
  try {
    forward = planStep(cell.forward, plan);
    backward = planStep(cell.backward, plan);
  } catch (e) {
    if (e instanceof GpujsPlanError) throw new GpujsError(`cell ${cell.name}: ${e.message}`);
    throw e;
  }
  const forms = cell.typed.mode === 'step' ? scanForms(cell) : null;
  const c: Compiled = {
    forward, backward,
    fwd: forward.kernels.map((k) => makeKernel(gpu, k)),
    bwd: backward.kernels.map((k) => makeKernel(gpu, k)),
    helpers: new Map(), pipelines: new Map(),
    planOptions: plan,
    scan: { forms, ...scannedPasses(cell, forms), kernels: new Map(), why: new Map(), graph: cell.forward, staged: stagedForward(cell, forms), table: new Map() },
  };
  byShape.set(key, c);
  return c;
}

/**
 * A forward in two stages (compiler/lower/scan.ts `staged`) whose first stage is
 * stepped and whose last stage's states are all scans: mLSTM's m, then C and n.
 * Null when the unstaged forward is a scan already, or the stages are otherwise.
 */
function stagedForward(cell: CompiledCell, forms: ScanForms | null): Compiled['scan']['staged'] {
  if (forms === null || scannedPasses(cell, forms).forward) return null;
  const s = scanForms(cell, { staged: true });
  const stages = s?.stages?.forward;
  if (!s || stages === undefined || stages.length !== 2) return null;
  const [first, last] = stages as [readonly string[], readonly string[]];
  const fwd = s.fwd.filter((r) => !first.includes(r.state));
  if (!last.every((st) => fwd.some((r) => r.state === st))) return null;
  return { forms: { ...s, fwd }, stepped: first };
}

function helper(gpu: GPU, c: Compiled, kind: 'copy' | 'zeros', output: readonly number[]): Kernel {
  const key = `${kind}:${output.join('x')}`;
  let k = c.helpers.get(key);
  if (!k) c.helpers.set(key, (k = makeKernel(gpu, kind === 'copy' ? copyPlan(output[0]!, output[1]!) : zerosPlan(output))));
  return k;
}

// ---------------------------------------------------------------- host arrays

const f32 = (v: Vec) => (v instanceof Float32Array ? v : Float32Array.from(v));

/** A scanned pass's result over all steps: its one array, or its segments' (`key#0`, `key#1`, …: a pipeline returns a flat bag) in order; undefined when absent. */
function joined(r: Record<string, unknown>, key: string): unknown {
  if (key in r) return r[key];
  const parts: unknown[] = [];
  for (let i = 0; `${key}#${i}` in r; i++) parts.push(r[`${key}#${i}`]);
  return parts.length > 0 ? parts : undefined;
}

/** A result of gpu.js (a typed array, or rows of them) as one flat Float32Array. */
function flat(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v.slice();
  // a texture or device buffer (a synchronous call on a GPU mode)
  if (v && typeof (v as { toArray?: unknown }).toArray === 'function') return flat((v as { toArray(): unknown }).toArray());
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

/**
 * Upload form of a flat array for a value read as rows × cols (`a[row][col]`) or
 * as a vector. gpu.js's cpu mode indexes an Input of a kernel with dynamic
 * arguments by the kernel's output width, not the argument's (gpu.js 2.24,
 * backend/cpu/function-node.js), so there a matrix goes as its rows.
 */
function upload(x: PassContext, data: Float32Array, output: readonly number[]): unknown {
  if (output.length !== 2) return data;
  const [cols, rows] = [output[0]!, output[1]!];
  if (x.mode !== 'cpu') return new Input(data as unknown as number[], [cols, rows]);
  return Array.from({ length: rows }, (_, r) => data.subarray(r * cols, (r + 1) * cols));
}

// ---------------------------------------------------------------- the two passes

/**
 * One pass prepared for a call: the arguments, the orchestration over them
 * (recorded by createPipeline, or called directly by the synchronous
 * backend), and how to read its results.
 */
interface Pass<R> {
  readonly key: string;
  readonly scan: boolean;
  readonly form?: 'plain' | 'log';
  /** Why a pass that is not a scan steps through time. */
  readonly reason?: string;
  readonly args: unknown[];
  readonly body: (a: readonly unknown[]) => Record<string, unknown>;
  readonly read: (r: Record<string, unknown>) => R;
}

interface Passes {
  readonly plans: { readonly forward: StepPlan; readonly backward: StepPlan };
  /** Every kernel the passes call, for the synchronous backend's fallback check. */
  readonly kernels: () => readonly Kernel[];
  forward(steps: number, params: Readonly<Record<string, Vec>>, inputs: Readonly<Record<string, Vec>>, init?: Readonly<Record<string, Vec>>): Pass<StepValues>;
  backward(cot: Parameters<AsyncCellBackend['backward']>[0], want: { readonly inputs?: boolean }): Pass<GradValues>;
  /** Kernel launches of a pass's body by its key (counted when the body runs: once, when a pipeline records it). */
  readonly launches: ReadonlyMap<string, number>;
}

function checkOptions(opts: GpujsOptions): GpuMode {
  const mode = opts.mode ?? defaultMode();
  if (!(GPU_MODES as readonly string[]).includes(mode)) throw new GpujsError(`unknown gpu.js mode \`${mode}\` (modes: ${GPU_MODES.join(', ')})`);
  if (opts.precision === 'f64')
    throw new GpujsError('the gpujs backend computes in float32 only (no gpu.js target has float64); use --backend interp for float64 results');
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new GpujsError('batch must be a whole number ≥ 1');
  // the rule of every command and backend: a dimension is at least 1
  for (const [k, v] of Object.entries(opts.dims)) if (!(Number.isSafeInteger(v) && v >= 1)) throw new GpujsError(`dimension ${k} must be a whole number ≥ 1, not ${v}`);
  return mode;
}

/** What both passes of a cell read: its kernels, the sizes of its values at these dims, and where each argument sits. */
interface PassContext {
  readonly gpu: GPU;
  readonly mode: GpuMode;
  readonly c: Compiled;
  readonly t: TypedCell;
  readonly B: number;
  readonly unrolled: boolean;
  /** Floats per example of each state, output and input. */
  readonly stateN: ReadonlyMap<string, number>;
  readonly outputN: ReadonlyMap<string, number>;
  readonly inputN: ReadonlyMap<string, number>;
  /** The gpu.js output size of each parameter. */
  readonly paramOut: ReadonlyMap<string, readonly number[]>;
  /** Positions of the parameters and inputs among a pass's arguments (the same in both passes). */
  readonly paramIndex: ReadonlyMap<string, number>;
  readonly inputIndex: ReadonlyMap<string, number>;
  /** Run the passes that are scans as scans (default true; false: step through time, `--no-scan`; 'log': in log space where it can). */
  readonly scan: boolean | 'log';
  /** Most rows per segment of a scan (GpujsOptions.scanRows), or none. */
  readonly scanRows: number | undefined;
  /** Counts a kernel launch of the pass body running now; `counted` runs a body and files its count under the pass's key. */
  readonly launch: () => void;
  readonly counted: <R>(key: string, body: () => R) => R;
  readonly launches: Map<string, number>;
}

/** What the last forward call saw and computed, for the backward call after it. */
interface Trajectory {
  readonly steps: number;
  readonly params: Float32Array[];
  readonly inputs: Float32Array[];
  readonly init: ReadonlyMap<string, Float32Array>;
  readonly states: Record<string, Float32Array>;
  /** All-rows values the scanned forward computed, by node key, [T·B][n] (empty when it stepped). */
  readonly saved: ReadonlyMap<number, Float32Array>;
}

function passes(gpu: GPU, cell: CompiledCell, opts: GpujsOptions, mode: GpuMode): Passes {
  const x = passContext(gpu, cell, opts, mode);
  let last: Trajectory | null = null;
  return {
    launches: x.launches,
    plans: { forward: x.c.forward, backward: x.c.backward },
    kernels: () => [...x.c.fwd, ...x.c.bwd, ...x.c.helpers.values(),
      ...[...x.c.scan.kernels.values()].flatMap((p) => (typeof p !== 'string' ? [...p.segments.flatMap(({ k }) => [...k.coef, ...k.whole, ...k.states.flatMap((s) => [...s.kernels, ...(s.handover ? [s.handover] : []), ...(s.shift ? [s.shift] : [])])]), ...steppedKernels(p)] : [])) as Kernel[]],
    forward: (steps, params, inputs, init) => forwardPass(x, steps, params, inputs, init, (saw) => { last = saw; }),
    backward(cot, want) {
      if (!last) throw new GpujsError('backward before forward');
      return backwardPass(x, last, cot, want);
    },
  };
}

function passContext(gpu: GPU, cell: CompiledCell, opts: GpujsOptions, mode: GpuMode): PassContext {
  const t = cell.typed;
  const env = new Map(Object.entries(opts.dims));
  const B = opts.batch;
  const size = (d: Parameters<typeof dimValue>[0]) => dimValue(d, env);
  const counter = { n: 0 };
  const launches = new Map<string, number>();
  return {
    scan: opts.scan ?? true,
    scanRows: opts.scanRows ?? (mode === 'webasm' || mode === 'cpu' ? CPU_SCAN_ROWS : undefined),
    launch: () => { counter.n++; },
    counted: (key, body) => {
      counter.n = 0;
      const r = body();
      launches.set(key, counter.n);
      return r;
    },
    launches,
    gpu, mode, c: compiled(gpu, cell, opts, mode), t, B, unrolled: t.mode === 'unrolled',
    stateN: new Map(t.states.map((s) => [s.name, stateDims(s).reduce((a, d) => a * size(d), 1)])),
    outputN: new Map(t.outputs.map((o) => [o.name, o.shape.dims.reduce((a, d) => a * size(d), 1)])),
    inputN: new Map(t.inputs.map((i) => [i.name, size(i.dim)])),
    paramOut: new Map(t.params.map((p) => [p.name, layoutOutput({ batch: false, dims: p.shape }, env, B)])),
    paramIndex: new Map(t.params.map((p, i) => [p.name, i])),
    inputIndex: new Map(t.inputs.map((i, k) => [i.name, t.params.length + k])),
  };
}

/** The kernels of a staged forward's stepped stage. */
const steppedKernels = (p: ScanPass) => (p.stepped ? [...[...p.stepped.shift.values()].flatMap((m) => [...m.values()]),
  ...(p.stepped.scan ? [...p.stepped.scan.coef, ...p.stepped.scan.states.flatMap((s) => s.kernels)] : [...p.stepped.kernels, ...p.stepped.copy.values(), ...p.stepped.place.values()])] : []);

function checked(what: string, v: Vec | undefined, n: number): Float32Array {
  if (!v) throw new GpujsError(`${what}: missing`);
  if (v.length !== n) throw new GpujsError(`${what}: expected ${n} numbers, got ${v.length}`);
  return f32(v);
}

/** Call the kernels of one step (`only`: those of these indices); `source` resolves every argument but kernel outputs. */
function runStep(plan: StepPlan, kernels: Kernel[], source: (a: Arg) => unknown, launch: () => void, only?: ReadonlySet<number>): unknown[] {
  const outs: unknown[] = [];
  plan.kernels.forEach((k, i) => {
    if (only && !only.has(i)) return;
    launch();
    outs[i] = kernels[i]!(...k.args.map((a) => (a.from === 'kernel' ? outs[a.index] : source(a))));
  });
  return outs;
}

/** Per-step results `role:name:t` of a pass, as one [T][B][n] array per name. */
function gather(r: Record<string, unknown>, role: string, names: ReadonlyMap<string, number>, steps: number, B: number) {
  return Object.fromEntries([...names].map(([name, n]) => {
    const all = new Float32Array(steps * B * n);
    for (let s = 1; s <= steps; s++) {
      const v = r[`${role}:${name}:${s}`];
      if (v !== undefined) all.set(flat(v), (s - 1) * B * n);
    }
    return [name, all];
  }));
}

const sizeOf = (output: readonly number[]) => output.reduce((a, b) => a * b, 1);

function forwardPass(x: PassContext, steps: number, params: Readonly<Record<string, Vec>>, inputs: Readonly<Record<string, Vec>>, init: Readonly<Record<string, Vec>> | undefined, saw: (t: Trajectory) => void): Pass<StepValues> {
  const { t, B, stateN, inputN, paramOut } = x;
  if (!Number.isInteger(steps) || steps < 1) throw new GpujsError('steps must be a whole number ≥ 1');
  if (x.unrolled && steps !== t.steps) throw new GpujsError(`cell ${t.name} is unrolled over ${t.steps} steps, got ${steps}`);
  const P = t.params.map((p) => checked(`params.${p.name}`, params[p.name], sizeOf(paramOut.get(p.name)!)));
  const X = t.inputs.map((i) => checked(`inputs.${i.name}`, inputs[i.name], steps * B * inputN.get(i.name)!));
  const I = new Map(t.states.map((s) => {
    const n = stateN.get(s.name)!;
    const given = entry(init, s.name);
    return [s.name, given ? checked(`init.${s.name}`, given, B * n) : new Float32Array(B * n).fill(s.init)];
  }));
  const args = [
    ...t.params.map((q, i) => upload(x, P[i]!, paramOut.get(q.name)!)),
    ...t.inputs.map((i, k) => upload(x, X[k]!, [inputN.get(i.name)!, steps * B])),
    ...t.states.map((s) => upload(x, I.get(s.name)!, [stateN.get(s.name)!, B])),
  ];
  const initIndex = new Map(t.states.map((s, i) => [s.name, P.length + X.length + i]));
  const { kernels: scan, reason } = scanKernels(x, 'forward', steps);
  if (scan) {
    const key = `forward:${steps}:scan:${scan.plan.form}`;
    return {
      key, scan: true, form: scan.plan.form, args,
      body: (a) => x.counted(key, () => forwardScan(scan, (arg) => leafArg(x, a, arg), (s) => a[initIndex.get(s)!], x.launch)),
      read: (r) => {
        const states = Object.fromEntries(t.states.map((s) => [s.name, flat(joined(r, `scan:state:${s.name}`))]));
        const saved = new Map(scan.segments[0]!.k.saved.flatMap((v) => {
          const parts = joined(r, `scan:saved:${v.key}`);
          const data = parts === undefined ? null : flat(parts);
          return data !== null && data.length === steps * B * v.width ? [[v.key, data] as const] : [];
        }));
        saw({ steps, params: P, inputs: X, init: I, states, saved });
        const stateOf = aliases(x);
        const outputs = Object.fromEntries([...x.outputN].map(([name, n]) => {
          const v = joined(r, `scan:output:${name}`);
          const alias = stateOf.get(name);
          return [name, v !== undefined ? flat(v) : alias !== undefined ? states[alias]!.slice() : new Float32Array(steps * B * n)];
        }));
        return { states, outputs };
      },
    };
  }
  const key = `forward:${steps}`;
  return {
    key, scan: false, reason, args,
    body: (a) => x.counted(key, () => forwardSteps(x, steps, a, initIndex)),
    read: (r) => {
      const states = gather(r, 'state', stateN, steps, B);
      saw({ steps, params: P, inputs: X, init: I, states, saved: new Map() });
      return { states, outputs: gather(r, 'output', x.outputN, steps, B) };
    },
  };
}

/** The kernels of a pass as a scan at this T, or why it steps through time: the cell's pass is no scan, scans are off, or a kernel over T·B rows does not fit the device. */
function scanKernels(x: PassContext, direction: 'forward' | 'backward', steps: number, saved: ReadonlyMap<number, Float32Array> = new Map()): { kernels: ScanPass | null; reason?: string } {
  const sc = x.c.scan;
  if (!x.scan) return { kernels: null, reason: 'scans are off (--no-scan)' };
  if (x.unrolled) return { kernels: null, reason: 'the cell is unrolled over fixed steps' };
  const staged = direction === 'forward' && !sc.forward ? sc.staged : null;
  const forms = staged ? staged.forms : sc.forms;
  if (forms === null || (!sc[direction] && !staged)) {
    // why, worked out once per pass (the detection runs over the whole step graph)
    let why = sc.why.get(direction);
    if (why === undefined) sc.why.set(direction, (why = notScanned(x, direction)));
    return { kernels: null, reason: why };
  }
  const form = x.scan === 'log' && logScannable(forms, direction) ? 'log' : 'plain';
  // the backward reads the all-rows values its forward saved instead of computing them again
  const g = direction === 'forward' ? forms.forward : forms.backward;
  const keys = nodeKeys(g, sc.table);
  const reuse = new Map(direction === 'backward' ? g.nodes.filter((n) => saved.has(keys[n.id]!) && n.shape.batch && n.op !== 'input').map((n) => [n.id, `saved:${keys[n.id]}`]) : []);
  const key = `${direction}:${steps}:${form}:${x.scanRows}${reuse.size > 0 ? `:${[...reuse.values()].join(',')}` : ''}`;
  if (!sc.kernels.has(key)) {
    let k: ScanPass | string;
    // T·B rows beyond the device's texture size (or, on the CPU modes, beyond the caches): segments of at most that many rows
    const rows = Math.min(x.c.planOptions.maxExtent ?? Infinity, x.scanRows ?? Infinity);
    const most = rows === Infinity ? steps : Math.max(1, Math.floor(rows / x.B));
    try {
      k = makeScanPass(reuse.size > 0 ? withSaved(forms, reuse) : forms, direction, steps, most, x.stateN, x.c.planOptions, (p) => makeKernel(x.gpu, { name: p.name, node: -1, output: p.output, source: p.source, ...(p.returnType ? { returnType: p.returnType } : {}) }),
          // saved where kernels run on the CPU (webasm, cpu, a software renderer): on a GPU, reading them back and uploading them costs more than computing them again
          (output) => helper(x.gpu, x.c, 'zeros', output)(), form, staged?.stepped, direction === 'forward' && x.c.planOptions.cpu === true ? keys : undefined);
    } catch (e) {
      if (!(e instanceof GpujsPlanError)) throw e;
      k = `over ${steps} steps ${e.message}`; // too large for the device over T·B rows: step through time instead
    }
    sc.kernels.set(key, k);
  }
  const k = sc.kernels.get(key)!;
  return typeof k === 'string' ? { kernels: null, reason: k } : { kernels: k };
}

/** The backward of `forms` reading the nodes of `reuse` as all-steps inputs (the forward's saved values). */
function withSaved(forms: ScanForms, reuse: ReadonlyMap<number, string>): ScanForms {
  const { graph, map } = readSaved(forms.backward, reuse);
  const m = (id: number) => map.get(id)!;
  return { ...forms, backward: graph, bwd: forms.bwd.map((r) => ({ ...r, root: m(r.root), leaf: m(r.leaf), a: r.a === null ? null : m(r.a), b: r.b === null ? null : m(r.b) })) };
}

/** Why a pass of a step cell is no scan: the states that are not diagonal linear recurrences in it, with the detection's reason. */
function notScanned(x: PassContext, direction: 'forward' | 'backward'): string {
  const scanned = new Set((direction === 'forward' ? x.c.scan.forms?.fwd : x.c.scan.forms?.bwd)?.map((r) => r.state) ?? []);
  if (x.t.states.length === 0) return 'the cell has no state';
  const verdicts = linearity(x.c.scan.graph);
  const why = x.t.states.filter((s) => !scanned.has(s.name)).map((s) => {
    const v = verdicts.find((w) => w.state === s.name);
    return `${s.name}: ${v?.kind ?? 'not found'}${v?.reason ? ` (${v.reason.text})` : ''}`;
  });
  return `not every state is a diagonal linear recurrence ${direction === 'forward' ? 'forward' : 'backward'}: ${why.join('; ')}`;
}

/** Parameters and inputs among a pass's arguments. */
function leafArg(x: PassContext, a: readonly unknown[], arg: Arg): unknown {
  if (arg.from === 'param') return a[x.paramIndex.get(arg.name)!];
  if (arg.from === 'input') return a[x.inputIndex.get(arg.name)!];
  throw new GpujsError(`a scan kernel reads ${arg.from}`);
}

/** Outputs that are a state under another name: output name → state name. */
function aliases(x: PassContext): Map<string, string> {
  const g = x.c.scan.forms?.forward;
  const out = new Map<string, string>();
  if (!g) return out;
  for (const r of g.roots) {
    if (r.role !== 'output') continue;
    const s = g.roots.find((q) => q.role === 'state' && q.id === r.id);
    if (s) out.set(r.name, s.name);
  }
  return out;
}

/** The forward orchestration: the states carried from step to step on the device, every step's roots kept by name. */
function forwardSteps(x: PassContext, steps: number, a: readonly unknown[], initIndex: ReadonlyMap<string, number>): Record<string, unknown> {
  const { c, t, B } = x;
  let prev = new Map(t.states.map((s) => { x.launch(); return [s.name, helper(x.gpu, c, 'copy', [x.stateN.get(s.name)!, B])(a[initIndex.get(s.name)!])]; }));
  const out: Record<string, unknown> = {};
  for (let s = 1; s <= (x.unrolled ? 1 : steps); s++) {
    const outs = runStep(c.forward, c.fwd, (arg) => {
      switch (arg.from) {
        case 'param': return a[x.paramIndex.get(arg.name)!];
        case 'input': return a[x.inputIndex.get(arg.name)!];
        case 'prev': return prev.get(arg.name);
        case 'offset': return (s - 1) * B;
        default: throw new GpujsError(`a forward kernel reads ${arg.from}`);
      }
    }, x.launch);
    const next = new Map(prev);
    for (const { root, kernel } of c.forward.roots) {
      out[`${root.role}:${root.name}:${root.step ?? s}`] = outs[kernel];
      if (root.role === 'state' && root.step === undefined) next.set(root.name, outs[kernel]);
    }
    prev = next;
  }
  return out;
}

function backwardPass(x: PassContext, last: Trajectory, cot: Parameters<AsyncCellBackend['backward']>[0], want: { readonly inputs?: boolean }): Pass<GradValues> {
  const { t, B, stateN, outputN, inputN, paramOut } = x;
  const { steps, params: P, inputs: X } = last;
  const wantInputs = want.inputs ?? true;
  for (const k of Object.keys(cot.states ?? {})) if (!stateN.has(k)) throw new GpujsError(`cotangents: the cell has no state \`${k}\``);
  for (const k of Object.keys(cot.outputs ?? {})) if (!outputN.has(k)) throw new GpujsError(`cotangents: the cell has no output \`${k}\``);
  const { kernels: scan, reason } = scanKernels(x, 'backward', steps, last.saved);
  const cots = cotangents(x, cot, steps, scan ? [scan.plan.coefficients, scan.plan.whole] : [x.c.backward], scan ? scan.plan.states.map((s) => `state:${s.state}`) : []);
  const previous = previousStates(x, last);
  const base = P.length + X.length;
  const prevIndex = new Map(t.states.map((s, i) => [s.name, base + i]));
  const cotIndex = new Map(cots.map((q, i) => [q.name, base + t.states.length + i]));
  const args = [
    ...t.params.map((q, i) => upload(x, P[i]!, paramOut.get(q.name)!)),
    ...t.inputs.map((i, k) => upload(x, X[k]!, [inputN.get(i.name)!, steps * B])),
    ...t.states.map((s, i) => upload(x, previous[i]!, [stateN.get(s.name)!, x.unrolled ? B : steps * B])),
    ...cots.map((q) => upload(x, q.data, [q.n, steps * B])),
  ];
  // the forward's saved values the scanned backward reads
  const savedIndex = new Map<string, number>();
  if (scan) {
    for (const plan of [scan.plan.coefficients, scan.plan.whole]) for (const k of plan.kernels) for (const a of k.args) {
      if (a.from !== 'input' || !a.name.startsWith('saved:') || savedIndex.has(a.name)) continue;
      const data = last.saved.get(Number(a.name.slice('saved:'.length)))!;
      savedIndex.set(a.name, args.length);
      args.push(upload(x, data, [data.length / (steps * B), steps * B]));
    }
  }
  if (scan) {
    const key = `backward:${steps}:${wantInputs}:scan:${scan.plan.form}${savedIndex.size > 0 ? `:${[...savedIndex.keys()].join(',')}` : ''}`;
    const source = (a: readonly unknown[]) => (arg: Arg) => {
      if (arg.from === 'prev') return a[prevIndex.get(arg.name)!];
      if (arg.from === 'cot') return a[cotIndex.get(arg.name)!];
      if (arg.from === 'input' && savedIndex.has(arg.name)) return a[savedIndex.get(arg.name)!];
      return leafArg(x, a, arg);
    };
    return {
      key, scan: true, form: scan.plan.form, args,
      body: (a) => x.counted(key, () => backwardScan(scan, source(a), paramOut, wantInputs, x.launch)),
      read: (r) => ({
        params: Object.fromEntries(t.params.map((q) => [q.name, flat(r[`param:${q.name}`])])),
        inputs: wantInputs ? Object.fromEntries(t.inputs.map((i) => [i.name, joined(r, `scan:input:${i.name}`) !== undefined ? flat(joined(r, `scan:input:${i.name}`)) : new Float32Array(steps * B * inputN.get(i.name)!)])) : {},
        init: Object.fromEntries(t.states.map((s) => [s.name, joined(r, `scan:init:${s.name}`) !== undefined ? flat(joined(r, `scan:init:${s.name}`)).slice(0, B * stateN.get(s.name)!) : new Float32Array(B * stateN.get(s.name)!)])),
      }),
    };
  }
  const key = `backward:${steps}:${wantInputs}`;
  return {
    key, scan: false, reason, args,
    body: (a) => x.counted(key, () => backwardSteps(x, steps, wantInputs, a, prevIndex, cotIndex)),
    read: (r) => ({
      params: Object.fromEntries(t.params.map((q) => [q.name, flat(r[`param:${q.name}`])])),
      inputs: wantInputs ? gather(r, 'input', inputN, steps, B) : {},
      init: Object.fromEntries(t.states.map((s) => [s.name, flat(r[`init:${s.name}`])])),
    }),
  };
}

/** Every cotangent leaf of the backward graph, as an argument of all steps (zeros where not given). */
function cotangents(x: PassContext, cot: Parameters<AsyncCellBackend['backward']>[0], steps: number, plans: readonly StepPlan[], also: readonly string[]): { name: string; n: number; data: Float32Array }[] {
  const names = [...new Set([...plans.flatMap((p) => p.kernels.flatMap((k) => k.args.flatMap((a) => (a.from === 'cot' ? [a.name] : [])))), ...also])];
  return names.map((name) => {
    const [role, of] = name.split(':') as [string, string];
    const n = role === 'state' ? x.stateN.get(of)! : x.outputN.get(of)!;
    const given = role === 'state' ? cot.states?.[of] : cot.outputs?.[of];
    return { name, n, data: given ? checked(`cotangents.${of}`, given, steps * x.B * n) : new Float32Array(steps * x.B * n) };
  });
}

/** The state at t-1 for every t: the initial state, then the trajectory without its last step. */
function previousStates(x: PassContext, last: Trajectory): Float32Array[] {
  const { steps, init: I, states } = last;
  return x.t.states.map((s) => {
    if (x.unrolled) return I.get(s.name)!;
    const n = x.stateN.get(s.name)!;
    const all = new Float32Array(steps * x.B * n);
    all.set(I.get(s.name)!, 0);
    all.set(states[s.name]!.subarray(0, (steps - 1) * x.B * n), x.B * n);
    return all;
  });
}

/**
 * The backward orchestration, from step T down to 1: the states' cotangents carried
 * and the parameter gradients summed on the device. prevIndex, cotIndex: where the
 * states at t-1 and the cotangents sit among the arguments `a`.
 */
function backwardSteps(x: PassContext, steps: number, wantInputs: boolean, a: readonly unknown[], prevIndex: ReadonlyMap<string, number>, cotIndex: ReadonlyMap<string, number>): Record<string, unknown> {
  const { c, t, B } = x;
  const zeros = (output: readonly number[]) => { x.launch(); return helper(x.gpu, c, 'zeros', output)(); };
  let carry = new Map(t.states.map((s) => [s.name, zeros([x.stateN.get(s.name)!, B])]));
  const acc = new Map(t.params.map((q) => [q.name, zeros(x.paramOut.get(q.name)!)]));
  const out: Record<string, unknown> = {};
  // not asked for the inputs' gradients: none of the kernels only they need
  const only = wantInputs ? undefined : withoutInputs(c.backward);
  for (let s = x.unrolled ? 1 : steps; s >= 1; s--) {
    const outs = runStep(c.backward, c.bwd, (arg) => {
      switch (arg.from) {
        case 'param': return a[x.paramIndex.get(arg.name)!];
        case 'input': return a[x.inputIndex.get(arg.name)!];
        case 'prev': return a[prevIndex.get(arg.name)!];
        case 'cot': return a[cotIndex.get(arg.name)!];
        case 'carry': return carry.get(arg.name);
        case 'acc': return acc.get(arg.name);
        case 'offset': return (s - 1) * B;
        default: throw new GpujsError(`a backward kernel reads ${(arg as Arg).from}`);
      }
    }, x.launch, only);
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
}

// ---------------------------------------------------------------- the backends

/** The launches of the last forward and backward pass that ran. */
function tally(ps: Passes): { note: (pass: Pass<unknown>) => void; get: () => Launches } {
  let now: Launches = { forward: null, backward: null };
  return {
    note: (pass) => {
      const n = ps.launches.get(pass.key);
      if (n === undefined) return;
      const l = { launches: n, scan: pass.scan, ...(pass.form ? { form: pass.form } : {}), ...(pass.reason ? { reason: pass.reason } : {}) };
      now = pass.key.startsWith('forward') ? { ...now, forward: l } : { ...now, backward: l };
    },
    get: () => now,
  };
}

/** The kernels of a backward plan that the gradients other than the inputs' need; once per plan (the synchronous backend runs the backward at every training step). */
function withoutInputs(plan: StepPlan): Set<number> {
  let need = withoutInputsOf.get(plan);
  if (!need) withoutInputsOf.set(plan, (need = kernelsWithoutInputGrads(plan)));
  return need;
}
const withoutInputsOf = new WeakMap<StepPlan, Set<number>>();

/** The gpu.js backend: each pass one recorded pipeline, intermediates on the device. */
export async function gpujsBackend(cell: CompiledCell, opts: GpujsOptions): Promise<GpujsBackend> {
  const mode = checkOptions(opts);
  const gpu = await device(mode);
  const ps = passes(gpu, cell, opts, mode);
  const c = compiled(gpu, cell, opts, mode);
  let info: RunInfo | null = null;
  const launched = tally(ps);

  async function run<R>(pass: Pass<R>): Promise<R> {
    const threads = opts.webasmThreads ?? true;
    const key = `${pass.key}:${threads ? 'threads' : 'one thread'}`;
    let p = c.pipelines.get(key);
    if (!p) {
      // gpu.js counts the orchestration's parameters to know how many handles to pass
      const orchestrate = function (...a: unknown[]) { return pass.body(a); };
      Object.defineProperty(orchestrate, 'length', { value: pass.args.length });
      p = (gpu.createPipeline as unknown as (fn: unknown, s: object) => Pipeline)(orchestrate, { threads });
      c.pipelines.set(key, p);
    }
    const result = await p(...pass.args);
    // a silent move to gpu.js's CPU kernel is an error, with gpu.js's reason
    info = runInfo(mode, p);
    const problem = fallbackProblem(info);
    if (problem) throw new GpujsError(problem);
    launched.note(pass);
    return pass.read(result);
  }

  return {
    name: `gpujs-${mode}`,
    precision: 'f32',
    mode,
    plans: ps.plans,
    lastRun: () => info,
    launches: launched.get,
    forward: async (steps, params, inputs, init) => run(ps.forward(steps, params, inputs, init)),
    backward: async (cot, want = {}) => run(ps.backward(cot, want)),
  };
}

/**
 * The same kernels called one by one, synchronously: a plain CellBackend for
 * callers that cannot await (the training loop). Only where gpu.js kernels
 * answer synchronously — webasm and cpu; WebGPU never does.
 */
export function gpujsSyncBackend(cell: CompiledCell, opts: GpujsOptions): CellBackend & { launches(): Launches; backward(cot: Parameters<CellBackend['backward']>[0], want?: { readonly inputs?: boolean }): GradValues } {
  const mode = checkOptions({ ...opts, mode: opts.mode ?? 'webasm' });
  if (mode !== 'webasm' && mode !== 'cpu') throw new GpujsError(`the synchronous gpujs backend runs on webasm or cpu, not ${mode} (WebGL2 and WebGPU need a browser and the asynchronous backend)`);
  let gpu = devices.get(mode);
  if (!gpu) {
    if (mode === 'webasm' && !GPU.isWebAssemblySupported) throw new GpujsError('gpu.js reports no WebAssembly support here');
    devices.set(mode, (gpu = new GPU({ mode: mode as never })));
  }
  const ps = passes(gpu, cell, opts, mode);
  const launched = tally(ps);
  const run = <R>(pass: Pass<R>): R => {
    const result = pass.body(pass.args);
    launched.note(pass);
    // gpu.js swaps a kernel it cannot build for its CPU kernel, with a warning; that is an error here
    const moved = mode === 'cpu' ? undefined : ps.kernels().find((k) => k.kernel?.constructor?.mode === 'cpu');
    if (moved) throw new GpujsError(`gpu.js fell back to its CPU kernel instead of ${mode}${moved.kernel?.fallbackReason ? `: ${moved.kernel.fallbackReason}` : ''}`);
    return pass.read(result);
  };
  return {
    name: `gpujs-${mode}-sync`,
    precision: 'f32',
    launches: launched.get,
    forward: (steps, params, inputs, init) => run(ps.forward(steps, params, inputs, init)),
    /** `{ inputs: false }`: no per-step input gradients (training needs only the rest), and none of the kernels only they need. */
    backward: (cot: Parameters<CellBackend['backward']>[0], want: { readonly inputs?: boolean } = {}) => run(ps.backward(cot, want)),
  };
}
