// print: any graph back as slide notation, in one of three spellings. Forward
// graphs print as a cell that parses back to the same graph; backward graphs
// print as the derivative equations the notes show:
//   ∂W_ax = Σ_batch (∂a^⟨t⟩ * (1 − tanh(W_aa a^⟨t−1⟩ + W_ax x^⟨t⟩ + b_a)²)) · x^⟨t⟩ᵀ

import type { Spelling } from '../../grammar/names.ts';
import { spell } from '../../grammar/names.ts';
import type { TypedCell } from '../check/typed-cell.ts';
import type { Dim } from '../ir/dims.ts';
import { dimEq, dimScale, dimSub, dimToString, isZeroDim } from '../ir/dims.ts';
import type { Graph, Node, Root } from '../ir/graph.ts';
import type { Shape } from '../ir/ops.ts';

export type { Spelling };

// Precedence: 1 sum, 2 elementwise product, 3 unary minus, 4 matrix product/juxtaposition, 5 postfix, 6 atom.
const P = { sum: 1, prod: 2, neg: 3, mat: 4, post: 5, atom: 6 } as const;

const FN: Record<string, Record<Spelling, string>> = {
  tanh: { ascii: 'tanh', unicode: 'tanh', latex: '\\tanh' },
  sigmoid: { ascii: 'sigmoid', unicode: 'σ', latex: '\\sigma' },
  softmax: { ascii: 'softmax', unicode: 'softmax', latex: '\\operatorname{softmax}' },
  relu: { ascii: 'relu', unicode: 'relu', latex: '\\operatorname{relu}' },
  exp: { ascii: 'exp', unicode: 'exp', latex: '\\exp' },
  log: { ascii: 'log', unicode: 'log', latex: '\\log' },
  sqrt: { ascii: 'sqrt', unicode: 'sqrt', latex: '\\operatorname{sqrt}' },
  abs: { ascii: 'abs', unicode: 'abs', latex: '\\operatorname{abs}' },
  softplus: { ascii: 'softplus', unicode: 'softplus', latex: '\\operatorname{softplus}' },
  step: { ascii: 'step', unicode: '𝟙₊', latex: '\\mathbb{1}_{>0}' },
  sign: { ascii: 'sign', unicode: 'sign', latex: '\\operatorname{sign}' },
  max: { ascii: 'max', unicode: 'max', latex: '\\max' },
  min: { ascii: 'min', unicode: 'min', latex: '\\min' },
  stopgrad: { ascii: 'sg', unicode: 'sg', latex: '\\operatorname{sg}' },
};

const SYM: Record<string, Record<Spelling, string>> = {
  mul: { ascii: '*', unicode: '*', latex: '*' },
  mat: { ascii: '@', unicode: '·', latex: '\\cdot' },
  minus: { ascii: '-', unicode: '−', latex: '-' },
  T: { ascii: '^T', unicode: 'ᵀ', latex: '^{T}' },
  sumBatch: { ascii: 'sum_batch', unicode: 'Σ_batch', latex: '\\sum_{batch}' },
  sumFeat: { ascii: 'sum', unicode: 'Σ_i', latex: '\\sum_{i}' },
  d: { ascii: 'd', unicode: '∂', latex: '\\partial ' },
  times: { ascii: '*', unicode: '×', latex: '\\times' },
  zeros: { ascii: '[0 ... 0]', unicode: '[0 … 0]', latex: '[0 \\dots 0]' },
  ge: { ascii: '>=', unicode: '≥', latex: '\\geq' },
  gt: { ascii: '>', unicode: '>', latex: '>' },
};

/** A comparison binds looser than a sum: `(v ≥ 0) * a` keeps its parentheses. */
const CMP = 0;

export function timed(name: string, time: string, sp: Spelling): string {
  const n = spell(name, sp);
  if (sp === 'latex') return `${n}^{<${time}>}`;
  if (sp === 'unicode') return `${n}^⟨${time.replace('-', '−')}⟩`;
  return `${n}^<${time}>`;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : String(+v.toPrecision(12)));

