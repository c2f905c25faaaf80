// The one closed table of primitives. Each entry holds, side by side, its arity,
// shape rule, float64 evaluation and VJP rule, so an op without a derivative is
// a type error. VJP rules build graph nodes (through the Builder), not numbers,
// and reuse saved outputs: tanh's rule is g * (1 - y*y).

import type { Dim } from './dims.ts';
import { dimEq, dimSum, dimToString } from './dims.ts';

/** A value's symbolic type: an optional batch axis, then 0 (scalar), 1 (vector) or 2 (matrix) feature axes. */
export interface Shape {
  readonly batch: boolean;
  readonly dims: readonly Dim[];
}

export const shapeToString = (s: Shape): string => {
  const body = s.dims.length === 0 ? 'scalar' : s.dims.length === 1 ? `vector(${dimToString(s.dims[0]!)})` : s.dims.map((d) => (d.terms.length + (d.k !== 0 ? 1 : 0) > 1 ? `(${dimToString(d)})` : dimToString(d))).join(' × ');
  return s.batch && s.dims.length > 0 ? `${body} per example` : s.batch ? 'scalar per example' : body;
};
export const shapeEq = (a: Shape, b: Shape) => a.batch === b.batch && a.dims.length === b.dims.length && a.dims.every((d, i) => dimEq(d, b.dims[i]!));

/** A run-time value: row-major, batch axis first when batched. */
export interface Tensor {
  readonly batched: boolean;
  readonly dims: readonly number[];
  readonly data: Float64Array;
}
export const featSize = (t: { dims: readonly number[] }) => t.dims.reduce((a, b) => a * b, 1);

export type Attrs = {
  readonly name?: string;
  readonly step?: number;
  readonly value?: number;
  readonly p?: number;
  readonly offset?: Dim;
  readonly len?: Dim;
  readonly total?: Dim;
  readonly shape?: Shape;
};

/** Every primitive; the table below must define exactly these (checked by `satisfies`). */
export type OpName =
  | 'param' | 'input' | 'prev' | 'cot' | 'const' | 'zeros'
  | 'add' | 'sub' | 'mul' | 'div' | 'neg' | 'pow' | 'max' | 'min' | 'power'
  | 'ge' | 'gt' | 'select'
  | 'tanh' | 'sigmoid' | 'relu' | 'exp' | 'log' | 'sqrt' | 'abs' | 'softplus' | 'step' | 'sign' | 'stopgrad'
  | 'softmax' | 'sum_feat' | 'sum_batch' | 'bcast'
  | 'matvec' | 'matmul' | 'transpose' | 'outer' | 'concat' | 'slice' | 'pad'
  | 'outer_each' | 'matvec_each' | 'vecmat_each';

/** What a VJP rule may build with; implemented by the graph Builder. */
export interface Emit {
  node(op: OpName, inputs: readonly number[], attrs?: Attrs): number;
  shape(id: number): Shape;
  const(value: number): number;
  /** Sum a cotangent down to the shape of an operand it was broadcast from. */
  unbroadcast(g: number, to: Shape): number;
}

export interface EvalCtx {
  readonly batch: number;
  /** Numeric shape of the node being evaluated. */
  readonly out: { batched: boolean; dims: readonly number[] };
  readonly dim: (d: Dim) => number;
}

export interface OpDef {
  /** Number of inputs; -1 for variadic (concat). */
  readonly arity: number;
  readonly kind: 'leaf' | 'elementwise' | 'linear' | 'reduce' | 'layout';
  /** Result shape, or an error message naming both shapes. */
  readonly shape: (ins: readonly Shape[], attrs: Attrs) => Shape | string;
  readonly eval: (args: readonly Tensor[], attrs: Attrs, ctx: EvalCtx) => Float64Array;
  /** Cotangents of the inputs (null = zero) given the cotangent g of the output y. */
  readonly vjp: (g: number, y: number, ins: readonly number[], attrs: Attrs, e: Emit) => readonly (number | null)[];
}

// ---------------------------------------------------------------- shape helpers

