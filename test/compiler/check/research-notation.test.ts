// The notation of research cells (issue 13 items 6–8): functions defined in a
// cell and the predefined LN and RMSNorm, `cases` with comparisons, split
// left-hand sides, time subscripts, primes, superscript labels and Greek
// subscripts. The three spellings are one program; misuse is a positioned
// diagnostic; printed cells parse back to the same graph; gradients match
// finite differences; LN matches a float64 layer norm computed here by hand;
// the layer-normalised LSTM of Ba et al. (2016) compiles and its gradients check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { printCell, printGrad } from '../../../compiler/print/notation.ts';
import { forward } from '../../../runtime/unroll.ts';
import { canonical, compileOk } from '../../support/cells.ts';
import { cellGradients, checkSlots, describeMismatches, dimEnv, randomCotangents, randomRun } from '../../support/numeric.ts';

/** A gate through a piecewise function, a clip with a parameter passed after `;`, a split pre-activation, three ways. */
const SPELLINGS = {
  unicode: `cell R {
  input x : n_x
  state h : n_h
  g(v) = cases(v + 0.5 if v ≥ 0, σ(v) otherwise)
  clip(v; lo) = cases(lo if v < lo, v otherwise)
  [f, i] = W x_t + U h_{t−1}
  h_t = g(f) ⊙ h_{t−1} + clip(i; b)
}`,
  ascii: `cell R {
  input x : n_x
  state h : n_h
  g(v) = cases(v + 0.5 if v >= 0, sigma(v) otherwise)
  clip(v; lo) = cases(lo if v < lo, v otherwise)
  [f, i] = W x^<t> + U h^<t-1>
  h^<t> = g(f) * h^<t-1> + clip(i; b)
}`,
  latex: String.raw`cell R {
  input x : n_x
  state h : n_h
  g(v) = \begin{cases} v + 0.5, & \text{if } v \geq 0 \\ \sigma(v) & \text{otherwise} \end{cases}
  \operatorname{clip}(v; lo) = \begin{cases}
    lo & v < lo \\
    v & \text{otherwise}
  \end{cases}
  [f, i] = W x_{t} + U h_{t-1}
  h_{t} = g(f) \odot h_{t-1} + \operatorname{clip}(i; b)
}`,
};

function one(src: string): CompiledCell {
  const r = compile(src);
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return r.cells[0]!;
}

