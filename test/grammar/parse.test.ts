import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from '../../grammar/parse.ts';
import type { CellAst, Equation, Expr, FileAst, ParseResult } from '../../grammar/ast.ts';

// ---- helpers ------------------------------------------------------------------

/** The AST with every span removed, for comparing spellings. */
function stripSpans(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSpans);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'span' && k !== 'nameSpan' && k !== 'fnSpan')
        .map(([k, v]) => [k, stripSpans(v)]),
    );
  }
  return value;
}

function ok(source: string): FileAst {
  const result = parse(source);
  if (!result.ok) {
    const { span, expected, found } = result.problem;
    throw new Error(`parse failed at ${span.start}: expected ${expected}, found ${JSON.stringify(found)}\n${source.slice(0, span.start)}⟦HERE⟧${source.slice(span.start)}`);
  }
  return result.ast;
}

function cell(source: string): CellAst {
  const file = ok(source);
  expect(file.cells).toHaveLength(1);
  return file.cells[0];
}

function equations(source: string): Equation[] {
  return [...cell(source).equations];
}

function rhs(source: string): Expr {
  const eqs = equations(`z = ${source}`);
  expect(eqs).toHaveLength(1);
  return eqs[0].rhs;
}

/** A compact rendering of an expression, to test structure and precedence. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'var': return e.name + (e.time ? `^${showTime(e.time)}` : '');
    case 'apply': return `${e.fn}(${e.args.map(show).join(', ')})`;
    case 'binary': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'juxt': return `(${show(e.left)} ${show(e.right)})`;
    case 'neg': return `-${show(e.arg)}`;
    case 'pow': return `${show(e.base)}**${e.exponent}`;
    case 'power': return `${show(e.base)}**{${show(e.exponent)}}`;
    case 'transpose': return `${show(e.arg)}'`;
    case 'concat': return `[${e.items.map(show).join(', ')}]`;
    case 'zeros': return '[0…0]';
    case 'latex': return e.command;
    case 'compare': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'cases': return `cases(${e.arms.map((a) => `${show(a.value)} ${a.cond ? `if ${show(a.cond)}` : 'otherwise'}`).join(', ')})`;
    case 'part': return `${show(e.arg)}[${e.index}/${e.count}]`;
  }
}

function showTime(t: NonNullable<Extract<Expr, { kind: 'var' }>['time']>): string {
  switch (t.kind) {
    case 'rel': return t.offset === 0 ? '<t>' : `<t${t.offset > 0 ? '+' : ''}${t.offset}>`;
    case 'abs': return `<${t.step}>`;
    case 'empty': return '<>';
    case 'other': return `<?${t.text}>`;
  }
}

function showEq(eq: Equation): string {
  return `${eq.lhs.name}${eq.lhs.time ? '^' + showTime(eq.lhs.time) : ''} = ${show(eq.rhs)}`;
}

function problem(source: string) {
  const result = parse(source);
  if (result.ok) throw new Error(`expected a parse error in ${JSON.stringify(source)}`);
  return result.problem;
}

/** Every node span lies inside the source and inside its parent's span. */
function checkSpans(value: unknown, length: number, outer = { start: 0, end: length }): void {
  if (Array.isArray(value)) return value.forEach((v) => checkSpans(v, length, outer));
  if (value === null || typeof value !== 'object') return;
  const node = value as Record<string, unknown>;
  let inner = outer;
  for (const key of ['span', 'nameSpan', 'fnSpan']) {
    const s = node[key] as { start: number; end: number } | undefined;
    if (!s) continue;
    expect(s.start).toBeGreaterThanOrEqual(outer.start);
    expect(s.end).toBeLessThanOrEqual(outer.end);
    expect(s.start).toBeLessThanOrEqual(s.end);
    if (key === 'span') inner = s;
  }
  for (const [k, v] of Object.entries(node)) if (k !== 'span') checkSpans(v, length, inner);
}

// ---- the lecture notes, verbatim --------------------------------------------------

const NOTES_RNN = String.raw`$$a^{< t>} = tanh(w_{aa}a^{< t-1>} + w_{ax}x^{< t>} + b_a)$$

 $\hat{y}^{< t>} = softmax(w_{ya}a^{< t>} + b_y)$`;

const NOTES_UNROLLED = String.raw`$$a^{<0>} = [0 \dots 0]$$

$$a^{<1>} = g_1(w_{aa}a^{<0>} + w_{ax}x^{<1>} + b_a)$$

 
$$\hat{y}^{<1>} = g_2(w_{ya}a^{<1>} + b_y)$$

$g_1 = tanh, \ g_2 = sigmoid$

$g_1 = tanh$, $g_2 = sigmoid$`;

const NOTES_FIVE_STEPS = String.raw`$$a^{<1>} = tanh(w_{aa}a^{<0>} + w_{ax}x^{<1>} + b_a) \qquad a^{<3>} = tanh(w_{aa}a^{<2>} + w_{ax}x^{<3>} + b_a) \qquad a^{<5>} = tanh(w_{aa}a^{<4>} + w_{ax}x^{<5>} + b_a)$$

$$\hat{y}^{<1>} = sigmoid(w_{ya}a^{<1>} + b_y) \qquad \hat{y}^{<3>} = sigmoid(w_{ya}a^{<3>} + b_y) \qquad \hat{y}^{<5>} = sigmoid(w_{ya}a^{<5>} + b_y)$$

$$a^{<2>} = tanh(w_{aa}a^{<1>} + w_{ax}x^{<2>} + b_a) \qquad a^{<4>} = tanh(w_{aa}a^{<3>} + w_{ax}x^{<4>} + b_a)$$

$$\hat{y}^{<2>} = sigmoid(w_{ya}a^{<2>} + b_y) \qquad \hat{y}^{<4>} = sigmoid(w_{ya}a^{<4>} + b_y)$$`;

const NOTES_LOST_INDICES = String.raw`$$a^{} = \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)$$

$$a^{<0>} = [0 \dots 0]$$

$$a^{} = g_1(w_{aa}a^{} + w_{ax}x^{} + b_a)$$

$$a^{} = g_1(w_a[a^{}, x^{}] + b_a)$$

 
$$y^{} = g_2(w_{ya}a^{} + b_y)$$`;

const NOTES_GRU_SIMPLE = String.raw`$$\begin{split} c^{< t>} &= a^{< t>} \\ \widetilde{c}^{< t>} &= tanh \left(w_c [c^{< t-1>}, x^{< t>}] + b_c \right) \\ \Gamma_u &= sigmoid (w_u [c^{< t-1>}, x^{< t>}] + b_u) \\ c^{< t>} &= \Gamma_u * \widetilde{c}^{< t>} + (1 - \Gamma_u) * c^{< t-1>} \end{split}$$`;

