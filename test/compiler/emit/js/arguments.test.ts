// The compiled module's arguments (issue 17, 1c and 4b): create(dims, batch),
// forward(params, inputs, init, steps) and backward({ states, outputs }) check
// every key and value once per call and throw a TypeError or RangeError that names
// the argument — a misspelled key used to be ignored (zero gradients), NaN or
// strings in params to run, absurd sizes to allocate gigabytes. And a property
// test: random JSON-like values either work or throw such an error, promptly.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { CompiledCell } from '../../../../compiler/compile.ts';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import { evalDim } from '../../../../compiler/ir/dims.ts';
import { example } from '../../../support/cells.ts';

type Instance = {
  forward(params: unknown, inputs?: unknown, init?: unknown, steps?: unknown): { states: Record<string, Float64Array>; outputs: Record<string, Float64Array> };
  backward(cot?: unknown): { params: Record<string, Float64Array> };
};
type Factory = (dims: unknown, batch: unknown, options?: unknown) => Instance;

const VARIANTS = [
  { name: 'f64', opts: { precision: 'f64' } },
  { name: 'f32', opts: { precision: 'f32', simd: false } },
  { name: 'f32 SIMD', opts: { precision: 'f32', simd: true } },
] as const;

const factory = (cell: CompiledCell, opts: (typeof VARIANTS)[number]['opts']): Factory => new Function(emitJs(cell, opts).body)() as Factory;

/** Valid arguments for a cell: dims, batch 2, 3 steps. */
function validArgs(cell: CompiledCell) {
  const t = cell.typed;
  const dims = Object.fromEntries(t.dims.map((d, i) => [d, 2 + i]));
  const size = (ds: readonly Parameters<typeof evalDim>[0][]) => ds.reduce((n, d) => n * evalDim(d, dims)!, 1);
  const B = 2, T = 3;
  const fill = (n: number, s: number) => Float64Array.from({ length: n }, (_, i) => 0.1 * Math.sin(i + s));
  const params = Object.fromEntries(t.params.map((p, k) => [p.name, fill(size(p.shape), k)]));
  const inputs = Object.fromEntries(t.inputs.map((i, k) => [i.name, fill(T * B * size([i.dim]), 10 + k)]));
  const init = Object.fromEntries(t.states.map((s, k) => [s.name, fill(B * size([s.dim]), 20 + k)]));
  const states = Object.fromEntries(t.states.map((s, k) => [s.name, fill(T * B * size([s.dim]), 30 + k)]));
  const outputs = Object.fromEntries(t.outputs.map((o, k) => [o.name, fill(T * B * size(o.shape.dims), 40 + k)]));
  return { dims, B, T, params, inputs, init, cot: { states, outputs } };
}

const thrown = (f: () => unknown): Error | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e as Error;
  }
};

describe.each(VARIANTS)('the compiled module ($name) checks its arguments', ({ opts }) => {
  const cell = example('rnn.celda');
  const create = factory(cell, opts);
  const a = validArgs(cell);
  const ready = () => {
    const c = create(a.dims, a.B);
    c.forward(a.params, a.inputs, a.init);
    return c;
  };
  const expectError = (f: () => unknown, kind: typeof TypeError | typeof RangeError, message: RegExp) => {
    const e = thrown(f);
    expect(e).toBeInstanceOf(kind);
    expect(e!.message).toMatch(message);
  };

  it('valid arguments still work, and give the gradients they did', () => {
    const c = ready();
    const g = c.backward(a.cot);
    expect(Object.keys(g.params).sort()).toEqual(Object.keys(a.params).sort());
    expect([...g.params.W_ya!].some((v) => v !== 0)).toBe(true);
  });

  it('a misspelled key is a TypeError with a did-you-mean, not zero gradients', () => {
    const c = ready();
    expectError(() => c.backward({ outputs: { yhat: a.cot.outputs.y_hat } }), TypeError, /^cotangents\.outputs: unknown key "yhat" \(did you mean y_hat\?\)/);
    expectError(() => c.backward({ outptus: a.cot.outputs }), TypeError, /^cotangents: unknown key "outptus" \(did you mean outputs\?\)/);
    expectError(() => c.forward({ ...a.params, W_a: [] }, a.inputs), TypeError, /^params: unknown key "W_a" \(did you mean W_a[ax]\?\)/);
    expectError(() => c.forward(a.params, { ...a.inputs, xx: [] }), TypeError, /^inputs: unknown key "xx" \(did you mean x\?\)/);
    expectError(() => c.forward(a.params, a.inputs, { aa: a.init.a }), TypeError, /^init: unknown key "aa" \(did you mean a\?\)/);
    expectError(() => create({ ...a.dims, n_z: 3 }, a.B), TypeError, /^dims: unknown key "n_z"/);
  });

  it('backward without cotangents, and arguments that are not objects', () => {
    const c = ready();
    expectError(() => c.backward(), TypeError, /^cotangents: expected an object \{ states, outputs \}, got undefined/);
    expectError(() => c.backward('x'), TypeError, /^cotangents: expected an object/);
    expectError(() => c.forward([], a.inputs), TypeError, /^params: expected an object/);
    expectError(() => c.forward(a.params, 7), TypeError, /^inputs: expected an object/);
  });

  it('NaN, infinities or strings in params, strings or holes in arrays, wrong lengths', () => {
    const c = ready();
    const b_y = a.params.b_y!;
    expectError(() => c.forward({ ...a.params, b_y: b_y.map((v, i) => (i === 1 ? NaN : v)) }, a.inputs), RangeError, /^params\.b_y\[1\] is NaN: parameters must be finite/);
    expectError(() => c.forward({ ...a.params, b_y: [...b_y].map((v, i) => (i === 0 ? -Infinity : v)) }, a.inputs), RangeError, /^params\.b_y\[0\] is -Infinity/);
    expectError(() => c.forward({ ...a.params, b_y: [...b_y].map((v, i) => (i === 0 ? '1' : v)) }, a.inputs), TypeError, /^params\.b_y\[0\]: expected a number, got a string/);
    expectError(() => c.forward({ ...a.params, b_y: 'ab' }, a.inputs), TypeError, /^params\.b_y: expected an array/);
    expectError(() => c.forward({ ...a.params, b_y: new Array(b_y.length) }, a.inputs), TypeError, /^params\.b_y\[0\]: expected a number, got undefined/);
    expectError(() => c.forward({ ...a.params, b_y: [1] }, a.inputs), RangeError, /^params\.b_y: expected \d+ numbers, got 1/);
    const { b_y: _, ...missing } = a.params;
    expectError(() => c.forward(missing, a.inputs), TypeError, /^params\.b_y: missing/);
  });

  it('absurd dims, batch or steps: a RangeError with the bytes, before allocating', () => {
    expectError(() => create({ ...a.dims, n_a: 1e6 }, a.B), RangeError, /^batch and dims: .* would need \d+ bytes \(.* GiB\), more than the 4 GiB/);
    expectError(() => create(a.dims, 1e12), RangeError, /^batch and dims: batch 1000000000000 .* would need/);
    expectError(() => create({ ...a.dims, n_a: 1e300 }, a.B), RangeError, /would need/);
    expectError(() => create({ ...a.dims, n_a: '4' }, a.B), TypeError, /^dims\.n_a must be a whole number ≥ 1, got a string/);
    expectError(() => create(a.dims, 0), RangeError, /^batch must be a whole number ≥ 1, got 0/);
    const c = create(a.dims, a.B);
    expectError(() => c.forward(a.params, a.inputs, a.init, 1e9), RangeError, /^steps: 1000000000 steps of batch 2 would need \d+ bytes/);
    // The instance is still usable.
    expect(c.forward(a.params, a.inputs, a.init).states.a!.length).toBe(a.T * a.B * a.dims.n_a!);
  });
});

