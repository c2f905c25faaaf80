// The `celda eval` contract under hostile input (issue 17): every mistake is an
// InputError about the input (or a LimitError naming the memory), with a
// did-you-mean for a mistyped key; non-finite results are reported, not hidden;
// random JSON, deep and wide, either runs or is refused that way, promptly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gpujsSyncBackend } from '../../runtime/backends/gpujs.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { evaluate, InputError } from '../../runtime/eval-json.ts';
import { LimitError, printable } from '../../runtime/limits.ts';
import { compileOk, example } from '../support/cells.ts';

const rnn = example('rnn.celda');
const x = [[[1, 2]], [[0, 1]]];
const dims = { n_a: 2, n_y: 2 };
const run = (inputs: unknown, params?: unknown) => () => evaluate(rnn, { inputs, params });

describe('eval refuses what it would have ignored or crashed on', () => {
  it('refuses unknown top-level keys of the inputs file, with a did-you-mean', () => {
    expect(run({ dims, inputs: { x }, cotangent: {} })).toThrow(new InputError('inputs: unknown key `cotangent` (the keys are inputs, dims, steps, batch, init, cotangents); did you mean `cotangents`?'));
    expect(run({ dims, inputs: { x }, Init: {} })).toThrow(/unknown key `Init` .*; did you mean `init`\?$/);
    expect(run({ dims, inputs: { x }, weights: {} })).toThrow(/^inputs: unknown key `weights` \(the keys are [a-z, ]+\)$/);
  });

  it('refuses parameters the cell does not have, with a did-you-mean', () => {
    const params = { W_aa: [[0.5, 0], [0, 0.5]], W_ax: [[1, 0], [0, 1]], b_a: [0, 0], W_ya: [[1, 0], [0, 1]], by: [0, 0] };
    expect(run({ inputs: { x } }, params)).toThrow(new InputError('params.by: the cell has no parameter `by` (parameters: W_aa, W_ax, b_a, W_ya, b_y); did you mean `b_y`?'));
  });

  it('refuses unknown, zero and non-numeric dimensions', () => {
    expect(run({ dims: { n_A: 2, n_y: 2 }, inputs: { x } })).toThrow(new InputError('inputs.dims.n_A: the cell has no dimension `n_A` (dimensions: n_x, n_a, n_y); did you mean `n_a`?'));
    expect(run({ dims: { n_a: 0, n_y: 2 }, inputs: { x } })).toThrow(new InputError('inputs.dims.n_a: expected a whole number ≥ 1, got 0'));
    expect(run({ dims: { n_a: '3', n_y: 2 }, inputs: { x } })).toThrow(new InputError('inputs.dims.n_a: expected a whole number ≥ 1, got "3"'));
    expect(run({ dims: { n_a: 2.5, n_y: 2 }, inputs: { x } })).toThrow(InputError);
    // a zero size read from an empty array
    expect(run({ dims, inputs: { x: [[[]]] } })).toThrow(new InputError('dimension n_x would be 0 (read from inputs.inputs.x): every dimension is at least 1'));
    expect(run({ inputs: { x } }, { W_aa: [[]], W_ax: [[]], b_a: [], W_ya: [[]], b_y: [] })).toThrow(InputError);
  });

  it('refuses steps and batch that are not whole numbers instead of ignoring them', () => {
    expect(run({ dims, steps: '2', inputs: { x } })).toThrow(new InputError('inputs.steps: expected a whole number ≥ 1, got "2"'));
    expect(run({ dims, batch: [1], inputs: { x } })).toThrow(new InputError('inputs.batch: expected a whole number ≥ 1, got an array of 1'));
  });

  it('refuses an initial state whose batch differs from the inputs\'', () => {
    const init = { a: [[1, 2], [1, 2], [1, 2], [1, 2]] };
    expect(run({ dims, inputs: { x: [[[1, 2], [3, 4]]] }, init })).toThrow(new InputError('inputs.init.a: a batch of 4, but the inputs have a batch of 2'));
    expect(run({ dims, batch: 2, init })).toThrow(InputError);
    expect(run({ dims, inputs: { x: [[[1, 2], [3, 4]]] }, init: { a: [[1, 2], [0, 0]] } })).not.toThrow();
  });

  it('escapes control and line-separator characters of keys it echoes', () => {
    expect(printable('a\nb\u2028c\u001b\u202e')).toBe('a\\u000ab\\u2028c\\u001b\\u202e');
    expect(run({ dims, inputs: { x, 'y\nerror: forged': x } })).toThrow(new InputError('inputs.inputs.y\\u000aerror: forged: the cell has no input `y\\u000aerror: forged` (inputs: x)'));
    expect(run({ dims, inputs: { x }, 'k\u2029': 1 })).toThrow(/^inputs: unknown key `k\\u2029`/);
  });
});

