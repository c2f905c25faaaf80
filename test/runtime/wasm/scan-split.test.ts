// Scans in the JavaScript module (issue 14): the SIMD kernel `scan` (compiler/emit/wasm/scan-wat.ts)
// against the plain definition, float for float; a thread pool's scan split over lanes (the same
// floats) and over time in chunks (runtime/wasm/scan-split.ts: the same values to float32 rounding),
// including chunk counts that do not divide T and T = 1; and every zoo cell with a scan, and random
// linear cells, against the interpreter — values and every gradient — on float64, float32 with and
// without SIMD, with one and two threads, with the split over lanes and over time forced.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { compile } from '../../../compiler/compile.ts';
import { lowerCell } from '../../../compiler/lower/lower.ts';
import type { BackendFactory, Vec } from '../../../runtime/backend.ts';
import { jsBackend, loadJsFactory } from '../../../runtime/backends/js.ts';
import type { CeldaHeap, ThreadPool } from '../../../runtime/wasm/pool.ts';
import { createPool, kernelBytes, sharedMemoryAvailable, simdAvailable } from '../../../runtime/wasm/pool.ts';
import { Rng } from '../../../runtime/random.ts';
import { agreement } from '../../support/emit-js.ts';
import { compileOk } from '../../support/cells.ts';
import { linearCellSource, randomLinearCell } from '../../support/random-linear-cell.ts';
import { zooFiles, zooSource } from '../../support/zoo.ts';

const threads = sharedMemoryAvailable();
if (!threads) console.log('scan-split: no shared WebAssembly memory here; the thread tests are skipped');

type Kernel = (flags: number, R: number, S: number, W: number, dst: number, src: number, ld: number, a: number, lda: number, b: number, ldb: number, prod?: number) => void;

/** The definition, in float32 arithmetic: forward dst = A·src + B, reverse dst += A·src + B, steps of S rows. */
function reference(F: Float32Array, flags: number, R: number, S: number, W: number, dst: number, src: number, ld: number, a: number, lda: number, b: number, ldb: number): void {
  const f = Math.fround, T = R / S, rev = flags & 1;
  for (let u = 0; u < T; u++) {
    const step = rev ? T - 1 - u : u;
    for (let k = 0; k < S; k++) {
      const r = step * S + k;
      for (let i = 0; i < W; i++) {
        const A = flags & 2 ? F[(a >> 2) + r * lda + (flags & 16 ? 0 : i)]! : 1;
        const B = flags & 4 ? F[(b >> 2) + r * ldb + (flags & 32 ? 0 : i)]! : 0;
        const x = f(f(A * F[(src >> 2) + r * ld + i]!) + B);
        const d = (dst >> 2) + r * ld + i;
        F[d] = rev ? f(F[d]! + x) : x;
      }
    }
  }
}

/** A random scan problem: a state buffer of (T+1)·S rows (stride ld) and coefficient buffers, at byte `base`. */
function problem(rng: Rng, T: number, S: number, W: number, flags: number) {
  const ld = W + Math.floor(rng.next() * 3), lda = flags & 16 ? 1 + Math.floor(rng.next() * 2) : W + Math.floor(rng.next() * 2), ldb = flags & 32 ? 1 : W + 1;
  const R = T * S, rev = flags & 1;
  const hFloats = (T + 1) * S * ld, aFloats = R * lda + W, bFloats = R * ldb + W;
  const h = 16, a = h + 4 * hFloats + 16, b = a + 4 * aFloats + 16, end = b + 4 * bFloats;
  const fill = (F: Float32Array) => {
    for (let i = 0; i < hFloats; i++) F[(h >> 2) + i] = rng.normal();
    for (let i = 0; i < aFloats; i++) F[(a >> 2) + i] = 0.5 + 0.5 * rng.next();
    for (let i = 0; i < bFloats; i++) F[(b >> 2) + i] = rng.normal();
  };
  // forward: dst slot t+1 from slot t; reverse: slot t from slot t+1
  const dst = rev ? h : h + 4 * S * ld, src = rev ? h + 4 * S * ld : h;
  return { R, ld, lda, ldb, a, b, dst, src, h, hFloats, end, fill };
}

