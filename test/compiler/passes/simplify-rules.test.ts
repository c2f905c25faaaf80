// The simplifier's rule table, walked op by op and rule by rule. Every rule has
// a case: a small graph where it fires and the expression it must become. The
// rule is applied to the case's root as simplify's rebuild applies it, and must
// build exactly that expression (the Builder interns nodes, so equal
// expressions are equal ids); no earlier rule of the op may take the case first,
// so the case reaches the rule in the real loop; and before and after evaluate
// to the same values through the interpreter on random inputs, as does the
// whole simplify. A rule added without a case fails here. Also: sameGraph tells
// attributes apart, and simplify says when it hits its round cap.

import { describe, expect, it } from 'vitest';
import { dimNum, dimVar } from '../../../compiler/ir/dims.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { Builder, GraphError, verify } from '../../../compiler/ir/graph.ts';
import type { Attrs, OpName, Shape, Tensor } from '../../../compiler/ir/ops.ts';
import { OPS, algebra } from '../../../compiler/ir/ops.ts';
import type { Rule, RuleTable } from '../../../compiler/passes/simplify.ts';
import { MAX_ROUNDS, RULES, sameGraph, simplify } from '../../../compiler/passes/simplify.ts';
import { Rng } from '../../../runtime/random.ts';
import { evalRoots, randomLeaves } from '../../support/numeric.ts';

const n = dimVar('n'), m = dimVar('m');
const env = new Map([['n', 3], ['m', 2]]);
const BATCH = 2;
const bv = (d = n): Shape => ({ batch: true, dims: [d] });

/**
 * What a case is written with: the VJP algebra (`mul`, `sub`, `one`, `c(2)`, …),
 * any op by name, zeros, and the leaves: x, y per-example vectors of n; u a
 * per-example vector of m; s a scalar; W an m × n matrix.
 */
function kit(b: Builder) {
  // Object.assign onto the algebra keeps its lazy `one`.
  return Object.assign(algebra(b), {
    op: (name: OpName, ins: readonly number[], attrs: Attrs = {}) => b.node(name, ins, attrs),
    zeros: (s: Shape) => b.zeros(s),
    x: b.node('input', [], { name: 'x', shape: bv() }),
    y: b.node('input', [], { name: 'y', shape: bv() }),
    u: b.node('input', [], { name: 'u', shape: bv(m) }),
    s: b.node('param', [], { name: 's', shape: { batch: false, dims: [] } }),
    W: b.node('param', [], { name: 'W', shape: { batch: false, dims: [m, n] } }),
  });
}
type Kit = ReturnType<typeof kit>;

interface Case {
  /** A graph whose last node the rule rewrites. */
  readonly before: (k: Kit) => number;
  /** What it becomes. */
  readonly after: (k: Kit) => number;
}

