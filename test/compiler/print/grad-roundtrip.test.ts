// `celda grad` prints equations that mean what the backward graph computes.
// The printed text (every spelling, expanded and --compact, whole and --wrt) is
// parsed back here by a reader written from the notation — precedence,
// juxtaposition, Σ_batch / Σ_i, transposes, slices and their gradients
// (stacks with zero vectors [𝟎_{n}, ∂i, 𝟎_{2n}]), diag(v) and the ones vector
// 𝟏_{n}, cases, δ temporaries — and
// evaluated in float64; every printed gradient must equal the backward graph's
// value at the same point. A parenthesis the printer drops, or one too many
// that changes a grouping, changes a number: the last tests check that the
// paren bug of issue 13 (`∂h * relu(v) + σ(v)` for `∂h * (relu(v) + σ(v))`)
// is caught. (With the old paren-stripping put back into compiler/print/
// notation.ts, all three random-cell properties fail: the generic one at its
// 14th cell, the one shaped after the bug at its first.) The random cells also
// write cases, scalars per example, tensor exponents and matrices per example,
// and the generic property counts that they compiled and held those
// primitives. Names are read by the printer's own spelling of each leaf
// (leafText), the one thing taken from the printer.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { compile } from '../../../compiler/compile.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import type { Tensor } from '../../../compiler/ir/ops.ts';
import { leafText, printGrad, timed } from '../../../compiler/print/notation.ts';
import type { Spelling } from '../../../grammar/names.ts';
import { spell } from '../../../grammar/names.ts';
import { interpret } from '../../../runtime/interpreter.ts';
import { Rng } from '../../../runtime/random.ts';
import { compileOk, example, exampleFiles } from '../../support/cells.ts';
import { dimEnv, leafKey, randomLeaves } from '../../support/numeric.ts';
import { randomCellSource, randomCellSpec } from '../../support/random-cell-source.ts';
import { zooFiles, zooSource } from '../../support/zoo.ts';

const SPELLINGS: readonly Spelling[] = ['ascii', 'unicode', 'latex'];
const BATCH = 2;

// ---------------------------------------------------------------- values

/** A value of the notation: a tensor, or a transposed vector (a row, only ever the right factor of an outer product). */
interface Val { readonly batched: boolean; readonly dims: readonly number[]; readonly data: Float64Array; readonly row?: boolean }

const feat = (v: Val) => v.dims.reduce((a, b) => a * b, 1);
const at = (v: Val, b: number, i: number) => v.data[(v.batched ? b * feat(v) : 0) + (v.dims.length === 0 ? 0 : i)]!;

function elementwise(xs: readonly Val[], f: (...a: number[]) => number): Val {
  const shaped = xs.filter((x) => x.dims.length > 0);
  const dims = shaped[0]?.dims ?? [];
  for (const x of shaped) if (x.dims.join() !== dims.join()) throw new Error(`elementwise: [${x.dims}] vs [${dims}]`);
  const batched = xs.some((x) => x.batched);
  const F = dims.reduce((a, b) => a * b, 1), B = batched ? BATCH : 1;
  const data = new Float64Array(B * F);
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) data[b * F + i] = f(...xs.map((x) => at(x, b, i)));
  return { batched, dims, data };
}

