// check: AST → typed cell. Classifies names (parameter, input, state, output,
// intermediate, named function), enforces the time rules, sorts equations by data
// dependency (finding cycles), and infers symbolic shapes by unification.
// Collects diagnostics instead of stopping at the first.
//
// The stages share one context object (check-context.ts) and run top to bottom:
//   check-names     declarations, definitions, aliases, time rules, states
//   check-order     dependency order and cycles
//   check-exprs     typing every equation (with check-reads: what a name
//                   refers to, and check-shapes: products, elementwise, params)
//   check-assemble  unknown shapes, names for inferred dims, the TypedCell

import type { CellAst, Span } from '../../grammar/ast.ts';
import { assemble, reportUnresolvedShapes } from './finish.ts';
import { finalDiagnostics, newContext } from './context.ts';
import { typeAll } from './typing.ts';
import { declarations, definitions, reportEmptyCell, scanReads } from './classify.ts';
import { dependencyOrder } from './order.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import type { Attrs, OpName, Shape } from '../ir/ops.ts';

// ---------------------------------------------------------------- the typed cell

export type LeafKind = 'param' | 'input' | 'prev' | 'ref' | 'const';

export type TExpr =
  | { readonly k: 'leaf'; readonly leaf: LeafKind; readonly name: string; readonly step?: number; readonly value?: number; readonly span: Span; shape: Shape | null }
  | { readonly k: 'op'; readonly op: OpName; readonly args: readonly TExpr[]; readonly attrs: Attrs; readonly span: Span; shape: Shape | null };

export interface TypedEq {
  /** The value defined: `Gamma_u` (intermediate), `c` at <t>, or `a` at a concrete step. */
  readonly name: string;
  readonly step?: number;
  readonly expr: TExpr;
  readonly span: Span;
}

export interface TypedCell {
  readonly name: string;
  readonly span: Span;
  /** `step`: one step t-1 → t; `unrolled`: a fixed number of concrete steps. */
  readonly mode: 'step' | 'unrolled';
  readonly steps: number;
  readonly inputs: readonly { name: string; dim: Dim }[];
  readonly states: readonly { name: string; dim: Dim; init: number }[];
  readonly outputs: readonly { name: string; shape: Shape }[];
  readonly params: readonly { name: string; shape: readonly Dim[] }[];
  /** Every dimension variable: declared ones first, then inferred ones (named `n_y` …). */
  readonly dims: readonly string[];
  readonly dimDefaults: Readonly<Record<string, number>>;
  readonly equations: readonly TypedEq[];
  /** Shapes of every defined value (`Gamma_u`, `c`), for printing. */
  readonly shapes: Readonly<Record<string, Shape>>;
}

// ---------------------------------------------------------------- the pipeline

export function check(ast: CellAst): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
  const cx = newContext(ast);
  declarations(cx);
  definitions(cx);
  reportEmptyCell(cx);
  scanReads(cx);
  const order = dependencyOrder(cx);
  const { equations, stuck } = typeAll(cx, order);
  reportUnresolvedShapes(cx, stuck);
  const diagnostics = finalDiagnostics(cx);
  if (diagnostics.some((d) => d.severity === 'error')) return { cell: null, diagnostics };
  return { cell: assemble(cx, equations), diagnostics };
}
