// The gpu.js backend's scans (runtime/backends/gpujs-scan.ts, compiler/emit/gpujs/scan.ts)
// in Node (webasm): agreement with the float64 interpreter, values and every
// gradient, on minGRU, an RG-LRU-like cell (with an output of its own), IndRNN
// (a scan backward only) and random linear cells; kernel launches per pass that
// do not grow with T with the scan and grow with T without it (`scan: false`).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { gpujsBackend, gpujsSyncBackend, releaseDevices } from '../../../runtime/backends/gpujs.ts';
import type { BackendOptions } from '../../../runtime/backend.ts';
import { Rng } from '../../../runtime/random.ts';
import { agreement, relativeError } from '../../support/emit-js.ts';
import { compileOk } from '../../support/cells.ts';
import { linearCellSource, randomLinearCell } from '../../support/random-linear-cell.ts';
import { zooSource } from '../../support/zoo.ts';
import { createdNotRun } from '../../support/kernels-run.ts';
import { chunkLength, nodeKeys, planScan, readSaved } from '../../../compiler/emit/gpujs/scan.ts';
import { planStep } from '../../../compiler/emit/gpujs/plan.ts';
import { scanForms } from '../../../compiler/lower/scan.ts';
import { evalDim } from '../../../compiler/ir/dims.ts';

const cell = (body: string, decls = 'input x : n\n  state h : n') => compileOk(`cell C {\n  ${decls}\n  ${body.split('\n').join('\n  ')}\n}`)[0]!;
const MIN_GRU = cell('z = σ(W_z x^<t> + b_z)\nh̃ = W_h x^<t> + b_h\nh^<t> = (1 - z) * h^<t-1> + z * h̃');
const RG_LRU = cell(
  'r = σ(W_a x^<t> + b_a)\ni = σ(W_x x^<t> + b_x)\nα = exp(8 * r * log(σ(Λ)))\nh^<t> = α * h^<t-1> + sqrt(1 - α * α) * (i * x^<t>)\ny^<t> = W_y h^<t>',
  'input x : n\n  state h : n\n  param Λ : n\n  param W_y : n × n',
);
const IND_RNN = cell('h^<t> = relu(W x^<t> + u * h^<t-1> + b)');
// The 2017 SRU: c is the scan, h an output read from it.
const SRU = cell('f = σ(W_f x^<t> + b_f)\nr = σ(W_r x^<t> + b_r)\nc^<t> = f * c^<t-1> + (1 - f) * (W x^<t>)\nh^<t> = r * tanh(c^<t>) + (1 - r) * x^<t>', 'input x : n\n  state c : n');
// An output reading the state at t and at t−1: the forward reads the scan's values as they are and shifted by a step.
const BOTH = cell('z = σ(W_z x^<t> + b_z)\nh^<t> = (1 - z) * h^<t-1> + z * x^<t>\ny^<t> = h^<t> * h^<t-1>', 'input x : n\n  state h : n');
// minLSTM: its gates normalised by their sum, a division by a coefficient.
const MIN_LSTM = cell('f = σ(W_f x^<t> + b_f)\ni = σ(W_i x^<t> + b_i)\nh^<t> = (f / (f + i)) * h^<t-1> + (i / (f + i)) * (W_h x^<t>)');

afterAll(releaseDevices);

let made: ReturnType<typeof gpujsSyncBackend> | null = null;
const gpu = (scan: boolean) => (c: CompiledCell, o: BackendOptions) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', scan, webasmThreads: false }));
/** Whether the last backend made ran its forward and backward as scans. */
const scanned = () => [made!.launches().forward!.scan, made!.launches().backward!.scan];

/** Launches of one forward and one backward pass at T steps. */
function launches(c: CompiledCell, steps: number, scan: boolean, n = 4, batch = 2) {
  // one segment at every T (webasm's default cuts T·B rows into segments of 1024)
  const b = gpujsSyncBackend(c, { dims: { n }, batch, scan, webasmThreads: false, scanRows: Infinity });
  const rng = new Rng(1);
  const t = c.typed;
  const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
  const params = Object.fromEntries(t.params.map((p) => [p.name, vec(p.shape.length === 2 ? n * n : n)]));
  b.forward(steps, params, { x: vec(steps * batch * n) });
  b.backward({ states: { [t.states[0]!.name]: vec(steps * batch * n) } });
  const l = b.launches();
  return { forward: l.forward!.launches, backward: l.backward!.launches, scan: [l.forward!.scan, l.backward!.scan] };
}

