// gpu.js scans in segments chosen by `scanRows` (the CPU modes' cache-sized cut of
// T·B rows; runtime/backends/gpujs.ts CPU_SCAN_ROWS is 1024): forced small here so
// that every pass runs in ≥ 3 segments, the last one shorter (T·B not a multiple
// of a segment's rows). Pinned: values and every gradient agree with the float64
// interpreter for cells whose backward alone is a scan (IndRNN, the 2018 SRU —
// their backward coefficients planned with row offsets per segment) and for
// minGRU, RG-LRU and mLSTM (a matrix state, a staged forward); the number of
// segments, read from the launch counts; and a cell that is not linear at all
// (LSTM) gets the same plans, launches and numbers with and without --no-scan.
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { CPU_SCAN_ROWS, gpujsBackend, gpujsSyncBackend, releaseDevices } from '../../../runtime/backends/gpujs.ts';
import type { BackendOptions } from '../../../runtime/backend.ts';
import { Rng } from '../../../runtime/random.ts';
import { agreement, relativeError } from '../../support/emit-js.ts';
import { compileOk, example } from '../../support/cells.ts';
import { zooSource } from '../../support/zoo.ts';
import { createdNotRun } from '../../support/kernels-run.ts';
import type { Dim } from '../../../compiler/ir/dims.ts';
import { evalDim } from '../../../compiler/ir/dims.ts';

afterAll(releaseDevices);

let made: ReturnType<typeof gpujsSyncBackend> | null = null;
const segmented = (scanRows: number) => (c: CompiledCell, o: BackendOptions) =>
  (made = gpujsSyncBackend(c, { ...o, precision: 'f32', webasmThreads: false, scanRows }));
const zoo = (file: string) => compileOk(zooSource(file))[0]!;

// [file, dims, whether the forward and the backward are scans]
const CELLS: [string, Record<string, number>, [boolean, boolean]][] = [
  ['indrnn.celda', { n_x: 3, n_h: 4 }, [false, true]],
  ['sru.celda', { d: 4 }, [false, true]],
  ['mingru.celda', { n_x: 3, n_h: 4 }, [true, true]],
  ['rg-lru.celda', { D: 4 }, [true, true]],
  ['mlstm.celda', { d: 3, n_x: 3 }, [true, true]],
];

