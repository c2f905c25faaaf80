// Linear forms and their grouping into products. Backend-neutral: it looks at a
// step graph and decides which matrix–vector products are computed together.
//
// 1. `linearForms`: every node that is a sum of matrix–vector products
//    Σ_k E_k[rows, cols] · v_k, where E_k is a static matrix or its transpose.
//    A product with a concatenated operand splits by columns:
//      W[a^<t-1>, x^<t>] = W[:, :n_a] a^<t-1> + W[:, n_a:] x^<t>
//    so that the x part can be hoisted out of the recurrence. Sums of products
//    (the backward's Σ_k W_kᵀ δ_k) and slices of them (its [:n_a] and [n_a:])
//    become one form each, with row ranges.
// 2. `colocate`: the vectors of one sum (δ_o, δ_f, δ_u, δ_c) are placed side by
//    side in one buffer, so that the sum is ONE product [W_o; W_f; W_u; W_c]ᵀ δ.
// 3. `groupProducts`: terms of the same phase that read the same operand become
//    one stacked product (the LSTM's four gates: [W_c; W_u; W_f; W_o] a^<t-1>).

import type { Dim } from '../ir/dims.ts';
import { dimAdd, dimNum, dimSum } from '../ir/dims.ts';
import type { Graph } from '../ir/graph.ts';
import type { Phase } from './loop-ir.ts';

/** A static matrix, possibly read transposed (the backward's Wᵀ). */
export interface MatRef {
  readonly node: number;
  readonly trans: boolean;
}

/** E[row : row+rows, col : col+cols] · vec, where E is the (transposed) matrix. */
export interface Term {
  readonly mat: MatRef;
  readonly row: Dim;
  readonly rows: Dim;
  readonly col: Dim;
  readonly cols: Dim;
  readonly vec: number;
}

export interface LinearForms {
  /** The terms of every node that is a sum of matrix–vector products. */
  readonly forms: ReadonlyMap<number, readonly Term[]>;
  /** Nodes folded into a larger sum or slice: never computed on their own. */
  readonly absorbed: ReadonlySet<number>;
}

export function consumers(g: Graph, live: ReadonlySet<number>): number[][] {
  const uses: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) if (live.has(n.id)) for (const x of n.inputs) uses[x]!.push(n.id);
  return uses;
}

/** The pieces of a vector operand: the parts of a concatenation (recursively), each at its column. */
export function operandParts(g: Graph, v: number, at: Dim = dimNum(0)): { node: number; col: Dim; len: Dim }[] {
  const n = g.nodes[v]!;
  if (n.op === 'concat') {
    const out: { node: number; col: Dim; len: Dim }[] = [];
    let col = at;
    for (const x of n.inputs) {
      const len = g.nodes[x]!.shape.dims[0]!;
      // An unbatched part (a parameter vector inside a concatenation) stays a part
      // of its own: it is broadcast over the rows when it is read.
      out.push(...operandParts(g, x, col));
      col = dimAdd(col, len);
    }
    return out;
  }
  if (n.op === 'pad') return operandParts(g, n.inputs[0]!, dimAdd(at, n.attrs.offset!));
  return [{ node: v, col: at, len: n.shape.dims[0]! }];
}

/**
 * `isStatic(id)`: the node depends on parameters only. `keep(id)`: the node must
 * exist as a value of its own (a root, or a value saved for the backward pass).
 */
export function linearForms(g: Graph, live: ReadonlySet<number>, isStatic: (id: number) => boolean, keep: (id: number) => boolean): LinearForms {
  const uses = consumers(g, live);
  const forms = new Map<number, Term[]>();
  const matRef = (m: number): MatRef => {
    const n = g.nodes[m]!;
    return n.op === 'transpose' && isStatic(n.inputs[0]!) ? { node: n.inputs[0]!, trans: true } : { node: m, trans: false };
  };
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    if (n.op === 'matvec') {
      const [m, v] = n.inputs as [number, number];
      const ms = g.nodes[m]!.shape, vs = g.nodes[v]!.shape;
      if (!isStatic(m) || ms.batch || ms.dims.length !== 2 || !vs.batch) continue;
      const parts = operandParts(g, v);
      if (parts.some((p) => !g.nodes[p.node]!.shape.batch)) continue;
      forms.set(n.id, parts.map((p) => ({ mat: matRef(m), row: dimNum(0), rows: ms.dims[0]!, col: p.col, cols: p.len, vec: p.node })));
    } else if (n.op === 'add') {
      const [x, y] = n.inputs as [number, number];
      const fx = forms.get(x), fy = forms.get(y);
      if (fx && fy && x !== y && uses[x]!.length === 1 && uses[y]!.length === 1 && !keep(x) && !keep(y)) forms.set(n.id, [...fx, ...fy]);
    } else if (n.op === 'slice') {
      const x = n.inputs[0]!;
      const fx = forms.get(x);
      if (fx && !keep(x) && uses[x]!.every((c) => g.nodes[c]!.op === 'slice')) {
        const off = n.attrs.offset!, len = n.attrs.len!;
        forms.set(n.id, fx.map((t) => ({ ...t, row: dimAdd(t.row, off), rows: len })));
      }
    }
  }
  const absorbed = new Set<number>();
  for (const [id] of forms) if (!keep(id) && uses[id]!.length > 0 && uses[id]!.every((c) => forms.has(c) && g.nodes[c]!.op !== 'matvec')) absorbed.add(id);
  // A form whose consumers absorbed it is not a value; only the outermost ones are.
  for (const id of absorbed) forms.delete(id);
  return { forms, absorbed };
}

