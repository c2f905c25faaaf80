// The `celda eval` JSON contract (docs/eval-json.md), through runtime/eval-json.ts.
import { describe, expect, it } from 'vitest';
import { InputError, evaluate } from '../../runtime/eval-json.ts';
import { LimitError, parseBytes } from '../../runtime/limits.ts';
import { compileOk, example } from '../support/cells.ts';

const rnn = example('rnn.celda');
const x = [[[1, 2]], [[0, 1]], [[0.5, -0.5]]];

describe('eval contract', () => {
  it('reads dimensions from parameter shapes when dims are not given', () => {
    const params = { W_aa: [[0.5]], W_ax: [[1, -1]], b_a: [0.1], W_ya: [[1], [-1]], b_y: [0, 0] };
    const { result } = evaluate(rnn, { params, inputs: { inputs: { x } } });
    const a = result.states as { a: number[][][] };
    expect(a.a.length).toBe(3);
    expect(a.a[0]![0]![0]).toBeCloseTo(Math.tanh(1 - 2 + 0.1), 15);
    expect(a.a[1]![0]![0]).toBeCloseTo(Math.tanh(0.5 * Math.tanh(-0.9) - 1 + 0.1), 15);
  });

  it('uses a given initial state and returns its gradient', () => {
    const params = { W_aa: [[0.5]], W_ax: [[1, -1]], b_a: [0.1], W_ya: [[1]], b_y: [0] };
    const { result } = evaluate(rnn, { params, inputs: { inputs: { x: [[[0, 0]]] }, init: { a: [[2]] }, cotangents: { a: [[[1]]] } } });
    const s = (result.states as { a: number[][][] }).a[0]![0]![0]!;
    expect(s).toBeCloseTo(Math.tanh(1.1), 15);
    const g = result.grads as { init: { a: number[][] } };
    expect(g.init.a[0]![0]).toBeCloseTo(0.5 * (1 - s * s), 15);
  });

  it('accepts W_aa for the notes\' w_aa and answers under the same key', () => {
    const notes = compileOk('cell N {\n input x : n_x\n state a : n_a\n a^<t> = tanh(w_{aa}a^{<t-1>} + w_{ax}x^{<t>} + b_a)\n}')[0]!;
    const params = { W_aa: [[0.5]], W_ax: [[1, -1]], b_a: [0.1] };
    const { result } = evaluate(notes, { params, inputs: { inputs: { x }, cotangents: { a: [[[1]], [[1]], [[1]]] } } });
    expect(Object.keys((result.grads as { params: object }).params).sort()).toEqual(['W_aa', 'W_ax', 'b_a']);
  });

  it('refuses arrays nested deeper than any value, wherever they are, without visiting them twice a level', () => {
    // 30 levels: visiting the first child twice a level (as it once did) is 2³⁰ visits.
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = [deep];
    const params = { W_aa: [[0.5]], W_ax: [[1, -1]], b_a: [0.1], W_ya: [[1]], b_y: [0] };
    const run = (inputs: unknown, p: unknown = params) => () => evaluate(rnn, { params: p, inputs });
    const msg = 'arrays nested more than 4 deep; no value of a cell has more than 4 levels ([T][B][rows][cols])';
    expect(run({ inputs: { x: deep } })).toThrow(`inputs.inputs.x[0][0][0][0]: ${msg}`);
    expect(run({ inputs: { x } }, { ...params, W_aa: deep })).toThrow(`params.W_aa[0][0][0][0]: ${msg}`);
    expect(run({ inputs: { x }, init: { a: deep } })).toThrow(`inputs.init.a[0][0][0][0]: ${msg}`);
    expect(run({ inputs: { x }, cotangents: { a: deep } })).toThrow(`inputs.cotangents.a[0][0][0][0]: ${msg}`);
  });

  it('refuses a run that would need more memory than the limit, before allocating, naming figure and limit', () => {
    // A cell without inputs: nothing in the request bounds the steps but the steps themselves.
    const free = compileOk('cell F {\n state a : n\n a^<t> = tanh(W a^<t-1> + b)\n}')[0]!;
    const run = (inputs: unknown, maxBytes?: number) => () => evaluate(free, { inputs }, { maxBytes });
    expect(run({ steps: 1_000_000_000, dims: { n: 4 } })).toThrow(LimitError);
    expect(run({ steps: 1_000_000_000, dims: { n: 4 } })).toThrow(/^evaluating F over 1000000000 steps of 1 example \(n = 4\) needs about [\d.]+ GiB, more than the limit of 4\.0 GiB; raise it with --max-memory SIZE \(or CELDA_MAX_MEMORY\), e\.g\. --max-memory \d+G$/);
    expect(run({ steps: 2, batch: 3, dims: { n: 100_000 } })).toThrow(/\(n = 100000\) needs about \d+\.\d GiB/);
    expect(run({ steps: 3, dims: { n: 4 } }, 1024)).toThrow(/more than the limit of 1 KiB/);
    expect(run({ steps: 3, dims: { n: 4 } })).not.toThrow();
    expect(parseBytes('512M')).toBe(512 * 1024 ** 2);
    expect(parseBytes('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseBytes('4GiB')).toBe(4 * 1024 ** 3);
    expect(parseBytes('lots')).toBeNull();
  });

  it('refuses what it cannot use, saying where', () => {
    const params = { W_aa: [[0.5]], W_ax: [[1, -1]], b_a: [0.1], W_ya: [[1]], b_y: [0] };
    const bad = (inputs: unknown, p: unknown = params) => () => evaluate(rnn, { params: p, inputs });
    expect(bad({ inputs: { x }, cotangents: { q: [] } })).toThrow(/inputs\.cotangents\.q: the cell has no state or output `q`/);
    expect(bad({ inputs: { x }, cotangents: { a: [[[1]]] } })).toThrow(/inputs\.cotangents\.a: expected shape \[3, 1, 1\], got \[1, 1, 1\]/);
    expect(bad({ inputs: { x }, init: { h: [[0]] } })).toThrow(/inputs\.init\.h: the cell has no state `h`/);
    expect(bad({ inputs: { x: [[[1, 2, 3]]] } })).toThrow(InputError);
    expect(bad({ inputs: { x } }, { ...params, W_aa: [0.5] })).toThrow(/params\.W_aa: expected a matrix/);
    expect(bad({ inputs: { x } }, { W_aa: [[0.5]] })).toThrow(/params: missing `W_ax`/);
    expect(bad({ inputs: { x: [[[1, NaN]]] } })).toThrow(InputError);
    expect(bad({ dims: { n_a: 2 }, inputs: { x } })).toThrow(/params\.W_aa axis 0 has size 1, but the cell needs n_a = 2/);
  });

  it('holds an unrolled cell to its number of steps', () => {
    const rnn5 = example('rnn-unrolled.celda');
    expect(() => evaluate(rnn5, { inputs: { dims: { n_x: 2, n_a: 2, n_y: 1 }, inputs: { x } } })).toThrow(/unrolled over 5 steps, got 3/);
  });

  it('asks for dimensions it cannot find', () => {
    expect(() => evaluate(rnn, { inputs: { inputs: { x } } })).toThrow(/unbound dimensions? .*n_a.*: give/);
  });
});

describe('names that are also JavaScript object members', () => {
  it('treats `constructor`, `toString` and `valueOf` as plain parameters', () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const cell = compileOk(`cell C {\n  input x : n\n  state h : n\n  h^<t> = tanh(${name} h^<t-1> + x^<t>)\n}`)[0]!;
      const { result } = evaluate(cell, { params: { [name]: [[0.5]] }, inputs: { inputs: { x: [[[1]]] }, cotangents: { h: [[[1]]] } } });
      expect((result.states as { h: number[][][] }).h[0]![0]![0]).toBeCloseTo(Math.tanh(1), 15);
      expect(Object.keys((result.grads as { params: object }).params)).toEqual([name]);
    }
  });
});