function power(base: string, p: number, sp: Spelling): string {
  if (sp === 'unicode' && (p === 2 || p === 3)) return base + (p === 2 ? '²' : '³');
  if (sp === 'latex') return `${base}^{${num(p)}}`;
  return p < 0 || !Number.isInteger(p) ? `${base}^{${num(p)}}` : `${base}^${num(p)}`;
}

export function dimText(d: Dim, sp: Spelling): string {
  return dimToString(d, (v) => (sp === 'latex' ? spell(v, 'latex') : v));
}

export function shapeText(s: readonly Dim[], sp: Spelling): string {
  if (s.length === 0) return '1';
  return s.map((d) => (d.terms.length + (d.k !== 0 ? 1 : 0) > 1 ? `(${dimText(d, sp)})` : dimText(d, sp))).join(` ${SYM.times![sp]} `);
}

export interface ExprPrinter {
  readonly g: Graph;
  readonly sp: Spelling;
  /** A name to print instead of the node's expression (named values, leaves); `parent` is the node that uses it. */
  readonly nameOf: (id: number, parent?: Node) => string | undefined;
  /** Deeper subexpressions print as `…` (comments of emitted code; a long chain would otherwise recurse past the stack). */
  readonly maxDepth?: number;
  /** Σ_i of u * v for two vectors prints as `uᵀ v`, as a cell writes it (printCell); derivatives keep `Σ_i (…)`. */
  readonly innerProducts?: boolean;
  /**
   * A scalar broadcast over a vector prints as `s 𝟏_{n}` where no elementwise
   * operator with a vector operand spreads it (derivatives; a cell's source leaves it implicit).
   */
  readonly broadcasts?: boolean;
}

/** Print one leaf as notation. */
export function leafText(n: Node, sp: Spelling, unrolled: boolean): string | undefined {
  const name = n.attrs.name!;
  switch (n.op) {
    case 'param': return spell(name, sp);
    case 'input': return timed(name, n.attrs.step !== undefined ? String(n.attrs.step) : 't', sp);
    case 'prev': return timed(name, n.attrs.step !== undefined ? String(n.attrs.step) : 't-1', sp);
    case 'cot': {
      const [role, ...rest] = name.split(':');
      const base = rest[rest.length - 1]!;
      const time = n.attrs.step !== undefined ? String(n.attrs.step) : unrolled ? '' : 't';
      const what = role === 'grad' ? spell(base, sp) : time ? timed(base, time, sp) : spell(base, sp);
      return `${SYM.d![sp]}${what}`;
    }
    case 'const': return num(n.attrs.value!);
    case 'zeros': return '0';
    default: return undefined;
  }
}

export function printExpr(id: number, pr: ExprPrinter, top = true, parent?: Node, depth = 0): string {
  return go(id, pr, top, parent, depth)[0];
}

