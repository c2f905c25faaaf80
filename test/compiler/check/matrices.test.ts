// Matrices per example (issue 13, item 4): `state C : d × d`, the outer product
// `v kᵀ`, the matrix–vector product `C q` and the row scaling `diag(v) A` — in
// the three spellings one program, misuse a positioned diagnostic, the printed
// cell parses back to the same graph, and gradients through matrix states over
// several steps match finite differences. The mLSTM-like and Mamba-S6-like
// per-step cells here use vector gates (`diag(f) C`) where the paper has a
// scalar per example.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { printCell, printGrad } from '../../../compiler/print/notation.ts';
import { canonical, compileOk } from '../../support/cells.ts';
import { cellGradients, checkSlots, describeMismatches, dimEnv, randomCotangents, randomRun } from '../../support/numeric.ts';
import { MLSTM, S6 } from '../../support/matrix-cells.ts';

const CELLS = { mLSTM: MLSTM, S6 } as const;

describe.each(Object.entries(CELLS))('%s: matrices per example', (name, spellings) => {
  it('the three spellings are one program', () => {
    const [first, ...rest] = Object.entries(spellings).map(([sp, src]) => {
      const r = compile(src);
      expect(r.diagnostics, sp).toEqual([]);
      return canonical(r.cells[0]!.forward);
    });
    for (const other of rest) expect(other).toBe(first);
    expect(first).toMatch(/\bouter_each\[/);
    expect(first).toMatch(/\bmatvec_each\[/);
  });

  it('a matrix state is a matrix per example', () => {
    const cell = compileOk(spellings.ascii)[0]!;
    const m = cell.typed.states.find((s) => s.cols)!;
    expect(m).toBeDefined();
    const prev = cell.forward.nodes.find((n) => n.op === 'prev' && n.attrs.name === m.name)!;
    expect(prev.shape.batch).toBe(true);
    expect(prev.shape.dims).toHaveLength(2);
  });

  it('prints back in each spelling to the same graph', () => {
    const cell = compileOk(spellings.unicode)[0]!;
    for (const sp of ['unicode', 'ascii', 'latex'] as const) {
      const text = printCell(cell.typed, cell.forward, sp);
      const again = compile(text);
      expect(again.diagnostics, `${sp}:\n${text}`).toEqual([]);
      expect(canonical(again.cells[0]!.forward)).toBe(canonical(cell.forward));
    }
    expect(printCell(cell.typed, cell.forward, 'latex')).toContain('\\operatorname{diag}(');
    expect(printCell(cell.typed, cell.forward, 'unicode')).toMatch(/ × /);
  });

  it('gradients through the matrix state over several steps match finite differences', () => {
    const cell = compileOk(spellings.ascii)[0]!;
    const run = randomRun(cell, { env: dimEnv(cell, { d: 3, N: 2, n_x: 2 }), batch: 2, steps: 4, seed: 11 });
    const { slots, loss } = cellGradients(cell, run, randomCotangents(cell, run, 12));
    const r = checkSlots(loss, slots);
    expect(r.count).toBeGreaterThan(40);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
  });

  it('celda grad shows the backward step with the per-example products', () => {
    const cell = compileOk(spellings.ascii)[0]!;
    const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'unicode' });
    expect(text).toMatch(/ᵀ · /); // Cᵀ · g, the vector's cotangent
    expect(text).toContain(`∂${name === 'S6' ? 'h' : 'C'}^⟨t−1⟩ = `);
    // diag(f)'s derivative sums the rows of δ ⊙ C: printed with a vector of ones and its size
    expect(text).toMatch(/\) 𝟏_\{(d|N)\}\)/);
  });
});

