// The generated JavaScript: agreement with the float64 interpreter on every
// example cell (values and all gradients, float64 and float32), snapshots of the
// emitted modules for the notes' cells, byte-identical output, standalone modules
// (no imports; they run as ES modules and as function bodies), the lowering's
// structure (hoisted input projections, stacked gates, deferred dW), and clear
// errors for bad calls.

import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import type { CompiledCell } from '../../../../compiler/compile.ts';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import { trainingStepFlops } from '../../../../compiler/lower/cost.ts';
import { lowerCell } from '../../../../compiler/lower/lower.ts';
import type { Kernel } from '../../../../compiler/lower/loop-ir.ts';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import { jsBackend, loadJsFactory } from '../../../../runtime/backends/js.ts';
import { agreement, relativeError } from '../../../support/emit-js.ts';
import { compileOk, example, exampleFiles } from '../../../support/cells.ts';

const dimsOf = (c: CompiledCell) => Object.fromEntries(c.typed.dims.map((d, i) => [d, 2 + ((i * 3) % 4)]));
const stepsOf = (c: CompiledCell) => (c.typed.mode === 'unrolled' ? c.typed.steps : 5);

describe('agreement with the interpreter on every example cell', () => {
  for (const file of exampleFiles()) {
    for (const precision of ['f64', 'f32'] as const) {
      it(`${file} (${precision})`, () => {
        const cell = example(file);
        const tol = precision === 'f64' ? 1e-12 : 1e-5;
        for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
          const a = agreement(cell, jsBackend, { dims: dimsOf(cell), batch, steps: stepsOf(cell), seed, precision });
          expect(Object.keys(a.errors).length).toBeGreaterThan(0);
          expect(a.worst, `worst at ${a.where}`).toBeLessThanOrEqual(tol);
        }
      });
    }
  }

  it('agrees at realistic sizes too (LSTM, n_x 7, n_a 13, batch 5, T 9)', () => {
    const cell = example('lstm.celda');
    const a = agreement(cell, jsBackend, { dims: { n_x: 7, n_a: 13 }, batch: 5, steps: 9, seed: 4, scale: 0.3 });
    expect(a.worst, a.where).toBeLessThanOrEqual(1e-12);
  });
});

const NOTES_CELLS = ['rnn.celda', 'rnn-g.celda', 'rnn-unrolled.celda', 'gru-simplified.celda', 'gru.celda', 'lstm-notes.celda'];

