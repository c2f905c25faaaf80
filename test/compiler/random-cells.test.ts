// Random cells. fast-check builds random expression trees (fc.letrec), which
// are typed against random dimensions and written out as celda SOURCE TEXT in a
// random spelling (ASCII, Unicode or LaTeX as pasted from notes) and a random
// equation order — so the parser and the checker are exercised too. Each cell
// is compiled; its graphs must verify and simplify idempotently; its BPTT
// gradients must match central differences and the inner-product identity, and
// equal grad() of its static unroll.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { build } from '../../compiler/passes/build.ts';
import type { CompiledCell } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import { render } from '../../compiler/diagnostics.ts';
import { grad } from '../../compiler/passes/grad.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import { verify } from '../../compiler/ir/graph.ts';
import { simplify } from '../../compiler/passes/simplify.ts';
import type { Spelling } from '../../grammar/names.ts';
import { spell } from '../../grammar/names.ts';
import { Rng } from '../../runtime/random.ts';
import { backward, forward } from '../../runtime/unroll.ts';
import {
  cellGradients, checkGraphGrad, checkSlots, describeMismatches, dimEnv, directionalDiff, dot, evalRoots, randomCotangents,
  randomLeaves, randomRun, randomTensor, scaledError, staticUnroll, unrolledLeaves,
} from '../support/numeric.ts';

// ---------------------------------------------------------------- shape-free trees (fast-check)

/** What fast-check generates: the structure of an expression, before it is typed. */
type Tree =
  | { k: 'leaf'; pick: number }
  | { k: 'lin'; form: number; share: boolean; args: { dim: number; e: Tree }[] } // W v, W(v), W @ v, W[u, v, …]
  | { k: 'bin'; op: '+' | '-' | '*'; l: Tree; r: Tree }
  | { k: 'with'; op: number; param: 'bias' | 'scalar' | 'const'; e: Tree } // b + e, p ⊙ e, a e, 1 - e, 2 * e …
  | { k: 'div'; den: 'two' | 'onePlusExp' | 'twoPlusSquare'; num: Tree; arg: Tree }
  | { k: 'fn'; fn: 'tanh' | 'sigmoid' | 'softmax' | 'softplus' | 'exp' | 'log' | 'sqrt'; e: Tree }
  | { k: 'pow'; p: 2 | 3; e: Tree }
  | { k: 'neg'; e: Tree }
  | { k: 'mm'; form: 'matmul' | 'transpose'; mid: number; e: Tree }; // (A · B) v, Aᵀ v with declared A, B

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'tree', depthSize: 'small' },
    fc.record({ k: fc.constant('leaf' as const), pick: fc.nat(11) }),
    fc.record({ k: fc.constant('lin' as const), form: fc.nat(5), share: fc.boolean(), args: fc.array(fc.record({ dim: fc.nat(5), e: tie('tree') }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ k: fc.constant('bin' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const), l: tie('tree'), r: tie('tree') }),
    fc.record({ k: fc.constant('with' as const), op: fc.nat(5), param: fc.constantFrom('bias' as const, 'scalar' as const, 'const' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('div' as const), den: fc.constantFrom('two' as const, 'onePlusExp' as const, 'twoPlusSquare' as const), num: tie('tree'), arg: tie('tree') }),
    fc.record({ k: fc.constant('fn' as const), fn: fc.constantFrom('tanh' as const, 'sigmoid' as const, 'softmax' as const, 'softplus' as const, 'exp' as const, 'log' as const, 'sqrt' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('pow' as const), p: fc.constantFrom(2 as const, 3 as const), e: tie('tree') }),
    fc.record({ k: fc.constant('neg' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('mm' as const), form: fc.constantFrom('matmul' as const, 'transpose' as const), mid: fc.nat(5), e: tie('tree') }),
  ),
}));

interface CellSpec {
  readonly inputs: number; // 1–2
  readonly states: readonly { dim: number; e: Tree }[]; // 1–3
  readonly inters: readonly { dim: number; e: Tree }[]; // 0–2 intermediates
  readonly outputs: readonly { dim: number; e: Tree; declare: boolean }[]; // 0–2
  readonly sizes: readonly number[]; // one per dimension of the pool, 1–4
  readonly spelling: Spelling;
  /** Seeds the order equations are generated and printed in, and the spelling variants. */
  readonly seed: number;
}

const cellSpec: fc.Arbitrary<CellSpec> = fc.record({
  inputs: fc.integer({ min: 1, max: 2 }),
  states: fc.array(fc.record({ dim: fc.nat(5), e: tree }), { minLength: 1, maxLength: 3 }),
  inters: fc.array(fc.record({ dim: fc.nat(5), e: tree }), { maxLength: 2 }),
  outputs: fc.array(fc.record({ dim: fc.nat(5), e: tree, declare: fc.boolean() }), { maxLength: 2 }),
  sizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 6, maxLength: 6 }),
  spelling: fc.constantFrom('ascii' as const, 'unicode' as const, 'latex' as const),
  seed: fc.nat(),
});

