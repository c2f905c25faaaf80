import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from '../../grammar/parse.ts';
import { ACCENTS, GREEK, GREEK_COMMANDS, LATEX_FUNCTIONS, spell, splitCanonical, type Spelling } from '../../grammar/names.ts';

/** The canonical name of `written` as the parser reads it, on both sides of an equation. */
function canonical(written: string): string {
  const result = parse(`${written} = ${written}`);
  if (!result.ok) throw new Error(`cannot parse ${JSON.stringify(written)}: expected ${result.problem.expected} at ${result.problem.span.start}`);
  const eq = result.ast.cells[0].equations[0];
  const rhs = eq.rhs;
  expect(rhs.kind === 'var' && rhs.name).toBe(eq.lhs.name);
  return eq.lhs.name;
}

describe('spell', () => {
  const cases: [string, Spelling, string][] = [
    ['Gamma_u', 'unicode', 'Γ_u'], ['Gamma_u', 'latex', '\\Gamma_{u}'], ['Gamma_u', 'ascii', 'Gamma_u'],
    ['c_tilde', 'unicode', 'c\u0303'], ['c_tilde', 'latex', '\\tilde{c}'],
    ['y_hat', 'unicode', 'ŷ'], ['y_hat', 'latex', '\\hat{y}'],
    ['W_aa', 'unicode', 'W_aa'], ['W_aa', 'latex', 'W_{aa}'],
    ['sigma', 'unicode', 'σ'], ['sigma', 'latex', '\\sigma'],
    ['c_tilde_u', 'unicode', 'c\u0303_u'], ['c_tilde_u', 'latex', '\\tilde{c}_{u}'],
    ['b_a_1', 'latex', 'b_{a_{1}}'], ['tanh', 'latex', '\\tanh'], ['softmax', 'latex', '\\operatorname{softmax}'],
    ['x_bar', 'unicode', 'x\u0304'], ['x_dot', 'latex', '\\dot{x}'], ['phi', 'unicode', 'φ'],
  ];
  it.each(cases)('%s in %s is %s', (name, spelling, expected) => {
    expect(spell(name, spelling)).toBe(expected);
  });

  it('splits a canonical name into base, accents and subscripts', () => {
    expect(splitCanonical('c_tilde_hat_u_1')).toEqual({ base: 'c', accents: ['tilde', 'hat'], subscripts: ['u', '1'] });
    expect(splitCanonical('W_aa_hat')).toEqual({ base: 'W', accents: [], subscripts: ['aa', 'hat'] });
  });
});

describe('the parser and the tables agree', () => {
  it('reads every Greek command', () => {
    for (const [command, name] of Object.entries(GREEK_COMMANDS)) expect(canonical(command)).toBe(name);
  });

  it('reads every Greek letter', () => {
    for (const g of GREEK) expect(canonical(g.unicode)).toBe(g.name);
    for (const [letter, name] of [['ϕ', 'phi'], ['ϵ', 'epsilon'], ['ϑ', 'theta'], ['ς', 'sigma'], ['ϱ', 'rho'], ['ϖ', 'pi'], ['ϰ', 'kappa'], ['ϴ', 'Theta']]) {
      expect(canonical(letter)).toBe(name);
    }
  });

  it('reads every LaTeX function and accent', () => {
    for (const f of LATEX_FUNCTIONS) expect(canonical(`\\${f}`)).toBe(f);
    for (const a of ACCENTS) {
      for (const command of a.latex) expect(canonical(`${command}{x}_1`)).toBe(`x_${a.name}_1`);
      expect(canonical(`x${a.mark}_1`)).toBe(`x_${a.name}_1`);
    }
  });
});

// Canonical names: a base (an ASCII word, often a Greek letter's name), accents, subscripts.
const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,5}$/);
const base = fc.oneof(word, fc.constantFrom(...GREEK.map((g) => g.name), ...LATEX_FUNCTIONS, 'sigmoid', 'softmax', 'c', 'y', 'W'));
const accents = fc.array(fc.constantFrom(...ACCENTS.map((a) => a.name)), { maxLength: 2 });
const subscripts = fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,4}$/), { maxLength: 3 });
const canonicalNames = fc
  .tuple(base, accents, subscripts)
  .map(([b, a, s]) => [b, ...a, ...s].join('_'));

describe('round trip', () => {
  it('parses every spelling of a canonical name back to it', () => {
    fc.assert(
      fc.property(canonicalNames, fc.constantFrom<Spelling>('ascii', 'unicode', 'latex'), (name, spelling) => {
        expect(canonical(spell(name, spelling))).toBe(name);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
