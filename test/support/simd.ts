// Test support for the SIMD suite (not a test file itself): the kernel on a
// memory of its own, an emulation of its summation order in float32 (Math.fround),
// the heap allocator as modules carry it, float32 SIMD instances wrapped as
// backends, and random cells written as celda source.

import type { CompiledCell } from '../../compiler/compile.ts';
import { stateShapeDims } from '../../compiler/check/typed-cell.ts';
import type { Dim } from '../../compiler/ir/dims.ts';
import { evalDim } from '../../compiler/ir/dims.ts';
import type { BackendFactory, CellBackend, Vec } from '../../runtime/backend.ts';
import type { JsCellInstance, JsInstanceOptions } from '../../runtime/backends/js.ts';
import { loadJsFactory } from '../../runtime/backends/js.ts';
import { Rng } from '../../runtime/random.ts';
import type { CeldaHeap } from '../../runtime/wasm/pool.ts';
import type { Kernels } from '../../runtime/wasm/pool-common.ts';
import { makeHeap as coreMakeHeap } from '../../runtime/wasm/pool-common.ts';
import { kernelBytes } from '../../runtime/wasm/pool.ts';
import type { CellSpec } from './random-cell-source.ts';
import { randomCellSource, randomCellSpec } from './random-cell-source.ts';

// ---------------------------------------------------------------- the kernel

export type Gemm = CeldaHeap['gemm'];

/** The unshared kernel instantiated on a fresh memory of `pages` 64 KiB pages. */
let compiled: WebAssembly.Module | null = null;
export function freshKernel(pages = 1): { memory: WebAssembly.Memory; gemm: Gemm; kernels: Required<Kernels> } {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  compiled ??= new WebAssembly.Module(kernelBytes(false));
  const kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports as Required<Kernels> & { gemm: Gemm };
  return { memory, gemm: kernels.gemm, kernels };
}

/** One product's arguments, in floats (the kernel gets bytes: 4×). */
export interface Product {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly a: number;
  readonly lda: number;
  readonly b: number;
  readonly ldb: number;
  readonly c: number;
  readonly ldc: number;
  readonly acc: boolean;
}

/**
 * The kernel's documented order, in float32: four lane sums over the first
 * 4⌊K/4⌋ terms (term p into lane p mod 4), folded (s₀ + s₁) + (s₂ + s₃), the
 * K mod 4 tail terms one by one, then added to C when acc. Math.fround after
 * every operation is exact float32 arithmetic: a product of two float32 is exact
 * in float64, and a float64 sum of two float32 rounded again to float32 is the
 * correctly rounded float32 sum (53 ≥ 2·24 + 2). WebAssembly never fuses a
 * multiply and an add, so the kernel must match this bit for bit.
 */
export function emulate(F: Float32Array, q: Product): Float32Array {
  const { M, N, K, a, lda, b, ldb, c, ldc, acc } = q;
  const f = Math.fround;
  const out = new Float32Array(M * N);
  const K4 = K - (K % 4);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const ra = a + i * lda, rb = b + j * ldb;
      const s = [0, 0, 0, 0];
      for (let p = 0; p < K4; p++) s[p % 4] = f(s[p % 4]! + f(F[ra + p]! * F[rb + p]!));
      let t = f(f(s[0]! + s[1]!) + f(s[2]! + s[3]!));
      for (let p = K4; p < K; p++) t = f(t + f(F[ra + p]! * F[rb + p]!));
      out[i * N + j] = acc ? f(F[c + i * ldc + j]! + t) : t;
    }
  }
  return out;
}

/**
 * The product in float64 from the same float32 operands, and for each output the
 * bound on float32's error: every term passes through at most ⌊K/4⌋ + 7 roundings
 * (its product, the lane sums, two folds, three tail terms, the add to C), so
 * |float32 − exact| ≤ γₙ · (Σ|A·B| + |C₀|) with n = ⌊K/4⌋ + 7 and γₙ = n·u/(1 − n·u),
 * u = 2⁻²⁴ (Higham, Accuracy and Stability, §3.1) — a deterministic bound, unlike
 * the typical √K·u, and relative to Σ|A·B| rather than to the result, which may cancel.
 */