// ---------------------------------------------------------------- typed expressions

const POOL = ['n_x', 'n_u', 'n_h', 'n_c', 'n_y', 'n_z'];
const INPUTS = [{ name: 'x', dim: 'n_x' }, { name: 'u', dim: 'n_u' }];
const STATE_NAMES = ['h', 'c', 'a'];
const STATE_DIMS = ['n_h', 'n_c', 'n_h'];
const INTER_NAMES = ['Gamma_u', 'g_tilde', 'Gamma_f'];
const OUTPUT_NAMES = ['y_hat', 'o'];

/** A typed expression, ready to print. */
type E =
  | { k: 'ref'; name: string; time: 't' | 't-1' | null }
  | { k: 'param'; name: string }
  | { k: 'num'; v: string }
  | { k: 'lin'; w: E; args: E[]; form: 'juxt' | 'apply' | 'at' | 'concat' }
  | { k: 'bin'; op: '+' | '-' | '*' | '/'; l: E; r: E }
  | { k: 'call'; fn: string; arg: E }
  | { k: 'pow'; p: number; base: E }
  | { k: 'neg'; arg: E }
  | { k: 'matmul'; a: E; b: E }
  | { k: 'transpose'; arg: E };

interface Value { readonly e: E; readonly dim: string }

class Realizer {
  private count = 0;
  /** Declared parameters: name → shape (dimension names). */
  readonly declared: [string, string[]][] = [];
  constructor(private readonly avail: Value[]) {}

  /** Parameters by role and shape, so a later use may share one (its gradient then sums both uses). */
  private readonly bySignature = new Map<string, string>();

  param(prefix: string, shape?: string[], share?: { signature: string; reuse: boolean }): E {
    const key = share && `${prefix}:${share.signature}`;
    const old = key && share.reuse ? this.bySignature.get(key) : undefined;
    if (old) return { k: 'param', name: old };
    const name = `${prefix}_${++this.count}`;
    if (shape) this.declared.push([name, shape]);
    if (key && !this.bySignature.has(key)) this.bySignature.set(key, name);
    return { k: 'param', name };
  }

  /** Bounded values (|v| ≤ 1) may be exponentiated or cubed without overflow. */
  private bounded(e: E): E {
    return e.k === 'call' && (e.fn === 'tanh' || e.fn === 'sigmoid' || e.fn === 'softmax') ? e : { k: 'call', fn: 'tanh', arg: e };
  }

