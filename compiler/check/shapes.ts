// check, shape rules: a function application, an elementwise op, a product,
// and any primitive through its rule in OPS. A parameter of unknown shape
// learns it from its first use (`W x^<t>` makes W a matrix with x's size for
// columns); an expression whose operands are all still unknown throws Defer
// and is typed again in a later pass.

import type { Expr, Span } from '../../grammar/ast.ts';
import type { TExpr } from './typed-cell.ts';
import { operandTexts, show } from './expr-queries.ts';
import type { CheckContext } from './context.ts';
import { Defer, isPoison, poison, showDim, showShape } from './context.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D, didYouMean } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import type { Attrs, OpName, Shape } from '../ir/ops.ts';
import { FUNCTIONS, OPS } from '../ir/ops.ts';
import { productEach } from './matrices.ts';

/** Help for a shape rule's refusal that is not "A vs B", per primitive. */
const OP_HELP: Partial<Record<OpName, string>> = {
  transpose: 'only a matrix (a parameter such as `W`) can be transposed; a vector per example needs no transpose: `W x^<t>` already multiplies it as a column',
  softmax: 'softmax normalises a vector per example',
  concat: '`[u, v]` stacks vectors per example; a matrix cannot be concatenated',
};

/** A primitive applied to typed arguments, its shape from the op table. */
export function op(cx: CheckContext, name: OpName, args: TExpr[], span: Span, diags: Diagnostic[], what: string, attrs: Attrs = {}): TExpr {
  if (args.some((a) => isPoison(a))) return poison(span);
  if (args.some((a) => a.shape === null)) throw new Defer();
  const shape = OPS[name].shape(args.map((a) => resolved(cx, a.shape!)), attrs);
  if (typeof shape === 'string') {
    const i = shape.indexOf(' vs ');
    const text = shape.replace(/\?\d+/g, '?');
    diags.push(i >= 0 ? D.shapeMismatch(span, what, text.slice(0, text.indexOf(' vs ')), text.slice(text.indexOf(' vs ') + 4)) : D.shapeMismatch(span, what, text, undefined, OP_HELP[name]));
    return poison(span);
  }
  return { k: 'op', op: name, args, attrs, span, shape };
}

function resolved(cx: CheckContext, s: Shape): Shape {
  return { batch: s.batch, dims: s.dims.map((d) => cx.solver.resolve(d)) };
}

/** A named function (`tanh`, `σ`, or an alias `g_1`) applied to its argument. */
export function call(cx: CheckContext, fn: string, fnSpan: Span, args: readonly TExpr[], span: Span, diags: Diagnostic[]): TExpr {
  const name = FUNCTIONS[fn] ?? cx.functions.get(fn)?.op;
  if (!name) { diags.push(D.unknownFunction(fnSpan, show(fn), didYouMean(fn, [...Object.keys(FUNCTIONS), ...cx.functions.keys()], show))); return poison(span); }
  const arity = OPS[name].arity;
  if (args.length !== arity) { diags.push(D.wrongArity(span, show(fn), arity, args.length)); return poison(span); }
  // Two arguments (max, min): elementwise, with broadcasting, as `+` is.
  if (arity === 2) return elementwise(cx, name, args[0]!, args[1]!, span, diags, `${show(fn)}(…)`);
  if (args.some((a) => a.shape === null && !isPoison(a))) throw new Defer();
  return op(cx, name, [...args], span, diags, `${show(fn)}(…)`);
}

/** Learn or check a parameter's shape from a use. */
function paramShape(cx: CheckContext, e: TExpr, want: Dim[], diags: Diagnostic[]): boolean {
  if (e.k !== 'leaf' || e.leaf !== 'param') return true;
  const p = cx.params.get(e.name)!;
  if (!p.shape) {
    p.shape = want;
    p.learnedAt = e.span;
    e.shape = { batch: false, dims: want };
    return true;
  }
  const ok = p.shape.length === want.length && p.shape.every((d, i) => cx.solver.unify(d, want[i]!) !== false);
  if (!ok) {
    twoShapes(cx, diags, e, want);
    return false;
  }
  e.shape = { batch: false, dims: p.shape };
  return true;
}

/**
 * "parameter `W` is used with two shapes", pointing back at where it got the first.
 * Only ever called for a parameter whose shape is known: a read adds the name to
 * `cx.params` before it makes the leaf (references.ts), and a parameter's shape,
 * once known, stays known. It comes from the declaration, read before any
 * equation, or from `paramShape`, which records the use (`learnedAt`); so a
 * parameter with a shape and no `learnedAt` was declared with it.
 */