/** Each diagnostic as `code text-under-the-caret: message (help)`. */
function diag(body: string, decls = 'input x : n\n  state h : n'): string[] {
  const src = `cell C {\n  ${decls}\n  ${body}\n}`;
  return compile(src).diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}: ${d.message}${d.help ? ` (${d.help})` : ''}`);
}

function gradientsCheck(cell: CompiledCell, sizes: Record<string, number>, seed = 5) {
  const run = randomRun(cell, { env: dimEnv(cell, sizes), batch: 2, steps: 4, seed });
  const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, seed + 1));
  const r = checkSlots(loss, slots);
  expect(r.count).toBeGreaterThan(20);
  expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
}

describe('functions, cases and split left-hand sides in the three spellings', () => {
  it('are one program', () => {
    const [first, ...rest] = Object.entries(SPELLINGS).map(([sp, src]) => [sp, canonical(one(src).forward)] as const);
    for (const [sp, other] of rest) expect(other, sp).toBe(first![1]);
    expect(first![1]).toMatch(/\bselect\[/);
    expect(first![1]).toMatch(/\bge\[/);
    expect(first![1]).toMatch(/\bslice\[/);
  });

  it('a function is inlined: the cell is the one written out by hand', () => {
    const byHand = one(`cell R {
  input x : n_x
  state h : n_h
  [f, i] = W x^<t> + U h^<t-1>
  h^<t> = cases(f + 0.5 if f >= 0, sigma(f) otherwise) * h^<t-1> + cases(b if i < b, i otherwise)
}`);
    expect(canonical(byHand.forward)).toBe(canonical(one(SPELLINGS.ascii).forward));
  });

  it('shapes: the split halves the rows of W and U; b learns its size from the clip', () => {
    const cell = one(SPELLINGS.ascii);
    const shapes = Object.fromEntries(cell.typed.params.map((p) => [p.name, p.shape.map((d) => d.terms.map(([v, c]) => `${c === 1 ? '' : c}${v}`).join('+'))]));
    expect(shapes).toEqual({ W: ['2n_h', 'n_x'], U: ['2n_h', 'n_h'], b: ['n_h'] });
  });

  it('print back in each spelling to the same graph, the split as a split and the cases as cases', () => {
    const cell = one(SPELLINGS.unicode);
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics, `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward), text).toBe(canonical(cell.forward));
    }
    const unicode = printCell(cell.typed, cell.forward, 'unicode');
    expect(unicode).toContain('[f, i] = W x^⟨t⟩ + U h^⟨t−1⟩');
    expect(unicode).toContain('cases(f + 0.5 if f ≥ 0, σ(f) otherwise)');
    expect(printCell(cell.typed, cell.forward, 'latex')).toContain('\\begin{cases} f + 0.5 & f \\geq 0 \\\\ \\sigma(f) & \\text{otherwise} \\end{cases}');
    expect(printCell(cell.typed, cell.forward, 'ascii')).toContain('cases(f + 0.5 if f >= 0, sigmoid(f) otherwise)');
  });

  it('celda grad routes the gradient by the mask: a select of the cotangent and 0', () => {
    const cell = one(SPELLINGS.ascii);
    const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'unicode' });
    expect(text).toContain('∂b = Σ_batch cases(∂h^⟨t⟩ if b > i, 0 otherwise)');
    expect(text).toContain('cases(δ₁ if f ≥ 0, 0 otherwise)');
    expect(text).toContain('∂h^⟨t−1⟩ = ∂h^⟨t⟩ * cases(f + 0.5 if f ≥ 0, σ(f) otherwise) + Uᵀ · δ₂');
  });

  it('gradients w.r.t. every parameter, input and initial state match finite differences', () => {
    gradientsCheck(one(SPELLINGS.ascii), { n_x: 3, n_h: 3 });
  });

  it('more arms, every comparison, and a comparison used as a value (1 or 0)', () => {
    const a = one(`cell A {
  input x : n
  state h : n
  h^<t> = cases(x^<t> if x^<t> > 1, -x^<t> if x^<t> <= -1, 0.5 * x^<t> if x^<t> ≤ 0.5, h^<t-1> otherwise) + (x^<t> ≥ h^<t-1>) * h^<t-1>
}`);
    const run = randomRun(a, { env: dimEnv(a, { n: 5 }), batch: 3, steps: 3, seed: 2, paramScale: 1 });
    const traj = forward(a, run);
    for (let t = 0; t < 3; t++) {
      const x = run.inputs.x![t]!.data, prev = t === 0 ? run.init.h!.data : traj.states.h![t - 1]!.data;
      const want = Array.from(x, (v, j) => (v > 1 ? v : v <= -1 ? -v : v <= 0.5 ? 0.5 * v : prev[j]!) + (v >= prev[j]! ? prev[j]! : 0));
      expect(Array.from(traj.states.h![t]!.data)).toEqual(want);
    }
    // Its jumps (at x = 1, x = 0.5, x = h) are no place for differences; a continuous one of three arms is.
    gradientsCheck(one(`cell A {
  input x : n
  state h : n
  h^<t> = cases(x^<t> - 0.5 if x^<t> > 1, -x^<t> - 1.5 if x^<t> <= -1, 0.5 * x^<t> otherwise) * h^<t-1>
}`), { n: 4 }, 9);
  });

  it('the branch not taken cannot poison the value: NaN and ∞ there stay out', () => {
    const a = one(`cell A {
  input x : n
  state h : n
  h^<t> = cases(log(x^<t>) if x^<t> > 0, h^<t-1> otherwise) + cases(h^<t-1> if x^<t> > 100, exp(x^<t>) otherwise)
}`);
    const run = randomRun(a, { env: dimEnv(a, { n: 4 }), batch: 2, steps: 2, seed: 3 });
    run.inputs.x![0]!.data.fill(-2000); // log(−2000) is NaN, not taken; exp(−2000) is 0
    run.inputs.x![1]!.data.fill(2000); // exp(2000) is ∞, not taken (m·a + (1 − m)·b would give NaN)
    const traj = forward(a, run);
    const h0 = Array.from(run.init.h!.data);
    expect(Array.from(traj.states.h![0]!.data)).toEqual(h0.map((v) => v + 0));
    expect(Array.from(traj.states.h![1]!.data)).toEqual(h0.map((v) => Math.log(2000) + v));
  });
});