export function reference(F: Float32Array, q: Product): { value: Float64Array; bound: Float64Array } {
  const { M, N, K, a, lda, b, ldb, c, ldc, acc } = q;
  const value = new Float64Array(M * N), bound = new Float64Array(M * N);
  const n = Math.floor(K / 4) + 7, u = 2 ** -24, gamma = (n * u) / (1 - n * u);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = acc ? F[c + i * ldc + j]! : 0, m = Math.abs(s);
      for (let p = 0; p < K; p++) {
        const t = F[a + i * lda + p]! * F[b + j * ldb + p]!;
        s += t;
        m += Math.abs(t);
      }
      value[i * N + j] = s;
      bound[i * N + j] = gamma * m;
    }
  }
  return { value, bound };
}

/** Calls the kernel with float offsets turned into byte addresses. */
export function run(gemm: Gemm, q: Product): void {
  gemm(q.M, q.N, q.K, 4 * q.a, q.lda, 4 * q.b, q.ldb, 4 * q.c, q.ldc, q.acc ? 1 : 0);
}

/** Random float32 operands at their places; NaN in the gaps of A and B (the kernel must not read them); a sentinel in C's. */
export const SENTINEL = 1234.5;
export function fill(F: Float32Array, q: Product, rng: Rng): void {
  const { M, N, K, a, lda, b, ldb, c, ldc } = q;
  F.fill(NaN, a, a + M * lda + 8);
  F.fill(NaN, b, b + N * ldb + 8);
  for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) F[a + i * lda + p] = rng.normal();
  for (let j = 0; j < N; j++) for (let p = 0; p < K; p++) F[b + j * ldb + p] = rng.normal();
  F.fill(SENTINEL, c, c + M * ldc + 8);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) F[c + i * ldc + j] = rng.normal();
}

/** Lays a product out from float `at` on: A, then B, then C, each after a gap of `gap` floats. */
export function layout(s: { M: number; N: number; K: number; padA: number; padB: number; padC: number; gap: number; acc: boolean }, at = 0): Product {
  const lda = s.K + s.padA, ldb = s.K + s.padB, ldc = s.N + s.padC;
  const a = at + s.gap, b = a + s.M * lda + 8 + s.gap, c = b + s.N * ldb + 8 + s.gap;
  return { M: s.M, N: s.N, K: s.K, a, lda, b, ldb, c, ldc, acc: s.acc };
}

/** Floats a laid-out product spans. */
export const extent = (q: Product) => q.c + q.M * q.ldc + 8;

/** The output C as M·N floats (its gaps left out). */
export function readC(F: Float32Array, q: Product): Float32Array {
  const out = new Float32Array(q.M * q.N);
  for (let i = 0; i < q.M; i++) for (let j = 0; j < q.N; j++) out[i * q.N + j] = F[q.c + i * q.ldc + j]!;
  return out;
}

/** The index of the first element where a and b are not the same float (Object.is), or −1. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// ---------------------------------------------------------------- the heap allocator

export type MakeHeap = (memory: { buffer: ArrayBufferLike; grow(pages: number): unknown }, gemm: Gemm, kernels?: Kernels) => CeldaHeap;

/** $makeHeap as emitted modules carry it: the pool's copy (runtime/wasm/pool-common.ts), typed to take a plain memory too. */
export const makeHeap = coreMakeHeap as unknown as MakeHeap;

/** A heap over a fresh unshared memory with the kernel: what a module makes for itself. */
export function freshHeap(pages = 1): CeldaHeap {
  const { memory, gemm, kernels } = freshKernel(pages);
  return makeHeap(memory, gemm, kernels);
}

// ---------------------------------------------------------------- float32 SIMD instances as backends

const copy = (r: Readonly<Record<string, Vec>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice()]));

/**
 * The float32 SIMD module of a cell, instantiated with `options`, as a backend
 * (results copied, like the js backend's). Each instance made is handed to `seen`.
 */