describe('gpu.js scans agree with the float64 interpreter', () => {
  const cases: [string, CompiledCell][] = [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU], ['IndRNN', IND_RNN], ['SRU', SRU], ['minLSTM', MIN_LSTM], ['an output of h at t and t−1', BOTH]];
  for (const [name, c] of cases) {
    for (const steps of [1, 5, 16]) {
      it(`${name}, T = ${steps}`, () => {
        const a = agreement(c, gpu(true), { dims: { n: 5 }, batch: 3, steps, seed: steps, precision: 'f32' });
        expect(a.worstScaled, a.where).toBeLessThan(1e-4);
        expect(scanned()).toEqual([c !== IND_RNN, true]);
      });
    }
  }

  it('random linear cells (fast-check)', () => {
    fc.assert(fc.property(randomLinearCell, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), (spec, B, T) => {
      const c = compileOk(linearCellSource(spec))[0]!;
      const a = agreement(c, gpu(true), { dims: { n: 3 }, batch: B, steps: T, seed: B + 5 * T, precision: 'f32' });
      expect(a.worstScaled, `${a.where}\n${linearCellSource(spec)}`).toBeLessThan(Math.max(1e-4, 50 * a.conditioning));
      expect(scanned()).toEqual([true, true]);
    }), { numRuns: 12, seed: 1415 });
  });
});

/**
 * A cell's scanned forward and backward planned on the CPU layout at n (the states h or c), with `options`:
 * each pass's kernels on their own, coefficients then whole (a kernel's arguments index its pass's).
 */
function passKernels(c: CompiledCell, n: number, batch: number, steps: number, options: { pack?: boolean; quad?: boolean }) {
  const forms = scanForms(c)!;
  const opts = { dims: new Map([['n', n]]), batch, mode: 'loop' as const, cpu: true, ...options };
  const N = new Map([['h', n], ['c', n]]);
  return [planScan(forms.forward, forms.fwd, 'forward', steps, N, opts), planScan(forms.backward, forms.bwd, 'backward', steps, N, opts)].map((p) => [...p.coefficients.kernels, ...p.whole.kernels]);
}

describe('products over all rows reading operands packed by four (PlanOptions.pack, as on WebGL2 in software)', () => {
  // gpu.js's webasm translation reads no Array(4) arrays: the values are checked in Chromium (test/browser/scan-browser.test.ts)
  const plan = (c: CompiledCell, n: number, batch: number, steps: number, pack: boolean) => passKernels(c, n, batch, steps, { pack }).flat();
  for (const [name, c] of [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU], ['SRU', SRU], ['minLSTM', MIN_LSTM]] as const) {
    it(`${name}: the products and weight-gradient sums read Array(4) copies where 4 divides the sum's length, and only there`, () => {
      const packed = plan(c, 8, 4, 8, true);
      const packs = packed.filter((k) => k.returnType === 'Array(4)');
      expect(packs.length).toBeGreaterThanOrEqual(2);
      for (const k of packs) expect(k.source).toMatch(/return \[.+, .+, .+, .+\];/);
      // x·W rows: 8/4 packed elements per sum; the gradients: 32/4 rows
      expect(packed.some((k) => /u\d+\[0\] \* v\d+\[0\]/.test(k.source) && /k\d+ < 2;/.test(k.source))).toBe(true);
      expect(packed.some((k) => /u\d+\[0\] \* v\d+\[0\]/.test(k.source) && /k\d+ < 8;/.test(k.source))).toBe(true);
      expect(plan(c, 6, 3, 10, true).some((k) => k.returnType !== undefined)).toBe(false);
      expect(plan(c, 8, 4, 8, false).some((k) => k.returnType !== undefined)).toBe(false);
    });
  }
});

