// Random cells whose states are diagonal linear recurrences, h^<t> = a^<t> ⊙ h^<t-1> + b^<t>
// with a and b any mix of gates and projections of the input, written as celda
// source: the property tests of the scans (test/compiler/lower/scan.test.ts).
// The state enters through sums, differences, negation, products with an input
// coefficient and quotients by a positive one, nested; a cell has one or two such
// states and an output read from them.

import fc from 'fast-check';

/** A coefficient that depends on the input only. */
export type Coef = { readonly k: 'gate' | 'tanh' | 'proj' } | { readonly k: 'const'; readonly v: number };

/** An expression linear in the state. */
export type Lin =
  | { readonly k: 'h' }
  | { readonly k: 'plus' | 'minus' | 'minusFrom'; readonly l: Lin; readonly c: Coef }
  | { readonly k: 'times'; readonly l: Lin; readonly c: Coef; readonly left: boolean }
  | { readonly k: 'over'; readonly l: Lin }
  | { readonly k: 'neg'; readonly l: Lin }
  | { readonly k: 'sum'; readonly l: Lin; readonly r: Lin };

const coef: fc.Arbitrary<Coef> = fc.oneof(
  fc.constantFrom<Coef>({ k: 'gate' }, { k: 'tanh' }, { k: 'proj' }),
  fc.record({ k: fc.constant('const' as const), v: fc.constantFrom(0.25, 0.5, 0.9, 2) }),
);

export const randomLin: fc.Arbitrary<Lin> = fc.letrec<{ lin: Lin }>((tie) => ({
  lin: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'lin', depthSize: 'small' },
    fc.constant<Lin>({ k: 'h' }),
    fc.record({ k: fc.constantFrom('plus' as const, 'minus' as const, 'minusFrom' as const), l: tie('lin'), c: coef }),
    fc.record({ k: fc.constant('times' as const), l: tie('lin'), c: coef, left: fc.boolean() }),
    fc.record({ k: fc.constant('over' as const), l: tie('lin') }),
    fc.record({ k: fc.constant('neg' as const), l: tie('lin') }),
    fc.record({ k: fc.constant('sum' as const), l: tie('lin'), r: tie('lin') }),
  ),
})).lin;

/** One or two linear states and whether the cell has an output of its own. */
export const randomLinearCell = fc.record({ states: fc.array(randomLin, { minLength: 1, maxLength: 2 }), output: fc.boolean() });

/** The celda source of a random linear cell (dimension n for everything). */
export function linearCellSource(spec: { readonly states: readonly Lin[]; readonly output: boolean }): string {
  let k = 0;
  const fresh = () => ++k;
  const c = (x: Coef): string => {
    const i = fresh();
    switch (x.k) {
      case 'gate': return `σ(W_${i} x^<t> + b_${i})`;
      case 'tanh': return `tanh(W_${i} x^<t>)`;
      case 'proj': return `(W_${i} x^<t>)`;
      case 'const': return String(x.v);
    }
  };
  const lin = (l: Lin, h: string): string => {
    switch (l.k) {
      case 'h': return `${h}^<t-1>`;
      case 'plus': return `(${lin(l.l, h)} + ${c(l.c)})`;
      case 'minus': return `(${lin(l.l, h)} - ${c(l.c)})`;
      case 'minusFrom': return `(${c(l.c)} - ${lin(l.l, h)})`;
      case 'times': return l.left ? `(${c(l.c)} * ${lin(l.l, h)})` : `(${lin(l.l, h)} * ${c(l.c)})`;
      case 'over': { const i = fresh(); return `(${lin(l.l, h)} / (1 + exp(W_${i} x^<t>)))`; }
      case 'neg': return `(-${lin(l.l, h)})`;
      case 'sum': return `(${lin(l.l, h)} + ${lin(l.r, h)})`;
    }
  };
  const names = spec.states.map((_, i) => `h${i + 1}`);
  const lines = ['cell Linear {', '  input x : n', ...names.map((h) => `  state ${h} : n`)];
  spec.states.forEach((l, i) => lines.push(`  ${names[i]}^<t> = ${lin(l, names[i]!)}`));
  if (spec.output) lines.push(`  y^<t> = tanh(${names.map((h) => `${h}^<t>`).join(' + ')})`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