function twoShapes(cx: CheckContext, diags: Diagnostic[], e: TExpr & { k: 'leaf' }, here: readonly Dim[]): void {
  const p = cx.params.get(e.name);
  if (!p?.shape) throw new Error(`check: parameter ${e.name} has two shapes but no known first one`);
  const first = p.learnedAt ?? p.span;
  diags.push(D.paramTwoShapes(e.span, show(e.name), showShape(cx, { batch: false, dims: here }), showShape(cx, { batch: false, dims: p.shape }), first.start !== e.span.start ? first : undefined));
}

/** Unify the feature dims of two operands of an elementwise op (broadcasting scalars). */
export function elementwise(cx: CheckContext, name: OpName, l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], what: string, ast?: readonly [Expr, Expr]): TExpr {
  if (isPoison(l) || isPoison(r)) return poison(span);
  const lp = l.shape === null, rp = r.shape === null;
  if (lp && rp) throw new Defer();
  if (lp && !paramShape(cx, l, [...r.shape!.dims], diags)) return poison(span);
  if (rp && !paramShape(cx, r, [...l.shape!.dims], diags)) return poison(span);
  const ls = l.shape!, rs = r.shape!;
  if (ls.dims.length > 0 && rs.dims.length > 0) {
    const ok = ls.dims.length === rs.dims.length && ls.dims.every((d, i) => cx.solver.unify(d, rs.dims[i]!) !== false);
    if (!ok) {
      const param = l.k === 'leaf' && l.leaf === 'param' ? l : r.k === 'leaf' && r.leaf === 'param' ? r : null;
      if (param) twoShapes(cx, diags, param, [...(param === l ? rs : ls).dims]);
      else diags.push(D.shapeMismatch(span, what, showShape(cx, ls), showShape(cx, rs), 'elementwise operations (`+ - * /`) need operands of one size; a matrix maps one size to another: `W x^<t>`', operandTexts(ast?.[0], ast?.[1])));
      return poison(span);
    }
  }
  return op(cx, name, [l, r], span, diags, what);
}

/** `A B` and `A · B`: matrix–vector, matrix–matrix, or scaling by a scalar. */
export function product(cx: CheckContext, l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], explicit: boolean, ast?: readonly [Expr, Expr]): TExpr {
  if (isPoison(l) || isPoison(r)) return poison(span);
  const what = explicit ? 'a matrix product' : 'a product by juxtaposition';
  const scaled = () => elementwise(cx, 'mul', l, r, span, diags, 'a product', ast);
  if (l.shape === null) {
    if (r.shape === null) throw new Defer();
    if (r.shape.dims.length === 0) return scaled();
    if (!paramShape(cx, l, [cx.solver.fresh(), r.shape.dims[0]!], diags)) return poison(span);
  }
  if (r.shape === null) {
    const ls = l.shape!;
    if (ls.dims.length !== 2) return scaled();
    if (!paramShape(cx, r, [ls.dims[1]!], diags)) return poison(span);
  }
  const ls = l.shape!, rs = r.shape!;
  if (ls.dims.length === 0 || rs.dims.length === 0) return scaled();
  const operands = operandTexts(ast?.[0], ast?.[1]);
  if (ls.dims.length === 2) {
    if (ls.batch) return productEach(cx, l, r, span, diags, what, ast); // a matrix per example (matrices.ts)
    const inner = rs.dims[0]!;
    if (cx.solver.unify(ls.dims[1]!, inner) === false) {
      if (l.k === 'leaf' && l.leaf === 'param') twoShapes(cx, diags, l, [cx.solver.fresh(), inner]);
      else diags.push(D.shapeMismatch(span, what, showShape(cx, ls), showShape(cx, rs), `the columns of the matrix (${showDim(cx, ls.dims[1]!)}) must match the size of the vector (${showDim(cx, inner)})`, operands));
      return poison(span);
    }
    return op(cx, rs.dims.length === 1 ? 'matvec' : 'matmul', [l, r], span, diags, 'a matrix product');
  }
  diags.push(D.shapeMismatch(span, what, showShape(cx, ls), showShape(cx, rs), 'juxtaposition and `·` multiply a matrix by a vector; use `*` (or ⊙) for the elementwise product', operands));
  return poison(span);
}