describe('products over all rows as kernels of four outputs per thread (PlanOptions.quad, as on WebGPU in software)', () => {
  // the values are checked in Chromium on WebGPU (test/browser/scan-browser.test.ts); webasm reads no Array(4) arguments
  const plan = (c: CompiledCell, n: number, batch: number, steps: number, quad: boolean) => passKernels(c, n, batch, steps, { quad });
  for (const [name, c] of [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU], ['SRU', SRU], ['minLSTM', MIN_LSTM]] as const) {
    it(`${name}: each input product and weight-gradient sum is a four-output kernel its own kernel reads, where 4 divides its outputs and its sum's length, and only there`, () => {
      const plans = plan(c, 8, 4, 8, true);
      const quads = plans.flatMap((kernels) => kernels.filter((k) => k.name.endsWith('_q')).map((q) => ({ q, kernels })));
      // the forward's input products (one per W·x) and the backward's weight-gradient sums, 32 rows
      expect(quads.length).toBeGreaterThanOrEqual(4);
      for (const { q, kernels } of quads) {
        expect(q.returnType).toBe('Array(4)');
        expect(q.output[0]).toBe(2); // 8 outputs, four per thread
        expect(q.source).toMatch(/q3 \+= u\[0\] \* w0\[3\] \+ u\[1\] \* w1\[3\] \+ u\[2\] \* w2\[3\] \+ u\[3\] \* w3\[3\];/);
        expect(q.source).toMatch(/return \[q0, q1, q2, q3\];/);
        // every argument an Array(4) copy packed by four
        for (const a of q.args) expect(a.from === 'kernel' && kernels[a.index]!.returnType).toBe('Array(4)');
        const readers = kernels.filter((k) => k.args.some((a) => a.from === 'kernel' && kernels[a.index] === q));
        expect(readers.length).toBe(1);
        expect(readers[0]!.source).toMatch(/q\[this\.thread\.x % 4\]/);
      }
      // sums of 8 terms (W·x) and of 32 rows: 2 and 8 iterations of four
      expect(quads.some(({ q }) => /k < 2;/.test(q.source))).toBe(true);
      expect(quads.some(({ q }) => /k < 8;/.test(q.source))).toBe(true);
      // n = 4 and 18 rows: the products (4 outputs, 4 terms) but not the sums over the rows
      const mixed = plan(c, 4, 2, 9, true).flat().filter((k) => k.name.endsWith('_q'));
      expect(mixed.length).toBeGreaterThan(0);
      for (const q of mixed) expect(q.source).toMatch(/k < 1;/);
      // n = 6 and 30 rows: 4 divides neither
      expect(plan(c, 6, 3, 10, true).flat().some((k) => k.returnType !== undefined)).toBe(false);
      expect(plan(c, 8, 4, 8, false).flat().some((k) => k.returnType !== undefined)).toBe(false);
    });
  }
});

describe('chunks over time', () => {
  it('chunk length ≈ (2T)^⅓, between 1 and T', () => {
    expect([1, 2, 4, 13, 256, 1024, 4096].map(chunkLength)).toEqual([1, 2, 2, 3, 8, 13, 20]);
  });

  // T = 1: one chunk of one step; 2: one chunk; 13 and 67 end in a short chunk (L = 3 and 5); 125: L = 6, chunks of 6 and a last of 5
  for (const steps of [1, 2, 13, 67, 125]) {
    it(`minGRU and minLSTM at T = ${steps} (chunk ${chunkLength(steps)}), batch 3`, () => {
      for (const c of [MIN_GRU, MIN_LSTM]) {
        const a = agreement(c, gpu(true), { dims: { n: 3 }, batch: 3, steps, seed: steps + 2, precision: 'f32' });
        expect(a.worstScaled, a.where).toBeLessThan(1e-4);
        expect(scanned()).toEqual([true, true]);
      }
    });
  }

  it('random linear cells at T beyond one chunk (fast-check)', () => {
    fc.assert(fc.property(randomLinearCell, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 10, max: 70 }), (spec, B, T) => {
      const c = compileOk(linearCellSource(spec))[0]!;
      const a = agreement(c, gpu(true), { dims: { n: 2 }, batch: B, steps: T, seed: B + 3 * T, precision: 'f32' });
      expect(a.worstScaled, `T = ${T}: ${a.where}\n${linearCellSource(spec)}`).toBeLessThan(Math.max(1e-4, 50 * a.conditioning));
      expect(scanned()).toEqual([true, true]);
    }), { numRuns: 8, seed: 1416 });
  });
});

