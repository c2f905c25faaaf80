// The pipeline, top to bottom: parse → check → build → grad → simplify.

import type { CellAst } from '../grammar/ast.ts';
import { parse } from '../grammar/parse.ts';
import type { TypedCell } from './check/typed-cell.ts';
import { check } from './check/check.ts';
import { build } from './passes/build.ts';
import type { Diagnostic } from './diagnostics.ts';
import { D } from './diagnostics.ts';
import { grad } from './passes/grad.ts';
import type { Graph } from './ir/graph.ts';
import { GraphError } from './ir/graph.ts';
import { simplify } from './passes/simplify.ts';

export interface CompiledCell {
  readonly name: string;
  readonly typed: TypedCell;
  /** One step: (params, states at t-1, inputs at t) → (states at t, outputs at t). */
  readonly forward: Graph;
  /** Its VJP: (params, states at t-1, inputs at t, cotangents) → (gradients of params, inputs, states at t-1). */
  readonly backward: Graph;
  readonly source: string;
}

export interface CompileResult {
  readonly cells: readonly CompiledCell[];
  readonly diagnostics: readonly Diagnostic[];
}

export function compileCell(ast: CellAst, source: string): { cell: CompiledCell | null; diagnostics: Diagnostic[] } {
  const { cell: typed, diagnostics } = check(ast);
  if (!typed) return { cell: null, diagnostics };
  try {
    const forward = simplify(build(typed));
    const backward = simplify(grad(forward));
    return { cell: { name: typed.name, typed, forward, backward, source }, diagnostics };
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    return { cell: null, diagnostics: [...diagnostics, D.internal(ast.nameSpan, e.message)] };
  }
}

export function compile(source: string, opts: { defaultCellName?: string } = {}): CompileResult {
  const parsed = parse(source, opts);
  if (!parsed.ok) {
    const p = parsed.problem;
    return { cells: [], diagnostics: [D.syntax(p.span, p.expected, p.found)] };
  }
  const cells: CompiledCell[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, CellAst>();
  for (const ast of parsed.ast.cells) {
    const first = seen.get(ast.name);
    if (first) { diagnostics.push(D.duplicateCell(ast.nameSpan, ast.name, first.nameSpan)); continue; }
    seen.set(ast.name, ast);
    const r = compileCell(ast, source);
    diagnostics.push(...r.diagnostics);
    if (r.cell) cells.push(r.cell);
  }
  return { cells, diagnostics };
}