describe('predefined functions: LN and RMSNorm', () => {
  const LN_CELL = `cell L {
  input x : n
  output y : n
  y^<t> = LN(W x^<t>; γ, β)
}`;

  it('LN(z; γ, β) = γ ⊙ (z − mean(z)) / sqrt(var(z) + 1e-5) + β, against a float64 layer norm by hand', () => {
    const cell = one(LN_CELL);
    const run = randomRun(cell, { env: dimEnv(cell, { n: 5 }), batch: 3, steps: 2, seed: 4, paramScale: 1 });
    const traj = forward(cell, run);
    const W = run.params.W!.data, g = run.params.gamma!.data, b = run.params.beta!.data;
    const n = 5;
    for (let t = 0; t < 2; t++) for (let e = 0; e < 3; e++) {
      const x = run.inputs.x![t]!.data.slice(e * n, e * n + n);
      const z = Array.from({ length: n }, (_, i) => x.reduce((s, v, j) => s + W[i * n + j]! * v, 0));
      const mu = z.reduce((s, v) => s + v, 0) / n;
      const sd = Math.sqrt(z.reduce((s, v) => s + (v - mu) ** 2, 0) / n + 1e-5);
      const want = z.map((v, i) => g[i]! * (v - mu) / sd + b[i]!);
      const got = Array.from(traj.outputs.y![t]!.data.slice(e * n, e * n + n));
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(want[i]!))));
    }
    gradientsCheck(cell, { n: 4 });
  });

  it('RMSNorm(z; γ) = γ ⊙ z / sqrt(mean(z²) + 1e-5); LayerNorm is another name of LN', () => {
    const cell = one(LN_CELL.replace('LN(W x^<t>; γ, β)', 'RMSNorm(W x^<t>; γ)'));
    const run = randomRun(cell, { env: dimEnv(cell, { n: 4 }), batch: 2, steps: 1, seed: 8, paramScale: 1 });
    const traj = forward(cell, run);
    const W = run.params.W!.data, g = run.params.gamma!.data;
    for (let e = 0; e < 2; e++) {
      const x = run.inputs.x![0]!.data.slice(e * 4, e * 4 + 4);
      const z = Array.from({ length: 4 }, (_, i) => x.reduce((s, v, j) => s + W[i * 4 + j]! * v, 0));
      const rms = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / 4 + 1e-5);
      Array.from(traj.outputs.y![0]!.data.slice(e * 4, e * 4 + 4)).forEach((v, i) => expect(v).toBeCloseTo(g[i]! * z[i]! / rms, 12));
    }
    gradientsCheck(cell, { n: 3 });
    expect(canonical(one(LN_CELL.replace('LN(', 'LayerNorm(')).forward)).toBe(canonical(one(LN_CELL).forward));
  });

  it('LN(z) and RMSNorm(z), of one argument, normalise without gain and bias', () => {
    const plain = one(LN_CELL.replace('LN(W x^<t>; γ, β)', 'LN(W x^<t>) + RMSNorm(W x^<t>)'));
    const byHand = one(LN_CELL.replace('LN(W x^<t>; γ, β)', '(W x^<t> - mean(W x^<t>)) / sqrt(mean((W x^<t> - mean(W x^<t>))^2) + 0.00001) + W x^<t> / sqrt(mean((W x^<t>)^2) + 0.00001)'));
    expect(canonical(plain.forward)).toBe(canonical(byHand.forward));
  });

  it('a function defined in the cell takes precedence over the predefined one', () => {
    const own = one(LN_CELL.replace('  y^<t>', '  LN(z; a, c) = a * tanh(z) + c\n  y^<t>'));
    expect(canonical(own.forward)).toBe(canonical(one(LN_CELL.replace('LN(W x^<t>; γ, β)', 'γ * tanh(W x^<t>) + β')).forward));
  });
});

/**
 * The layer-normalised LSTM of Ba, Kiros & Hinton (2016), "Layer Normalization",
 * section 3.1 ("Layer normalized recurrent neural networks") and the
 * layer-normalised LSTM equations of its supplementary material (the stacked
 * pre-activation normalised term by term, split into the four gates, and the
 * cell normalised before the output tanh), with LN(z; α, β) its normalisation
 * with gain α and bias β. (Equation numbers are not cited here: they differ
 * between the arXiv versions.)
 */
