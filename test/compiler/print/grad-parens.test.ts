// `celda grad` keeps the parentheses a derivative needs: a saved forward value
// expanded inside a product is parenthesised unless it is one application
// (`tanh(…)`) — `relu(v) + σ(v)` is two.
import { describe, expect, it } from 'vitest';
import { printGrad } from '../../../compiler/print/notation.ts';
import { compileOk } from '../../support/cells.ts';

const cell = compileOk('cell P {\n  input x : n\n  state h : n\n  s = relu(W x^<t>) + σ(U x^<t>)\n  h^<t> = s * h^<t-1>\n}')[0]!;
const lastLine = (sp: 'unicode' | 'ascii' | 'latex') => printGrad(cell.typed, cell.forward, cell.backward, { spelling: sp }).trim().split('\n').at(-1)!;

describe('parentheses in printed derivatives', () => {
  it('keeps them around a sum of two applications', () => {
    expect(lastLine('unicode')).toBe('∂h^⟨t−1⟩ = ∂h^⟨t⟩ * (relu(W x^⟨t⟩) + σ(U x^⟨t⟩))');
    expect(lastLine('ascii')).toBe('dh^<t-1> = dh^<t> * (relu(W x^<t>) + sigmoid(U x^<t>))');
    expect(lastLine('latex')).toMatch(/\(\\operatorname\{relu\}\(W x\^\{< ?t>\}\) \+ \\sigma\(U x\^\{< ?t>\}\)\)$/);
  });

  it('drops them around one application', () => {
    const one = compileOk('cell Q {\n  input x : n\n  state h : n\n  s = tanh(W x^<t> + b)\n  h^<t> = s * h^<t-1>\n}')[0]!;
    const text = printGrad(one.typed, one.forward, one.backward, { spelling: 'unicode' });
    expect(text.trim().split('\n').at(-1)).toBe('∂h^⟨t−1⟩ = ∂h^⟨t⟩ * tanh(W x^⟨t⟩ + b)');
  });
});