function go(id: number, pr: ExprPrinter, top: boolean, parent: Node | undefined, depth: number): [string, number] {
  const { g, sp } = pr;
  const n = g.nodes[id]!;
  if (pr.maxDepth !== undefined && depth > pr.maxDepth) return ['…', P.atom];
  const inner = (x: number, par?: Node) => printExpr(x, pr, false, par, depth + 1);
  if (!top) {
    const name = pr.nameOf(id, parent);
    if (name !== undefined) return [name, P.atom];
  }
  const leaf = leafText(n, sp, false);
  if (leaf !== undefined) return [n.op === 'const' && n.attrs.value! < 0 ? `(${leaf})` : leaf, P.atom];
  const sub = (x: number, min: number) => {
    const [s, p] = go(x, pr, false, n, depth + 1);
    return p < min ? `(${s})` : s;
  };
  const [a, b] = n.inputs as [number, number];
  switch (n.op) {
    // a + (b + c) keeps its parentheses: it parses back as (a + b) + c otherwise
    case 'add': return [`${sub(a, P.sum)} + ${sub(b, P.prod)}`, P.sum];
    case 'sub': return [`${sub(a, P.sum)} ${SYM.minus![sp]} ${sub(b, P.prod)}`, P.sum];
    case 'mul': {
      // `diag(v) A`: the row scaling as written (the spread v 1ᵀ on either side of the product)
      const rows = diagOf(g, a, pr), rowsB = rows === undefined ? diagOf(g, b, pr) : undefined;
      if (rows !== undefined) return [`${DIAG[sp]}(${inner(rows, n)}) ${sub(b, P.post)}`, P.mat];
      if (rowsB !== undefined) return [`${DIAG[sp]}(${inner(rowsB, n)}) ${sub(a, P.post)}`, P.mat];
      return [`${sub(a, P.prod)} ${SYM.mul![sp]} ${sub(b, P.neg)}`, P.prod];
    }
    case 'div': {
      const m = meanOf(g, n);
      if (m !== undefined) return [`${FN_MEAN[sp]}(${inner(m, n)})`, P.atom];
      return sp === 'latex' ? [`\\frac{${inner(a, n)}}{${inner(b, n)}}`, P.atom] : [`${sub(a, P.prod)} / ${sub(b, P.neg)}`, P.prod];
    }
    case 'neg': return [`-${sub(a, P.neg + 1)}`, P.neg];
    case 'pow': return [power(superBase(sub(a, P.atom), sp), n.attrs.p!, sp), P.post];
    case 'transpose': return [`${superBase(sub(a, P.atom), sp)}${SYM.T![sp]}`, P.post];
    case 'matvec': {
      const w = g.nodes[a]!, v = g.nodes[b]!;
      if (v.op === 'concat' && pr.nameOf(b) === undefined) return [`${sub(a, P.post)}${concatText(v, pr, depth)}`, P.mat];
      const simpleW = w.op === 'param';
      const vs = sub(b, P.post);
      return simpleW && !vs.startsWith('(') ? [`${sub(a, P.post)} ${vs}`, P.mat] : [`${sub(a, P.post)} ${SYM.mat![sp]} ${sub(b, P.post)}`, P.mat];
    }
    case 'matmul': return [`${sub(a, P.mat)} ${SYM.mat![sp]} ${sub(b, P.post)}`, P.mat];
    case 'outer': {
      const batched = g.nodes[a]!.shape.batch;
      const body = `${sub(a, P.post)} ${SYM.mat![sp]} ${superBase(sub(b, P.atom), sp)}${SYM.T![sp]}`;
      return batched ? [`${SYM.sumBatch![sp]} ${body}`, P.neg] : [body, P.mat];
    }
    // Matrices per example: v kᵀ, C q, and (in backward graphs) Cᵀ u.
    case 'outer_each': return [`${sub(a, P.mat)} ${isOnes(g, b) ? blockText('1', g.nodes[b]!.shape.dims[0]!, sp) : superBase(sub(b, P.atom), sp)}${SYM.T![sp]}`, P.mat];
    case 'matvec_each': {
      if (isOnes(g, b)) return [`${sub(a, P.mat)} ${blockText('1', g.nodes[b]!.shape.dims[0]!, sp)}`, P.mat]; // the row sums, in backward equations
      const vs = sub(b, P.post);
      return [vs.startsWith('(') ? `${sub(a, P.mat)} ${SYM.mat![sp]} ${vs}` : `${sub(a, P.mat)} ${vs}`, P.mat];
    }
    case 'vecmat_each': return [`${superBase(sub(b, P.atom), sp)}${SYM.T![sp]} ${SYM.mat![sp]} ${sub(a, P.post)}`, P.mat];
    case 'sum_batch': return [`${SYM.sumBatch![sp]} ${sub(a, P.post)}`, P.neg];
    case 'sum_feat': {
      // A dimension used as a number (`d`), and the inner product `uᵀ v` of two vectors.
      const d = dimNumberOf(g, n);
      if (d !== undefined) return [d.terms.length + (d.k !== 0 ? 1 : 0) > 1 ? `(${dimText(d, sp)})` : dimText(d, sp), P.atom];
      const an = g.nodes[a]!;
      if (pr.innerProducts && an.op === 'mul' && pr.nameOf(a, n) === undefined && an.inputs.every((x) => g.nodes[x]!.shape.dims.length === 1)) {
        const [u, v] = an.inputs as [number, number];
        return [`${superBase(sub(u, P.atom), sp)}${SYM.T![sp]} ${sub(v, P.post)}`, P.mat];
      }
      return [`${SYM.sumFeat![sp]} ${sub(a, P.post)}`, P.neg];
    }
    case 'power': return [`${superBase(sub(a, P.atom), sp)}^{${inner(b, n)}}`, P.post];
    case 'bcast': {
      // A scalar spread over a vector is left implicit where an elementwise operator spreads it (`1 − Γ_u`);
      // elsewhere (`s 𝟏_{n} · xᵀ`, `Σ_batch s 𝟏_{n}`) the derivative says it, or the shape would be lost.
      const x = g.nodes[a]!;
      if (pr.broadcasts && x.shape.dims.length === 0 && n.shape.dims.length === 1 && parent !== undefined
        && (!ELEMENTWISE.has(parent.op) || parent.inputs.every((i) => looksScalar(pr, i, parent)))) {
        return [`${sub(a, P.post)} ${blockText('1', n.shape.dims[0]!, sp)}`, P.mat];
      }
      return go(a, pr, top, parent, depth);
    }
    case 'concat': return [concatText(n, pr, depth), P.atom];
    case 'slice': {
      const off = n.attrs.offset!, len = n.attrs.len!;
      return [`${sub(a, P.atom)}[${dimText(off, sp)} : ${dimText({ terms: [...off.terms, ...len.terms], k: off.k + len.k }, sp)}]`, P.atom];
    }
    case 'pad': {
      // slice's transpose: the vector placed at rows offset … offset + len of a zero vector, as a stack [𝟎_{offset}, v, 𝟎_{rest}]
      const off = n.attrs.offset!, rest = dimSub(dimSub(n.attrs.total!, off), g.nodes[a]!.shape.dims[0]!);
      const parts = [...(isZeroDim(off) ? [] : [blockText('0', off, sp)]), inner(a, n), ...(isZeroDim(rest) ? [] : [blockText('0', rest, sp)])];
      return [`[${parts.join(', ')}]`, P.atom];
    }
    case 'ge': case 'gt': return [`${sub(a, P.sum)} ${SYM[n.op]![sp]} ${sub(b, P.sum)}`, CMP];
    case 'select': return [casesText(n, pr, depth), P.atom];
    default: {
      const fn = FN[n.op];
      if (fn) return [sp === 'latex' && n.op === 'sqrt' ? `\\sqrt{${inner(a, n)}}` : `${fn[sp]}(${n.inputs.map((x) => inner(x, n)).join(', ')})`, P.atom];
      return [`${n.op}(${n.inputs.map((x) => inner(x)).join(', ')})`, P.atom];
    }
  }
}