  /** A vector of dimension `dim` per example, shaped by the tree. */
  vec(t: Tree, dim: string): E {
    switch (t.k) {
      case 'leaf': {
        const fit = this.avail.filter((v) => v.dim === dim);
        if (fit.length > 0) return fit[t.pick % fit.length]!.e;
        const any = this.avail[t.pick % this.avail.length]!;
        return { k: 'lin', w: this.param('W', undefined, { signature: `${dim}<-${any.dim}`, reuse: t.pick % 2 === 0 }), args: [any.e], form: 'juxt' };
      }
      case 'lin': {
        const dims = t.args.map((a) => POOL[a.dim % POOL.length]!);
        const args = t.args.map((a, i) => this.vec(a.e, dims[i]!));
        // The same matrix may serve two products whose operands have the same dimensions (in any order).
        const w = this.param('W', undefined, { signature: `${dim}<-${[...dims].sort().join('+')}`, reuse: t.share });
        const forms = ['juxt', 'apply', 'at'] as const;
        const form = args.length > 1 || t.form >= 3 ? 'concat' : forms[t.form % 3]!;
        return { k: 'lin', w, args, form };
      }
      case 'bin': return { k: 'bin', op: t.op, l: this.vec(t.l, dim), r: this.vec(t.r, dim) };
      case 'with': {
        const e = this.vec(t.e, dim);
        if (t.param === 'const') {
          const c: E = { k: 'num', v: ['1', '2', '0.5'][t.op % 3]! };
          return t.op % 2 === 0 ? { k: 'bin', op: '-', l: c, r: e } : { k: 'bin', op: t.op % 3 === 1 ? '*' : '+', l: e, r: c };
        }
        const p = t.param === 'bias' ? this.param(['b', 'p'][t.op % 2]!, undefined, { signature: dim, reuse: t.op >= 3 }) : this.param('a', ['1'], { signature: '', reuse: t.op >= 4 });
        const op = (['+', '*', '-'] as const)[t.op % 3]!;
        return t.op % 2 === 0 ? { k: 'bin', op, l: p, r: e } : { k: 'bin', op, l: e, r: p };
      }
      case 'div': {
        const num = this.vec(t.num, dim);
        if (t.den === 'two') return { k: 'bin', op: '/', l: num, r: { k: 'num', v: '2' } };
        const arg = this.vec(t.arg, dim);
        const den: E = t.den === 'onePlusExp'
          ? { k: 'bin', op: '+', l: { k: 'num', v: '1' }, r: { k: 'call', fn: 'exp', arg: this.bounded(arg) } }
          : { k: 'bin', op: '+', l: { k: 'num', v: '2' }, r: { k: 'pow', p: 2, base: arg } };
        return { k: 'bin', op: '/', l: num, r: den };
      }
      case 'fn': {
        const e = this.vec(t.e, dim);
        switch (t.fn) {
          case 'exp': return { k: 'call', fn: 'exp', arg: this.bounded(e) };
          case 'log': return { k: 'call', fn: 'log', arg: { k: 'bin', op: '+', l: { k: 'num', v: '2' }, r: this.bounded(e) } };
          case 'sqrt': return { k: 'call', fn: 'sqrt', arg: { k: 'bin', op: '+', l: { k: 'num', v: '1' }, r: { k: 'pow', p: 2, base: e } } };
          default: return { k: 'call', fn: t.fn, arg: e };
        }
      }
      case 'pow': {
        const e = this.vec(t.e, dim);
        return { k: 'pow', p: t.p, base: t.p === 3 ? this.bounded(e) : e };
      }
      case 'neg': return { k: 'neg', arg: this.vec(t.e, dim) };
      case 'mm': {
        const argDim = POOL[t.mid % POOL.length]!;
        const v = this.vec(t.e, argDim);
        if (t.form === 'transpose') return { k: 'lin', w: { k: 'transpose', arg: this.param('A', [argDim, dim]) }, args: [v], form: 'juxt' };
        const mid = POOL[(t.mid + 1) % POOL.length]!;
        return { k: 'lin', w: { k: 'matmul', a: this.param('A', [dim, mid]), b: this.param('B', [mid, argDim]) }, args: [v], form: 'juxt' };
      }
    }
  }
}

// ---------------------------------------------------------------- printing, in three spellings

const ADD = 1, MUL = 2, UNARY = 3, MAT = 4, JUXT = 5, ATOM = 7;

