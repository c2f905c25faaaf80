// Reductions over the features (sum, mean, the inner product uᵀv), a dimension
// used as a number (`dim d` then 1/sqrt(d)) and powers with a tensor exponent
// (a^{c r}): the three spellings are one program, misuse is a positioned
// diagnostic, the printed cell parses back to the same graph, and gradients
// match finite differences.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell, printGrad } from '../../../compiler/print/notation.ts';
import { MLSTM_GATES_CELL as MLSTM_GATES, RG_LRU_CELL, SHAPES_CELL, canonical, compileOk } from '../../support/cells.ts';
import { cellGradients, checkSlots, describeMismatches, dimEnv, randomCotangents, randomRun } from '../../support/numeric.ts';

const SPELLINGS = {
  unicode: `cell R {
  dim d
  input x : d
  state h : d
  q = W_q x^⟨t⟩
  s = mean(h^⟨t−1⟩) + sum(q) / sqrt(d)
  h^⟨t⟩ = tanh(q * s + uᵀq + σ(Λ)^{c r^⟨t⟩}) * h^⟨t−1⟩
  r^⟨t⟩ = σ(W_r x^⟨t⟩)
  param c : 1
  param Λ : d
}`,
  ascii: `cell R {
  dim d
  input x : d
  state h : d
  q = W_q x^<t>
  s = mean(h^<t-1>) + sum(q) / sqrt(d)
  h^<t> = tanh(q * s + u^T q + sigma(Lambda)^{c r^<t>}) * h^<t-1>
  r^<t> = sigma(W_r x^<t>)
  param c : 1
  param Lambda : d
}`,
  latex: String.raw`cell R {
  dim d
  input x : d
  state h : d
  q = W_{q} x^{<t>}
  s = \operatorname{mean}(h^{<t-1>}) + \frac{\sum_i q_i}{\sqrt{d}}
  h^{<t>} = \tanh\left(q \odot s + u^\top q + \sigma(\Lambda)^{c \, r^{<t>}}\right) \odot h^{<t-1>}
  r^{<t>} = \sigma(W_{r} x^{<t>})
  param c : 1
  param \Lambda : d
}`,
};

describe('sum, mean, uᵀv, a dimension as a number and a^{c r} in the three spellings', () => {
  it('are one program', () => {
    const [first, ...rest] = Object.entries(SPELLINGS).map(([sp, src]) => {
      const r = compile(src);
      expect(r.diagnostics.map((d) => d.message), sp).toEqual([]);
      return canonical(r.cells[0]!.forward);
    });
    for (const other of rest) expect(other).toBe(first);
    expect(first).toMatch(/\bsum_feat\[/);
    expect(first).toMatch(/\bpower\[/);
  });

  it('u is a vector, c a scalar parameter, s a scalar per example', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    expect(cell.typed.params.find((p) => p.name === 'u')!.shape.map(String)).toHaveLength(1);
    expect(cell.typed.params.find((p) => p.name === 'c')!.shape).toEqual([]);
    expect(cell.typed.shapes.s).toEqual({ batch: true, dims: [] });
  });

  it('print back in each spelling to the same graph', () => {
    const cell = compileOk(SPELLINGS.unicode)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics.map((d) => d.message), `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward), `${sp}:\n${text}`).toBe(canonical(cell.forward));
    }
    const ascii = printCell(cell.typed, cell.forward, 'ascii');
    expect(ascii).toContain('mean(h^<t-1>)');
    expect(ascii).toContain('sqrt(d)');
    expect(ascii).toMatch(/u\^T q/);
  });

  it('the derivative prints', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'unicode' });
    expect(text).toContain('∂c =');
    expect(text).toContain('log(');
  });

  it('gradients w.r.t. every parameter, input and initial state match finite differences', () => {
    const cell = compileOk(SPELLINGS.ascii)[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { d: 3 }), batch: 2, steps: 4, seed: 5 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 6));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });
});


describe('scalars per example', () => {
  it('state m : 1 is a scalar per example, b_i a scalar parameter, w_i a vector', () => {
    const cell = compileOk(MLSTM_GATES)[0]!;
    expect(cell.typed.states.find((s) => s.name === 'm')).toMatchObject({ scalar: true });
    expect(cell.typed.params.find((p) => p.name === 'b_i')!.shape).toEqual([]);
    expect(cell.typed.params.find((p) => p.name === 'w_i')!.shape).toHaveLength(1);
    expect(cell.forward.nodes.find((n) => n.op === 'prev' && n.attrs.name === 'm')!.shape).toEqual({ batch: true, dims: [] });
  });

  it('prints back to the same graph', () => {
    const cell = compileOk(MLSTM_GATES)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics.map((d) => d.message), `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward), `${sp}:\n${text}`).toBe(canonical(cell.forward));
    }
  });

  it('gradients match finite differences', () => {
    const cell = compileOk(MLSTM_GATES)[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { d: 3 }), batch: 2, steps: 4, seed: 9 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 10));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });
});

