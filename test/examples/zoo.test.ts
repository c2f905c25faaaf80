// The zoo (examples/zoo/): research cells written as their papers write them.
// For every cell that compiles: BPTT gradients against central finite
// differences and the inner-product identity; every backend (JavaScript
// float64, float32 with the WebAssembly SIMD loops, gpu.js) against the
// float64 interpreter; and `celda eval`'s float64 answer against an
// independent PyTorch float64 reference written from the paper
// (test/support/zoo_ref.py) — for PyTorch's GRU also against torch.nn.GRUCell.

import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import { evaluate } from '../../runtime/eval-json.ts';
import { gpujsBackend, releaseDevices } from '../../runtime/backends/gpujs.ts';
import { jsBackend } from '../../runtime/backends/js.ts';
import { Rng } from '../../runtime/random.ts';
import { makeCase, reference, relativeErrors } from '../browser/cases.ts';
import { agreement } from '../support/emit-js.ts';
import {
  cellGradients, checkSlots, describeMismatches, dimEnv, directionalDiff, dot, randomCotangents, randomRun, randomTensor, scaledError,
} from '../support/numeric.ts';
import { pythonWith, relativeError, runPythonJson, torchRequired } from '../support/python.ts';
import { compileOk } from '../support/cells.ts';
import { zooFiles, zooSource } from '../support/zoo.ts';

const REF = fileURLToPath(new URL('../support/zoo_ref.py', import.meta.url));

/**
 * Each zoo file: whether its states start at random values or at their
 * declared zeros (the xLSTM normalisers n divide: a random n^<0> near 0 would
 * make the checks measure that division instead of the cell), and whether only
 * h is checked against finite differences: the stabilised xLSTM cells take m
 * out of the gradient (sg), which leaves h's gradients exact (h does not depend
 * on m) but not those of c, n and m.
 */
const ZOO: Readonly<Record<string, { readonly zeroInit?: boolean; readonly onlyH?: boolean }>> = {
  'indrnn.celda': {}, 'ugrnn.celda': {}, 'intersection-rnn.celda': {}, 'janet.celda': {}, 'sru.celda': {},
  'mingru.celda': {}, 'minlstm.celda': {}, 'slstm.celda': { zeroInit: true, onlyH: true }, 'slstm-unstabilised.celda': { zeroInit: true },
  'mlstm.celda': { zeroInit: true, onlyH: true }, 'rg-lru.celda': {}, 'ln-lstm.celda': {}, 'li-gru.celda': {}, 'pytorch-gru.celda': {},
  'mamba-s6.celda': {},
};
const SIZES = { n_x: 3, n_h: 4, d: 4, D: 3, N: 2 };

const FILES = zooFiles();
const source = zooSource;

function compileZoo(file: string): { cell?: CompiledCell; errors: string[] } {
  const r = compile(source(file));
  const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
  return { cell: errors.length === 0 ? r.cells[0] : undefined, errors };
}

const READY = FILES.map((file) => {
  const { cell, errors } = compileZoo(file);
  return { file, cell, errors, zeroInit: !!ZOO[file]?.zeroInit, onlyH: !!ZOO[file]?.onlyH };
});

describe('the zoo', () => {
  it('holds the cells of issue 13, each with its settings here', () => {
    expect(FILES).toEqual(Object.keys(ZOO).sort());
  });

  it('every file opens with a header citing its paper', () => {
    for (const f of FILES) {
      const head = source(f).split('\n').filter((l) => l.startsWith('#')).join('\n');
      expect(head, f).toMatch(/\b(19|20)\d\d\b/);
      expect(head, f).toMatch(/§|eq\.|eqs\.|Algorithm|docs/);
    }
  });

  it('every cell compiles as its paper writes it', () => {
    expect(READY.filter((r) => r.errors.length).map((r) => `${r.file}: ${r.errors.join('; ')}`)).toEqual([]);
    expect(READY.length).toBe(15);
  });
});

const ready = READY.filter((r): r is typeof r & { cell: CompiledCell } => r.cell !== undefined);