const NOTES_GRU_FULL_LOST = String.raw`$$c^{} = a^{}$$

$$\Gamma_{r} = sigmoid(w_{r}[c^{}, x^{}] + b_{r})$$

$$\tilde{c}^{} = tanh(w_{c}[\Gamma_{r} * c^{}, x^{}] + b_{c})$$

$$\Gamma_{u} = sigmoid(w_{u}[c^{}, x^{}] + b_{u})$$

$$c^{} = \Gamma_{u} * \tilde{c}^{} + (1 - \Gamma_{u}) * c^{}$$`;

const NOTES_GRU_FULL = String.raw`$$\begin{split} &\tilde{c}^{< t>} = tanh \left(w_c [\Gamma_r * c^{< t-1>}, x^{< t>}] + b_c \right) \\ &\Gamma_u = sigmoid (w_u [c^{< t-1>}, x^{< t>}] + b_u) \\ &\Gamma_r = sigmoid (w_r [c^{< t-1>}, x^{< t>}] + b_r) \\ &c^{< t>} = \Gamma_u * \tilde{c}^{< t>} + (1 - \Gamma_u) * c^{< t-1>} \\ &a^{< t>} = c^{< t>} \end{split}$$`;

const NOTES_LSTM_LINES = String.raw`$$\tilde{c}^{< t>} = tanh (w_c[a^{< t-1>}, x^{< t>}] + b_c)$$
 $\Gamma_u = sigmoid(w_u[a^{< t-1>}, x^{< t>}] + b_u)$
 $\Gamma_f = sigmoid(w_f[a^{< t-1>}, x^{< t>}] + b_f)$
 $\Gamma_o = sigmoid(w_o[a^{< t-1>}, x^{< t>}] + b_o)$
 $c^{< t>} = \Gamma_u * \tilde{c}^{< t>} + \Gamma_f * c^{< t-1>}$
 $a^{< t>} = \Gamma_o * c^{< t>}$`;

const NOTES_LSTM_SPLIT = String.raw`$$\begin{split} \widetilde{c}^{< t>} &= tanh \, (w_c[a^{< t-1>}, x^{< t>}] + b_c) \\ \Gamma_u &= sigmoid(w_u[a^{< t-1>}, x^{< t>}] + b_u) \\ \Gamma_f &= sigmoid(w_f[a^{< t-1>}, x^{< t>}] + b_f) \\ \Gamma_o &= sigmoid(w_o[a^{< t-1>}, x^{< t>}] + b_o) \\ c^{< t>} &= \Gamma_u * \widetilde{c}^{< t>} + \Gamma_f * c^{< t-1>} \\ a^{< t>} &= \Gamma_o * c^{< t>} \end{split}$$`;

/** Right-hand sides of the backward equations of the notes. */
const NOTES_BACKWARD_RHS = [
  String.raw`1 - \tanh(x)^2`,
  String.raw`(1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2) \cdot x^{T}`,
  String.raw`(1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2) \cdot a^{T}`,
  String.raw`\sum_{batch} (1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2) \cdot a^{T}`,
  String.raw`\sum_{batch} (1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2)`,
  String.raw`W_{ax}^T \cdot (1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2)`,
  String.raw`W_{aa}^T \cdot (1 - \tanh(W_{aa}a^{} + W_{ax}x^{} + b_a)^2)`,
  String.raw`\frac{\partial \tanh(x)}{\partial x}`,
];

function inCell(name: string, decls: string, body: string): string {
  return `cell ${name} {\n${decls}\n${body}\n}\n`;
}

describe('the lecture notes, pasted verbatim inside a cell', () => {
  it('parses the RNN cell', () => {
    const c = cell(inCell('RNN', '  input x : n_x\n  state a : n_a', NOTES_RNN));
    expect(c.name).toBe('RNN');
    expect(c.equations.map(showEq)).toEqual([
      'a^<t> = tanh((((w_aa a^<t-1>) + (w_ax x^<t>)) + b_a))',
      'y_hat^<t> = softmax(((w_ya a^<t>) + b_y))',
    ]);
  });

  it('parses the unrolled cell with g_1, g_2 and zeros', () => {
    const eqs = equations(inCell('Unrolled', '  input x : n_x', NOTES_UNROLLED));
    expect(eqs.map(showEq)).toEqual([
      'a^<0> = [0…0]',
      'a^<1> = g_1((((w_aa a^<0>) + (w_ax x^<1>)) + b_a))',
      'y_hat^<1> = g_2(((w_ya a^<1>) + b_y))',
      'g_1 = tanh',
      'g_2 = sigmoid',
      'g_1 = tanh',
      'g_2 = sigmoid',
    ]);
  });

  it('parses the five-step block joined by \\qquad', () => {
    const eqs = equations(inCell('Five', '  input x : n_x', NOTES_FIVE_STEPS));
    expect(eqs).toHaveLength(10);
    expect(eqs.map((e) => `${e.lhs.name}${showTime(e.lhs.time!)}`)).toEqual([
      'a<1>', 'a<3>', 'a<5>', 'y_hat<1>', 'y_hat<3>', 'y_hat<5>', 'a<2>', 'a<4>', 'y_hat<2>', 'y_hat<4>',
    ]);
    expect(showEq(eqs[2])).toBe('a^<5> = tanh((((w_aa a^<4>) + (w_ax x^<5>)) + b_a))');
  });

  it('parses the lines that lost their time index (times are empty)', () => {
    const eqs = equations(inCell('Lost', '  input x : n_x', NOTES_LOST_INDICES));
    expect(showEq(eqs[0])).toBe('a^<> = tanh((((W_aa a^<>) + (W_ax x^<>)) + b_a))');
    expect(showEq(eqs[3])).toBe('a^<> = g_1(((w_a [a^<>, x^<>]) + b_a))');
    expect(eqs[0].lhs.time).toEqual({ kind: 'empty' });
  });

  it('parses the simplified GRU split block', () => {
    const c = cell(inCell('GRU', '  input x : n_x\n  state c : n_a', NOTES_GRU_SIMPLE));
    expect(c.decls.map((d) => d.name)).toEqual(['x', 'c']);
    expect(c.equations.map(showEq)).toEqual([
      'c^<t> = a^<t>',
      'c_tilde^<t> = tanh(((w_c [c^<t-1>, x^<t>]) + b_c))',
      'Gamma_u = sigmoid(((w_u [c^<t-1>, x^<t>]) + b_u))',
      'c^<t> = ((Gamma_u * c_tilde^<t>) + ((1 - Gamma_u) * c^<t-1>))',
    ]);
  });

  it('parses the full GRU (both versions)', () => {
    const lost = equations(inCell('GRU', '  input x : n_x', NOTES_GRU_FULL_LOST));
    expect(lost.map(showEq)[2]).toBe('c_tilde^<> = tanh(((w_c [(Gamma_r * c^<>), x^<>]) + b_c))');
    const full = equations(inCell('GRU', '  input x : n_x\n  state c : n_a = 0', NOTES_GRU_FULL));
    expect(full.map(showEq)).toEqual([
      'c_tilde^<t> = tanh(((w_c [(Gamma_r * c^<t-1>), x^<t>]) + b_c))',
      'Gamma_u = sigmoid(((w_u [c^<t-1>, x^<t>]) + b_u))',
      'Gamma_r = sigmoid(((w_r [c^<t-1>, x^<t>]) + b_r))',
      'c^<t> = ((Gamma_u * c_tilde^<t>) + ((1 - Gamma_u) * c^<t-1>))',
      'a^<t> = c^<t>',
    ]);
  });

  it('parses the LSTM, as single lines and as a split block, to the same equations', () => {
    const decls = '  input x : n_x\n  state a : n_a\n  state c : n_a';
    const lines = equations(inCell('LSTM', decls, NOTES_LSTM_LINES));
    const split = equations(inCell('LSTM', decls, NOTES_LSTM_SPLIT));
    expect(lines).toHaveLength(6);
    expect(stripSpans(lines)).toEqual(stripSpans(split));
    expect(showEq(lines[4])).toBe('c^<t> = ((Gamma_u * c_tilde^<t>) + (Gamma_f * c^<t-1>))');
  });

  it('parses the right-hand sides of the backward equations', () => {
    const shown = NOTES_BACKWARD_RHS.map((s) => show(rhs(s)));
    expect(shown[0]).toBe('(1 - tanh(x)**2)');
    expect(shown[1]).toBe('((1 - tanh((((W_aa a^<>) + (W_ax x^<>)) + b_a))**2) @ x\')');
    // Juxtaposition binds tighter than the explicit product.
    expect(shown[3]).toBe('((\\sum (1 - tanh((((W_aa a^<>) + (W_ax x^<>)) + b_a))**2)) @ a\')');
    expect(shown[5]).toBe('(W_ax\' @ (1 - tanh((((W_aa a^<>) + (W_ax x^<>)) + b_a))**2))');
    expect(shown[7]).toBe('((\\partial tanh(x)) / (\\partial x))');
  });

  it('parses the notes in a bare file with no cell wrapper', () => {
    const file = ok(NOTES_GRU_SIMPLE);
    expect(file.cells[0].name).toBe('cell');
    expect(file.cells[0].nameSpan).toEqual({ start: 0, end: 0 });
    expect(parse(NOTES_GRU_SIMPLE, { defaultCellName: 'GRU' })).toMatchObject({ ok: true, ast: { cells: [{ name: 'GRU' }] } });
  });
});