/** Operators that spread a scalar operand over the shape of the other operands. */
const ELEMENTWISE: ReadonlySet<string> = new Set(['add', 'sub', 'mul', 'div', 'neg', 'pow', 'power', 'ge', 'gt', 'select', ...Object.keys(FN).filter((f) => f !== 'softmax')]);

/** Whether `id` prints as a scalar: a number, a scalar, a spread scalar left implicit, or elementwise operators of those. */
function looksScalar(pr: ExprPrinter, id: number, parent: Node): boolean {
  const n = pr.g.nodes[id]!;
  if (n.shape.dims.length === 0 || n.op === 'const' || n.op === 'zeros') return true;
  if (pr.nameOf(id, parent) !== undefined) return false;
  if (n.op === 'bcast') return looksScalar(pr, n.inputs[0]!, n);
  if (n.op === 'mul' && (diagOf(pr.g, n.inputs[0]!, pr) !== undefined || diagOf(pr.g, n.inputs[1]!, pr) !== undefined)) return false;
  return ELEMENTWISE.has(n.op) && n.inputs.every((i) => looksScalar(pr, i, n));
}

const FN_MEAN: Record<Spelling, string> = { ascii: 'mean', unicode: 'mean', latex: '\\operatorname{mean}' };

/** The dimension of `Σ_i 1` over a constant vector of ones: how a dimension used as a number is built (check/reductions.ts). */
export function dimNumberOf(g: Graph, n: Node): Dim | undefined {
  if (n.op !== 'sum_feat') return undefined;
  const b = g.nodes[n.inputs[0]!]!;
  if (b.op !== 'bcast' || b.shape.batch || b.shape.dims.length !== 1) return undefined;
  const c = g.nodes[b.inputs[0]!]!;
  return c.op === 'const' && c.attrs.value === 1 ? b.shape.dims[0] : undefined;
}

