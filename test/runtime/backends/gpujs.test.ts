// The gpu.js backend in Node (its WebAssembly SIMD mode): values and gradients
// of every example cell against the float64 interpreter, the kernel plan
// (fusion, splitting, limits, what the sources are made of), and the refusals
// (float64, a silent move to gpu.js's CPU kernel). The same cases run in
// headless Chromium on WebGL2 and WebGPU in test/browser/.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GpujsPlanError, planStep } from '../../../compiler/emit/gpujs/plan.ts';
import type { GpuMode, RunInfo } from '../../../runtime/backends/gpujs.ts';
import { GpujsError, fallbackProblem, gpujsBackend, gpujsSyncBackend, releaseDevices, runInfo } from '../../../runtime/backends/gpujs.ts';
import type { CaseData, CaseResult } from '../../browser/cases.ts';
import { OPS_CELL, allCases, loadCell, makeCase, reference, relativeErrors } from '../../browser/cases.ts';

const TOLERANCE = 1e-4;
const f64 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
const plain = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));

async function runCase(c: CaseData, mode: GpuMode, extra: { limits?: { maxArrays?: number }; unroll?: number } = {}): Promise<CaseResult> {
  const b = await gpujsBackend(loadCell(c.source), { dims: c.dims, batch: c.batch, mode, ...extra });
  const f = await b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
  const first = b.lastRun()!;
  const g = await b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
  return { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) }, runs: [first, b.lastRun()!] };
}

const worst = (errors: Record<string, number>) => Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE));

describe('gpu.js webasm agrees with the float64 interpreter', () => {
  for (const c of allCases()) {
    it(c.name, async () => {
      const got = await runCase(c, 'webasm');
      const errors = relativeErrors(got, reference(c));
      expect(Object.keys(errors).length).toBeGreaterThan(3);
      expect(worst(errors)).toEqual([]);
      for (const r of got.runs) {
        expect(r.backend).toBe('webasm');
        expect(r.executor).toMatch(/^fused-/);
        expect(fallbackProblem(r as RunInfo)).toBeNull();
      }
    });
  }

  it('a larger batch and more steps (S size of the benchmark)', async () => {
    const c = makeCase('lstm.celda', loadSource('lstm'), { batch: 16, steps: 12, dims: { n_x: 8, n_a: 16 }, seed: 3 });
    expect(worst(relativeErrors(await runCase(c, 'webasm'), reference(c)))).toEqual([]);
  });

  it('kernels split to fit a device that binds few arrays still agree', async () => {
    const c = makeCase('lstm-peephole.celda', loadSource('lstm-peephole'));
    const got = await runCase(c, 'webasm', { limits: { maxArrays: 4 } });
    expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
    const split = await gpujsBackend(loadCell(c.source), { dims: c.dims, batch: c.batch, limits: { maxArrays: 4 } });
    expect(Math.max(...split.plans.backward.kernels.map((k) => k.args.filter((a) => a.from !== 'offset').length))).toBeLessThanOrEqual(4);
  });

  it('sum loops unrolled four terms per iteration (as on WebGPU in software) still agree, where 4 divides a length and where not', async () => {
    for (const [name, dims] of [['lstm', { n_x: 8, n_a: 12 }], ['gru', { n_x: 5, n_a: 6 }], ['rnn', { n_x: 4, n_a: 8, n_y: 3 }]] as const) {
      const c = makeCase(`${name}.celda`, loadSource(name), { batch: 4, steps: 5, dims, seed: 7 });
      const b = await gpujsBackend(loadCell(c.source), { dims: c.dims, batch: c.batch, unroll: 4 });
      const sources = [...b.plans.forward.kernels, ...b.plans.backward.kernels].map((k) => k.source).join('\n');
      expect(sources).toMatch(/k\d+ \+= 4\)/);
      expect(sources).toMatch(/\(k\d+ \+ 3\)/);
      const got = await runCase(c, 'webasm', { unroll: 4 });
      expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
    }
  });

  it('two parameters whose gradients are one node keep separate sums over the steps', async () => {
    const source = 'cell Two {\n  input x : n_x\n  state a : n_a\n  param b_1 : n_a\n  param b_2 : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t> + b_1 + b_2)\n}\n';
    const cell = loadCell(source);
    const id = (name: string) => cell.backward.roots.find((r) => r.name === name)!.id;
    expect(id('b_1')).toBe(id('b_2'));
    const c = makeCase('two biases', source);
    expect(worst(relativeErrors(await runCase(c, 'webasm'), reference(c)))).toEqual([]);
  });

  it('gpu.js cpu mode is reachable on request and says so', async () => {
    const c = makeCase('rnn.celda', loadSource('rnn'));
    const got = await runCase(c, 'cpu');
    expect(got.runs[0]!.backend).toBe('cpu');
    expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
  });
});