// ---- the cells of docs/notation.md in three spellings -----------------------------

const GRU_UNICODE = `# The full GRU of the notes (reset gate applied before the matmul).
cell GRU {
  input x : n_x
  state c : n_a = 0          # c^<0> = [0 … 0]
  Γ_r   = σ(W_r[c^<t-1>, x^<t>] + b_r)
  c̃^<t> = tanh(W_c[Γ_r * c^<t-1>, x^<t>] + b_c)
  Γ_u   = σ(W_u[c^<t-1>, x^<t>] + b_u)
  c^<t> = Γ_u * c̃^<t> + (1 - Γ_u) * c^<t-1>
  a^<t> = c^<t>
}
`;

const GRU_ASCII = `cell GRU {
  input x : n_x
  state c : n_a = 0
  Gamma_r = sigma(W_r[c^<t-1>, x^<t>] + b_r)
  c~^<t> = tanh(W_c[Gamma_r * c^<t-1>, x^<t>] + b_c)
  Gamma_u = sigma(W_u[c^<t-1>, x^<t>] + b_u)
  c^<t> = Gamma_u * c_tilde^<t> + (1 - Gamma_u) * c^<t-1>
  a^<t> = c^<t>
}`;

const GRU_LATEX = String.raw`cell GRU {
  input x : n_x
  state c : n_a = [0 \dots 0]
  $$\begin{split}
    \Gamma_{r} &= \sigma \left( W_{r} \left[ c^{\langle t-1 \rangle}, x^{\langle t \rangle} \right] + b_{r} \right) \\
    \widetilde{c}^{< t>} &= \tanh(W_c[\Gamma_r * c^{< t-1>}, x^{< t>}] + b_c) \\
    \Gamma_u &= \sigma(W_{u}[c^{< t-1>}, x^{< t>}] + b_{u}) \\
    c^{(t)} &= \Gamma_u \odot \tilde{c}^{<t>} + (1 - \Gamma_u) \odot c^{<t-1>} \\
    a^{<t>} &= c^{<t>}
  \end{split}$$
}`;

const RNN_UNICODE = `cell RNN {
  input x : n_x
  state a : n_a
  a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)
  ŷ^<t> = softmax(W_ya a^<t> + b_y)
}`;

const RNN_ASCII = `cell RNN {
  input x : n_x
  state a : n_a
  a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)
  y_hat^<t> = softmax(W_ya a^<t> + b_y)
}`;

const RNN_LATEX = String.raw`cell RNN {
  input x : n_x
  state a : n_a
  $a^{<t>} = \tanh(W_{aa} a^{<t-1>} + W_{ax} x^{<t>} + b_{a})$
  $\hat{y}^{<t>} = \operatorname{softmax}(W_{ya}a^{<t>} + b_y)$
}`;

describe('the cells of docs/notation.md', () => {
  it('parses the Unicode GRU', () => {
    const c = cell(GRU_UNICODE);
    expect(c.equations.map(showEq)).toEqual([
      'Gamma_r = sigma(((W_r [c^<t-1>, x^<t>]) + b_r))',
      'c_tilde^<t> = tanh(((W_c [(Gamma_r * c^<t-1>), x^<t>]) + b_c))',
      'Gamma_u = sigma(((W_u [c^<t-1>, x^<t>]) + b_u))',
      'c^<t> = ((Gamma_u * c_tilde^<t>) + ((1 - Gamma_u) * c^<t-1>))',
      'a^<t> = c^<t>',
    ]);
    expect(c.decls[1]).toMatchObject({ kind: 'state', name: 'c', init: { kind: 'num', value: 0 } });
  });

  it('gives the same AST for the three spellings of the GRU, modulo spans', () => {
    const unicode = stripSpans(cell(GRU_UNICODE).equations);
    expect(stripSpans(cell(GRU_ASCII).equations)).toEqual(unicode);
    expect(stripSpans(cell(GRU_LATEX).equations)).toEqual(unicode);
  });

  it('gives the same AST for the three spellings of the RNN, modulo spans', () => {
    const unicode = stripSpans(ok(RNN_UNICODE));
    expect(stripSpans(ok(RNN_ASCII))).toEqual(unicode);
    expect(stripSpans(ok(RNN_LATEX))).toEqual(unicode);
  });

  it('parses several cells with comments and blank lines around them', () => {
    const file = ok(`% two cells\n\n${GRU_UNICODE}\n# between\n\n${RNN_ASCII}\n\n# end\n`);
    expect(file.cells.map((c) => c.name)).toEqual(['GRU', 'RNN']);
    checkSpans(file, GRU_UNICODE.length + RNN_ASCII.length + 40);
  });
});