describe('inner products of time-indexed vectors', () => {
  it('n^<t>^T q and (n^<t>)^T q (mLSTM\'s normaliser) are the inner product; so is \\sum_i n_i q_i', () => {
    const base = 'cell N {\n  input x : d\n  state n : d\n  n^<t> = n^<t-1> + x^<t>\n  q = W_q x^<t>\n  y^<t> = BODY\n}';
    const graphs = ['n^<t>^T q', '(n^<t>)ᵀ q', 'n^{<t>}^\\top q', 'sum(n^<t> * q)'].map((b) => canonical(compileOk(base.replace('BODY', b))[0]!.forward));
    for (const g of graphs.slice(1)) expect(g).toBe(graphs[0]);
    const cell = compileOk(base.replace('BODY', 'n^<t>^T q'))[0]!;
    expect(cell.typed.outputs.find((o) => o.name === 'y')!.shape).toEqual({ batch: true, dims: [] });
  });

  it('e^{x} is exp(x), unless e names something', () => {
    const base = 'cell E {\n  input x : d\n  state h : d\n  h^<t> = h^<t-1> * BODY\n}';
    expect(canonical(compileOk(base.replace('BODY', 'e^{x^<t> - h^<t-1>}'))[0]!.forward)).toBe(canonical(compileOk(base.replace('BODY', 'exp(x^<t> - h^<t-1>)'))[0]!.forward));
    const declared = compileOk(base.replace('BODY', 'e^{x^<t>}').replace('input x : d', 'input x : d\n  param e : d'))[0]!;
    expect(declared.forward.nodes.some((n) => n.op === 'power')).toBe(true);
  });

  it('a^{c ⊙ r} and a^{c \\odot r} are a^{c * r}', () => {
    const base = 'cell P {\n  input x : d\n  state h : d\n  param b : d\n  r = σ(W x^<t>)\n  h^<t> = h^<t-1> * σ(b)^{EXP}\n}';
    const [a, b, c] = ['c * r', 'c ⊙ r', 'c \\odot r'].map((e) => canonical(compileOk(base.replace('EXP', e))[0]!.forward));
    expect(b).toBe(a);
    expect(c).toBe(a);
  });
});

describe('RG-LRU (De et al. 2024, Griffin eqs. 1–4)', () => {
  it('compiles as the paper writes it: a^{c r} with a = σ(Λ) a vector, c = 8 a number, r^<t> a vector', () => {
    const cell = compileOk(RG_LRU_CELL)[0]!;
    expect(cell.forward.nodes.some((n) => n.op === 'power')).toBe(true);
    expect(cell.typed.states.map((s) => s.name)).toEqual(['h']);
  });

  it('gradients match finite differences', () => {
    const cell = compileOk(RG_LRU_CELL)[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { d: 3 }), batch: 2, steps: 4, seed: 11 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 12));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(20);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });
});