describe('eval reports non-finite results', () => {
  const log = compileOk('cell L {\n  input x : n\n  state a : n\n  a^<t> = a^<t-1> + log(x^<t>)\n}\n')[0]!;
  const sq = compileOk('cell S {\n  input x : n\n  state a : n\n  a^<t> = sqrt(x^<t>)\n}\n')[0]!;

  it('names the first non-finite state, its step, row and equation', () => {
    const r = evaluate(log, { inputs: { batch: 2, inputs: { x: [[[1, 2], [1, 1]], [[1, 2], [1, 0]], [[-1, 2], [1, 1]]] } } });
    expect(r.nonfinite).toBe('states.a[1][1][1] is -Infinity (the first non-finite value: state `a` at step 2, batch row 1; its equation, line 4: a^<t> = a^<t-1> + log(x^<t>))');
    expect(evaluate(log, { inputs: { inputs: { x: [[[1, 2]]] } } }).nonfinite).toBeUndefined();
  });

  it('names a non-finite gradient when the forward values are finite', () => {
    const r = evaluate(sq, { inputs: { inputs: { x: [[[4, 0]]] }, cotangents: { a: [[[1, 1]]] } } });
    expect((r.result.states as { a: number[][][] }).a[0]![0]).toEqual([2, 0]);
    expect(r.nonfinite).toBe('grads.inputs.x[0][0][1] is Infinity (the first non-finite value: the gradient of input `x` at step 1; the states and outputs are finite)');
  });
});

describe('the gpu.js backend reads initial states by their own key', () => {
  it('does not take Object.prototype.toString for the initial value of a state named toString', () => {
    const cell = compileOk('cell T {\n  input x : n\n  state toString : n\n  toString^<t> = tanh(toString^<t-1> + x^<t>)\n}\n')[0]!;
    const b = gpujsSyncBackend(cell, { dims: { n: 2 }, batch: 1, mode: 'cpu' });
    const inputs = { x: Float32Array.of(0.5, -0.5) };
    const plain = b.forward(1, {}, inputs, {});
    const none = b.forward(1, {}, inputs);
    const state = (r: typeof plain) => [...new Map(Object.entries(r.states)).get('toString')!];
    expect(state(plain)).toEqual(state(none));
    expect(state(plain)[0]).toBeCloseTo(Math.tanh(0.5), 6);
  }, 60_000);

  it('refuses a dimension below 1, as every command does', () => {
    expect(() => gpujsSyncBackend(rnn, { dims: { n_x: 2, n_a: 0, n_y: 2 }, batch: 1, mode: 'cpu' })).toThrow('dimension n_a must be a whole number ≥ 1, not 0');
  });
});