describe('zoo cells as gpu.js scans, values and every gradient', () => {
  // [file, dims, whether the forward and the backward are scans]
  const cases: [string, Record<string, number>, [boolean, boolean]][] = [
    ['mingru.celda', { n_x: 3, n_h: 4 }, [true, true]],
    ['minlstm.celda', { n_x: 3, n_h: 4 }, [true, true]],
    ['rg-lru.celda', { D: 4 }, [true, true]],
    // a matrix state per example, h : D × N, decayed entry by entry by Ā = exp(diag(Δ) A)
    ['mamba-s6.celda', { D: 3, N: 2 }, [true, true]],
    // the stabiliser m is a max: the forward in stages, m a max-plus scan and then C and n scanned; the backward's C (a matrix per example), n and m are scans
    ['mlstm.celda', { d: 3, n_x: 3 }, [true, true]],
    ['sru.celda', { d: 4 }, [false, true]],
    ['indrnn.celda', { n_x: 3, n_h: 4 }, [false, true]],
  ];
  for (const [file, dims, expected] of cases) {
    it(`${file} at T = 1 and 17`, () => {
      const c = compileOk(zooSource(file))[0]!;
      for (const steps of [1, 17]) {
        const a = agreement(c, gpu(true), { dims, batch: 2, steps, seed: steps, precision: 'f32', scale: 0.3 });
        expect(a.worstScaled, `T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
        expect(scanned()).toEqual(expected);
      }
    });
  }
});

describe('segments: T·B rows beyond the device\'s limit (forced small here)', () => {
  const limited = (scan: true | 'log', maxExtent: number) => (c: CompiledCell, o: BackendOptions) =>
    (made = gpujsSyncBackend(c, { ...o, precision: 'f32', scan, webasmThreads: false, limits: { maxExtent } }));
  // batch 3, at most 16 rows: segments of 5 steps; T = 17 → 5, 5, 5, 2
  const cases: [string, CompiledCell, Record<string, number>][] = [
    ['minGRU', MIN_GRU, { n: 4 }], ['RG-LRU (an output of its own)', RG_LRU, { n: 4 }], ['minLSTM', MIN_LSTM, { n: 4 }],
    ['Mamba S6 (a matrix state)', compileOk(zooSource('mamba-s6.celda'))[0]!, { D: 3, N: 2 }],
  ];
  it('mLSTM: a staged forward whose first stage would exceed the limit over all T steps through time instead, and says why', () => {
    const c = compileOk(zooSource('mlstm.celda'))[0]!;
    const a = agreement(c, limited(true, 16), { dims: { d: 3, n_x: 3 }, batch: 3, steps: 6, seed: 6, precision: 'f32', scale: 0.4 });
    expect(a.worstScaled, a.where).toBeLessThan(1e-4);
    expect(scanned()).toEqual([false, true]);
    expect(made!.launches().forward!.reason).toMatch(/first stage over 18 rows exceeds this device's limit of 16/);
  });
  for (const [name, c, dims] of cases) {
    it(`${name}: the state carried across segments, values and every gradient`, () => {
      for (const steps of [5, 6, 17]) {
        const a = agreement(c, limited(true, 16), { dims, batch: 3, steps, seed: steps, precision: 'f32', scale: 0.4 });
        expect(a.worstScaled, `T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
        expect(scanned()).toEqual([true, true]);
      }
    });
  }

  it('the asynchronous backend (a recorded pipeline) joins the segments too', async () => {
    const o = { dims: { n: 4 }, batch: 2, steps: 11 };
    const b = await gpujsBackend(RG_LRU, { ...o, precision: 'f32', webasmThreads: false, limits: { maxExtent: 8 } });
    const sync = gpujsSyncBackend(RG_LRU, { ...o, precision: 'f32', scan: false, webasmThreads: false });
    const rng = new Rng(7);
    const vec = (k: number) => Float32Array.from({ length: k }, () => 0.4 * rng.normal());
    const params = Object.fromEntries(RG_LRU.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 16 : 4)]));
    const x = { x: vec(11 * 2 * 4) }, cot = { states: { h: vec(11 * 2 * 4) }, outputs: { y: vec(11 * 2 * 4) } };
    const [f1, f2] = [await b.forward(11, params, x), sync.forward(11, params, x)];
    const [g1, g2] = [await b.backward(cot), sync.backward(cot)];
    expect(b.launches().forward!.scan && b.launches().backward!.scan).toBe(true);
    expect(relativeError(f1.states.h!, f2.states.h!)).toBeLessThan(1e-5);
    expect(relativeError(f1.outputs.y!, f2.outputs.y!)).toBeLessThan(1e-5);
    for (const k of Object.keys(g2.params)) expect(relativeError(g1.params[k]!, g2.params[k]!), k).toBeLessThan(1e-4);
    expect(relativeError(g1.init.h!, g2.init.h!)).toBeLessThan(1e-4);
    expect(relativeError(g1.inputs.x!, g2.inputs.x!)).toBeLessThan(1e-4);
  });

  it('in log space too', () => {
    const a = agreement(MIN_GRU, limited('log', 16), { dims: { n: 4 }, batch: 3, steps: 17, seed: 2, precision: 'f32' });
    expect(a.worstScaled, a.where).toBeLessThan(1e-4);
    expect([made!.launches().forward!.form, made!.launches().backward!.form]).toEqual(['log', 'log']);
  });

  it('launches grow with the number of segments, not with T inside one', () => {
    const run = (steps: number, maxExtent?: number) => {
      agreement(MIN_GRU, (c, o) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', webasmThreads: false, ...(maxExtent ? { limits: { maxExtent } } : {}) })), { dims: { n: 4 }, batch: 2, steps, seed: 1, precision: 'f32' });
      const l = made!.launches();
      return [l.forward!.launches, l.backward!.launches];
    };
    // batch 2: a limit of 40 rows makes 20-step segments, of 20 rows 10-step ones
    const one = run(40), two = run(40, 40), four = run(40, 20), fourLonger = run(80, 40);
    // forward: each segment's kernels, and the hand-over of its last state to the next
    expect(four[0]! - two[0]!).toBe(2 * (two[0]! - one[0]!));
    expect(four[1]!).toBeGreaterThan(two[1]!);
    expect(two[1]!).toBeGreaterThan(one[1]!);
    expect(fourLonger).toEqual(four);
  });
});

