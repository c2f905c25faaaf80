// The relaxed-SIMD multiply-add kernels (GemmShape.fma in compiler/emit/wasm/kernels-wat.ts):
// a product that adds each term to its lane's sum with f32x4.relaxed_madd, in the
// plain kernel's documented order otherwise.
//
// Node 20 has relaxed SIMD only behind V8's --experimental-wasm-relaxed-simd, and
// V8 flags are process-wide: this process (no flag) checks that emitted modules
// and pools fall back to the plain kernels; a child process started with the flag
// runs the rest and prints its findings as one JSON line —
//  · the fma gemm on random strided shapes, acc 0 and 1: within the plain kernel's
//    float32 error bound of the float64 product (test/support/simd.ts `reference`),
//    nothing outside C written, and bit for bit the documented order with each lane
//    step fused (rounded once) where the CPU has FMA (x64: the `fma` flag of
//    /proc/cpuinfo), unfused where it has not — so, with FMA, different from the
//    plain kernel in some outputs (and on a two-term witness, in a known bit);
//  · the fma module's other exports (act, transpose, sumRows, copyRows) bit-identical
//    to the plain module's; splitting the product, and a two-thread pool, change no bit;
//  · the LSTM and GRU example cells: float32 SIMD instances with the fma kernels
//    (`.fma` true), with `{ fma: false }`, and on two-thread pools of either kernel
//    (every product split) agree with the float64 interpreter (values and gradients,
//    simd.test.ts's tolerance); threads change no bit; fma and plain differ (FMA CPUs).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEMM_FMA_WASM_BASE64, GEMM_WASM_BASE64 } from '../../../../compiler/emit/wasm/kernels-bytes.ts';
import type { JsCellInstance, JsInstanceOptions } from '../../../../runtime/backends/js.ts';
import { loadJsFactory } from '../../../../runtime/backends/js.ts';
import { createPool, fmaAvailable, kernelBytes, simdAvailable } from '../../../../runtime/wasm/pool.ts';
import { allValues, bitDifference, simdBackend } from '../../../support/simd.ts';
import { example } from '../../../support/cells.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href;
// The same tolerance as simd.test.ts's agreement (test/compiler/emit/js/emit.test.ts's float32 one).
const F32_TOL = 1e-5;

/** JsInstanceOptions and JsCellInstance with the fma flag emitted modules take and expose. */
type FmaOptions = JsInstanceOptions & { readonly fma?: boolean };
const fmaOf = (i: JsCellInstance) => (i as JsCellInstance & { readonly fma?: boolean }).fma;

// ---------------------------------------------------------------- this process: no flag

describe('without --experimental-wasm-relaxed-simd (this process)', () => {
  it('the two kernel variants are different bytes, and the plain one validates', () => {
    expect(GEMM_FMA_WASM_BASE64).not.toBe(GEMM_WASM_BASE64);
    expect(simdAvailable()).toBe(true);
    expect(WebAssembly.validate(kernelBytes(false, false))).toBe(true);
    expect(WebAssembly.validate(kernelBytes(true, false))).toBe(true);
  });

  // Node 20's V8 (11.3) refuses relaxed SIMD without the flag; a newer Node has it by default.
  it.skipIf(fmaAvailable())('relaxed SIMD is refused: instances and pools run the plain kernels, whatever they ask', async () => {
    expect(WebAssembly.validate(kernelBytes(false, true))).toBe(false);
    const cell = example('lstm.celda');
    const dims = { n_x: 3, n_a: 4 }, batch = 2;
    const create = loadJsFactory(cell, 'f32', true);
    const askFma: FmaOptions = { fma: true }, noFma: FmaOptions = { fma: false };
    for (const options of [undefined, askFma, noFma]) {
      const inst = create(dims, batch, options);
      expect(inst.simd, JSON.stringify(options)).toBe(true);
      expect(fmaOf(inst), JSON.stringify(options)).toBe(false);
    }
    const pool = createPool(1, 0, true);
    try {
      expect(pool.heap.fma).toBe(false);
      const inst = create(dims, batch, { heap: pool.heap });
      expect(fmaOf(inst)).toBe(false);
    } finally {
      await pool.close();
    }
    // The default and { fma: false } are then the same kernel: the same floats.
    const o = { dims, batch, steps: 4, seed: 3 };
    expect(bitDifference(allValues(cell, simdBackend(askFma), o), allValues(cell, simdBackend(noFma), o))).toBeNull();
  });
});

