// Which states are linear recurrences (compiler/passes/linearity.ts): each verdict
// on cells of the literature, and every verdict checked numerically through the
// interpreter — a linear state's update is affine in its previous value, a
// diagonal one moves feature i only by feature i.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { evalDim } from '../../../compiler/ir/dims.ts';
import type { Tensor } from '../../../compiler/ir/ops.ts';
import { explainLinearity, linearity } from '../../../compiler/passes/linearity.ts';
import { interpret } from '../../../runtime/interpreter.ts';
import { compileOk, example, exampleFiles } from '../../support/cells.ts';

const cell = (body: string, decls = 'input x : n\n  state h : n') => compileOk(`cell C {\n  ${decls}\n  ${body.split('\n').join('\n  ')}\n}`)[0]!;
const verdicts = (c: CompiledCell) => Object.fromEntries(linearity(c.forward).map((s) => [s.state, s.kind]));
const reason = (c: CompiledCell, state: string) => linearity(c.forward).find((s) => s.state === state)!.reason;

const CASES: Record<string, { cell: CompiledCell; want: Record<string, string>; why?: Record<string, RegExp> }> = {
  minGRU: {
    cell: cell('z = σ(W_z x^<t> + b_z)\nh̃ = W_h x^<t> + b_h\nh^<t> = (1 - z) * h^<t-1> + z * h̃'),
    want: { h: 'linear-diagonal' },
  },
  'RG-LRU-like decay': {
    cell: cell('r = σ(W_a x^<t> + b_a)\na = exp(-8 * r * softplus(Λ))\nh^<t> = a * h^<t-1> + sqrt(1 - a^2) * (W x^<t>)', 'input x : n\n  state h : n\n  param Λ : n'),
    want: { h: 'linear-diagonal' },
  },
  'a division by a coefficient': {
    cell: cell('h^<t> = (h^<t-1> + W x^<t>) / (1 + exp(U x^<t>))'),
    want: { h: 'linear-diagonal' },
  },
  'a linear dense recurrence': {
    cell: cell('h^<t> = W h^<t-1> + U x^<t>'),
    want: { h: 'linear-dense' },
    why: { h: /a matrix–vector product mixes the features of h\^<t-1>/ },
  },
  IndRNN: {
    cell: cell('h^<t> = relu(W x^<t> + u * h^<t-1> + b)'),
    want: { h: 'diagonal-jacobian' },
    why: { h: /relu of a value that depends on h\^<t-1>/ },
  },
  'a square of the state': {
    cell: cell('h^<t> = 0.5 * h^<t-1> * h^<t-1> + W x^<t>'),
    want: { h: 'diagonal-jacobian' },
    why: { h: /a product of two factors that both depend on h\^<t-1>/ },
  },
  'a division by the state': {
    cell: cell('h^<t> = W x^<t> / (2 + h^<t-1>)'),
    want: { h: 'diagonal-jacobian' },
    why: { h: /a division by a value that depends on h\^<t-1>/ },
  },
  'the RNN of the notes': {
    cell: example('rnn.celda'),
    want: { a: 'nonlinear' },
    why: { a: /tanh of a value that depends on a\^<t-1>/ },
  },
  'a linear state after a nonlinear one': {
    cell: cell('a^<t> = tanh(W a^<t-1> + U x^<t>)\nc^<t> = 0.5 * c^<t-1> + a^<t>', 'input x : n\n  state a : n\n  state c : n'),
    want: { a: 'nonlinear', c: 'linear-diagonal' },
  },
  'two states that feed each other': {
    cell: cell('p^<t> = 0.5 * q^<t-1> + x^<t>\nq^<t> = σ(W x^<t>) * p^<t-1>', 'input x : n\n  state p : n\n  state q : n'),
    want: { p: 'linear-dense', q: 'linear-dense' },
  },
};