function loadSource(name: string): string {
  const c = allCases().find((x) => x.name === `${name}.celda`);
  if (!c) throw new Error(`no example ${name}`);
  return c.source;
}

describe('the kernel plan', () => {
  const plan = (name: string, which: 'forward' | 'backward', opts: { maxArrays?: number; maxExtent?: number; batch?: number } = {}) => {
    const cell = loadCell(name === 'ops' ? OPS_CELL : loadSource(name));
    const dims = new Map(cell.typed.dims.map((d, i) => [d, 3 + i] as const));
    return planStep(cell[which], { dims, batch: opts.batch ?? 4, mode: cell.typed.mode === 'unrolled' ? 'unrolled' : 'loop', ...opts });
  };

  it('fuses each group of gate arithmetic with its product: the LSTM forward step is three kernels', () => {
    const p = plan('lstm', 'forward');
    expect(p.kernels.map((k) => k.name)).toEqual(['c_tilde', 'c', 'a']);
    // W_u[a, x]: one loop per piece of the concatenation, no concatenated copy
    expect(p.kernels[1]!.source).toMatch(/for \(let k\d+ = 0; k\d+ < 3; k\d+\+\+\)/);
    expect(p.kernels[1]!.source).toContain('Math.exp(-Math.abs(');
  });

  it('parameter gradients are reductions over the batch that add the running sum over steps', () => {
    const p = plan('rnn', 'backward', { batch: 2 }); // n_x = 3, n_a = 4, n_y = 5
    const dW = p.kernels[p.roots.find((r) => r.root.name === 'W_aa' && r.root.of === 'param')!.kernel]!;
    expect(dW.output).toEqual([4, 4]);
    expect(dW.args.some((a) => a.from === 'acc' && a.name === 'W_aa')).toBe(true);
    expect(dW.source).toMatch(/for \(let k\d+ = 0; k\d+ < 2; k\d+\+\+\)/);
  });

  it('splits kernels that read more arrays than the device binds, and refuses when it cannot', () => {
    const loose = plan('lstm-peephole', 'backward');
    const tight = plan('lstm-peephole', 'backward', { maxArrays: 4 });
    const arrays = (k: (typeof tight.kernels)[number]) => k.args.filter((a) => a.from !== 'offset').length;
    expect(Math.max(...loose.kernels.map(arrays))).toBeGreaterThan(4);
    expect(Math.max(...tight.kernels.map(arrays))).toBeLessThanOrEqual(4);
    expect(tight.kernels.length).toBeGreaterThan(loose.kernels.length);
    expect(() => plan('lstm-peephole', 'backward', { maxArrays: 1 })).toThrow(/reads \d+ arrays; this device binds at most 1/);
  });

  it('refuses an output larger than the texture limit with a clear message', () => {
    expect(() => plan('rnn', 'forward', { batch: 40, maxExtent: 32 })).toThrow(GpujsPlanError);
    expect(() => plan('rnn', 'forward', { batch: 40, maxExtent: 32 })).toThrow(/exceeds this device's limit of 32/);
  });

  it('builds kernel sources from the graph only: no comment, no source spelling reaches them', () => {
    const cell = loadCell(`# harmless(); alert("x")\ncell Evil {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)  # }); process.exit(1); ({\n}\n`);
    const dims = new Map([['n_x', 2], ['n_a', 3]]);
    for (const g of [cell.forward, cell.backward]) {
      for (const k of planStep(g, { dims, batch: 2, mode: 'loop' }).kernels) {
        expect(k.source).not.toMatch(/alert|harmless|process|exit/);
        expect(k.source).toMatch(/^function \([A-Za-z0-9_, ]*\) \{\n[^]*\n\}$/);
      }
    }
  });
});

describe('refusals', () => {
  const cell = () => loadCell(loadSource('rnn'));

  it('a float64 request is an error, not a silent downcast', async () => {
    await expect(gpujsBackend(cell(), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, precision: 'f64' })).rejects.toThrow(/float32 only/);
  });

  it('an unknown mode is an error naming the modes', async () => {
    await expect(gpujsBackend(cell(), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, mode: 'cuda' as GpuMode })).rejects.toThrow(/webasm, webgl2, webgpu, cpu/);
  });

  it('WebGL2 and WebGPU are refused in Node with a hint, not faked', async () => {
    await expect(gpujsBackend(cell(), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, mode: 'webgl2' })).rejects.toThrow(GpujsError);
    await expect(gpujsBackend(cell(), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, mode: 'webgpu' })).rejects.toThrow(/WebGPU is not available/);
  });

  it('wrong array sizes and backward before forward are clear errors', async () => {
    const b = await gpujsBackend(cell(), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2 });
    await expect(b.backward({})).rejects.toThrow(/backward before forward/);
    const params = { W_aa: new Float64Array(9), W_ax: new Float64Array(6), b_a: new Float64Array(3), W_ya: new Float64Array(6), b_y: new Float64Array(2) };
    await expect(b.forward(2, params, { x: new Float64Array(7) })).rejects.toThrow(/inputs.x: expected 8 numbers, got 7/);
  });

  it('a run that gpu.js moved to its CPU kernel is reported, whatever the executor says', () => {
    const pipe = (backend: string, executorKind = 'generic', fallbackReason: string | null = null) => ({ backend, executorKind, fallbackReason });
    expect(fallbackProblem(runInfo('webasm', pipe('webasm', 'fused-sync')))).toBeNull();
    expect(fallbackProblem(runInfo('webgl2', pipe('gpu')))).toBeNull();
    expect(fallbackProblem(runInfo('webgpu', pipe('webgpu', 'fused-encoder')))).toBeNull();
    expect(fallbackProblem(runInfo('webgl2', pipe('cpu', 'generic', 'texture arguments')))).toMatch(/fell back to its CPU kernel instead of webgl2: texture arguments/);
    expect(fallbackProblem(runInfo('webgpu', pipe('gpu')))).toMatch(/ran on gpu instead of webgpu/);
    const clones = new Map([['k0', { kernel: { constructor: { mode: 'gpu' } } }], ['k1', { kernel: { constructor: { mode: 'cpu' } } }]]);
    expect(fallbackProblem(runInfo('webgl2', { ...pipe('gpu'), plan: { genericClones: clones } }))).toMatch(/CPU kernel/);
    expect(fallbackProblem(runInfo('cpu', pipe('cpu')))).toBeNull();
  });
});