class Printer {
  /** When set, the cell is being written out unrolled: `<t>` is this step, `<t-1>` the one before, intermediates are per step. */
  step: number | undefined;
  constructor(private readonly sp: Spelling, private readonly rng: Rng) {}
  private pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.rng.next() * xs.length)]!; }

  name(n: string): string { return spell(n, this.sp); }
  time(rel: 't' | 't-1' | null): string {
    if (this.step !== undefined) {
      const k = String(rel === 't-1' ? this.step - 1 : this.step);
      return this.sp === 'ascii' ? `^<${k}>` : this.sp === 'unicode' ? `^⟨${k}⟩` : this.pick([`^{<${k}>}`, `^{\\langle ${k} \\rangle}`]);
    }
    if (rel === null) return '';
    const t = rel;
    if (this.sp === 'ascii') return `^<${t}>`;
    if (this.sp === 'unicode') return `^⟨${t === 't' ? 't' : this.pick(['t−1', 't-1'])}⟩`;
    return this.pick([`^{<${t}>}`, `^{< ${t}>}`, `^{\\langle ${t} \\rangle}`]);
  }
  fn(f: string): string {
    const table: Record<string, Record<Spelling, string[]>> = {
      tanh: { ascii: ['tanh'], unicode: ['tanh'], latex: ['\\tanh'] },
      sigmoid: { ascii: ['sigmoid', 'sigma'], unicode: ['σ', 'sigmoid'], latex: ['\\sigma', '\\operatorname{sigmoid}'] },
      softmax: { ascii: ['softmax'], unicode: ['softmax'], latex: ['\\operatorname{softmax}', 'softmax'] },
      softplus: { ascii: ['softplus'], unicode: ['softplus'], latex: ['\\operatorname{softplus}'] },
      exp: { ascii: ['exp'], unicode: ['exp'], latex: ['\\exp'] },
      log: { ascii: ['log', 'ln'], unicode: ['log'], latex: ['\\log', '\\ln'] },
      sqrt: { ascii: ['sqrt'], unicode: ['sqrt'], latex: ['\\sqrt'] },
    };
    return this.pick(table[f]![this.sp]);
  }
  paren(s: string): string { return this.sp === 'latex' && this.rng.next() < 0.5 ? `\\left( ${s} \\right)` : `(${s})`; }

  /** The text of e, parenthesized when its level is below `need`. */
  at(e: E, need: number): string {
    const [s, level] = this.print(e);
    return level < need ? this.paren(s) : s;
  }

  print(e: E): [string, number] {
    const sp = this.sp;
    switch (e.k) {
      case 'ref': return [this.name(e.name) + this.time(e.time), ATOM];
      case 'param': return [this.name(e.name), ATOM];
      case 'num': return [e.v, ATOM];
      case 'bin': {
        if (e.op === '+' || e.op === '-') {
          const minus = sp === 'unicode' ? this.pick(['-', '−']) : '-';
          return [`${this.at(e.l, ADD)} ${e.op === '-' ? minus : '+'} ${this.at(e.r, MUL)}`, ADD];
        }
        if (e.op === '/' && sp === 'latex' && this.rng.next() < 0.6) return [`\\frac{${this.at(e.l, ADD)}}{${this.at(e.r, ADD)}}`, ATOM];
        const times = sp === 'ascii' ? '*' : sp === 'unicode' ? this.pick(['*', '⊙']) : this.pick(['*', '\\odot']);
        return [`${this.at(e.l, MUL)} ${e.op === '*' ? times : '/'} ${this.at(e.r, UNARY)}`, MUL];
      }
      case 'neg': return [`${sp === 'unicode' ? this.pick(['-', '−']) : '-'}${this.at(e.arg, UNARY)}`, UNARY];
      case 'call': {
        const f = this.fn(e.fn);
        if (f === '\\sqrt') return [`\\sqrt{${this.at(e.arg, ADD)}}`, ATOM];
        return [`${f}${this.paren(this.at(e.arg, ADD))}`, ATOM];
      }
      case 'pow': {
        const sup = sp === 'ascii' ? `^${e.p}` : sp === 'unicode' ? this.pick([`^${e.p}`, e.p === 2 ? '²' : '³']) : `^{${e.p}}`;
        return [`${this.at(e.base, ATOM)}${sup}`, ATOM - 1];
      }
      case 'transpose': {
        const t = sp === 'ascii' ? '^T' : sp === 'unicode' ? this.pick(['ᵀ', '^T']) : this.pick(['^{\\top}', '^T', '^{T}']);
        return [`${this.at(e.arg, ATOM)}${t}`, ATOM - 1];
      }
      case 'matmul': {
        const dot = sp === 'ascii' ? this.pick(['@', '·']) : sp === 'unicode' ? '·' : '\\cdot';
        return [`${this.at(e.a, MAT)} ${dot} ${this.at(e.b, JUXT)}`, MAT];
      }
      case 'lin': {
        const w = e.w;
        const gap = sp === 'latex' && w.k === 'param' && this.rng.next() < 0.5 ? '' : ' ';
        switch (e.form) {
          case 'concat': {
            const items = e.args.map((a) => this.at(a, ADD)).join(', ');
            return [`${this.at(w, JUXT)}${sp === 'latex' && this.rng.next() < 0.3 ? `\\left[${items}\\right]` : `[${items}]`}`, JUXT];
          }
          case 'apply':
          case 'juxt':
            // Only a parameter can be applied like a function: `W_1(v)`.
            if (e.form === 'apply' && w.k === 'param') return [`${this.name(w.name)}(${this.at(e.args[0]!, ADD)})`, ATOM - 1];
            return [`${this.at(w, JUXT)}${gap}${this.at(e.args[0]!, ATOM - 1)}`, JUXT];
          case 'at': return [`${this.at(w, MAT)} ${sp === 'latex' ? '\\cdot' : this.pick(['@', '·'])} ${this.at(e.args[0]!, JUXT)}`, MAT];
        }
      }
    }
  }
}

