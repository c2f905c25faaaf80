// `celda export --to pytorch --vjp celda`: the step is a torch.autograd.Function
// whose backward is celda's own symbolic derivative (the graph `celda grad`
// prints, as Python in `step_vjp`). Every example cell with a step (and the
// fixture with every op), run through it in float64, gives the gradients
// autograd gives on the plain export (params, inputs, initial states), and the
// interpreter's, to 1e-10 relative. Without a python3 that imports torch the
// engine test prints one line and skips — unless CELDA_REQUIRE_TORCH=1 (CI).

import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportPytorch } from '../../../compiler/export/pytorch.ts';
import { compileOk } from '../../support/cells.ts';
import { pythonWith, relativeError, torchRequired } from '../../support/python.ts';
import { cellFiles, makeCase, runTorch, torchErrors } from './cases.ts';

const TOL = 1e-10;
const py = pythonWith(['torch']);
const skip = py === null && !torchRequired();
if (skip) console.log('SKIP PyTorch --vjp celda engine test: no python3 imports torch (Debian: python3-torch); set CELDA_REQUIRE_TORCH=1 to make this a failure');

describe('PyTorch export with --vjp celda: the text', () => {
  it('a Function whose backward calls step_vjp, one line per node of celda\'s VJP graph', () => {
    const cell = compileOk('cell R {\n input x : n_x\n state a : n_a\n a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)\n}')[0]!;
    const r = exportPytorch(cell, { vjp: 'celda' });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.code).toContain('class RStep(torch.autograd.Function):');
    expect(r.code).toContain('out = RStep.apply(self, inputs_t["x"], states_prev["a"], self.W_aa, self.W_ax, self.b_a)');
    expect(r.code).toContain('def step_vjp(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor], cotangents: Dict[str, Tensor])');
    expect(r.code).toMatch(/# ∂\/∂b_a = Σ_batch .*\n\s+db_a = .*\.sum\(0\)/);
    expect(r.code).toContain('return {"W_aa": dW_aa, "W_ax": dW_ax, "b_a": db_a}, {"a": da_prev}, {"x": dx}');
    // the plain export is unchanged by the option's existence
    const plain = exportPytorch(cell);
    expect(plain.ok && plain.code.includes('autograd.Function')).toBe(false);
  });

  it('an unrolled cell has no step: refused with a positioned error', () => {
    const cell = compileOk('cell U {\n input x : n\n state a : n\n a^<1> = tanh(W a^<0> + x^<1>)\n a^<2> = tanh(W a^<1> + x^<2>)\n}')[0]!;
    const r = exportPytorch(cell, { vjp: 'celda' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).toContain('--vjp celda: an unrolled cell has no step');
  });
});

describe.skipIf(skip)('PyTorch export with --vjp celda in PyTorch (float64)', () => {
  it('celda\'s backward gives autograd\'s gradients and the interpreter\'s, for every example cell with a step', () => {
    const cases = cellFiles().map((f) => makeCase(f)).filter((c) => c.cell.typed.mode === 'step');
    expect(cases.length).toBeGreaterThanOrEqual(8);
    const withCelda = runTorch(py!, cases, { vjp: 'celda' });
    const withAutograd = runTorch(py!, cases);
    cases.forEach((c, i) => {
      const name = basename(c.file);
      for (const [k, e] of Object.entries(torchErrors(c, withCelda[i]!))) expect(e, `${name}: ${k} against the interpreter`).toBeLessThanOrEqual(TOL);
      const a = withAutograd[i] as { grads: Record<string, Record<string, unknown>> }, b = withCelda[i] as typeof a;
      for (const k of ['params', 'inputs', 'init']) for (const [n, v] of Object.entries(a.grads[k]!)) expect(relativeError(v, b.grads[k]![n]), `${name}: grads.${k}.${n} against autograd`).toBeLessThanOrEqual(TOL);
    });
  }, 300_000);
});
