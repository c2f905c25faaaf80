// Whole cells: for every example in examples/cells/, the BPTT gradients of
// L = Σ_t ⟨cot, states and outputs⟩ with respect to every parameter, every input
// at every step and every initial state, against central finite differences;
// the inner-product identity ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩ along a random direction of
// all of them at once; and the verifier and simplifier on every graph.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { build } from '../../../compiler/passes/build.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { compile } from '../../../compiler/compile.ts';
import { grad } from '../../../compiler/passes/grad.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { verify } from '../../../compiler/ir/graph.ts';
import { simplify } from '../../../compiler/passes/simplify.ts';
import { interpBackend } from '../../../runtime/backends/interp.ts';
import { Rng } from '../../../runtime/random.ts';
import {
  cellGradients, checkSlots, describeMismatches, dimEnv, directionalDiff, dot, evalRoots, randomCotangents,
  randomLeaves, randomRun, randomTensor, scaledError,
} from '../../support/numeric.ts';

const DIR = new URL('../../../examples/cells/', import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.celda')).sort();
/** Distinct sizes, so a transposed index shows up as a shape error or a wrong number. */
const SIZES = { n_x: 2, n_a: 3, n_h: 3, n_y: 4 };

function compileFile(file: string): CompiledCell[] {
  const r = compile(readFileSync(new URL(file, DIR), 'utf8'));
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return [...r.cells];
}

const EXAMPLES = FILES.flatMap((f) => compileFile(f).map((cell) => ({ file: f, cell })));

it('finds every example cell', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(9);
  expect(EXAMPLES.map((e) => e.cell.name)).toEqual(expect.arrayContaining(['RNN', 'RNN_g', 'RNN5', 'GRU', 'GRU_simplified', 'LSTM', 'LSTM_notes', 'LSTM_peephole', 'MGU']));
});

/** Two graphs agree on every root for the same random leaves. */
function expectSameValues(a: Graph, b: Graph, env: Map<string, number>, seed: number) {
  const leaves = randomLeaves(a, env, 2, new Rng(seed));
  for (const n of b.nodes) if ((n.op === 'param' || n.op === 'input' || n.op === 'prev' || n.op === 'cot') && !leaves.has(`${n.op}:${n.attrs.name}${n.attrs.step === undefined ? '' : `@${n.attrs.step}`}`)) throw new Error(`leaf ${n.op} ${n.attrs.name} only in the second graph`);
  const va = evalRoots(a, leaves, env, 2), vb = evalRoots(b, leaves, env, 2);
  expect(b.roots.map((r) => `${r.role} ${r.of ?? ''} ${r.name}@${r.step}`)).toEqual(a.roots.map((r) => `${r.role} ${r.of ?? ''} ${r.name}@${r.step}`));
  va.forEach((v, k) => v.data.forEach((x, i) => expect(scaledError(x, vb[k]!.data[i]!, 1e-12, 1e-14), `${a.roots[k]!.name}[${i}]`).toBeLessThanOrEqual(1)));
}