/**
 * A random cell as celda source, plus the sizes to bind its dimensions to. With
 * `unrolled`, the same equations are written out at concrete steps 1 … T (the
 * notes' five-cell style), intermediates becoming per-step values.
 */
function cellSource(spec: CellSpec, unrolled?: number): { source: string; sizes: Record<string, number> } {
  const rng = new Rng(spec.seed);
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) { const j = Math.floor(rng.next() * (i + 1)); [xs[i], xs[j]] = [xs[j]!, xs[i]!]; }
    return xs;
  };
  const inputs = INPUTS.slice(0, spec.inputs);
  const states = spec.states.map((s, i) => ({ name: STATE_NAMES[i]!, dim: STATE_DIMS[(i + s.dim) % STATE_DIMS.length]!, e: s.e }));
  type Job = { role: 'state' | 'inter' | 'output'; name: string; dim: string; e: Tree; declare?: boolean };
  const jobs: Job[] = shuffle([
    ...states.map((s) => ({ role: 'state' as const, ...s })),
    ...spec.inters.map((x, i) => ({ role: 'inter' as const, name: INTER_NAMES[i]!, dim: POOL[x.dim % POOL.length]!, e: x.e })),
    ...spec.outputs.map((o, i) => ({ role: 'output' as const, name: OUTPUT_NAMES[i]!, dim: POOL[o.dim % POOL.length]!, e: o.e, declare: o.declare })),
  ]);
  // What an equation may read: states at t-1, inputs at t, and what was generated before it.
  const avail: Value[] = [
    ...states.map((s) => ({ e: { k: 'ref', name: s.name, time: 't-1' } as E, dim: s.dim })),
    ...inputs.map((x) => ({ e: { k: 'ref', name: x.name, time: 't' } as E, dim: x.dim })),
  ];
  const realizer = new Realizer(avail);
  const equations: { lhs: E; rhs: E }[] = [];
  for (const j of jobs) {
    const rhs = realizer.vec(j.e, j.dim);
    const lhs: E = { k: 'ref', name: j.name, time: j.role === 'inter' ? null : 't' };
    equations.push({ lhs, rhs });
    avail.push({ e: lhs, dim: j.dim });
  }

  const pr = new Printer(spec.spelling, rng);
  const times = spec.spelling === 'ascii' ? 'x' : spec.spelling === 'unicode' ? '×' : '\\times';
  const dimName = (d: string) => (spec.spelling === 'latex' ? spell(d, 'latex') : d);
  const decls = [
    ...inputs.map((x) => `input ${pr.name(x.name)} : ${dimName(x.dim)}`),
    ...states.map((s) => `state ${pr.name(s.name)} : ${dimName(s.dim)}`),
    ...jobs.filter((j) => j.declare).map((j) => `output ${pr.name(j.name)} : ${dimName(j.dim)}`),
    ...realizer.declared.map(([name, shape]) => `param ${pr.name(name)} : ${shape.map(dimName).join(` ${times} `)}`),
  ];
  const line = (q: { lhs: E; rhs: E }) => `${pr.print(q.lhs)[0]} = ${pr.print(q.rhs)[0]}`;
  const lines = shuffle(unrolled === undefined
    ? equations.map(line)
    : Array.from({ length: unrolled }, (_, k) => equations.map((q) => { pr.step = k + 1; return line(q); })).flat());
  let body: string;
  if (spec.spelling !== 'latex') body = lines.join('\n  ');
  else if (rng.next() < 0.5) body = `$$\\begin{split} ${lines.map((l) => l.replace(' = ', ' &= ')).join(' \\\\\n  ')} \\end{split}$$`;
  else body = lines.map((l) => `$$${l}$$`).join(rng.next() < 0.5 ? ' \\qquad ' : '\n  ');
  const comment = spec.spelling === 'latex' ? '% a random cell' : '# a random cell';
  const source = `${comment}\ncell Random {\n  ${decls.join('\n  ')}\n  ${body}\n}\n`;
  return { source, sizes: Object.fromEntries(POOL.map((d, i) => [d, spec.sizes[i]!])) };
}

// ---------------------------------------------------------------- the properties