describe('the asynchronous contract', () => {
  it('reads back only what is asked: no input gradients when told so; kernels are cached per cell and shape', async () => {
    const c = makeCase('gru.celda', loadSource('gru'));
    const cell = loadCell(c.source);
    const b1 = await gpujsBackend(cell, { dims: c.dims, batch: c.batch });
    const b2 = await gpujsBackend(cell, { dims: c.dims, batch: c.batch });
    const b3 = await gpujsBackend(cell, { dims: c.dims, batch: c.batch + 1 });
    expect(b2.plans.forward).toBe(b1.plans.forward);
    expect(b3.plans.forward).not.toBe(b1.plans.forward);
    await b1.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
    const g = await b1.backward({ states: f64(c.cot.states) }, { inputs: false });
    expect(Object.keys(g.inputs)).toEqual([]);
    const full = await b1.backward({ states: f64(c.cot.states) });
    expect(Array.from(g.params.W_r!)).toEqual(Array.from(full.params.W_r!));
    expect(full.inputs.x!.length).toBe(c.steps * c.batch * c.dims.n_x!);
    // released devices (and their worker threads) come back on the next use
    await releaseDevices();
    const b4 = await gpujsBackend(cell, { dims: c.dims, batch: c.batch });
    expect(b4.plans.forward).not.toBe(b1.plans.forward);
    const again = await b4.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
    expect(again.states.c!.length).toBe(c.steps * c.batch * c.dims.n_a!);
  });
});

