// Rendering diagnostics on long lines: columns and carets counted by grapheme
// (compiler/diagnostics.ts), in windows so that a line of hundreds of thousands
// of characters renders promptly and the same as segmenting it whole.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.ts';
import { graphemes, render } from '../../compiler/diagnostics.ts';

const whole = (s: string) => Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s), (g) => g.segment);

// Pieces that make multi-code-unit graphemes: combining marks, CR LF, emoji with ZWJ and skin tones, flags (regional indicators), Hangul jamo.
const PIECES = ['a', ' ', '\t', 'Γ', 'c\u0303', '\u0301', '\r\n', '\r', '👩‍👩‍👧', '👍🏽', '🇪🇸', '🇦', '\u1100\u1161\u11A8', 'ŷ', '\u200d', 'x'];

describe('graphemes', () => {
  it('equals segmenting the whole string, across window edges', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { minLength: 200, maxLength: 900, size: 'max' }), (parts) => {
        const s = parts.join('');
        expect(graphemes(s)).toEqual(whole(s));
      }),
      { seed: 1207, numRuns: 150 },
    );
  });

  it('keeps a grapheme whole where a window would cut it', () => {
    const s = 'a'.repeat(511) + 'c\u0303' + 'b'.repeat(100) + '🇪🇸'.repeat(300);
    expect(graphemes(s)).toEqual(whole(s));
  });

  it('counts printable ASCII one grapheme a character, a mark after it joining the last', () => {
    const s = 'x'.repeat(2000) + '\u0303';
    expect(graphemes(s).length).toBe(2000);
    expect(graphemes(s).at(-1)).toBe('x\u0303');
  });
});

describe('a diagnostic on a very long line', () => {
  it('renders a stray `$` after 300,000 spaces with its column, promptly', () => {
    const source = `cell A {\n  input x : n\n  state a : n\n  a^<t> = tanh(W a^<t-1> + U x^<t>)${' '.repeat(300_000)}$\n}\n`;
    const { diagnostics } = compile(source);
    const t = performance.now();
    const text = render(diagnostics[0]!, 'long.celda', source);
    // Not a speed measurement: the old renderer took minutes here; a bound far above the new one's time catches that class.
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(text.split('\n')[0]).toBe('long.celda:4:300036: error[E001]: `$` is never closed: expected `$` to close it');
    const caret = text.split('\n')[2]!;
    expect(caret.indexOf('^') - caret.indexOf('|') - 2).toBe(300_035);
  });
});
