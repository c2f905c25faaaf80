// `celda export --to pytorch` against the reference semantics: every example
// cell (and the fixture with every op) exported and run by the real PyTorch in
// float64 gives the interpreter's states, outputs and all gradients (params,
// inputs, initial states: the VJP `celda eval` computes) to 1e-10 relative;
// torch.jit.script accepts each module and computes the same; a state missing
// from init starts at its declared value; fresh parameters follow celda's
// default. Without a python3 that imports torch the engine tests print one line
// and skip — unless CELDA_REQUIRE_TORCH=1 (CI), where they fail.

import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalDim } from '../../../compiler/ir/dims.ts';
import { exportPytorch } from '../../../compiler/export/pytorch.ts';
import { pyIdentifier } from '../../../compiler/export/python-text.ts';
import { compileOk } from '../../support/cells.ts';
import { pythonWith, relativeError, torchRequired } from '../../support/python.ts';
import type { ExportCase } from './cases.ts';
import { cellFiles, makeCase, runTorch, torchErrors } from './cases.ts';

const TOL = 1e-10;
const py = pythonWith(['torch']);
const skip = py === null && !torchRequired();
if (skip) console.log('SKIP PyTorch export engine tests: no python3 imports torch (Debian: python3-torch); set CELDA_REQUIRE_TORCH=1 to make this a failure');

const code = (source: string) => {
  const r = exportPytorch(compileOk(source)[0]!);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.code;
};

describe('PyTorch export: the module text', () => {
  it('is deterministic and built from the graph: one line per equation, the equation as a comment', () => {
    const src = `cell GRU {\n input x : n_x\n state c : n_a\n Γ_u = σ(W_u[c^<t-1>, x^<t>] + b_u)\n c^<t> = Γ_u * tanh(W_c[c^<t-1>, x^<t>] + b_c) + (1 - Γ_u) * c^<t-1>\n}`;
    const a = code(src);
    expect(code(src)).toBe(a);
    expect(a).toContain('class GRU(nn.Module):');
    expect(a).toContain('def __init__(self, *, n_x: int, n_a: int, dtype: torch.dtype = torch.float32) -> None:');
    expect(a).toContain('# Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)\n        Gamma_u = torch.sigmoid(F.linear(c_prev_x_t, self.W_u) + self.b_u)');
    expect(a).toContain('def step(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:');
    expect(a).not.toMatch(/numpy|^import (?!math|torch)/m);
  });

  it('the example GRU as a file snapshot', async () => {
    const { readFileSync } = await import('node:fs');
    const src = readFileSync(cellFiles().find((f) => basename(f) === 'gru.celda')!, 'utf8');
    await expect(code(src)).toMatchFileSnapshot('snapshots/gru.py');
  });

  it('no name, number or comment of a cell reaches the module except through identifiers, literals and one-line comments', () => {
    // `lambda` is a Python keyword: the attribute becomes `lambda_`.
    const a = code(`cell Odd {\n input x : n_x\n state h : n_h\n h^<t> = tanh(λ[h^<t-1>, x^<t>] + b) * 1e-7 # """ \\n import os\n}`);
    expect(a).toContain('self.lambda_ = nn.Parameter');
    expect(a).toContain('h = 1e-7 * torch.tanh(');
    expect(a).not.toContain('import os');
  });

  it('an unrolled cell\'s holes read one zeros tensor per name, not one per step', async () => {
    const { readFileSync } = await import('node:fs');
    // many-to-one over four steps: ŷ^<1>, ŷ^<2>, ŷ^<3> are holes
    const src = readFileSync(cellFiles().find((f) => basename(f) === 'many-to-one.celda')!, 'utf8')
      .replace('ŷ^<3> = softmax(W_ya a^<3> + b_y)', 'a^<4> = tanh(W_aa a^<3> + W_ax x^<4> + b_a)\n  ŷ^<4> = softmax(W_ya a^<4> + b_y)');
    const a = code(src);
    expect(a.match(/torch\.zeros_like\(/g)).toHaveLength(1);
    expect(a).toContain('y_hat_hole = torch.zeros_like(y_hat_4)');
    expect(a).toContain('"y_hat": torch.stack([y_hat_hole, y_hat_hole, y_hat_hole, y_hat_4])');
  });

  it('a parameter that would shadow a torch.nn.Module attribute is a positioned error, not a broken file', () => {
    const src = `cell Bad {\n input x : n_x\n state h : n_h\n h^<t> = tanh(training[h^<t-1>, x^<t>])\n}`;
    const r = exportPytorch(compileOk(src)[0]!);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0]!.code).toBe('E051');
    expect(r.diagnostics[0]!.message).toContain('`training`');
    expect(src.slice(r.diagnostics[0]!.span.start, r.diagnostics[0]!.span.end)).toBe('training');
  });
});

