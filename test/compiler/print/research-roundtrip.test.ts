// Property: random cells with the research notation — a split left-hand side
// into 2 to 4 parts, cases of 2 or 3 arms over every comparison, functions
// defined in the cell with and without `;`, comparisons used as values — print
// in each spelling to text that parses back to the same graph.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell } from '../../../compiler/print/notation.ts';
import { canonical } from '../../support/cells.ts';

const COMPARE = ['>=', '>', '<=', '<'] as const;

/** An operand: one of the split's parts, the state, a constant. */
const operand = (parts: number) => fc.oneof(
  fc.nat(parts - 1).map((i) => `p${i}`),
  fc.constant('h^<t-1>'),
  // (not 0: 0 * v simplifies to a vector of zeros, which prints as the number 0)
  fc.constantFrom('0.5', '-1'),
);

/** What a condition compares: an operand or 0. */
const side = (parts: number) => fc.oneof(operand(parts), fc.constant('0'));

/** A value of an arm: an operand, or an activation or a product of operands. */
const value = (parts: number) => fc.oneof(
  operand(parts),
  // (not of a constant: it would fold to a number printed to 12 digits)
  fc.tuple(fc.constantFrom('tanh', 'sigmoid', 'relu'), fc.oneof(fc.nat(parts - 1).map((i) => `p${i}`), fc.constant('h^<t-1>'))).map(([f, a]) => `${f}(${a})`),
  fc.tuple(operand(parts), operand(parts)).map(([a, b]) => `${a} * ${b}`),
);

const cases = (parts: number) => fc.tuple(
  fc.array(fc.tuple(value(parts), side(parts), fc.constantFrom(...COMPARE), side(parts)), { minLength: 1, maxLength: 2 }),
  value(parts),
).map(([arms, last]) => `cases(${arms.map(([v, a, op, b]) => `${v} if ${a} ${op} ${b}`).join(', ')}, ${last} otherwise)`);

const cellSource = fc.integer({ min: 2, max: 4 }).chain((parts) => fc.record({
  parts: fc.constant(parts),
  body: cases(parts),
  helper: cases(1).map((c) => c.replaceAll('p0', 'v')),
  semi: fc.boolean(),
  asValue: fc.tuple(operand(parts), fc.constantFrom(...COMPARE), operand(parts)),
})).map(({ parts, body, helper, semi, asValue }) => {
  const names = Array.from({ length: parts }, (_, i) => `p${i}`);
  const def = semi ? `g(v; w) = ${helper} * w` : `g(v) = ${helper}`;
  const call = semi ? 'g(p0; b)' : 'g(p0)';
  return `cell C {
  input x : n_x
  state h : n_h
  [${names.join(', ')}] = W x^<t> + U h^<t-1>
  ${def}
  h^<t> = tanh(${body} + ${call} + (${asValue.join(' ')}) * p1)
}`;
});

describe('research notation: printed cells parse back to the same graph', () => {
  it('random cells with splits, cases, comparisons and functions, in every spelling', () => {
    fc.assert(fc.property(cellSource, fc.constantFrom('unicode', 'ascii', 'latex' as const), (src, sp) => {
      const r = compile(src);
      expect(r.diagnostics.map((d) => d.message), src).toEqual([]);
      const cell = r.cells[0]!;
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics.map((d) => d.message), text).toEqual([]);
      expect(canonical(again.cells[0]!.forward), `${src}\n---\n${text}`).toBe(canonical(cell.forward));
    }), { numRuns: 150, seed: 13 });
  }, 120_000);
});
