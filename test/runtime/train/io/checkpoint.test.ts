// Checkpoints: the safetensors format, a lossless round trip, a resumed run that
// ends with the same bytes as an uninterrupted one, clean refusals of checkpoints
// that do not fit, and the NaN/Inf guard.

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import { loadCheckpoint, saveCheckpoint, validateTable } from '../../../../runtime/train/io/checkpoint.ts';
import { NonFiniteError, TrainError } from '../../../../runtime/train/errors.ts';
import { modelFor, train } from '../../../../runtime/train/run/loop.ts';
import { decodeSafetensors, encodeSafetensors } from '../../../../runtime/train/io/safetensors.ts';
import { cellFrom, exampleCell, toyConfig, toyTask } from '../../../support/train.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'celda-ckpt-'));
const gru = exampleCell('gru.celda');

describe('safetensors', () => {
  it('lays out an 8-byte length, a space-padded JSON header and little-endian data', async () => {
    const bytes = encodeSafetensors(new Map([['w', { dtype: 'F64', shape: [2], data: Float64Array.of(1.5, -2) }]]), { note: 'hi' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ __metadata__: { note: 'hi' }, w: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } });
    expect(new DataView(bytes.buffer).getFloat64(8 + n, true)).toBe(1.5);
    expect(bytes.length).toBe(8 + n + 16);
  });

  it('reads a file built by hand from the format description', async () => {
    const json = '{"a":{"dtype":"I32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}';
    const head = new TextEncoder().encode(json);
    const buf = new Uint8Array(8 + head.length + 12);
    const view = new DataView(buf.buffer);
    view.setBigUint64(0, BigInt(head.length), true);
    buf.set(head, 8);
    view.setInt32(8 + head.length, 7, true); view.setInt32(12 + head.length, -3, true); view.setFloat32(16 + head.length, 0.5, true);
    const r = decodeSafetensors(buf, 'hand.safetensors');
    expect([...r.tensors.get('a')!.data]).toEqual([7, -3]);
    expect(r.tensors.get('b')!.shape).toEqual([]);
    expect([...r.tensors.get('b')!.data]).toEqual([0.5]);
  });

  it('refuses truncated files, holes and unknown dtypes with a message naming the file', async () => {
    const good = encodeSafetensors(new Map([['w', { dtype: 'F64', shape: [2], data: Float64Array.of(1, 2) }]]));
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4), 'x.safetensors')).toThrow(/x\.safetensors: not a valid safetensors file/);
    const text = new TextDecoder().decode(good).replace('"F64"', '"BF16"');
    expect(() => decodeSafetensors(new TextEncoder().encode(text), 'y.safetensors')).toThrow(/BF16/);
    expect(() => decodeSafetensors(Uint8Array.of(1, 2, 3), 'z')).toThrow(TrainError);
  });
});

