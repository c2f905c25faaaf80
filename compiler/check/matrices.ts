// check, matrices per example: the notation of cells whose state is a matrix
// for each example (mLSTM's memory C, Mamba's h), desugared to primitives here,
// in one place:
//
//   v kᵀ      (v k^T, v k^\top)  the outer product of two vectors, per example   → outer_each
//   C q       (C · q)            a matrix per example times a vector             → matvec_each
//   diag(v) A                    row i of A scaled by v_i: (v 1ᵀ) ⊙ A            → mul(outer_each(v, 1), A)
//   diag(v) a                    of a vector: v ⊙ a                              → mul
//
// The transpose is on the RIGHT (`v kᵀ`); the inner product `uᵀ v`, with it on
// the left, is typed elsewhere. A matrix state is declared `state C : d × d`
// (classify.ts); its value is checked here when its equation is typed.

import type { Expr, Span } from '../../grammar/ast.ts';
import type { TExpr } from './typed-cell.ts';
import { operandTexts, show } from './expr-queries.ts';
import type { CheckContext, Def } from './context.ts';
import { Defer, display, isPoison, isState, key, poison, showDim, showShape } from './context.ts';
import { op, product } from './shapes.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import type { Shape } from '../ir/ops.ts';

type Go = (e: Expr) => TExpr;

/** `diag`, `\operatorname{diag}`, `\mathrm{diag}` applied to one argument (unless the cell names something `diag`). */
function isDiag(cx: CheckContext, e: Expr): e is Expr & { kind: 'apply' } {
  return e.kind === 'apply' && e.fn === 'diag' && !cx.functions.has('diag') && !cx.params.get('diag')?.declared && !cx.defs.has(key('diag'));
}

/**
 * A product `left right` (juxtaposition, or `·` when explicit) that involves a
 * matrix per example or is written with these forms; null when it is none of
 * them and the ordinary product rules apply.
 */
export function matrixProduct(cx: CheckContext, left: Expr, right: Expr, span: Span, diags: Diagnostic[], go: Go, explicit: boolean): TExpr | null {
  if (isDiag(cx, left)) return diagProduct(cx, left, right, span, diags, go);
  if (right.kind === 'transpose' && !explicit) return outerProduct(cx, left, right, span, diags, go);
  return null;
}

/** `diag(v)` anywhere but on the left of a product. */
export function diagAlone(cx: CheckContext, e: Expr, diags: Diagnostic[]): TExpr | null {
  if (!isDiag(cx, e)) return null;
  diags.push(D.diagOperand(e.span, 'nothing to scale', 'write `diag(v) A` to scale row i of the matrix `A` by `v_i` (Mamba\'s `exp(diag(Δ) A)`)'));
  return poison(e.span);
}

/** `v kᵀ`: both vectors (per example or not); anything else is refused here with both shapes. */
function outerProduct(cx: CheckContext, left: Expr, right: Expr & { kind: 'transpose' }, span: Span, diags: Diagnostic[], go: Go): TExpr {
  const u = go(left), v = go(right.arg);
  if (isPoison(u) || isPoison(v)) return poison(span);
  if (v.shape === null) {
    if (u.shape === null) throw new Defer();
    // `v bᵀ` after a vector: b is a vector parameter (shared by every example); else the ordinary rules.
    if (u.shape.dims.length !== 1) return product(cx, u, op(cx, 'transpose', [v], right.span, diags, 'a transpose'), span, diags, false, [left, right]);
    learnVector(cx, v);
  }
  const vs = v.shape!;
  if (vs.dims.length !== 1) {
    // `x Wᵀ`, `C Wᵀ`: a transposed matrix, as the ordinary rules read it.
    if (vs.dims.length === 2 && !vs.batch) return product(cx, u, op(cx, 'transpose', [v], right.span, diags, 'a transpose'), span, diags, false, [left, right]);
    diags.push(D.outerOperands(right.span, text(right.arg), showShape(cx, vs), 'right', operandTexts(left, right.arg)));
    return poison(span);
  }
  // `b kᵀ` with `b` a parameter of unknown shape: a vector, as in any outer product.
  if (u.shape === null) learnVector(cx, u);
  if (u.shape!.dims.length !== 1) {
    diags.push(D.outerOperands(left.span, text(left), showShape(cx, u.shape), 'left', operandTexts(left, right.arg)));
    return poison(span);
  }
  return op(cx, 'outer_each', [u, v], span, diags, 'an outer product');
}

/** A parameter of unknown shape used as a side of `v kᵀ`: a vector of a size still to infer. */
function learnVector(cx: CheckContext, e: TExpr): void {
  const p = cx.params.get((e as TExpr & { k: 'leaf' }).name)!;
  p.shape = [cx.solver.fresh()];
  p.learnedAt = e.span;
  e.shape = { batch: false, dims: p.shape };
}