describe('linearity verdicts', () => {
  for (const [what, c] of Object.entries(CASES)) {
    it(what, () => {
      expect(verdicts(c.cell)).toEqual(c.want);
      for (const [s, re] of Object.entries(c.why ?? {})) expect(reason(c.cell, s)?.text).toMatch(re);
    });
  }

  it('points at the source of the first node that breaks linearity', () => {
    const c = CASES.IndRNN!.cell;
    const r = reason(c, 'h')!;
    expect(r.span).not.toBeNull();
    expect(c.source.slice(r.span!.start, r.span!.end)).toMatch(/^relu\(/);
  });

  it('finds the example cells of the notes nonlinear, and an unrolled cell not recurrent', () => {
    for (const f of exampleFiles()) {
      const v = linearity(example(f).forward);
      if (f === 'rnn-unrolled.celda') expect(v.every((s) => s.kind === 'not-recurrent'), f).toBe(true);
      else expect(v.some((s) => s.kind === 'nonlinear'), f).toBe(true);
    }
  });
});

// ---------------------------------------------------------------- the verdicts, numerically

const DIMS = new Map([['n', 3]]);
const B = 2;

/** The state updates of one step as functions of the previous states (parameters and inputs fixed by a seed). */
function stepFn(c: CompiledCell, seed: number): (prev: Record<string, Float64Array>) => Record<string, Float64Array> {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const fixed = new Map<number, Tensor>();
  const g = c.forward;
  for (const n of g.nodes) {
    if (n.op !== 'param' && n.op !== 'input') continue;
    const dims = n.shape.dims.map((d) => evalDim(d, DIMS)!);
    const size = (n.shape.batch ? B : 1) * dims.reduce((a, b) => a * b, 1);
    fixed.set(n.id, { batched: n.shape.batch, dims, data: Float64Array.from({ length: size }, rand) });
  }
  return (prev) => {
    const v = interpret(g, (n) => fixed.get(n.id) ?? (n.op === 'prev' ? { batched: true, dims: [3], data: prev[n.attrs.name!]! } : undefined), DIMS, B);
    return Object.fromEntries(g.roots.filter((r) => r.role === 'state').map((r) => [r.name, Float64Array.from(v[r.id]!.data)]));
  };
}

const vec = fc.float64Array({ minLength: 6, maxLength: 6, noNaN: true, noDefaultInfinity: true, min: -2, max: 2 });

describe('the verdicts hold numerically', () => {
  for (const [what, c] of Object.entries(CASES)) {
    const states = Object.keys(c.want);
    const linear = states.filter((s) => c.want[s]!.startsWith('linear'));
    const diagonal = states.filter((s) => c.want[s] === 'linear-diagonal' || c.want[s] === 'diagonal-jacobian');
    if (linear.length === 0 && diagonal.length === 0) continue;
    it(what, () => {
      fc.assert(fc.property(fc.integer(), fc.array(vec, { minLength: states.length, maxLength: states.length }), fc.array(vec, { minLength: states.length, maxLength: states.length }), fc.double({ min: -1, max: 2, noNaN: true }), (seed, us, vs, α) => {
        const f = stepFn(c.cell, seed);
        const u = Object.fromEntries(states.map((s, i) => [s, us[i]!])), v = Object.fromEntries(states.map((s, i) => [s, vs[i]!]));
        // Only the linear states move between u and v; the others stay at u.
        const at = (w: Record<string, Float64Array>) => Object.fromEntries(states.map((s) => [s, linear.includes(s) ? w[s]! : u[s]!]));
        const mix = Object.fromEntries(states.map((s) => [s, linear.includes(s) ? u[s]!.map((x, k) => α * x + (1 - α) * v[s]![k]!) : u[s]!]));
        const [fu, fv, fm] = [f(u), f(at(v)), f(mix)];
        // Linear: f(αu + (1−α)v) = αf(u) + (1−α)f(v), for the states of a linear component (the others held at their mixture).
        for (const s of linear) fm[s]!.forEach((y, k) => expect(y).toBeCloseTo(α * fu[s]![k]! + (1 - α) * fv[s]![k]!, 8));
        // Diagonal: changing feature i of the previous state changes feature i of the update only.
        for (const s of diagonal) {
          const bumped = { ...u, [s]: u[s]!.map((x, k) => (k === 1 ? x + 0.5 : x)) };
          f(bumped)[s]!.forEach((y, k) => { if (k !== 1) expect(y).toBeCloseTo(fu[s]![k]!, 12); });
        }
      }), { seed: 1207, numRuns: 30 });
    });
  }
});

describe('explainLinearity', () => {
  it('says what each state is and why, with the place', () => {
    const lines = explainLinearity(linearity(CASES.IndRNN!.cell.forward), (s) => `c.celda@${s.start}`);
    expect(lines).toEqual([expect.stringMatching(/^h: not linear, but each feature reads only its own previous value .*: relu of a value that depends on h\^<t-1> \(W x\^⟨t⟩ \+ u \* h\^⟨t−1⟩ \+ b\) at c\.celda@\d+$/)]);
    expect(explainLinearity(linearity(CASES['two states that feed each other']!.cell.forward), () => '')).toEqual([
      'p (with q): linear, not diagonal: p^<t> = A^<t> p^<t-1> + b^<t>: the states p, q feed each other',
      'q (with p): linear, not diagonal: q^<t> = A^<t> q^<t-1> + b^<t>: the states p, q feed each other',
    ]);
  });
});