/** A case per rule of each op, by the rule's name. */
const CASES: Readonly<Partial<Record<OpName, Readonly<Record<string, Case>>>>> = {
  add: {
    'x + 0 → x': { before: ({ add, x, c }) => add(x, c(0)), after: ({ x }) => x },
    '0 + x → x': { before: ({ add, x, zeros }) => add(zeros(bv()), x), after: ({ x }) => x },
    'x + (-y) → x - y': { before: ({ add, neg, x, y }) => add(x, neg(y)), after: ({ sub, x, y }) => sub(x, y) },
    'fold constants': { before: ({ add, c }) => add(c(1.5), c(0.25)), after: ({ c }) => c(1.75) },
  },
  sub: {
    'x - 0 → x': { before: ({ sub, x, zeros }) => sub(x, zeros(bv())), after: ({ x }) => x },
    '0 - x → -x': { before: ({ sub, x, c }) => sub(c(0), x), after: ({ neg, x }) => neg(x) },
    'x - (-y) → x + y': { before: ({ sub, neg, x, y }) => sub(x, neg(y)), after: ({ add, x, y }) => add(x, y) },
    'fold constants': { before: ({ sub, c }) => sub(c(1.5), c(0.25)), after: ({ c }) => c(1.25) },
  },
  mul: {
    'x * 1 → x': { before: ({ mul, one, x }) => mul(x, one), after: ({ x }) => x },
    '1 * x → x': { before: ({ mul, one, x }) => mul(one, x), after: ({ x }) => x },
    'x * 0 → 0': { before: ({ mul, c, x }) => mul(x, c(0)), after: ({ zeros }) => zeros(bv()) },
    'x * x → x²': { before: ({ mul, x }) => mul(x, x), after: ({ pow, x }) => pow(x, 2) },
    'c * (d * x) → (c·d) * x': { before: ({ mul, c, x }) => mul(c(2), mul(c(3), x)), after: ({ mul, c, x }) => mul(c(6), x) },
    'x * c → c * x': { before: ({ mul, c, x }) => mul(x, c(3)), after: ({ mul, c, x }) => mul(c(3), x) },
    'fold constants': { before: ({ mul, c }) => mul(c(1.5), c(4)), after: ({ c }) => c(6) },
  },
  div: {
    'x / 1 → x': { before: ({ div, one, x }) => div(x, one), after: ({ x }) => x },
    'fold constants': { before: ({ div, c }) => div(c(3), c(4)), after: ({ c }) => c(0.75) },
  },
  neg: {
    '-(-x) → x': { before: ({ neg, x }) => neg(neg(x)), after: ({ x }) => x },
    'fold constants': { before: ({ neg, c }) => neg(c(2)), after: ({ c }) => c(-2) },
  },
  pow: {
    'x^1 → x': { before: ({ pow, x }) => pow(x, 1), after: ({ x }) => x },
    'x^0 → 1': { before: ({ pow, s }) => pow(s, 0), after: ({ one }) => one },
    'fold constants': { before: ({ pow, c }) => pow(c(2), 3), after: ({ c }) => c(8) },
  },
  tanh: { 'fold constants': { before: ({ op, c }) => op('tanh', [c(0.5)]), after: ({ c }) => c(Math.tanh(0.5)) } },
  sigmoid: { 'fold constants': { before: ({ sigmoid, c }) => sigmoid(c(0)), after: ({ c }) => c(0.5) } },
  relu: { 'fold constants': { before: ({ op, c }) => op('relu', [c(-2)]), after: ({ c }) => c(0) } },
  exp: { 'fold constants': { before: ({ op, c }) => op('exp', [c(0)]), after: ({ one }) => one } },
  log: { 'fold constants': { before: ({ op, one }) => op('log', [one]), after: ({ c }) => c(0) } },
  sqrt: { 'fold constants': { before: ({ op, c }) => op('sqrt', [c(2.25)]), after: ({ c }) => c(1.5) } },
  abs: { 'fold constants': { before: ({ op, c }) => op('abs', [c(-3)]), after: ({ c }) => c(3) } },
  softplus: { 'fold constants': { before: ({ op, c }) => op('softplus', [c(0)]), after: ({ c }) => c(Math.LN2) } },
  step: { 'fold constants': { before: ({ step, c }) => step(c(0.5)), after: ({ one }) => one } },
  sign: { 'fold constants': { before: ({ sign, c }) => sign(c(-3)), after: ({ c }) => c(-1) } },
  max: { 'fold constants': { before: ({ op, c }) => op('max', [c(-1), c(2)]), after: ({ c }) => c(2) } },
  min: { 'fold constants': { before: ({ op, c }) => op('min', [c(-1), c(2)]), after: ({ c }) => c(-1) } },
  ge: { 'fold constants': { before: ({ op, c }) => op('ge', [c(2), c(2)]), after: ({ c }) => c(1) } },
  gt: { 'fold constants': { before: ({ op, c }) => op('gt', [c(2), c(2)]), after: ({ c }) => c(0) } },
  select: {
    'select(1, x, y) → x': { before: ({ op, c, x, y }) => op('select', [c(1), x, y]), after: ({ x }) => x },
    'select(0, x, y) → y': { before: ({ op, c, x, y }) => op('select', [c(0), x, y]), after: ({ y }) => y },
    'select(m, x, x) → x': { before: ({ op, x, y }) => op('select', [op('ge', [x, y]), x, x]), after: ({ x }) => x },
    'fold constants': { before: ({ op, c }) => op('select', [c(1), c(2), c(3)]), after: ({ c }) => c(2) },
  },
  stopgrad: { 'fold constants': { before: ({ op, c }) => op('stopgrad', [c(0.5)]), after: ({ c }) => c(0.5) } },
  power: { 'fold constants': { before: ({ op, c }) => op('power', [c(4), c(0.5)]), after: ({ c }) => c(2) } },
  transpose: {
    '(xᵀ)ᵀ → x': { before: ({ transpose, W }) => transpose(transpose(W)), after: ({ W }) => W },
  },
  bcast: {
    'bcast to the same shape → x': { before: ({ bcast, x }) => bcast(x, bv()), after: ({ x }) => x },
  },
  slice: {
    'slice of a concat → the operand': { before: ({ op, slice, x, u }) => slice(op('concat', [x, u]), n, m), after: ({ u }) => u },
  },
};