describe('a heap decides the kernels', () => {
  it('options.fma false with a heap that runs the fma kernels is refused, with a message; with a plain heap it is accepted', async () => {
    const create = loadJsFactory(example('gru.celda'), 'f32', true);
    const pool = createPool(1, 0, false);
    try {
      // The pool's heap (its fma is a read-only property), seen through one that says it runs the fma kernels.
      const fmaHeap = Object.create(pool.heap, { fma: { value: true } }) as typeof pool.heap;
      expect(() => create({ n_x: 3, n_a: 4 }, 2, { fma: false, heap: fmaHeap } as JsInstanceOptions)).toThrow(/options\.fma is false, but options\.heap runs the fma kernels/);
      const inst = create({ n_x: 3, n_a: 4 }, 2, { fma: false, heap: pool.heap } as JsInstanceOptions);
      expect(fmaOf(inst)).toBe(false);
    } finally {
      await pool.close();
    }
  });
});

// ---------------------------------------------------------------- the child: with the flag

// Run by tsx as an ES module (.mts) in a temporary directory; celda's modules are
// imported by file URL from the repository root (argv[2]). Kept free of template
// literals so that it can sit in this one.
const CHILD = String.raw`
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = process.argv[2];
const load = (p) => import(pathToFileURL(join(ROOT, p)).href);
const core = await load('runtime/wasm/pool-common.ts');
const { createPool, sharedPool } = await load('runtime/wasm/pool.ts');
const S = await load('test/support/simd.ts');
const { agreement } = await load('test/support/emit-js.ts');
const { compile } = await load('compiler/compile.ts');
const { jsBackend } = await load('runtime/backends/js.ts');
const { Rng } = await load('runtime/random.ts');

const out = {};
const f = Math.fround;

// Whether relaxed_madd is fused here: x64 with FMA3 (V8 emits vfmadd…ps), x64 without
// (a multiply, then an add); elsewhere unknown (either is allowed).
function cpuFma() {
  if (arch() !== 'x64' || !existsSync('/proc/cpuinfo')) return null;
  const flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^flags\s*:/.test(l));
  return flags === undefined ? null : /\sfma(\s|$)/.test(flags);
}

out.env = {
  arch: arch(), v8: process.versions.v8, cpuFma: cpuFma(),
  simd: core.simdAvailable(), fma: core.fmaAvailable(),
  sharedFmaValid: WebAssembly.validate(core.kernelBytes(true, true)),
};

// a·b + c rounded once to float32 (a, b, c float32): a·b is exact in float64, TwoSum
// gives p + c = s + err exactly, and float32 rounding of s is that of p + c except
// when s lies exactly halfway between two float32 (float64 holds every halfway
// point) with err ≠ 0: then the neighbour on err's side.
function fmaf(a, b, c) {
  const p = a * b, s = p + c, bb = s - p;
  const err = (p - (s - bb)) + (c - bb);
  const r = f(s);
  if (err === 0 || r === s) return r;
  const other = 2 * s - r;
  if (f(other) !== other || other === r) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** The documented order (test/support/simd.ts emulate) with each lane step fused: s = fma(a, b, s). */
function emulateFused(F, q) {
  const { M, N, K, a, lda, b, ldb, c, ldc, acc } = q;
  const res = new Float32Array(M * N), K4 = K - (K % 4);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const ra = a + i * lda, rb = b + j * ldb, s = [0, 0, 0, 0];
      for (let p = 0; p < K4; p++) s[p % 4] = fmaf(F[ra + p], F[rb + p], s[p % 4]);
      let t = f(f(s[0] + s[1]) + f(s[2] + s[3]));
      for (let p = K4; p < K; p++) t = f(t + f(F[ra + p] * F[rb + p]));
      res[i * N + j] = acc ? f(F[c + i * ldc + j] + t) : t;
    }
  }
  return res;
}

const plainModule = new WebAssembly.Module(core.kernelBytes(false, false));
const fmaModule = new WebAssembly.Module(core.kernelBytes(false, true));
function kernel(module, pages) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  return { memory, k: new WebAssembly.Instance(module, { env: { memory } }).exports };
}
const describeQ = (q) => q.M + 'x' + q.N + 'x' + q.K + ' lda ' + q.lda + ' ldb ' + q.ldb + ' ldc ' + q.ldc + ' at ' + q.a + '/' + q.b + '/' + q.c + ' acc ' + q.acc;

// ---- a witness: lane 0 gets -1·1, then (1 + 2^-12)², whose exact square 1 + 2^-11 + 2^-24 lies
// halfway between two float32 — rounded first (unfused) it loses 2^-24; fused, 2^-11 + 2^-24 is exact.
{
  const e = 1 + 2 ** -12, { memory, k } = kernel(fmaModule, 1);
  const F = new Float32Array(memory.buffer);
  F.set([-1, 0, 0, 0, e, 0, 0, 0], 0);
  F.set([1, 0, 0, 0, e, 0, 0, 0], 8);
  k.gemm(1, 1, 8, 0, 8, 32, 8, 64, 1, 0);
  const p = kernel(plainModule, 1), P = new Float32Array(p.memory.buffer);
  P.set(F.subarray(0, 16));
  p.k.gemm(1, 1, 8, 0, 8, 32, 8, 64, 1, 0);
  out.witness = { fma: F[16], plain: P[16], fused: 2 ** -11 + 2 ** -24, unfused: 2 ** -11, fmafOk: fmaf(e, e, -1) === 2 ** -11 + 2 ** -24 };
}

// ---- the fma gemm on random shapes
{
  const rng = new Rng(17), pick = (lo, hi) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const shapes = [];
  for (let n = 0; n < 160; n++) {
    shapes.push({ M: pick(1, 40), N: pick(1, 40), K: pick(0, 40), padA: pick(1, 6), padB: pick(1, 6), padC: pick(1, 6), gap: pick(0, 9), acc: n % 2 === 1 });
  }
  for (const [M, N, K] of [[37, 50, 129], [5, 37, 4099], [1, 300, 67], [300, 1, 67], [40, 40, 40]]) {
    for (const acc of [false, true]) shapes.push({ M, N, K, padA: 3, padB: 1, padC: 2, gap: 5, acc });
  }
  const g = { cases: 0, outputs: 0, maxErrOverBound: 0, boundFailures: 0, plainMismatches: 0, fusedMismatches: 0, unfusedMismatches: 0, neither: 0, differFromPlain: 0, outsideWrites: 0, first: {} };
  const note = (what, msg) => { if (g.first[what] === undefined) g.first[what] = msg; };
  shapes.forEach((s, n) => {
    const q = S.layout(s);
    const pages = Math.ceil((4 * S.extent(q) + 64) / 65536);
    const mine = kernel(fmaModule, pages), theirs = kernel(plainModule, pages);
    const F = new Float32Array(mine.memory.buffer), P = new Float32Array(theirs.memory.buffer);
    S.fill(F, q, new Rng(1000 + n));
    const before = F.slice();
    P.set(before);
    S.run(mine.k.gemm, q);
    S.run(theirs.k.gemm, q);
    const got = S.readC(F, q), plain = S.readC(P, q);
    const unfused = S.emulate(before, q), fused = emulateFused(before, q), ref = S.reference(before, q);
    g.cases++;
    for (let k = 0; k < got.length; k++) {
      g.outputs++;
      const err = Math.abs(got[k] - ref.value[k]), r = err / ref.bound[k];
      if (!(err <= ref.bound[k])) { g.boundFailures++; note('bound', describeQ(q) + ': output ' + k + ' is ' + got[k] + ', float64 ' + ref.value[k] + ', error ' + err + ' > bound ' + ref.bound[k]); }
      if (r > g.maxErrOverBound) g.maxErrOverBound = r;
      if (!Object.is(plain[k], unfused[k])) { g.plainMismatches++; note('plain', describeQ(q) + ': plain kernel output ' + k + ' is ' + plain[k] + ', the documented order gives ' + unfused[k]); }
      const isFused = Object.is(got[k], fused[k]), isUnfused = Object.is(got[k], unfused[k]);
      if (!isFused) { g.fusedMismatches++; note('fused', describeQ(q) + ': output ' + k + ' is ' + got[k] + ', fused lane steps give ' + fused[k] + ', unfused ' + unfused[k]); }
      if (!isUnfused) g.unfusedMismatches++;
      if (!isFused && !isUnfused) { g.neither++; note('neither', describeQ(q) + ': output ' + k + ' is ' + got[k] + ', neither fused ' + fused[k] + ' nor unfused ' + unfused[k]); }
      if (!Object.is(got[k], plain[k])) g.differFromPlain++;
    }
    const inC = new Set();
    for (let i = 0; i < q.M; i++) for (let j = 0; j < q.N; j++) inC.add(q.c + i * q.ldc + j);
    for (let k = 0; k < F.length; k++) {
      if (inC.has(k) || Object.is(F[k], before[k])) continue;
      g.outsideWrites++;
      note('outside', describeQ(q) + ': float ' + k + ' outside C changed from ' + before[k] + ' to ' + F[k]);
      break;
    }
  });
  out.gemm = g;
}

// ---- splitting the fma product by columns or by rows (as the pool does) changes no bit
{
  const res = { checked: 0, failures: [] };
  for (const [s, c] of [{ M: 37, N: 50, K: 129, cuts: [1, 17, 40] }, { M: 13, N: 13, K: 13, cuts: [2, 4, 5] }, { M: 29, N: 1, K: 31, cuts: [13, 14] }].entries()) {
    for (const acc of [false, true]) {
      const q = S.layout({ M: c.M, N: c.N, K: c.K, padA: 3, padB: 1, padC: 2, gap: s, acc });
      const { memory, k } = kernel(fmaModule, Math.ceil((4 * S.extent(q) + 64) / 65536));
      const F = new Float32Array(memory.buffer);
      S.fill(F, q, new Rng(200 + s));
      const C0 = F.slice(q.c, q.c + q.M * q.ldc);
      S.run(k.gemm, q);
      const whole = S.readC(F, q);
      const ranges = (n) => [0, ...c.cuts.filter((x) => x < n), n];
      F.set(C0, q.c);
      const cols = ranges(q.N);
      for (let i = 0; i + 1 < cols.length; i++) S.run(k.gemm, { ...q, N: cols[i + 1] - cols[i], b: q.b + cols[i] * q.ldb, c: q.c + cols[i] });
      const byCols = S.readC(F, q);
      F.set(C0, q.c);
      const rows = ranges(q.M);
      for (let i = 0; i + 1 < rows.length; i++) S.run(k.gemm, { ...q, M: rows[i + 1] - rows[i], a: q.a + rows[i] * q.lda, c: q.c + rows[i] * q.ldc });
      const byRows = S.readC(F, q);
      res.checked++;
      if (S.firstDifference(byCols, whole) >= 0) res.failures.push(describeQ(q) + ' by columns ' + cols);
      if (S.firstDifference(byRows, whole) >= 0) res.failures.push(describeQ(q) + ' by rows ' + rows);
    }
  }
  out.split = res;
}

// ---- the fma module's other exports: the same floats as the plain module's
{
  const rng = new Rng(5);
  const init = Float32Array.from({ length: 8192 }, () => 3 * rng.normal());
  const calls = [
    ['act', 0, 64, 100], ['act', 1, 1024, 37], ['act', 0, 4096, 4], ['act', 1, 4112, 13],
    ['transpose', 5, 7, 4 * 2000, 9, 4 * 3000, 6], ['transpose', 9, 4, 4 * 2101, 5, 4 * 3301, 11],
    ['sumRows', 6, 11, 4 * 4000, 13, 4 * 5000, 0], ['sumRows', 7, 9, 4 * 4203, 10, 4 * 5101, 1],
    ['copyRows', 4, 9, 4 * 6000, 10, 4 * 7000, 12], ['copyRows', 3, 5, 4 * 6101, 0, 4 * 7201, 7],
  ];
  const res = { calls: calls.length, failures: [] };
  for (const [name, ...args] of calls) {
    const a = kernel(fmaModule, 1), b = kernel(plainModule, 1);
    const A = new Float32Array(a.memory.buffer), B = new Float32Array(b.memory.buffer);
    A.set(init); B.set(init);
    a.k[name](...args);
    b.k[name](...args);
    const d = S.firstDifference(A, B);
    if (d >= 0) res.failures.push(name + '(' + args.join(', ') + '): float ' + d + ' is ' + A[d] + ' with the fma module, ' + B[d] + ' with the plain one');
  }
  out.others = res;
}

// ---- pools and whole cells
const pool = createPool(2, 0, true), plainPool = createPool(2, 0, false);
try {
  out.pools = { fma: pool.heap.fma, plainFma: plainPool.heap.fma, threads: pool.heap.threads, plainThreads: plainPool.heap.threads };

  // The pool's gemm (every product split between two threads) against the fma kernel on one thread.
  {
    const res = { checked: 0, failures: [] };
    const heap = pool.heap;
    for (const [M, N, K] of [[37, 50, 129], [50, 37, 129], [4, 9, 5], [9, 4, 5], [1, 31, 17], [31, 1, 17]]) {
      for (const acc of [false, true]) {
        const s = { M, N, K, padA: 1, padB: 2, padC: 3, gap: 0, acc };
        const floats = S.extent(S.layout(s)) + 8;
        const at = heap.alloc(4 * floats);
        const q = S.layout(s, at / 4);
        S.fill(new Float32Array(heap.memory.buffer), q, new Rng(M * N + K));
        const one = kernel(fmaModule, Math.ceil((4 * (at / 4 + floats)) / 65536) + 1);
        new Float32Array(one.memory.buffer).set(new Float32Array(heap.memory.buffer, 0, at / 4 + floats));
        S.run(heap.gemm, q);
        S.run(one.k.gemm, q);
        const got = S.readC(new Float32Array(heap.memory.buffer), q), want = S.readC(new Float32Array(one.memory.buffer), q);
        res.checked++;
        const d = S.firstDifference(got, want);
        if (d >= 0) res.failures.push(describeQ(q) + ': output ' + d + ' is ' + got[d] + ' on two threads, ' + want[d] + ' on one');
        heap.free(at, 4 * floats);
      }
    }
    out.poolGemm = res;
  }

  const TOL = Number(process.argv[3]);
  const cellOf = (file) => {
    const r = compile(readFileSync(join(ROOT, 'examples', 'cells', file), 'utf8'));
    if (r.diagnostics.length > 0 || r.cells.length !== 1) throw new Error(file + ': ' + r.diagnostics.map((d) => d.message).join('; '));
    return r.cells[0];
  };
  const modes = [
    { name: 'fma', options: {}, fma: true, threads: 1 },
    { name: 'fma: false', options: { fma: false }, fma: false, threads: 1 },
    { name: 'fma, two threads', options: { heap: pool.heap }, fma: true, threads: 2 },
    { name: 'fma: false pool, two threads', options: { heap: plainPool.heap }, fma: false, threads: 2 },
  ];
  const configs = [
    { file: 'lstm.celda', dims: { n_x: 2, n_a: 5 }, batch: 1, steps: 5, seed: 1 },
    { file: 'lstm.celda', dims: { n_x: 7, n_a: 13 }, batch: 5, steps: 9, seed: 4, scale: 0.3, large: true },
    { file: 'gru.celda', dims: { n_x: 2, n_a: 5 }, batch: 3, steps: 5, seed: 2 },
    { file: 'gru.celda', dims: { n_x: 11, n_a: 37 }, batch: 4, steps: 6, seed: 4, scale: 0.3, large: true },
  ];
  const runs = [];
  for (const c of configs) {
    const cell = cellOf(c.file);
    const o = { dims: c.dims, batch: c.batch, steps: c.steps, seed: c.seed, precision: 'f32', scale: c.scale };
    const r = { config: c.file + ' ' + JSON.stringify(c.dims) + ' batch ' + c.batch + ' T ' + c.steps, large: c.large === true, modes: [] };
    const values = {};
    for (const m of modes) {
      const made = [];
      const a = agreement(cell, S.simdBackend(m.options, (i) => made.push(i)), o);
      const inst = made[0];
      r.modes.push({
        name: m.name, made: made.length, simd: inst.simd, fma: inst.fma, threads: inst.threads,
        wantFma: m.fma, wantThreads: m.threads, compared: Object.keys(a.errors).length, worst: a.worst, where: a.where,
      });
      values[m.name] = S.allValues(cell, S.simdBackend(m.options), o);
    }
    // What the js backend runs by default (its instanceOptions), on one thread and on the process's pool of two.
    values.jsBackend = S.allValues(cell, (cc, b) => jsBackend(cc, { ...b, threads: 1 }), o);
    values.jsBackend2 = S.allValues(cell, (cc, b) => jsBackend(cc, { ...b, threads: 2 }), o);
    r.tol = TOL;
    r.threadsFma = S.bitDifference(values['fma, two threads'], values.fma);
    r.threadsPlain = S.bitDifference(values['fma: false pool, two threads'], values['fma: false']);
    r.jsBackend = S.bitDifference(values.jsBackend, values.fma);
    r.jsBackend2 = S.bitDifference(values.jsBackend2, values.fma);
    r.fmaVsPlain = S.bitDifference(values.fma, values['fma: false']);
    runs.push(r);
  }
  out.cells = runs;
  out.sharedPools = { fmaDefault: sharedPool(2).heap.fma, plain: sharedPool(2, false).heap.fma };
} finally {
  await pool.close();
  await plainPool.close();
  await sharedPool(2).close();
  await sharedPool(2, false).close();
}

process.stdout.write(JSON.stringify(out) + '\n');
`;

