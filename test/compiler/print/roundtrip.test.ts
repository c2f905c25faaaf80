// print → parse gives the same graph, in each of the three spellings, and the
// three spellings of one cell are the same program.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell } from '../../../compiler/print/notation.ts';
import { canonical, example, exampleFiles } from '../../support/cells.ts';

const SPELLINGS = ['ascii', 'unicode', 'latex'] as const;

describe('print → parse round trip', () => {
  for (const file of exampleFiles()) {
    for (const sp of SPELLINGS) {
      it(`${file} in ${sp}`, () => {
        const cell = example(file);
        const text = printCell(cell.typed, cell.forward, sp);
        const again = compile(text);
        expect(again.diagnostics).toEqual([]);
        expect(canonical(again.cells[0]!.forward)).toBe(canonical(cell.forward));
        expect(canonical(again.cells[0]!.backward)).toBe(canonical(cell.backward));
        // printing is a fixed point after one round
        expect(printCell(again.cells[0]!.typed, again.cells[0]!.forward, sp)).toBe(text);
      });
    }
  }
});

describe('the three spellings are one program', () => {
  const gru = {
    unicode: `cell GRU {
  input x : n_x
  state c : n_a
  Γ_r = σ(W_r[c^⟨t−1⟩, x^⟨t⟩] + b_r)
  c̃^⟨t⟩ = tanh(W_c[Γ_r ⊙ c^⟨t−1⟩, x^⟨t⟩] + b_c)
  Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)
  c^⟨t⟩ = Γ_u ⊙ c̃^⟨t⟩ + (1 − Γ_u) ⊙ c^⟨t−1⟩
}`,
    ascii: `cell GRU {
  input x : n_x
  state c : n_a
  Gamma_r = sigmoid(W_r[c^<t-1>, x^<t>] + b_r)
  c~^<t> = tanh(W_c[Gamma_r * c^<t-1>, x^<t>] + b_c)
  Gamma_u = sigma(W_u[c^<t-1>, x^<t>] + b_u)
  c^<t> = Gamma_u * c_tilde^<t> + (1 - Gamma_u) * c^<t-1>
}`,
    latex: String.raw`cell GRU {
  input x : n_x
  state c : n_a
  $$\begin{split} \Gamma_{r} &= \sigma\left(W_{r}[c^{< t-1>}, x^{< t>}] + b_{r}\right) \\ \widetilde{c}^{< t>} &= \tanh \left(W_{c}[\Gamma_r \odot c^{< t-1>}, x^{< t>}] + b_{c} \right) \\ \Gamma_u &= sigmoid (W_u [c^{< t-1>}, x^{< t>}] + b_u) \\ c^{< t>} &= \Gamma_u * \tilde{c}^{< t>} + (1 - \Gamma_u) * c^{< t-1>} \end{split}$$
}`,
  };
  it('gives the same graph for Unicode, ASCII and LaTeX', () => {
    const forms = Object.entries(gru).map(([sp, src]) => {
      const r = compile(src);
      expect(r.diagnostics, sp).toEqual([]);
      return canonical(r.cells[0]!.forward);
    });
    expect(forms[1]).toBe(forms[0]);
    expect(forms[2]).toBe(forms[0]);
  });
});
