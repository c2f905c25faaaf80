// Every forward equation of the lecture notes, pasted verbatim (lines taken from
// the notes file itself) inside a cell with its declarations, compiles; the lines
// that lost their time index in extraction get a clear diagnostic.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.ts';
import { render } from '../../compiler/diagnostics.ts';

const NOTES = readFileSync(join(import.meta.dirname, 'fixtures', 'rnn-lecture-notes.md'), 'utf8').split('\n');

/** The lines of the notes from the one containing `from` through `count` math lines. */
function mathLines(from: string, count: number, nth = 0): string[] {
  let start = -1;
  for (let i = 0, seen = 0; i < NOTES.length; i++) if (NOTES[i]!.includes(from) && seen++ === nth) { start = i; break; }
  if (start < 0) throw new Error(`not in the notes: ${from}`);
  return NOTES.slice(start).filter((l) => l.includes('$')).slice(0, count);
}

const cell = (decls: string, lines: string[]) => `cell Notes {\n${decls}\n${lines.join('\n')}\n}\n`;
const ok = (src: string) => {
  const r = compile(src);
  expect(r.diagnostics.map((d) => render(d, 'notes.celda', src))).toEqual([]);
  return r.cells[0]!;
};

describe('the notes, verbatim', () => {
  it('the RNN cell (tanh + softmax)', () => {
    const lines = mathLines('$$a^{< t>} = tanh(w_{aa}a^{< t-1>}', 2);
    const c = ok(cell('input x : n_x\nstate a : n_a', lines));
    expect(c.typed.states.map((s) => s.name)).toEqual(['a']);
    expect(c.typed.outputs.map((o) => o.name)).toEqual(['y_hat']);
    expect(c.typed.params.map((p) => p.name).sort()).toEqual(['b_a', 'b_y', 'w_aa', 'w_ax', 'w_ya']);
  });

  it('the simplified drawing: a^<0>, a^<1> = g_1(…), ŷ^<1> = g_2(…) with g_1 = tanh, g_2 = sigmoid', () => {
    const names = NOTES.find((l) => l.includes('$g_1 = tanh$, $g_2 = sigmoid$'))!;
    const lines = [...mathLines('$$a^{<0>} = [0 \\dots 0]$$', 3), names.slice(names.indexOf('$g_1'), names.lastIndexOf('$') + 1)];
    const c = ok(cell('input x : n_x\nstate a : n_a', lines));
    expect(c.typed.mode).toBe('unrolled');
    expect(c.typed.steps).toBe(1);
  });

  it('the five-cell forward propagation, unrolled', () => {
    const lines = [...mathLines('$$a^{<0>} = [0 \\dots 0]$$', 1), ...mathLines('$$a^{<1>} = tanh(w_{aa}a^{<0>}', 4)];
    const c = ok(cell('input x : n_x\nstate a : n_a', lines));
    expect(c.typed.mode).toBe('unrolled');
    expect(c.typed.steps).toBe(5);
    expect(c.forward.roots.filter((r) => r.name === 'y_hat').map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
  });

  it('the simplified GRU (split block)', () => {
    const c = ok(cell('input x : n_x\nstate c : n_a', mathLines('\\begin{split} c^{< t>} &= a^{< t>}', 1)));
    expect(c.typed.outputs.map((o) => o.name).sort()).toEqual(['a', 'c_tilde']);
  });

  it('the GRU of "GRU y LSTM" (rows starting with &)', () => {
    const c = ok(cell('input x : n_x\nstate c : n_a', mathLines('$$\\begin{split} &\\tilde{c}^{< t>}', 1)));
    expect(c.typed.params.map((p) => p.name).sort()).toEqual(['b_c', 'b_r', 'b_u', 'w_c', 'w_r', 'w_u']);
  });

  it('the LSTM, line by line ($$…$$ and $…$ with a leading space)', () => {
    const c = ok(cell('input x : n_x\nstate a : n_a\nstate c : n_a', mathLines('$$\\tilde{c}^{< t>} = tanh (w_c[a^{< t-1>}', 6)));
    expect(c.typed.states.map((s) => s.name).sort()).toEqual(['a', 'c']);
  });

  it('the LSTM (split block)', () => {
    ok(cell('input x : n_x\nstate a : n_a\nstate c : n_a', mathLines('$$\\begin{split} \\widetilde{c}^{< t>} &= tanh \\, (w_c[a^{< t-1>}', 1)));
  });

  it('lines that lost their time index get E006 with a position and a fix', () => {
    for (const [from, decls] of [
      ['$$a^{} = \\tanh(W_{aa}a^{}', 'input x : n_x\nstate a : n_a'],
      ['$$c^{} = a^{}$$', 'input x : n_x\nstate c : n_a'],
      ['$$a^{} = g_1(w_a[a^{}, x^{}] + b_a)$$', 'input x : n_x\nstate a : n_a\ng_1 = tanh'],
    ] as const) {
      const src = cell(decls, mathLines(from, 1));
      const r = compile(src);
      expect(r.cells).toEqual([]);
      expect(r.diagnostics.length).toBeGreaterThan(0);
      expect(r.diagnostics.every((d) => d.code === 'E006')).toBe(true);
      const text = render(r.diagnostics[0]!, 'notes.celda', src);
      expect(text).toMatch(/^notes\.celda:\d+:\d+: error\[E006\]: `\w+` has an empty time index/);
      expect(text).toContain('help: write');
    }
  });
});