describe('why a pass steps through time', () => {
  it('--no-scan, and a state that is not linear, say so in launches()', () => {
    agreement(MIN_GRU, gpu(false), { dims: { n: 3 }, batch: 1, steps: 3, seed: 1, precision: 'f32' });
    expect(made!.launches().forward!.reason).toBe('scans are off (--no-scan)');
    agreement(IND_RNN, gpu(true), { dims: { n: 3 }, batch: 1, steps: 3, seed: 1, precision: 'f32' });
    expect(made!.launches().forward!.reason).toMatch(/^not every state is a diagonal linear recurrence forward: h: diagonal-jacobian \(relu/);
    expect(made!.launches().backward!.reason).toBeUndefined();
  });
});

describe('the asynchronous backend (recorded pipelines)', () => {
  it('minGRU and RG-LRU agree, forward and back, as scans', async () => {
    for (const c of [MIN_GRU, RG_LRU]) {
      const o = { dims: { n: 4 }, batch: 2, steps: 11 };
      const b = await gpujsBackend(c, { ...o, precision: 'f32', webasmThreads: false });
      const sync = gpujsSyncBackend(c, { ...o, precision: 'f32', scan: false, webasmThreads: false });
      const rng = new Rng(5);
      const vec = (k: number) => Float32Array.from({ length: k }, () => 0.4 * rng.normal());
      const params = Object.fromEntries(c.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 16 : 4)]));
      const x = { x: vec(11 * 2 * 4) }, cot = { states: { h: vec(11 * 2 * 4) } };
      const [f1, f2] = [await b.forward(11, params, x), sync.forward(11, params, x)];
      const [g1, g2] = [await b.backward(cot), sync.backward(cot)];
      expect(b.launches().forward!.scan && b.launches().backward!.scan).toBe(true);
      expect(relativeError(f1.states.h!, f2.states.h!)).toBeLessThan(1e-5);
      for (const k of Object.keys(g2.params)) expect(relativeError(g1.params[k]!, g2.params[k]!), k).toBeLessThan(1e-4);
      expect(relativeError(g1.init.h!, g2.init.h!)).toBeLessThan(1e-4);
      expect(relativeError(g1.inputs.x!, g2.inputs.x!)).toBeLessThan(1e-4);
    }
  });
});

