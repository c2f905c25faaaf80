// The command line around the generated JavaScript: `celda compile` writes the
// module and its declarations, `celda eval --backend js` keeps the JSON contract
// of the interpreter, `celda bench` prints one JSON line.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeJs } from '../../cli/bench.ts';
import type { CellBackend } from '../../runtime/backend.ts';
import { EXAMPLES } from '../support/cells.ts';

const CELDA = join(import.meta.dirname, '..', '..', 'bin', 'celda.js');
const dir = mkdtempSync(join(tmpdir(), 'celda-js-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const celda = (...args: string[]) => spawnSync(process.execPath, [CELDA, ...args], { encoding: 'utf8' });

type Nested = number | Nested[] | { [k: string]: Nested };
/** Largest |a − b| over two JSON values of the same shape (Infinity if the shapes differ). */
function maxDiff(a: Nested, b: Nested): number {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length ? Math.max(0, ...a.map((x, i) => maxDiff(x, b[i]!))) : Infinity;
  if (typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    return ka.join() === kb.join() ? Math.max(0, ...ka.map((k) => maxDiff(a[k]!, b[k]!))) : Infinity;
  }
  return Infinity;
}

describe('celda compile', () => {
  it('writes a standalone module and its declarations', async () => {
    const out = join(dir, 'gru.js');
    const r = celda('compile', join(EXAMPLES, 'gru.celda'), '-o', out, '--precision', 'f32');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('gru.d.ts');
    const dts = readFileSync(join(dir, 'gru.d.ts'), 'utf8');
    expect(dts).toContain('export declare function createGRU(dims: GRUDims, batch: number, options?: CeldaOptions): GRUInstance;');
    const mod = (await import(out)) as { default: (d: object, b: number) => { forward: Function; precision: string } };
    const inst = mod.default({ n_x: 2, n_a: 3 }, 1);
    expect(inst.precision).toBe('f32');
    const P = { W_r: new Array(15).fill(0.1), W_c: new Array(15).fill(0.1), W_u: new Array(15).fill(0.1), b_r: [0, 0, 0], b_c: [0, 0, 0], b_u: [0, 0, 0] };
    const { states } = inst.forward(P, { x: [1, 2, 3, 4] }) as { states: { c: Float32Array } };
    expect(states.c).toBeInstanceOf(Float32Array);
    expect(states.c.length).toBe(6);
  });

  it('float32 modules carry WebAssembly SIMD products; --no-simd writes the plain-JavaScript module', async () => {
    const simd = join(dir, 'gru-simd.js'), plain = join(dir, 'gru-plain.js');
    const a = celda('compile', join(EXAMPLES, 'gru.celda'), '-o', simd, '--precision', 'f32');
    const b = celda('compile', join(EXAMPLES, 'gru.celda'), '-o', plain, '--precision', 'f32', '--no-simd');
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(a.stderr).toContain('products and fused loops in WebAssembly SIMD');
    expect(b.stderr).not.toContain('SIMD');
    expect(readFileSync(simd, 'utf8')).toContain('WebAssembly.Instance');
    expect(readFileSync(plain, 'utf8')).not.toContain('WebAssembly');
    expect(readFileSync(join(dir, 'gru-plain.d.ts'), 'utf8')).toContain('export declare function createGRU(dims: GRUDims, batch: number): GRUInstance;');
    type Inst = { forward: (p: object, i: object) => { states: { c: Float32Array } }; simd?: boolean };
    const P = { W_r: new Array(15).fill(0.1), W_c: new Array(15).fill(0.2), W_u: new Array(15).fill(-0.1), b_r: [0, 0, 0], b_c: [0, 0, 0], b_u: [0, 0, 0] };
    const x = { x: [1, 2, 3, 4] };
    const ms = (await import(simd)) as { default: (d: object, b: number, o?: object) => Inst };
    const mp = (await import(plain)) as { default: (d: object, b: number) => Inst };
    const viaSimd = ms.default({ n_x: 2, n_a: 3 }, 1), viaJs = ms.default({ n_x: 2, n_a: 3 }, 1, { simd: false }), viaPlain = mp.default({ n_x: 2, n_a: 3 }, 1);
    expect([viaSimd.simd, viaJs.simd, viaPlain.simd]).toEqual([true, false, undefined]);
    const c = [viaSimd, viaJs, viaPlain].map((m) => Array.from(m.forward(P, x).states.c));
    for (const v of c.slice(1)) for (let i = 0; i < 6; i++) expect(Math.abs(v[i]! - c[0]![i]!)).toBeLessThanOrEqual(1e-6);
  });

  it('prints the module without -o, and explains mistakes', () => {
    const r = celda('compile', join(EXAMPLES, 'rnn.celda'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\/\/ celda: the cell `RNN`/);
    const bad = celda('compile', join(EXAMPLES, 'rnn.celda'), '--precision', 'f16');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('error: --precision must be f32 or f64, not `f16`\n');
    const missing = celda('compile', join(dir, 'nope.celda'));
    expect(missing.stderr).toContain('no such file');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('celda eval --backend js', () => {
  it('keeps the JSON contract of the interpreter, in float64 and float32', () => {
    const inputs = join(dir, 'in.json');
    writeFileSync(inputs, JSON.stringify({
      dims: { n_x: 2, n_a: 3 }, batch: 2, steps: 3,
      inputs: { x: [[[1, 2], [3, 4]], [[1, 0], [0, 1]], [[0.5, 0.5], [1, 1]]] },
      init: { a: [[0.1, 0.2, 0.3], [0, 0, 0]] },
      cotangents: { a: [[[1, 0, 0], [0, 1, 0]], [[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [0, 1, 0]]] },
    }));
    const run = (...extra: string[]) => JSON.parse(execFileSync(process.execPath, [CELDA, 'eval', join(EXAMPLES, 'lstm-notes.celda'), '--inputs', inputs, '--seed', '4', ...extra], { encoding: 'utf8' })) as Nested;
    const ref = run();
    expect(maxDiff(run('--backend', 'js'), ref)).toBeLessThan(1e-12);
    expect(maxDiff(run('--backend', 'js', '--precision', 'f32'), ref)).toBeLessThan(1e-5);
    const bad = celda('eval', join(EXAMPLES, 'rnn.celda'), '--inputs', inputs, '--precision', 'f32');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--precision f32 needs --backend js');
  });
});

describe('celda bench', () => {
  it('prints one JSON line: ms per step, tokens per second, GFLOP/s', () => {
    const r = celda('bench', join(EXAMPLES, 'lstm.celda'), '--dims', 'n_x=4,n_a=8', '--batch', '2', '--steps', '3');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!) as Record<string, number>;
    expect(Object.keys(j)).toEqual(['ms_per_step', 'tokens_per_s', 'gflops']);
    expect(j.ms_per_step).toBeGreaterThan(0);
    // tokens/s and GFLOP/s follow from ms/step: T·B tokens and 6·T·B·4n_a(n_a+n_x) flops per step — up to
    // the printing, four significant digits each (so a product of two is within 1e-3 of the exact one).
    const near = (x: number, exact: number) => expect(Math.abs(x / exact - 1)).toBeLessThan(1.5e-3);
    near(j.tokens_per_s! * j.ms_per_step! / 1000, 6);
    near(j.gflops! * j.ms_per_step! * 1e6, 6 * 3 * 2 * 4 * 8 * 12);
  });

  it('times cells with scalar and matrix states per example (mLSTM, Mamba S6)', () => {
    // The state cotangents are sized by the state's whole shape: d × d for C, none for a scalar m.
    for (const [cell, dims] of [['mlstm.celda', 'd=8,n_x=4'], ['mamba-s6.celda', 'D=4']] as const) {
      const r = celda('bench', join(EXAMPLES, '..', 'zoo', cell), '--dims', dims, '--batch', '2', '--steps', '3');
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { ms_per_step: number }).ms_per_step).toBeGreaterThan(0);
    }
  });

  it('refuses unknown dimensions and backends', () => {
    const r = celda('bench', join(EXAMPLES, 'lstm.celda'), '--dims', 'n_q=3');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: --dims: LSTM has no dimension `n_q` (its dimensions: n_x, n_a); did you mean `n_a`?\n');
    expect(celda('bench', join(EXAMPLES, 'lstm.celda'), '--backend', 'gpu').stderr).toBe('error: --backend must be one of js, interp, gpujs, not `gpu`\n');
  });

  it('float32 runs the products as WebAssembly SIMD, on the threads asked for; --no-simd as plain JavaScript', () => {
    const args = [join(EXAMPLES, 'gru.celda'), '--dims', 'n_x=4,n_a=8', '--batch', '2', '--steps', '3', '--precision', 'f32'];
    const two = celda('bench', ...args, '--threads', '2');
    expect(two.status, two.stderr).toBe(0);
    // The command turns relaxed SIMD on for itself (V8's flag in Node 20; Node ≥ 21 has it): the multiply-add kernels run.
    expect(two.stderr).toContain('note: js backend, float32, products and fused loops in WebAssembly SIMD (relaxed-SIMD multiply-add) on 2 threads');
    expect(Object.keys(JSON.parse(two.stdout) as object)).toEqual(['ms_per_step', 'tokens_per_s', 'gflops']);
    const plain = celda('bench', ...args, '--no-simd');
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stderr).toContain('note: js backend, float32, plain JavaScript products');
  });

  it('says when the products run the relaxed-SIMD kernels, and when the fused loops run as WebAssembly', () => {
    const b = { name: 'js', precision: 'f32', simd: true, threads: 2 } as const;
    expect(describeJs({ ...b, fma: true } as unknown as CellBackend)).toBe('js backend, float32, products in WebAssembly SIMD (relaxed-SIMD multiply-add) on 2 threads');
    expect(describeJs({ ...b, fma: false } as unknown as CellBackend)).toBe('js backend, float32, products in WebAssembly SIMD on 2 threads');
    expect(describeJs({ ...b, fma: false, wasmLoops: true } as unknown as CellBackend)).toBe('js backend, float32, products and fused loops in WebAssembly SIMD on 2 threads');
  });

  it('explains --threads and --no-simd where they do not apply', () => {
    const cell = join(EXAMPLES, 'gru.celda');
    const f64 = celda('bench', cell, '--threads', '2', '--precision', 'f64');
    expect([f64.status, f64.stderr]).toEqual([2, 'error: --threads splits the WebAssembly SIMD products of --precision f32 (float64 runs plain JavaScript on one thread)\n']);
    const interp = celda('bench', cell, '--backend', 'interp', '--no-simd');
    expect([interp.status, interp.stderr]).toEqual([2, 'error: --no-simd is for --backend js\n']);
    const both = celda('bench', cell, '--precision', 'f32', '--no-simd', '--threads', '2');
    expect([both.status, both.stderr]).toEqual([2, 'error: --threads needs the WebAssembly SIMD products (drop --no-simd)\n']);
    const zero = celda('bench', cell, '--precision', 'f32', '--threads', '0');
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('--threads must be a whole number ≥ 1');
  });
});

describe('celda eval --backend js --precision f32 with threads', () => {
  it('gives the same numbers on one thread and on two', () => {
    const inputs = join(dir, 'gru-inputs.json');
    const nested = (T: number, n: number, f: (t: number, b: number, i: number) => number) => Array.from({ length: T }, (_, t) => Array.from({ length: 2 }, (_, b) => Array.from({ length: n }, (_, i) => f(t, b, i))));
    writeFileSync(inputs, JSON.stringify({
      dims: { n_x: 3, n_a: 4 }, batch: 2, steps: 2,
      inputs: { x: nested(2, 3, (t, b, i) => Math.sin(t + 2 * b + 3 * i)) },
      cotangents: { c: nested(2, 4, (t, b, i) => Math.cos(t + b + i)) },
    }));
    const run = (...extra: string[]) => celda('eval', join(EXAMPLES, 'gru.celda'), '--inputs', inputs, '--backend', 'js', '--precision', 'f32', '--seed', '3', ...extra);
    const one = run('--threads', '1'), two = run('--threads', '2');
    expect([one.status, two.status], one.stderr + two.stderr).toEqual([0, 0]);
    expect(two.stdout).toBe(one.stdout);
    const bad = celda('eval', join(EXAMPLES, 'gru.celda'), '--inputs', inputs, '--threads', '2');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--threads is for --backend js');
  });
});
