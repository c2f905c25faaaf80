// What the checker's stages share: one plain context object, filled in by the
// stages in pipeline order (declarations and definitions first, then shapes),
// and the small questions every stage asks of it.

import type { CellAst, Equation, Expr, Span } from '../../grammar/ast.ts';
import type { LeafKind, TExpr } from './typed-cell.ts';
import { show, showTimed } from './expr-queries.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { DimSolver, dimToString } from '../ir/dims.ts';
import type { OpName, Shape } from '../ir/ops.ts';
import { shapeToString } from '../ir/ops.ts';

/** A function name, possibly through a named alias (`g_1 = tanh`). */
export interface FnAlias { readonly op: OpName; readonly span: Span }

export interface ParamInfo {
  shape: Dim[] | null;
  readonly declared: boolean;
  readonly span: Span;
  /** The use the shape was learned from (none for a declared shape), for "used with two shapes". */
  learnedAt?: Span;
}

export interface Def {
  readonly name: string;
  readonly step?: number; // concrete step (unrolled), undefined for <t> or no time
  readonly timed: boolean; // defined at <t> (or a concrete step), not an intermediate
  readonly eq: Equation;
  readonly rhs: Expr;
}

export interface CheckContext {
  readonly ast: CellAst;
  readonly diags: Diagnostic[];
  readonly solver: DimSolver;
  /** Declared dimension variables (`n_a`), which unification may not rename. */
  readonly rigid: Set<string>;
  /** Default sizes (`dim n_a = 32`), by dimension name; no prototype, so `constructor` finds nothing. */
  readonly dimDefaults: Record<string, number>;
  readonly inputs: Map<string, { dim: Dim; span: Span }>;
  readonly declStates: Map<string, { init: Expr | null; span: Span }>;
  /** States declared `state m : 1`: a scalar per example, not a vector of one element. */
  readonly scalarStates: Set<string>;
  readonly declOutputs: Map<string, { span: Span }>;
  readonly params: Map<string, ParamInfo>;
  readonly functions: Map<string, FnAlias>;
  readonly defs: Map<string, Def>; // key(name, step)
  readonly types: Map<string, Shape>; // key(name, step) → shape of the defined value
  readonly nameDims: Map<string, Dim>; // a time-indexed name's vector dim, shared over steps
  /** `step`: written for a general step <t>; `unrolled`: at concrete steps. */
  mode: 'step' | 'unrolled';
  readonly inits: Map<string, { value: number; span: Span }>; // unrolled `a^<0> = …` and state decl inits
  readonly readPrev: Set<string>; // names read at <t-1>
  /** Names whose equation was rejected (bad time index, …): reading them reports nothing more. */
  readonly broken: Set<string>;
  /** Definitions whose expression failed to type: what reads them is not checked against them. */
  readonly poisoned: Set<string>;
  /** Once-only diagnostics (an unknown name read in five places is one mistake), by key. */
  readonly onceKeys: Map<Diagnostic, string>;
  /** The equations of the cell that are not too deep to check. */
  equations: readonly Equation[];
  /** The cell has no equations at all (reported once, as such). */
  empty: boolean;
}

export function newContext(ast: CellAst): CheckContext {
  return {
    ast, diags: [], solver: new DimSolver(), rigid: new Set(), dimDefaults: Object.create(null) as Record<string, number>,
    inputs: new Map(), declStates: new Map(), scalarStates: new Set(), declOutputs: new Map(), params: new Map(), functions: new Map(),
    defs: new Map(), types: new Map(), nameDims: new Map(), mode: 'step', inits: new Map(), readPrev: new Set(),
    broken: new Set(), poisoned: new Set(), onceKeys: new Map(), equations: [], empty: false,
  };
}

export const key = (name: string, step?: number) => (step === undefined ? name : `${name}@${step}`);

export const vec = (d: Dim, batch = true): Shape => ({ batch, dims: [d] });
export const scalarShape: Shape = { batch: false, dims: [] };
/** A scalar per example (`state m : 1`, `sum(v)`, `uᵀ v`). */
export const perExampleScalar: Shape = { batch: true, dims: [] };

// ---------------------------------------------------------------- diagnostics

/** A diagnostic reported once per key: the first in source order is kept. */
export function once(cx: CheckContext, diags: Diagnostic[], k: string, d: Diagnostic): void {
  cx.onceKeys.set(d, k);
  diags.push(d);
}

/** In source order, each once-only key kept at its first place. */
export function finalDiagnostics(cx: CheckContext): Diagnostic[] {
  const sorted = cx.diags.map((d, i) => [d, i] as const).sort(([a, i], [b, j]) => a.span.start - b.span.start || i - j).map(([d]) => d);
  const seen = new Set<string>();
  return sorted.filter((d) => {
    const k = cx.onceKeys.get(d);
    if (k === undefined) return true;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A shape for a message; dimensions not known yet show as `?`. */
export function showShape(cx: CheckContext, s: Shape | null): string {
  if (!s) return 'unknown';
  return shapeToString({ batch: s.batch, dims: s.dims.map((d) => cx.solver.resolve(d)) }).replace(/\?\d+/g, '?');
}

export function showDim(cx: CheckContext, d: Dim): string {
  return dimToString(cx.solver.resolve(d)).replace(/\?\d+/g, '?');
}

/** A definition as messages show it: `Γ_u`, `c^<t>`, `a^<2>`. */
export function display(d: Pick<Def, 'name' | 'step' | 'timed'>): string {
  return d.step !== undefined ? showTimed(d.name, String(d.step)) : d.timed ? showTimed(d.name, 't') : show(d.name);
}

// ---------------------------------------------------------------- names

/** Defined at a time index (a state or an output), not an intermediate. */
export function isTimedName(cx: CheckContext, name: string) {
  for (const d of cx.defs.values()) if (d.name === name && d.timed) return true;
  return false;
}

export function timedNames(cx: CheckContext): string[] {
  return [...new Set([...cx.defs.values()].filter((d) => d.timed).map((d) => d.name))];
}

/** States are the names read at <t-1> and the declared ones. */
export function isState(cx: CheckContext, name: string) {
  return cx.mode === 'step' && (cx.readPrev.has(name) || cx.declStates.has(name)) && isTimedName(cx, name);
}

/** The vector dim of a time-indexed name, a fresh unknown until something fixes it. */
export function nameDim(cx: CheckContext, name: string): Dim {
  let d = cx.nameDims.get(name);
  if (!d) { d = cx.solver.fresh(); cx.nameDims.set(name, d); }
  return d;
}

// ---------------------------------------------------------------- typed leaves

/** Thrown while typing an expression that needs a shape not known yet: retry in a later pass. */
export class Defer extends Error {}

export function leaf(kind: LeafKind, name: string, span: Span, shape: Shape | null, step?: number): TExpr {
  return step === undefined ? { k: 'leaf', leaf: kind, name, span, shape } : { k: 'leaf', leaf: kind, name, step, span, shape };
}

/** The value of an expression already reported as wrong: nothing built on it is checked again. */
export function poison(span: Span): TExpr {
  return { k: 'leaf', leaf: 'const', name: '', value: NaN, span, shape: null };
}

/** A parameter of unknown shape is not poison: it waits for a use to fix its shape. */
export function isPoison(e: TExpr) {
  return e.shape === null && !(e.k === 'leaf' && e.leaf === 'param');
}
