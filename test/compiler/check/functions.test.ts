// Functions of several arguments (max, min), stop-gradient (sg) and |v| (abs):
// the three spellings are one program, misuse is a positioned diagnostic, the
// printed cell parses back to the same graph, and gradients match finite
// differences (sg's by stopping). Every backend runs them: the ops cells of
// test/browser/cases.ts (gpu.js, Node and Chromium) and test/support/cells.ts
// (the WebAssembly loops, against wabt's bytes) use them.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell, printGrad } from '../../../compiler/print/notation.ts';
import { canonical, compileOk } from '../../support/cells.ts';
import { cellGradients, checkSlots, describeMismatches, dimEnv, randomCotangents, randomRun } from '../../support/numeric.ts';

/** sLSTM's stabiliser, written three ways: m = max(log f + m_prev, log i), i' = exp(ĩ − sg(m)). */
const SPELLINGS = {
  unicode: `cell S {
  input x : n
  state m : n
  state c : n
  m^⟨t⟩ = max(W_f x^⟨t⟩ + m^⟨t−1⟩, W_i x^⟨t⟩)
  c^⟨t⟩ = min(|c^⟨t−1⟩|, 1) + exp(W_i x^⟨t⟩ − sg(m^⟨t⟩))
}`,
  ascii: `cell S {
  input x : n
  state m : n
  state c : n
  m^<t> = max(W_f x^<t> + m^<t-1>, W_i x^<t>)
  c^<t> = min(abs(c^<t-1>), 1) + exp(W_i x^<t> - stopgrad(m^<t>))
}`,
  latex: String.raw`cell S {
  input x : n
  state m : n
  state c : n
  m^{<t>} = \max\{W_{f} x^{<t>} + m^{<t-1>}, W_{i} x^{<t>}\}
  c^{<t>} = \min\left(\left| c^{<t-1>} \right|, 1\right) + \exp\left(W_{i} x^{<t>} - \operatorname{sg}(m^{<t>})\right)
}`,
};

describe('max, min, sg and |v| in the three spellings', () => {
  it('are one program', () => {
    const [first, ...rest] = Object.entries(SPELLINGS).map(([sp, src]) => {
      const r = compile(src);
      expect(r.diagnostics, sp).toEqual([]);
      return canonical(r.cells[0]!.forward);
    });
    for (const other of rest) expect(other).toBe(first);
    expect(first).toMatch(/\bmax\[/);
    expect(first).toMatch(/\bstopgrad\[/);
  });

  it('other spellings of abs: \\lvert v\\rvert, |v| inside a product', () => {
    const a = compileOk('cell A {\n input x : n\n state h : n\n h^<t> = \\lvert W x^<t> \\rvert * |h^<t-1>|\n}')[0]!;
    const b = compileOk('cell A {\n input x : n\n state h : n\n h^<t> = abs(W x^<t>) * abs(h^<t-1>)\n}')[0]!;
    expect(canonical(a.forward)).toBe(canonical(b.forward));
  });

  it('print back in each spelling to the same graph', () => {
    const cell = compileOk(SPELLINGS.unicode)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics, `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward)).toBe(canonical(cell.forward));
    }
    expect(printCell(cell.typed, cell.forward, 'latex')).toContain('\\max(');
    expect(printCell(cell.typed, cell.forward, 'latex')).toContain('\\operatorname{sg}(');
  });

  it('the derivative: the gradient stops at sg, and max routes it by the comparison', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'unicode' });
    expect(text).toContain('exp(W_i x^⟨t⟩ − sg(m^⟨t⟩))');
    expect(text).toMatch(/𝟙₊\(W_f x\^⟨t⟩ \+ m\^⟨t−1⟩ − W_i x\^⟨t⟩\)/);
  });

  it('gradients w.r.t. every parameter, input and initial state match finite differences (without sg, which stops them on purpose)', () => {
    const cell = compileOk(SPELLINGS.ascii.replace('stopgrad(m^<t>)', 'm^<t>'))[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { n: 3 }), batch: 2, steps: 4, seed: 5 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 6));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });
});

describe('misuse of functions', () => {
  const diag = (body: string) => {
    const src = `cell C {\n  input x : n\n  state h : n\n  ${body}\n}`;
    const r = compile(src);
    return r.diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}: ${d.message}${d.help ? ` (${d.help})` : ''}`);
  };
  it('a function given the wrong number of arguments', () => {
    expect(diag('h^<t> = max(x^<t>) + h^<t-1>')).toEqual(['E031 max(x^<t>): `max` takes 2 arguments, got 1 (write `max(a, b)`)']);
    expect(diag('h^<t> = tanh(x^<t>, h^<t-1>)')).toEqual(['E031 tanh(x^<t>, h^<t-1>): `tanh` takes one argument, got 2 (apply it to one value: `tanh(…)`)']);
    expect(diag('h^<t> = sg(x^<t>, h^<t-1>)')).toEqual(['E031 sg(x^<t>, h^<t-1>): `sg` takes one argument, got 2 (apply it to one value: `sg(…)`)']);
  });
  it('a matrix applied to two vectors', () => {
    expect(diag('h^<t> = W(x^<t>, h^<t-1>)')).toEqual(['E031 W(x^<t>, h^<t-1>): `W` takes one argument, got 2 (apply it to one value: `W(…)`)']);
  });
  it('two vectors of different sizes', () => {
    expect(diag('h^<t> = max(x^<t>, [x^<t>, x^<t>])')[0]).toMatch(/^E009 max\(x\^<t>, \[x\^<t>, x\^<t>\]\): shape mismatch in max\(…\)/);
  });
});