/** Juxtaposition and `·`: matrix × vector, matrix × matrix, vector × row (outer product), scalar × anything. */
function product(a: Val, b: Val): Val {
  if (a.dims.length === 0 && !a.row) return elementwise([a, b], (x, y) => x * y);
  const batched = a.batched || b.batched, B = batched ? BATCH : 1;
  const A = (k: number, i: number, j: number) => a.data[(a.batched ? k * feat(a) : 0) + i * a.dims[1]! + j]!;
  if (a.dims.length === 2 && b.dims.length === 1 && !b.row) {
    const [m, n] = a.dims as [number, number];
    if (n !== b.dims[0]) throw new Error(`matrix ${m}×${n} times vector ${b.dims[0]}`);
    const data = new Float64Array(B * m);
    for (let k = 0; k < B; k++) for (let i = 0; i < m; i++) { let s = 0; for (let j = 0; j < n; j++) s += A(k, i, j) * at(b, k, j); data[k * m + i] = s; }
    return { batched, dims: [m], data };
  }
  if (a.dims.length === 2 && b.dims.length === 2) {
    const [m, p] = a.dims as [number, number], n = b.dims[1]!;
    if (p !== b.dims[0]) throw new Error(`matrix ${m}×${p} times matrix ${b.dims[0]}×${n}`);
    const data = new Float64Array(B * m * n);
    for (let k = 0; k < B; k++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < p; q++) s += A(k, i, q) * b.data[(b.batched ? k * feat(b) : 0) + q * n + j]!;
      data[(k * m + i) * n + j] = s;
    }
    return { batched, dims: [m, n], data };
  }
  if (a.dims.length === 1 && !a.row && b.row) {
    const m = a.dims[0]!, n = b.dims[0]!;
    const data = new Float64Array(B * m * n);
    for (let k = 0; k < B; k++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) data[(k * m + i) * n + j] = at(a, k, i) * at(b, k, j);
    return { batched, dims: [m, n], data };
  }
  throw new Error(`no product of [${a.dims}]${a.row ? 'ᵀ' : ''} and [${b.dims}]${b.row ? 'ᵀ' : ''}`);
}

function transpose(v: Val): Val {
  if (v.dims.length === 1) return { ...v, row: !v.row };
  if (v.dims.length !== 2) throw new Error('transpose of a scalar');
  const [m, n] = v.dims as [number, number], B = v.batched ? BATCH : 1;
  const data = new Float64Array(v.data.length);
  for (let k = 0; k < B; k++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) data[k * m * n + j * m + i] = v.data[k * m * n + i * n + j]!;
  return { batched: v.batched, dims: [n, m], data };
}

function sumBatch(v: Val): Val {
  if (!v.batched) throw new Error('Σ_batch of a value without a batch');
  const F = feat(v), data = new Float64Array(F);
  for (let b = 0; b < BATCH; b++) for (let i = 0; i < F; i++) data[i]! += v.data[b * F + i]!;
  return { batched: false, dims: v.dims, data };
}

function sumFeatures(v: Val): Val {
  const F = feat(v), B = v.batched ? BATCH : 1, data = new Float64Array(B);
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) data[b]! += v.data[b * F + i]!;
  return { batched: v.batched, dims: [], data };
}

function softmax(v: Val): Val {
  const n = v.dims[0]!, B = v.batched ? BATCH : 1, data = new Float64Array(v.data.length);
  for (let b = 0; b < B; b++) {
    const row = v.data.subarray(b * n, b * n + n), m = Math.max(...row);
    let s = 0;
    for (let i = 0; i < n; i++) s += data[b * n + i] = Math.exp(row[i]! - m);
    for (let i = 0; i < n; i++) data[b * n + i]! /= s;
  }
  return { batched: v.batched, dims: v.dims, data };
}

function concat(xs: readonly Val[]): Val {
  const batched = xs.some((x) => x.batched), N = xs.reduce((n, x) => n + x.dims[0]!, 0), B = batched ? BATCH : 1;
  const data = new Float64Array(B * N);
  for (let b = 0; b < B; b++) { let off = 0; for (const x of xs) { for (let i = 0; i < x.dims[0]!; i++) data[b * N + off + i] = at(x, b, i); off += x.dims[0]!; } }
  return { batched, dims: [N], data };
}

function slice(v: Val, from: number, to: number): Val {
  const n = v.dims[0]!, B = v.batched ? BATCH : 1, data = new Float64Array(B * (to - from));
  for (let b = 0; b < B; b++) for (let i = from; i < to; i++) data[b * (to - from) + i - from] = v.data[b * n + i]!;
  return { batched: v.batched, dims: [to - from], data };
}

/** `diag(v)`: the square matrix with v on its diagonal (per example when v is). */
function diag(v: Val): Val {
  if (v.dims.length !== 1 || v.row) throw new Error('diag of something that is not a vector');
  const n = v.dims[0]!, B = v.batched ? BATCH : 1, data = new Float64Array(B * n * n);
  for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) data[b * n * n + i * n + i] = at(v, b, i);
  return { batched: v.batched, dims: [n, n], data };
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const FUNCTIONS: Record<string, (...xs: number[]) => number> = {
  tanh: Math.tanh, sigmoid, relu: (x) => (x > 0 ? x : 0), exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs,
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))), step: (x) => (x > 0 ? 1 : 0), sign: Math.sign,
  max: Math.max, min: Math.min, sg: (x) => x,
};

