// `--no-scan` on compile, eval, bench and train: the sequential lowering of linear
// recurrences, where the default runs them as scans (compiler/lower/scan.ts); `--scan log`
// for gpu.js's scan in log space.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../support/cells.ts';
import { celda } from '../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'celda-scan-'));


const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

const MIN_GRU = file('mingru.celda', 'cell M {\n  input x : n\n  state h : n\n  z = σ(W_z x^<t> + b_z)\n  h^<t> = (1 - z) * h^<t-1> + z * (W_h x^<t>)\n}\n');
const INPUTS = file('inputs.json', JSON.stringify({
  dims: { n: 2 }, batch: 1, steps: 3,
  inputs: { x: [[[0.5, -1]], [[0.25, 2]], [[-1, 0.5]]] },
  cotangents: { h: [[[1, 0]], [[0, 1]], [[1, 1]]] },
}));

describe('--no-scan', () => {
  it('compile: another module for a linear cell, the same bytes for a cell without a scan', async () => {
    const mod = async (cell: string, ...flags: string[]) => {
      const out = join(tmp, `m${Math.random().toString(36).slice(2)}.js`);
      expect((await celda('compile', cell, '-o', out, ...flags)).code).toBe(0);
      return readFileSync(out, 'utf8');
    };
    const [scan, plain] = [await mod(MIN_GRU), await mod(MIN_GRU, '--no-scan')];
    expect(scan).not.toBe(plain);
    const gru = join(EXAMPLES, 'gru.celda');
    expect(await mod(gru, '--no-scan')).toBe(await mod(gru));
  });

  it('eval: js and gpujs with and without the scan print the interpreter\'s values', async () => {
    const ref = JSON.parse((await celda('eval', MIN_GRU, '--inputs', INPUTS, '--seed', '3')).out);
    for (const flags of [['--backend', 'js'], ['--backend', 'js', '--no-scan'], ['--backend', 'gpujs'], ['--backend', 'gpujs', '--no-scan'], ['--backend', 'gpujs', '--scan', 'log']]) {
      const r = await celda('eval', MIN_GRU, '--inputs', INPUTS, '--seed', '3', ...flags);
      expect(r.code, r.err).toBe(0);
      const got = JSON.parse(r.out);
      const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : typeof v === 'number' ? [v] : Object.values(v as object).flatMap(flat));
      const [a, b] = [flat(got), flat(ref)];
      expect(a.length).toBe(b.length);
      a.forEach((x, i) => expect(x, flags.join(' ')).toBeCloseTo(b[i]!, 5));
    }
  });

  it('is for the js and gpujs backends', async () => {
    const e = await celda('eval', MIN_GRU, '--inputs', INPUTS, '--no-scan');
    expect(e.code).not.toBe(0);
    expect(e.err).toContain('--no-scan is for --backend js or gpujs');
    const b = await celda('bench', MIN_GRU, '--backend', 'interp', '--no-scan', '--steps', '2', '--dims', 'n=2');
    expect(b.code).not.toBe(0);
    expect(b.err).toContain('--no-scan is for --backend js or gpujs');
    const l = await celda('eval', MIN_GRU, '--inputs', INPUTS, '--backend', 'js', '--scan', 'log');
    expect(l.code).not.toBe(0);
    expect(l.err).toContain('--scan log is for --backend gpujs');
    const w = await celda('bench', MIN_GRU, '--backend', 'gpujs', '--scan', 'logs', '--steps', '2', '--dims', 'n=2');
    expect(w.err).toContain('--scan must be plain or log');
  });

  it('bench runs with and without it', async () => {
    for (const flags of [[], ['--no-scan'], ['--backend', 'gpujs', '--no-scan'], ['--backend', 'gpujs', '--scan', 'log']]) {
      const r = await celda('bench', MIN_GRU, '--steps', '4', '--dims', 'n=4', ...flags);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).ms_per_step).toBeGreaterThan(0);
    }
  });

  it('train: the same run with and without it; refused for the interpreter', async () => {
    const cell = file('mingru-train.celda', 'cell M {\n  input x : n_x\n  state a : n_a\n  z = σ(W_z x^<t> + b_z)\n  a^<t> = (1 - z) * a^<t-1> + z * (W_h x^<t>)\n}\n');
    const tiny = ['--steps', '2', '--hidden', '4', '--embed', '4', '--batch', '8', '--eval-every', '2', '--eval-size', '16', '--threads', '1', '--quiet'];
    const accuracy: number[] = [];
    for (const flags of [['--precision', 'f64'], ['--precision', 'f64', '--no-scan']]) {
      const r = await celda('train', 'gender', '--cell', cell, ...tiny, ...flags, '--out', join(tmp, `run${accuracy.length}`));
      expect(r.code, r.err).toBe(0);
      accuracy.push(JSON.parse(r.out.trim().split('\n').pop()!).metrics.accuracy);
    }
    expect(accuracy[0]).toBeGreaterThan(0);
    expect(accuracy[0]).toBe(accuracy[1]);
    const refused = await celda('train', 'gender', '--cell', cell, ...tiny, '--backend', 'interp', '--no-scan', '--out', join(tmp, 'refused'));
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('--no-scan is for --backend js or gpujs');
  });
});