/** `mean(v)`: Σ_i v / n with n the size of the vector v. */
function meanOf(g: Graph, n: Node): number | undefined {
  const [s, d] = n.inputs.map((x) => g.nodes[x]!) as [Node, Node];
  if (s.op !== 'sum_feat' || dimNumberOf(g, s) !== undefined) return undefined;
  const v = g.nodes[s.inputs[0]!]!;
  const size = dimNumberOf(g, d);
  return size !== undefined && v.shape.dims.length === 1 && dimToString(v.shape.dims[0]!) === dimToString(size) ? v.id : undefined;
}

const DIAG: Record<Spelling, string> = { ascii: 'diag', unicode: 'diag', latex: '\\operatorname{diag}' };
/**
 * A constant vector with its size: the zeros `𝟎_{n}` that a slice's gradient is
 * stacked with (`[𝟎_{n_h}, ∂i, 𝟎_{2n_h}]`), the ones `𝟏_{N}` that sum rows
 * (`diag(v) A` is (v 𝟏ᵀ) ⊙ A, so its derivative has G 𝟏_{N}).
 */
const BLOCK: Record<'0' | '1', Record<Spelling, string>> = {
  0: { ascii: '0', unicode: '𝟎', latex: '\\mathbf{0}' },
  1: { ascii: '1', unicode: '𝟏', latex: '\\mathbf{1}' },
};
function blockText(k: '0' | '1', size: Dim, sp: Spelling): string {
  return `${BLOCK[k][sp]}_{${dimText(size, sp)}}`;
}
const isOnes = (g: Graph, id: number): boolean => {
  const n = g.nodes[id]!;
  const one = n.op === 'bcast' ? g.nodes[n.inputs[0]!]! : undefined;
  return one?.op === 'const' && one.attrs.value === 1 && !n.shape.batch && n.shape.dims.length === 1;
};

/** v when `id` is the unnamed v 1ᵀ that `diag(v) A` spreads v with (check/matrices.ts), else undefined. */
function diagOf(g: Graph, id: number, pr: ExprPrinter): number | undefined {
  const n = g.nodes[id]!;
  if (n.op !== 'outer_each' || pr.nameOf(id) !== undefined) return undefined;
  return isOnes(g, n.inputs[1]!) ? n.inputs[0]! : undefined;
}

/** A base that already carries a superscript (`a^{<t>}`) is parenthesised before another one. */
function superBase(base: string, sp: Spelling): string {
  if (sp === 'unicode') return base;
  return /\^(\{[^{}]*\}|<[^<>]*>)$/.test(base) ? `(${base})` : base;
}

/**
 * select(m₁, a, select(m₂, b, c)) as `cases(a if m₁, b if m₂, c otherwise)`, or LaTeX's
 * `\begin{cases} … \end{cases}`. A comparison condition prints in place even where
 * it has a name, since an arm's condition is written as a comparison.
 */
function casesText(n: Node, pr: ExprPrinter, depth: number): string {
  const { g, sp } = pr;
  const arms: [string, string | null][] = [];
  let at: Node = n;
  for (;;) {
    const [m, a, b] = at.inputs as [number, number, number];
    const cond = g.nodes[m]!;
    const condText = cond.op === 'ge' || cond.op === 'gt' ? go(m, pr, true, at, depth + 1)[0] : `${printExpr(m, pr, false, at, depth + 1)} > 0`;
    arms.push([printExpr(a, pr, false, at, depth + 1), condText]);
    const next = g.nodes[b]!;
    if (next.op === 'select' && pr.nameOf(b, at) === undefined) { at = next; continue; }
    arms.push([printExpr(b, pr, false, at, depth + 1), null]);
    break;
  }
  if (sp === 'latex') return `\\begin{cases} ${arms.map(([v, c]) => `${v} & ${c ?? '\\text{otherwise}'}`).join(' \\\\ ')} \\end{cases}`;
  return `cases(${arms.map(([v, c]) => (c === null ? `${v} otherwise` : `${v} if ${c}`)).join(', ')})`;
}