/** Compiled random cells by source: every property below runs on the same fixed-seed sample. */
const compiled = new Map<string, ReturnType<typeof compile>>();
const compileCached = (source: string) => compiled.get(source) ?? compiled.set(source, compile(source)).get(source)!;

function compileRandom(spec: CellSpec): { cell: CompiledCell; env: Map<string, number>; source: string } {
  const { source, sizes } = cellSource(spec);
  const r = compileCached(source);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || r.cells.length !== 1) throw new Error(`a well-typed random cell was refused:\n${source}\n${errors.map((d) => render(d, 'random.celda', source)).join('\n')}`);
  const cell = r.cells[0]!;
  return { cell, env: dimEnv(cell, sizes, spec.sizes[0]!), source };
}

const SETTINGS = { seed: 20240611, numRuns: 50 } as const;

function expectSameValues(a: Graph, b: Graph, env: Map<string, number>, seed: number) {
  const leaves = randomLeaves(a, env, 2, new Rng(seed));
  const va = evalRoots(a, leaves, env, 2), vb = evalRoots(b, leaves, env, 2);
  va.forEach((v, k) => v.data.forEach((x, i) => expect(scaledError(x, vb[k]!.data[i]!, 1e-12, 1e-12)).toBeLessThanOrEqual(1)));
}

