// RG-LRU and the mLSTM's scalar gates against independent float64 references
// written from the papers' equations in PyTorch (test/support/paper_cells_reference.py,
// autograd for the gradients): celda's interpreter, through `celda eval`'s JSON,
// agrees to 1e-10 relative on every state and every gradient. Skipped with one
// notice line without a python3 that imports torch (a failure under CELDA_REQUIRE_TORCH=1).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../runtime/eval-json.ts';
import { Rng } from '../../runtime/random.ts';
import { MLSTM_GATES_CELL, RG_LRU_CELL, compileOk } from '../support/cells.ts';
import { pythonWith, relativeError, runPythonJson, torchRequired } from '../support/python.ts';

const py = pythonWith(['torch']);
const skip = py === null && !torchRequired();
if (skip) console.log('SKIP paper-cell references: no python3 imports torch (Debian: python3-torch); set CELDA_REQUIRE_TORCH=1 to make this a failure');

const T = 5, B = 3, D = 4;
const rng = new Rng(21);
const arr = (shape: readonly number[], scale = 0.5): unknown => (shape.length === 0 ? scale * rng.normal() : Array.from({ length: shape[0]! }, () => arr(shape.slice(1), scale)));

const REQUESTS = [
  {
    cell: 'rglru', source: RG_LRU_CELL,
    params: { W_a: arr([D, D]), b_a: arr([D]), W_x: arr([D, D]), b_x: arr([D]), Lambda: arr([D], 1) },
    x: arr([T, B, D], 1), init: { h: arr([B, D]) }, cot: { h: arr([T, B, D], 1) },
  },
  {
    cell: 'mlstm_gates', source: MLSTM_GATES_CELL,
    params: { w_i: arr([D]), b_i: arr([]), w_f: arr([D]), b_f: arr([]), W_k: arr([D, D]) },
    x: arr([T, B, D], 1), init: { m: arr([B]), n: arr([B, D]) }, cot: { m: arr([T, B], 1), n: arr([T, B, D], 1) },
  },
];

describe.skipIf(skip)('paper cells against independent PyTorch references (float64)', () => {
  it.each(REQUESTS.map((r) => [r.cell, r] as const))('%s: every state and gradient to 1e-10', (_name, req) => {
    if (py === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports torch');
    const [want] = runPythonJson(py, join(import.meta.dirname, '..', 'support', 'paper_cells_reference.py'), [req]) as Record<string, Record<string, unknown>>[];
    const cell = compileOk(req.source)[0]!;
    const { result } = evaluate(cell, { params: req.params, inputs: { dims: { d: D }, inputs: { x: req.x }, init: req.init, cotangents: req.cot } });
    const got = result as Record<string, Record<string, unknown>>;
    const states = got.states as Record<string, unknown>;
    for (const [k, v] of Object.entries(want!.states as Record<string, unknown>)) expect(relativeError(v, states[k]), `states.${k}`).toBeLessThanOrEqual(1e-10);
    const grads = got.grads as Record<string, Record<string, unknown>>;
    let compared = 0;
    for (const part of ['params', 'inputs', 'init'] as const) {
      for (const [k, v] of Object.entries((want!.grads as Record<string, Record<string, unknown>>)[part]!)) {
        expect(relativeError(v, grads[part]![k]), `grads.${part}.${k}`).toBeLessThanOrEqual(1e-10);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(5);
  });
});