const LN_LSTM_PAPER = String.raw`cell LNLSTM {
  input x : n_x
  state h : n_h
  state c : n_h
  [f_t, i_t, o_t, g_t] = LN(W_h h_{t-1}; \alpha_1, \beta_1) + LN(W_x x_t; \alpha_2, \beta_2) + b
  c_t = \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t)
  h_t = \sigma(o_t) \odot \tanh(LN(c_t; \alpha_3, \beta_3))
}`;

const LN_LSTM_UNICODE = `cell LNLSTM {
  input x : n_x
  state h : n_h
  state c : n_h
  [f, i, o, g] = LN(W_h h^⟨t−1⟩; α_1, β_1) + LN(W_x x^⟨t⟩; α_2, β_2) + b
  c^⟨t⟩ = σ(f) ⊙ c^⟨t−1⟩ + σ(i) ⊙ tanh(g)
  h^⟨t⟩ = σ(o) ⊙ tanh(LN(c^⟨t⟩; α_3, β_3))
}`;

describe('the layer-normalised LSTM (Ba et al. 2016)', () => {
  it('compiles as the paper writes it, with its gates at time t as outputs; the same graph as the Unicode spelling', () => {
    const paper = one(LN_LSTM_PAPER);
    expect(paper.typed.outputs.map((o) => o.name).sort()).toEqual(['f', 'g', 'i', 'o']);
    expect(paper.typed.states.map((s) => s.name).sort()).toEqual(['c', 'h']);
    const unicode = one(LN_LSTM_UNICODE);
    expect(Object.fromEntries(unicode.typed.params.map((p) => [p.name, p.shape.length]))).toEqual({ W_h: 2, W_x: 2, alpha_1: 1, alpha_2: 1, alpha_3: 1, beta_1: 1, beta_2: 1, beta_3: 1, b: 1 });
    const text = printCell(unicode.typed, unicode.forward, 'unicode');
    expect(text).toContain('[f, i, o, g] = ');
    expect(canonical(compile(text).cells[0]!.forward)).toBe(canonical(unicode.forward));
  });

  it('gradients match finite differences', () => {
    gradientsCheck(one(LN_LSTM_UNICODE), { n_x: 3, n_h: 2 });
    gradientsCheck(one(LN_LSTM_PAPER), { n_x: 2, n_h: 2 }, 11);
  });

  it('the stacked left-hand side as the paper writes it: a column \\begin{pmatrix} … \\end{pmatrix}, or (f_t, i_t, o_t, g_t)ᵀ', () => {
    const paper = canonical(one(LN_LSTM_PAPER).forward);
    const column = LN_LSTM_PAPER.replace('[f_t, i_t, o_t, g_t]', String.raw`\begin{pmatrix} f_t \\ i_t \\ o_t \\ g_t \end{pmatrix}`);
    expect(canonical(one(column).forward)).toBe(paper);
    expect(canonical(one(LN_LSTM_PAPER.replace('[f_t, i_t, o_t, g_t]', '(f_t, i_t, o_t, g_t)^T')).forward)).toBe(paper);
  });
});

