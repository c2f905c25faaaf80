// check: AST → typed cell (typed-cell.ts). Classifies names (parameter, input,
// state, output, intermediate, named function), enforces the time rules, sorts
// equations by data dependency (finding cycles), and infers symbolic shapes by
// unification. Collects diagnostics instead of stopping at the first.
//
// The stages share one context object (context.ts) and run top to bottom; each
// imports only the bottom modules (typed-cell.ts, context.ts, expr-queries.ts)
// and the stages before it:
//   classify     declarations, definitions, aliases, time rules, states
//   order        dependency order and cycles
//   typing       typing every equation (with references: what a name refers
//                to, and shapes: products, elementwise, params)
//   finish       unknown shapes, names for inferred dims, the TypedCell

import type { CellAst, Expr } from '../../grammar/ast.ts';
import { D, type Diagnostic } from '../diagnostics.ts';
import { nonFiniteNumbers } from './expr-queries.ts';
import { assemble, reportUnresolvedShapes } from './finish.ts';
import { finalDiagnostics, newContext } from './context.ts';
import { typeAll } from './typing.ts';
import { declarations, definitions, reportEmptyCell, scanReads } from './classify.ts';
import { dependencyOrder } from './order.ts';
import { expandPaperNotation } from './paper.ts';
import type { TypedCell } from './typed-cell.ts';

// ---------------------------------------------------------------- the pipeline

/** E077 for every number written beyond float64, wherever it is written (each once, in source order). */
function outOfRange(ast: CellAst): Diagnostic[] {
  const exprs: Expr[] = [
    ...ast.decls.flatMap((d) => (d.init ? [d.init] : [])),
    ...(ast.functions ?? []).map((f) => f.body),
    ...ast.equations.map((e) => e.rhs),
    ...(ast.splits ?? []).map((s) => s.rhs),
  ];
  const found = new Map(exprs.flatMap(nonFiniteNumbers).map((n) => [n.span.start, n] as const));
  return [...found.values()].sort((a, b) => a.span.start - b.span.start).map((n) => D.numberOutOfRange(n.span, n.what));
}

export function check(source: CellAst): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
  const { ast, diagnostics: sugar } = expandPaperNotation(source);
  const cx = newContext(ast);
  cx.diags.push(...sugar, ...outOfRange(source));
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