const FLAG_SETS = [0, 2, 4, 6, 1, 3, 5, 7, 2 | 16, 6 | 16 | 32, 7 | 16, 7 | 32];

describe.skipIf(!simdAvailable())('the scan kernel', () => {
  it('gives the definition\'s floats bit for bit: every flag, W 1…13, steps of 1–3 rows, strides wider than W', () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536 });
    const scan = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(false)), { env: { memory } }).exports.scan as Kernel;
    const rng = new Rng(14);
    let cases = 0;
    for (const flags of FLAG_SETS) for (let W = 1; W <= 13; W++) for (const [T, S] of [[1, 1], [5, 1], [4, 3], [7, 2]] as const) {
      const p = problem(rng, T, S, W, flags);
      const F = new Float32Array(memory.buffer);
      p.fill(F);
      const want = F.slice();
      reference(want, flags, p.R, S, W, p.dst, p.src, p.ld, p.a, p.lda, p.b, p.ldb);
      scan(flags, p.R, S, W, p.dst, p.src, p.ld, p.a, p.lda, p.b, p.ldb);
      const got = new Float32Array(memory.buffer);
      for (let i = 0; i < p.end >> 2; i++) if (!Object.is(got[i], want[i])) throw new Error(`flags ${flags} W ${W} T ${T} S ${S}: float ${i} is ${got[i]}, want ${want[i]}`);
      cases++;
    }
    expect(cases).toBe(FLAG_SETS.length * 13 * 4);
  });
});