function broadcast(ins: readonly Shape[]): Shape | string {
  let dims: readonly Dim[] = [];
  for (const s of ins) {
    if (s.dims.length === 0) continue;
    if (dims.length === 0) dims = s.dims;
    else if (dims.length !== s.dims.length || !dims.every((d, i) => dimEq(d, s.dims[i]!)))
      return `${shapeToString({ batch: false, dims })} vs ${shapeToString({ batch: false, dims: s.dims })}`;
  }
  return { batch: ins.some((s) => s.batch), dims };
}
const same = (ins: readonly Shape[]) => ins[0]!;
const leafShape = (_: readonly Shape[], a: Attrs) => a.shape!;
const scalar: Shape = { batch: false, dims: [] };

// ---------------------------------------------------------------- eval helpers

/** Index of an operand element for output element (b, f) under broadcasting. */
function reader(t: Tensor, F: number): (b: number, f: number) => number {
  const tf = featSize(t);
  const scalarFeat = t.dims.length === 0 && F !== 1 ? 0 : 1;
  const d = t.data;
  if (t.batched) return scalarFeat ? (b, f) => d[b * tf + f]! : (b) => d[b]!;
  return scalarFeat ? (_b, f) => d[f]! : () => d[0]!;
}

function elementwise(f: (...xs: number[]) => number) {
  return (args: readonly Tensor[], _a: Attrs, ctx: EvalCtx): Float64Array => {
    const F = ctx.out.dims.reduce((a, b) => a * b, 1);
    const B = ctx.out.batched ? ctx.batch : 1;
    const out = new Float64Array(B * F);
    const rs = args.map((t) => reader(t, F));
    if (rs.length === 1) {
      const r = rs[0]!;
      for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) out[b * F + i] = f(r(b, i));
    } else if (rs.length === 2) {
      const [r0, r1] = rs as [typeof rs[0], typeof rs[0]];
      for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) out[b * F + i] = f(r0(b, i), r1(b, i));
    } else if (rs.length === 3) {
      const [r0, r1, r2] = rs as [typeof rs[0], typeof rs[0], typeof rs[0]];
      for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) out[b * F + i] = f(r0(b, i), r1(b, i), r2(b, i));
    }
    return out;
  };
}

export const stableSigmoid = (x: number) => {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
};
export const stableSoftplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

// ---------------------------------------------------------------- VJP algebra

/**
 * The algebra VJP rules are written in: one function per primitive, each
 * building a graph node through `e`, so a rule reads as its formula —
 * tanh's `g * (1 - y*y)` is `mul(g, sub(one, mul(y, y)))`. Nodes are built in
 * the order the arguments are evaluated, as nested `e.node` calls would be;
 * `one` is a getter, so only a rule that names it builds the constant.
 */
export function algebra(e: Emit) {
  const op1 = (op: OpName) => (x: number) => e.node(op, [x]);
  const op2 = (op: OpName) => (x: number, y: number) => e.node(op, [x, y]);
  return {
    add: op2('add'), sub: op2('sub'), mul: op2('mul'), div: op2('div'), neg: op1('neg'),
    pow: (x: number, p: number) => e.node('pow', [x], { p }),
    power: op2('power'), log: op1('log'),
    sigmoid: op1('sigmoid'), step: op1('step'), sign: op1('sign'),
    select: (m: number, x: number, y: number) => e.node('select', [m, x, y]),
    sumFeat: op1('sum_feat'),
    bcast: (x: number, shape: Shape) => e.node('bcast', [x], { shape }),
    matvec: op2('matvec'), matmul: op2('matmul'), outer: op2('outer'), transpose: op1('transpose'),
    outerEach: op2('outer_each'), matvecEach: op2('matvec_each'), vecmatEach: op2('vecmat_each'),
    slice: (x: number, offset: Dim, len: Dim) => e.node('slice', [x], { offset, len }),
    pad: (x: number, offset: Dim, total: Dim) => e.node('pad', [x], { offset, total }),
    /** A scalar constant. */
    c: (value: number) => e.const(value),
    get one() { return e.const(1); },
    shape: (x: number) => e.shape(x),
    /** Sum a cotangent down to the shape of the operand `like` (over batch and broadcast axes). */
    unbroadcast: (g: number, like: number) => e.unbroadcast(g, e.shape(like)),
  };
}
export type Algebra = ReturnType<typeof algebra>;

