// The editor's highlighting reads the three spellings alike: the same equation
// written in Unicode, ASCII and LaTeX gets the same kinds of tokens.

import { StringStream } from '@codemirror/language';
import { describe, expect, it } from 'vitest';
import { celdaStream } from '../../web/lang.ts';

/** Each line's tokens as [text, style] (spaces left out). */
function tokens(text: string): [string, string | null][] {
  const state = celdaStream.startState!(2);
  const out: [string, string | null][] = [];
  for (const line of text.split('\n')) {
    const s = new StringStream(line, 2, 2);
    while (!s.eol()) {
      const style = celdaStream.token(s, state);
      if (s.current().trim() !== '') out.push([s.current(), style]);
      s.start = s.pos;
    }
  }
  return out;
}
const kinds = (text: string) => tokens(text).map(([, k]) => k);

describe('highlighting', () => {
  const unicode = 'Γ_u = σ(W_u[c^⟨t-1⟩, x^⟨t⟩] + b_u)';
  const ascii = 'Gamma_u = sigma(W_u[c^<t-1>, x^<t>] + b_u)';
  const latex = '\\Gamma_{u} = \\sigma(W_{u}[c^{<t-1>}, x^{<t>}] + b_{u})';

  it('colours an equation the same way in all three spellings', () => {
    const u = kinds(unicode);
    expect(u).toEqual(['variableName', 'operator', 'variableName.function', 'bracket', 'variableName.definition', 'bracket', 'variableName', 'meta', null, 'variableName', 'meta', 'bracket', 'operator', 'variableName.definition', 'bracket']);
    expect(kinds(ascii)).toEqual(u);
    expect(kinds(latex)).toEqual(u);
    expect(tokens(latex)[0]).toEqual(['\\Gamma_{u}', 'variableName']);
    expect(tokens('\\tilde{c}')[0]).toEqual(['\\tilde', 'variableName.special']);
  });

  it('knows keywords, dimensions, comments in # and %, numbers and time indices', () => {
    expect(tokens('cell GRU {\n  state c : n_a = 0   # c^<0>\n}')).toEqual([
      ['cell', 'keyword'], ['GRU', 'variableName'], ['{', 'bracket'],
      ['state', 'keyword'], ['c', 'typeName'], [':', 'operator'], ['n_a', 'typeName'], ['=', 'operator'], ['0', 'number'], ['# c^<0>', 'comment'],
      ['}', 'bracket'],
    ]);
    expect(tokens('% a LaTeX comment')).toEqual([['% a LaTeX comment', 'comment']]);
    expect(tokens('a^{<t-1>}')).toEqual([['a', 'variableName'], ['^{<t-1>}', 'meta']]);
    expect(tokens('\\tanh(x)')[0]).toEqual(['\\tanh', 'variableName.function']);
  });

  it('gives a name that is also a function the function colour only when applied', () => {
    expect(tokens('tanh(x)')[0]).toEqual(['tanh', 'variableName.function']);
    expect(tokens('g_1 = tanh')).toEqual([['g_1', 'variableName'], ['=', 'operator'], ['tanh', 'variableName']]);
  });
});