// ---- declarations -------------------------------------------------------------------

describe('declarations', () => {
  it('reads every declaration form', () => {
    const c = cell(String.raw`
      input x : n_x
      input u
      state c : n_a = 0
      state a : n_a = [0 \dots 0]
      param W_u : n_a × (n_a + n_x)
      param W_v : n_a \times n_x
      param W_w : n_a * n_x
      param W_z : n_a x 2 n_x
      param p_f : n_a
      param s : 1
      output y_hat : n_y
      dim n_a = 32
      state \tilde{c} : 2*n_a - 1
    `);
    const shapes = c.decls.map((d) => [d.kind, d.name, d.shape?.map((s) => s.kind) ?? null, d.init?.kind ?? null]);
    expect(shapes).toEqual([
      ['input', 'x', ['dim'], null],
      ['input', 'u', null, null],
      ['state', 'c', ['dim'], 'num'],
      ['state', 'a', ['dim'], 'zeros'],
      ['param', 'W_u', ['dim', 'dimadd'], null],
      ['param', 'W_v', ['dim', 'dim'], null],
      ['param', 'W_w', ['dim', 'dim'], null],
      ['param', 'W_z', ['dim', 'dimscale'], null],
      ['param', 'p_f', ['dim'], null],
      ['param', 's', ['dimnum'], null],
      ['output', 'y_hat', ['dim'], null],
      ['dim', 'n_a', null, 'num'],
      ['state', 'c_tilde', ['dimadd'], null],
    ]);
    expect(stripSpans(c.decls[4].shape)).toEqual([
      { kind: 'dim', name: 'n_a' },
      { kind: 'dimadd', op: '+', left: { kind: 'dim', name: 'n_a' }, right: { kind: 'dim', name: 'n_x' } },
    ]);
    expect(stripSpans(c.decls[12].shape)).toEqual([
      { kind: 'dimadd', op: '-', left: { kind: 'dimscale', factor: 2, arg: { kind: 'dim', name: 'n_a' } }, right: { kind: 'dimnum', value: 1 } },
    ]);
    expect(c.decls[11].init).toMatchObject({ kind: 'num', value: 32 });
  });

  it('treats keywords as keywords only at the start of an item', () => {
    const c = cell('input x\ninput_2 = state + input\nstate^<t> = param');
    expect(c.decls).toHaveLength(1);
    expect(c.equations.map(showEq)).toEqual(['input_2 = (state + input)', 'state^<t> = param']);
  });

  it('spans declarations', () => {
    const src = 'param W_u : n_a × (n_a + n_x)';
    const d = cell(src).decls[0];
    expect(d.span).toEqual({ start: 0, end: src.length });
    expect(src.slice(d.nameSpan.start, d.nameSpan.end)).toBe('W_u');
    expect(src.slice(d.shape![1].span.start, d.shape![1].span.end)).toBe('(n_a + n_x)');
  });
});

// ---- names ------------------------------------------------------------------------

describe('names', () => {
  const cases: [string, string][] = [
    ['W', 'W'], ['tanh', 'tanh'], ['softmax', 'softmax'], ['Gamma', 'Gamma'], ['W2', 'W2'],
    ['Γ', 'Gamma'], ['σ', 'sigma'], ['ŷ', 'y_hat'], ['y\u0302', 'y_hat'], ['ϕ', 'phi'], ['φ', 'phi'], ['ς', 'sigma'],
    [String.raw`\Gamma`, 'Gamma'], [String.raw`\sigma`, 'sigma'], [String.raw`\alpha`, 'alpha'], [String.raw`\varphi`, 'phi'],
    [String.raw`\phi`, 'phi'], [String.raw`\varepsilon`, 'epsilon'], [String.raw`\Omega`, 'Omega'], [String.raw`\varGamma`, 'Gamma'],
    ['c\u0303', 'c_tilde'], [String.raw`\tilde{c}`, 'c_tilde'], [String.raw`\widetilde{c}`, 'c_tilde'], ['c~', 'c_tilde'],
    [String.raw`\tilde c`, 'c_tilde'], ['c_tilde', 'c_tilde'],
    [String.raw`\hat{y}`, 'y_hat'], [String.raw`\widehat{y}`, 'y_hat'], ['y_hat', 'y_hat'],
    ['x\u0304', 'x_bar'], [String.raw`\bar{x}`, 'x_bar'], [String.raw`\overline{x}`, 'x_bar'], ['ȳ', 'y_bar'],
    ['x\u0307', 'x_dot'], [String.raw`\dot{x}`, 'x_dot'],
    [String.raw`\mathbf{W}`, 'W'], [String.raw`\boldsymbol{h}`, 'h'], [String.raw`\mathrm{softmax}`, 'softmax'],
    [String.raw`\mathit{x}`, 'x'], [String.raw`\text{relu}`, 'relu'], [String.raw`\operatorname{softmax}`, 'softmax'],
    ['W_u', 'W_u'], ['W_{u}', 'W_u'], ['w_{aa}', 'w_aa'], ['g_1', 'g_1'], ['b_a_1', 'b_a_1'], ['W_{aa_{1}}', 'W_aa_1'],
    [String.raw`\Gamma_u`, 'Gamma_u'], [String.raw`\Gamma_{u}`, 'Gamma_u'], ['Γ_u', 'Gamma_u'], ['Gamma_u', 'Gamma_u'],
    [String.raw`\tilde{c}_u`, 'c_tilde_u'], ['c̃_u', 'c_tilde_u'], ['c~_u', 'c_tilde_u'], [String.raw`\tilde{c_u}`, 'c_tilde_u'],
    [String.raw`\mathbf{W}_{aa}`, 'W_aa'], [String.raw`\mathbf{W_{aa}}`, 'W_aa'], [String.raw`W_{\alpha}`, 'W_alpha'],
    [String.raw`\hat{\mathbf{y}}`, 'y_hat'], [String.raw`\tilde{\Gamma}_r`, 'Gamma_tilde_r'], ['Γ̃_r', 'Gamma_tilde_r'],
    [String.raw`\tanh`, 'tanh'], [String.raw`\exp`, 'exp'], ['𝐖', 'W'],
  ];
  it.each(cases)('%s → %s', (written, canonical) => {
    const eq = equations(`${written} = 1`)[0];
    expect(eq.lhs.name).toBe(canonical);
    expect(show(rhs(written))).toBe(canonical);
  });

  it('is case-sensitive', () => {
    expect(show(rhs('w_aa + W_aa'))).toBe('(w_aa + W_aa)');
  });

  it('rejects letters it cannot make canonical, with the span of the letter', () => {
    const p = problem('a = 2 ж');
    expect(p.span).toEqual({ start: 6, end: 7 });
    expect(p.found).toBe('ж');
    expect(p.expected).toMatch(/Latin or Greek/);
  });
});

// ---- time and other superscripts ------------------------------------------------------

