// Parsing the notation of research cells: function definitions (`g(v) = …`,
// `LN(z; α, β) = …`) and applications with `;`, `cases` in its Unicode, ASCII and
// LaTeX forms with comparisons, split left-hand sides, time subscripts, primes,
// superscript labels and unbraced Greek subscripts — and the names' round trip.
import { describe, expect, it } from 'vitest';
import { parse } from '../../grammar/parse.ts';
import type { CellAst, Expr } from '../../grammar/ast.ts';
import { spell } from '../../grammar/names.ts';

function cell(source: string): CellAst {
  const r = parse(source);
  if (!r.ok) throw new Error(`parse failed at ${r.problem.span.start}: expected ${r.problem.expected}, found ${JSON.stringify(r.problem.found)}`);
  return r.ast.cells[0]!;
}

/** A compact rendering of an expression. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'var': return e.name + (e.time ? `^<${e.time.kind === 'rel' ? (e.time.offset === 0 ? 't' : `t${e.time.offset}`) : e.time.kind}>` : '');
    case 'apply': return `${e.fn}(${e.args.slice(0, e.semi ?? e.args.length).map(show).join(', ')}${e.semi !== undefined ? `; ${e.args.slice(e.semi).map(show).join(', ')}` : ''})`;
    case 'binary': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'juxt': return `(${show(e.left)} ${show(e.right)})`;
    case 'compare': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'cases': return `cases(${e.arms.map((a) => `${show(a.value)} ${a.cond ? `if ${show(a.cond)}` : 'otherwise'}`).join(', ')})`;
    case 'neg': return `-${show(e.arg)}`;
    default: return e.kind;
  }
}

const rhs = (text: string) => show(cell(`y = ${text}`).equations[0]!.rhs);

describe('cases and comparisons', () => {
  const WANT = 'cases((v + 0.5) if (v >= 0), sigma(v) otherwise)';
  it('in Unicode, ASCII and LaTeX (with its `&`, `\\\\`, `\\text{if }`, a comma and line breaks)', () => {
    expect(rhs('cases(v + 0.5 if v ≥ 0, σ(v) otherwise)')).toBe(WANT);
    expect(rhs('cases(v + 0.5 if v >= 0, sigma(v) otherwise)')).toBe(WANT);
    expect(rhs(String.raw`\begin{cases} v + 0.5 & v \geq 0 \\ \sigma(v) & \text{otherwise} \end{cases}`)).toBe(WANT);
    expect(rhs(String.raw`\begin{cases}
      v + 0.5, & \text{if } v \ge 0, \\
      \sigma(v), & \mathrm{otherwise}.
    \end{cases}`)).toBe(WANT);
    expect(rhs('cases(v + 0.5 if v ⩾ 0, σ(v) else)')).toBe(WANT);
    expect(rhs('{v + 0.5 if v ≥ 0, σ(v) otherwise}')).toBe(WANT);
    expect(rhs('{v + 0.5}')).toBe('(v + 0.5)');
  });

  it('every comparison, and more arms', () => {
    expect(rhs('cases(a if x > 1, b if x < 2, c if x <= 3, d if x ≤ 4, e if x \\leq 5, f if x \\lt 6, g otherwise)'))
      .toBe('cases(a if (x > 1), b if (x < 2), c if (x <= 3), d if (x <= 4), e if (x <= 5), f if (x < 6), g otherwise)');
  });

  it('a comparison in parentheses is a value', () => {
    expect(rhs('(x ≥ 0) * a')).toBe('((x >= 0) * a)');
  });

  it('`&` outside a cases environment is still LaTeX alignment', () => {
    expect(show(cell(String.raw`\begin{split} y &= a + b \end{split}`).equations[0]!.rhs)).toBe('(a + b)');
  });

  it('a name may not be `if` or `otherwise` inside an arm: they end the value', () => {
    expect(rhs('cases(W x if x > 0, 0 otherwise)')).toBe('cases((W x) if (x > 0), 0 otherwise)');
  });
});

describe('functions and split left-hand sides', () => {
  it('g(v) = …, LN(z; α, β) = …, and applications with `;`', () => {
    const c = cell('g(v) = tanh(v)\nLN(z; α, β) = α * z + β\ny = LN(g(x); γ, b)');
    expect(c.functions!.map((f) => `${f.name}(${f.params.map((p) => p.name).join(',')})/${f.semi}`)).toEqual(['g(v)/null', 'LN(z,alpha,beta)/1']);
    expect(show(c.equations[0]!.rhs)).toBe('LN(g(x); gamma, b)');
    expect(cell(String.raw`\operatorname{LN}(z; \gamma, \beta) = z`).functions![0]!.name).toBe('LN');
  });

  it('[f, i, o, g] = e, also with time indices', () => {
    const c = cell('[f, i^<t>, o_t, g] = W x');
    expect(c.splits![0]!.targets.map((t) => `${t.name}${t.time ? '@t' : ''}`)).toEqual(['f', 'i@t', 'o_t', 'g']);
    expect(c.equations).toEqual([]);
  });
});

describe('names of papers', () => {
  it('time subscripts with a sign are time indices; a bare _t stays in the name (the checker decides)', () => {
    expect(rhs('h_{t-1} + h_{t−1} + h_{t - 1} + x_{t+1} + x_t + x_{t}')).toBe('(((((h^<t-1> + h^<t-1>) + h^<t-1>) + x^<t1>) + x_t) + x_t)');
    expect(show(cell('c̃_{t-1} = 1').equations[0]!.rhs)).toBe('1');
    expect(cell('c̃_{t-1} = 1').equations[0]!.lhs).toMatchObject({ name: 'c_tilde', time: { kind: 'rel', offset: -1 } });
  });

  it('a time subscript and a time superscript on one name is one too many', () => {
    const r = parse('y = h_{t-1}^<t>');
    expect(r.ok).toBe(false);
  });

  it("primes, superscript labels and unbraced Greek subscripts", () => {
    expect(rhs("f' + f′ + c̃′ + W^{hx} + W^{(f)} + W_Δ + W_\\Delta + W_{aa}^{hx} + \\tilde{c}'_t"))
      .toBe('((((((((f_prime + f_prime) + c_tilde_prime) + W_sup_hx) + W_sup_f) + W_Delta) + W_Delta) + W_aa_sup_hx) + c_tilde_prime_t)');
    // not labels: a transpose, a time index, a power
    expect(rhs('W^{T} x + a^{(t)} + b^{2}')).toBe('(((transpose x) + a^<t>) + pow)');
  });

  it('every spelling of a name with a prime or a label parses back to its canonical name', () => {
    for (const name of ['f_prime', 'c_tilde_prime', 'W_sup_hx', 'W_sup_f', 'W_aa_sup_hx', 'h_prime_t', 'W_Delta']) {
      for (const sp of ['ascii', 'unicode', 'latex'] as const) {
        const e = cell(`y = ${spell(name, sp)}`).equations[0]!.rhs;
        expect(e.kind === 'var' && e.name, `${sp}: ${spell(name, sp)}`).toBe(name);
      }
    }
    expect(spell('W_sup_hx', 'unicode')).toBe('W^{hx}');
    expect(spell('f_prime', 'unicode')).toBe('f′');
    expect(spell('W_Delta', 'unicode')).toBe('W_Δ');
    expect(spell('W_Delta', 'latex')).toBe('W_{\\Delta}');
    expect(spell('c_tilde_prime', 'latex')).toBe("\\tilde{c}'");
  });
});