describe.each(ready)('$file', ({ file, cell, zeroInit, onlyH }) => {
  const env = dimEnv(cell, SIZES);
  const dims = Object.fromEntries(env);
  const runOf = (seed: number, batch = 2) => randomRun(cell, { env, batch, steps: 3, seed, randomInit: !zeroInit });
  /** Random cotangents of every state and output (of h alone for the cells that stop m's gradient). */
  const cotOf = (run: ReturnType<typeof runOf>, seed: number) => {
    const cot = randomCotangents(cell, run, seed);
    if (!onlyH) return cot;
    const keep = (r: typeof cot.states) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'h' ? v : v.map((x) => ({ ...x, data: new Float64Array(x.data.length) }))]));
    return { states: keep(cot.states), outputs: keep(cot.outputs) };
  };

  it('gradients w.r.t. every parameter, input and initial state match finite differences', () => {
    const run = runOf(11);
    const cot = cotOf(run, 12);
    const { slots, loss } = cellGradients(cell, run, cot);
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
    expect(r.maxRel).toBeLessThan(1e-6);
  });

  it('satisfies the inner-product identity ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩ along random directions', () => {
    for (const seed of [31, 32]) {
      const run = runOf(seed);
      const cot = cotOf(run, seed + 100);
      const { slots, loss } = cellGradients(cell, run, cot);
      const rng = new Rng(seed + 200);
      const dirs = slots.map((s) => randomTensor(rng, false, [s.data.length], 1).data);
      const norm = Math.sqrt(dirs.reduce((a, d) => a + dot(d, d), 0));
      dirs.forEach((d) => d.forEach((x, i) => { d[i] = x / norm; }));
      const jv = directionalDiff(loss, slots.map((s) => s.data), dirs);
      const vjt = slots.reduce((acc, s, k) => acc + dot(dirs[k]!, s.grad), 0);
      expect(Math.abs(jv)).toBeGreaterThan(1e-4);
      expect(scaledError(jv, vjt, 1e-7, 1e-12), `J·v ${jv} vs Jᵀc ${vjt}`).toBeLessThanOrEqual(1);
    }
  });

  it('JavaScript float64 and float32 (WebAssembly SIMD loops, and without SIMD) agree with the interpreter', () => {
    for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
      // agreement() starts every state at random values: for the xLSTM cells small ones, so that
      // n^<0> + i stays away from 0 (near it, float32's c/n is all rounding and its exp overflows)
      const o = { dims, batch, steps: 5, seed, scale: zeroInit ? 0.2 : 0.5 };
      const f64 = agreement(cell, jsBackend, o);
      // float64 to 1e-12, or to what the cell's own conditioning allows: `conditioning` is how far
      // one float32 rounding (2⁻²⁴) of the inputs moves the answer, one float64 rounding moves it
      // 2²⁹ times less (the sLSTM's normaliser n starts at random values here, some near 0)
      expect(f64.worst, `f64 worst at ${f64.where} (conditioning ${f64.conditioning})`).toBeLessThanOrEqual(Math.max(1e-12, 1e-7 * f64.conditioning));
      for (const simd of [true, false]) {
        const f32 = agreement(cell, (c, b) => jsBackend(c, { ...b, simd }), { ...o, precision: 'f32' });
        // float32 to 1e-5 of each array, or (an array that is a sum of cancelling terms) of the cell's
        // scale, never far beyond what one float32 rounding of the inputs moves the float64 answer by
        expect(Math.min(f32.worst, Math.max(f32.worstScaled, 0)), `f32 simd ${simd}: worst at ${f32.where}`).toBeLessThanOrEqual(Math.max(1e-5, 20 * f32.conditioning));
      }
    }
  });

  it('gpu.js (WebAssembly mode) agrees with the interpreter', async () => {
    const c = makeCase(file, source(file), { dims, batch: 3, steps: 4, seed: 5 });
    if (zeroInit) for (const k of Object.keys(c.init)) c.init[k] = c.init[k]!.map(() => 0);
    const b = await gpujsBackend(cell, { dims: c.dims, batch: c.batch, mode: 'webasm' });
    const v = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, Float64Array.from(x)]));
    const list = (r: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, Array.from(x)]));
    const f = await b.forward(c.steps, v(c.params), v(c.inputs), v(c.init));
    const g = await b.backward({ states: v(c.cot.states), outputs: v(c.cot.outputs) });
    const errors = relativeErrors({ states: list(f.states), outputs: list(f.outputs), grads: { params: list(g.params), inputs: list(g.inputs), init: list(g.init) } }, reference(c));
    expect(Object.keys(errors).length).toBeGreaterThan(3);
    expect(Object.entries(errors).filter(([, e]) => !(e <= 1e-4))).toEqual([]);
  });
});

afterAll(() => releaseDevices());

type Json = unknown;

// ---------------------------------------------------------------- the PyTorch references

const py = pythonWith(['torch']);
const CONTEXT = 'the zoo\'s PyTorch references need a python3 with torch (CELDA_PYTHON=/usr/bin/python3)';
if (!py && !torchRequired()) console.warn(`skipping: ${CONTEXT}`);