/** `diag(v) A`: v a vector, A a matrix (its rows scaled) or a vector (elementwise). */
function diagProduct(cx: CheckContext, left: Expr & { kind: 'apply' }, right: Expr, span: Span, diags: Diagnostic[], go: Go): TExpr {
  if (left.args.length !== 1) { diags.push(D.wrongArity(left.span, 'diag', 1, left.args.length)); return poison(span); }
  const v = go(left.args[0]!), a = go(right);
  if (isPoison(v) || isPoison(a)) return poison(span);
  if (v.shape === null) throw new Defer();
  if (v.shape.dims.length !== 1) {
    diags.push(D.diagOperand(left.args[0]!.span, `\`${text(left.args[0]!)}\` is ${showShape(cx, v.shape)}`, '`diag(v)` is the diagonal matrix of a vector `v`; a scalar scales with `*`'));
    return poison(span);
  }
  const rows = v.shape.dims[0]!;
  if (a.shape === null) {
    // An unknown parameter here is a matrix whose rows are v's (Mamba's A).
    const p = cx.params.get((a as TExpr & { k: 'leaf' }).name)!;
    p.shape = [rows, cx.solver.fresh()];
    p.learnedAt = a.span;
    a.shape = { batch: false, dims: p.shape };
  }
  const as = a.shape!;
  if (as.dims.length === 0 || cx.solver.unify(as.dims[0]!, rows) === false) {
    diags.push(D.shapeMismatch(span, 'a row scaling `diag(v) A`', showShape(cx, v.shape), showShape(cx, as), as.dims.length === 0
      ? '`diag(v)` multiplies a matrix or a vector; a scalar scales with `*`'
      : `\`diag(v)\` has ${showDim(cx, rows)} rows, so the matrix or vector it scales needs ${showDim(cx, rows)} rows too`, operandTexts(left.args[0], right)));
    return poison(span);
  }
  if (as.dims.length === 1) return op(cx, 'mul', [v, a], span, diags, 'a row scaling `diag(v) a`');
  const ones: TExpr = { k: 'op', op: 'bcast', args: [{ k: 'leaf', leaf: 'const', name: '', value: 1, span: left.span, shape: { batch: false, dims: [] } }], attrs: { shape: { batch: false, dims: [as.dims[1]!] } }, span: left.span, shape: { batch: false, dims: [as.dims[1]!] } };
  const spread = op(cx, 'outer_each', [v, ones], left.span, diags, '`diag(v)`');
  return op(cx, 'mul', [spread, a], span, diags, 'a row scaling `diag(v) A`');
}

/** A matrix per example on the left of a product with a vector: `C q`, `h C` (Mamba's readout). */
export function productEach(cx: CheckContext, l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], what: string, ast?: readonly [Expr, Expr]): TExpr {
  const ls = l.shape!, rs = r.shape!;
  if (rs.dims.length !== 1) {
    diags.push(D.shapeMismatch(span, what, showShape(cx, ls), showShape(cx, rs), 'a matrix per example multiplies a vector (`C q`); two matrices multiply elementwise with `*`', operandTexts(ast?.[0], ast?.[1])));
    return poison(span);
  }
  if (cx.solver.unify(ls.dims[1]!, rs.dims[0]!) === false) {
    diags.push(D.shapeMismatch(span, what, showShape(cx, ls), showShape(cx, rs), `the columns of the matrix (${showDim(cx, ls.dims[1]!)}) must match the size of the vector (${showDim(cx, rs.dims[0]!)})`, operandTexts(ast?.[0], ast?.[1])));
    return poison(span);
  }
  return op(cx, 'matvec_each', [l, r], span, diags, 'a matrix–vector product');
}

/**
 * The value of a time-indexed name that is (or is declared) a matrix per
 * example: true when assigned, false when refused (reported), undefined when
 * neither side is a matrix and the vector rules apply.
 */
export function assignMatrix(cx: CheckContext, def: Def, shape: Shape, diags: Diagnostic[]): boolean | undefined {
  const declared = cx.nameMatrices.get(def.name);
  if (!declared && shape.dims.length !== 2) return undefined;
  const what = `the definition of \`${display(def)}\``;
  const want: Shape = { batch: true, dims: declared ?? shape.dims };
  if (declared) {
    const ok = shape.dims.length === 2 && shape.dims.every((d, i) => cx.solver.unify(d, declared[i]!) !== false);
    if (!ok) {
      diags.push(D.shapeMismatch(def.eq.rhs.span, what, showShape(cx, want), showShape(cx, shape), `\`${display(def)}\` is declared \`state ${show(def.name)} : ${showDim(cx, declared[0])} × ${showDim(cx, declared[1])}\`, a matrix per example, but its equation gives ${showShape(cx, shape)}`));
      return false;
    }
  } else if (isState(cx, def.name) || cx.mode === 'unrolled') {
    diags.push(D.shapeMismatch(def.eq.rhs.span, what, 'a vector per example', showShape(cx, shape),
      `a state carried as a matrix per example is declared with both sizes: \`state ${show(def.name)} : ${showDim(cx, shape.dims[0]!)} × ${showDim(cx, shape.dims[1]!)}\``));
    return false;
  } else {
    cx.nameMatrices.set(def.name, [shape.dims[0]!, shape.dims[1]!]);
  }
  cx.types.set(key(def.name, def.step), want);
  return true;
}

/** An operand as a message shows it (`k^<t>`, `W_k x^<t>`), or "it" when too long. */
const text = (e: Expr): string => operandTexts(e, e)?.[0] ?? 'it';
