// A number written beyond float64's range (E077) is refused where it is
// written — in an equation, an exponent, an initial value, a function's body —
// instead of becoming ±Infinity in every backend (gpu.js cannot even write it
// into a kernel, which surfaced as a refusal with no position). Numbers that
// underflow to zero and the largest finite float64 are fine.

import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';

const cell = (body: string, init = '0') => `cell R {\n  input x : n_x\n  state a : n_a = ${init}\n  ${body}\n}\n`;

/** Codes and the text under each diagnostic's span. */
function refused(source: string): { code: string; text: string }[] {
  const r = compile(source);
  return r.diagnostics.filter((d) => d.severity === 'error').map((d) => ({ code: d.code, text: source.slice(d.span.start, d.span.end) }));
}

describe('numbers beyond float64 (E077)', () => {
  it('in an equation: each such number, in source order, and nothing else', () => {
    expect(refused(cell('a^<t> = tanh(W a^<t-1> + U x^<t> - 1e400 + 2E500)'))).toEqual([
      { code: 'E077', text: '1e400' },
      { code: 'E077', text: '2E500' },
    ]);
  });

  it('as an exponent, an initial value, and in the body of a function defined in the cell', () => {
    expect(refused(cell('a^<t> = tanh(W a^<t-1> + U x^<t>)^{1e999}')).map((d) => d.code)).toEqual(['E077']);
    expect(refused(cell('a^<t> = tanh(W a^<t-1> + U x^<t>)', '1e999'))).toEqual([{ code: 'E077', text: '1e999' }]);
    expect(refused(cell('g(v) = tanh(v * 1e309)\n  a^<t> = g(W a^<t-1> + U x^<t>)'))).toEqual([{ code: 'E077', text: '1e309' }]);
  });

  it('the largest finite float64 and numbers that round to zero compile', () => {
    for (const n of ['1.7976931348623157e308', '1e-999', '0.5e-320'])
      expect(refused(cell(`a^<t> = tanh(W a^<t-1> + U x^<t> * ${n})`))).toEqual([]);
  });
});