/** The `celda eval` request of a case: seeded random inputs, initial states and cotangents of every state and output. */
function evalCase(cell: CompiledCell, zeroInit: boolean, seed: number) {
  const rng = new Rng(seed);
  const env = dimEnv(cell, SIZES);
  const t = cell.typed;
  const T = 4, B = 2;
  const n = (d: Parameters<typeof evalDimOf>[0]) => evalDimOf(d, env);
  const arr = (shape: number[]): Json => (shape.length === 0 ? rng.normal() : Array.from({ length: shape[0]! }, () => arr(shape.slice(1))));
  const probe = evaluate(cell, { inputs: { dims: Object.fromEntries([...env].filter(([k]) => t.dims.includes(k))), batch: B, steps: 1, inputs: Object.fromEntries(t.inputs.map((i) => [i.name, arr([1, B, n(i.dim)])])) } }, { seed });
  const shapeOf = (v: Json): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);
  const stateShapes = Object.fromEntries(Object.entries(probe.result.states as Record<string, Json>).map(([k, v]) => [k, shapeOf(v).slice(1)]));
  const outputShapes = Object.fromEntries(Object.entries(probe.result.outputs as Record<string, Json>).map(([k, v]) => [k, shapeOf(v).slice(1)]));
  const inputs = {
    dims: Object.fromEntries([...env].filter(([k]) => t.dims.includes(k))), batch: B, steps: T,
    inputs: Object.fromEntries(t.inputs.map((i) => [i.name, arr([T, B, n(i.dim)])])),
    init: zeroInit ? {} : Object.fromEntries(Object.entries(stateShapes).map(([k, s]) => [k, arr(s)])),
    cotangents: Object.fromEntries(Object.entries({ ...stateShapes, ...outputShapes }).map(([k, s]) => [k, arr([T, ...s])])),
  };
  const init = zeroInit ? Object.fromEntries(Object.entries(stateShapes).map(([k, s]) => [k, zeros(s)])) : inputs.init;
  return { inputs, init, stateNames: Object.keys(stateShapes), outputNames: Object.keys(outputShapes) };
}
const zeros = (shape: number[]): Json => (shape.length === 0 ? 0 : Array.from({ length: shape[0]! }, () => zeros(shape.slice(1))));
function evalDimOf(d: CompiledCell['typed']['inputs'][number]['dim'], env: Map<string, number>): number {
  return d.terms.reduce((s, [v, c]) => s + c * env.get(v)!, d.k);
}

/**
 * Some cells spelled again without the research notation (W_cx for W^{cx}, i_s
 * for i′, a^{8 r} as exp(8 r log a), minGRU's g by max and min): the same
 * functions, so the paper's spelling and this one agree (both against one reference).
 */
const TODAY: Readonly<Record<string, string>> = {
  'ugrnn.celda': `cell UGRNN_today {
  input x : n_x
  state h : n_h
  c = tanh(W_cx x^<t> + W_ch h^<t-1> + b_c)
  g = σ(W_gx x^<t> + W_gh h^<t-1> + b_g)
  h^<t> = g ⊙ h^<t-1> + (1 − g) ⊙ c
}`,
  'intersection-rnn.celda': `cell IntersectionRNN_today {
  input x : n_x
  state h : n_h
  y_in = relu(W_yx x^<t> + W_yh h^<t-1> + b_y)
  h_in = tanh(W_hx x^<t> + W_hh h^<t-1> + b_h)
  g_y = σ(W_gyx x^<t> + W_gyh h^<t-1> + b_gy)
  g_h = σ(W_ghx x^<t> + W_ghh h^<t-1> + b_gh)
  y^<t> = g_y ⊙ x^<t> + (1 − g_y) ⊙ y_in
  h^<t> = g_h ⊙ h^<t-1> + (1 − g_h) ⊙ h_in
}`,
  'slstm.celda': `cell sLSTM_today {
  input x : n_x
  state c : n_h
  state n : n_h
  state m : n_h
  state h : n_h
  z̃ = W_z x^<t> + R_z h^<t-1> + b_z
  ĩ = W_i x^<t> + R_i h^<t-1> + b_i
  f̃ = W_f x^<t> + R_f h^<t-1> + b_f
  õ = W_o x^<t> + R_o h^<t-1> + b_o
  m^<t> = max(f̃ + m^<t-1>, ĩ)
  i_s = exp(ĩ − sg(m^<t>))
  f_s = exp(f̃ + sg(m^<t-1>) − sg(m^<t>))
  c^<t> = f_s ⊙ c^<t-1> + i_s ⊙ tanh(z̃)
  n^<t> = f_s ⊙ n^<t-1> + i_s
  h^<t> = σ(õ) ⊙ c^<t> / n^<t>
}`,
  // g(v) = v + 0.5 for v ≥ 0, σ(v) otherwise, is max(v, 0) + σ(min(v, 0)) (σ(0) = 0.5)
  'mingru.celda': `cell minGRU_today {
  input x : n_x
  state h : n_h
  z = σ(W_z x^<t> + b_z)
  u = W_h x^<t> + b_h
  h^<t> = (1 − z) ⊙ h^<t-1> + z ⊙ (max(u, 0) + σ(min(u, 0)))
}`,
  'minlstm.celda': `cell minLSTM_today {
  input x : n_x
  state h : n_h
  f = σ(W_f x^<t> + b_f)
  i = σ(W_i x^<t> + b_i)
  u = W_h x^<t> + b_h
  h^<t> = f / (f + i) ⊙ h^<t-1> + i / (f + i) ⊙ (max(u, 0) + σ(min(u, 0)))
}`,
  'rg-lru.celda': `cell RG_LRU_today {
  input x : D
  state h : D
  param Λ : D
  r = σ(W_a x^<t> + b_a)
  i = σ(W_x x^<t> + b_x)
  α = exp(8 r ⊙ log(σ(Λ)))
  h^<t> = α ⊙ h^<t-1> + sqrt(1 − α^2) ⊙ (i ⊙ x^<t>)
}`,
};