describe('kernel launches per pass', () => {
  it('minGRU: a chunked scan launches as many kernels at every T; stepping grows with T', () => {
    const on = [16, 32, 64, 1000].map((T) => launches(MIN_GRU, T, true));
    const off = [16, 32, 64].map((T) => launches(MIN_GRU, T, false));
    for (const l of on) expect(l.scan).toEqual([true, true]);
    for (const l of off) expect(l.scan).toEqual([false, false]);
    for (const l of on.slice(1)) expect([l.forward, l.backward]).toEqual([on[0]!.forward, on[0]!.backward]);
    // forward: W_z x and W_h x (kernels of their own, which the backward reads), z, a, b; per state and pass a local
    // scan, its decay, the carries over chunks, the fix-up; backward: a copy of the saved a, the scan, the gradients —
    // over all T·B rows with W_hᵀ and W_zᵀ copied, each product in a kernel of its own, and the operands of the
    // two weight gradients (x, and each gate's cotangent) transposed so their sums over rows read contiguously
    expect([on[0]!.forward, on[0]!.backward]).toEqual([9, 24]);
    // sequential: a step's kernels per step
    expect(off[2]!.forward - off[1]!.forward).toBe(2 * (off[1]!.forward - off[0]!.forward));
    expect(off[1]!.forward - off[0]!.forward).toBeGreaterThanOrEqual(16);
    expect(on[2]!.forward + on[2]!.backward).toBeLessThan((off[2]!.forward + off[2]!.backward) / 4);
  });

  it('minGRU, scanned and stepped: { inputs: false } runs none of the kernels only ∂x needs, and every other gradient is the same', () => {
    for (const scan of [true, false]) {
      const b = gpujsSyncBackend(MIN_GRU, { dims: { n: 4 }, batch: 2, scan, webasmThreads: false });
      const rng = new Rng(3);
      const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
      const params = Object.fromEntries(MIN_GRU.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 16 : 4)]));
      const cot = { states: { h: vec(40 * 2 * 4) } };
      b.forward(40, params, { x: vec(40 * 2 * 4) });
      const full = b.backward(cot);
      const all = b.launches().backward!.launches;
      const part = b.backward(cot, { inputs: false });
      const fewer = b.launches().backward!.launches;
      expect(Object.keys(part.inputs)).toEqual([]);
      expect(full.inputs.x!.length).toBe(40 * 2 * 4);
      for (const k of Object.keys(full.params)) expect(Array.from(part.params[k]!), k).toEqual(Array.from(full.params[k]!));
      expect(Array.from(part.init.h!)).toEqual(Array.from(full.init.h!));
      // ∂x = W_hᵀ(…) + W_zᵀ(…): scanned, its kernels over all rows (two products, their sum, the copies of W_hᵀ and W_zᵀ);
      // stepped, its one kernel in every step
      expect(all - fewer).toBe(scan ? 5 : 40);
    }
  });

  it('mLSTM: a scanned pass creates only kernels it launches — the staged forward\'s max-plus stage (m) no stepping kernels, no forward hand-over in one segment', () => {
    const c = compileOk(zooSource('mlstm.celda'))[0]!;
    const dims = { d: 3, n_x: 3 }, batch = 2, steps = 7;
    const b = gpujsSyncBackend(c, { dims, batch, precision: 'f32', webasmThreads: false, scanRows: Infinity });
    const rng = new Rng(2);
    const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
    const params = Object.fromEntries(c.typed.params.map((p) => [p.name, vec(p.shape.reduce((k, d) => k * evalDim(d, dims)!, 1))]));
    // every kernel created from here on, and whether it ran (the kernels of the steps themselves were made with the backend)
    let fwd = 0;
    const { created, idle } = createdNotRun((soFar) => {
      b.forward(steps, params, { x: vec(steps * batch * 3) });
      fwd = soFar();
      b.backward({ states: { C: vec(steps * batch * 9), n: vec(steps * batch * 3), m: vec(steps * batch) }, outputs: { h: vec(steps * batch * 3) } });
    });
    expect([b.launches().forward!.scan, b.launches().backward!.scan]).toEqual([true, true]);
    // the forward: m's coefficients and max-plus scan, then C's and n's, then h over all rows
    expect(fwd).toBeGreaterThan(8);
    expect(created).toBeGreaterThan(fwd);
    expect(idle).toEqual([]);
  });

  it('RG-LRU and SRU: the forward reads its states at t from the scans, not from a kernel of the whole step graph; no backward plans ∂state^<t-1> over all rows', () => {
    const opts = { dims: new Map([['n', 4]]), batch: 2, mode: 'loop' as const, cpu: true };
    const f = scanForms(BOTH)!;
    const both = planScan(f.forward, f.fwd, 'forward', 8, new Map([['h', 4]]), opts).whole.kernels;
    expect(both.map((k) => k.name)).toEqual(['y']);
    expect(both[0]!.args).toEqual(expect.arrayContaining([{ from: 'prev', name: 'now:h' }, { from: 'prev', name: 'h' }]));
    for (const [c, state, output] of [[RG_LRU, 'h', 'y'], [SRU, 'c', 'h']] as const) {
      const f = scanForms(c)!;
      const p = planScan(f.forward, f.fwd, 'forward', 8, new Map([[state, 4]]), opts);
      // after the scan, only the output's kernel; it reads the scanned state as it is (now:state), not shifted to t−1
      expect(p.whole.roots.map((r) => `${r.root.role}:${r.root.name}`)).toEqual([`output:${output}`]);
      expect(p.whole.kernels.map((k) => k.name)).toEqual([output]);
      expect(p.whole.kernels[0]!.args).toContainEqual({ from: 'prev', name: `now:${state}` });
      expect(p.whole.kernels[0]!.args).not.toContainEqual({ from: 'prev', name: state });
    }
    // backward: no ∂h^<t-1> over all rows (the scan holds it one step on); ∂h^<0> is the hand-over of the first segment, over B rows
    for (const c of [MIN_GRU, RG_LRU, SRU, BOTH]) {
      const f = scanForms(c)!;
      const p = planScan(f.backward, f.bwd, 'backward', 8, new Map([['h', 4], ['c', 4]]), opts, 'plain', { handover: true, next: false });
      expect(p.whole.roots.filter((r) => r.root.of === 'prev')).toEqual([]);
      expect(p.states.map((s) => s.handover?.output)).toEqual([[4, 2]]);
    }
    // RG-LRU: r's and i's products, α, b; the scan's four kernels; y = W_y h (before: also h again, and h shifted to t−1: 11)
    expect(launches(RG_LRU, 8, true).forward).toBe(9);
    // SRU: three products, f, b; the scan's four; h (before: 12)
    expect(launches(SRU, 8, true).forward).toBe(10);
  });

  it('minGRU, RG-LRU, SRU, minLSTM and an output of h at t and t−1, in one segment: every kernel a scanned pass creates runs', () => {
    for (const c of [MIN_GRU, RG_LRU, SRU, MIN_LSTM, BOTH]) {
      // a shape no other test here runs: the kernels of this T are made inside the watch
      const B = 3, T = 23;
      const b = gpujsSyncBackend(c, { dims: { n: 4 }, batch: B, webasmThreads: false, scanRows: Infinity });
      const rng = new Rng(6);
      const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
      const params = Object.fromEntries(c.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 16 : 4)]));
      const { created, idle } = createdNotRun(() => {
        b.forward(T, params, { x: vec(T * B * 4) });
        b.backward({ states: { [c.typed.states[0]!.name]: vec(T * B * 4) } });
      });
      expect([b.launches().forward!.scan, b.launches().backward!.scan]).toEqual([true, true]);
      expect(created).toBeGreaterThan(10);
      expect(idle).toEqual([]);
    }
  });

  it('IndRNN: the forward steps through time, the backward is a scan', () => {
    const l = launches(IND_RNN, 32, true);
    expect(l.scan).toEqual([false, true]);
  });
});