describe('the synchronous variant (for the training loop)', () => {
  for (const name of ['gru', 'lstm', 'rnn-unrolled']) {
    it(`${name}: the same kernels called one by one agree with the interpreter`, () => {
      const c = makeCase(`${name}.celda`, loadSource(name));
      const b = gpujsSyncBackend(loadCell(c.source), { dims: c.dims, batch: c.batch });
      const f = b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
      const g = b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
      const got = { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
      expect(b.precision).toBe('f32');
      expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
    });
  }

  it('runs sequences of different lengths one after the other (as training batches do)', async () => {
    for (const steps of [3, 6, 2]) {
      const c = makeCase('gru.celda', loadSource('gru'), { steps, seed: steps });
      const sync = gpujsSyncBackend(loadCell(c.source), { dims: c.dims, batch: c.batch });
      const f = sync.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
      const g = sync.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
      const got = { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
      expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
      expect(worst(relativeErrors(await runCase(c, 'webasm'), reference(c)))).toEqual([]);
    }
  });

  // gpu.js's cpu mode indexed an Input argument by the kernel's output width: wrong whenever n_x ≠ n_a (runtime/backends/gpujs.ts, upload)
  for (const c of allCases()) {
    it(`cpu mode, ${c.name}: inputs and states of other widths than the output (${Object.entries(c.dims).map(([k, v]) => `${k} = ${v}`).join(', ')})`, () => {
      const b = gpujsSyncBackend(loadCell(c.source), { dims: c.dims, batch: c.batch, mode: 'cpu' });
      const f = b.forward(c.steps, f64(c.params), f64(c.inputs), f64(c.init));
      const g = b.backward({ states: f64(c.cot.states), outputs: f64(c.cot.outputs) });
      const got = { states: plain(f.states), outputs: plain(f.outputs), grads: { params: plain(g.params), inputs: plain(g.inputs), init: plain(g.init) } };
      expect(worst(relativeErrors(got, reference(c)))).toEqual([]);
    });
  }

  it('refuses a mode whose kernels only answer asynchronously', () => {
    expect(() => gpujsSyncBackend(loadCell(loadSource('rnn')), { dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, mode: 'webgpu' })).toThrow(/webasm or cpu, not webgpu/);
  });
});

describe('celda eval --backend gpujs', () => {
  const celda = (...argv: string[]) => spawnSync(process.execPath, [fileURLToPath(new URL('../../../bin/celda.js', import.meta.url)), ...argv], { encoding: 'utf8' });
  const flatten = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flatten) : typeof x === 'object' && x !== null ? Object.keys(x).sort().flatMap((k) => flatten((x as Record<string, unknown>)[k])) : [x as number]);

  it('prints the same JSON as the interpreter, within float32 tolerance; refuses float64', () => {
    const dir = mkdtempSync(join(tmpdir(), 'celda-gpujs-'));
    const inputs = join(dir, 'inputs.json');
    writeFileSync(inputs, JSON.stringify({
      dims: { n_x: 2, n_a: 3 }, batch: 2, steps: 3,
      inputs: { x: [[[0.1, -0.2], [0.3, 0.4]], [[0.5, 0.1], [-0.3, 0.2]], [[0.0, 0.7], [0.2, -0.1]]] },
      cotangents: { c: [[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [1, 1, 1]], [[0.5, 0.5, 0.5], [1, 0, 1]]] },
    }));
    const cell = fileURLToPath(new URL('../../../examples/cells/gru.celda', import.meta.url));
    const gpu = celda('eval', cell, '--inputs', inputs, '--backend', 'gpujs');
    const ref = celda('eval', cell, '--inputs', inputs);
    expect(gpu.stderr).toBe('');
    expect(gpu.status).toBe(0);
    const got = flatten(JSON.parse(gpu.stdout)), want = flatten(JSON.parse(ref.stdout));
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!))) / scale).toBeLessThan(TOLERANCE);
    const f64run = celda('eval', cell, '--inputs', inputs, '--backend', 'gpujs', '--precision', 'f64');
    expect(f64run.status).toBe(2);
    expect(f64run.stderr).toMatch(/^error: the gpujs backend computes in float32 only/);
    rmSync(dir, { recursive: true, force: true });
  });
});