describe('checkpoints and resume', () => {
  it('round-trips parameters, optimizer state, RNG state, order, step and the cell source exactly', async () => {
    const dir = tmp();
    const r = await train({ task: toyTask(), cell: gru, config: toyConfig({ steps: 12 }), factory: interpBackend, out: dir });
    const ck = loadCheckpoint(dir);
    expect(ck.step).toBe(12);
    expect(ck.cellSource).toBe(gru.source);
    expect(readFileSync(join(dir, 'cell.celda'), 'utf8')).toBe(gru.source);
    for (const [k, v] of r.params) expect(ck.params.get(k)!.data).toEqual(v.data);
    expect(ck.optimizer.t).toBe(12);
    expect(ck.order.length).toBe(48);
    expect(ck.history.some((h) => h.metrics?.accuracy !== undefined)).toBe(true);
  });

  it('a 20-step run resumed to 40 steps ends with the same bytes as a 40-step run', async () => {
    const a = tmp(), b = tmp();
    const task = toyTask();
    await train({ task, cell: gru, config: toyConfig({ steps: 40 }), factory: interpBackend, out: a });
    await train({ task, cell: gru, config: toyConfig({ steps: 20 }), factory: interpBackend, out: b });
    // 20 = 2 epochs of 6 batches + 8: the resumed run must continue mid-epoch with the saved order.
    await train({ task, cell: gru, config: toyConfig({ steps: 40 }), factory: interpBackend, out: b, resume: loadCheckpoint(b), resumeDir: b });
    for (const f of ['model.safetensors', 'state.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
  });

  it('one seed, one run: two fresh runs agree bit for bit, another seed does not', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    const task = toyTask();
    await train({ task, cell: gru, config: toyConfig({ steps: 8 }), factory: interpBackend, out: a });
    await train({ task, cell: gru, config: toyConfig({ steps: 8 }), factory: interpBackend, out: b });
    await train({ task, cell: gru, config: toyConfig({ steps: 8, seed: 6 }), factory: interpBackend, out: c });
    expect(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors')))).toBe(true);
    expect(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(c, 'model.safetensors')))).toBe(false);
  });

  it('refuses a checkpoint whose shapes or names do not match the model, loading nothing', async () => {
    const dir = tmp();
    const task = toyTask();
    await train({ task, cell: gru, config: toyConfig({ steps: 2 }), factory: interpBackend, out: dir });
    const ck = loadCheckpoint(dir);
    const bigger = modelFor(task, gru, toyConfig({ hidden: 5 }), interpBackend);
    expect(() => validateTable('ck', ck.params, bigger.shapes)).toThrow(/layer0\.W_r has shape \[4, 7\], the model needs \[5, 8\]/);
    await expect(train({ task, cell: gru, config: toyConfig({ hidden: 5, steps: 4 }), factory: interpBackend, resume: ck })).rejects.toThrow(/does not match the model; nothing was loaded/);
    const lstm = modelFor(task, exampleCell('lstm.celda'), toyConfig(), interpBackend);
    expect(() => validateTable('ck', ck.params, lstm.shapes)).toThrow(/missing layer0\.W_f[\s\S]*unexpected layer0\.W_r/);
  });

  it('refuses a checkpoint with a wrong dtype, a model file from another save, or a missing file', async () => {
    const a = tmp(), b = tmp();
    const task = toyTask();
    await train({ task, cell: gru, config: toyConfig({ steps: 2 }), factory: interpBackend, out: a });
    await train({ task, cell: gru, config: toyConfig({ steps: 3 }), factory: interpBackend, out: b });
    copyFileSync(join(a, 'model.safetensors'), join(b, 'model.safetensors'));
    expect(() => loadCheckpoint(b)).toThrow(/from step 2 but state\.safetensors from step 3/);
    const m = decodeSafetensors(readFileSync(join(a, 'model.safetensors')), 'm');
    const f32 = new Map([...m.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: Float32Array.from(v.data) }]));
    writeFileSync(join(a, 'model.safetensors'), encodeSafetensors(f32, m.metadata));
    expect(() => loadCheckpoint(a)).toThrow(/dtype F32, expected F64/);
    expect(() => loadCheckpoint(tmp())).toThrow(/no such file/);
  });
});

