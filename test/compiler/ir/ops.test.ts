// The op table, walked entry by entry: each primitive's float64 evaluation
// against Math.* or hand-computed values (and the stable forms at ±large
// inputs), and each VJP rule against fourth-order central differences, with the
// broadcasting cases the notation produces (scalar ↔ vector, unbatched ↔ batched).

import { describe, expect, it } from 'vitest';
import type { Dim } from '../../../compiler/ir/dims.ts';
import { dimAdd, dimNum, dimVar, evalDim } from '../../../compiler/ir/dims.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { Builder, nodeKey, verify } from '../../../compiler/ir/graph.ts';
import type { Attrs, OpName, Shape, Tensor } from '../../../compiler/ir/ops.ts';
import { OPS, algebra, shapeEq, stableSigmoid, stableSoftplus } from '../../../compiler/ir/ops.ts';
import { interpret } from '../../../runtime/interpreter.ts';
import { Rng } from '../../../runtime/random.ts';
import type { Domain } from '../../support/numeric.ts';
import { checkGraphGrad, describeMismatches, randomTensor } from '../../support/numeric.ts';
import { grad } from '../../../compiler/passes/grad.ts';

// ---------------------------------------------------------------- shapes used below

const n = dimVar('n'), m = dimVar('m'), k = dimVar('k'), one = dimVar('one');
const env = new Map([['n', 3], ['m', 2], ['k', 4], ['one', 1]]);
const BATCH = 3;

const bv = (d: Dim = n): Shape => ({ batch: true, dims: [d] }); // a vector per example
const uv = (d: Dim = n): Shape => ({ batch: false, dims: [d] }); // a vector (a parameter)
const bs: Shape = { batch: true, dims: [] }; // a scalar per example
const us: Shape = { batch: false, dims: [] }; // a scalar
const mat = (a: Dim = m, b: Dim = n): Shape => ({ batch: false, dims: [a, b] });
const bmat = (a: Dim = m, b: Dim = n): Shape => ({ batch: true, dims: [a, b] }); // a matrix per example

type LeafName = 'param' | 'input' | 'prev' | 'cot' | 'const' | 'zeros';
type Computed = Exclude<OpName, LeafName>;

interface Operand { readonly shape: Shape; readonly domain?: Domain }
interface OpCase {
  readonly ins: readonly Operand[];
  readonly attrs?: Attrs;
  /** Which operand feeds each input of the op (default: one each, in order); repeats test accumulation. */
  readonly use?: readonly number[];
  /** The op stops the gradient on purpose (stop-gradient): its VJP is zero, not the derivative. */
  readonly stops?: true;
}

const o = (shape: Shape, domain?: Domain): Operand => (domain ? { shape, domain } : { shape });
const unaryShapes = [bv(), uv(), bs, us, mat()];
const unary = (domain?: Domain): OpCase[] => unaryShapes.map((s) => ({ ins: [o(s, domain)] }));
const binaryShapes: [Shape, Shape][] = [[bv(), bv()], [bv(), uv()], [uv(), bv()], [bv(), us], [us, bv()], [bv(), bs], [bs, bv()], [uv(), uv()], [uv(), us], [us, uv()], [us, us], [bs, us], [bs, bs], [mat(), mat()], [mat(), us]];
const binary = (right?: Domain): OpCase[] => [
  ...binaryShapes.map(([a, b]) => ({ ins: [o(a), o(b, right)] })),
  { ins: [o(bv(), 'awayFromZero')], use: [0, 0] }, // x ∘ x: both contributions accumulate
];

/**
 * VJP cases per op. `satisfies` makes a missing op a type error; the first test
 * below makes it a failing test too.
 */