describe.skipIf(!threads)('a pool\'s scan split between threads', () => {
  const pools: ThreadPool[] = [];
  const pool = (n: number, o: Parameters<typeof createPool>[3]) => {
    const p = createPool(n, 0, false, o);
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of pools) await p.close();
  });

  /** One problem through a heap's scan and through the plain kernel on one thread; the largest difference relative to the values' scale. */
  function compare(heap: CeldaHeap, rng: Rng, T: number, S: number, W: number, flags: number): { diff: number; same: boolean } {
    const p = problem(rng, T, S, W, flags);
    const at = heap.alloc(p.end);
    const shift = (x: number) => x + at;
    const F = () => new Float32Array(heap.memory.buffer);
    p.fill(F().subarray(at >> 2));
    const before = F().slice(at >> 2, (at + p.end) >> 2);
    const want = before.slice();
    reference(want, flags, p.R, S, W, p.dst, p.src, p.ld, p.a, p.lda, p.b, p.ldb);
    heap.scan!(flags, p.R, S, W, shift(p.dst), shift(p.src), p.ld, shift(p.a), p.lda, shift(p.b), p.ldb);
    const got = F().slice(at >> 2, (at + p.end) >> 2);
    heap.free(at, p.end);
    let diff = 0, scale = 0, same = true;
    for (let i = 0; i < p.hFloats; i++) {
      const g = got[(p.h >> 2) + i]!, w = want[(p.h >> 2) + i]!;
      if (!Object.is(g, w)) same = false;
      diff = Math.max(diff, Math.abs(g - w));
      scale = Math.max(scale, Math.abs(w));
    }
    return { diff: diff / scale, same };
  }

  it('over lanes: the same floats as one thread (forward and reverse, W not a multiple of 4 or of the threads)', () => {
    const heap = pool(2, { split: 'lanes' }).heap;
    const rng = new Rng(3);
    for (const flags of FLAG_SETS) for (const [T, S, W] of [[9, 1, 13], [6, 3, 70], [1, 2, 5]] as const) {
      const r = compare(heap, rng, T, S, W, flags);
      expect(r.same, `flags ${flags} T ${T} S ${S} W ${W}`).toBe(true);
    }
  });

  for (const [n, chunks] of [[1, 3], [2, 2], [2, 3], [2, 5]] as const) {
    it(`over time, ${n} thread${n > 1 ? 's' : ''} and ${chunks} chunks: the definition's values to float32 rounding (T not divisible by the chunks, T = 1, 2)`, () => {
      const heap = pool(n, { split: 'time', chunks }).heap;
      const rng = new Rng(10 * n + chunks);
      for (const flags of FLAG_SETS) for (const [T, S, W] of [[13, 1, 6], [7, 3, 5], [1, 1, 4], [2, 2, 3], [64, 1, 9]] as const) {
        const r = compare(heap, rng, T, S, W, flags);
        expect(r.diff, `flags ${flags} T ${T} S ${S} W ${W}`).toBeLessThan(1e-5);
      }
    });
  }

  it('transposes and sums over rows of many rows split over columns: the same floats as one thread', () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
    const one = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(false)), { env: { memory } }).exports as unknown as Required<Pick<CeldaHeap, 'transpose' | 'sumRows'>>;
    const heap = pool(2, {}).heap;
    const rng = new Rng(9);
    for (const [R, W, lds] of [[4096, 37, 40], [20000, 8, 8], [5000, 64, 66]] as const) {
      const floats = R * lds + R * W + W;
      const at = heap.alloc(4 * floats), src = at, dst = at + 4 * R * lds, sums = dst + 4 * R * W;
      const F = new Float32Array(heap.memory.buffer, at, floats);
      for (let i = 0; i < floats; i++) F[i] = rng.normal();
      const mine = new Float32Array(memory.buffer, 0, floats);
      mine.set(F);
      heap.transpose!(R, W, src, lds, dst, R);
      heap.sumRows!(R, W, src, lds, sums, 1);
      one.transpose(R, W, 0, lds, dst - at, R);
      one.sumRows(R, W, 0, lds, sums - at, 1);
      const got = new Float32Array(heap.memory.buffer, at, floats), want = new Float32Array(memory.buffer, 0, floats);
      let same = true;
      for (let i = 0; i < floats; i++) if (!Object.is(got[i], want[i])) same = false;
      expect(same, `R ${R} W ${W}`).toBe(true);
      heap.free(at, 4 * floats);
    }
  });

  it('a closed pool scans on this thread, whatever split was asked for', async () => {
    for (const split of ['lanes', 'time'] as const) {
      const p = createPool(2, 0, false, { split, chunks: 3 });
      await p.close();
      const r = compare(p.heap, new Rng(2), 40, 2, 12, 7);
      expect(r.diff, split).toBeLessThan(1e-5);
    }
  });

  it('by default: a long single sequence with few lanes over time, many lanes over lanes, small scans on this thread', () => {
    const heap = pool(2, {}).heap;
    const rng = new Rng(5);
    // the split shows in the floats: over time the recurrence is reassociated at the chunk boundary
    const long = compare(heap, rng, 4096, 1, 32, 7);
    expect(long.diff).toBeLessThan(1e-5);
    expect(long.same).toBe(false);
    expect(compare(heap, rng, 300, 1, 256, 7).same).toBe(true);
    expect(compare(heap, rng, 5, 1, 8, 7).same).toBe(true);
  });
});

// ---------------------------------------------------------------- whole cells against the interpreter

const ZOO_DIMS = { n_x: 3, n_h: 4, d: 4, D: 3, N: 2 };
const zooScans = zooFiles().map((file) => ({ file, cell: compile(zooSource(file)).cells[0]! })).filter(({ cell }) => lowerCell(cell, 'f64').scans !== undefined);

/** The float32 SIMD module on a given heap, as a backend. */
const onHeap = (heap: CeldaHeap): BackendFactory => (cell, o) => {
  const dims = Object.fromEntries(cell.typed.dims.map((d) => [d, o.dims[d]!]));
  const m = loadJsFactory(cell, 'f32', true, true)(dims, o.batch, { simd: true, fma: false, heap });
  const copy = (g: Readonly<Record<string, Vec>>) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.slice()]));
  return {
    name: 'js', precision: 'f32',
    forward(steps, params, inputs, init) {
      const r = m.forward(params, inputs, init ?? {}, steps);
      return { states: copy(r.states), outputs: copy(r.outputs) };
    },
    backward(cot) {
      const r = m.backward({ states: cot.states ?? {}, outputs: cot.outputs ?? {} });
      return { params: copy(r.params), inputs: copy(r.inputs), init: copy(r.init) };
    },
  } as ReturnType<BackendFactory>;
};