/** The case's graph, its root the last node. */
function beforeGraph(c: Case): Graph {
  const b = new Builder();
  const id = c.before(kit(b));
  return b.finish([{ name: 'out', role: 'output', id }]);
}

/** One rule applied to the last node of g, in a builder holding the nodes before it: as simplify's rebuild applies it. */
function applyRule(g: Graph, rule: Rule): { b: Builder; out: number | undefined } {
  const b = new Builder();
  const last = g.nodes[g.nodes.length - 1]!;
  for (const nd of g.nodes.slice(0, -1)) b.node(nd.op, nd.inputs, nd.attrs);
  expect(b.nodes.length).toBe(g.nodes.length - 1); // the same ids
  return { b, out: rule.apply(last.inputs, last, b) };
}

/** Values of g's root and of `other` on the same random leaves, for a few seeds. */
function expectSameValues(g: Graph, other: Graph) {
  for (const seed of [1, 2, 3]) {
    const leaves = randomLeaves(g, env, BATCH, new Rng(seed));
    const [want] = evalRoots(g, leaves, env, BATCH) as [Tensor];
    const [got] = evalRoots(other, leaves, env, BATCH) as [Tensor];
    expect({ batched: got.batched, dims: got.dims }).toEqual({ batched: want.batched, dims: want.dims });
    expect(got.data.length).toBe(want.data.length);
    want.data.forEach((w, i) => expect(Math.abs(got.data[i]! - w)).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(w))));
  }
}

const ruleList = Object.entries(RULES) as [OpName, readonly Rule[]][];

describe('every simplifier rule, on a case where it fires', () => {
  for (const [op, rules] of ruleList) {
    describe(op, () => {
      rules.forEach((rule, i) => {
        it(rule.name, () => {
          const c = CASES[op]?.[rule.name];
          if (!c) return expect.fail(`no case for the ${op} rule '${rule.name}': add one to CASES`);
          const g = beforeGraph(c);
          expect(verify(g)).toEqual([]);
          expect(g.nodes[g.roots[0]!.id]!.op).toBe(op);
          expect(g.roots[0]!.id).toBe(g.nodes.length - 1);

          // It fires, and builds exactly the expected expression.
          const { b, out } = applyRule(g, rule);
          expect(out, 'the rule did not fire').toBeDefined();
          expect(out).toBe(c.after(kit(b)));

          // No earlier rule of the op takes the case first.
          for (const earlier of rules.slice(0, i)) expect(applyRule(g, earlier).out, `'${earlier.name}' fires first`).toBeUndefined();

          // Before and after compute the same values, and so does the whole simplify.
          const after = b.finish([{ name: 'out', role: 'output', id: out! }]);
          expect(verify(after)).toEqual([]);
          expectSameValues(g, after);
          const simple = simplify(g);
          expect(verify(simple)).toEqual([]);
          expectSameValues(g, simple);
        });
      });
    });
  }

  it('no case names a rule that does not exist', () => {
    const named = new Set(ruleList.flatMap(([op, rules]) => rules.map((r) => `${op}: ${r.name}`)));
    const cases = Object.entries(CASES).flatMap(([op, byName]) => Object.keys(byName!).map((name) => `${op}: ${name}`));
    expect(cases.filter((c) => !named.has(c))).toEqual([]);
  });

  it('rule names are unique per op; every elementwise op, and only those, ends with constant folding', () => {
    for (const [, rules] of ruleList) expect(new Set(rules.map((r) => r.name)).size).toBe(rules.length);
    for (const op of Object.keys(OPS) as OpName[]) {
      const names = (RULES[op] ?? []).map((r) => r.name);
      if (OPS[op].kind === 'elementwise') expect(names.at(-1), op).toBe('fold constants');
      else expect(names, op).not.toContain('fold constants');
    }
  });
});

