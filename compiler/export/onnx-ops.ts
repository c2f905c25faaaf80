// Every primitive as ONNX (opset 17): one closed table, checked with
// `satisfies`, so a new op without an ONNX rendering is a type error. A rule
// adds nodes through the builder and returns the name of its result, or says
// why the op cannot be exported.
//
// Tensors as in the PyTorch export: a per-example value is [B, …], a value
// without the batch axis has no leading B. ONNX broadcasts from the right, so
// a per-example scalar [B] meets a vector [B, n] only after an Unsqueeze.

import type { Node } from '../ir/graph.ts';
import type { OpName, Shape } from '../ir/ops.ts';

export interface OnnxRuleCtx {
  readonly node: Node;
  readonly input: (i: number) => Node;
  /** The value name of operand i. */
  readonly arg: (i: number) => string;
  /** Operand i of an elementwise op, shaped to broadcast against the result. */
  readonly ew: (i: number) => string;
  /** Add a node; returns its (first) output's name. */
  readonly op: (type: string, inputs: readonly string[], attrs?: Readonly<Record<string, number | readonly number[]>>) => string;
  readonly f32: (v: number) => string;
  readonly i64: (vs: readonly number[]) => string;
  /** A dimension's size (the export binds every dimension to a number). */
  readonly dim: (d: Shape['dims'][number]) => number;
  /** The sizes of a shape as an int64 [rank] value (B read from the step's tensors). */
  readonly sizes: (s: Shape) => string;
}

export type OnnxRule = (c: OnnxRuleCtx) => string | { readonly unsupported: string };

const FLOAT = 1;
const leaf = (what: string) => (): { unsupported: string } => ({ unsupported: what });
const unary = (type: string) => (c: OnnxRuleCtx) => c.op(type, [c.arg(0)]);
const binary = (type: string) => (c: OnnxRuleCtx) => c.op(type, [c.ew(0), c.ew(1)]);
/** The feature axes of a shape, counted from the end: [-1] for a vector, [-2, -1] for a matrix. */
const featAxes = (s: Shape) => Array.from({ length: s.dims.length }, (_, i) => i - s.dims.length);

function bcast(c: OnnxRuleCtx): string {
  const from = c.input(0).shape, to = c.node.shape;
  let x = c.arg(0);
  if (from.batch && from.dims.length === 0 && to.dims.length > 0) x = c.op('Unsqueeze', [x, c.i64(featAxes(to))]);
  return c.op('Expand', [x, c.sizes(to)]);
}

function concat(c: OnnxRuleCtx): string {
  const parts = c.node.inputs.map((_, i) => {
    const s = c.input(i).shape;
    return c.node.shape.batch && !s.batch ? c.op('Expand', [c.arg(i), c.sizes({ batch: true, dims: s.dims })]) : c.arg(i);
  });
  return c.op('Concat', parts, { axis: -1 });
}

function sumFeat(c: OnnxRuleCtx): string {
  const s = c.input(0).shape;
  if (s.dims.length === 0) return c.op('Identity', [c.arg(0)]);
  return c.op('ReduceSum', [c.arg(0), c.i64(featAxes(s))], { keepdims: 0 });
}

export const ONNX: Record<OpName, OnnxRule> = {
  // Leaves are values of the graph (see onnx.ts), never rendered here, except constants and zeros.
  param: leaf('a parameter is an initializer or a graph input'),
  input: leaf('an input is a scan input'),
  prev: leaf('a state at t-1 is a scan state'),
  cot: leaf('a cotangent belongs to a backward graph, not to the forward step'),
  const: (c) => c.f32(c.node.attrs.value!),
  zeros: (c) => c.op('Expand', [c.f32(0), c.sizes(c.node.shape)]),

  add: binary('Add'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('Div'),
  neg: unary('Neg'),
  pow: (c) => (c.node.attrs.p === 2 ? c.op('Mul', [c.arg(0), c.arg(0)]) : c.op('Pow', [c.arg(0), c.f32(c.node.attrs.p!)])),
  tanh: unary('Tanh'),
  sigmoid: unary('Sigmoid'),
  relu: unary('Relu'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  abs: unary('Abs'),
  softplus: unary('Softplus'),
  step: (c) => c.op('Cast', [c.op('Greater', [c.arg(0), c.f32(0)])], { to: FLOAT }),
  sign: unary('Sign'),
  max: binary('Max'),
  min: binary('Min'),
  // The forward value only: ONNX computes no gradients.
  stopgrad: unary('Identity'),
  ge: (c) => c.op('Cast', [c.op('GreaterOrEqual', [c.arg(0), c.arg(1)])], { to: FLOAT }),
  gt: (c) => c.op('Cast', [c.op('Greater', [c.arg(0), c.arg(1)])], { to: FLOAT }),
  select: (c) => c.op('Where', [c.op('Not', [c.op('Equal', [c.arg(0), c.f32(0)])]), c.arg(1), c.arg(2)]),
  power: binary('Pow'),

  softmax: (c) => c.op('Softmax', [c.arg(0)], { axis: -1 }),
  sum_feat: sumFeat,
  sum_batch: (c) => c.op('ReduceSum', [c.arg(0), c.i64([0])], { keepdims: 0 }),
  bcast,

  // W v for v [B, n] or [n]: v Wᵀ.
  matvec: (c) => c.op('MatMul', [c.arg(1), c.op('Transpose', [c.arg(0)], { perm: [1, 0] })]),
  matmul: (c) => c.op('MatMul', [c.arg(0), c.arg(1)]),
  transpose: (c) => c.op('Transpose', [c.arg(0)], { perm: [1, 0] }),
  // Σ_batch u vᵀ: uᵀ v for [B, m] and [B, n]; u vᵀ as [m, 1] · [1, n] without the batch axis.
  outer: (c) => (c.input(0).shape.batch
    ? c.op('MatMul', [c.op('Transpose', [c.arg(0)], { perm: [1, 0] }), c.arg(1)])
    : c.op('MatMul', [c.op('Unsqueeze', [c.arg(0), c.i64([1])]), c.op('Unsqueeze', [c.arg(1), c.i64([0])])])),
  concat,
  // Per example (matrices [B, m, n], vectors [B, n]; an operand without the batch axis is shared).
  outer_each: (c) => c.op('Mul', [c.op('Unsqueeze', [c.arg(0), c.i64([-1])]), c.op('Unsqueeze', [c.arg(1), c.i64([-2])])]),
  matvec_each: (c) => c.op('Squeeze', [c.op('MatMul', [c.arg(0), c.op('Unsqueeze', [c.arg(1), c.i64([-1])])]), c.i64([-1])]),
  vecmat_each: (c) => c.op('Squeeze', [c.op('MatMul', [c.op('Unsqueeze', [c.arg(0), c.i64([-2])]), c.arg(1)]), c.i64([-2])]),
  slice: (c) => {
    const off = c.dim(c.node.attrs.offset!), len = c.dim(c.node.attrs.len!);
    return c.op('Slice', [c.arg(0), c.i64([off]), c.i64([off + len]), c.i64([-1])]);
  },
  pad: (c) => {
    const off = c.dim(c.node.attrs.offset!), total = c.dim(c.node.attrs.total!), len = c.dim(c.input(0).shape.dims[0]!);
    const rank = c.input(0).shape.batch ? 2 : 1;
    const before = [...Array(rank - 1).fill(0), off], after = [...Array(rank - 1).fill(0), total - off - len];
    return c.op('Pad', [c.arg(0), c.i64([...before, ...after]), c.f32(0)]);
  },
} satisfies Record<OpName, OnnxRule>;