export function simdBackend(options: JsInstanceOptions, seen?: (i: JsCellInstance) => void): BackendFactory {
  return (cell, o): CellBackend => {
    if ((o.precision ?? 'f64') === 'f64') throw new Error('simdBackend is float32 only');
    const inst = loadJsFactory(cell, 'f32', true)(o.dims, o.batch, options);
    seen?.(inst);
    return {
      name: 'js-simd',
      precision: 'f32',
      simd: inst.simd,
      threads: inst.threads,
      forward: (T, params, inputs, init) => {
        const r = inst.forward(params, inputs, init ?? {}, T);
        return { states: copy(r.states), outputs: copy(r.outputs) };
      },
      backward: (cot) => {
        const r = inst.backward({ states: cot.states ?? {}, outputs: cot.outputs ?? {} });
        return { params: copy(r.params), inputs: copy(r.inputs), init: copy(r.init) };
      },
    };
  };
}

/** Seeded random parameters, inputs, initial states and cotangents of a cell (float32 values). */
export function randomRun(cell: CompiledCell, o: { dims: Record<string, number>; batch: number; steps: number; seed: number }) {
  const t = cell.typed, rng = new Rng(o.seed);
  const size = (ds: readonly Dim[]) => ds.reduce((n, d) => n * evalDim(d, o.dims)!, 1);
  const rand = (n: number) => Float32Array.from({ length: n }, () => 0.5 * rng.normal());
  const { batch: B, steps: T } = o;
  return {
    params: Object.fromEntries(t.params.map((p) => [p.name, rand(size(p.shape))])),
    inputs: Object.fromEntries(t.inputs.map((i) => [i.name, rand(T * B * size([i.dim]))])),
    init: Object.fromEntries(t.states.map((st) => [st.name, rand(B * size(stateShapeDims(st)))])),
    cot: {
      states: Object.fromEntries(t.states.map((st) => [st.name, rand(T * B * size(stateShapeDims(st)))])),
      outputs: Object.fromEntries(t.outputs.map((out) => [out.name, rand(T * B * size(out.shape.dims))])),
    },
  };
}

/** Every value and gradient of one forward and backward, by name (`states.h`, `grads.params.W`, …). */
export function allValues(cell: CompiledCell, factory: BackendFactory, o: { dims: Record<string, number>; batch: number; steps: number; seed: number }): Record<string, Vec> {
  const r = randomRun(cell, o);
  const b = factory(cell, { dims: o.dims, batch: o.batch, precision: 'f32' });
  const fw = b.forward(o.steps, r.params, r.inputs, r.init);
  const bw = b.backward(r.cot);
  const out: Record<string, Vec> = {};
  for (const [k, v] of Object.entries(fw.states)) out[`states.${k}`] = v;
  for (const [k, v] of Object.entries(fw.outputs)) out[`outputs.${k}`] = v;
  for (const [g, rec] of Object.entries(bw)) for (const [k, v] of Object.entries(rec as Record<string, Vec>)) out[`grads.${g}.${k}`] = v;
  return out;
}

/** Where two runs' values differ as floats (Object.is), or null when they are bit-identical. */
export function bitDifference(a: Record<string, Vec>, b: Record<string, Vec>): string | null {
  const keys = Object.keys(b).sort();
  if (Object.keys(a).sort().join() !== keys.join()) return `names differ: ${Object.keys(a).sort().join()} vs ${keys.join()}`;
  for (const k of keys) {
    const i = firstDifference(a[k]!, b[k]!);
    if (i >= 0) return `${k}[${i}]: ${a[k]![i]} vs ${b[k]![i]}`;
  }
  return null;
}

// ---------------------------------------------------------------- random cells
//
// A smaller variety of test/compiler/emit/js/random.test.ts's cells (the generator is
// test/support/random-cell-source.ts): trees to depth 3 without the extended
// forms, no intermediates, at most one output, and a tanh around every state.
// Dimensions up to 9, so that products have several register blocks and K mod 4 tails.

export type { CellSpec };

export const cellSpec = randomCellSpec({ maxDepth: 3, extended: false, maxInters: 0, maxOutputs: 1, maxSize: 9 });

/** A spec as celda source and the dimensions it binds. */
export const cellSource = (s: CellSpec): { text: string; dims: Record<string, number> } => randomCellSource(s, { tanhStates: true });
