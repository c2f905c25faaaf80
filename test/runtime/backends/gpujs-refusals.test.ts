// gpu.js's refusals as the command line's (runtime/backends/gpujs-refusals.ts):
// a GpujsError when the backend is made (a device limit, a constant gpu.js cannot
// write) or in a pass becomes a UsageError naming --backend gpujs and a way out;
// every other error passes unchanged. And the training threads: when the main
// thread's shard fails, the workers it leaves waiting end without an unhandled
// rejection (which ended the process with a stack trace).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { produce } from 'immer';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { GpujsError, gpujsSyncBackend, releaseDevices } from '../../../runtime/backends/gpujs.ts';
import { gpujsRefusal, refusalsAsUsage } from '../../../runtime/backends/gpujs-refusals.ts';
import { interpBackend } from '../../../runtime/backends/interp.ts';
import type { CellBackend } from '../../../runtime/backend.ts';
import { Rng } from '../../../runtime/random.ts';
import { UsageError } from '../../../runtime/usage.ts';
import { getTask } from '../../../runtime/train/data/tasks/index.ts';
import { buildModel, initParams } from '../../../runtime/train/model/model.ts';
import { modelSpec } from '../../../runtime/train/run/core.ts';
import type { RunConfig } from '../../../runtime/train/run/loop.ts';
import { GradWorkers } from '../../../runtime/train/run/parallel.ts';
import { zerosLike } from '../../../runtime/train/tensor.ts';
import { EXAMPLES, compileOk } from '../../support/cells.ts';

afterAll(releaseDevices);

const GRU = compileOk(readFileSync(join(EXAMPLES, 'gru.celda'), 'utf8'))[0]!;
const WAY_OUT = '--backend js runs the cell without gpu.js';
const make = refusalsAsUsage(gpujsSyncBackend, WAY_OUT);
const thrown = (f: () => unknown): unknown => { try { f(); } catch (e) { return e; } return undefined; };

describe('gpu.js refusals become UsageErrors with a way out', () => {
  it('a device limit when the backend is made (forced: kernel outputs of at most 2 a side, the state has 4)', () => {
    const e = thrown(() => make(GRU, { dims: { n_x: 3, n_a: 4 }, batch: 2, limits: { maxExtent: 2 } }));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^--backend gpujs: cell GRU: a kernel output of .* exceeds this device's limit of 2 per side; --backend js runs the cell without gpu\.js$/);
    // unwrapped, the same refusal is gpu.js's own error
    expect(thrown(() => gpujsSyncBackend(GRU, { dims: { n_x: 3, n_a: 4 }, batch: 2, limits: { maxExtent: 2 } }))).toBeInstanceOf(GpujsError);
  });

  it('a constant gpu.js cannot write (Infinity in the graph; a literal beyond float64 never gets here: the checker refuses it, E077)', () => {
    expect(compile('cell G {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>) * 1e999\n}').diagnostics.map((d) => d.code)).toEqual(['E077']);
    // a graph with an infinite constant, as a future rewrite might make one: still a refusal, not an internal error
    const c = compileOk('cell G {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>) * 7\n}')[0]!;
    const seven = c.forward.nodes.findIndex((n) => n.op === 'const' && n.attrs.value === 7);
    expect(seven).toBeGreaterThanOrEqual(0);
    const infinite = produce(c, (d) => { d.forward.nodes[seven]!.attrs.value = Infinity; });
    const e = thrown(() => make(infinite, { dims: { n_x: 2, n_a: 2 }, batch: 1 }));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(`--backend gpujs: cell G: the constant Infinity cannot be written in a gpu.js kernel; ${WAY_OUT}`);
  });

  it('in a pass too; the backend otherwise unchanged (its name, launches and results)', () => {
    const o = { dims: { n_x: 3, n_a: 4 }, batch: 2, webasmThreads: false };
    const b = make(GRU, o), plain = gpujsSyncBackend(GRU, o);
    expect(b.name).toBe(plain.name);
    const e = thrown(() => b.forward(0, {}, {}));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(`--backend gpujs: steps must be a whole number ≥ 1; ${WAY_OUT}`);
    expect(thrown(() => b.backward({}))).toBeInstanceOf(UsageError); // backward before forward
    const rng = new Rng(1);
    const params = Object.fromEntries(GRU.typed.params.map((p) => [p.name, Float32Array.from({ length: p.shape.length === 2 ? 4 * 7 : 4 }, () => 0.3 * rng.normal())]));
    const x = { x: Float32Array.from({ length: 3 * 2 * 3 }, () => rng.normal()) };
    expect(b.forward(3, params, x)).toEqual(plain.forward(3, params, x));
    expect(b.launches()).toEqual(plain.launches());
  });

  it('every other error passes unchanged: a bug stays an internal error', () => {
    const bug = new TypeError('x is undefined');
    expect(gpujsRefusal(bug, WAY_OUT)).toBe(bug);
    const broken = refusalsAsUsage((): CellBackend => { throw bug; }, WAY_OUT);
    expect(thrown(() => broken(GRU, {}))).toBe(bug);
  });
});

describe('training threads: the main thread\'s shard fails', () => {
  it('the error is the main thread\'s, and the workers left waiting end without an unhandled rejection', async () => {
    const task = getTask('gender');
    const config = { ...task.defaults, task: 'gender', seed: 0, head: 'auto', hidden: 4, embed: 4, batch: 8, threads: 2 } as RunConfig;
    const spec = modelSpec(task, config);
    const params = initParams(buildModel(GRU, spec, interpBackend), new Rng(0), { kind: 'glorot', forgetBias: 0 });
    const refusing = buildModel(GRU, spec, (c, o) => ({ ...interpBackend(c, o), forward: () => { throw new UsageError('--backend gpujs: refused here'); } }));
    const unhandled: unknown[] = [];
    const note = (e: unknown) => { unhandled.push(e); };
    process.on('unhandledRejection', note);
    try {
      const w = await GradWorkers.start(2, { cellSource: GRU.source, cellName: GRU.name, spec, backend: 'interp' }, params);
      try {
        await expect(w.step(refusing, params, task.load().train.slice(0, 8), zerosLike(params), 0)).rejects.toThrow('--backend gpujs: refused here');
      } finally {
        await w.close();
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.off('unhandledRejection', note);
    }
    expect(unhandled).toEqual([]);
  }, 60_000);
});