describe('paper notation', () => {
  it('time as a subscript: x_t, h_{t-1}, h_{t−1} are x^<t>, h^<t-1>', () => {
    const sub = one('cell P {\n  input x : n\n  h_t = tanh(W x_t + U h_{t−1} + V h_{t-1})\n}');
    const sup = one('cell P {\n  input x : n\n  h^<t> = tanh(W x^<t> + U h^<t-1> + V h^<t-1>)\n}');
    expect(canonical(sub.forward)).toBe(canonical(sup.forward));
  });

  it('x_t is a name where the whole name is declared (param b_t), or where nothing makes x timed is a diagnostic', () => {
    const named = one('cell P {\n  input x : n\n  param b_t : n\n  h^<t> = tanh(W x_t + b_t)\n}');
    expect(named.typed.params.map((p) => p.name).sort()).toEqual(['W', 'b_t']);
    // on the left of a product it is a matrix: a parameter's name
    const matrices = one('cell P {\n  input x : n\n  h^<t> = tanh(B_t [x_t, x_t] + W_t x_t)\n}');
    expect(matrices.typed.params.map((p) => p.name).sort()).toEqual(['B_t', 'W_t']);
    expect(matrices.typed.inputs.map((i) => i.name)).toEqual(['x']);
    expect(diag('h^<t> = tanh(W x^<t> + U z_t + h^<t-1>)')).toEqual([
      'E074 z_t: `z_t`: is `_t` a time index (`z^<t>`) or part of a parameter\'s name? (declare `z` (`input z : n_z`) or write `z^<t>` to read it at step t; for a parameter named `z_t`, declare `param z_t : …`)',
    ]);
  });

  it('x_t is a name of its own beside an x defined without a time index (RG-LRU: a = σ(Λ), a_t = a^{c r_t})', () => {
    const rg = one(String.raw`cell RGLRU {
  input x : n
  r_t = σ(W_a x_t + b_a)
  i_t = σ(W_x x_t + b_x)
  a = σ(Λ)
  a_t = a^{8 r_t}
  h_t = a_t ⊙ h_{t-1} + \sqrt{1 - a_t^2} ⊙ (i_t ⊙ x_t)
}`);
    expect(rg.typed.states.map((st) => st.name)).toEqual(['h']);
    expect(rg.typed.outputs.map((o) => o.name).sort()).toEqual(['i', 'r']);
    expect(rg.typed.params.map((p) => p.name).sort()).toEqual(['Lambda', 'W_a', 'W_x', 'b_a', 'b_x']);
    gradientsCheck(rg, { n: 3 });
  });

  it('primes, superscript labels and unbraced Greek subscripts are parts of names', () => {
    const a = one(String.raw`cell P {
  input x : n
  f' = σ(W^{fx} x^<t>)
  h^<t> = f′ * tanh(W^{(h)} x^<t>) + W_\Delta x^<t> + W_Δ x^<t>
}`);
    expect(a.typed.params.map((p) => p.name).sort()).toEqual(['W_Delta', 'W_sup_fx', 'W_sup_h']);
    const printed = printCell(a.typed, a.forward, 'unicode');
    expect(printed).toContain('W^{fx}');
    expect(printed).toContain('W^{(h)}');
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(a.typed, a.forward, sp);
      expect(canonical(compile(text).cells[0]!.forward), text).toBe(canonical(a.forward));
    }
  });

  it('a parameter read only through an elementwise function gets its shape from where the result is used (a = σ(Λ))', () => {
    const rg = one('cell RG {\n  input x : n\n  state h : n\n  a = σ(Λ)\n  h^<t> = a ⊙ h^<t-1> + sqrt(1 - a^2) ⊙ (W x^<t>)\n}');
    expect(rg.typed.params.find((p) => p.name === 'Lambda')?.shape.map((d) => d.terms[0]![0])).toEqual(['n']);
    gradientsCheck(rg, { n: 3 });
  });
});