describe('superscripts', () => {
  const times: [string, unknown][] = [
    ['^<t>', { kind: 'rel', offset: 0 }], ['^<t-1>', { kind: 'rel', offset: -1 }], ['^{<t>}', { kind: 'rel', offset: 0 }],
    ['^{< t>}', { kind: 'rel', offset: 0 }], ['^{< t-1>}', { kind: 'rel', offset: -1 }], ['^⟨t⟩', { kind: 'rel', offset: 0 }],
    ['^⟨t−1⟩', { kind: 'rel', offset: -1 }], ['^<t−1>', { kind: 'rel', offset: -1 }],
    [String.raw`^{\langle t \rangle}`, { kind: 'rel', offset: 0 }], [String.raw`^{\langle t-1 \rangle}`, { kind: 'rel', offset: -1 }],
    ['^{(t)}', { kind: 'rel', offset: 0 }], ['^{(t-1)}', { kind: 'rel', offset: -1 }],
    ['^<0>', { kind: 'abs', step: 0 }], ['^{<1>}', { kind: 'abs', step: 1 }], ['^<12>', { kind: 'abs', step: 12 }],
    ['^<t+1>', { kind: 'rel', offset: 1 }], ['^<t-2>', { kind: 'rel', offset: -2 }],
    ['^{}', { kind: 'empty' }], ['^{<>}', { kind: 'empty' }], ['^{ }', { kind: 'empty' }],
    ['^<s>', { kind: 'other', text: 's' }], ['^<t-k>', { kind: 'other', text: 't-k' }],
  ];
  it.each(times)('a%s', (sup, time) => {
    expect(equations(`a${sup} = 1`)[0].lhs.time).toEqual(time);
    const e = rhs(`a${sup}`);
    expect(e.kind === 'var' && e.time).toEqual(time);
  });

  const others: [string, string][] = [
    ['W^T', "W'"], ['W^{T}', "W'"], [String.raw`W^\top`, "W'"], [String.raw`W^{\top}`, "W'"], ['Wᵀ', "W'"],
    ['x^2', 'x**2'], ['x^{2}', 'x**2'], ['x^{-1}', 'x**-1'], ['x^{0.5}', 'x**0.5'], ['x²', 'x**2'], ['x³', 'x**3'],
    ['(a + b)^2', '(a + b)**2'], [String.raw`\tanh(x)^2`, 'tanh(x)**2'], ['W_{ax}^T', "W_ax'"],
    ['(a^<t>)^T', "a^<t>'"], ['x^T W x', "((x' W) x)"], ['x^{T}', "x'"],
    // An expression for exponent (RG-LRU's a^{c r_t}); a number exponent stays `pow`.
    ['a^{c r^<t>}', 'a**{(c r^<t>)}'], ['a^{c * r}', 'a**{(c * r)}'], ['x^{y}', 'x**{y}'], ['x^{ -y }', 'x**{-y}'],
    [String.raw`\sigma(\Lambda)^{c \, r^{<t>}}`, 'sigma(Lambda)**{(c r^<t>)}'], ['a^{b}^T', "a**{b}'"],
    // Sums over the features: `\sum_i v_i` is sum(v), `\sum_i u_i v_i` the inner product.
    [String.raw`\sum_i v_i`, 'sum(v)'], [String.raw`\sum_{i} u_i v_i`, 'sum((u * v))'], [String.raw`\sum_j (x_j + 1)`, 'sum((x + 1))'],
    [String.raw`\sum_i w_i x_i + b`, '(sum((w * x)) + b)'], [String.raw`\sum_i q`, 'sum(q)'],
  ];
  it.each(others)('%s', (written, expected) => {
    expect(show(rhs(written))).toBe(expected);
  });
});

// ---- expressions --------------------------------------------------------------------

describe('expressions', () => {
  const cases: [string, string][] = [
    ['a + b - c', '((a + b) - c)'],
    ['a − b', '(a - b)'],
    ['a + b * c', '(a + (b * c))'],
    ['a * b / c', '((a * b) / c)'],
    ['a ⊙ b ∘ c ∗ d', '(((a * b) * c) * d)'],
    [String.raw`a \odot b`, '(a * b)'],
    ['-a * b', '(-a * b)'],
    ['-W x', '-(W x)'],
    ['a * -b', '(a * -b)'],
    ['A · B x', '(A @ (B x))'],
    [String.raw`A \cdot B`, '(A @ B)'],
    ['A ⋅ B', '(A @ B)'],
    ['A @ B @ C', '((A @ B) @ C)'],
    ['-A @ B', '-(A @ B)'],
    ['a + -b · c * d', '(a + (-(b @ c) * d))'],
    ['- -a * b', '(--a * b)'],
    ['a - -b', '(a - -b)'],
    ['−a ∗ −b', '(-a * -b)'],
    ['-a · b x', '-(a @ (b x))'],
    ['a * b - c / d + e', '(((a * b) - (c / d)) + e)'],
    ['W x ⊙ y', '((W x) * y)'],
    ['W x − y', '((W x) - y)'],
    ['f (x) (y)', '(f(x) y)'],
    ['W_aa a^<t-1>', '(W_aa a^<t-1>)'],
    ['w_{aa}a^{< t-1>}', '(w_aa a^<t-1>)'],
    ['W_c[u, v]', '(W_c [u, v])'],
    ['2 x', '(2 x)'],
    ['2x', '(2 x)'],
    ['A B C', '((A B) C)'],
    ['1e-3 + 0.5 + 1', '((0.001 + 0.5) + 1)'],
    ['(a + b) c', '((a + b) c)'],
    ['{a + b}', '(a + b)'],
    ['[a, b, c]', '[a, b, c]'],
    ['[a]', '[a]'],
    [String.raw`[0 \dots 0]`, '[0…0]'],
    ['[0 … 0]', '[0…0]'],
    ['[0 ... 0]', '[0…0]'],
    [String.raw`[0, \dots, 0]`, '[0…0]'],
    [String.raw`[0 \cdots 0]`, '[0…0]'],
    [String.raw`[0, \ldots, 0]`, '[0…0]'],
    ['[0 ⋯ 0]', '[0…0]'],
    [String.raw`\frac{a}{b + c}`, '(a / (b + c))'],
    [String.raw`\sqrt{a}`, 'sqrt(a)'],
    [String.raw`\foo`, '\\foo'],
    [String.raw`\foo x`, '(\\foo x)'],
    ['tanh(x)', 'tanh(x)'],
    [String.raw`\tanh(x)`, 'tanh(x)'],
    [String.raw`\tanh \, (x)`, 'tanh(x)'],
    ['sigmoid (x)', 'sigmoid(x)'],
    ['σ(x)', 'sigma(x)'],
    ['g_1(x)', 'g_1(x)'],
    [String.raw`tanh \left(w_c [c^{< t-1>}, x^{< t>}] + b_c \right)`, 'tanh(((w_c [c^<t-1>, x^<t>]) + b_c))'],
    [String.raw`\operatorname{softmax}(x)`, 'softmax(x)'],
    [String.raw`\tanh\big(x\big)`, 'tanh(x)'],
    ['W (v)', 'W(v)'],
    ['a^<t> (v)', '(a^<t> v)'],
    ['tanh(x) y', '(tanh(x) y)'],
    [String.raw`\displaystyle a\;+\:b\!+\ c`, '((a + b) + c)'],
    ['$a$ + $$b$$', '(a + b)'],
  ];
  it.each(cases)('%s', (written, expected) => {
    expect(show(rhs(written))).toBe(expected);
  });
});