describe('scans in segments of scanRows rows agree with the float64 interpreter', () => {
  // batch 3: 7 rows make segments of 2 steps (6 rows; T = 7 → 2, 2, 2, 1), 10 rows of 3 steps (T = 10 → 3, 3, 3, 1)
  for (const [file, dims, scans] of CELLS) {
    it(`${file}: values and every gradient, 4 segments at T = 7 and at T = 10`, () => {
      const c = zoo(file);
      for (const [scanRows, steps] of [[7, 7], [10, 10]] as const) {
        const a = agreement(c, segmented(scanRows), { dims, batch: 3, steps, seed: steps, precision: 'f32', scale: 0.4 });
        expect(a.worstScaled, `scanRows ${scanRows}, T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
        expect([made!.launches().forward!.scan, made!.launches().backward!.scan]).toEqual(scans);
      }
    });
  }

  it('IndRNN and SRU at batch 1 (a segment of one row\'s steps) and at scanRows below the batch (a step per segment)', () => {
    for (const file of ['indrnn.celda', 'sru.celda']) {
      const [, dims] = CELLS.find(([f]) => f === file)!;
      for (const [batch, scanRows, steps] of [[1, 3, 11], [4, 2, 5]] as const) {
        const a = agreement(zoo(file), segmented(scanRows), { dims, batch, steps, seed: batch + steps, precision: 'f32', scale: 0.4 });
        expect(a.worstScaled, `${file} B = ${batch}, scanRows ${scanRows}, T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
        expect(made!.launches().backward!.scan).toBe(true);
      }
    }
  });

  it('IndRNN and SRU at the default scanRows (1024 rows): T = 700 at batch 3 runs in segments of 341, 341 and 18 steps', () => {
    expect(CPU_SCAN_ROWS).toBe(1024);
    for (const [file, dims] of CELLS.slice(0, 2)) {
      const a = agreement(zoo(file), (c, o) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', webasmThreads: false })), { dims, batch: 3, steps: 700, seed: 4, precision: 'f32', scale: 0.3 });
      expect(a.worstScaled, `${file}: ${a.where}`).toBeLessThan(1e-4);
      expect(made!.launches().backward!.scan).toBe(true);
    }
  });

  it('IndRNN and SRU on gpu.js\'s cpu mode too (its kernels plain JavaScript, the same plans and offsets)', () => {
    for (const [file, dims] of CELLS.slice(0, 2)) {
      const a = agreement(zoo(file), (c, o) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', mode: 'cpu', scanRows: 7 })), { dims, batch: 3, steps: 7, seed: 7, precision: 'f32', scale: 0.4 });
      expect(a.worstScaled, `${file}: ${a.where}`).toBeLessThan(1e-4);
      expect(made!.launches().backward!.scan).toBe(true);
    }
  });

  it('the number of segments, read from the backward\'s launches: each one more adds the same count (less the zeros a shorter last segment does not read)', () => {
    for (const [file, dims] of CELLS.slice(0, 2)) {
      // scanRows 7 at batch 3: segments of 2 steps; T = 2, 4, 6, 7 → 1, 2, 3, 4 segments
      const at = (steps: number) => {
        agreement(zoo(file), segmented(7), { dims, batch: 3, steps, seed: 1, precision: 'f32' });
        return made!.launches().backward!.launches;
      };
      const [one, two, three, four] = [at(2), at(4), at(6), at(7)];
      expect(two, file).toBeGreaterThan(one);
      expect(three - two, file).toBeGreaterThan(0);
      // the fourth, of one step, is planned on its own and reads nothing after it: the zeros the last of three
      // full segments reads as its `next` are not made
      expect(four - three, file).toBe(three - two - 1);
    }
  });
});

describe('a pass in segments creates only kernels it launches', () => {
  // batch 3, scanRows 7: segments of 2 steps; T = 3 → 2, 1, T = 4 → 2, 2, T = 7 → 2, 2, 2, 1: the forward's last
  // segment hands nothing over (planned so where it is shorter), a backward's shorter last segment reads no segment
  // after it, and every backward segment hands over (the first, the initial state's gradient)
  for (const [file, dims, scans] of CELLS) {
    it(`${file}: every kernel created for its scanned passes runs, at T = 3, 4 and 7`, () => {
      const c = zoo(file);
      const b = gpujsSyncBackend(c, { dims, batch: 3, precision: 'f32', webasmThreads: false, scanRows: 7 });
      const rng = new Rng(8);
      const vec = (k: number) => Float32Array.from({ length: k }, () => 0.3 * rng.normal());
      const dim = (d: Dim) => evalDim(d, new Map(Object.entries(dims)))!;
      for (const steps of [3, 4, 7]) {
        const params = Object.fromEntries(c.typed.params.map((p) => [p.name, vec(p.shape.reduce((k, d) => k * dim(d), 1))]));
        const inputs = Object.fromEntries(c.typed.inputs.map((i) => [i.name, vec(steps * 3 * dim(i.dim))]));
        const { created, idle } = createdNotRun(() => {
          const f = b.forward(steps, params, inputs);
          b.backward({ states: Object.fromEntries(Object.entries(f.states).map(([k, v]) => [k, vec(v.length)])) });
        });
        expect([b.launches().forward!.scan, b.launches().backward!.scan], `${file} T = ${steps}`).toEqual(scans);
        expect(created, `${file} T = ${steps}`).toBeGreaterThan(4);
        expect(idle, `${file} T = ${steps}`).toEqual([]);
      }
    });
  }
});

describe('the asynchronous backend (a recorded pipeline) in segments', () => {
  it('IndRNN and SRU: the segmented backward scan gives the stepped backward\'s gradients', async () => {
    for (const [file, dims] of CELLS.slice(0, 2)) {
      const c = zoo(file), steps = 9, B = 2;
      const o = { dims, batch: B, precision: 'f32' as const, webasmThreads: false };
      const b = await gpujsBackend(c, { ...o, scanRows: 5 }); // segments of 2 steps: 2, 2, 2, 2, 1
      const sync = gpujsSyncBackend(c, { ...o, scan: false });
      const rng = new Rng(3);
      const size = (k: number) => Float32Array.from({ length: k }, () => 0.4 * rng.normal());
      const n = c.typed.states[0]!.name, w = 4;
      const params = Object.fromEntries(c.typed.params.map((p) => [p.name, size(p.shape.length === 2 ? w * (dims.n_x ?? w) : w)]));
      const x = { x: size(steps * B * (dims.n_x ?? w)) }, cot = { states: { [n]: size(steps * B * w) }, outputs: Object.fromEntries(c.typed.outputs.map((q) => [q.name, size(steps * B * w)])) };
      const [f1, f2] = [await b.forward(steps, params, x), sync.forward(steps, params, x)];
      const [g1, g2] = [await b.backward(cot), sync.backward(cot)];
      expect([b.launches().forward!.scan, b.launches().backward!.scan], file).toEqual([false, true]);
      expect(relativeError(f1.states[n]!, f2.states[n]!), file).toBeLessThan(1e-6);
      for (const k of Object.keys(g2.params)) expect(relativeError(g1.params[k]!, g2.params[k]!), `${file} ${k}`).toBeLessThan(1e-4);
      expect(relativeError(g1.init[n]!, g2.init[n]!), file).toBeLessThan(1e-4);
      expect(relativeError(g1.inputs.x!, g2.inputs.x!), file).toBeLessThan(1e-4);
    }
  });
});

describe('a cell that is not linear at all (LSTM): nothing changes with --no-scan', () => {
  const LSTM = example('lstm.celda');
  const o = { dims: { n_x: 3, n_a: 4 }, batch: 2 };
  it('the same step plans (every kernel\'s source), forward and backward', async () => {
    const [on, off] = [await gpujsBackend(LSTM, { ...o, precision: 'f32', webasmThreads: false }), await gpujsBackend(LSTM, { ...o, precision: 'f32', webasmThreads: false, scan: false })];
    expect(JSON.stringify(on.plans)).toBe(JSON.stringify(off.plans));
    expect(on.plans.forward.kernels.length).toBeGreaterThan(0);
  });

  it('the same launches at every T, and the same numbers bit for bit; only the reason differs', () => {
    for (const steps of [1, 6, 13]) {
      const rng = new Rng(steps);
      const vec = (k: number) => Float32Array.from({ length: k }, () => 0.4 * rng.normal());
      const params = Object.fromEntries(LSTM.typed.params.map((p) => [p.name, vec(p.shape.length === 2 ? 4 * 7 : 4)]));
      const x = { x: vec(steps * 2 * 3) }, cot = { states: { a: vec(steps * 2 * 4), c: vec(steps * 2 * 4) } };
      const run = (scan: boolean) => {
        const b = gpujsSyncBackend(LSTM, { ...o, precision: 'f32', webasmThreads: false, scan });
        const f = b.forward(steps, params, x), g = b.backward(cot);
        return { f, g, l: b.launches() };
      };
      const [on, off] = [run(true), run(false)];
      expect([on.l.forward!.launches, on.l.backward!.launches]).toEqual([off.l.forward!.launches, off.l.backward!.launches]);
      expect([on.l.forward!.scan, on.l.backward!.scan, off.l.forward!.scan, off.l.backward!.scan]).toEqual([false, false, false, false]);
      expect(on.l.forward!.reason).toMatch(/^not every state is a diagonal linear recurrence forward: /);
      expect(off.l.forward!.reason).toBe('scans are off (--no-scan)');
      expect(on.f).toEqual(off.f);
      expect(on.g).toEqual(off.g);
    }
  });
});
