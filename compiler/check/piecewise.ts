// check, the typing of the notation added for research cells: comparisons
// (`v ≥ 0`, 1 or 0), `cases(…)` (a select per arm, both branches computed) and
// the slices of a split left-hand side (`[f, i, o, g] = e`). typing.ts calls
// these from its one switch over expressions.

import type { CaseArm, CompareOp, Expr, Span } from '../../grammar/ast.ts';
import type { TExpr } from './typed-cell.ts';
import type { CheckContext } from './context.ts';
import { Defer, isPoison, poison, showShape } from './context.ts';
import { elementwise, op } from './shapes.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { dimScale, isUnknown } from '../ir/dims.ts';

type Go = (e: Expr) => TExpr;

/** `a ≥ b` is ge(a, b), `a ≤ b` is ge(b, a): 1 where it holds, 0 elsewhere, broadcast as `+` is. */
export function typeCompare(cx: CheckContext, e: Expr & { kind: 'compare' }, go: Go, diags: Diagnostic[]): TExpr {
  const l = go(e.left), r = go(e.right);
  const [name, a, b] = FLIP[e.op] ? [FLIP[e.op]!, r, l] : [e.op === '>=' ? 'ge' as const : 'gt' as const, l, r];
  return elementwise(cx, name, a, b, e.span, diags, 'a comparison', [e.left, e.right]);
}

const FLIP: Partial<Record<CompareOp, 'ge' | 'gt'>> = { '<=': 'ge', '<': 'gt' };

/**
 * `cases(a if c₁, b if c₂, d otherwise)` is select(c₁, a, select(c₂, b, d)): the first
 * arm whose condition holds. The last arm is taken wherever no earlier one holds,
 * so its condition (a paper's `x ≤ 0` after `x > 0`) is not evaluated; an
 * `otherwise` before the last arm would hide the arms after it.
 */
export function typeCases(cx: CheckContext, e: Expr & { kind: 'cases' }, go: Go, diags: Diagnostic[]): TExpr {
  const early = e.arms.slice(0, -1).find((a) => a.cond === null);
  if (early) {
    diags.push(D.badCases(early.value.span, 'an `otherwise` arm must come last in `cases`: the arms after it could never be taken', 'move it to the end'));
    return poison(e.span);
  }
  if (e.arms.length < 2) {
    diags.push(D.badCases(e.span, '`cases` needs two arms at least', 'write `cases(a if v ≥ 0, b otherwise)`'));
    return poison(e.span);
  }
  // Every arm but the last has a condition (checked above); the last one's is not evaluated.
  const guarded = e.arms.slice(0, -1).map((a) => ({ value: go(a.value), cond: go(a.cond!), arm: a }));
  let acc = go(e.arms[e.arms.length - 1]!.value);
  for (let i = guarded.length - 1; i >= 0; i--) {
    const { value, cond, arm } = guarded[i]!;
    acc = select(cx, cond, value, acc, i === 0 ? e.span : armSpan(arm), diags);
  }
  return acc;
}

/** An arm from its value to its condition: where a select of the later arms is reported. */
const armSpan = (arm: CaseArm): Span => ({ start: arm.value.span.start, end: (arm.cond ?? arm.value).span.end });

/** select(m, a, b), typed as an elementwise op of three operands (broadcasting, learning parameter shapes). */
function select(cx: CheckContext, m: TExpr, a: TExpr, b: TExpr, span: Span, diags: Diagnostic[]): TExpr {
  if (isPoison(m) || isPoison(a) || isPoison(b)) return poison(span);
  // Unify the branches with each other, then the condition with them, as `a + b` and `m * (a + b)` would;
  // parameters of unknown shape learn it here, on the leaves themselves.
  const branches = elementwise(cx, 'add', a, b, span, diags, 'the arms of `cases`');
  if (isPoison(branches)) return poison(span);
  const all = elementwise(cx, 'mul', m, branches, span, diags, 'a condition of `cases` and its arms');
  if (isPoison(all)) return poison(span);
  return op(cx, 'select', [m, a, b], span, diags, '`cases`');
}

/** Slice `index` of `count` equal slices of a vector: `[f, i, o, g] = e`. */
export function typePart(cx: CheckContext, e: Expr & { kind: 'part' }, go: Go, diags: Diagnostic[]): TExpr {
  const arg = go(e.arg);
  if (isPoison(arg)) return poison(e.span);
  if (arg.shape === null) throw new Defer();
  if (arg.shape.dims.length !== 1) {
    if (e.index === 0) diags.push(D.badSplit(e.span, e.count, showShape(cx, arg.shape), 'a split left-hand side `[f, i, o, g] = e` splits a vector; this is not one'));
    return poison(e.span);
  }
  const len = part(cx, arg.shape.dims[0]!, e.count);
  if (len === null) {
    if (e.index === 0) diags.push(D.badSplit(e.span, e.count, `a vector of ${showShape(cx, arg.shape).replace(/^vector\((.*)\)( per example)?$/, '$1')}`, `its length must be divisible by ${e.count}, one equal slice per name`));
    return poison(e.span);
  }
  return op(cx, 'slice', [arg], e.span, diags, 'a split', { offset: dimScale(len, e.index), len });
}

/**
 * d / count as a dimension: exact when every coefficient divides (`4 n_a` → n_a,
 * 12 → 3); a fresh unknown p with d = count·p when d holds an unknown it can solve
 * for (a parameter's row count not fixed yet); null when d cannot be split.
 */
function part(cx: CheckContext, d: Dim, count: number): Dim | null {
  const r = cx.solver.resolve(d);
  if (r.k % count === 0 && r.terms.every(([, c]) => c % count === 0)) return { terms: r.terms.map(([v, c]) => [v, c / count] as [string, number]), k: r.k / count };
  if (!r.terms.some(([v, c]) => isUnknown(v) && Math.abs(c) === 1)) return null;
  const p = cx.solver.fresh();
  return cx.solver.unify(r, dimScale(p, count)) === true ? p : null;
}
