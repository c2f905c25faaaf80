// Every primitive as PyTorch: one closed table, checked with `satisfies`, so a
// new op without a PyTorch rendering is a type error. A rule gets its operands
// already rendered (parenthesised to the precedence it asks for) and returns
// Python text with its precedence, or says why the op cannot be exported.
//
// Tensors: a per-example value is [B, …], a value without the batch axis has no
// leading B (a parameter, a scalar constant). Python broadcasts from the right,
// so a per-example scalar [B] meets a vector [B, n] only after `.unsqueeze(-1)`.

import type { Dim } from '../ir/dims.ts';
import { dimSub } from '../ir/dims.ts';
import type { Node } from '../ir/graph.ts';
import type { OpName, Shape } from '../ir/ops.ts';
import { pyNumber } from './python-text.ts';

/** Python precedence, loosest first. */
export const PREC = { add: 5, mul: 6, unary: 7, pow: 8, atom: 9 } as const;

export type PyText = readonly [text: string, prec: number];

export interface PyRuleCtx {
  readonly node: Node;
  readonly input: (i: number) => Node;
  /** Operand i as text, parenthesised unless its precedence is at least `min`. */
  readonly arg: (i: number, min: number) => string;
  /** Operand i of an elementwise op, shaped to broadcast against the result. */
  readonly ew: (i: number, min: number) => string;
  /** Operand i as a tensor (a constant becomes one, on the step's device and dtype). */
  readonly tensor: (i: number) => string;
  /** A dimension as a Python int expression (`self.n_a + self.n_x`). */
  readonly dim: (d: Dim) => string;
  /** The sizes of a shape, as a Python list (`[B, self.n_a]`). */
  readonly sizes: (s: Shape) => string;
  /** `dtype=…, device=…` of the step's tensors. */
  readonly like: () => string;
}

export type PyRule = (c: PyRuleCtx) => PyText | { readonly unsupported: string };

const call = (f: string) => (c: PyRuleCtx): PyText => [`${f}(${c.tensor(0)})`, PREC.atom];
const leaf = (what: string) => (): { unsupported: string } => ({ unsupported: what });
const binary = (op: string, prec: number) => (c: PyRuleCtx): PyText => [`${c.ew(0, prec)} ${op} ${c.ew(1, prec + 1)}`, prec];

/** Sum over the feature axes: none (a scalar is its own sum), the last, or the last two. */
function sumFeat(c: PyRuleCtx): PyText {
  const x = c.input(0).shape;
  const k = x.dims.length;
  if (k === 0) return [c.arg(0, PREC.atom), PREC.atom];
  if (!x.batch) return [`${c.arg(0, PREC.atom)}.sum()`, PREC.atom];
  return [`${c.arg(0, PREC.atom)}.sum(${k === 1 ? '-1' : `[${Array.from({ length: k }, (_, i) => i - k).join(', ')}]`})`, PREC.atom];
}

/** Broadcast to a larger shape: a constant is filled, a per-example scalar gets its feature axes first. */
function bcast(c: PyRuleCtx): PyText {
  const from = c.input(0), to = c.node.shape;
  if (from.op === 'const') return [`torch.full(${c.sizes(to)}, ${pyNumber(from.attrs.value!)}, ${c.like()})`, PREC.atom];
  let x = c.arg(0, PREC.atom);
  if (from.shape.batch && from.shape.dims.length === 0) for (let i = 0; i < to.dims.length; i++) x += '.unsqueeze(-1)';
  return [`${x}.expand(${c.sizes(to)})`, PREC.atom];
}

/** Concatenation along the feature axis; an operand without the batch axis is repeated over it. */
function concat(c: PyRuleCtx): PyText {
  const parts = c.node.inputs.map((_, i) => (c.node.shape.batch && !c.input(i).shape.batch ? `${c.arg(i, PREC.atom)}.expand(${c.sizes({ batch: true, dims: c.input(i).shape.dims })})` : c.arg(i, 0)));
  return [`torch.cat([${parts.join(', ')}], -1)`, PREC.atom];
}