function concatText(n: Node, pr: ExprPrinter, depth: number): string {
  return `[${n.inputs.map((x) => printExpr(x, pr, false, n, depth + 1)).join(', ')}]`;
}

// ---------------------------------------------------------------- a forward cell

function rootTime(r: Root) {
  return r.step !== undefined ? String(r.step) : 't';
}

/** The whole cell as source text in one spelling; parsing it gives the same graph. */
export function printCell(cell: TypedCell, g: Graph, sp: Spelling): string {
  const lines: string[] = [];
  const declDims = (s: Shape) => shapeText(s.dims, sp);
  // Dimensions read as numbers (`1/sqrt(d)`) are declared, so they read back as dimensions.
  const numbered = new Set(g.nodes.flatMap((n) => dimNumberOf(g, n)?.terms.map(([v]) => v) ?? []));
  for (const d of numbered) lines.push(`dim ${spell(d, sp)}`);
  for (const i of cell.inputs) lines.push(`input ${spell(i.name, sp)} : ${dimText(i.dim, sp)}`);
  for (const s of cell.states) lines.push(`state ${spell(s.name, sp)} : ${s.cols ? shapeText([s.dim, s.cols], sp) : dimText(s.dim, sp)}${s.init !== 0 ? ` = ${num(s.init)}` : ''}`);
  for (const p of cell.params) lines.push(`param ${spell(p.name, sp)} : ${declDims({ batch: false, dims: p.shape })}`);
  if (cell.mode === 'unrolled') for (const s of cell.states) lines.push(`${timed(s.name, '0', sp)} = ${s.init === 0 ? SYM.zeros![sp] : num(s.init)}`);

  const named = new Map<number, string>();
  const defs: { id: number; lhs: string; alias?: boolean }[] = [];
  const order = [...g.roots].sort((x, y) => x.id - y.id || (x.role === 'state' ? -1 : 1));
  const labelled = Object.entries(g.labels).map(([id, name]) => ({ id: Number(id), name }));
  const events = [
    ...labelled.map((l) => ({ id: l.id, lhs: spell(l.name, sp), kind: 0 })),
    ...order.map((r) => ({ id: r.id, lhs: timed(r.name, rootTime(r), sp), kind: 1 })),
  ].sort((x, y) => x.id - y.id || x.kind - y.kind);
  for (const e of events) {
    if (named.has(e.id)) defs.push({ id: e.id, lhs: e.lhs, alias: true });
    else {
      defs.push({ id: e.id, lhs: e.lhs });
      named.set(e.id, e.lhs);
    }
  }
  const unrolled = cell.mode === 'unrolled';
  const nameOf = (id: number) => named.get(id) ?? leafText(g.nodes[id]!, sp, unrolled);
  const splits = splitGroups(g, defs, sp);
  for (const d of defs) {
    const split = d.alias ? undefined : splits.get(d.id);
    if (split === null) continue; // printed with its group
    if (split) { lines.push(`[${split.names.join(', ')}] = ${printExpr(split.of, { g, sp, nameOf, innerProducts: true }, true)}`); continue; }
    const rhs = d.alias ? named.get(d.id)! : printExpr(d.id, { g, sp, nameOf, innerProducts: true }, true);
    lines.push(`${d.lhs} = ${rhs}`);
  }
  return `cell ${cell.name} {\n${lines.map((l) => `  ${l}`).join('\n')}\n}\n`;
}

/**
 * Definitions that are equal consecutive slices of one value, as a split left-hand
 * side wrote them (`[f, i, o, g] = e`): the first of each group maps to the group
 * (slices dropped as dead code get placeholder names, which parse back to dead code),
 * the others to null. A slice without such a group prints as itself.
 */