describe('scalars per example and scalar parameters', () => {
  // m is a scalar state, b a scalar parameter: m^<t> = max(0.5 m^<t-1> + wᵀx^<t>, b).
  const cell = compileOk('cell S {\n input x : n\n state m : 1\n m^<t> = max(0.5 * m^<t-1> + w^T x^<t>, b)\n}')[0]!;
  const params = { w: [1, -1], b: -10 };
  const x = [[[1, 2], [3, 1]], [[0, 1], [1, 1]]];

  it('a scalar state is a bare number per example: [T][B] over the run, [B] for its initial value; a scalar parameter a number; gradients likewise', () => {
    const { result } = evaluate(cell, { params, inputs: { inputs: { x }, init: { m: [4, -2] }, cotangents: { m: [[1, 0], [0, 1]] } } });
    const m = (result.states as { m: number[][] }).m;
    expect(m).toEqual([[0.5 * 4 - 1, 0.5 * -2 + 2], [0.5 * 1 - 1, 0.5 * 1 + 0]]);
    const g = result.grads as { params: { w: number[]; b: number }; init: { m: number[] } };
    // ∂m¹₀ and ∂m²₁: m²₁ = 0.5 m¹₁ + … = 0.25 m⁰₁ + …; m¹₀ = 0.5 m⁰₀ + ….
    expect(g.init.m).toEqual([0.5, 0.25]);
    expect(typeof g.params.b).toBe('number');
    expect(g.params.b).toBe(0);
    // w: x¹₀ for example 0 at step 1, then 0.5 x¹₁ + x²₁ for example 1.
    expect(g.params.w).toEqual([1 + 0.5 * 3 + 1, 2 + 0.5 * 1 + 1]);
  });

  it('a round trip: the states it returns, given back as the initial state, continue the run', () => {
    const full = evaluate(cell, { params, inputs: { inputs: { x }, init: { m: [4, -2] } } }).result.states as { m: number[][] };
    const half = evaluate(cell, { params, inputs: { inputs: { x: [x[1]!] }, init: { m: full.m[0]! } } }).result.states as { m: number[][] };
    expect(half.m[0]).toEqual(full.m[1]);
  });

  it('refuses a scalar state given as vectors, saying what it is', () => {
    expect(() => evaluate(cell, { params, inputs: { inputs: { x }, init: { m: [[4], [-2]] } } })).toThrow(/inputs\.init\.m: expected \[B\], a number per example \(`m` is a scalar state\), got an array of depth 2/);
    expect(() => evaluate(cell, { params, inputs: { inputs: { x }, cotangents: { m: [[[1], [0]], [[0], [1]]] } } })).toThrow(/inputs\.cotangents\.m: expected shape \[2, 2\], got \[2, 2, 1\]/);
  });
});