export const PYTORCH: Record<OpName, PyRule> = {
  // Leaves are variables of the step (see pytorch.ts), never rendered here, except constants and zeros.
  param: leaf('a parameter is read from `self`'),
  input: leaf('an input is read from the step\'s inputs'),
  prev: leaf('a state at t-1 is read from the step\'s states'),
  cot: leaf('a cotangent belongs to a backward graph, not to the forward step'),
  const: (c) => [pyNumber(c.node.attrs.value!), c.node.attrs.value! < 0 || Object.is(c.node.attrs.value!, -0) ? PREC.unary : PREC.atom],
  zeros: (c) => [`torch.zeros(${c.sizes(c.node.shape)}, ${c.like()})`, PREC.atom],

  add: binary('+', PREC.add),
  sub: binary('-', PREC.add),
  mul: binary('*', PREC.mul),
  div: binary('/', PREC.mul),
  neg: (c) => [`-${c.arg(0, PREC.unary + 1)}`, PREC.unary],
  pow: (c) => [`${c.arg(0, PREC.atom)} ** ${c.node.attrs.p! < 0 ? `(${pyNumber(c.node.attrs.p!)})` : pyNumber(c.node.attrs.p!)}`, PREC.pow],
  tanh: call('torch.tanh'),
  sigmoid: call('torch.sigmoid'),
  relu: call('torch.relu'),
  exp: call('torch.exp'),
  log: call('torch.log'),
  sqrt: call('torch.sqrt'),
  abs: call('torch.abs'),
  // log(1 + eˣ) exactly, in its stable form (F.softplus switches to x above a threshold).
  softplus: (c) => [`torch.logaddexp(${c.tensor(0)}, torch.zeros_like(${c.tensor(0)}))`, PREC.atom],
  step: (c) => [`(${c.tensor(0)} > 0).to(${c.like()})`, PREC.atom],
  sign: call('torch.sign'),
  // torch.maximum and torch.minimum split the gradient evenly at ties, as celda's rules do.
  max: (c) => [`torch.maximum(${c.tensor(0)}, ${c.tensor(1)})`, PREC.atom],
  min: (c) => [`torch.minimum(${c.tensor(0)}, ${c.tensor(1)})`, PREC.atom],
  stopgrad: (c) => [`${c.arg(0, PREC.atom)}.detach()`, PREC.atom],
  ge: (c) => [`(${c.tensor(0)} >= ${c.tensor(1)}).to(${c.tensor(0)}.dtype)`, PREC.atom],
  gt: (c) => [`(${c.tensor(0)} > ${c.tensor(1)}).to(${c.tensor(0)}.dtype)`, PREC.atom],
  // Both branches computed, the gradient to the one taken, as celda's rule does.
  select: (c) => [`torch.where(${c.tensor(0)} != 0, ${c.tensor(1)}, ${c.tensor(2)})`, PREC.atom],
  power: (c) => [`torch.pow(${c.tensor(0)}, ${c.tensor(1)})`, PREC.atom],

  softmax: (c) => [`torch.softmax(${c.arg(0, 0)}, -1)`, PREC.atom],
  sum_feat: sumFeat,
  sum_batch: (c) => [`${c.arg(0, PREC.atom)}.sum(0)`, PREC.atom],
  bcast,

  // W v for v [B, n] or [n]: v Wᵀ, as F.linear computes it.
  matvec: (c) => [`F.linear(${c.arg(1, 0)}, ${c.arg(0, 0)})`, PREC.atom],
  matmul: (c) => [`${c.arg(0, PREC.mul)} @ ${c.arg(1, PREC.mul + 1)}`, PREC.mul],
  transpose: (c) => [`${c.arg(0, PREC.atom)}.t()`, PREC.atom],
  // Σ_batch u vᵀ: for [B, m] and [B, n], uᵀ v sums over the batch.
  outer: (c) => (c.input(0).shape.batch ? [`${c.arg(0, PREC.atom)}.t() @ ${c.arg(1, PREC.mul + 1)}`, PREC.mul] : [`torch.outer(${c.arg(0, 0)}, ${c.arg(1, 0)})`, PREC.atom]),
  concat,
  // Per example (matrices [B, m, n], vectors [B, n]; an operand without the batch axis is shared).
  outer_each: (c) => [`${c.arg(0, PREC.atom)}.unsqueeze(-1) * ${c.arg(1, PREC.atom)}.unsqueeze(-2)`, PREC.mul],
  matvec_each: (c) => [`(${c.arg(0, PREC.mul)} @ ${c.arg(1, PREC.atom)}.unsqueeze(-1)).squeeze(-1)`, PREC.atom],
  vecmat_each: (c) => [`(${c.arg(0, PREC.atom)}.unsqueeze(-2) @ ${c.arg(1, PREC.mul + 1)}).squeeze(-2)`, PREC.atom],
  slice: (c) => [`${c.arg(0, PREC.atom)}.narrow(-1, ${c.dim(c.node.attrs.offset!)}, ${c.dim(c.node.attrs.len!)})`, PREC.atom],
  pad: (c) => {
    const off = c.node.attrs.offset!, total = c.node.attrs.total!, len = c.input(0).shape.dims[0]!;
    const after = dimSub(dimSub(total, off), len);
    return [`F.pad(${c.arg(0, 0)}, [${c.dim(off)}, ${c.dim(after)}])`, PREC.atom];
  },
} satisfies Record<OpName, PyRule>;