function splitGroups(g: Graph, defs: readonly { id: number; lhs: string; alias?: boolean }[], sp: Spelling): Map<number, { of: number; names: string[] } | null> {
  const byInput = new Map<number, { id: number; lhs: string }[]>();
  for (const d of defs) {
    const n = g.nodes[d.id]!;
    if (d.alias || n.op !== 'slice') continue;
    byInput.set(n.inputs[0]!, [...(byInput.get(n.inputs[0]!) ?? []), d]);
  }
  const out = new Map<number, { of: number; names: string[] } | null>();
  for (const [of, members] of byInput) {
    const total = g.nodes[of]!.shape.dims[0]!;
    const len = g.nodes[members[0]!.id]!.attrs.len!;
    const count = [...Array(64).keys()].slice(2).find((k) => dimEq(dimScale(len, k), total));
    if (count === undefined || !members.every((m) => dimEq(g.nodes[m.id]!.attrs.len!, len))) continue;
    const names = Array.from({ length: count }, (_, k) => spell(`unused_${k + 1}`, sp));
    const placed = new Set<number>();
    for (const m of members) {
      const k = [...Array(count).keys()].find((i) => dimEq(dimScale(len, i), g.nodes[m.id]!.attrs.offset!));
      if (k === undefined || placed.has(k)) { placed.add(-1); break; }
      placed.add(k);
      names[k] = m.lhs;
    }
    if (placed.has(-1)) continue;
    members.forEach((m, i) => out.set(m.id, i === 0 ? { of, names } : null));
  }
  return out;
}

// ---------------------------------------------------------------- derivative equations

export interface GradPrintOptions {
  readonly spelling: Spelling;
  /** Only the gradient with respect to this name. */
  readonly wrt?: string;
  /** Keep forward values by name instead of expanding their definitions one level. */
  readonly compact?: boolean;
  /** Subexpressions deeper than this print as `…` (default 1000, the depth check allows a source expression). */
  readonly maxDepth?: number;
}

/**
 * The backward step as equations. Backward values used more than once become
 * temporaries δ₁, δ₂, …; forward values (`a^⟨t⟩`, `Γ_u`) are expanded one level,
 * as the notes write `1 − tanh(W_aa a^⟨t−1⟩ + W_ax x^⟨t⟩ + b_a)²`.
 */