describe('the NaN/Inf guard', () => {
  it('stops at a non-finite loss, naming the step', async () => {
    const bad = cellFrom('cell Bad {\n input x : n_x\n state a : n_a\n a^<t> = sqrt(W_aa a^<t-1> + W_ax x^<t> + b_a - 5)\n}\n');
    await expect(train({ task: toyTask(), cell: bad, config: toyConfig(), factory: interpBackend })).rejects.toThrow(/step 1: the loss is NaN/);
  });

  it('stops at a non-finite gradient, naming the step and the first bad parameter gradient', async () => {
    // sqrt(relu(u)) has an infinite slope at 0, times relu's zero slope: NaN.
    const bad = cellFrom('cell Kink {\n input x : n_x\n state a : n_a\n a^<t> = sqrt(relu(W_aa a^<t-1> + W_ax x^<t> + b_a - 9))\n}\n');
    let err: unknown;
    try { await train({ task: toyTask(), cell: bad, config: toyConfig(), factory: interpBackend }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/^step 1: the gradient of [\w.]+\[[\d, ]+\] is NaN; training stopped/);
  });

  it('stops when an update overflows, and never writes a non-finite checkpoint', async () => {
    const sgd = { optimizer: 'sgd' as const, clip: 0, warmup: 0, schedule: 'constant', steps: 40 };
    const dir = tmp();
    await expect(train({ task: toyTask(), cell: gru, config: toyConfig({ ...sgd, lr: Infinity }), factory: interpBackend, out: dir, saveEvery: 1 }))
      .rejects.toThrow(/^step 1: after the update, parameter [\w.]+\[[\d, ]+\] is (-?Infinity|NaN) \(learning rate Infinity\); training stopped; no checkpoint was written$/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    // A huge but finite rate: the first update survives (and is saved), the next step's loss does not.
    const dir2 = tmp();
    let err: Error | undefined;
    try { await train({ task: toyTask(), cell: gru, config: toyConfig({ ...sgd, lr: 1e308 }), factory: interpBackend, out: dir2, saveEvery: 1 }); } catch (e) { err = e as Error; }
    const m = /^step (\d+): .*; training stopped; the checkpoint of step (\d+) in .* is kept$/.exec(err?.message ?? '');
    expect(m, err?.message).not.toBeNull();
    const ck2 = loadCheckpoint(dir2);
    expect(ck2.step).toBe(Number(m![2]));
    expect(Number(m![1])).toBe(ck2.step + 1);
    for (const v of ck2.params.values()) expect(v.data.every(Number.isFinite)).toBe(true);
    const ck = { step: 1, cellSource: '', cellName: 'x', config: {}, params: new Map([['w', { shape: [1], data: Float64Array.of(NaN) }]]), optimizer: { tensors: new Map(), t: 0 }, rngState: 0, order: new Int32Array(0), history: [], pending: [0, 0] as const };
    expect(() => saveCheckpoint(tmp(), ck)).toThrow(/refusing to save a checkpoint at step 1: parameter w\[0\] is NaN/);
  });
});

describe('data-parallel threads', () => {
  it('two threads reproduce themselves bit for bit and match one thread up to rounding', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    const task = toyTask();
    await train({ task, cell: gru, config: toyConfig({ steps: 6, threads: 2 }), factory: interpBackend, backendName: 'interp', out: a });
    await train({ task, cell: gru, config: toyConfig({ steps: 6, threads: 2 }), factory: interpBackend, backendName: 'interp', out: b });
    const one = await train({ task, cell: gru, config: toyConfig({ steps: 6, threads: 1 }), factory: interpBackend, out: c });
    expect(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors')))).toBe(true);
    const two = loadCheckpoint(a).params;
    for (const [k, v] of one.params) v.data.forEach((x, i) => expect(two.get(k)!.data[i]).toBeCloseTo(x, 9));
  });
});

describe('epoch order', () => {
  it('is a permutation; with bucketing each batch holds sequences of similar length', async () => {
    const { epochOrder } = await import('../../../../runtime/train/run/core.ts');
    const { Rng } = await import('../../../../runtime/random.ts');
    const ex = Array.from({ length: 1000 }, (_, i) => ({ x: new Int32Array(1 + ((i * 37) % 50)), y: Int32Array.of(0) }));
    const plain = epochOrder(ex, 10, false, new Rng(1)), bucketed = epochOrder(ex, 10, true, new Rng(1));
    for (const o of [plain, bucketed]) expect([...o].sort((a, b) => a - b)).toEqual(ex.map((_, i) => i));
    const spread = (o: Int32Array) => {
      let s = 0;
      for (let k = 0; k < 100; k++) { const l = Array.from(o.subarray(k * 10, k * 10 + 10), (i) => ex[i]!.x.length); s += Math.max(...l) - Math.min(...l); }
      return s / 100;
    };
    expect(spread(bucketed)).toBeLessThan(3);
    expect(spread(plain)).toBeGreaterThan(30);
    expect([...epochOrder(ex, 10, true, new Rng(1))]).toEqual([...bucketed]);
  });
});