describe('random JSON, deep and wide', () => {
  /** A value of the contract's vocabulary: numbers, nested arrays, the cell's names and the file's keys. */
  const names = fc.constantFrom('x', 'a', 'y_hat', 'n_x', 'n_a', 'n_y', 'W_aa', 'W_ax', 'b_a', 'W_ya', 'b_y', 'inputs', 'dims', 'steps', 'batch', 'init', 'cotangents', 'toString', '__proto__', 'constructor', 'x\u2028', '');
  const num = fc.oneof(fc.integer({ min: -3, max: 40 }), fc.double(), fc.constantFrom(0, 1, 2, 1e9, -1, 1e300, 2 ** 53));
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, num, fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.oneof(fc.array(tie('value'), { maxLength: 6 }), fc.array(fc.array(fc.array(num, { maxLength: 4 }), { maxLength: 3 }), { maxLength: 4 })),
    object: fc.dictionary(names, tie('value'), { maxKeys: 6 }),
  }));
  /** Requests that get past the first checks: the right keys, shapes nearly right. */
  const row = (n: number) => fc.array(num, { minLength: n, maxLength: n });
  const seq = fc.integer({ min: 1, max: 3 }).chain((T) => fc.integer({ min: 1, max: 2 }).chain((B) => fc.array(fc.array(row(2), { minLength: B, maxLength: B }), { minLength: T, maxLength: T })));
  const near = fc.record({
    dims: fc.oneof(fc.constant(dims), fc.dictionary(names, value, { maxKeys: 3 })),
    inputs: fc.oneof(fc.record({ x: seq }), fc.dictionary(names, value, { maxKeys: 2 })),
    init: fc.oneof(fc.record({ a: fc.array(row(2), { minLength: 1, maxLength: 3 }) }), value),
    cotangents: fc.oneof(fc.record({ a: seq }), fc.record({ y_hat: seq }), value),
    steps: fc.oneof(fc.integer({ min: -1, max: 4 }), value),
  }, { requiredKeys: ['inputs'] });
  const params = fc.oneof(fc.constant(undefined), value, fc.dictionary(names, value, { maxKeys: 6 }));

  /** Runs or refuses clearly, within the time bound. */
  const evaluatesOrRefuses = (inputs: unknown, p: unknown): void => {
    const t0 = performance.now();
    try {
      evaluate(rnn, { inputs, params: p }, { maxBytes: 64 * 1024 ** 2 });
    } catch (e) {
      if (!(e instanceof InputError || e instanceof LimitError)) throw e;
      expect(e.message).not.toMatch(/[\n\u2028\u2029]/);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  };

  it('any JSON value as inputs and params', () => {
    fc.assert(fc.property(value, params, evaluatesOrRefuses), { seed: 1701, numRuns: 600 });
  }, 120_000);

  it('requests shaped like the contract, with random parts', () => {
    fc.assert(fc.property(near, params, evaluatesOrRefuses), { seed: 1702, numRuns: 600 });
  }, 120_000);

  it('deep nesting and wide arrays anywhere', () => {
    const deep = fc.integer({ min: 5, max: 200 }).map((d) => { let v: unknown = 1; for (let i = 0; i < d; i++) v = [v, v]; return v; });
    const wide = fc.integer({ min: 1000, max: 100_000 }).map((n) => Array.from({ length: n }, (_, i) => i % 7));
    const big = fc.oneof(deep, wide);
    fc.assert(fc.property(big, names, fc.constantFrom('inputs', 'init', 'cotangents', 'dims', 'params'), (v, k, where) => {
      if (where === 'params') evaluatesOrRefuses({ dims, inputs: { x } }, { [k]: v });
      else evaluatesOrRefuses({ dims, inputs: { x }, [where]: where === 'inputs' ? { x: v } : { [k]: v } }, undefined);
    }), { seed: 1703, numRuns: 150 });
  }, 120_000);
});

describe('one rule for dimensions on every backend', () => {
  it('the interpreter, the generated module and the js backend refuse a dimension below 1 alike', () => {
    const cell = example('rnn.celda');
    for (const b of [interpBackend, jsBackend]) {
      expect(() => b(cell, { dims: { n_x: 2, n_a: 0, n_y: 2 }, batch: 1 })).toThrow('dims.n_a must be a whole number ≥ 1, got 0');
      expect(() => b(cell, { dims: { n_x: 2, n_a: 1.5, n_y: 2 }, batch: 1 })).toThrow('dims.n_a must be a whole number ≥ 1, got 1.5');
    }
  });
});