/** A VJP rule written in the algebra: cotangents of the inputs (null = zero) from the output's cotangent g. */
type Rule = (g: number, y: number, ins: readonly number[], attrs: Attrs, a: Algebra) => readonly (number | null)[];
const rule = (r: Rule): OpDef['vjp'] => (g, y, ins, attrs, e) => r(g, y, ins, attrs, algebra(e));
/** No gradient flows (leaves; step and sign, whose derivative is zero almost everywhere). A Rule and an OpDef['vjp'] alike. */
const noGrad = (_g: number, _y: number, ins: readonly number[]) => ins.map(() => null);
const unary = (f: (x: number) => number, vjp: Rule): OpDef => ({
  arity: 1, kind: 'elementwise', shape: same, eval: elementwise(f), vjp: rule(vjp),
});
const ew2 = (f: (x: number, y: number) => number, vjp: Rule): OpDef => ({
  arity: 2, kind: 'elementwise', shape: broadcast, eval: elementwise(f), vjp: rule(vjp),
});

/** 1 where a > b, 0 where a < b, ½ at a tie: (𝟙[a > b] + 1 − 𝟙[b > a]) / 2, so a tie splits the gradient evenly. */
const larger = (a: number, b: number, { mul, add, sub, step, c, one }: Algebra) => mul(c(0.5), add(step(sub(a, b)), sub(one, step(sub(b, a)))));
/** The cotangents of max or min: g × w to a, g × (1 − w) to b. */
const split = (g: number, a: number, b: number, w: number, { mul, sub, one, unbroadcast }: Algebra) =>
  [unbroadcast(mul(g, w), a), unbroadcast(mul(g, sub(one, w)), b)];