describe('rules that must not fire', () => {
  const fires = (c: (k: Kit) => number) => {
    const g = beforeGraph({ before: c, after: () => -1 });
    const last = g.nodes[g.nodes.length - 1]!;
    return (RULES[last.op] ?? []).filter((r) => applyRule(g, r).out !== undefined).map((r) => r.name);
  };
  it('an identity that would lose a broadcast axis', () => {
    expect(fires(({ add, s, zeros }) => add(s, zeros(bv())))).toEqual([]);
    expect(fires(({ add, s, zeros }) => add(zeros(bv()), s))).toEqual([]);
    expect(fires(({ sub, s, zeros }) => sub(s, zeros(bv())))).toEqual([]);
    expect(fires(({ sub, s, zeros }) => sub(zeros(bv()), s))).toEqual([]);
  });
  it('a fold to a value that is not finite', () => {
    expect(fires(({ op, c }) => op('log', [c(0)]))).toEqual([]);
    expect(fires(({ div, one, c }) => div(one, c(0)))).toEqual([]);
  });
  it('a slice that is not one operand of the concat', () => {
    expect(fires(({ op, slice, x, u }) => slice(op('concat', [x, u]), dimNum(1), m))).toEqual([]);
  });
});

// ---------------------------------------------------------------- the fixed-point loop

describe('sameGraph, which tells simplify it has reached a fixed point', () => {
  const graph = (attrs: Attrs) => {
    const b = new Builder();
    const x = b.node('input', [], { name: 'x', shape: bv() });
    return b.finish([{ name: 'out', role: 'output', id: b.node('pow', [x], attrs) }]);
  };
  it('tells apart graphs whose nodes differ only in attributes', () => {
    const [square, cube] = [graph({ p: 2 }), graph({ p: 3 })];
    // Same ops, same inputs, same roots: only the attribute p differs.
    expect(square.nodes.map((x) => [x.op, x.inputs])).toEqual(cube.nodes.map((x) => [x.op, x.inputs]));
    expect(square.roots).toEqual(cube.roots);
    expect(sameGraph(square, cube)).toBe(false);
    expect(sameGraph(square, graph({ p: 2 }))).toBe(true);
  });
});

describe('the round cap', () => {
  /** One rewrite per round, changing only an attribute: x^p → x^(p−1), down to x^1. */
  const countdown: RuleTable = { pow: [{ name: 'x^p → x^(p-1)', apply: ([x], nd, b) => (nd.attrs.p! > 1 ? b.node('pow', [x], { p: nd.attrs.p! - 1 }) : undefined) }] };
  const powGraph = (p: number) => {
    const b = new Builder();
    const { pow, x } = kit(b);
    return b.finish([{ name: 'out', role: 'output', id: pow(x, p) }]);
  };
  const exponent = (g: Graph) => g.nodes[g.roots[0]!.id]!.attrs.p;

  it('rounds that change only attributes are rounds that change the graph', () => {
    // A loop blind to attributes would stop after the first round, at x^4.
    expect(exponent(simplify(powGraph(5), countdown))).toBe(1);
  });

  it(`a rule set that settles within ${MAX_ROUNDS} rounds is not stopped`, () => {
    // MAX_ROUNDS − 1 rounds that change the graph, then one that finds the fixed point.
    expect(exponent(simplify(powGraph(MAX_ROUNDS), countdown))).toBe(1);
  });

  it('one that does not is an internal error that names the rules that kept firing', () => {
    expect(() => simplify(powGraph(MAX_ROUNDS + 1), countdown)).toThrow(GraphError);
    expect(() => simplify(powGraph(MAX_ROUNDS + 1), countdown)).toThrow(`simplify found no fixed point in ${MAX_ROUNDS} rounds; the last round applied x^p → x^(p-1)`);
    const b = new Builder();
    const { add, x, y } = kit(b);
    const g = b.finish([{ name: 'out', role: 'output', id: add(x, y) }]);
    const swap: RuleTable = { add: [{ name: 'x + y → y + x', apply: ([p, q], _n, nb) => nb.node('add', [q, p]) }] };
    expect(() => simplify(g, swap)).toThrow(`simplify found no fixed point in ${MAX_ROUNDS} rounds; the last round applied x + y → y + x`);
  });
});
