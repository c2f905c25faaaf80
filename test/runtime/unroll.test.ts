// Backpropagation through time against a static unroll. runtime/unroll.ts runs
// the backward step graph from t = T down to 1, carrying state cotangents; here
// the step graph is composed T times into one Graph (test/support staticUnroll),
// differentiated once by grad() and interpreted once. The two must agree to
// rounding. And the notes' five-step unrolled cell (RNN5) must be the step cell
// RNN_g run for five steps.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import { grad } from '../../compiler/passes/grad.ts';
import { verify } from '../../compiler/ir/graph.ts';
import { simplify } from '../../compiler/passes/simplify.ts';
import type { Tensor } from '../../compiler/ir/ops.ts';
import type { Run } from '../../runtime/unroll.ts';
import { backward, forward } from '../../runtime/unroll.ts';
import {
  cellGradients, checkSlots, describeMismatches, dimEnv, evalRoots, randomCotangents, randomRun, scaledError,
  staticUnroll, unrolledLeaves,
} from '../support/numeric.ts';

const DIR = new URL('../../examples/cells/', import.meta.url);
const load = (file: string): CompiledCell[] => [...compile(readFileSync(new URL(file, DIR), 'utf8')).cells];
const STEP_CELLS = readdirSync(DIR).filter((f) => f.endsWith('.celda')).sort().flatMap(load).filter((c) => c.typed.mode === 'step');
const SIZES = { n_x: 2, n_a: 3, n_h: 3, n_y: 4 };

/** Equal to rounding: the two computations add the same terms in another order. */
function expectClose(actual: Tensor | undefined, expected: Tensor | undefined, what: string) {
  expect(actual, `${what} missing`).toBeDefined();
  expect(expected, `${what} missing`).toBeDefined();
  expect(actual!.data.length, what).toBe(expected!.data.length);
  actual!.data.forEach((x, i) => expect(scaledError(x, expected!.data[i]!, 1e-12, 1e-14), `${what}[${i}]: ${x} vs ${expected!.data[i]}`).toBeLessThanOrEqual(1));
}

it('has step cells to unroll', () => {
  expect(STEP_CELLS.map((c) => c.name)).toEqual(expect.arrayContaining(['RNN', 'RNN_g', 'GRU', 'GRU_simplified', 'LSTM', 'LSTM_notes', 'LSTM_peephole', 'MGU']));
});

describe.each(STEP_CELLS.map((cell) => ({ name: cell.name, cell })))('BPTT of $name equals grad() of its static unroll', ({ cell }) => {
  const env = dimEnv(cell, SIZES);
  it.each([1, 2, 5])('T = %i', (T) => {
    const run = randomRun(cell, { env, batch: 2, steps: T, seed: 300 + T });
    const cot = randomCotangents(cell, run, 400 + T);
    const traj = forward(cell, run);
    const grads = backward(cell, run, traj, cot);

    const unrolled = staticUnroll(cell.forward, T);
    expect(verify(unrolled)).toEqual([]);
    const leaves = unrolledLeaves(unrolled, run, traj.init, cot, env);

    // The same forward values, step by step.
    const values = evalRoots(unrolled, leaves, env, run.batch);
    unrolled.roots.forEach((r, k) => expectClose(values[k], (r.role === 'state' ? traj.states : traj.outputs)[r.name]![r.step! - 1], `${r.role} ${r.name}^<${r.step}>`));
    expect(unrolled.roots.length).toBe(T * cell.forward.roots.length);

    // grad() of the whole unroll, interpreted once (simplified and not: both must agree).
    for (const vjp of [grad(unrolled), simplify(grad(unrolled))]) {
      expect(verify(vjp)).toEqual([]);
      const g = evalRoots(vjp, unrolledLeaves(vjp, run, traj.init, cot, env), env, run.batch);
      let seen = 0;
      vjp.roots.forEach((r, k) => {
        if (r.of === 'param') expectClose(g[k], grads.params[r.name], `∂/∂${r.name}`);
        else if (r.of === 'input') expectClose(g[k], grads.inputs[r.name]![r.step! - 1], `∂/∂${r.name}^<${r.step}>`);
        else if (r.of === 'prev') { expect(r.step).toBe(0); expectClose(g[k], grads.init[r.name], `∂/∂${r.name}^<0>`); }
        else throw new Error(`unexpected root ${r.of} ${r.name}`);
        seen++;
      });
      // Every parameter the step uses, every input at every step, every state read at t-1.
      const leafCount = (op: string) => new Set(cell.forward.nodes.filter((n) => n.op === op).map((n) => n.attrs.name)).size;
      expect(seen).toBe(leafCount('param') + T * leafCount('input') + leafCount('prev'));
    }
  });
});

describe('the notes\' five-step unrolled cell RNN5 is RNN_g over five steps', () => {
  const [unrolled] = load('rnn-unrolled.celda');
  const step = load('rnn-g.celda').find((c) => c.name === 'RNN_g')!;
  const env = dimEnv(step, SIZES);

  it('has the same interface', () => {
    expect(unrolled!.name).toBe('RNN5');
    expect(unrolled!.typed.mode).toBe('unrolled');
    expect(unrolled!.typed.steps).toBe(5);
    expect(unrolled!.typed.params.map((p) => p.name).sort()).toEqual(step.typed.params.map((p) => p.name).sort());
    expect(unrolled!.typed.params.map((p) => p.name).sort()).toEqual(['b_a', 'b_y', 'w_aa', 'w_ax', 'w_ya']);
    expect(unrolled!.typed.states.map((s) => s.name)).toEqual(['a']);
    expect(unrolled!.typed.outputs.map((s) => s.name)).toEqual(['y_hat']);
    expect(dimEnv(unrolled!, SIZES)).toEqual(env);
  });

  it.each([
    { init: 'the zero initial state a^<0> = [0 … 0]', randomInit: false, seed: 501 },
    { init: 'a random initial state', randomInit: true, seed: 502 },
  ])('gives the same values and gradients from $init', ({ randomInit, seed }) => {
    const run: Run = randomRun(step, { env, batch: 3, steps: 5, seed, randomInit, paramScale: 0.8 });
    const cot = randomCotangents(step, run, seed + 1);
    const a = forward(step, run), b = forward(unrolled!, run);
    for (let t = 0; t < 5; t++) {
      expectClose(b.states.a![t], a.states.a![t], `a^<${t + 1}>`);
      expectClose(b.outputs.y_hat![t], a.outputs.y_hat![t], `ŷ^<${t + 1}>`);
    }
    const ga = backward(step, run, a, cot), gb = backward(unrolled!, run, b, cot);
    for (const p of Object.keys(ga.params)) expectClose(gb.params[p], ga.params[p], `∂/∂${p}`);
    for (let t = 0; t < 5; t++) expectClose(gb.inputs.x![t], ga.inputs.x![t], `∂/∂x^<${t + 1}>`);
    expectClose(gb.init.a, ga.init.a, '∂/∂a^<0>');
    // And both against finite differences (the unrolled cell's own gradient path).
    if (randomInit) {
      const { slots, loss } = cellGradients(unrolled!, run, cot);
      const r = checkSlots(loss, slots);
      expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
    }
  });
});