export const OPS: Record<OpName, OpDef> = {
  // ------------------------------------------------------------ leaves
  param: { arity: 0, kind: 'leaf', shape: leafShape, eval: () => { throw new Error('leaf'); }, vjp: noGrad },
  input: { arity: 0, kind: 'leaf', shape: leafShape, eval: () => { throw new Error('leaf'); }, vjp: noGrad },
  /** A state at t-1 (or an initial value in an unrolled cell). */
  prev: { arity: 0, kind: 'leaf', shape: leafShape, eval: () => { throw new Error('leaf'); }, vjp: noGrad },
  /** A cotangent fed to a backward graph. */
  cot: { arity: 0, kind: 'leaf', shape: leafShape, eval: () => { throw new Error('leaf'); }, vjp: noGrad },
  const: { arity: 0, kind: 'leaf', shape: () => scalar, eval: (_x, a) => Float64Array.of(a.value!), vjp: noGrad },
  zeros: { arity: 0, kind: 'leaf', shape: leafShape, eval: (_x, _a, c) => new Float64Array((c.out.batched ? c.batch : 1) * c.out.dims.reduce((a, b) => a * b, 1)), vjp: noGrad },

  // ------------------------------------------------------------ elementwise
  add: ew2((x, y) => x + y, (g, _y, [a, b], _at, { unbroadcast }) => [unbroadcast(g, a), unbroadcast(g, b)]),
  sub: ew2((x, y) => x - y, (g, _y, [a, b], _at, { neg, unbroadcast }) => [unbroadcast(g, a), unbroadcast(neg(g), b)]),
  mul: ew2((x, y) => x * y, (g, _y, [a, b], _at, { mul, unbroadcast }) => [unbroadcast(mul(g, b), a), unbroadcast(mul(g, a), b)]),
  div: ew2((x, y) => x / y, (g, y, [a, b], _at, { mul, div, neg, unbroadcast }) => [unbroadcast(div(g, b), a), unbroadcast(neg(div(mul(g, y), b)), b)]),
  neg: unary((x) => -x, (g, _y, _i, _a, { neg }) => [neg(g)]),
  max: ew2(Math.max, (g, _y, [a, b], _at, al) => split(g, a!, b!, larger(a!, b!, al), al)),
  min: ew2(Math.min, (g, _y, [a, b], _at, al) => split(g, a!, b!, larger(b!, a!, al), al)),
  /** Comparisons, 1 where true and 0 where false: the conditions of `cases`; no gradient flows through them. */
  ge: ew2((x, y) => (x >= y ? 1 : 0), noGrad),
  gt: ew2((x, y) => (x > y ? 1 : 0), noGrad),
  /**
   * select(m, a, b): a where m ≠ 0, else b (the branches of `cases`). Both are computed, and the
   * unused one is never multiplied by 0, so an ∞ or NaN there stays out; the gradient goes to the
   * branch taken.
   */
  select: {
    arity: 3, kind: 'elementwise', shape: broadcast, eval: elementwise((m, x, y) => (m !== 0 ? x : y)),
    vjp: rule((g, _y, [m, a, b], _at, { select, c, unbroadcast }) => [null, unbroadcast(select(m!, g, c(0)), a!), unbroadcast(select(m!, c(0), g), b!)]),
  },
  pow: {
    arity: 1, kind: 'elementwise', shape: same,
    eval: (args, a, c) => elementwise((x) => (a.p === 2 ? x * x : Math.pow(x, a.p!)))(args, a, c),
    // g · p·x^(p−1), with x itself for p = 2
    vjp: rule((g, _y, [x], { p }, { mul, pow, c }) => {
      const d = p === 2 ? x : pow(x, p! - 1);
      return [mul(g, mul(c(p!), d))];
    }),
  },
  /**
   * x^y with a tensor exponent (RG-LRU's a^{c r_t}); a number exponent is `pow`.
   * ∂x = g · y · x^(y−1), ∂y = g · x^y · log x (NaN where x ≤ 0, as log is).
   */
  power: ew2(Math.pow, (g, y, [x, p], _at, { mul, sub, power, log, one, unbroadcast }) =>
    [unbroadcast(mul(g, mul(p!, power(x!, sub(p!, one)))), x!), unbroadcast(mul(g, mul(y, log(x!))), p!)]),
  tanh: unary(Math.tanh, (g, y, _i, _a, { mul, sub, one }) => [mul(g, sub(one, mul(y, y)))]),
  sigmoid: unary(stableSigmoid, (g, y, _i, _a, { mul, sub, one }) => [mul(g, mul(y, sub(one, y)))]),
  relu: unary((x) => (x > 0 ? x : 0), (g, _y, [x], _a, { mul, step }) => [mul(g, step(x))]),
  exp: unary(Math.exp, (g, y, _i, _a, { mul }) => [mul(g, y)]),
  log: unary(Math.log, (g, _y, [x], _a, { div }) => [div(g, x)]),
  sqrt: unary(Math.sqrt, (g, y, _i, _a, { mul, div, c }) => [div(g, mul(c(2), y))]),
  abs: unary(Math.abs, (g, _y, [x], _a, { mul, sign }) => [mul(g, sign(x))]),
  softplus: unary(stableSoftplus, (g, _y, [x], _a, { mul, sigmoid }) => [mul(g, sigmoid(x))]),
  /** Heaviside step (relu's derivative); its own derivative is zero almost everywhere. */
  step: unary((x) => (x > 0 ? 1 : 0), noGrad),
  sign: unary(Math.sign, noGrad),
  /** Stop-gradient, sg(v): the value itself, and no gradient through it (the xLSTM stabiliser). */
  stopgrad: unary((x) => x, noGrad),

  // ------------------------------------------------------------ along the feature axis
  softmax: {
    arity: 1, kind: 'reduce',
    shape: ([s]) => (s!.dims.length === 1 ? s! : `softmax needs a vector, got ${shapeToString(s!)}`),
    eval: ([x], _a, c) => {
      const n = c.out.dims[0]!;
      const B = c.out.batched ? c.batch : 1;
      const out = new Float64Array(B * n);
      for (let b = 0; b < B; b++) {
        let m = -Infinity;
        for (let i = 0; i < n; i++) m = Math.max(m, x!.data[b * n + i]!);
        let s = 0;
        for (let i = 0; i < n; i++) s += out[b * n + i] = Math.exp(x!.data[b * n + i]! - m);
        for (let i = 0; i < n; i++) out[b * n + i]! /= s;
      }
      return out;
    },
    // y ⊙ (g − Σ_feat(g ⊙ y))
    vjp: rule((g, y, _i, _a, { mul, sub, sumFeat }) => [mul(y, sub(g, sumFeat(mul(g, y))))]),
  },
  /** Sum over the feature axes: a scalar (per example when batched). */
  sum_feat: {
    arity: 1, kind: 'reduce',
    shape: ([s]) => ({ batch: s!.batch, dims: [] }),
    eval: ([x], _a, c) => {
      const F = featSize(x!);
      const B = x!.batched ? c.batch : 1;
      const out = new Float64Array(B);
      for (let b = 0; b < B; b++) { let s = 0; for (let i = 0; i < F; i++) s += x!.data[b * F + i]!; out[b] = s; }
      return out;
    },
    vjp: rule((g, _y, [x], _a, { bcast, shape }) => [bcast(g, shape(x))]),
  },
  /** Σ_batch: the notes' sum over the examples of a batch. */
  sum_batch: {
    arity: 1, kind: 'reduce',
    shape: ([s]) => (s!.batch ? { batch: false, dims: s!.dims } : 'sum over the batch of a value without a batch axis'),
    eval: ([x], _a, c) => {
      const F = featSize(x!);
      const out = new Float64Array(F);
      for (let b = 0; b < c.batch; b++) for (let i = 0; i < F; i++) out[i]! += x!.data[b * F + i]!;
      return out;
    },
    vjp: rule((g, _y, [x], _a, { bcast, shape }) => [bcast(g, shape(x))]),
  },
  /** Broadcast to a larger shape (adds the batch axis and/or fills a scalar). */
  bcast: {
    arity: 1, kind: 'layout',
    shape: ([s], a) => (s!.dims.length === 0 || (s!.dims.length === a.shape!.dims.length && s!.dims.every((d, i) => dimEq(d, a.shape!.dims[i]!))) ? a.shape! : `cannot broadcast ${shapeToString(s!)} to ${shapeToString(a.shape!)}`),
    eval: (args, a, c) => elementwise((x) => x)(args, a, c),
    vjp: rule((g, _y, [x], _a, { unbroadcast }) => [unbroadcast(g, x)]),
  },

  // ------------------------------------------------------------ linear algebra
  /** W v: W is m × n (no batch axis), v is n (per example or not) → m. */
  matvec: {
    arity: 2, kind: 'linear',
    shape: ([w, v]) => {
      if (w!.dims.length !== 2 || w!.batch) return `a matrix times a vector needs a matrix on the left, got ${shapeToString(w!)}`;
      if (v!.dims.length !== 1) return `a matrix times a vector needs a vector on the right, got ${shapeToString(v!)}`;
      if (!dimEq(w!.dims[1]!, v!.dims[0]!)) return `${shapeToString(w!)} vs ${shapeToString(v!)}`;
      return { batch: v!.batch, dims: [w!.dims[0]!] };
    },
    eval: ([w, v], _a, c) => {
      const [m, n] = w!.dims as [number, number];
      const B = v!.batched ? c.batch : 1;
      const out = new Float64Array(B * m);
      const W = w!.data, V = v!.data;
      for (let b = 0; b < B; b++)
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += W[i * n + j]! * V[b * n + j]!;
          out[b * m + i] = s;
        }
      return out;
    },
    // dW = Σ_batch g vᵀ ; dv = Wᵀ g
    vjp: rule((g, _y, [w, v], _a, { outer, matvec, transpose }) => [outer(g, v), matvec(transpose(w), g)]),
  },
  /** A · B for two matrices without a batch axis. */
  matmul: {
    arity: 2, kind: 'linear',
    shape: ([a, b]) => {
      if (a!.dims.length !== 2 || b!.dims.length !== 2 || a!.batch || b!.batch) return `a matrix product needs two matrices, got ${shapeToString(a!)} and ${shapeToString(b!)}`;
      if (!dimEq(a!.dims[1]!, b!.dims[0]!)) return `${shapeToString(a!)} vs ${shapeToString(b!)}`;
      return { batch: false, dims: [a!.dims[0]!, b!.dims[1]!] };
    },
    eval: ([a, b]) => {
      const [m, k] = a!.dims as [number, number];
      const n = b!.dims[1]!;
      const out = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
        const x = a!.data[i * k + p]!;
        for (let j = 0; j < n; j++) out[i * n + j]! += x * b!.data[p * n + j]!;
      }
      return out;
    },
    vjp: rule((g, _y, [a, b], _at, { matmul, transpose }) => [matmul(g, transpose(b)), matmul(transpose(a), g)]),
  },
  transpose: {
    arity: 1, kind: 'layout',
    shape: ([s]) => (s!.dims.length === 2 && !s!.batch ? { batch: false, dims: [s!.dims[1]!, s!.dims[0]!] } : `transpose needs a matrix, got ${shapeToString(s!)}`),
    eval: ([x]) => {
      const [m, n] = x!.dims as [number, number];
      const out = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = x!.data[i * n + j]!;
      return out;
    },
    vjp: rule((g, _y, _i, _a, { transpose }) => [transpose(g)]),
  },
  /** Σ_batch u vᵀ: the outer product, summed over the examples of a batch. */
  outer: {
    arity: 2, kind: 'linear',
    shape: ([u, v]) => (u!.dims.length === 1 && v!.dims.length === 1 && u!.batch === v!.batch ? { batch: false, dims: [u!.dims[0]!, v!.dims[0]!] } : `an outer product needs two vectors, got ${shapeToString(u!)} and ${shapeToString(v!)}`),
    eval: ([u, v], _a, c) => {
      const m = u!.dims[0]!, n = v!.dims[0]!;
      const B = u!.batched ? c.batch : 1;
      const out = new Float64Array(m * n);
      for (let b = 0; b < B; b++) for (let i = 0; i < m; i++) {
        const x = u!.data[b * m + i]!;
        for (let j = 0; j < n; j++) out[i * n + j]! += x * v!.data[b * n + j]!;
      }
      return out;
    },
    vjp: rule((g, _y, [u, v], _a, { matvec, transpose }) => [matvec(g, v), matvec(transpose(g), u)]),
  },
  // ------------------------------------------------------------ matrices per example
  // A matrix per example (`state C : d × d`, mLSTM's memory, Mamba's h) is batched
  // [m, n]. These products never sum over the batch: an operand without a batch
  // axis is shared by every example, and the result has a batch axis if either does.
  /** u vᵀ for each example (`v k^T`): [m] and [n] → [m, n]. */
  outer_each: {
    arity: 2, kind: 'linear',
    shape: ([u, v]) => (u!.dims.length === 1 && v!.dims.length === 1 ? { batch: u!.batch || v!.batch, dims: [u!.dims[0]!, v!.dims[0]!] } : `an outer product needs two vectors, got ${shapeToString(u!)} and ${shapeToString(v!)}`),
    eval: ([u, v], _a, c) => {
      const m = u!.dims[0]!, n = v!.dims[0]!;
      const B = c.out.batched ? c.batch : 1;
      const out = new Float64Array(B * m * n);
      for (let b = 0; b < B; b++) {
        const uo = u!.batched ? b * m : 0, vo = v!.batched ? b * n : 0;
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[(b * m + i) * n + j] = u!.data[uo + i]! * v!.data[vo + j]!;
      }
      return out;
    },
    // du = G v ; dv = Gᵀ u = uᵀ G (each per example, then summed down to the operand's shape)
    vjp: rule((g, _y, [u, v], _a, { matvecEach, vecmatEach, unbroadcast }) => [unbroadcast(matvecEach(g, v!), u!), unbroadcast(vecmatEach(u!, g), v!)]),
  },
  /** C q for each example (`C q`, C a matrix per example): [m, n] and [n] → [m]. */
  matvec_each: {
    arity: 2, kind: 'linear',
    shape: ([w, v]) => {
      if (w!.dims.length !== 2) return `a matrix times a vector needs a matrix on the left, got ${shapeToString(w!)}`;
      if (v!.dims.length !== 1) return `a matrix times a vector needs a vector on the right, got ${shapeToString(v!)}`;
      if (!dimEq(w!.dims[1]!, v!.dims[0]!)) return `${shapeToString(w!)} vs ${shapeToString(v!)}`;
      return { batch: w!.batch || v!.batch, dims: [w!.dims[0]!] };
    },
    eval: ([w, v], _a, c) => {
      const [m, n] = w!.dims as [number, number];
      const B = c.out.batched ? c.batch : 1;
      const out = new Float64Array(B * m);
      for (let b = 0; b < B; b++) {
        const wo = w!.batched ? b * m * n : 0, vo = v!.batched ? b * n : 0;
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += w!.data[wo + i * n + j]! * v!.data[vo + j]!;
          out[b * m + i] = s;
        }
      }
      return out;
    },
    // dC = g qᵀ per example ; dq = Cᵀ g = gᵀ C per example
    vjp: rule((g, _y, [w, v], _a, { outerEach, vecmatEach, unbroadcast }) => [unbroadcast(outerEach(g, v!), w!), unbroadcast(vecmatEach(g, w!), v!)]),
  },
  /** uᵀ C for each example (Cᵀ u, matvec_each's transpose): [m] and [m, n] → [n]. */
  vecmat_each: {
    arity: 2, kind: 'linear',
    shape: ([u, w]) => {
      if (w!.dims.length !== 2) return `a vector times a matrix needs a matrix on the right, got ${shapeToString(w!)}`;
      if (u!.dims.length !== 1) return `a vector times a matrix needs a vector on the left, got ${shapeToString(u!)}`;
      if (!dimEq(w!.dims[0]!, u!.dims[0]!)) return `${shapeToString(u!)} vs ${shapeToString(w!)}`;
      return { batch: w!.batch || u!.batch, dims: [w!.dims[1]!] };
    },
    eval: ([u, w], _a, c) => {
      const [m, n] = w!.dims as [number, number];
      const B = c.out.batched ? c.batch : 1;
      const out = new Float64Array(B * n);
      for (let b = 0; b < B; b++) {
        const wo = w!.batched ? b * m * n : 0, uo = u!.batched ? b * m : 0;
        for (let i = 0; i < m; i++) {
          const x = u!.data[uo + i]!;
          for (let j = 0; j < n; j++) out[b * n + j]! += x * w!.data[wo + i * n + j]!;
        }
      }
      return out;
    },
    // du = C g ; dC = u gᵀ (per example)
    vjp: rule((g, _y, [u, w], _a, { outerEach, matvecEach, unbroadcast }) => [unbroadcast(matvecEach(w!, g), u!), unbroadcast(outerEach(u!, g), w!)]),
  },
  /** [u, v, …] along the feature axis; operands without a batch axis are broadcast. */
  concat: {
    arity: -1, kind: 'layout',
    shape: (ins) => {
      const bad = ins.find((s) => s.dims.length !== 1);
      if (bad) return `concatenation needs vectors, got ${shapeToString(bad)}`;
      return { batch: ins.some((s) => s.batch), dims: [dimSum(ins.map((s) => s.dims[0]!))] };
    },
    eval: (args, _a, c) => {
      const N = c.out.dims[0]!;
      const B = c.out.batched ? c.batch : 1;
      const out = new Float64Array(B * N);
      let off = 0;
      for (const t of args) {
        const n = t.dims[0]!;
        for (let b = 0; b < B; b++) {
          const src = t.batched ? b * n : 0;
          for (let i = 0; i < n; i++) out[b * N + off + i] = t.data[src + i]!;
        }
        off += n;
      }
      return out;
    },
    // each operand's piece of g, summed down to the operand's shape
    vjp: rule((g, _y, ins, _a, { slice, shape, unbroadcast }) => {
      let offset: Dim = { terms: [], k: 0 };
      return ins.map((x) => {
        const len = shape(x).dims[0]!;
        const piece = slice(g, offset, len);
        offset = dimSum([offset, len]);
        return unbroadcast(piece, x);
      });
    }),
  },
  slice: {
    arity: 1, kind: 'layout',
    shape: ([s], a) => (s!.dims.length === 1 ? { batch: s!.batch, dims: [a.len!] } : `slice needs a vector, got ${shapeToString(s!)}`),
    eval: ([x], a, c) => {
      const n = x!.dims[0]!, off = c.dim(a.offset!), len = c.dim(a.len!);
      const B = x!.batched ? c.batch : 1;
      const out = new Float64Array(B * len);
      for (let b = 0; b < B; b++) for (let i = 0; i < len; i++) out[b * len + i] = x!.data[b * n + off + i]!;
      return out;
    },
    vjp: rule((g, _y, [x], { offset }, { pad, shape }) => [pad(g, offset!, shape(x).dims[0]!)]),
  },
  /** Zeros of length `total` with the operand placed at `offset` (slice's transpose). */
  pad: {
    arity: 1, kind: 'layout',
    shape: ([s], a) => (s!.dims.length === 1 ? { batch: s!.batch, dims: [a.total!] } : `pad needs a vector, got ${shapeToString(s!)}`),
    eval: ([x], a, c) => {
      const n = x!.dims[0]!, off = c.dim(a.offset!), N = c.dim(a.total!);
      const B = x!.batched ? c.batch : 1;
      const out = new Float64Array(B * N);
      for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) out[b * N + off + i] = x!.data[b * n + i]!;
      return out;
    },
    vjp: rule((g, _y, [x], { offset }, { slice, shape }) => [slice(g, offset!, shape(x).dims[0]!)]),
  },
} satisfies Record<OpName, OpDef>;