describe('random JSON-like arguments either work or throw a TypeError/RangeError naming the argument', () => {
  const ARG = /^(params|inputs|init|cotangents|steps|the number of steps)\b/;
  for (const file of ['rnn.celda', 'lstm.celda']) {
    const cell = example(file);
    const a = validArgs(cell);
    const json = fc.jsonValue({ maxDepth: 4 });
    // Arrays: right length, wrong length, with strings, NaN, null; or any JSON.
    const array = (n: number) => fc.oneof(
      fc.constant(Array.from({ length: n }, (_, i) => i / n)),
      fc.array(fc.oneof(fc.double(), fc.string(), fc.constant(null)), { minLength: n, maxLength: n }),
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 2 * n }),
      json,
    );
    /** A table near a valid one: each key kept, dropped, or given another value; maybe a misspelled extra key. */
    const table = (valid: Record<string, ArrayLike<number>>) => fc.oneof(
      json,
      fc.record(Object.fromEntries(Object.entries(valid).map(([k, v]) => [k, fc.oneof(fc.constant(v), array(v.length))])), { requiredKeys: [] }),
      fc.tuple(fc.constant(valid), fc.string({ maxLength: 6 }), json).map(([v, k, x]) => ({ ...v, [k]: x })),
    );
    for (const { name, opts } of VARIANTS) {
      it(`${file} (${name})`, () => {
        const create = factory(cell, opts);
        const c = create(a.dims, a.B);
        const args = fc.record({
          params: fc.oneof(fc.constant(a.params), table(a.params)),
          inputs: fc.oneof(fc.constant(a.inputs), table(a.inputs)),
          init: fc.oneof(fc.constant(a.init), fc.constant(undefined), table(a.init)),
          steps: fc.oneof(fc.constant(undefined), fc.constant(undefined), json),
          cot: fc.oneof(fc.constant(a.cot), json, fc.record({ states: table(a.cot.states), outputs: table(a.cot.outputs) }, { requiredKeys: [] })),
        });
        fc.assert(fc.property(args, (x) => {
          const t0 = performance.now();
          const only = (o: unknown, valid: object) => o === undefined || o === null || typeof o === 'object' && Object.keys(o).every((k) => Object.hasOwn(valid, k));
          const calls = [
            // What works has no key the cell lacks (a misspelled key used to be ignored).
            { call: () => c.forward(x.params, x.inputs, x.init, x.steps), sound: () => only(x.params, a.params) && only(x.inputs, a.inputs) && only(x.init, a.init) },
            { call: () => c.backward(x.cot), sound: () => only(x.cot, a.cot) && only((x.cot as { states?: unknown }).states, a.cot.states) && only((x.cot as { outputs?: unknown }).outputs, a.cot.outputs) },
          ];
          for (const { call, sound } of calls) {
            const e = thrown(call);
            if (e === null) {
              expect(sound()).toBe(true);
              continue;
            }
            if (!(e instanceof TypeError || e instanceof RangeError) || !ARG.test(e.message)) {
              // backward before any forward succeeded is the one state error.
              if (e.message === 'backward before forward') continue;
              throw new Error(`unclear error: ${e.constructor.name}: ${e.message}`);
            }
          }
          expect(performance.now() - t0).toBeLessThan(2000);
        }), { seed: 1717, numRuns: 300 });
      }, 120_000);
    }
  }
});