describe('the forms one by one', () => {
  const cellWith = (decls: string, body: string) => `cell M {\n  input x : n\n${decls}\n  ${body}\n}`;
  it('v kᵀ of two vectors per example is their outer product, never summed over the batch', () => {
    const c = compileOk(cellWith('  state C : n × m', 'C^<t> = C^<t-1> + x^<t> (W x^<t>)^T'))[0]!;
    const root = c.forward.nodes[c.forward.roots[0]!.id]!;
    expect(root.shape).toMatchObject({ batch: true });
    expect(c.forward.nodes.some((n) => n.op === 'outer_each' && n.shape.batch)).toBe(true);
    expect(c.forward.nodes.some((n) => n.op === 'outer')).toBe(false);
  });
  it('v kᵀ with one operand a parameter: the parameter is a vector, shared by every example', () => {
    const c = compileOk(cellWith('  state C : n × m', 'C^<t> = C^<t-1> + x^<t> b^T'))[0]!;
    expect(c.typed.params.find((p) => p.name === 'b')!.shape).toHaveLength(1);
  });
  it('x Wᵀ, a parameter matrix transposed, is no outer product: the ordinary product rules refuse it', () => {
    const r = compile(cellWith('  state h : m\n  param W : n × m', 'h^<t> = x^<t> W^T + h^<t-1>'));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E009']);
  });
  it('diag(v) of a vector scales it elementwise', () => {
    const a = compileOk(cellWith('  state h : n', 'h^<t> = diag(x^<t>) h^<t-1>'))[0]!;
    const b = compileOk(cellWith('  state h : n', 'h^<t> = x^<t> * h^<t-1>'))[0]!;
    expect(canonical(a.forward)).toBe(canonical(b.forward));
  });
  it('diag(v) A of a per-example matrix: row i times v_i', () => {
    const c = compileOk(cellWith('  state C : n × m', 'C^<t> = diag(x^<t>) C^<t-1>'))[0]!;
    expect(c.forward.nodes.some((n) => n.op === 'outer_each')).toBe(true);
  });
  it('a literal scalar scales a matrix state (and a state matrix may be an output too)', () => {
    const c = compileOk(cellWith('  state C : n × n', 'C^<t> = 0.5 C^<t-1> + x^<t> x^<t>ᵀ\n  y^<t> = 2 * C^<t>'))[0]!;
    expect(c.typed.outputs.find((o) => o.name === 'y')!.shape.dims).toHaveLength(2);
  });
  it('C · q and C q are the same product', () => {
    const a = compileOk(cellWith('  state C : n × n', 'C^<t> = C^<t-1> + x^<t> x^<t>ᵀ\n  y^<t> = C^<t> x^<t>'))[0]!;
    const b = compileOk(cellWith('  state C : n × n', 'C^<t> = C^<t-1> + x^<t> x^<t>ᵀ\n  y^<t> = C^<t> · x^<t>'))[0]!;
    expect(canonical(a.forward)).toBe(canonical(b.forward));
  });
});

describe('misuse of matrices per example', () => {
  const diag = (decls: string, body: string) => {
    const src = `cell M {\n  input x : n\n  input z : m\n${decls}\n  ${body}\n}`;
    const r = compile(src);
    return r.diagnostics.map((d) => `${d.code} ${src.slice(d.span.start, d.span.end)}: ${d.message}`);
  };
  it('C q with the matrix columns and the vector of different sizes', () => {
    expect(diag('  state C : n × n', 'C^<t> = C^<t-1>\n  y^<t> = C^<t> z^<t>')).toEqual([
      'E009 C^<t> z^<t>: shape mismatch in a product by juxtaposition: `C^<t>` is n × n per example, `z^<t>` is vector(m) per example',
    ]);
  });
  it('v kᵀ where k is a matrix per example', () => {
    expect(diag('  state C : n × n', 'C^<t> = C^<t-1> + x^<t> C^<t-1>ᵀ')).toEqual([
      'E040 C^<t-1>ᵀ: `x^<t> C^<t-1>ᵀ` is an outer product of two vectors, but `C^<t-1>` (on the right) is n × n per example',
    ]);
  });
  it('v kᵀ where v is a matrix per example', () => {
    expect(diag('  state C : n × n', 'C^<t> = C^<t-1> + C^<t-1> x^<t>ᵀ')).toEqual([
      'E040 C^<t-1>: `C^<t-1> x^<t>ᵀ` is an outer product of two vectors, but `C^<t-1>` (on the left) is n × n per example',
    ]);
  });
  it('diag(v) with nothing to scale, or of a matrix', () => {
    expect(diag('  state h : n', 'h^<t> = diag(x^<t>) + h^<t-1>')).toEqual([
      'E041 diag(x^<t>): `diag(v)` scales the rows of the matrix it multiplies: nothing to scale',
    ]);
    expect(diag('  state C : n × n', 'C^<t> = diag(C^<t-1>) C^<t-1>')).toEqual([
      'E041 C^<t-1>: `diag(v)` scales the rows of the matrix it multiplies: `C^<t-1>` is n × n per example',
    ]);
  });
  it('diag(v) A with rows of another size', () => {
    expect(diag('  state C : m × n', 'C^<t> = diag(x^<t>) C^<t-1>')[0]).toMatch(/^E009 diag\(x\^<t>\) C\^<t-1>: shape mismatch in a row scaling `diag\(v\) A`: `x\^<t>` is vector\(n\) per example, `C\^<t-1>` is m × n per example/);
  });
  it('a state that becomes a matrix without being declared one', () => {
    const d = diag('  state h : n', 'h^<t> = h^<t-1> x^<t>ᵀ');
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(/^E009 h\^<t-1> x\^<t>ᵀ: shape mismatch in the definition of `h\^<t>`/);
  });
  it('a declared matrix state whose equation gives a vector', () => {
    expect(diag('  state C : n × n', 'C^<t> = x^<t>')[0]).toMatch(/^E009 x\^<t>: shape mismatch in the definition of `C\^<t>`: n × n per example vs vector\(n\) per example/);
  });
});