interface Failures { readonly checked?: number; readonly calls?: number; readonly failures: string[] }
interface ModeResult { name: string; made: number; simd: boolean; fma: boolean; threads: number; wantFma: boolean; wantThreads: number; compared: number; worst: number; where: string }
interface ChildResult {
  env: { arch: string; v8: string; cpuFma: boolean | null; simd: boolean; fma: boolean; sharedFmaValid: boolean };
  witness: { fma: number; plain: number; fused: number; unfused: number; fmafOk: boolean };
  gemm: {
    cases: number; outputs: number; maxErrOverBound: number; boundFailures: number; plainMismatches: number; fusedMismatches: number;
    unfusedMismatches: number; neither: number; differFromPlain: number; outsideWrites: number; first: Record<string, string>;
  };
  split: Failures;
  others: Failures;
  pools: { fma: boolean; plainFma: boolean; threads: number; plainThreads: number };
  poolGemm: Failures;
  cells: {
    config: string; large: boolean; tol: number; modes: ModeResult[];
    threadsFma: string | null; threadsPlain: string | null; jsBackend: string | null; jsBackend2: string | null; fmaVsPlain: string | null;
  }[];
  sharedPools: { fmaDefault: boolean; plain: boolean };
}

describe('with --experimental-wasm-relaxed-simd (a child process)', () => {
  let dir = '';
  let res: ChildResult | null = null;
  let log = '';
  /** Child's result; fails with its exit status and stderr when it has none. */
  const child = (): ChildResult => {
    if (res === null) expect.fail(`the child process printed no result${log}`);
    return res;
  };
  const ctx = () => log;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'celda-fma-'));
    const script = join(dir, 'fma-child.mts');
    writeFileSync(script, CHILD);
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // the child gets exactly the flags below
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', TSX, script, ROOT, String(F32_TOL)], {
      cwd: ROOT, env, encoding: 'utf8', timeout: 110_000, maxBuffer: 16 << 20,
    });
    log = `\n--- child: status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''}\n--- stderr:\n${r.stderr}\n--- stdout (last 2000 characters):\n${(r.stdout ?? '').slice(-2000)}`;
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    if (r.status === 0) {
      try {
        res = JSON.parse(last) as ChildResult;
      } catch {
        res = null;
      }
    }
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('has relaxed SIMD: fmaAvailable(), and the shared variant validates', () => {
    const { env } = child();
    expect(env.simd, ctx()).toBe(true);
    expect(env.fma, ctx()).toBe(true);
    expect(env.sharedFmaValid, ctx()).toBe(true);
  });

  it('the fma gemm: within the plain kernel\'s float32 bound of the float64 product; nothing outside C written', () => {
    const g = child().gemm;
    expect(g.cases).toBe(170);
    expect(g.outputs).toBeGreaterThan(50_000);
    expect(g.boundFailures, g.first.bound).toBe(0);
    expect(g.maxErrOverBound).toBeLessThanOrEqual(1);
    expect(g.outsideWrites, g.first.outside).toBe(0);
    // The plain kernel, in the same process, still is its documented order bit for bit.
    expect(g.plainMismatches, g.first.plain).toBe(0);
  });

  it('the fma gemm is the documented order with fused lane steps where the CPU has FMA (unfused where not), so it differs from the plain kernel', () => {
    const { env, gemm: g, witness: w } = child();
    expect(w.fmafOk, 'the fused emulation itself').toBe(true);
    expect(w.plain).toBe(w.unfused);
    if (env.cpuFma === true) {
      expect(w.fma, 'the two-term witness: fused keeps 2^-24').toBe(w.fused);
      expect(g.fusedMismatches, g.first.fused).toBe(0);
      expect(g.differFromPlain, 'outputs where fma and plain kernels differ').toBeGreaterThan(0);
    } else if (env.cpuFma === false) {
      expect(w.fma).toBe(w.unfused);
      expect(g.unfusedMismatches).toBe(0);
    } else {
      expect([w.fused, w.unfused]).toContain(w.fma);
      expect(g.neither, g.first.neither).toBe(0);
    }
  });

  it('splitting the fma product by columns or rows changes no bit; the two-thread pool\'s gemm equals one thread\'s', () => {
    const { split, poolGemm, pools } = child();
    expect(split.checked).toBe(6);
    expect(split.failures).toEqual([]);
    expect(pools).toEqual({ fma: true, plainFma: false, threads: 2, plainThreads: 2 });
    expect(poolGemm.checked).toBe(12);
    expect(poolGemm.failures).toEqual([]);
  });

  it('the fma module\'s act, transpose, sumRows and copyRows are the plain module\'s, bit for bit', () => {
    const { others } = child();
    expect(others.calls).toBe(10);
    expect(others.failures).toEqual([]);
  });

  it('LSTM and GRU: fma, fma: false and two-thread pools of each agree with the float64 interpreter (values and gradients)', () => {
    const cells = child().cells;
    expect(cells.map((c) => c.config.split(' ')[0])).toEqual(['lstm.celda', 'lstm.celda', 'gru.celda', 'gru.celda']);
    for (const c of cells) {
      expect(c.tol).toBe(F32_TOL);
      expect(c.modes).toHaveLength(4);
      for (const m of c.modes) {
        const what = `${c.config}, ${m.name}`;
        expect(m.made, what).toBe(1);
        expect(m.simd, what).toBe(true);
        expect(m.fma, what).toBe(m.wantFma);
        expect(m.threads, what).toBe(m.wantThreads);
        expect(m.compared, what).toBeGreaterThan(3);
        expect(m.worst, `${what}: worst at ${m.where}`).toBeLessThanOrEqual(F32_TOL);
      }
    }
  });

  it('threads change no bit (fma and plain pools); the js backend and the default pools use the fma kernels; fma and plain differ', () => {
    const { env, cells, sharedPools } = child();
    expect(sharedPools).toEqual({ fmaDefault: true, plain: false });
    for (const c of cells) {
      expect(c.threadsFma, `${c.config}: two threads vs one, fma`).toBeNull();
      expect(c.threadsPlain, `${c.config}: two threads vs one, fma: false`).toBeNull();
      expect(c.jsBackend, `${c.config}: jsBackend (threads 1) vs the fma instance`).toBeNull();
      expect(c.jsBackend2, `${c.config}: jsBackend (threads 2) vs the fma instance`).toBeNull();
      // With FMA the larger cells' products (K = 20, 48) must show it somewhere in their values or gradients.
      if (env.cpuFma === true && c.large) expect(c.fmaVsPlain, `${c.config}: fma vs fma: false are bit-identical`).not.toBeNull();
    }
  });
});
