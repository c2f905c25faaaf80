// An expression nested far past what the checker accepts never overflows the
// stack before the checker refuses it (E028): the paper-notation rewrites, which
// run first, walk a shallow cell only and leave a deep equation to the checker.
// (Seen in CI: a 3000-deep `---…x` parsed, then overflowed in paper.ts's walk.)

import { describe, expect, it } from 'vitest';
import type { CellAst, Expr } from '../../../grammar/ast.ts';
import { parse } from '../../../grammar/parse.ts';
import { check } from '../../../compiler/check/check.ts';

const cellAst = (source: string): CellAst => {
  const r = parse(source);
  if (!r.ok) throw new Error('the test cell does not parse');
  return r.ast.cells[0]!;
};

/** The equation's right-hand side under `levels` negations, built without the parser (which has its own limit). */
function deepen(ast: CellAst, levels: number): CellAst {
  const [eq, ...rest] = ast.equations;
  let rhs: Expr = eq!.rhs;
  for (let i = 0; i < levels; i++) rhs = { kind: 'neg', arg: rhs, span: eq!.rhs.span } as Expr;
  return { ...ast, equations: [{ ...eq!, rhs }, ...rest] };
}

describe('a cell nested 50 000 levels deep', () => {
  it('is refused with E028 (and no throw), with and without paper notation to rewrite', () => {
    for (const source of [
      'cell R {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>)\n}\n',
      // time subscripts and a function defined in the cell: the rewrites run on the other equations
      'cell R {\n  input x : n_x\n  state a : n_a\n  g(v) = tanh(v)\n  a_t = g(W a_{t-1} + U x_t)\n  y = V a_t\n  output y : n_y\n}\n',
    ]) {
      const codes = check(deepen(cellAst(source), 50_000)).diagnostics.map((d) => d.code);
      expect(codes).toContain('E028');
    }
    // the plain cell: that one diagnostic and nothing else
    const plain = 'cell R {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>)\n}\n';
    expect(check(deepen(cellAst(plain), 50_000)).diagnostics.map((d) => d.code)).toEqual(['E028']);
  });
});