// ---------------------------------------------------------------- co-location

/** The terms of one linear form that are computed in one phase. */
export interface LinPart {
  readonly lin: number;
  readonly phase: Phase;
  readonly terms: readonly Term[];
}

/** Vectors placed side by side in one buffer, in column order. */
export interface Stack {
  readonly id: number;
  readonly vecs: number[];
}

export interface Colocation {
  readonly stacks: readonly Stack[];
  /** Where a vector lives: its stack and position. */
  readonly home: ReadonlyMap<number, { stack: number; index: number }>;
}

/**
 * Place the distinct vectors of each multi-vector sum side by side. Sums are taken
 * largest first; a later sum reuses a stack when its vectors occupy a contiguous
 * run of it, or extends a stack at its end. `canHome(v)`: v may be stored
 * wherever we choose (it is computed by us, not an input or a root).
 */
export function colocate(parts: readonly LinPart[], canHome: (vec: number) => boolean): Colocation {
  const stacks: Stack[] = [];
  const home = new Map<number, { stack: number; index: number }>();
  const distinct = (p: LinPart) => [...new Set(p.terms.map((t) => t.vec))];
  const order = [...parts].filter((p) => distinct(p).length > 1).sort((a, b) => distinct(b).length - distinct(a).length || a.lin - b.lin);
  for (const p of order) {
    const vecs = distinct(p);
    if (!vecs.every(canHome)) continue;
    const placed = vecs.filter((v) => home.has(v));
    if (placed.length === 0) {
      const s: Stack = { id: stacks.length, vecs: [...vecs] };
      stacks.push(s);
      vecs.forEach((v, index) => home.set(v, { stack: s.id, index }));
      continue;
    }
    const sid = home.get(placed[0]!)!.stack;
    if (!placed.every((v) => home.get(v)!.stack === sid)) continue;
    const s = stacks[sid]!;
    const idx = placed.map((v) => home.get(v)!.index).sort((a, b) => a - b);
    const contiguous = idx.every((x, i) => i === 0 || x === idx[i - 1]! + 1);
    if (!contiguous) continue;
    const fresh = vecs.filter((v) => !home.has(v));
    if (fresh.length === 0) continue;
    // Extend at the end only when the placed ones are the stack's tail.
    if (idx[idx.length - 1] !== s.vecs.length - 1) continue;
    for (const v of fresh) {
      home.set(v, { stack: sid, index: s.vecs.length });
      s.vecs.push(v);
    }
  }
  return { stacks, home };
}

// ---------------------------------------------------------------- products

/** What a product reads: one vector, or a contiguous run of a stack's vectors. */
export type Operand =
  | { readonly kind: 'node'; readonly id: number }
  | { readonly kind: 'stack'; readonly stack: number; readonly from: number; readonly count: number };

/** One output column block of a product: the value of (a phase's part of) a linear form. */
export interface ProductBlock {
  readonly lin: number;
  /** Output columns of this block (the form's width). */
  readonly rows: Dim;
  /** Terms, each reading one vector of the operand. */
  readonly terms: readonly Term[];
}

/** C = operand · Packᵀ: one matrix product whose packed weight stacks every block's matrices. */
export interface Product {
  readonly id: number;
  readonly phase: Phase;
  readonly operand: Operand;
  readonly blocks: readonly ProductBlock[];
}

const operandKey = (o: Operand) => (o.kind === 'node' ? `n${o.id}` : `s${o.stack}:${o.from}+${o.count}`);

/** Group the terms of every part into products: one per (phase, operand). */
export function groupProducts(parts: readonly LinPart[], co: Colocation): Product[] {
  const byKey = new Map<string, { phase: Phase; operand: Operand; blocks: ProductBlock[] }>();
  const add = (phase: Phase, operand: Operand, block: ProductBlock) => {
    const key = `${phase}/${operandKey(operand)}`;
    let p = byKey.get(key);
    if (!p) byKey.set(key, (p = { phase, operand, blocks: [] }));
    p.blocks.push(block);
  };
  for (const part of parts) {
    const rows = part.terms[0]!.rows;
    const vecs = [...new Set(part.terms.map((t) => t.vec))];
    const homes = vecs.map((v) => co.home.get(v));
    if (vecs.length > 1 && homes.every((h) => h && h.stack === homes[0]!.stack)) {
      const idx = homes.map((h) => h!.index);
      const from = Math.min(...idx), to = Math.max(...idx);
      if (to - from + 1 === vecs.length) {
        add(part.phase, { kind: 'stack', stack: homes[0]!.stack, from, count: vecs.length }, { lin: part.lin, rows, terms: part.terms });
        continue;
      }
    }
    // One block per distinct vector (terms reading the same vector share a block only if they are one term).
    for (const t of part.terms) add(part.phase, { kind: 'node', id: t.vec }, { lin: part.lin, rows, terms: [t] });
  }
  return [...byKey.values()].map((p, id) => ({ id, ...p }));
}

/** Output width of a product. */
export const productWidth = (p: Product): Dim => dimSum(p.blocks.map((b) => b.rows));

/** Column of each block in the product's output. */
export function blockOffsets(p: Product): Dim[] {
  const out: Dim[] = [];
  let at = dimNum(0);
  for (const b of p.blocks) {
    out.push(at);
    at = dimAdd(at, b.rows);
  }
  return out;
}