export function printGrad(cell: TypedCell, fwd: Graph, bwd: Graph, opts: GradPrintOptions): string {
  const sp = opts.spelling;
  const unrolled = cell.mode === 'unrolled';
  // Names of forward values in the backward graph: roots and labels of the forward graph,
  // matched through their structural keys (both graphs are hash-consed the same way).
  const table = new Map<string, number>();
  const fwdKey = keys(fwd, table);
  const bwdKey = keys(bwd, table);
  const fwdByKey = new Map(fwdKey.map((k, i) => [k, i]));
  const fwdName = new Map<number, string>();
  for (const r of [...fwd.roots].reverse()) fwdName.set(r.id, timed(r.name, rootTime(r), sp));
  for (const [id, name] of Object.entries(fwd.labels)) fwdName.set(Number(id), spell(name, sp));
  const fwdOf = (id: number) => fwdByKey.get(bwdKey[id]!);

  const roots = bwd.roots.filter((r) => opts.wrt === undefined || r.name === opts.wrt);
  const uses = new Map<number, number>();
  const live = new Set<number>();
  const visit = (id: number) => {
    uses.set(id, (uses.get(id) ?? 0) + 1);
    if (live.has(id)) return;
    live.add(id);
    const f = fwdOf(id);
    if (f !== undefined && fwdName.has(f)) return; // a named forward value: printed by name or one level deep
    for (const x of bwd.nodes[id]!.inputs) visit(x);
  };
  for (const r of roots) visit(r.id);

  const temps = new Map<number, string>();
  const sub = (i: number) => (sp === 'unicode' ? String(i).replace(/\d/g, (c) => '₀₁₂₃₄₅₆₇₈₉'[Number(c)]!) : sp === 'latex' ? `_{${i}}` : `_${i}`);
  const delta = sp === 'latex' ? '\\delta' : sp === 'unicode' ? 'δ' : 'delta';
  const lines: string[] = [];
  const expandDepth = new Set<number>();
  const nameOf = (id: number, parent?: Node): string | undefined => {
    if (temps.has(id)) return temps.get(id);
    const n = bwd.nodes[id]!;
    const f = fwdOf(id);
    if (f !== undefined && fwdName.has(f)) {
      // Expand a saved activation where the derivative rule uses it (1 − tanh(…)²), keep its name elsewhere (x^⟨t⟩ᵀ).
      const arithmetic = parent !== undefined && ['mul', 'sub', 'add', 'div', 'pow', 'neg'].includes(parent.op);
      // A slice of a split left-hand side (`[f, i] = e`) keeps its name: `e[0 : n]` says less than `f`.
      if (opts.compact || expandDepth.has(f) || !arithmetic || fwd.nodes[f]!.op === 'slice') return fwdName.get(f);
      expandDepth.add(f);
      const inner = printExpr(f, { g: fwd, sp, nameOf: (x) => (x === f ? undefined : fwdName.get(x) ?? leafText(fwd.nodes[x]!, sp, unrolled)), maxDepth: opts.maxDepth ?? 1000, broadcasts: true }, true);
      expandDepth.delete(f);
      // One application (`tanh(…)`) needs no parentheses; `relu(v) + σ(v)` does.
      return isOneApplication(inner) ? inner : `(${inner})`;
    }
    return leafText(n, sp, unrolled);
  };
  const pr = { g: bwd, sp, nameOf, maxDepth: opts.maxDepth ?? 1000, broadcasts: true };
  let k = 0;
  for (const id of [...live].sort((a, b) => a - b)) {
    const n = bwd.nodes[id]!;
    if ((uses.get(id) ?? 0) < 2 || n.inputs.length === 0 || fwdOf(id) !== undefined || n.op === 'transpose' || n.op === 'bcast') continue;
    const name = `${delta}${sub(++k)}`;
    lines.push(`${name} = ${printExpr(id, pr, true)}`);
    temps.set(id, name);
  }
  const rank = { param: 0, input: 1, prev: 2, cot: 3 } as const;
  for (const r of [...roots].sort((x, y) => rank[x.of ?? 'param'] - rank[y.of ?? 'param'])) {
    const time = r.step !== undefined ? String(r.step) : r.of === 'prev' ? (unrolled ? '0' : 't-1') : 't';
    const lhs = `${SYM.d![sp]}${r.of === 'param' || r.of === 'cot' ? spell(r.name, sp) : timed(r.name, time, sp)}`;
    lines.push(`${lhs} = ${temps.get(r.id) ?? printExpr(r.id, pr, true)}`);
  }
  return lines.join('\n') + '\n';
}

/** `f(…)` whose first parenthesis closes at its very end: `tanh(a + b)`, not `relu(v) + σ(v)`. */
function isOneApplication(s: string): boolean {
  const open = s.indexOf('(');
  if (open < 1 || /\s/.test(s.slice(0, open)) || !s.endsWith(')')) return false;
  let d = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') d++;
    else if (s[i] === ')' && --d === 0) return i === s.length - 1;
  }
  return false;
}

/** Structural keys, independent of ids: equal keys mean equal values (ids interned in `table`, shared by both graphs). */
function keys(g: Graph, table: Map<string, number>): number[] {
  const out: number[] = [];
  for (const n of g.nodes) {
    const a = n.attrs;
    const attr = [a.name, a.step, a.value, a.p, a.offset && dimToString(a.offset), a.len && dimToString(a.len)].map((x) => (x === undefined ? '' : String(x))).join('|');
    const k = `${n.op}[${attr}](${n.inputs.map((x) => out[x]).join(',')})`;
    let v = table.get(k);
    if (v === undefined) table.set(k, (v = table.size));
    out.push(v);
  }
  return out;
}