export const opDef = (op: OpName): OpDef => OPS[op];

/** The functions a cell may apply by name, and the primitive each one is. */
/** A null-prototype table, so `constructor` or `toString` is never mistaken for a function. */
export const FUNCTIONS: Readonly<Record<string, OpName>> = Object.assign(Object.create(null) as Record<string, OpName>, {
  tanh: 'tanh', sigmoid: 'sigmoid', sigma: 'sigmoid', sigm: 'sigmoid', logistic: 'sigmoid',
  softmax: 'softmax', relu: 'relu', ReLU: 'relu', exp: 'exp', log: 'log', ln: 'log', sqrt: 'sqrt', abs: 'abs',
  softplus: 'softplus', max: 'max', min: 'min', sg: 'stopgrad', stopgrad: 'stopgrad',
  // Sums over the features (`Σ_i v` is how `celda grad` prints one); `mean` is sugar (check/reductions.ts).
  sum: 'sum_feat', Sigma_i: 'sum_feat', Sigma_j: 'sum_feat', Sigma_k: 'sum_feat',
  // x^y with a tensor exponent, as a function of two arguments.
  pow: 'power',
});

// ---------------------------------------------------------------- the elementwise ops

/** The primitives that are not computed one element at a time: leaves, products, reductions, layout. */
type NotElementwise =
  | 'param' | 'input' | 'prev' | 'cot' | 'const' | 'zeros'
  | 'softmax' | 'sum_feat' | 'sum_batch' | 'bcast'
  | 'matvec' | 'matmul' | 'transpose' | 'outer' | 'concat' | 'slice' | 'pad'
  | 'outer_each' | 'matvec_each' | 'vecmat_each';

/**
 * The primitives of kind 'elementwise'. Each backend renders them from a table
 * `satisfies Record<ElementwiseOp, …>` (emit/js/elementwise.ts, emit/gpujs/elementwise.ts,
 * emit/wasm/elementwise.ts), so a new primitive is a compile error in every renderer that
 * lacks it — unless it is listed above as not elementwise (test/compiler/emit/elementwise.test.ts
 * checks the tables' keys against the kinds in OPS).
 */
export type ElementwiseOp = Exclude<OpName, NotElementwise>;
export const isElementwiseOp = (op: OpName): op is ElementwiseOp => OPS[op].kind === 'elementwise';