describe('zoo cells with a scan agree with the interpreter', () => {
  it('the zoo has its scanned cells', () => {
    expect(zooScans.map((z) => z.file)).toEqual(['indrnn.celda', 'mamba-s6.celda', 'mingru.celda', 'minlstm.celda', 'mlstm.celda', 'rg-lru.celda', 'sru.celda']);
  });

  const pools: [string, () => ThreadPool][] = [];
  const made = new Map<string, ThreadPool>();
  const lazy = (name: string, n: number, o: Parameters<typeof createPool>[3]) => pools.push([name, () => {
    if (!made.has(name)) made.set(name, createPool(n, 0, false, o));
    return made.get(name)!;
  }]);
  if (threads) {
    lazy('1 thread', 1, {});
    lazy('2 threads', 2, {});
    lazy('2 threads, over lanes', 2, { split: 'lanes' });
    lazy('1 thread, over time in 3 chunks', 1, { split: 'time', chunks: 3 });
    lazy('2 threads, over time in 2 chunks', 2, { split: 'time', chunks: 2 });
    lazy('2 threads, over time in 3 chunks', 2, { split: 'time', chunks: 3 });
  }
  afterAll(async () => {
    for (const p of made.values()) await p.close();
  });

  for (const { file, cell } of zooScans) {
    it(`${file}: float64, float32 with and without SIMD, and on every pool; T = 1, 7, 13`, () => {
      const zeroInit = file === 'mlstm.celda';
      for (const [batch, steps, seed] of [[1, 7, 1], [3, 13, 2], [2, 1, 3]] as const) {
        const o = { dims: ZOO_DIMS, batch, steps, seed, scale: zeroInit ? 0.2 : 0.5 };
        const f64 = agreement(cell, jsBackend, o);
        expect(f64.worst, `${file} f64 B ${batch} T ${steps}: ${f64.where}`).toBeLessThanOrEqual(Math.max(1e-12, 1e-7 * f64.conditioning));
        const f32: [string, BackendFactory][] = [
          ['SIMD', (c, b) => jsBackend(c, { ...b, simd: true, threads: 1 })],
          ['no SIMD', (c, b) => jsBackend(c, { ...b, simd: false })],
          ...pools.map(([name, p]): [string, BackendFactory] => [name, onHeap(p().heap)]),
        ];
        for (const [name, f] of f32) {
          const a = agreement(cell, f, { ...o, precision: 'f32' });
          expect(Math.min(a.worst, Math.max(a.worstScaled, 0)), `${file} f32 ${name} B ${batch} T ${steps}: ${a.where}`).toBeLessThanOrEqual(Math.max(1e-5, 20 * a.conditioning));
        }
      }
    });
  }

  it.skipIf(!threads)('random linear cells (fast-check): float32 over time in chunks and over lanes, forward and every gradient', () => {
    const heaps = pools.filter(([name]) => name.includes('over')).map(([, p]) => p().heap);
    fc.assert(fc.property(randomLinearCell, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), (spec, B, T) => {
      const c: CompiledCell = compileOk(linearCellSource(spec))[0]!;
      for (const heap of heaps) {
        const a = agreement(c, onHeap(heap), { dims: { n: 5 }, batch: B, steps: T, seed: B * 7 + T, precision: 'f32' });
        expect(a.worstScaled, `${a.where}\n${linearCellSource(spec)}`).toBeLessThan(Math.max(1e-4, 50 * a.conditioning));
      }
    }), { numRuns: 20, seed: 1415 });
  });
});