describe.each(EXAMPLES)('$cell.name ($file)', ({ cell }) => {
  const env = dimEnv(cell, SIZES);
  const steps = cell.typed.mode === 'unrolled' ? cell.typed.steps : 3;

  it('gradients w.r.t. every parameter, input at every step and initial state match finite differences', () => {
    const run = randomRun(cell, { env, batch: 2, steps, seed: 11 });
    const cot = randomCotangents(cell, run, 12);
    const { slots, loss } = cellGradients(cell, run, cot);
    // Every parameter, every input at every step, every initial state is a slot.
    expect(slots.length).toBe(cell.typed.params.length + cell.typed.inputs.length * steps + cell.typed.states.length);
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
    expect(r.maxRel).toBeLessThan(1e-7);
  });

  it('gradients are right from the declared initial state too, and with only some cotangents given', () => {
    const run = randomRun(cell, { env, batch: 3, steps, seed: 21, randomInit: false, paramScale: 1 });
    const full = randomCotangents(cell, run, 22);
    // Only the outputs (or, for a cell without outputs, the last state) carry a cotangent.
    const last = Object.keys(full.outputs).length === 0;
    const cot = last
      ? { states: Object.fromEntries(Object.entries(full.states).map(([k, v]) => [k, v.map((x, t) => (t === v.length - 1 ? x : { ...x, data: new Float64Array(x.data.length) }))])) }
      : { outputs: full.outputs };
    const { slots, loss } = cellGradients(cell, run, cot);
    const r = checkSlots(loss, slots);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });

  it('satisfies the inner-product identity ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩ along a random direction of all inputs at once', () => {
    for (const seed of [31, 32, 33]) {
      const run = randomRun(cell, { env, batch: 2, steps, seed });
      const cot = randomCotangents(cell, run, seed + 100);
      const { slots, loss } = cellGradients(cell, run, cot);
      const rng = new Rng(seed + 200);
      const dirs = slots.map((s) => randomTensor(rng, false, [s.data.length], 1).data);
      // A unit direction, so the difference step is the same size as in the per-entry checks.
      const norm = Math.sqrt(dirs.reduce((a, d) => a + dot(d, d), 0));
      dirs.forEach((d) => d.forEach((x, i) => { d[i] = x / norm; }));
      const jv = directionalDiff(loss, slots.map((s) => s.data), dirs); // ⟨J·v, c⟩ by differences of L
      const vjt = slots.reduce((acc, s, k) => acc + dot(dirs[k]!, s.grad), 0); // ⟨v, Jᵀ·c⟩ from the VJP
      expect(Math.abs(jv)).toBeGreaterThan(1e-4);
      expect(scaledError(jv, vjt, 1e-7, 1e-12), `J·v ${jv} vs Jᵀc ${vjt}`).toBeLessThanOrEqual(1);
    }
  });

  it('the interpreter backend (flat arrays) returns the same gradients as BPTT', () => {
    const B = 2;
    const run = randomRun(cell, { env, batch: B, steps, seed: 41 });
    const cot = randomCotangents(cell, run, 42);
    const { grads } = cellGradients(cell, run, cot);
    const backend = interpBackend(cell, { dims: Object.fromEntries(env), batch: B });
    const flat = (ts: readonly { data: Float64Array }[]) => Float64Array.from(ts.flatMap((t) => [...t.data]));
    backend.forward(steps, Object.fromEntries(Object.entries(run.params).map(([k, v]) => [k, v.data])),
      Object.fromEntries(Object.entries(run.inputs).map(([k, v]) => [k, flat(v)])),
      Object.fromEntries(Object.entries(run.init).map(([k, v]) => [k, v.data])));
    const g = backend.backward({
      states: Object.fromEntries(Object.entries(cot.states).map(([k, v]) => [k, flat(v)])),
      outputs: Object.fromEntries(Object.entries(cot.outputs).map(([k, v]) => [k, flat(v)])),
    });
    for (const [k, v] of Object.entries(grads.params)) expect([...g.params[k]!]).toEqual([...v.data]);
    for (const [k, v] of Object.entries(grads.inputs)) expect([...g.inputs[k]!]).toEqual([...flat(v)]);
    for (const [k, v] of Object.entries(grads.init)) expect([...g.init[k]!]).toEqual([...v.data]);
  });

  it('verify() accepts the forward and backward graphs', () => {
    expect(verify(cell.forward)).toEqual([]);
    expect(verify(cell.backward)).toEqual([]);
    expect(verify(build(cell.typed))).toEqual([]);
    expect(verify(grad(cell.forward))).toEqual([]);
  });

  it('simplify is idempotent and preserves values', () => {
    // The compiled graphs are already simplified: simplifying again returns the same object.
    expect(simplify(cell.forward)).toBe(cell.forward);
    expect(simplify(cell.backward)).toBe(cell.backward);
    const raw = build(cell.typed);
    const once = simplify(raw);
    expect(simplify(once)).toBe(once);
    expect(verify(once)).toEqual([]);
    expectSameValues(raw, once, env, 51);
    const rawGrad = grad(cell.forward);
    const gradOnce = simplify(rawGrad);
    expect(simplify(gradOnce)).toBe(gradOnce);
    expect(verify(gradOnce)).toEqual([]);
    expectSameValues(rawGrad, gradOnce, env, 52);
  });
});