const CASES = {
  add: binary(), sub: binary(), mul: binary(), div: binary('awayFromZero'), max: binary(), min: binary(),
  // x^y with a tensor exponent: a positive base (log x in ∂y), any exponent; x^x accumulates both.
  power: [...binaryShapes.map(([a, b]) => ({ ins: [o(a, 'positive'), o(b)] })), { ins: [o(bv(), 'positive')], use: [0, 0] }],
  stopgrad: unary().map((c) => ({ ...c, stops: true as const })),
  // Comparisons are piecewise constant: no gradient, on purpose.
  ge: binary().map((c) => ({ ...c, stops: true as const })), gt: binary().map((c) => ({ ...c, stops: true as const })),
  select: ([[bv(), bv(), bv()], [bv(), uv(), us], [us, bv(), bv()], [bs, bv(), us], [uv(), us, bs], [mat(), mat(), us]] as const).map(([a, b, c]) => ({ ins: [o(a, 'awayFromZero'), o(b), o(c)] })),
  neg: unary(),
  pow: [2, 3, -1, 0.5, 1.5, 0, 1].flatMap((p) => unaryShapes.slice(0, 4).map((s) => ({ ins: [o(s, p === 2 || p === 3 ? 'any' : 'positive')], attrs: { p } }))),
  tanh: unary(), sigmoid: unary(), exp: unary(), softplus: unary(),
  relu: unary('awayFromZero'), abs: unary('awayFromZero'), step: unary('awayFromZero'), sign: unary('awayFromZero'),
  log: unary('positive'), sqrt: unary('positive'),
  softmax: [{ ins: [o(bv())] }, { ins: [o(uv(k))] }, { ins: [o(bv(one))] }],
  sum_feat: [{ ins: [o(bv())] }, { ins: [o(uv())] }, { ins: [o(mat())] }, { ins: [o(bs)] }],
  sum_batch: [{ ins: [o(bv())] }, { ins: [o(bs)] }],
  bcast: [
    { ins: [o(uv())], attrs: { shape: bv() } }, { ins: [o(us)], attrs: { shape: bv() } }, { ins: [o(bs)], attrs: { shape: bv() } },
    { ins: [o(us)], attrs: { shape: uv() } }, { ins: [o(us)], attrs: { shape: bs } }, { ins: [o(us)], attrs: { shape: mat() } },
    { ins: [o(bv())], attrs: { shape: bv() } },
  ],
  matvec: [{ ins: [o(mat()), o(bv())] }, { ins: [o(mat()), o(uv())] }, { ins: [o(mat(n, n)), o(bv())], use: [0, 1] }],
  matmul: [{ ins: [o(mat(m, n)), o(mat(n, k))] }, { ins: [o(mat(n, n))], use: [0, 0] }],
  transpose: [{ ins: [o(mat())] }, { ins: [o(mat(n, n))] }],
  outer: [{ ins: [o(bv(m)), o(bv(n))] }, { ins: [o(uv(m)), o(uv(n))] }, { ins: [o(bv())], use: [0, 0] }],
  outer_each: [{ ins: [o(bv(m)), o(bv(n))] }, { ins: [o(uv(m)), o(bv(n))] }, { ins: [o(bv(m)), o(uv(n))] }, { ins: [o(uv(m)), o(uv(n))] }, { ins: [o(bv())], use: [0, 0] }],
  matvec_each: [{ ins: [o(bmat()), o(bv())] }, { ins: [o(bmat()), o(uv())] }, { ins: [o(mat()), o(bv())] }, { ins: [o(bmat(n, n)), o(bv())] }],
  vecmat_each: [{ ins: [o(bv(m)), o(bmat())] }, { ins: [o(uv(m)), o(bmat())] }, { ins: [o(bv(m)), o(mat())] }],
  concat: [
    { ins: [o(bv(n)), o(uv(m)), o(bv(k))] }, { ins: [o(bv())] }, { ins: [o(uv(n)), o(uv(m))] },
    { ins: [o(uv(m)), o(bv(n))] }, { ins: [o(bv(m))], use: [0, 0] },
  ],
  slice: [
    { ins: [o(bv(dimAdd(n, m)))], attrs: { offset: n, len: m } },
    { ins: [o(uv(k))], attrs: { offset: dimNum(1), len: dimNum(2) } },
    { ins: [o(bv(k))], attrs: { offset: dimNum(0), len: k } },
  ],
  pad: [
    { ins: [o(bv(m))], attrs: { offset: n, total: dimAdd(dimAdd(n, m), k) } },
    { ins: [o(uv(m))], attrs: { offset: dimNum(0), total: dimAdd(m, dimNum(1)) } },
  ],
} satisfies Record<Computed, OpCase[]>;