describe('misuse: positioned diagnostics', () => {
  const diag = (body: string, decls = '') => {
    const src = `cell C {\n  input x : n\n  state h : n\n${decls}  ${body}\n}`;
    const r = compile(src);
    return r.diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}: ${d.message}`);
  };

  it('mean of a scalar or a matrix (E060)', () => {
    expect(diag('h^<t> = h^<t-1> * mean(sum(x^<t>))')).toEqual(['E060 mean(sum(x^<t>)): `mean(…)` needs a vector, got scalar per example']);
    expect(diag('h^<t> = h^<t-1> * mean(W)', '  param W : n × n\n')).toEqual(['E060 mean(W): `mean(…)` needs a vector, got n × n']);
    expect(diag('h^<t> = h^<t-1> * mean(x^<t>, h^<t-1>)')[0]).toMatch(/^E031 mean\(x\^<t>, h\^<t-1>\): `mean` takes one argument, got 2/);
  });

  it('uᵀ v with v not a vector (E060), and two vectors of different sizes (E009)', () => {
    expect(diag('h^<t> = h^<t-1> * (x^<t>)^T sum(x^<t>)')).toEqual(['E060 (x^<t>)^T sum(x^<t>): an inner product `uᵀ v` needs a vector, got scalar per example']);
    expect(diag('h^<t> = h^<t-1> * u^T [x^<t>, x^<t>]', '  param u : n\n')[0]).toMatch(/^E010 u: parameter `u` is used with two shapes/);
    expect(diag('h^<t> = h^<t-1> * (x^<t>)^T [x^<t>, x^<t>]')[0]).toMatch(/^E009 \(x\^<t>\)\^T \[x\^<t>, x\^<t>\]: shape mismatch in an inner product/);
  });

  it('Wᵀ v with W of unknown shape and an uppercase name: ambiguous (E061), at the transpose', () => {
    expect(diag('h^<t> = tanh(h^<t-1> + V^T x^<t>)')).toEqual(['E061 V^T: `Vᵀ` is ambiguous: the shape of `V` is not known, so this is either an inner product (`V` a vector) or a transposed matrix product (`V` a matrix)']);
    // Declared, it is what it was: the transposed matrix–vector product.
    expect(diag('h^<t> = tanh(h^<t-1> + V^T x^<t>)', '  param V : n × n\n')).toEqual([]);
  });

  it('a scalar state given a vector (E062), and in an unrolled cell (E063)', () => {
    const src = 'cell C {\n  input x : n\n  state m : 1\n  m^<t> = m^<t-1> + x^<t>\n}';
    const r = compile(src);
    expect(r.diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}`)).toEqual(['E062 m^<t-1> + x^<t>']);
    expect(r.diagnostics[0]!.message).toBe('`m` is declared a scalar per example (`state m : 1`), but its equation gives vector(n) per example');
    const unrolled = 'cell U {\n  input x : n\n  state m : 1\n  m^<1> = sum(x^<1>) + m^<0>\n}';
    expect(compile(unrolled).diagnostics.map((d) => d.code)).toContain('E063');
  });

  it('a scalar carried from step to step without `state m : 1` says how to declare it', () => {
    const r = compile('cell C {\n  input x : n\n  m^<t> = sum(x^<t> * m^<t-1>)\n}');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E009']);
    expect(r.diagnostics[0]!.help).toMatch(/for a scalar per example, declare `state m : 1`$/);
  });

  it('a power with a tensor exponent of another size (E009)', () => {
    expect(diag('h^<t> = h^<t-1>^{[x^<t>, x^<t>]}')[0]).toMatch(/^E009 h\^<t-1>\^\{\[x\^<t>, x\^<t>\]\}: shape mismatch in a power `x\^\{y\}`/);
  });

  it('a state of size 1 written as a vector keeps working: W[m^<t-1>, x^<t>] stacks the scalar, W x^<t> of one row is its element', () => {
    const cell = compileOk('cell V {\n  input x : n\n  state m : 1\n  m^<t> = tanh(W[m^<t-1>, x^<t>] + b)\n}')[0]!;
    expect(cell.typed.params.find((p) => p.name === 'W')!.shape.map(String)).toHaveLength(2);
    expect(cell.typed.states[0]).toMatchObject({ name: 'm', scalar: true });
  });
});

describe('a vector transposed times a matrix is still refused', () => {
  it('x^<t>ᵀ W_ax (W_ax unknown, uppercase) and x^<t>ᵀ W (declared matrix): the transpose of a vector (E009)', () => {
    for (const decl of ['', '  param W_ax : n × n\n']) {
      const src = `cell C {\n  input x : n\n  state h : n\n${decl}  h^<t> = tanh(h^<t-1> + x^<t>^T W_ax)\n}`;
      const r = compile(src);
      expect(r.diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}`)).toEqual(['E009 x^<t>^T']);
      expect(r.diagnostics[0]!.message).toMatch(/transpose needs a matrix, got vector\(n\) per example/);
    }
  });
});

describe('celda print parses back to the same graph', () => {
  it.each([['RG-LRU', RG_LRU_CELL], ['the shapes cell', SHAPES_CELL]])('%s, in each spelling', (_name, source) => {
    const cell = compileOk(source)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics.map((d) => d.message), `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward), `${sp}:\n${text}`).toBe(canonical(cell.forward));
    }
  });
});