// The grammar ends a juxtaposition or an operator chain by a first-character
// lookahead; every operator, space and superscript must get past it.
describe('every operator, space and superscript after a juxtaposition', () => {
  const operators: [string, string][] = [
    ['+', '+'], ['-', '-'], ['−', '-'], ['*', '*'], ['∗', '*'], ['⊙', '*'], ['∘', '*'], ['/', '/'],
    [String.raw`\odot`, '*'], [String.raw`\circ`, '*'], [String.raw`\ast`, '*'],
    ['·', '@'], ['⋅', '@'], ['@', '@'], [String.raw`\cdot`, '@'],
  ];
  it.each(operators)('W x %s y', (op, canonical) => {
    expect(show(rhs(`W x ${op} y`))).toBe(`((W x) ${canonical} y)`);
    const tight = op.startsWith('\\') ? `${op} ` : op; // `\cdoty` would be another command
    expect(show(rhs(`W x${tight}y`))).toBe(`((W x) ${canonical} y)`);
  });

  const spaces = [' ', '\t', '$', '&', '\u00A0', '\u2009', '\f', String.raw`\,`, String.raw`\;`, String.raw`\:`, String.raw`\!`,
    String.raw`\ `, String.raw`\displaystyle `, String.raw`\left `, String.raw`\bigl `];
  it.each(spaces.map((s) => [JSON.stringify(s), s]))('W%sx y', (_name, space) => {
    expect(show(rhs(`W${space}x${space}y`))).toBe('((W x) y)');
  });

  it.each([['x² y', '(x**2 y)'], ['xᵀ y', "(x' y)"], ['x⁻¹ y', '(x**-1 y)'], ['x^T y', "(x' y)"]])('%s', (written, expected) => {
    expect(show(rhs(written))).toBe(expected);
  });
});

// ---- separators and line breaks ----------------------------------------------------------