describe.skipIf(skip)('PyTorch export in PyTorch (float64, autograd, torch.jit.script)', () => {
  const files = cellFiles();
  let results: Map<string, Record<string, unknown>> | undefined;
  const cases = new Map<string, ExportCase>();

  /** Every cell in one python3 process (its start-up is seconds). */
  function all(): Map<string, Record<string, unknown>> {
    if (results) return results;
    if (py === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports torch (install Debian\'s python3-torch)');
    for (const f of files) cases.set(f, makeCase(f));
    const out = runTorch(py, files.map((f) => cases.get(f)!));
    results = new Map(files.map((f, i) => [f, out[i]!]));
    return results;
  }

  it.each(files.map((f) => [basename(f), f]))('%s: states, outputs and every gradient match the interpreter to 1e-10', (_name, file) => {
    const got = all().get(file)!;
    expect(got.error).toBeUndefined();
    const c = cases.get(file)!;
    const want = c.expected as { grads: Record<string, Record<string, unknown>> };
    const errors = torchErrors(c, got);
    expect(Object.keys(errors).length).toBeGreaterThanOrEqual(c.cell.typed.params.length + c.cell.typed.inputs.length + 2 * c.cell.typed.states.length + c.cell.typed.outputs.length);
    expect(Object.entries(errors).filter(([, e]) => !(e <= TOL))).toEqual([]);
    // the gradients are not all zero: the comparison compares something
    expect(Object.values(want.grads.params!).some((v) => JSON.stringify(v) !== JSON.stringify(v).replace(/[1-9]/g, '0'))).toBe(true);
  });

  it.each(files.map((f) => [basename(f), f]))('%s: torch.jit.script accepts it and computes the same; default init and parameters are celda\'s', (_name, file) => {
    const got = all().get(file)! as { scripted_diff: number; default_init: Record<string, Record<string, unknown>>; fresh: Record<string, unknown>; fresh_dtype: string; error?: string };
    expect(got.error).toBeUndefined();
    expect(got.scripted_diff).toBeLessThanOrEqual(1e-12);
    const c = cases.get(file)!;
    const want = c.expectedDefaultInit as Record<string, Record<string, unknown>>;
    for (const k of ['states', 'outputs']) for (const [name, v] of Object.entries(want[k]!)) expect(relativeError(v, got.default_init[k]![name]), `${k}.${name}`).toBeLessThanOrEqual(TOL);
    // fresh parameters: float32, uniform in ±1/√fan_in, not constant
    const t = c.cell.typed;
    if (t.params.length) expect(got.fresh_dtype).toBe('torch.float32');
    for (const p of t.params) {
      const values = [got.fresh[pyIdentifier(p.name)]].flat(3) as number[];
      const dims = p.shape.map((d) => evalDim(d, c.dims)!);
      const fanIn = dims.length === 2 ? dims[1]! : dims[0] ?? 1;
      expect(values.length).toBe(dims.reduce((a, b) => a * b, 1));
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(Math.max(1, fanIn)) + 1e-7);
      if (values.length > 1) expect(new Set(values).size).toBeGreaterThan(1);
    }
  });
});
