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

import type { CellAst } from '../../grammar/ast.ts';
import { assemble, reportUnresolvedShapes } from './finish.ts';
import { finalDiagnostics, newContext } from './context.ts';
import { typeAll } from './typing.ts';
import { declarations, definitions, reportEmptyCell, scanReads } from './classify.ts';
import { dependencyOrder } from './order.ts';
import { expandPaperNotation } from './paper.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { TypedCell } from './typed-cell.ts';

// ---------------------------------------------------------------- the pipeline

export function check(source: CellAst): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
  const { ast, diagnostics: sugar } = expandPaperNotation(source);
  const cx = newContext(ast);
  cx.diags.push(...sugar);
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