describe('random cells written as source text', () => {
  it('the generator covers every spelling and every kind of node', () => {
    const samples = fc.sample(cellSpec, { seed: SETTINGS.seed, numRuns: SETTINGS.numRuns });
    const sources = samples.map((s) => cellSource(s).source);
    expect(sources.some((s) => s.includes('\\begin{split}'))).toBe(true);
    expect(sources.some((s) => s.includes('⟨t'))).toBe(true);
    expect(sources.some((s) => s.includes('^<t-1>'))).toBe(true);
    const ops = new Set(samples.flatMap((s) => {
      const { cell } = compileRandom(s);
      return [...cell.forward.nodes, ...cell.backward.nodes].map((n) => n.op);
    }));
    for (const op of ['matvec', 'matmul', 'transpose', 'concat', 'slice', 'outer', 'sum_batch', 'sum_feat', 'add', 'sub', 'mul', 'div', 'neg', 'pow', 'tanh', 'sigmoid', 'softmax', 'softplus', 'exp', 'log', 'sqrt'])
      expect(ops, op).toContain(op);
  });

  it('compile, verify, and simplify idempotently without changing values', () => {
    fc.assert(fc.property(cellSpec, (spec) => {
      const { cell, env } = compileRandom(spec);
      expect(verify(cell.forward)).toEqual([]);
      expect(verify(cell.backward)).toEqual([]);
      expect(simplify(cell.forward)).toBe(cell.forward);
      expect(simplify(cell.backward)).toBe(cell.backward);
      const raw = build(cell.typed);
      expect(verify(raw)).toEqual([]);
      expectSameValues(raw, cell.forward, env, spec.seed);
      const rawGrad = grad(cell.forward);
      expect(verify(rawGrad)).toEqual([]);
      expectSameValues(rawGrad, cell.backward, env, spec.seed + 1);
    }), SETTINGS);
  });

  it('gradients match central differences and the inner-product identity', () => {
    fc.assert(fc.property(cellSpec, (spec) => {
      const { cell, env, source } = compileRandom(spec);
      const run = randomRun(cell, { env, batch: 2, steps: 2, seed: spec.seed });
      const cot = randomCotangents(cell, run, spec.seed + 1);
      const { slots, loss } = cellGradients(cell, run, cot);
      // Entry-wise relative 1e-6, with an absolute floor relative to the largest gradient entry.
      const scale = Math.max(1, ...slots.flatMap((s) => Array.from(s.grad, Math.abs)));
      const r = checkSlots(loss, slots, { rtol: 1e-6, atol: 1e-9 * scale });
      expect(r.mismatches, `${source}\n${describeMismatches(r.mismatches)}`).toEqual([]);

      const rng = new Rng(spec.seed + 2);
      const dirs = slots.map((s) => randomTensor(rng, false, [s.data.length], 1).data);
      const norm = Math.sqrt(dirs.reduce((a, d) => a + dot(d, d), 0));
      dirs.forEach((d) => d.forEach((x, i) => { d[i] = x / norm; }));
      const jv = directionalDiff(loss, slots.map((s) => s.data), dirs);
      const vjt = slots.reduce((acc, s, k) => acc + dot(dirs[k]!, s.grad), 0);
      expect(scaledError(jv, vjt, 1e-6, 1e-9 * scale), `${source}\nJ·v ${jv} vs Jᵀc ${vjt}`).toBeLessThanOrEqual(1);
    }), SETTINGS);
  });

  it('written out at concrete steps, the cell compiles to an unrolled graph with the same values and gradients', () => {
    fc.assert(fc.property(cellSpec, (spec) => {
      const T = 3;
      const { cell, env } = compileRandom(spec);
      const { source, sizes } = cellSource(spec, T);
      const r = compile(source);
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(errors.map((d) => render(d, 'unrolled.celda', source)).join('\n'), source).toBe('');
      const unrolled = r.cells[0]!;
      expect(unrolled.typed.mode).toBe('unrolled');
      expect(unrolled.typed.steps).toBe(T);
      expect(verify(unrolled.forward)).toEqual([]);
      expect(verify(unrolled.backward)).toEqual([]);
      const run = randomRun(cell, { env, batch: 2, steps: T, seed: spec.seed });
      const cot = randomCotangents(cell, run, spec.seed + 1);
      // Dimensions the checker inferred are named after their values; every one gets the same fallback size.
      const run2 = { ...run, env: dimEnv(unrolled, sizes, spec.sizes[0]!) };
      const a = forward(cell, run), b = forward(unrolled, run2);
      const close = (x: { data: Float64Array } | undefined, y: { data: Float64Array } | undefined, what: string) => {
        expect(x && y, `${source}\n${what} missing`).toBeTruthy();
        x!.data.forEach((v, i) => expect(scaledError(v, y!.data[i]!, 1e-12, 1e-12), `${source}\n${what}[${i}]`).toBeLessThanOrEqual(1));
      };
      for (const [name, ts] of Object.entries({ ...a.states, ...a.outputs }))
        ts.forEach((v, t) => close(b.states[name]?.[t] ?? b.outputs[name]?.[t], v, `${name}^<${t + 1}>`));
      // The unrolled cell's extra outputs (the per-step intermediates) get no cotangent.
      const ga = backward(cell, run, a, cot), gb = backward(unrolled, run2, b, cot);
      for (const p of Object.keys(ga.params)) close(gb.params[p], ga.params[p], `∂/∂${p}`);
      for (const [x, ts] of Object.entries(ga.inputs)) ts.forEach((v, t) => close(gb.inputs[x]![t], v, `∂/∂${x}^<${t + 1}>`));
      for (const [h, v] of Object.entries(ga.init)) close(gb.init[h], v, `∂/∂${h}^<0>`);
    }), { ...SETTINGS, numRuns: 20 });
  });

  it('second derivatives: grad() of the backward graph matches central differences of it', () => {
    fc.assert(fc.property(cellSpec, (spec) => {
      const { cell, env, source } = compileRandom(spec);
      const r = checkGraphGrad(cell.backward, { env, batch: 2, seed: spec.seed, wrt: ['param', 'input', 'prev', 'cot'], rtol: 1e-6, atol: 1e-8 });
      expect(verify(r.vjp)).toEqual([]);
      expect(r.mismatches, `${source}\n${describeMismatches(r.mismatches)}`).toEqual([]);
    }), { ...SETTINGS, numRuns: 15 });
  });

  it('BPTT equals grad() of the static unroll', () => {
    fc.assert(fc.property(cellSpec, (spec) => {
      const { cell, env, source } = compileRandom(spec);
      const T = 3;
      const run = randomRun(cell, { env, batch: 2, steps: T, seed: spec.seed });
      const cot = randomCotangents(cell, run, spec.seed + 1);
      const traj = forward(cell, run);
      const grads = backward(cell, run, traj, cot);
      const vjp = grad(staticUnroll(cell.forward, T));
      const values = evalRoots(vjp, unrolledLeaves(vjp, run, traj.init, cot, env), env, run.batch);
      vjp.roots.forEach((r, k) => {
        const want = r.of === 'param' ? grads.params[r.name] : r.of === 'input' ? grads.inputs[r.name]![r.step! - 1] : grads.init[r.name];
        values[k]!.data.forEach((x, i) => expect(scaledError(x, want!.data[i]!, 1e-10, 1e-12), `${source}\n${r.of} ${r.name}@${r.step}[${i}]`).toBeLessThanOrEqual(1));
      });
    }), { ...SETTINGS, numRuns: 30 });
  });
});
