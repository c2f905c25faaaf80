// Reductions over the features (sum, mean, the inner product uᵀv), a dimension
// used as a number (`dim d` then 1/sqrt(d)) and powers with a tensor exponent
// (a^{c r}): the three spellings are one program, misuse is a positioned
// diagnostic, the printed cell parses back to the same graph, and gradients
// match finite differences.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell, printGrad } from '../../../compiler/print/notation.ts';
import { canonical, compileOk } from '../../support/cells.ts';
import { cellGradients, checkSlots, describeMismatches, dimEnv, randomCotangents, randomRun } from '../../support/numeric.ts';

const SPELLINGS = {
  unicode: `cell R {
  dim d
  input x : d
  state h : d
  q = W_q x^⟨t⟩
  s = mean(h^⟨t−1⟩) + sum(q) / sqrt(d)
  h^⟨t⟩ = tanh(q * s + uᵀq + σ(Λ)^{c r^⟨t⟩}) * h^⟨t−1⟩
  r^⟨t⟩ = σ(W_r x^⟨t⟩)
  param c : 1
  param Λ : d
}`,
  ascii: `cell R {
  dim d
  input x : d
  state h : d
  q = W_q x^<t>
  s = mean(h^<t-1>) + sum(q) / sqrt(d)
  h^<t> = tanh(q * s + u^T q + sigma(Lambda)^{c r^<t>}) * h^<t-1>
  r^<t> = sigma(W_r x^<t>)
  param c : 1
  param Lambda : d
}`,
  latex: String.raw`cell R {
  dim d
  input x : d
  state h : d
  q = W_{q} x^{<t>}
  s = \operatorname{mean}(h^{<t-1>}) + \frac{\sum_i q_i}{\sqrt{d}}
  h^{<t>} = \tanh\left(q \odot s + u^\top q + \sigma(\Lambda)^{c \, r^{<t>}}\right) \odot h^{<t-1>}
  r^{<t>} = \sigma(W_{r} x^{<t>})
  param c : 1
  param \Lambda : d
}`,
};

describe('sum, mean, uᵀv, a dimension as a number and a^{c r} in the three spellings', () => {
  it('are one program', () => {
    const [first, ...rest] = Object.entries(SPELLINGS).map(([sp, src]) => {
      const r = compile(src);
      expect(r.diagnostics.map((d) => d.message), sp).toEqual([]);
      return canonical(r.cells[0]!.forward);
    });
    for (const other of rest) expect(other).toBe(first);
    expect(first).toMatch(/\bsum_feat\[/);
    expect(first).toMatch(/\bpower\[/);
  });

  it('u is a vector, c a scalar parameter, s a scalar per example', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    expect(cell.typed.params.find((p) => p.name === 'u')!.shape.map(String)).toHaveLength(1);
    expect(cell.typed.params.find((p) => p.name === 'c')!.shape).toEqual([]);
    expect(cell.typed.shapes.s).toEqual({ batch: true, dims: [] });
  });

  it('print back in each spelling to the same graph', () => {
    const cell = compileOk(SPELLINGS.unicode)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics.map((d) => d.message), `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward), `${sp}:\n${text}`).toBe(canonical(cell.forward));
    }
    const ascii = printCell(cell.typed, cell.forward, 'ascii');
    expect(ascii).toContain('mean(h^<t-1>)');
    expect(ascii).toContain('sqrt(d)');
    expect(ascii).toMatch(/u\^T q/);
  });

  it('the derivative prints', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'unicode' });
    expect(text).toContain('∂c =');
    expect(text).toContain('log(');
  });

  it('gradients w.r.t. every parameter, input and initial state match finite differences', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { d: 3 }), batch: 2, steps: 4, seed: 5 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 6));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });
});