describe('separators', () => {
  it('splits items on line breaks, ;, \\qquad, \\quad, \\\\ and top-level commas', () => {
    const eqs = equations(String.raw`a = 1; b = 2 \qquad c = 3 \quad d = 4 \\ e = 5, f = 6
g = 7;;

;h = 8 \\ \\`);
    expect(eqs.map((e) => e.lhs.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('accepts := and &=', () => {
    expect(equations('a := 1\nb &= 2').map(showEq)).toEqual(['a = 1', 'b = 2']);
  });

  it('continues an expression after an opening bracket, a comma, an operator or =, and before a closing bracket', () => {
    const eqs = equations(`a^<t> = tanh(
  W_aa a^<t-1> +
  W_ax x^<t> + b_a
)
b = [
  u,
  v
]
c =
  1 *
  2
d = {
  e }
f = \\frac{
  1}{2}
`);
    expect(eqs.map(showEq)).toEqual([
      'a^<t> = tanh((((W_aa a^<t-1>) + (W_ax x^<t>)) + b_a))',
      'b = [u, v]',
      'c = (1 * 2)',
      'd = e',
      'f = (1 / 2)',
    ]);
  });

  it('ends an equation at a line break otherwise', () => {
    expect(equations('a = b\nc = d').map(showEq)).toEqual(['a = b', 'c = d']);
    expect(problem('a = b\n+ c').span.start).toBe(6);
  });

  it('accepts comments with # and %, and CRLF line ends', () => {
    const eqs = equations('% a LaTeX comment\r\na = 1 # trailing\r\n# full line\r\nb = 2 % also\r\n');
    expect(eqs.map(showEq)).toEqual(['a = 1', 'b = 2']);
  });

  it('accepts empty bodies and cells', () => {
    expect(ok('').cells[0].equations).toEqual([]);
    expect(ok('cell A {}').cells[0]).toMatchObject({ name: 'A', decls: [], equations: [] });
    expect(ok('cell A {\n}\ncell B { a = 1 }').cells.map((c) => c.equations.length)).toEqual([0, 1]);
  });

  it('ignores LaTeX environments and alignment', () => {
    for (const env of ['split', 'aligned', 'align', 'align*', 'equation', 'equation*', 'gather']) {
      expect(equations(`\\begin{${env}} a &= 1 \\\\ b &= 2 \\end{${env}}`).map(showEq)).toEqual(['a = 1', 'b = 2']);
    }
  });
});

// ---- spans -------------------------------------------------------------------------

describe('spans', () => {
  it('covers what was written, in UTF-16 offsets of the original source', () => {
    const src = 'cell G {\n  c̃^<t> = Γ_u * (1 - Γ_u) + tanh(W_aa a^<t-1>)\n}';
    const c = cell(src);
    const text = (s: { start: number; end: number }) => src.slice(s.start, s.end);
    expect(text(c.nameSpan)).toBe('G');
    expect(text(c.span)).toBe(src);
    const eq = c.equations[0];
    expect(text(eq.lhs.span)).toBe('c̃^<t>');
    expect(text(eq.span)).toBe('c̃^<t> = Γ_u * (1 - Γ_u) + tanh(W_aa a^<t-1>)');
    const sum = eq.rhs as Extract<Expr, { kind: 'binary' }>;
    expect(text(sum.span)).toBe('Γ_u * (1 - Γ_u) + tanh(W_aa a^<t-1>)');
    const product = sum.left as Extract<Expr, { kind: 'binary' }>;
    expect(text(product.right.span)).toBe('(1 - Γ_u)');
    const apply = sum.right as Extract<Expr, { kind: 'apply' }>;
    expect(text(apply.fnSpan)).toBe('tanh');
    expect(text(apply.args[0]!.span)).toBe('W_aa a^<t-1>');
    checkSpans(ok(src), src.length);
  });

  it('spans LaTeX names and astral letters', () => {
    const src = String.raw`$\widetilde{c}^{< t>} = 𝐖 \hat{y}_{1}^T$`;
    const eq = equations(src)[0];
    expect(src.slice(eq.lhs.span.start, eq.lhs.span.end)).toBe(String.raw`\widetilde{c}^{< t>}`);
    const j = eq.rhs as Extract<Expr, { kind: 'juxt' }>;
    expect(src.slice(j.left.span.start, j.left.span.end)).toBe('𝐖');
    expect(src.slice(j.right.span.start, j.right.span.end)).toBe(String.raw`\hat{y}_{1}^T`);
  });

  it('keeps every span inside its parent on all the notes', () => {
    for (const src of [NOTES_FIVE_STEPS, NOTES_GRU_SIMPLE, NOTES_LSTM_SPLIT, GRU_LATEX, GRU_UNICODE]) {
      checkSpans(ok(src), src.length);
    }
  });
});

// ---- errors ----------------------------------------------------------------------------

describe('syntax problems', () => {
  it('points at the end of an unclosed parenthesis', () => {
    const p = problem('a = tanh(W x + b');
    expect(p.span).toEqual({ start: 16, end: 16 });
    expect(p.found).toBe('');
    expect(p.expected).toContain('")"');
  });

  it('points past the line break after an unclosed parenthesis (a line break may precede ")")', () => {
    const p = problem('cell A {\n  a = tanh(W x + b\n  c = 1\n}');
    expect(p.span).toEqual({ start: 30, end: 31 });
    expect(p.found).toBe('c');
    expect(p.expected).toContain('")"');
  });

  it('points at a stray =', () => {
    const p = problem('a = b = c');
    expect(p.span).toEqual({ start: 6, end: 7 });
    expect(p.found).toBe('=');
    expect(p.expected).toBe('an operator, a line break or end of input');
  });

  it('says "an expression" where one is missing', () => {
    const p = problem('a = ');
    expect(p.span).toEqual({ start: 4, end: 4 });
    expect(p.expected).toBe('an expression or a line break');
    expect(problem('a = b +\n\n').expected).toContain('an expression');
    expect(problem('a = (\n)').expected).toBe('an expression or a line break');
  });

  it('rejects a minus after a matrix product, at the minus', () => {
    const p = problem('z = A · -B');
    expect(p.span).toEqual({ start: 8, end: 9 });
    expect(p.expected).toBe('an expression or a line break');
    expect(problem('z = a ⋅ ⊙ b')).toMatchObject({ span: { start: 8, end: 9 }, found: '⊙', expected: 'an expression or a line break' });
  });

  it('says what may follow an operator or an unclosed application', () => {
    expect(problem('z = b ⊙')).toMatchObject({ span: { start: 7, end: 7 }, expected: 'an expression or a line break' });
    expect(problem('z = f (x')).toMatchObject({ span: { start: 8, end: 8 }, expected: '")", ",", ";", an operator or a line break' });
  });

  it('spans a leading minus from its sign over the product it starts', () => {
    const src = 'z = a + - -b · c * d';
    const sum = rhs(src.slice(4)) as Extract<Expr, { kind: 'binary' }>;
    const product = sum.right as Extract<Expr, { kind: 'binary' }>;
    const outer = product.left as Extract<Expr, { kind: 'neg' }>;
    const text = (s: { start: number; end: number }) => src.slice(4).slice(s.start - 4, s.end - 4);
    expect(text(outer.span)).toBe('- -b · c');
    expect(text(outer.arg.span)).toBe('-b · c');
    expect(text(product.span)).toBe('- -b · c * d');
  });

  it('points at garbage characters, covering one grapheme', () => {
    const p = problem('a = b ¤ c');
    expect(p.span).toEqual({ start: 6, end: 7 });
    expect(p.found).toBe('¤');
    const q = problem('a = b 😀 c');
    expect(q.found).toBe('😀');
    expect(q.span).toEqual({ start: 6, end: 8 });
  });

  it('names a whole LaTeX command or word as found', () => {
    expect(problem(String.raw`a = b \end{array}`).found).toBe('\\end');
    expect(problem('cell 2 { }').found).toBe('2');
  });

  it('reports a missing right-hand side and missing =', () => {
    expect(problem('a b').expected).toMatch(/"="|“=”/);
    expect(problem('cell A {\n  input\n}').expected).toContain('a name');
  });

  it('does not throw on deep nesting', () => {
    const deep = 'a = ' + '('.repeat(20000) + 'x' + ')'.repeat(20000);
    const r = parse(deep);
    expect(typeof r.ok).toBe('boolean');
  });
});

// ---- what the fuzzer found ------------------------------------------------------------

describe('environments and $$ are paired', () => {
  const at = (source: string, text: string, nth = 0) => {
    let i = -1;
    for (let k = 0; k <= nth; k++) i = source.indexOf(text, i + 1);
    return { start: i, end: i + text.length };
  };
  const DECLS = 'input x : n\nstate a : n\n';

  it('an unclosed \\begin{split} is reported at the \\begin', () => {
    const src = DECLS + String.raw`$$\begin{split} a^<t> &= tanh(x^<t>)$$`;
    expect(problem(src)).toEqual({ span: at(src, String.raw`\begin{split}`), expected: '`\\end{split}` to close this `\\begin{split}`', found: String.raw`\begin{split}` });
  });

  it('an environment never closed before the end of input', () => {
    const src = DECLS + String.raw`\begin {aligned} a^<t> &= tanh(x^<t>)` + '\n';
    expect(problem(src)).toMatchObject({ span: at(src, String.raw`\begin {aligned}`), expected: '`\\end{aligned}` to close this `\\begin {aligned}`' });
  });

  it('an \\end with no \\begin', () => {
    const src = DECLS + String.raw`a^<t> = tanh(x^<t>) \end{split}`;
    expect(problem(src)).toEqual({ span: at(src, String.raw`\end{split}`), expected: '`\\begin{split}` before this `\\end{split}`', found: String.raw`\end{split}` });
  });

  it('an \\end of another environment asks for the open one', () => {
    const src = DECLS + String.raw`$$\begin{split} a^<t> &= tanh(x^<t>) \end{aligned}$$`;
    expect(problem(src)).toMatchObject({ span: at(src, String.raw`\end{aligned}`), expected: '`\\end{split}`' });
  });

  it('a $$ left open, and $$ closed inside an environment', () => {
    const open = DECLS + '$$ a^<t> = tanh(x^<t>)\n';
    expect(problem(open)).toEqual({ span: at(open, '$$'), expected: '`$$` to close this `$$`', found: '$$' });
    const crossed = DECLS + String.raw`$$\begin{split} a^<t> &= tanh(x^<t>) $$ \end{split}`;
    expect(problem(crossed)).toMatchObject({ span: at(crossed, String.raw`\begin{split}`) });
    const inline = DECLS + '$a^<t> = tanh(x^<t>)\n';
    expect(problem(inline)).toMatchObject({ span: at(inline, '$'), expected: '`$` to close this `$`' });
  });

  it('delimiters in comments and \\\\ before \\begin are not confused', () => {
    ok(DECLS + '# $$ \\begin{split} in a comment\n% \\end{split}\na^<t> = tanh(x^<t>)\n');
    ok(DECLS + String.raw`$$\begin{split} a^<t> &= tanh(x^<t>) \\\end{split}$$` + '\n$b^<t> = a^<t>$');
  });

  it('the notes\' paired blocks still parse', () => {
    expect(equations(NOTES_GRU_SIMPLE)).toHaveLength(4);
  });
});

describe('a byte-order mark', () => {
  it('is skipped, and spans stay offsets into the source as given', () => {
    const src = '\uFEFFinput x : n\nstate a : n\na^<t> = tanh(x^<t>)\n';
    const file = ok(src);
    const eq = file.cells[0]!.equations[0]!;
    expect(src.slice(eq.span.start, eq.span.end)).toBe('a^<t> = tanh(x^<t>)');
    expect(file.cells[0]!.decls[0]!.span.start).toBe(1);
    checkSpans(file, src.length);
  });

  it('only at the start: elsewhere it is still unexpected', () => {
    expect(problem('a = 1\n\uFEFFb = 2').span.start).toBe(6);
  });
});

describe('an unclosed bracket of a script is reported where its closer is missing', () => {
  it('a time index stops at =, ( and line breaks', () => {
    expect(problem('a^<t = tanh(W x^<t>)')).toEqual({ span: { start: 5, end: 6 }, expected: '`>` to close the time index', found: '=' });
    expect(problem('a^<t> = x^<t(1)')).toMatchObject({ span: { start: 12, end: 13 }, expected: '`>` to close the time index' });
    expect(problem('a^<t\nb = 1')).toMatchObject({ span: { start: 4, end: 5 }, found: '\n' });
    expect(problem('a^{<t> = 1')).toMatchObject({ span: { start: 7, end: 8 }, expected: '`}` to close the time index' });
    expect(problem('a = x^⟨t = 2')).toMatchObject({ span: { start: 9, end: 10 }, expected: '`⟩` to close the time index' });
  });

  it('a subscript or superscript whose { is not closed', () => {
    expect(problem('a^<t> = tanh(w_{aa x^<t>)')).toEqual({ span: { start: 20, end: 21 }, expected: '`}` to close the subscript', found: '^' });
    expect(problem('a = w_{aa')).toMatchObject({ span: { start: 9, end: 9 }, found: '' });
    // `W^{T + 1}` is a power with an expression for exponent, so the `}` is missing at the end.
    expect(problem('a = W^{T + 1')).toMatchObject({ span: { start: 12, end: 12 }, expected: '"}" or an operator' });
    expect(problem('a = W^{2 + ')).toMatchObject({ span: { start: 11, end: 11 } });
  });

  it('a ^ or _ that starts nothing keeps its message', () => {
    expect(problem('a = b_ + 1')).toMatchObject({ span: { start: 5, end: 6 }, expected: 'a subscript' });
    expect(problem('a = b^ + 1')).toMatchObject({ span: { start: 5, end: 6 }, expected: 'a time index or a superscript' });
  });
});

describe('too deep nesting', () => {
  it('is reported at the expression', () => {
    const deep = 'a = ' + '('.repeat(20000) + 'x' + ')'.repeat(20000);
    expect(problem(deep)).toMatchObject({ span: { start: 4, end: deep.length }, expected: 'an expression nested less deeply' });
  });

  it('at the first unmatched bracket, not at a cell\'s brace', () => {
    const deep = 'cell A {\n  a = [' + '('.repeat(20000) + 'x\n}\n';
    expect(problem(deep).span).toEqual({ start: 15, end: 16 });
  });

  it('skips brackets in comments and shallower groups after it', () => {
    const deep = '# ((((\na = (' + '['.repeat(20000) + ']'.repeat(20000) + ')\nb = (((x)))';
    expect(problem(deep).span).toEqual({ start: 11, end: 40013 });
  });
});

// ---- robustness --------------------------------------------------------------------------

const ALPHABET = [
  ...'abcxyzWTt_^<>{}[]()=+-*/,;:.0123456789 \n\t$&#%~\\',
  'Γ', 'σ', 'ŷ', '\u0303', '⟨', '⟩', '−', '⊙', '·', '×', '…', 'ᵀ', '²', '😀',
  '\\tilde', '\\Gamma', '\\left(', '\\right)', '\\frac', '\\qquad', '\\\\', '\\begin{split}', '\\end{split}',
  'cell ', 'input ', 'state ', 'param ', 'dim ', '^{<t-1>}', '^<t>', '\\dots', 'tanh',
];

const VALID = [GRU_UNICODE, GRU_ASCII, GRU_LATEX, RNN_LATEX, NOTES_FIVE_STEPS, NOTES_GRU_SIMPLE, NOTES_LSTM_LINES];

// No timed assertions (speed is measured by bench/parse.ts): a parse that hangs
// is caught by the test's own timeout.
const timed = (source: string): ParseResult => parse(source);

describe('robustness', () => {
  it('never throws on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      const r = timed(s);
      if (!r.ok) expect(r.problem.span.end).toBeLessThanOrEqual(s.length);
    }), { numRuns: 300 });
  });

  it('never throws on random strings of notation tokens', () => {
    const token = fc.constantFrom(...ALPHABET);
    fc.assert(fc.property(fc.array(token, { maxLength: 200 }), (tokens) => {
      const s = tokens.join('');
      const r = timed(s);
      if (r.ok) checkSpans(r.ast, s.length);
      else expect(r.problem.span.start).toBeLessThanOrEqual(s.length);
    }), { numRuns: 400 });
  }, 60_000);

  it('never throws on mutations of valid programs', () => {
    type Mutation = { kind: 'delete' | 'insert' | 'swap'; at: number; len: number; text: string };
    const mutation: fc.Arbitrary<Mutation> = fc.record({
      kind: fc.constantFrom('delete', 'insert', 'swap'),
      at: fc.nat(),
      len: fc.integer({ min: 1, max: 8 }),
      text: fc.constantFrom(...ALPHABET),
    });
    const apply = (s: string, m: Mutation): string => {
      const at = m.at % (s.length + 1);
      if (m.kind === 'delete') return s.slice(0, at) + s.slice(at + m.len);
      if (m.kind === 'insert') return s.slice(0, at) + m.text + s.slice(at);
      const b = (at + m.len) % (s.length + 1);
      const [i, j] = at < b ? [at, b] : [b, at];
      return i === j || j >= s.length ? s : s.slice(0, i) + s[j] + s.slice(i + 1, j) + s[i] + s.slice(j + 1);
    };
    fc.assert(fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 6 }), (src, ms) => {
      const s = ms.reduce(apply, src);
      const r = timed(s);
      if (r.ok) checkSpans(r.ast, s.length);
      else {
        expect(r.problem.span.start).toBeGreaterThanOrEqual(0);
        expect(r.problem.span.end).toBeLessThanOrEqual(s.length);
        expect(r.problem.expected.length).toBeGreaterThan(0);
      }
    }), { numRuns: 300 });
  }, 60_000);

  it('parses long inputs (and returns on long junk)', () => {
    const body = Array.from({ length: 400 }, (_, i) => `a_${i}^<t> = tanh(W_${i}[a^<t-1>, x^<t>] + b_${i}) * (1 - Γ_${i})`).join('\n');
    expect(parse(`cell Big {\n${body}\n}`).ok).toBe(true);
    const junk = '(['.repeat(2000) + 'a + '.repeat(3000);
    expect(timed(junk).ok).toBe(false);
  }, 30_000);
});
