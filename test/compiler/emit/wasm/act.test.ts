// The SIMD kernel's activations (`act` in compiler/emit/wasm/kernels-wat.ts): tanh and σ in
// place, four lanes at a time, against Math in float64. Float32 results within a few
// ulp (relative 4e-7; for σ below the normal float32 range, absolute 1e-38), NaN in
// NaN out, saturation at ±∞, whole groups of four (the floats past n in the last
// group are activated too, nothing beyond it).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kernelBytes } from '../../../../runtime/wasm/pool.ts';

type Act = (kind: number, p: number, n: number) => void;

function kernel(): { F: Float32Array; act: Act } {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536 });
  const { act } = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(false)), { env: { memory } }).exports as { act: Act };
  return { F: new Float32Array(memory.buffer), act };
}

const tanh = Math.tanh;
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function check(kind: 0 | 1, xs: readonly number[]): void {
  const { F, act } = kernel();
  const at = 64; // byte address (16-aligned)
  const n = xs.length, padded = Math.ceil(n / 4) * 4;
  F.fill(777, at / 4, at / 4 + padded + 8);
  F.set(xs, at / 4);
  act(kind, at, n);
  const ref = kind === 0 ? tanh : sigmoid;
  for (let i = 0; i < n; i++) {
    const x = Math.fround(xs[i]!), want = ref(x), got = F[at / 4 + i]!;
    if (Number.isNaN(want)) {
      expect(got, `x = ${x}`).toBeNaN();
      continue;
    }
    const err = Math.abs(got - want);
    expect(err <= 4e-7 * Math.abs(want) || err <= 1e-38, `${kind === 0 ? 'tanh' : 'σ'}(${x}) = ${got}, want ${want}`).toBe(true);
  }
  // The group of four ends the write: nothing past it changes.
  for (let i = padded; i < padded + 8; i++) expect(F[at / 4 + i]).toBe(777);
}

describe('act: tanh and σ, four lanes at a time', () => {
  const special = [0, -0, 1e-30, -1e-30, 1e-4, -1e-4, 0.5, 0.62, 0.625, 0.63, -0.625, 1, -1, 8.9, 9.1, 20, -20, 44, 88, 89, 100, -100, -88, -89, 1e30, -1e30, Infinity, -Infinity, NaN];

  it('tanh at special points', () => check(0, special));
  it('σ at special points', () => check(1, special));

  it('random arguments at every scale, any length', () => {
    fc.assert(fc.property(
      fc.constantFrom(0 as const, 1 as const),
      fc.array(fc.oneof(fc.float({ min: -30, max: 30, noNaN: true }), fc.float({ min: -1, max: 1, noNaN: true }), fc.float({ noNaN: true })), { minLength: 1, maxLength: 41 }),
      (kind, xs) => check(kind, xs),
    ), { numRuns: 300, seed: 5 });
  });

  it('a dense sweep of [−12, 12]', () => {
    const xs = Array.from({ length: 24001 }, (_, i) => -12 + i / 1000);
    check(0, xs);
    check(1, xs);
  });
});