/** A one-op graph: unbatched operands are `param` leaves, batched ones `input` leaves. */
function opGraph(op: OpName, c: OpCase): Graph {
  const b = new Builder();
  const leaves = c.ins.map((x, i) => b.node(x.shape.batch ? 'input' : 'param', [], { name: `a${i}`, shape: x.shape }));
  const use = c.use ?? c.ins.map((_, i) => i);
  const y = b.node(op, use.map((i) => leaves[i]!), c.attrs ?? {});
  return b.finish([{ name: 'y', role: 'output', id: y }]);
}

const shapeText = (s: Shape) => `${s.batch ? 'B' : ''}[${s.dims.map((d) => d.terms.map(([v]) => v).join('+') || String(d.k)).join('×')}]`;
const caseText = (c: OpCase) => `${(c.use ?? c.ins.map((_, i) => i)).map((i) => shapeText(c.ins[i]!.shape)).join(', ')}${c.attrs?.p !== undefined ? ` p=${c.attrs.p}` : ''}${c.attrs?.shape ? ` → ${shapeText(c.attrs.shape)}` : ''}`;

// ---------------------------------------------------------------- coverage

describe('the op table is covered', () => {
  it('every op with inputs has VJP cases, every op an evaluation test', () => {
    const withInputs = Object.entries(OPS).filter(([, d]) => d.arity !== 0).map(([name]) => name);
    expect(withInputs.filter((op) => !(op in CASES))).toEqual([]);
    expect(Object.keys(CASES).filter((op) => !(op in OPS))).toEqual([]);
    const evaluated = new Set([...Object.keys(MATH), ...Object.keys(HAND), 'param', 'input', 'prev', 'cot']);
    expect(Object.keys(OPS).filter((op) => !evaluated.has(op))).toEqual([]);
  });
});

// ---------------------------------------------------------------- evaluation

/** Evaluate one op on given tensors (dims by the env above, batch 2 unless given). */
function evalOp(op: OpName, args: readonly { shape: Shape; data: readonly number[] }[], attrs: Attrs = {}, batch = 2): Tensor {
  const g = opGraph(op, { ins: args.map((a) => o(a.shape)), attrs });
  const values = interpret(g, (nd) => {
    const i = Number(nd.attrs.name!.slice(1));
    const a = args[i]!;
    return { batched: a.shape.batch, dims: a.shape.dims.map((d) => evalDim(d, env)!), data: Float64Array.from(a.data) };
  }, env, batch);
  return values[g.roots[0]!.id]!;
}
const list = (t: Tensor) => [...t.data];

/** Elementwise ops against Math.* (or the textbook formula). */
const MATH: Partial<Record<OpName, (...x: number[]) => number>> = {
  add: (x, y) => x! + y!, sub: (x, y) => x! - y!, mul: (x, y) => x! * y!, div: (x, y) => x! / y!, neg: (x) => -x!,
  tanh: Math.tanh, sigmoid: (x) => 1 / (1 + Math.exp(-x!)), relu: (x) => Math.max(0, x!), exp: Math.exp, log: Math.log,
  sqrt: Math.sqrt, abs: Math.abs, softplus: (x) => Math.log(1 + Math.exp(x!)), step: (x) => (x! > 0 ? 1 : 0), sign: Math.sign,
  pow: (x) => Math.pow(x!, 3),
  max: (x, y) => Math.max(x!, y!), min: (x, y) => Math.min(x!, y!), stopgrad: (x) => x!,
  ge: (x, y) => (x! >= y! ? 1 : 0), gt: (x, y) => (x! > y! ? 1 : 0), select: (m, x, y) => (m !== 0 ? x! : y!),
  power: (x, y) => Math.exp(y! * Math.log(x!)),
};