// ---------------------------------------------------------------- the reader

/** The notation's fixed words in each spelling (function names, Σ, ∂'s operators), read longest first. */
const WORDS: Record<Spelling, Record<string, string>> = {
  ascii: {
    tanh: 'fn:tanh', sigmoid: 'fn:sigmoid', softmax: 'softmax', relu: 'fn:relu', exp: 'fn:exp', log: 'fn:log', sqrt: 'fn:sqrt', abs: 'fn:abs',
    softplus: 'fn:softplus', step: 'fn:step', sign: 'fn:sign', max: 'fn:max', min: 'fn:min', sg: 'fn:sg', sum_batch: 'sumB', sum: 'sumF', '@': 'dot', '-': '-', '^T': 'T',
    mean: 'mean', cases: 'cases', if: 'if', otherwise: 'otherwise', '>=': 'ge', '>': 'gt', diag: 'diag',
  },
  unicode: {
    tanh: 'fn:tanh', 'σ': 'fn:sigmoid', softmax: 'softmax', relu: 'fn:relu', exp: 'fn:exp', log: 'fn:log', sqrt: 'fn:sqrt', abs: 'fn:abs',
    softplus: 'fn:softplus', '𝟙₊': 'fn:step', sign: 'fn:sign', max: 'fn:max', min: 'fn:min', sg: 'fn:sg', 'Σ_batch': 'sumB', 'Σ_i': 'sumF',
    '·': 'dot', '−': '-', '-': '-', 'ᵀ': 'T', '²': 'sq', '³': 'cube',
    mean: 'mean', cases: 'cases', if: 'if', otherwise: 'otherwise', '≥': 'ge', '>': 'gt', diag: 'diag',
  },
  latex: {
    '\\tanh': 'fn:tanh', '\\sigma': 'fn:sigmoid', '\\operatorname{softmax}': 'softmax', '\\operatorname{relu}': 'fn:relu', '\\exp': 'fn:exp',
    '\\log': 'fn:log', '\\operatorname{sqrt}': 'fn:sqrt', '\\sqrt': 'rootbrace', '\\operatorname{abs}': 'fn:abs', '\\operatorname{softplus}': 'fn:softplus',
    '\\mathbb{1}_{>0}': 'fn:step', '\\operatorname{sign}': 'fn:sign', '\\max': 'fn:max', '\\min': 'fn:min', '\\operatorname{sg}': 'fn:sg',
    '\\sum_{batch}': 'sumB', '\\sum_{i}': 'sumF', '\\cdot': 'dot', '-': '-', '^{T}': 'T', '\\frac': 'frac',
    '\\operatorname{mean}': 'mean', '\\begin{cases}': 'lcases', '\\end{cases}': 'rcases', '\\\\': 'row', '&': 'amp',
    '\\text{otherwise}': 'otherwise', '\\geq': 'ge', '>': 'gt', '\\operatorname{diag}': 'diag',
  },
};
/** The start of a constant vector with its size, `𝟎_{n}` or `𝟏_{n}` (group 1: the entry). */
const BLOCK: Record<Spelling, RegExp> = { ascii: /^([01])_\{/, unicode: /^(𝟎|𝟏)_\{/, latex: /^\\mathbf\{([01])\}_\{/ };
const PUNCT = ['+', '*', '/', '(', ')', '[', ']', ',', ':', '{', '}', '^'];

type Lexicon = Map<string, Val>;

class Reader {
  private i = 0;
  constructor(private readonly s: string, private readonly sp: Spelling, private readonly names: Lexicon, private readonly dims: ReadonlyMap<string, number>) {}

  private ws() { while (this.i < this.s.length && this.s[this.i] === ' ') this.i++; }
  private fail(what: string): never { throw new Error(`${what} at ${this.i} in: ${this.s.slice(0, this.i)}⟦${this.s.slice(this.i)}`); }

  /** The longest name or word at the cursor (a name must not run on into more letters). */
  private lexeme(): { text: string; value?: Val; word?: string } | null {
    let best: { text: string; value?: Val; word?: string } | null = null;
    const rest = this.s.slice(this.i);
    const fits = (t: string) => rest.startsWith(t) && !(/[A-Za-z0-9_]$/.test(t) && /^[A-Za-z0-9_]/.test(rest.slice(t.length)));
    for (const [t, v] of this.names) if (fits(t) && (!best || t.length > best.text.length)) best = { text: t, value: v };
    for (const [t, w] of Object.entries(WORDS[this.sp])) if (fits(t) && (!best || t.length > best.text.length)) best = { text: t, word: w };
    return best;
  }
  private peekWord(): string | null {
    this.ws();
    const l = this.lexeme();
    if (l?.word) return l.word;
    const c = this.s[this.i];
    return c !== undefined && PUNCT.includes(c) ? c : null;
  }
  private take(word: string) {
    this.ws();
    const l = this.lexeme();
    if (l?.word === word) { this.i += l.text.length; return; }
    if (this.s[this.i] === word) { this.i++; return; }
    this.fail(`expected ${word}`);
  }

  whole(): Val {
    const v = this.sum();
    this.ws();
    if (this.i !== this.s.length) this.fail('unread text');
    return v;
  }

  private sum(): Val {
    let v = this.prod();
    for (;;) {
      const w = this.peekWord();
      if (w === '+') { this.take('+'); const r = this.prod(); v = elementwise([v, r], (x, y) => x + y); }
      else if (w === '-') { this.take('-'); const r = this.prod(); v = elementwise([v, r], (x, y) => x - y); }
      else return v;
    }
  }

  private prod(): Val {
    let v = this.unary();
    for (;;) {
      const w = this.peekWord();
      if (w === '*') { this.take('*'); const r = this.unary(); v = elementwise([v, r], (x, y) => x * y); }
      else if (w === '/') { this.take('/'); const r = this.unary(); v = elementwise([v, r], (x, y) => x / y); }
      else return v;
    }
  }

  private unary(): Val {
    const w = this.peekWord();
    if (w === '-') { this.take('-'); return elementwise([this.unary()], (x) => -x); }
    if (w === 'sumB') { this.take('sumB'); return sumBatch(this.mat()); }
    if (w === 'sumF') { this.take('sumF'); return sumFeatures(this.mat()); }
    return this.mat();
  }

  private startsAtom(): boolean {
    this.ws();
    if (this.i >= this.s.length) return false;
    const l = this.lexeme();
    if (l?.value) return true;
    if (l?.word) return l.word.startsWith('fn:') || ['softmax', 'rootbrace', 'frac', 'mean', 'cases', 'lcases', 'diag'].includes(l.word);
    return /[0-9(\[]/.test(this.s[this.i]!) || BLOCK[this.sp].test(this.s.slice(this.i));
  }

  private mat(): Val {
    let v = this.post();
    for (;;) {
      if (this.peekWord() === 'dot') { this.take('dot'); v = product(v, this.post()); continue; }
      if (this.startsAtom()) { v = product(v, this.post()); continue; }
      return v;
    }
  }

  private post(): Val {
    let v = this.atom();
    for (;;) {
      if (this.s[this.i] === '[') { v = this.bracketAfter(v); continue; }
      const save = this.i;
      this.ws();
      const l = this.lexeme();
      if (l?.word === 'T') { this.i += l.text.length; v = transpose(v); continue; }
      if (l?.word === 'sq' || l?.word === 'cube') { this.i += l.text.length; const p = l.word === 'sq' ? 2 : 3; v = elementwise([v], (x) => x ** p); continue; }
      if (this.s[this.i] === '^' && this.i === save) {
        this.i++;
        // x^2, x^{-1}, and a tensor exponent x^{c r}: any expression in braces
        let p: Val;
        if (this.s[this.i] === '{') { this.i++; p = this.sum(); this.take('}'); }
        else {
          const m = /^[0-9.]+/.exec(this.s.slice(this.i));
          if (!m) this.fail('expected an exponent');
          this.i += m[0].length;
          p = { batched: false, dims: [], data: Float64Array.of(Number(m[0])) };
        }
        v = elementwise([v, p], (x, y) => (y === 2 ? x * x : x ** y));
        continue;
      }
      this.i = save;
      return v;
    }
  }

  /** `v[a : b]` (a slice) or `W[u, v]` (W times the concatenation), written right after their operand. */
  private bracketAfter(v: Val): Val {
    let depth = 0, colon = -1, end = -1;
    for (let j = this.i; j < this.s.length; j++) {
      const c = this.s[j];
      if (c === '[' || c === '(' || c === '{') depth++;
      else if (c === ']' || c === ')' || c === '}') { if (--depth === 0) { end = j; break; } }
      else if (c === ':' && depth === 1) colon = j;
    }
    if (end < 0) this.fail('unclosed [');
    if (colon < 0) return product(v, this.atom());
    const from = this.dim(this.s.slice(this.i + 1, colon)), to = this.dim(this.s.slice(colon + 1, end));
    this.i = end + 1;
    return slice(v, from, to);
  }

  /** `cases(a if m, b otherwise)` or `\\begin{cases} a & m \\\\ b & \\text{otherwise} \\end{cases}`: the first arm whose condition holds. */
  private cases(latex: boolean): Val {
    if (!latex) this.take('(');
    const arms: { value: Val; cond: Val | null }[] = [];
    for (;;) {
      const value = this.sum();
      if (latex) this.take('amp');
      if (this.peekWord() === 'otherwise') { this.take('otherwise'); arms.push({ value, cond: null }); break; }
      if (!latex) this.take('if');
      arms.push({ value, cond: this.condition() });
      this.take(latex ? 'row' : ',');
    }
    this.take(latex ? 'rcases' : ')');
    return arms.reduceRight<Val>((rest, arm) => (arm.cond === null ? arm.value : elementwise([arm.cond, arm.value, rest], (m, a, b) => (m > 0 ? a : b))), arms.at(-1)!.value);
  }

  /** `a ≥ b`, `a > b` (1 where it holds, 0 elsewhere). */
  private condition(): Val {
    const a = this.sum();
    const w = this.peekWord();
    if (w !== 'ge' && w !== 'gt') this.fail('expected a comparison');
    this.take(w);
    const b = this.sum();
    return elementwise([a, b], w === 'ge' ? (x, y) => (x >= y ? 1 : 0) : (x, y) => (x > y ? 1 : 0));
  }

  /** A dimension as printed: `n_a + 2n_x - 1`. */
  private dim(text: string): number {
    const parts = text.trim().split(/\s+/);
    let total = 0, sign = 1;
    for (const p of parts) {
      if (p === '+') { sign = 1; continue; }
      if (p === '-') { sign = -1; continue; }
      const m = /^(-?)([0-9]*)(.*)$/.exec(p)!;
      const s = m[1] ? -sign : sign;
      if (m[3] === '') total += s * Number(m[2]);
      else {
        const n = this.dims.get(m[3]!);
        if (n === undefined) this.fail(`unknown dimension ${m[3]}`);
        total += s * (m[2] ? Number(m[2]) : 1) * n;
      }
      sign = 1;
    }
    return total;
  }

  private atom(): Val {
    this.ws();
    const c = this.s[this.i];
    if (c === '(') { this.i++; const v = this.sum(); this.take(')'); return v; }
    if (c === '[') {
      this.i++;
      const xs = [this.sum()];
      while (this.peekWord() === ',') { this.take(','); xs.push(this.sum()); }
      this.take(']');
      return concat(xs);
    }
    const block = BLOCK[this.sp].exec(this.s.slice(this.i));
    if (block) {
      // 𝟎_{n} / 𝟏_{n}: a vector of zeros or ones of the size in braces (a slice's gradient is stacked with zeros, G 𝟏_{n} sums rows)
      let depth = 1, j = this.i + block[0].length;
      for (; j < this.s.length && depth > 0; j++) depth += this.s[j] === '{' ? 1 : this.s[j] === '}' ? -1 : 0;
      if (depth > 0) this.fail('unclosed {');
      const n = this.dim(this.s.slice(this.i + block[0].length, j - 1));
      this.i = j;
      return { batched: false, dims: [n], data: new Float64Array(n).fill(block[1] === '0' || block[1] === '𝟎' ? 0 : 1) };
    }
    const num = /^[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?/.exec(this.s.slice(this.i));
    if (num) { this.i += num[0].length; return { batched: false, dims: [], data: Float64Array.of(Number(num[0])) }; }
    const l = this.lexeme();
    if (!l) this.fail('expected a value');
    this.i += l.text.length;
    if (l.value) return l.value;
    const w = l.word!;
    if (w === 'frac') { this.take('{'); const a = this.sum(); this.take('}'); this.take('{'); const b = this.sum(); this.take('}'); return elementwise([a, b], (x, y) => x / y); }
    if (w === 'rootbrace') { this.take('{'); const a = this.sum(); this.take('}'); return elementwise([a], Math.sqrt); }
    if (w === 'cases' || w === 'lcases') return this.cases(w === 'lcases');
    if (w === 'diag') { this.take('('); const v = this.sum(); this.take(')'); return diag(v); }
    this.take('(');
    const args = [this.sum()];
    while (this.peekWord() === ',') { this.take(','); args.push(this.sum()); }
    this.take(')');
    if (w === 'softmax') return softmax(args[0]!);
    if (w === 'mean') return elementwise([sumFeatures(args[0]!)], (x) => x / feat(args[0]!));
    const f = FUNCTIONS[w.slice(3)];
    if (!f || f.length !== args.length && w !== 'fn:max' && w !== 'fn:min') this.fail(`${w} of ${args.length}`);
    return elementwise(args, f!);
  }
}

// ---------------------------------------------------------------- the check

const asVal = (t: Tensor): Val => ({ batched: t.batched, dims: t.dims, data: t.data });

/**
 * Parse printed backward equations and evaluate them at random leaves; return
 * one line per gradient that differs from the backward graph (empty: the text
 * means the graph). Every gradient must be printed exactly once.
 */
function gradTextProblems(cell: CompiledCell, text: string, sp: Spelling, opts: { wrt?: string; seed?: number } = {}): string[] {
  const fwd = cell.forward, bwd = cell.backward;
  const env = dimEnv(cell, {}, 3);
  const unrolled = cell.typed.mode === 'unrolled';
  const rng = new Rng(opts.seed ?? 1);
  const leaves = randomLeaves(bwd, env, BATCH, rng);
  for (const [k, v] of randomLeaves(fwd, env, BATCH, rng)) if (!leaves.has(k)) leaves.set(k, v);
  const leafOf = (n: Graph["nodes"][number]) => leaves.get(leafKey(n.op, n.attrs.name!, n.attrs.step));
  const fv = interpret(fwd, leafOf, env, BATCH);
  const bv = interpret(bwd, leafOf, env, BATCH);

  const names: Lexicon = new Map();
  for (const g of [fwd, bwd]) for (const n of g.nodes) {
    const t = ['param', 'input', 'prev', 'cot'].includes(n.op) ? leafText(n, sp, unrolled) : undefined;
    if (t !== undefined) names.set(t, asVal(leaves.get(leafKey(n.op, n.attrs.name!, n.attrs.step))!));
  }
  for (const r of fwd.roots) names.set(timed(r.name, r.step !== undefined ? String(r.step) : 't', sp), asVal(fv[r.id]!));
  for (const [id, name] of Object.entries(fwd.labels)) names.set(spell(name, sp), asVal(fv[Number(id)]!));
  const dims = new Map([...env].map(([k, v]) => [sp === 'latex' ? spell(k, 'latex') : k, v]));
  // A dimension used as a number (`1/sqrt(d)`, mean's `/ n_h`) prints as its name.
  for (const [k, v] of dims) if (!names.has(k)) names.set(k, { batched: false, dims: [], data: Float64Array.of(v) });

  const d = sp === 'ascii' ? 'd' : sp === 'unicode' ? '∂' : '\\partial ';
  const expected = new Map<string, { id: number; seen: boolean }>();
  for (const r of bwd.roots) {
    if (opts.wrt !== undefined && r.name !== opts.wrt) continue;
    const time = r.step !== undefined ? String(r.step) : r.of === 'prev' ? (unrolled ? '0' : 't-1') : 't';
    expected.set(`${d}${r.of === 'param' || r.of === 'cot' ? spell(r.name, sp) : timed(r.name, time, sp)}`, { id: r.id, seen: false });
  }
  const problems: string[] = [];
  for (const line of text.trim().split('\n')) {
    const eq = line.indexOf(' = ');
    const lhs = line.slice(0, eq), rhs = line.slice(eq + 3);
    let value: Val;
    try {
      value = new Reader(rhs, sp, names, dims).whole();
    } catch (e) {
      problems.push(`${lhs}: cannot read: ${(e as Error).message}`);
      continue;
    }
    const target = expected.get(lhs);
    if (!target) { names.set(lhs, value); continue; } // a temporary δ
    if (target.seen) problems.push(`${lhs} printed twice`);
    target.seen = true;
    const want = bv[target.id]!;
    const got = value.dims.length === 0 && want.dims.length > 0 ? elementwise([value, { ...want, data: new Float64Array(want.data.length) }], (x) => x) : value;
    if (got.data.length !== want.data.length || got.batched !== want.batched) { problems.push(`${lhs}: shape [${got.dims}]${got.batched ? ' per example' : ''} vs [${want.dims}]${want.batched ? ' per example' : ''}`); continue; }
    let worst = 0, scale = 0;
    want.data.forEach((w, i) => {
      const x = got.data[i]!;
      if (Number.isNaN(w) && Number.isNaN(x)) return;
      worst = Math.max(worst, Number.isNaN(x - w) ? Infinity : Math.abs(x - w));
      scale = Math.max(scale, Math.abs(w));
    });
    if (!(worst <= 1e-9 * Math.max(scale, 1))) problems.push(`${lhs}: differs by ${worst} (scale ${scale})`);
  }
  for (const [lhs, t] of expected) if (!t.seen) problems.push(`${lhs} not printed`);
  return problems;
}

const check = (cell: CompiledCell, sp: Spelling, o: { compact?: boolean; wrt?: string } = {}) => {
  const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: sp, ...o });
  return { text, problems: gradTextProblems(cell, text, sp, o) };
};

// ---------------------------------------------------------------- tests

describe('printed derivatives read back to the backward graph', () => {
  const spec = randomCellSpec({ maxDepth: 3, extended: true, cellForms: true, maxSize: 3, maxInters: 3, maxOutputs: 2 });

  it('random cells, in every spelling, expanded and --compact', () => {
    // What the cells held, so that a form the generator writes but the compiler refuses is not silently left out.
    let compiled = 0, refused = 0;
    const ops = new Map<string, number>();
    fc.assert(fc.property(spec, fc.constantFrom(...SPELLINGS), fc.boolean(), (s, sp, compact) => {
      const { text: source } = randomCellSource(s);
      const r = compile(source);
      if (r.diagnostics.some((d) => d.severity === 'error')) { refused++; return; } // the generator's typing is checked elsewhere
      compiled++;
      const cell = r.cells[0]!;
      for (const n of [...cell.forward.nodes, ...cell.backward.nodes]) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
      const { text, problems } = check(cell, sp, { compact });
      expect(problems, `${source}\n${text}`).toEqual([]);
    }), { seed: 20261207, numRuns: 400 });
    expect(refused, `${refused} of ${compiled + refused} random cells did not compile`).toBeLessThan((compiled + refused) / 20);
    for (const op of ['select', 'ge', 'gt', 'power', 'sum_feat', 'outer_each', 'matvec_each', 'vecmat_each', 'softmax', 'outer']) {
      expect(ops.get(op) ?? 0, `random cells with ${op}`).toBeGreaterThan(0);
    }
  });

  it('random cells where a named value made of two applications is a factor (the shape of the issue-13 bug)', () => {
    const fn = fc.constantFrom('tanh', 'σ', 'relu', 'softplus', 'exp', 'softmax', 'max', 'sg', '|');
    const app = (f: string, arg: string) => (f === '|' ? `|${arg}|` : f === 'max' ? `max(${arg}, 0.5)` : `${f}(${arg})`);
    const cellArb = fc.record({
      f: fn, g: fn, op: fc.constantFrom('+', '-', '*', '/'), tail: fc.constantFrom('', ' + b'),
      use: fc.constantFrom('h^<t-1> * s', 's * h^<t-1>', 's^2', 'h^<t-1> / (2 + s * s)', 'tanh(W_3 h^<t-1>) * s - s', '(1 - s) * h^<t-1>'),
      sp: fc.constantFrom(...SPELLINGS),
    });
    fc.assert(fc.property(cellArb, ({ f, g, op, tail, use, sp }) => {
      const rhs = `${app(f, 'W_1[h^<t-1>, x^<t>]')} ${op} ${app(g, 'W_2 x^<t>')}${tail}`;
      const source = `cell S {\n  input x : n_x\n  state h : n_h\n  s = ${rhs}\n  h^<t> = ${use}\n}\n`;
      const cell = compileOk(source)[0]!;
      const { text, problems } = check(cell, sp);
      expect(problems, `${source}\n${text}`).toEqual([]);
    }), { seed: 13, numRuns: 120 });
  });

  it('random cells, one gradient at a time (--wrt)', () => {
    fc.assert(fc.property(spec, fc.nat(), (s, k) => {
      const { text: source } = randomCellSource(s);
      const r = compile(source);
      if (r.diagnostics.some((d) => d.severity === 'error')) return;
      const cell = r.cells[0]!;
      const root = cell.backward.roots[k % cell.backward.roots.length]!;
      const { text, problems } = check(cell, 'unicode', { wrt: root.name });
      expect(problems, `${source}\n${text}`).toEqual([]);
    }), { seed: 7, numRuns: 40 });
  });

  for (const file of exampleFiles()) {
    it(`examples/cells/${file}`, () => {
      for (const sp of SPELLINGS) for (const compact of [false, true]) {
        const { text, problems } = check(example(file), sp, { compact });
        expect(problems, text).toEqual([]);
      }
    });
  }

  for (const file of zooFiles()) {
    it(`examples/zoo/${file}`, () => {
      const cell = compileOk(zooSource(file))[0]!;
      for (const sp of SPELLINGS) {
        const { text, problems } = check(cell, sp);
        expect(problems, text).toEqual([]);
      }
    });
  }
});

describe('the check catches a wrong printing', () => {
  const cell = compileOk('cell P {\n  input x : n\n  state h : n\n  s = relu(W x^<t>) + σ(U x^<t>)\n  h^<t> = s * h^<t-1>\n}')[0]!;

  it('the parentheses the old printer dropped (issue 13: ∂h * relu(v) + σ(v))', () => {
    for (const sp of SPELLINGS) {
      const { text, problems } = check(cell, sp);
      expect(problems, text).toEqual([]);
      const last = text.trim().split('\n').at(-1)!;
      // What the printer printed before the fix: the expansion of s left bare.
      const bug = last.replace(/\* \((.*)\)$/, '* $1');
      expect(bug).not.toBe(last);
      expect(gradTextProblems(cell, text.replace(last, bug), sp).join('\n')).toMatch(/differs/);
    }
  });

  it('a gradient printed with its factors regrouped, or missing', () => {
    const { text } = check(cell, 'ascii');
    const lines = text.trim().split('\n');
    const regrouped = lines.map((l) => l.replace(/^(dW = )sum_batch (.*) @ (.*)$/, '$1sum_batch ($2 @ $3)^T^T')).join('\n');
    expect(regrouped).not.toBe(text.trim());
    expect(gradTextProblems(cell, regrouped, 'ascii')).toEqual([]); // the same value, another grouping: fine
    expect(gradTextProblems(cell, lines.filter((l) => !l.startsWith('dW ')).join('\n'), 'ascii')).toEqual(['dW not printed']);
    expect(gradTextProblems(cell, text.replace('dh^<t> *', 'dh^<t> /'), 'ascii').join('\n')).toMatch(/differs/);
  });
});
