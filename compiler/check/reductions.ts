// check, values that reduce the features and numbers that are not features:
// `mean(v)` (`sum(v)` is the primitive sum_feat, through FUNCTIONS), the inner
// product `uᵀv` of two vectors, a dimension used as a number (`dim d` then
// `1/sqrt(d)`), and the power `a^{c r}` with an expression for exponent. Each
// desugars into primitives here; a scalar per example broadcasts against
// vectors as any scalar does.

import type { Expr, Span } from '../../grammar/ast.ts';
import type { TExpr } from './typed-cell.ts';
import { show } from './expr-queries.ts';
import type { CheckContext } from './context.ts';
import { Defer, isPoison, key, poison, showShape } from './context.ts';
import { elementwise, op, product } from './shapes.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { dimVar } from '../ir/dims.ts';

/** Functions that are sugar over primitives rather than one primitive: their name and arity. */
export const SUGAR_FUNCTIONS: Readonly<Record<string, number>> = Object.assign(Object.create(null) as Record<string, number>, { mean: 1 });

/**
 * The size of a dimension as a number: Σ over a vector of ones of that size.
 * Every backend computes it with primitives it already has, wherever the
 * dimension is bound; the printer reads it back as the dimension's name.
 */
export function dimNumber(d: Dim, span: Span): TExpr {
  const one: TExpr = { k: 'leaf', leaf: 'const', name: '', value: 1, span, shape: { batch: false, dims: [] } };
  const ones: TExpr = { k: 'op', op: 'bcast', args: [one], attrs: { shape: { batch: false, dims: [d] } }, span, shape: { batch: false, dims: [d] } };
  return { k: 'op', op: 'sum_feat', args: [ones], attrs: {}, span, shape: { batch: false, dims: [] } };
}

/** A bare name that is a declared dimension and nothing else: `d` after `dim d`. */
export function isDimName(cx: CheckContext, name: string): boolean {
  return cx.rigid.has(name) && !cx.params.get(name)?.declared && !cx.defs.has(key(name)) && !cx.inputs.has(name)
    && !cx.declStates.has(name) && ![...cx.defs.values()].some((d) => d.name === name);
}

/** `d` read as a number. */
export const dimValue = (name: string, span: Span): TExpr => dimNumber(dimVar(name), span);

/** `mean(v)`: Σ_i v_i / n for a vector v of size n — a scalar (per example when v is). */
export function mean(cx: CheckContext, fn: string, args: readonly TExpr[], span: Span, diags: Diagnostic[]): TExpr {
  if (args.length !== 1) { diags.push(D.wrongArity(span, show(fn), 1, args.length)); return poison(span); }
  const v = args[0]!;
  if (isPoison(v)) return poison(span);
  if (v.shape === null) throw new Defer();
  if (v.shape.dims.length !== 1) {
    diags.push(D.notAVector(span, `\`${show(fn)}(…)\``, showShape(cx, v.shape), v.shape.dims.length === 0 ? 'the mean of a scalar is the scalar itself: drop `mean`' : 'the mean is taken over the features of a vector'));
    return poison(span);
  }
  const total = op(cx, 'sum_feat', [v], span, diags, `${show(fn)}(…)`);
  return op(cx, 'div', [total, dimNumber(v.shape.dims[0]!, span)], span, diags, `${show(fn)}(…)`);
}

/**
 * `uᵀ v` (also `uᵀ · v`): with u a vector, the inner product Σ_i u_i v_i, a
 * scalar per example; with u a matrix, the transposed matrix–vector product it
 * always was. A parameter of unknown shape is a vector when its name starts
 * with a lowercase letter (`w_i^T x^<t>`, as papers write vectors), and waits
 * for another use otherwise (`W^T x`: a matrix, of a size the product alone
 * does not fix).
 */
export function transposedProduct(cx: CheckContext, u: TExpr, v: TExpr, span: Span, diags: Diagnostic[], explicit: boolean, ast: readonly [Expr, Expr], transposeSpan: Span): TExpr {
  if (isPoison(u) || isPoison(v)) return poison(span);
  if (u.shape === null) {
    if (v.shape === null) throw new Defer();
    if (v.shape.dims.length !== 1 || !startsLowercase(u.k === 'leaf' ? u.name : '')) throw new Defer();
    // `w_i^T x^<t>`: w_i is a vector of x's size.
    return inner(cx, u, v, span, diags, ast);
  }
  // `x^<t>ᵀ W` (a vector times a matrix, or an uppercase parameter of unknown shape, by
  // convention a matrix) is no inner product: the transpose of a vector is refused, as before.
  const matrixLike = v.shape === null ? !startsLowercase(v.k === 'leaf' ? v.name : '') : v.shape.dims.length === 2;
  if (u.shape.dims.length === 1 && !matrixLike) return inner(cx, u, v, span, diags, ast);
  const t = op(cx, 'transpose', [u], transposeSpan, diags, 'a transpose');
  return product(cx, t, v, span, diags, explicit, ast);
}

/** Σ_i u_i v_i of two vectors: a scalar per example when either is per example. */
function inner(cx: CheckContext, u: TExpr, v: TExpr, span: Span, diags: Diagnostic[], ast: readonly [Expr, Expr]): TExpr {
  if (v.shape !== null && v.shape.dims.length !== 1) {
    diags.push(D.notAVector(span, 'an inner product `uᵀ v`', showShape(cx, v.shape), `\`uᵀ v\` of a vector u needs a vector v; to scale \`uᵀ\` by a scalar, write \`s * u\``));
    return poison(span);
  }
  const prod = elementwise(cx, 'mul', u, v, span, diags, 'an inner product `uᵀ v`', ast);
  if (isPoison(prod)) return prod;
  return op(cx, 'sum_feat', [prod], span, diags, 'an inner product `uᵀ v`');
}

/** Transposed parameters of unknown shape, so an equation stuck on one reports E061 rather than E014 (finish.ts). */
const transposed = new WeakMap<CheckContext, Map<string, Span>>();

/** Record `Wᵀ` of a parameter of unknown shape; returns the typed operand unchanged. */
export function noteTransposed(cx: CheckContext, u: TExpr, at: Expr): TExpr {
  if (u.k === 'leaf' && u.leaf === 'param' && u.shape === null) {
    const m = transposed.get(cx) ?? new Map<string, Span>();
    if (!m.has(u.name)) m.set(u.name, at.span);
    transposed.set(cx, m);
  }
  return u;
}

/** Where an unknown-shape parameter was transposed, if it was. */
export const transposedAt = (cx: CheckContext, name: string): Span | undefined => transposed.get(cx)?.get(name);

const startsLowercase = (name: string) => /^[a-z]/.test(name) || /^[\u03b1-\u03c9]/.test(name) || /^(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|pi|rho|sigma|tau|upsilon|phi|chi|psi|omega)(_|$)/.test(name);

/** `x^{y}`: x to the power y elementwise, with broadcasting (a number exponent is `pow`, typed apart). */
export function tensorPower(cx: CheckContext, base: TExpr, exponent: TExpr, span: Span, diags: Diagnostic[], ast: readonly [Expr, Expr]): TExpr {
  if (exponent.k === 'leaf' && exponent.leaf === 'const' && !isPoison(exponent)) {
    // `x^{2}` written as an expression that is a number: the number power.
    if (isPoison(base)) return poison(span);
    if (base.shape === null) throw new Defer();
    return exponent.value === 1 ? base : op(cx, 'pow', [base], span, diags, 'a power', { p: exponent.value! });
  }
  return elementwise(cx, 'power', base, exponent, span, diags, 'a power `x^{y}`', ast);
}
