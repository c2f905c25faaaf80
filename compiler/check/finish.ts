// check, wrapping up: shapes that stayed unknown or contradict each other,
// names for the dims inference invented (ŷ's size → `n_y`), and the TypedCell.

import type { TExpr, TypedCell, TypedEq } from './typed-cell.ts';
import { freeVars, show } from './expr-queries.ts';
import type { CheckContext } from './context.ts';
import { isState, isTimedName, nameDim, showShape, timedNames, vec } from './context.ts';
import { deps } from './order.ts';
import { lastStep } from './references.ts';
import { D } from '../diagnostics.ts';
import { transposedAt } from './reductions.ts';
import type { Dim } from '../ir/dims.ts';
import { dimVar, isUnknown, substDim } from '../ir/dims.ts';
import type { Shape } from '../ir/ops.ts';

/** Parameters whose shape no use fixed, and dims the cell forces to two values. */
export function reportUnresolvedShapes(cx: CheckContext, stuck: ReadonlySet<string>): void {
  // After another error, an unknown shape is most likely its consequence.
  // And an equation that waits on another stuck one is not where the shape is
  // missing: only parameters of equations stuck on their own are reported.
  const quiet = cx.diags.some((d) => d.severity === 'error');
  const own = new Set<string>();
  for (const k of stuck) {
    const def = cx.defs.get(k)!;
    if (deps(cx, def).some((dep) => stuck.has(dep))) continue;
    for (const v of freeVars(def.rhs)) if (v.time === null) own.add(v.name);
  }
  for (const [name, p] of cx.params) if (!p.shape && !quiet && (own.has(name) || own.size === 0)) {
    const t = transposedAt(cx, name);
    cx.diags.push(t ? D.ambiguousTranspose(t, show(name)) : D.cannotInfer(p.span, show(name)));
  }
  for (const [a, b] of cx.solver.contradictions()) cx.diags.push(D.shapeMismatch(cx.ast.nameSpan, 'the cell', showShape(cx, vec(a)), showShape(cx, vec(b))));
}

/**
 * Names for the unknown dims, unknown id → name: an input's or a timed value's
 * size after it (ŷ → `n_y`), then whatever is left after a parameter (`n_W_0`).
 */
function nameUnknownDims(cx: CheckContext): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set(cx.rigid);
  const nameFor = (d: Dim, hint: string) => {
    const r = cx.solver.resolve(d);
    if (r.terms.length === 1 && r.k === 0 && r.terms[0]![1] === 1 && isUnknown(r.terms[0]![0]) && !names.has(r.terms[0]![0])) {
      let n = `n_${hint}`;
      for (let i = 2; taken.has(n); i++) n = `n_${hint}${i}`;
      taken.add(n);
      names.set(r.terms[0]![0], n);
    }
  };
  const base = (name: string) => name.replace(/_(hat|tilde|bar|dot)$/, '').replace(/_(hat|tilde|bar|dot)_/, '_');
  for (const [name, i] of cx.inputs) nameFor(i.dim, base(name));
  for (const [name, d] of cx.nameDims) if (isTimedName(cx, name)) nameFor(d, base(name));
  for (const [name, [, c]] of cx.nameMatrices) if (isTimedName(cx, name)) nameFor(c, `${base(name)}_cols`);
  for (const [name, p] of cx.params) p.shape?.forEach((d, i) => nameFor(d, `${name}_${i}`));
  return names;
}

/**
 * Which timed values are states: in a step cell, those read at <t-1> or
 * declared; in an unrolled cell, those with an initial value, declared, or
 * read at another step than their equation's.
 */
function stateNames(cx: CheckContext, timed: readonly string[]): string[] {
  if (cx.mode === 'step') return timed.filter((n) => isState(cx, n));
  const defs = [...cx.defs.values()];
  return timed.filter((n) => cx.inits.has(n) || cx.declStates.has(n) || defs.some((d) => freeVars(d.rhs).some((v) => v.name === n && v.time?.kind === 'abs' && v.time.step !== d.step)));
}

export function assemble(cx: CheckContext, eqs: readonly TypedEq[]): TypedCell {
  const names = nameUnknownDims(cx);
  const fin = (d: Dim): Dim => substDim(cx.solver.resolve(d), (v) => (isUnknown(v) ? dimVar(names.get(v) ?? v) : undefined));
  const finShape = (s: Shape): Shape => ({ batch: s.batch, dims: s.dims.map(fin) });
  const finExpr = (e: TExpr): TExpr => {
    const shape = e.shape && finShape(e.shape);
    if (e.k === 'leaf') return { ...e, shape };
    // Attributes may hold dims solved after they were made: the slices of a split left-hand side,
    // a bcast's target for a dimension used as a number, the row of ones of `diag(v) A`.
    const a = e.attrs;
    const attrs = { ...a, ...(a.offset ? { offset: fin(a.offset) } : {}), ...(a.len ? { len: fin(a.len) } : {}), ...(a.total ? { total: fin(a.total) } : {}), ...(a.shape ? { shape: finShape(a.shape) } : {}) };
    return { ...e, args: e.args.map(finExpr), attrs, shape };
  };
  const timed = timedNames(cx);
  const states = stateNames(cx, timed);
  const outputs = timed.filter((n) => !states.includes(n));
  // Keyed by names from the source: no prototype, so an output named `toString` is only itself.
  const shapes: Record<string, Shape> = Object.create(null) as Record<string, Shape>;
  for (const [k, s] of cx.types) shapes[k.split('@')[0]!] = finShape(s);
  const dims = [...cx.rigid, ...new Set(names.values())];
  return {
    name: cx.ast.name,
    span: cx.ast.span,
    mode: cx.mode,
    steps: cx.mode === 'unrolled' ? lastStep(cx) : 1,
    inputs: [...cx.inputs].map(([name, i]) => ({ name, dim: fin(i.dim) })),
    states: states.map((name) => {
      const m = cx.nameMatrices.get(name); // a matrix per example: rows and columns
      const init = cx.inits.get(name)?.value ?? 0;
      if (m) return { name, dim: fin(m[0]), cols: fin(m[1]), init };
      return { name, dim: fin(nameDim(cx, name)), init, ...(cx.scalarStates.has(name) ? { scalar: true as const } : {}) };
    }),
    outputs: outputs.map((name) => ({ name, shape: shapes[name]! })),
    params: [...cx.params].filter(([, p]) => p.shape).map(([name, p]) => ({ name, shape: p.shape!.map(fin) })),
    dims: dims.filter((d) => !d.startsWith('?')),
    dimDefaults: Object.assign(Object.create(null) as Record<string, number>, cx.dimDefaults),
    equations: eqs.map((q) => ({ ...q, expr: finExpr(q.expr) })),
    shapes,
  };
}