describe.skipIf(!py && !torchRequired())('independent PyTorch float64 references written from the papers', () => {
  const today = Object.entries(TODAY).map(([file, text]) => ({ file, cell: compileOk(text)[0]!, zeroInit: !!ZOO[file]?.zeroInit, today: true }));
  const cases = [...ready.map((r) => ({ ...r, today: false })), ...today].map(({ file, cell, zeroInit, today }) => {
    const c = evalCase(cell, zeroInit, 7);
    const ours = evaluate(cell, { inputs: c.inputs as Json }, { seed: 3 });
    const result = ours.result as Record<string, Record<string, Json>>;
    const cot = c.inputs.cotangents as Record<string, Json>;
    const split = (names: string[]) => Object.fromEntries(names.map((k) => [k, cot[k]!]));
    return {
      file: today ? `${file}, as spelled today` : file, cell, ours: result,
      request: { cell: file.replace(/\.celda$/, ''), params: result.params, x: (c.inputs.inputs as Record<string, Json>).x, init: c.init, cot: { states: split(c.stateNames), outputs: split(c.outputNames) } },
    };
  });

  let cached: { states: Json; outputs: Json; grads: Record<string, Json>; unused_params: string[] }[] | undefined;
  const answers = () => (cached ??= (() => {
    if (!py) {
      if (torchRequired()) throw new Error(`CELDA_REQUIRE_TORCH=1 but ${CONTEXT}`);
      return [];
    }
    const requests = cases.map((c) => c.request);
    const gru = cases.find((c) => c.file === 'pytorch-gru.celda');
    if (gru) requests.push({ ...gru.request, gru_cell: true } as typeof gru.request);
    return runPythonJson(py, REF, requests) as NonNullable<typeof cached>;
  })());

  it.each(cases.map((c, i) => ({ ...c, i })))('$file: states, outputs and every gradient to 1e-8 relative', ({ ours, i }) => {
    const ref = answers()[i]!;
    expect(ref.unused_params, 'parameters of the cell the paper does not have').toEqual([]);
    const errs: Record<string, number> = {};
    for (const part of ['states', 'outputs'] as const) {
      const mine = ours[part] as Record<string, Json>, theirs = ref[part] as Record<string, Json>;
      expect(Object.keys(mine).sort(), part).toEqual(Object.keys(theirs).sort());
      for (const k of Object.keys(mine)) errs[`${part}.${k}`] = relativeError(theirs[k], mine[k]);
    }
    const g = ours.grads as Record<string, Record<string, Json>>;
    for (const part of ['params', 'inputs', 'init'] as const) {
      const mine = g[part]!, theirs = ref.grads[part] as Record<string, Json>;
      for (const k of Object.keys(mine)) errs[`grads.${part}.${k}`] = relativeError(theirs[k], mine[k]);
    }
    expect(Object.keys(errs).length).toBeGreaterThan(4);
    expect(Object.entries(errs).filter(([, e]) => !(e <= 1e-8))).toEqual([]);
  });

  it.skipIf(!cases.some((c) => c.file === 'pytorch-gru.celda'))('PyTorch\'s GRU agrees with torch.nn.GRUCell itself (states and the gradients w.r.t. inputs and initial state)', () => {
    const k = cases.findIndex((c) => c.file === 'pytorch-gru.celda');
    const ours = cases[k]!.ours, cellAnswer = answers()[cases.length]!;
    expect(relativeError((cellAnswer.states as Record<string, Json>).h, (ours.states as Record<string, Json>).h)).toBeLessThanOrEqual(1e-8);
    const g = ours.grads as Record<string, Record<string, Json>>;
    expect(relativeError((cellAnswer.grads.inputs as Record<string, Json>).x, g.inputs!.x)).toBeLessThanOrEqual(1e-8);
    expect(relativeError((cellAnswer.grads.init as Record<string, Json>).h, g.init!.h)).toBeLessThanOrEqual(1e-8);
  });
});
