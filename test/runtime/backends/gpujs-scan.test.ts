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

const cell = (body: string, decls = 'input x : n\n  state h : n') => compileOk(`cell C {\n  ${decls}\n  ${body.split('\n').join('\n  ')}\n}`)[0]!;
const MIN_GRU = cell('z = σ(W_z x^<t> + b_z)\nh̃ = W_h x^<t> + b_h\nh^<t> = (1 - z) * h^<t-1> + z * h̃');
const RG_LRU = cell(
  'r = σ(W_a x^<t> + b_a)\ni = σ(W_x x^<t> + b_x)\nα = exp(8 * r * log(σ(Λ)))\nh^<t> = α * h^<t-1> + sqrt(1 - α * α) * (i * x^<t>)\ny^<t> = W_y h^<t>',
  'input x : n\n  state h : n\n  param Λ : n\n  param W_y : n × n',
);
const IND_RNN = cell('h^<t> = relu(W x^<t> + u * h^<t-1> + b)');
// The 2017 SRU: c is the scan, h an output read from it.
const SRU = cell('f = σ(W_f x^<t> + b_f)\nr = σ(W_r x^<t> + b_r)\nc^<t> = f * c^<t-1> + (1 - f) * (W x^<t>)\nh^<t> = r * tanh(c^<t>) + (1 - r) * x^<t>', 'input x : n\n  state c : n');
// minLSTM: its gates normalised by their sum, a division by a coefficient.
const MIN_LSTM = cell('f = σ(W_f x^<t> + b_f)\ni = σ(W_i x^<t> + b_i)\nh^<t> = (f / (f + i)) * h^<t-1> + (i / (f + i)) * (W_h x^<t>)');

afterAll(releaseDevices);

let made: ReturnType<typeof gpujsSyncBackend> | null = null;
const gpu = (scan: boolean) => (c: CompiledCell, o: BackendOptions) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', scan, webasmThreads: false }));
/** Whether the last backend made ran its forward and backward as scans. */
const scanned = () => [made!.launches().forward!.scan, made!.launches().backward!.scan];

/** Launches of one forward and one backward pass at T steps. */
function launches(c: CompiledCell, steps: number, scan: boolean, n = 4, batch = 2) {
  const b = gpujsSyncBackend(c, { dims: { n }, batch, scan, webasmThreads: false });
  const rng = new Rng(1);
  const t = c.typed;
  const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
  const params = Object.fromEntries(t.params.map((p) => [p.name, vec(p.shape.length === 2 ? n * n : n)]));
  b.forward(steps, params, { x: vec(steps * batch * n) });
  b.backward({ states: { h: vec(steps * batch * n) } });
  const l = b.launches();
  return { forward: l.forward!.launches, backward: l.backward!.launches, scan: [l.forward!.scan, l.backward!.scan] };
}

describe('gpu.js scans agree with the float64 interpreter', () => {
  const cases: [string, CompiledCell][] = [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU], ['IndRNN', IND_RNN], ['SRU', SRU], ['minLSTM', MIN_LSTM]];
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
    // per state and pass: a local scan, its decay, the carries over chunks, the fix-up
    expect(on[0]!.forward).toBeLessThanOrEqual(8);
    // sequential: a step's kernels per step
    expect(off[2]!.forward - off[1]!.forward).toBe(2 * (off[1]!.forward - off[0]!.forward));
    expect(off[1]!.forward - off[0]!.forward).toBeGreaterThanOrEqual(16);
    expect(on[2]!.forward + on[2]!.backward).toBeLessThan((off[2]!.forward + off[2]!.backward) / 4);
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