describe('misuse is a positioned diagnostic', () => {
  it('a function that applies itself, directly or through another', () => {
    expect(diag('g(v) = tanh(g(v))\n  h^<t> = g(x^<t>) + h^<t-1>')).toEqual([
      'E070 g: function `g` applies itself: `g` → `g` (a function is inlined where it is applied, so it cannot call itself; write the repetition out)',
    ]);
    expect(diag('p(v) = q(v)\n  q(v) = p(v) * 2\n  h^<t> = p(x^<t>) + h^<t-1>')[0]).toMatch(/^E070 p: function `p` applies itself: `p` → `q` → `p`/);
  });

  it('a defined function with the wrong number of arguments, before or after `;`', () => {
    expect(diag('g(v; a) = v * a\n  h^<t> = g(x^<t>) + h^<t-1>')).toEqual([
      'E071 g(x^<t>): `g` takes one argument and 1 after `;`, got one argument (write `g(…)` with the arguments of its definition)',
    ]);
    expect(diag('g(v; a) = v * a\n  h^<t> = g(x^<t>, h^<t-1>; w) + h^<t-1>')[0]).toMatch(/^E071 g\(x\^<t>, h\^<t-1>; w\): `g` takes one argument and 1 after `;`, got 2 arguments and 1 after `;`/);
    expect(diag('h^<t> = LN(x^<t>; a) + h^<t-1>')[0]).toMatch(/^E071 LN\(x\^<t>; a\): `LN` takes one argument and 2 after `;`, got one argument and 1 after `;`/);
  });

  it('functions that double at every level stop at a limit instead of filling the memory', () => {
    const defs = Array.from({ length: 24 }, (_, k) => (k === 0 ? 'f0(v) = v + v' : `f${k}(v) = f${k - 1}(f${k - 1}(v))`)).join('\n  ');
    const d = diag(`${defs}\n  h^<t> = f23(x^<t>) + h^<t-1>`);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(/^E076 f\d+\(f\d+\(v\)\): inlining the functions applied here makes more than 200000 terms/);
  });

  it('a name in a body that is not an argument', () => {
    expect(diag('g(v) = v * w\n  h^<t> = g(x^<t>) + h^<t-1>')).toEqual([
      'E072 w: `w` in the body of `g` is not one of its arguments (pass it as an argument, `g(v, w) = …`, or declare it in the cell (`param w : …`) to share one value between every use)',
    ]);
  });

  it('a split that does not divide the length', () => {
    expect(diag('[f, i, o] = [x^<t>, h^<t-1>]\n  h^<t> = f + i + o', 'input x : 2\n  state h : 2')).toEqual([
      'E073 [x^<t>, h^<t-1>]: cannot split a vector of 4 into 3 equal parts (its length must be divisible by 3, one equal slice per name)',
    ]);
    expect(diag('[f, i] = x^<t>\n  h^<t> = f + h^<t-1>', 'input x : n_x\n  state h : n_x')[0]).toMatch(/^E073 x\^<t>: cannot split a vector of n_x into 2 equal parts/);
  });

  it('an `otherwise` that is not the last arm', () => {
    expect(diag('h^<t> = cases(x^<t> otherwise, h^<t-1> if x^<t> > 0)')).toEqual([
      'E075 x^<t>: an `otherwise` arm must come last in `cases`: the arms after it could never be taken (move it to the end)',
    ]);
  });

  it('a comparison outside cases and parentheses, an unclosed cases environment: syntax errors that say so', () => {
    expect(diag('h^<t> = x^<t> >= 0')).toEqual([
      'E001 >: unexpected `>`, expected "}", an operator or a line break (a comparison is a condition of `cases(a if v ≥ 0, b otherwise)`, or a value (1 or 0) in parentheses: `(v ≥ 0)`)',
    ]);
    expect(diag(String.raw`h^<t> = \begin{cases} x^<t> & x^<t> > 0`)[0]).toMatch(/^E001 }: unexpected `}`, expected "\\end"/);
  });

  it('arms of different sizes', () => {
    expect(diag('h^<t> = cases(x^<t> if x^<t> > 0, [x^<t>, x^<t>] otherwise)')[0]).toMatch(/^E009 .*shape mismatch in the arms of `cases`/);
  });
});

describe('mutated research cells never crash the compiler', () => {
  // Deletions, duplications and insertions of the notation's own characters, in every spelling.
  const PIECES = ['(', ')', '[', ']', ',', ';', '_t', '_{t-1}', ' if ', ' otherwise', '≥', '<', '&', '\\\\', '\\begin{cases}', '\\end{cases}', "'", '^{hx}', 'LN(', 'g(', ' = ', '\n'];
  it('compile() returns diagnostics with spans inside the source, or cells', () => {
    const sources = [...Object.values(SPELLINGS), LN_LSTM_PAPER, LN_LSTM_UNICODE];
    fc.assert(fc.property(fc.nat(sources.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.nat(PIECES.length - 1)), { minLength: 1, maxLength: 4 }), (which, edits) => {
      let src = sources[which]!;
      for (const [at, kind, piece] of edits) {
        const i = at % (src.length + 1);
        src = kind === 0 ? src.slice(0, i) + src.slice(i + 1) : kind === 1 ? src.slice(0, i) + src.slice(i, i + 3) + src.slice(i) : src.slice(0, i) + PIECES[piece]! + src.slice(i);
      }
      const r = compile(src);
      for (const d of r.diagnostics) {
        expect(d.code).toMatch(/^E\d{3}$/);
        expect(d.code).not.toBe('E999');
        expect(d.span.start).toBeGreaterThanOrEqual(0);
        expect(d.span.end).toBeLessThanOrEqual(src.length);
      }
      if (!r.diagnostics.some((d) => d.severity === 'error')) expect(r.cells.length).toBeGreaterThan(0);
    }), { numRuns: 400, seed: 7 });
  }, 120_000);
});
