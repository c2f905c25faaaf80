// The forms `celda grad` prints for what a cell cannot write (docs/notation.md,
// "The derivatives that celda grad prints"), in the three spellings: a split
// left-hand side's gradient stacked with sized zero vectors, the row sums of
// diag(v) A's derivative with a sized ones vector, and a scalar spread over a
// vector where no elementwise operator spreads it. grad-roundtrip.test.ts reads
// them back to the backward graph's values; these pin how they look.
import { describe, expect, it } from 'vitest';
import { printGrad } from '../../../compiler/print/notation.ts';
import type { Spelling } from '../../../grammar/names.ts';
import { compileOk } from '../../support/cells.ts';
import { zooSource } from '../../support/zoo.ts';

const grad = (source: string, spelling: Spelling) => {
  const cell = compileOk(source)[0]!;
  return printGrad(cell.typed, cell.forward, cell.backward, { spelling });
};

describe('printed forms of derivatives', () => {
  const split = 'cell S {\n  input x : n_x\n  state h : n\n  [f, i] = W x^<t>\n  h^<t> = σ(f) * h^<t-1> + tanh(i)\n}';

  it('a part of a split left-hand side: its gradient stacked with zeros where the other parts go', () => {
    expect(grad(split, 'unicode')).toContain('δ₁ = [𝟎_{n}, ∂h^⟨t⟩ * (1 − tanh(i)²)] + [∂h^⟨t⟩ * h^⟨t−1⟩ * (σ(f) * (1 − σ(f))), 𝟎_{n}]\n');
    expect(grad(split, 'ascii')).toContain('delta_1 = [0_{n}, dh^<t> * (1 - tanh(i)^2)] + [dh^<t> * h^<t-1> * (sigmoid(f) * (1 - sigmoid(f))), 0_{n}]\n');
    expect(grad(split, 'latex')).toContain('\\delta_{1} = [\\mathbf{0}_{n}, \\partial h^{<t>} * (1 - \\tanh(i)^{2})] + ');
    expect(grad(split, 'unicode')).not.toContain('pad');
  });

  it('a middle part has zeros on both sides, sized by the dimension', () => {
    const four = 'cell L {\n  input x : n_x\n  state h : n_h\n  [f, i, o, g] = W x^<t>\n  h^<t> = σ(f) * h^<t-1> + σ(i) * tanh(g) + o\n}';
    const text = grad(four, 'unicode');
    expect(text).toMatch(/\[𝟎_\{n_h\}, [^\]]*, 𝟎_\{2n_h\}\]/); // i
    expect(text).toMatch(/\[𝟎_\{2n_h\}, ∂h\^⟨t⟩, 𝟎_\{n_h\}\]/); // o
    expect(text).toMatch(/\[𝟎_\{3n_h\}, [^\]]*\]/); // g
  });

  it('diag(Δ) A: the derivative sums rows with a ones vector of the size of a row', () => {
    const s6 = zooSource('mamba-s6.celda');
    expect(grad(s6, 'unicode')).toMatch(/\) 𝟏_\{N\}\)/);
    expect(grad(s6, 'ascii')).toMatch(/\) 1_\{N\}\)/);
    expect(grad(s6, 'latex')).toMatch(/\) \\mathbf\{1\}_\{N\}\)/);
    expect(grad(s6, 'unicode')).toContain('diag(Δ) ');
  });

  it('a scalar per example spread over a vector is written out where a product would lose it', () => {
    const text = grad('cell B {\n  input x : n\n  state h : n\n  h^<t> = sum(W x^<t>) * h^<t-1>\n}', 'unicode');
    expect(text).toMatch(/^∂W = Σ_batch \(\(Σ_i \(∂h\^⟨t⟩ \* h\^⟨t−1⟩\)\) 𝟏_\{\w+\}\) · x\^⟨t⟩ᵀ$/m);
    // and left implicit where an elementwise product spreads it, as the notes write 1 − Γ_u
    expect(text).toContain('∂h^⟨t−1⟩ = ∂h^⟨t⟩ * Σ_i (W x^⟨t⟩)\n');
  });
});