describe('long sequences (T = 4096)', () => {
  it('minGRU: the scan stays finite and agrees with the interpreter, forward and back', () => {
    // a = 1 − z lies in (0, 1) at every step, so the cumulative decay A_t = Π a_k underflows float32 within a
    // few hundred steps and the cumulative-product form h_t = A_t (h_0 + Σ b_k / A_k) would divide by zero;
    // the pairwise scan (E'_r = A_r E_{r−d} + E_r) never divides, and an A that underflows is a decay that did.
    const a = agreement(MIN_GRU, (cell, opts) => (made = gpujsSyncBackend(cell, { ...opts, precision: 'f32', webasmThreads: false })), { dims: { n: 3 }, batch: 1, steps: 4096, seed: 9, precision: 'f32' });
    expect(scanned()).toEqual([true, true]);
    expect(a.worstScaled, a.where).toBeLessThan(1e-4);
  });
});

describe('the log-space scan (scan: \'log\')', () => {
  const logGpu = (c: CompiledCell, o: BackendOptions) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', scan: 'log', webasmThreads: false }));
  const forms = () => [made!.launches().forward!.form, made!.launches().backward!.form];

  for (const [name, c] of [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU]] as const) {
    it(`${name}: in log space forward and back, within the interpreter's tolerance`, () => {
      for (const steps of [1, 7, 33]) {
        const a = agreement(c, logGpu, { dims: { n: 4 }, batch: 2, steps, seed: steps + 1, precision: 'f32' });
        expect(forms()).toEqual(['log', 'log']);
        expect(a.worstScaled, `T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
      }
    });
  }

  it('a decay that is not positive by its form (IndRNN\'s backward u ⊙ step(…)) keeps the plain scan', () => {
    agreement(IND_RNN, logGpu, { dims: { n: 3 }, batch: 1, steps: 4, seed: 1, precision: 'f32' });
    expect(scanned()).toEqual([false, true]);
    expect(forms()).toEqual([undefined, 'plain']);
  });

  it('T = 4096: finite, and the plain and log forms agree', () => {
    const o = { dims: { n: 3 }, batch: 1 };
    const rng = new Rng(4);
    const vec = (k: number) => Float32Array.from({ length: k }, () => 0.5 * rng.normal());
    const params = Object.fromEntries(MIN_GRU.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 9 : 3)]));
    const x = { x: vec(4096 * 3) }, cot = { states: { h: vec(4096 * 3) } };
    const run = (scan: true | 'log') => {
      const b = gpujsSyncBackend(MIN_GRU, { ...o, precision: 'f32', scan, webasmThreads: false });
      const f = b.forward(4096, params, x), g = b.backward(cot);
      expect(b.launches().forward!.form).toBe(scan === 'log' ? 'log' : 'plain');
      return { h: f.states.h!, ...g.params, dh0: g.init.h!, dx: g.inputs.x! };
    };
    const plain = run(true), log = run('log');
    for (const [k, v] of Object.entries(plain)) {
      expect(v.every(Number.isFinite), k).toBe(true);
      expect(relativeError(log[k as keyof typeof log]!, v), k).toBeLessThan(1e-4);
    }
  });
});

describe('all-rows kernels on the CPU modes (webasm, cpu) read along the rows of their arrays', () => {
  // (their values: every agreement test above runs the synchronous webasm backend, which plans them so)
  const f = scanForms(MIN_GRU)!;
  const base = { dims: new Map([['n', 4]]), batch: 2, mode: 'loop' as const };
  const kernels = (cpu: boolean) => {
    const p = planScan(f.backward, f.bwd, 'backward', 8, new Map([['h', 4]]), { ...base, cpu });
    return [...p.coefficients.kernels, ...p.whole.kernels];
  };
  const loops = (src: string) => (src.match(/for \(let/g) ?? []).length;
  it('minGRU backward: one product per kernel, W_hᵀ and W_zᵀ copied, the weight gradients sum transposed operands along their rows', () => {
    const cpu = kernels(true), gpu = kernels(false);
    expect(cpu.filter((k) => loops(k.source) > 1).map((k) => k.name)).toEqual([]);
    expect(gpu.some((k) => loops(k.source) > 1)).toBe(true);
    // x, and the two gates' cotangents, transposed: [T·B rows] wide, n high
    const transposed = cpu.flatMap((k, i) => (k.node === -1 ? [i] : []));
    expect(transposed.map((i) => cpu[i]!.output)).toEqual([[16, 4], [16, 4], [16, 4]]);
    expect(gpu.filter((k) => k.node === -1)).toEqual([]);
    // (the bias gradients' sums over rows, one read per element, stay as they are)
    const sums = cpu.filter((k) => /< 16;/.test(k.source) && k.output.length === 2);
    expect(sums.map((k) => k.output)).toEqual([[4, 4], [4, 4]]);
    for (const k of sums) {
      expect(k.source).toMatch(/_T_\d+\[this\.thread\.y\]\[k\d+\] \* \w+_T_\d+\[this\.thread\.x\]\[k\d+\]/);
      expect(k.args.filter((a) => a.from === 'kernel').every((a) => a.from === 'kernel' && transposed.includes(a.index))).toBe(true);
    }
    // Wᵀ v: on a GPU W read down its columns (neighbouring threads, neighbouring elements); on the CPU a copy of Wᵀ read along its rows
    const all = (ks: typeof cpu) => ks.map((k) => k.source).join('\n');
    expect(all(gpu)).toMatch(/p_W_h_\d+\[k\d+\]\[this\.thread\.x\]/);
    expect(all(cpu)).not.toMatch(/p_W_\w+_\d+\[k\d+\]\[this\.thread\.x\]/);
    expect(all(cpu)).toMatch(/return p_W_h_\d+\[this\.thread\.x\]\[this\.thread\.y\];/);
  });
  it('a step of B examples (--no-scan) is planned the same on the CPU', () => {
    for (const g of [MIN_GRU.forward, MIN_GRU.backward]) expect(planStep(g, { ...base, cpu: true })).toEqual(planStep(g, base));
  });
});

describe('the backward reads the all-rows values its scanned forward computed', () => {
  it('minGRU: z = σ(W_z x + b_z) has one key in both graphs; read as an input, the backward\'s kernels no longer compute W_z x', () => {
    const f = scanForms(MIN_GRU)!;
    const table = new Map<string, number>();
    const fk = nodeKeys(f.forward, table), bk = nodeKeys(f.backward, table);
    const z = Number(Object.entries(f.forward.labels).find(([, l]) => l === 'z')![0]);
    const inBackward = f.backward.nodes.filter((n) => bk[n.id] === fk[z]);
    expect(inBackward.map((n) => n.op)).toEqual(['sigmoid']);
    const opts = { dims: new Map([['n', 4]]), batch: 2, mode: 'loop' as const };
    const sources = (g: typeof f.backward, bwd = f.bwd) => { const p = planScan(g, bwd, 'backward', 8, new Map([['h', 4]]), opts); return [...p.coefficients.kernels, ...p.whole.kernels].map((k) => k.source).join('\n'); };
    // W_z x: a loop over W_z's rows times x (the gradients read W_z transposed, W_z[k][x])
    const forwardProduct = /W_z_\d+\[this\.thread\.x\]\[k\d+\] \* in_x/;
    expect(sources(f.backward)).toMatch(forwardProduct);
    const { graph, map } = readSaved(f.backward, new Map([[inBackward[0]!.id, `saved:${fk[z]}`]]));
    const bwd = f.bwd.map((r) => ({ ...r, root: map.get(r.root)!, leaf: map.get(r.leaf)!, a: r.a === null ? null : map.get(r.a)!, b: r.b === null ? null : map.get(r.b)! }));
    const after = sources(graph, bwd);
    expect(after).not.toMatch(forwardProduct);
    expect(after).toMatch(/in_saved_\d+/);
  });
  it('values and every gradient agree with the interpreter when the backward reads them (minGRU, RG-LRU, in segments too)', () => {
    for (const [c, scanRows] of [[MIN_GRU, undefined], [MIN_GRU, 6], [RG_LRU, 6]] as const) {
      const a = agreement(c, (cc, o) => (made = gpujsSyncBackend(cc, { ...o, precision: 'f32', webasmThreads: false, ...(scanRows ? { scanRows } : {}) })), { dims: { n: 4 }, batch: 2, steps: 9, seed: 2, precision: 'f32' });
      expect(a.worstScaled, a.where).toBeLessThan(1e-4);
      expect(scanned()).toEqual([true, true]);
    }
  });
});