describe('evaluation of elementwise ops against Math', () => {
  const rng = new Rng(7);
  for (const [op, f] of Object.entries(MATH) as [OpName, (...x: number[]) => number][]) {
    it(op, () => {
      const arity = OPS[op].arity;
      const domain: Domain = op === 'log' || op === 'sqrt' || op === 'power' ? 'positive' : op === 'div' ? 'awayFromZero' : 'any';
      const args = Array.from({ length: arity }, (_, i) => randomTensor(rng, true, [3], 2, i === 1 ? domain : op === 'div' ? 'any' : domain));
      const y = evalOp(op, args.map((a) => ({ shape: bv(), data: [...a.data] })), op === 'pow' ? { p: 3 } : {});
      const want = Array.from(y.data, (_, j) => f(...args.map((a) => a.data[j]!)));
      y.data.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 14));
    });
  }

  it('broadcasts a scalar over a vector, and an unbatched vector over the batch', () => {
    expect(list(evalOp('sub', [{ shape: us, data: [1] }, { shape: bv(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([0, -1, -2, -3, -4, -5]);
    expect(list(evalOp('add', [{ shape: bv(), data: [1, 2, 3, 4, 5, 6] }, { shape: uv(), data: [10, 20, 30] }]))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(list(evalOp('mul', [{ shape: bs, data: [2, 3] }, { shape: bv(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([2, 4, 6, 12, 15, 18]);
    expect(list(evalOp('div', [{ shape: uv(), data: [2, 4, 6] }, { shape: us, data: [2] }]))).toEqual([1, 2, 3]);
  });

  it('comparisons at ties, and select takes a branch by its mask without touching the other', () => {
    expect(list(evalOp('ge', [{ shape: uv(), data: [1, 2, 3] }, { shape: us, data: [2] }]))).toEqual([0, 1, 1]);
    expect(list(evalOp('gt', [{ shape: uv(), data: [1, 2, 3] }, { shape: us, data: [2] }]))).toEqual([0, 0, 1]);
    // ∞ and NaN in the branch not taken stay out (m·a + (1 − m)·b would give NaN)
    expect(list(evalOp('select', [{ shape: uv(), data: [1, 0, 1] }, { shape: uv(), data: [5, Infinity, 7] }, { shape: uv(), data: [NaN, 6, -Infinity] }]))).toEqual([5, 6, 7]);
  });

  it('pow: squares, cubes, reciprocals and roots', () => {
    const x = { shape: uv(), data: [0.5, 2, 4] };
    expect(list(evalOp('pow', [x], { p: 2 }))).toEqual([0.25, 4, 16]);
    expect(list(evalOp('pow', [x], { p: -1 }))).toEqual([2, 0.5, 0.25]);
    expect(list(evalOp('pow', [x], { p: 0.5 }))).toEqual([Math.SQRT1_2, Math.SQRT2, 2]);
  });
});

describe('stable forms at large inputs: no NaN, no Inf', () => {
  const big = [-1000, -745, -40, 0, 40, 745, 1000];
  it('sigmoid', () => {
    const y = list(evalOp('sigmoid', [{ shape: uv(k), data: big.slice(0, 4) }]));
    expect(y.every(Number.isFinite)).toBe(true);
    expect(y[0]).toBe(0);
    expect(y[3]).toBe(0.5);
    expect(list(evalOp('sigmoid', [{ shape: uv(), data: [40, 745, 1000] }]))).toEqual([1 / (1 + Math.exp(-40)), 1, 1]);
    for (const x of big) expect(stableSigmoid(x) + stableSigmoid(-x)).toBeCloseTo(1, 15);
  });
  it('softplus', () => {
    for (const x of big) expect(Number.isFinite(stableSoftplus(x))).toBe(true);
    expect(stableSoftplus(1000)).toBe(1000);
    expect(stableSoftplus(-1000)).toBe(0);
    expect(stableSoftplus(0)).toBe(Math.LN2);
    for (const x of [-3, -0.5, 0.5, 3]) expect(stableSoftplus(x)).toBeCloseTo(Math.log1p(Math.exp(x)), 15);
    // softplus(x) − softplus(−x) = x
    for (const x of big) expect(stableSoftplus(x) - stableSoftplus(-x)).toBeCloseTo(x, 10);
  });
  it('softmax', () => {
    const y = evalOp('softmax', [{ shape: bv(), data: [1000, 0, -1000, -1000, -1000, -1000] }]);
    expect(list(y)).toEqual([1, 0, 0, 1 / 3, 1 / 3, 1 / 3]);
    const z = list(evalOp('softmax', [{ shape: uv(), data: [1, 2, 3] }]));
    const e = [1, 2, 3].map(Math.exp), s = e.reduce((a, b) => a + b);
    z.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / s, 15));
    expect(list(evalOp('softmax', [{ shape: bv(one), data: [1e300, -1e300] }]))).toEqual([1, 1]);
  });
  it('VJPs of the stable forms stay finite at large inputs', () => {
    for (const op of ['sigmoid', 'softplus', 'tanh', 'softmax'] as const) {
      const g = opGraph(op, { ins: [o(bv())] });
      const vjp = checkGraphGrad(g, { env, batch: 1, seed: 1, wrt: ['input'] }).vjp;
      const values = interpret(vjp, (nd) => ({ batched: true, dims: [3], data: nd.op === 'input' ? Float64Array.of(-1000, 0, 1000) : Float64Array.of(1, 1, 1) }), env, 1);
      expect(values[vjp.roots[0]!.id]!.data.every(Number.isFinite)).toBe(true);
    }
  });
});

/** Layout, linear and reduction ops against hand-computed values (batch 2, n = 3, m = 2). */
const HAND: Partial<Record<OpName, () => void>> = {
  const: () => {
    const b = new Builder();
    const c = b.const(2.5);
    expect(b.shape(c)).toEqual(us);
    expect(list(interpret(b.finish([]), () => undefined, env, 2)[c]!)).toEqual([2.5]);
  },
  zeros: () => {
    const b = new Builder();
    const z = b.zeros(bv()), w = b.zeros(mat());
    const values = interpret(b.finish([]), () => undefined, env, 2);
    expect(list(values[z]!)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(list(values[w]!)).toEqual([0, 0, 0, 0, 0, 0]);
  },
  softmax: () => list(evalOp('softmax', [{ shape: bv(m), data: [0, Math.log(3), 5, 5] }])).forEach((v, i) => expect(v).toBeCloseTo([0.25, 0.75, 0.5, 0.5][i]!, 15)),
  sum_feat: () => {
    expect(list(evalOp('sum_feat', [{ shape: bv(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([6, 15]);
    expect(list(evalOp('sum_feat', [{ shape: mat(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([21]);
  },
  sum_batch: () => {
    expect(list(evalOp('sum_batch', [{ shape: bv(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([5, 7, 9]);
    expect(list(evalOp('sum_batch', [{ shape: bs, data: [1, 2] }]))).toEqual([3]);
  },
  bcast: () => {
    expect(list(evalOp('bcast', [{ shape: uv(), data: [1, 2, 3] }], { shape: bv() }))).toEqual([1, 2, 3, 1, 2, 3]);
    expect(list(evalOp('bcast', [{ shape: bs, data: [7, 8] }], { shape: bv() }))).toEqual([7, 7, 7, 8, 8, 8]);
    expect(list(evalOp('bcast', [{ shape: us, data: [4] }], { shape: mat() }))).toEqual([4, 4, 4, 4, 4, 4]);
  },
  matvec: () => {
    // [[1 2 3] [4 5 6]] · [1 0 -1], · [2 1 0]
    expect(list(evalOp('matvec', [{ shape: mat(), data: [1, 2, 3, 4, 5, 6] }, { shape: bv(), data: [1, 0, -1, 2, 1, 0] }]))).toEqual([-2, -2, 4, 13]);
    expect(list(evalOp('matvec', [{ shape: mat(), data: [1, 2, 3, 4, 5, 6] }, { shape: uv(), data: [1, 1, 1] }]))).toEqual([6, 15]);
  },
  matmul: () => {
    // [[1 2 3] [4 5 6]] · [[1 0] [0 1] [1 1]] = [[4 5] [10 11]]
    expect(list(evalOp('matmul', [{ shape: mat(m, n), data: [1, 2, 3, 4, 5, 6] }, { shape: mat(n, m), data: [1, 0, 0, 1, 1, 1] }]))).toEqual([4, 5, 10, 11]);
  },
  transpose: () => expect(list(evalOp('transpose', [{ shape: mat(), data: [1, 2, 3, 4, 5, 6] }]))).toEqual([1, 4, 2, 5, 3, 6]),
  outer: () => {
    // Σ_batch u vᵀ: [1 2]ᵀ[1 0 1] + [0 1]ᵀ[2 2 2]
    expect(list(evalOp('outer', [{ shape: bv(m), data: [1, 2, 0, 1] }, { shape: bv(), data: [1, 0, 1, 2, 2, 2] }]))).toEqual([1, 0, 1, 4, 2, 4]);
    expect(list(evalOp('outer', [{ shape: uv(m), data: [1, 2] }, { shape: uv(), data: [3, 4, 5] }]))).toEqual([3, 4, 5, 6, 8, 10]);
  },
  outer_each: () => {
    // u vᵀ for each example, never summed over the batch: [1 2]ᵀ[1 0 1], then [0 1]ᵀ[2 2 2]
    expect(list(evalOp('outer_each', [{ shape: bv(m), data: [1, 2, 0, 1] }, { shape: bv(), data: [1, 0, 1, 2, 2, 2] }]))).toEqual([1, 0, 1, 2, 0, 2, 0, 0, 0, 2, 2, 2]);
    // an operand without the batch axis is shared by every example
    expect(list(evalOp('outer_each', [{ shape: uv(m), data: [1, 2] }, { shape: bv(), data: [1, 0, 1, 2, 2, 2] }]))).toEqual([1, 0, 1, 2, 0, 2, 2, 2, 2, 4, 4, 4]);
  },
  matvec_each: () => {
    // example 0: [[1 2 3] [4 5 6]] [1 0 1] = [4 10]; example 1: [[1 0 0] [0 0 2]] [2 3 4] = [2 8]
    expect(list(evalOp('matvec_each', [{ shape: bmat(), data: [1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 0, 2] }, { shape: bv(), data: [1, 0, 1, 2, 3, 4] }]))).toEqual([4, 10, 2, 8]);
  },
  vecmat_each: () => {
    // example 0: [1 2] [[1 2 3] [4 5 6]] = [9 12 15]; example 1: [3 1] [[1 0 0] [0 0 2]] = [3 0 2]
    expect(list(evalOp('vecmat_each', [{ shape: bv(m), data: [1, 2, 3, 1] }, { shape: bmat(), data: [1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 0, 2] }]))).toEqual([9, 12, 15, 3, 0, 2]);
  },
  concat: () => {
    expect(list(evalOp('concat', [{ shape: bv(m), data: [1, 2, 3, 4] }, { shape: uv(), data: [7, 8, 9] }]))).toEqual([1, 2, 7, 8, 9, 3, 4, 7, 8, 9]);
    expect(list(evalOp('concat', [{ shape: uv(one), data: [5] }, { shape: uv(m), data: [6, 7] }]))).toEqual([5, 6, 7]);
  },
  slice: () => {
    expect(list(evalOp('slice', [{ shape: bv(dimAdd(n, m)), data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }], { offset: n, len: m }))).toEqual([4, 5, 9, 10]);
    expect(list(evalOp('slice', [{ shape: uv(k), data: [1, 2, 3, 4] }], { offset: dimNum(1), len: dimNum(2) }))).toEqual([2, 3]);
  },
  pad: () => {
    expect(list(evalOp('pad', [{ shape: bv(m), data: [1, 2, 3, 4] }], { offset: dimNum(1), total: k }))).toEqual([0, 1, 2, 0, 0, 3, 4, 0]);
  },
};

describe('evaluation of layout, linear and reduction ops against hand-computed values', () => {
  for (const [op, test] of Object.entries(HAND)) it(op, test!);
  it('leaves are read, never evaluated', () => {
    for (const op of ['param', 'input', 'prev', 'cot'] as const) expect(() => OPS[op].eval([], {}, { batch: 1, out: { batched: false, dims: [] }, dim: () => 0 })).toThrow();
  });
});

// ---------------------------------------------------------------- VJPs

describe('every VJP rule against central differences (float64)', () => {
  let seed = 100;
  for (const [op, cases] of Object.entries(CASES) as [Computed, OpCase[]][]) {
    describe(op, () => {
      for (const c of cases) {
        const s = seed++;
        it(caseText(c), () => {
          const g = opGraph(op, c);
          expect(verify(g)).toEqual([]);
          const domains = c.ins.map((x) => x.domain ?? 'any');
          if (c.stops) {
            // sg(v): the gradient stops — zero, where central differences see the identity.
            const vjp = grad(g);
            expect(vjp.roots.map((x) => vjp.nodes[x.id]!.op)).toEqual(c.ins.map(() => 'zeros'));
            return;
          }
          const r = checkGraphGrad(g, {
            env, batch: BATCH, seed: s, wrt: ['param', 'input'],
            domain: (nd) => domains[Number(nd.attrs.name!.slice(1))] ?? 'any',
            rtol: 1e-7, atol: 1e-10,
          });
          expect(verify(r.vjp)).toEqual([]);
          // Every operand got a gradient root, of its own shape.
          expect(r.vjp.roots.map((x) => x.name).sort()).toEqual(c.ins.map((_, i) => `a${i}`));
          for (const root of r.vjp.roots) expect(shapeEq(r.vjp.nodes[root.id]!.shape, c.ins[Number(root.name.slice(1))]!.shape)).toBe(true);
          expect(r.count).toBeGreaterThan(0);
          expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
        });
      }
    });
  }
});

describe('max and min at ties', () => {
  it('split the gradient evenly where the operands are equal', () => {
    for (const op of ['max', 'min'] as const) {
      const b = new Builder();
      const a0 = b.node('param', [], { name: 'a0', shape: uv() }), a1 = b.node('param', [], { name: 'a1', shape: uv() });
      const g = b.finish([{ name: 'y', role: 'output', id: b.node(op, [a0, a1]) }]);
      const vjp = grad(g);
      const data: Record<string, number[]> = { a0: [1, 2, 3], a1: [1, 5, 0], 'output:y': [2, 2, 2] };
      const v = interpret(vjp, (nd) => ({ batched: false, dims: [3], data: Float64Array.from(data[nd.attrs.name!]!) }), env, 1);
      const at = (name: string) => [...v[vjp.roots.find((r) => r.name === name)!.id]!.data];
      // ties share, the larger (smaller for min) takes all
      expect(at('a0'), op).toEqual(op === 'max' ? [1, 0, 2] : [1, 2, 0]);
      expect(at('a1'), op).toEqual(op === 'max' ? [1, 2, 0] : [1, 0, 2]);
    }
  });
});

// ---------------------------------------------------------------- the VJP algebra

describe('the algebra VJP rules are written in', () => {
  const setup = () => {
    const b = new Builder();
    const x = b.node('input', [], { name: 'x', shape: bv() });
    const y = b.node('tanh', [x]);
    const g = b.node('cot', [], { name: 'g', shape: bv() });
    return { b, x, y, g, start: b.nodes.length };
  };
  const built = (b: Builder, from: number) => b.nodes.slice(from).map((nd) => nodeKey(nd.op, nd.inputs, nd.attrs));

  it("builds tanh's g * (1 - y*y) as nested calls would: the same nodes, in the same order", () => {
    const { b, x, y, g, start } = setup();
    const [dx] = OPS.tanh.vjp(g, y, [x], {}, b);
    expect(built(b, start)).toEqual([`const(){value=1}`, `mul(${y},${y}){}`, `sub(${start},${start + 1}){}`, `mul(${g},${start + 2}){}`]);
    expect(dx).toBe(start + 3);
    // Nested Emit calls, in a fresh builder, give the same listing.
    const nested = setup();
    nested.b.node('mul', [nested.g, nested.b.node('sub', [nested.b.const(1), nested.b.node('mul', [nested.y, nested.y])])]);
    expect(built(nested.b, nested.start)).toEqual(built(b, start));
  });

  it('builds the constant `one` only for a rule that names it', () => {
    const { b, x, start } = setup();
    const { mul } = algebra(b);
    mul(x, x);
    expect(built(b, start)).toEqual([`mul(${x},${x}){}`]);
    const { one } = algebra(b);
    expect(b.nodes[one]!.attrs.value).toBe(1);
  });
});