describe('emitted modules', () => {
  for (const file of NOTES_CELLS) {
    it(`snapshot: ${file}`, async () => {
      const js = emitJs(example(file));
      await expect(js.module).toMatchFileSnapshot(`__snapshots__/${file.replace(/\.celda$/, '')}.js`);
    });
  }

  it('snapshot: the declarations of the LSTM (float32), which TypeScript accepts', async () => {
    const js = emitJs(example('lstm-notes.celda'), { precision: 'f32' });
    await expect(js.dts).toMatchFileSnapshot('__snapshots__/lstm-notes.f32.d.ts');
    const sf = ts.createSourceFile('cell.d.ts', js.dts, ts.ScriptTarget.ES2022, true);
    expect((sf as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics).toEqual([]);
  });

  it('is byte-identical for the same input', () => {
    for (const file of exampleFiles()) {
      const a = emitJs(compileOk(example(file).source)[0]!);
      const b = emitJs(compileOk(example(file).source)[0]!);
      expect(a.module).toBe(b.module);
      expect(a.dts).toBe(b.dts);
    }
  });

  it('is standalone: no import, runs as an ES module and as a function body', async () => {
    const cell = example('gru.celda');
    const js = emitJs(cell);
    expect(js.module).not.toMatch(/\bimport\b|\brequire\s*\(|\bprocess\b|globalThis/);
    const mod = (await import(`data:text/javascript,${encodeURIComponent(js.module)}`)) as { default: unknown; createGRU: unknown };
    expect(mod.default).toBe(mod.createGRU);
    const fromBody = new Function(js.body)() as (d: object, b: number) => { forward: Function; backward: Function };
    const dims = { n_x: 3, n_a: 4 };
    const P = (seed: number) => Object.fromEntries(cell.typed.params.map((p, k) => [p.name, Float64Array.from({ length: p.shape.length === 2 ? 4 * 7 : 4 }, (_, i) => Math.sin(seed + 7 * k + i))]));
    const x = Float64Array.from({ length: 3 * 2 * 3 }, (_, i) => Math.cos(i));
    const a = (mod.default as typeof fromBody)(dims, 2).forward(P(1), { x }) as { states: { c: Float64Array } };
    const b = fromBody(dims, 2).forward(P(1), { x }) as { states: { c: Float64Array } };
    expect(Array.from(a.states.c)).toEqual(Array.from(b.states.c));
  });

  it('labels the forward and backward sections and names values after the notation', () => {
    const m = emitJs(example('lstm.celda')).module;
    for (const s of ['const Gamma_u =', 'const c_tilde =', '// Γ_u = σ(W_u[a^⟨t−1⟩, x^⟨t⟩] + b_u)', 'forward: before the loop', 'forward: step t+1', 'backward: step t+1 back through time', 'backward: after the loop', '$dW_c'])
      expect(m).toContain(s);
  });
});

describe('lowering', () => {
  const kinds = (ks: readonly Kernel[]) => ks.map((k) => k.k);
  const gemms = (ks: readonly Kernel[]) => ks.filter((k): k is Extract<Kernel, { k: 'gemm' }> => k.k === 'gemm');

  it('LSTM: the four gates as one stacked product, the x part hoisted, one product per step', () => {
    const plan = lowerCell(example('lstm.celda'));
    const pre = gemms(plan.forward.phases.pre), loop = gemms(plan.forward.phases.loop);
    expect(pre).toHaveLength(1);
    expect(loop).toHaveLength(1);
    expect(pre[0]!.rows).toBe('TB');
    expect(pre[0]!.n).toEqual({ terms: [['n_a', 4]], k: 0 }); // [4·n_a × n_x] for all T·B rows at once
    expect(loop[0]!.n).toEqual({ terms: [['n_a', 4]], k: 0 }); // [4·n_a × n_a] per step
    expect(kinds(plan.forward.phases.loop)).toEqual(['gemm', 'fused']); // one product, one fused loop
  });

  it('LSTM backward: one product per step carries ∂a; dx, dW, db after the loop over T·B rows', () => {
    const plan = lowerCell(example('lstm.celda'));
    expect(kinds(plan.backward.phases.loop)).toEqual(['fused', 'gemm']);
    expect(gemms(plan.backward.phases.loop)[0]!.depth).toEqual({ terms: [['n_a', 4]], k: 0 }); // [W_o; W_f; W_u; W_c]ᵀ δ as one product
    const post = plan.backward.phases.post;
    expect(post.filter((k) => k.k === 'outer')).toHaveLength(8); // dW_{c,u,f,o} for a and x columns
    expect(post.every((k) => k.k !== 'outer' || k.rows === 'TB')).toBe(true);
    expect(post.filter((k) => k.k === 'sumRows')).toHaveLength(4);
    expect(gemms(post).some((g) => g.rows === 'TB')).toBe(true); // dx
  });

  it('RNN: the softmax readout runs after the loop, and its backward before it', () => {
    const plan = lowerCell(example('rnn.celda'));
    expect(kinds(plan.forward.phases.post)).toContain('softmax');
    expect(kinds(plan.forward.phases.loop)).not.toContain('softmax');
    expect(gemms(plan.backward.phases.pre)).toHaveLength(1); // W_yaᵀ δ_y for all steps
  });

  it('counts the products of a training step', () => {
    const c = example('lstm.celda');
    const [nx, na, B, T] = [16, 32, 1, 32];
    expect(trainingStepFlops(c, { n_x: nx, n_a: na }, B, T)).toBe(6 * T * B * 4 * na * (na + nx));
  });
});

describe('the instance', () => {
  const cell = example('lstm.celda');
  const dims = { n_x: 2, n_a: 3 };
  const params = Object.fromEntries(cell.typed.params.map((p) => [p.name, new Float64Array(p.shape.length === 2 ? 3 * 5 : 3).fill(0.1)]));

  it('explains bad calls', () => {
    const create = loadJsFactory(cell);
    expect(() => create({ n_x: 2 }, 1)).toThrow('dims.n_a must be a whole number ≥ 1, got undefined');
    expect(() => create(dims, 0)).toThrow('batch must be a whole number ≥ 1');
    const inst = create(dims, 1);
    expect(() => inst.backward({})).toThrow('backward before forward');
    expect(() => inst.forward({ ...params, W_c: new Float64Array(3) }, { x: new Float64Array(4) })).toThrow('params.W_c: expected 15 numbers, got 3');
    const { W_u: _, ...missing } = params;
    expect(() => inst.forward(missing, { x: new Float64Array(4) })).toThrow('params.W_u: missing');
    expect(() => inst.forward(params, { x: new Float64Array(3) })).toThrow('the number of steps');
  });

  it('single steps agree with the first step of a sequence', () => {
    const create = loadJsFactory(cell) as unknown as (d: object, b: number) => { forward: Function; backward: Function; step: Function; stepBackward: Function };
    const inst = create(dims, 2);
    const x = Float64Array.from({ length: 3 * 2 * 2 }, (_, i) => Math.sin(i));
    const seq = inst.forward(params, { x }) as { states: Record<string, Float64Array> };
    const a1 = Array.from(seq.states.a!.subarray(0, 6));
    const one = inst.step(params, { x: x.subarray(0, 4) }) as { states: Record<string, Float64Array> };
    expect(Array.from(one.states.a!)).toEqual(a1);
    expect(Array.from(seq.states.a!.subarray(0, 6))).toEqual(a1); // the sequence's trajectory is kept
    const g = inst.stepBackward({ states: { a: new Float64Array(6).fill(1) } }) as { params: Record<string, Float64Array> };
    const ref = interpBackend(cell, { dims, batch: 2 });
    ref.forward(1, params, { x: x.subarray(0, 4) });
    expect(relativeError(g.params.W_o!, ref.backward({ states: { a: new Float64Array(6).fill(1) } }).params.W_o!)).toBeLessThan(1e-12);
  });

  it('returns copies through the backend, so a later run does not change earlier results', () => {
    const b = jsBackend(cell, { dims, batch: 1 });
    const r1 = b.forward(2, params, { x: new Float64Array(4).fill(1) });
    const before = Array.from(r1.states.a!);
    b.forward(2, params, { x: new Float64Array(4).fill(-1) });
    expect(Array.from(r1.states.a!)).toEqual(before);
  });

  it('grows its buffers with T and gives the same numbers for a shorter T afterwards', () => {
    const b = jsBackend(cell, { dims, batch: 1 });
    const x = Float64Array.from({ length: 8 * 2 }, (_, i) => Math.cos(i));
    const short1 = b.forward(3, params, { x: x.subarray(0, 6) }).states.a!;
    b.forward(8, params, { x });
    const short2 = b.forward(3, params, { x: x.subarray(0, 6) }).states.a!;
    expect(Array.from(short2)).toEqual(Array.from(short1));
  });
});

describe('hostile input cannot inject code', () => {
  // Comments that try to close the module's code, names that are JS keywords and
  // globals (and celda's own names without `$`), a cell named `constructor`.
  const source = `# */ }); globalThis.pwned = 1; (function(){ //
% </script><script>globalThis.pwned = 2</script>
cell constructor {
  input return : function   # "); globalThis.pwned = 3; ("
  state this : new
  param Math : new × function
  eval^<t> = tanh(Math return^<t> + arguments + W_this this^<t-1> + 1e308 * 0 + 0.1)
  this^<t> = sigmoid(eval^<t>) * (1 - Float64Array) + prototype + forward + mem + B
  step^<t> = softmax(B_t[this^<t>, return^<t>])
}
`;

  it('emits nothing from comments or names but identifiers and JSON strings', () => {
    const cell = compileOk(source)[0]!;
    const js = emitJs(cell);
    for (const text of [js.module, js.dts]) {
      expect(text).not.toContain('pwned');
      expect(text).not.toContain('<script');
    }
    for (const bad of [/const eval\b/, /const this\b/, /const new\b/, /const return\b/, /\bfunction function\b/]) expect(js.module).not.toMatch(bad);
    expect(js.module).toContain('const eval_ =');
    expect(js.module).toContain('createconstructor');
  });

  it('runs, touches no global, and still agrees with the interpreter', () => {
    const cell = compileOk(source)[0]!;
    const g = globalThis as { pwned?: unknown };
    delete g.pwned;
    const a = agreement(cell, jsBackend, { dims: dimsOf(cell), batch: 2, steps: 3, seed: 5 });
    expect(a.worst, a.where).toBeLessThanOrEqual(1e-12);
    expect(g.pwned).toBeUndefined();
  });

  it('reads only own properties of the caller\'s objects', () => {
    const cell = compileOk('cell C {\n  input x : n\n  state h : n\n  h^<t> = tanh(W h^<t-1> + x^<t>)\n}\n')[0]!;
    const inst = loadJsFactory(cell)({ n: 1 }, 1);
    expect(() => inst.forward(Object.create({ W: [1] }) as Record<string, number[]>, { x: [1] })).toThrow('params.W: missing');
    expect(() => inst.forward({ W: [1] }, Object.create({ x: [1] }) as Record<string, number[]>)).toThrow('the number of steps');
  });
});
