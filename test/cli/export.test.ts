// `celda export`: writes the PyTorch module or the ONNX model, refuses to
// overwrite without --force, prints a positioned error (and writes nothing) for
// a cell the target cannot take, and an ONNX model drawn with --seed holds the
// parameters `celda eval --seed` draws, so the two answer alike.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../support/cells.ts';
import { relativeError } from '../support/python.ts';

const CELDA = join(import.meta.dirname, '..', '..', 'bin', 'celda.js');
const dir = mkdtempSync(join(tmpdir(), 'celda-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const celda = (...args: string[]) => spawnSync(process.execPath, [CELDA, ...args], { encoding: 'utf8' });

describe('celda export', () => {
  it('writes a PyTorch module, and refuses to overwrite it without --force', () => {
    const out = join(dir, 'gru.py');
    const r = celda('export', join(EXAMPLES, 'gru.celda'), '--to', 'pytorch', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('class GRU(nn.Module):');
    writeFileSync(out, 'mine');
    const again = celda('export', join(EXAMPLES, 'gru.celda'), '--to', 'pytorch', '-o', out);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('exists; pass --force');
    expect(readFileSync(out, 'utf8')).toBe('mine');
    expect(celda('export', join(EXAMPLES, 'gru.celda'), '--to', 'pytorch', '-o', out, '--force').status).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('class GRU(nn.Module):');
  });

  it('a cell the target cannot take: the error with its position, exit 1, no file', () => {
    const cell = join(dir, 'bad.celda');
    writeFileSync(cell, 'cell Bad {\n  input x : n_x\n  state h : n_h\n  h^<t> = tanh(training[h^<t-1>, x^<t>])\n}\n');
    const out = join(dir, 'bad.py');
    const r = celda('export', cell, '--to', 'pytorch', '-o', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('bad.celda:4:16: error[E051]: PyTorch export: `training` is the name of a torch.nn.Module attribute');
    expect(existsSync(out)).toBe(false);
    const onnx = celda('export', cell, '--to', 'onnx', '-o', join(dir, 'bad.onnx'), '--dims', 'n_x=2');
    expect(onnx.status).toBe(1);
    expect(onnx.stderr).toContain('no size for `n_h`');
    expect(existsSync(join(dir, 'bad.onnx'))).toBe(false);
  });

  it('--vjp celda: the step\'s backward is celda\'s own; --vjp takes celda or autograd, for PyTorch only', () => {
    const file = join(EXAMPLES, 'gru.celda');
    const out = join(dir, 'gru-vjp.py');
    const r = celda('export', file, '--to', 'pytorch', '--vjp', 'celda', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('class GRUStep(torch.autograd.Function):');
    expect(celda('export', file, '--to', 'pytorch', '--vjp', 'jax', '-o', join(dir, 'x.py')).stderr).toMatch(/--vjp must be autograd or celda, not `jax`/);
    expect(celda('export', file, '--to', 'onnx', '--vjp', 'celda', '-o', join(dir, 'x.onnx'), '--dims', 'n_x=2,n_a=2').stderr).toContain('--vjp is for --to pytorch');
  });

  it('usage errors: no --to, an unknown target, ONNX flags for PyTorch', () => {
    const file = join(EXAMPLES, 'rnn.celda');
    expect(celda('export', file, '-o', join(dir, 'x.py')).stderr).toContain('needs --to pytorch or --to onnx');
    expect(celda('export', file, '--to', 'tf', '-o', join(dir, 'x.py')).stderr).toContain('--to must be pytorch or onnx');
    expect(celda('export', file, '--to', 'pytorch', '-o', join(dir, 'x.py'), '--dims', 'n_x=2').stderr).toContain('--dims is for --to onnx');
  });

  it('an ONNX model with --params holds those parameters (keys as `celda eval` takes them, sizes from their shapes)', async () => {
    const params = join(dir, 'rnn-g.json');
    // the notes' w_{aa} is w_aa; W_aa is accepted for it, as by celda eval
    writeFileSync(params, JSON.stringify({ W_aa: [[0.5, -0.2], [0.1, 0.3]], w_ax: [[1], [-1]], b_a: [0.1, 0], w_ya: [[1, 2]], b_y: [-0.5] }));
    const out = join(dir, 'rnn-g.onnx');
    const r = celda('export', join(EXAMPLES, 'rnn-g.celda'), '--to', 'onnx', '-o', out, '--params', params);
    expect(r.status, r.stderr).toBe(0);
    const inputs = join(dir, 'rnn-g-inputs.json');
    const x = [[[1]], [[-2]], [[0.5]]];
    writeFileSync(inputs, JSON.stringify({ inputs: { x } }));
    const ev = celda('eval', join(EXAMPLES, 'rnn-g.celda'), '--inputs', inputs, '--params', params);
    expect(ev.status, ev.stderr).toBe(0);
    const want = JSON.parse(ev.stdout) as { outputs: { y_hat: unknown } };
    const session = await ort.InferenceSession.create(readFileSync(out));
    const got = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2, 0.5]), [3, 1, 1]), init_a: new ort.Tensor('float32', new Float32Array(2), [1, 2]) });
    expect(relativeError(want.outputs.y_hat, Array.from(got.y_hat!.data as Float32Array).map((v) => [[v]]))).toBeLessThanOrEqual(1e-6);
  });

  it('an ONNX model with --seed answers as `celda eval --seed` does (float32)', async () => {
    const file = join(EXAMPLES, 'lstm.celda');
    const out = join(dir, 'lstm.onnx');
    const r = celda('export', file, '--to', 'onnx', '-o', out, '--dims', 'n_x=3,n_a=5', '--seed', '7');
    expect(r.status, r.stderr).toBe(0);
    const x = Array.from({ length: 4 }, (_, t) => Array.from({ length: 2 }, (_, b) => [Math.sin(t + b), Math.cos(3 * t - b), 0.5 - b]));
    const inputs = join(dir, 'lstm-inputs.json');
    writeFileSync(inputs, JSON.stringify({ dims: { n_x: 3, n_a: 5 }, inputs: { x } }));
    const ev = celda('eval', file, '--inputs', inputs, '--seed', '7');
    expect(ev.status, ev.stderr).toBe(0);
    const want = JSON.parse(ev.stdout) as { states: Record<string, unknown>; outputs: Record<string, unknown> };
    const session = await ort.InferenceSession.create(readFileSync(out));
    const zeros = new ort.Tensor('float32', new Float32Array(2 * 5), [2, 5]);
    const got = await session.run({ x: new ort.Tensor('float32', Float32Array.from(x.flat(2)), [4, 2, 3]), init_a: zeros, init_c: zeros });
    for (const [k, v] of [...Object.entries(want.states), ...Object.entries(want.outputs)]) {
      const t = got[k]!;
      const data = Array.from(t.data as Float32Array);
      const nested = Array.from({ length: 4 }, (_, i) => Array.from({ length: 2 }, (_, b) => data.slice((i * 2 + b) * 5, (i * 2 + b + 1) * 5)));
      expect(relativeError(v, nested), k).toBeLessThanOrEqual(2e-5);
    }
  });
});
