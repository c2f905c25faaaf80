// Kernels: the fused loop nests (one statement per value, locals where a value is
// used twice or named), the products with their packed weights, and a kernel for
// every other node, ordered within each phase by level: at each level, transposes
// first, then products and other kernels, then the loop nests.

import type { Dim } from '../ir/dims.ts';
import { dimAdd, dimKey, dimNum } from '../ir/dims.ts';
import type { Node } from '../ir/graph.ts';
import { isElementwiseOp } from '../ir/ops.ts';
import type { Analysis } from './analysis.ts';
import { isFused, isInlineStatic, isLiteral, levelIn, loopKey, operandVecs, phaseIn, sizeOf, widthOf } from './analysis.ts';
import type { Homes } from './storage.ts';
import { productName } from './storage.ts';
import type { Term } from './linear-forms.ts';
import { blockOffsets, productWidth } from './linear-forms.ts';
import type { BufferTable, Home, PassResult } from './context.ts';
import type { Expr, Kernel, MatView, Phase, ReadMode, RowCount, Stmt, Store, View } from './loop-ir.ts';

interface Item {
  readonly level: number;
  /** 0 transposes, 1 products and other kernels, 2 loop nests. */
  readonly stage: number;
  readonly rank: number;
  readonly kernels: Kernel[];
}

interface Nest {
  readonly phase: Phase;
  readonly level: number;
  readonly node: Node;
  readonly stmts: Stmt[];
}

/** The deepest expression a loop statement inlines (deeper: a local); no example cell comes near it. */
const MAX_INLINE_DEPTH = 64;
const ONE = dimNum(1);
const rowsOf = (phase: Phase, batched: boolean): RowCount => (!batched ? 'one' : phase === 'pre' || phase === 'post' ? 'TB' : 'B');

function readMode(n: Node): ReadMode {
  const s = n.shape;
  if (s.batch) return s.dims.length > 0 ? 'elem' : 'row';
  return s.dims.length > 0 ? 'feat' : 'one';
}

export function buildKernels(a: Analysis, h: Homes, bufs: BufferTable): PassResult {
  return new KernelBuilder(a, h, bufs).build();
}

class KernelBuilder {
  private readonly items: Record<Phase, Item[]> = { static: [], pre: [], loop: [], post: [] };
  private readonly packs: Kernel[] = [];
  private readonly nests = new Map<string, Nest>();
  private readonly nestOf = new Map<number, string>();
  private readonly transposed = new Map<string, number>();

  constructor(private readonly a: Analysis, private readonly h: Homes, private readonly bufs: BufferTable) {}

  build(): PassResult {
    this.statements();
    for (const q of this.a.products) this.product(q);
    for (const id of this.a.nodes) this.kernel(id);
    this.loopNests();
    const order = (xs: Item[]) => [...xs].sort((x, y) => x.level - y.level || x.stage - y.stage || x.rank - y.rank).flatMap((i) => i.kernels);
    const phases: Record<Phase, Kernel[]> = { static: [...order(this.items.static), ...this.packs], pre: order(this.items.pre), loop: order(this.items.loop), post: order(this.items.post) };
    const { spec, nodes } = this.a;
    const names: Record<number, string> = {};
    for (const n of this.nests.values()) for (const st of n.stmts) names[st.id] = spec.name(st.id);
    for (const id of nodes) names[id] ??= spec.name(id);
    return { plan: { phases, names, named: nodes.filter((id) => spec.named(id)) }, homes: this.h.home };
  }

  private push(p: Phase, level: number, stage: number, rank: number, ...ks: Kernel[]): void {
    this.items[p].push({ level, stage, rank, kernels: ks });
  }

  // ---------------------------------------------------------------- views

  private viewOf(h: Home, p: Phase): View {
    const extent = this.bufs.get(h.buf).extent;
    const rows: View['rows'] =
      extent === 'one' || extent === 'step' ? { at: 'zero' }
      : h.block !== undefined ? { at: 'block', block: h.block }
      : p === 'loop' || p === 'static' ? { at: 't', shift: h.shift }
      : { at: 'all', shift: h.shift };
    return { buf: h.buf, rows, col: h.col, width: h.width };
  }

  private matView(id: number): MatView {
    const h = this.h.home.get(id);
    if (!h) throw new Error(`lower: matrix %${id} has no home`);
    const size = this.bufs.get(h.buf).size;
    return { buf: h.buf, row: dimNum(0), col: dimNum(0), ld: size[size.length - 1]! };
  }

  private mustView(id: number, p: Phase): View {
    const h = this.h.home.get(id);
    if (!h) throw new Error(`lower: %${id} (${this.a.N[id]!.op}) has no home`);
    return this.viewOf(h, p);
  }

  private blocksSum(id: number, p: Phase): Expr {
    const n = this.a.N[id]!;
    return (this.h.linBlocks.get(id) ?? []).map((b): Expr => ({ e: 'read', view: this.viewOf(b, p), mode: readMode(n) })).reduce((x, y) => ({ e: 'op', op: 'add', args: [x, y] }));
  }

  // ---------------------------------------------------------------- loop nests

  private nestFor(id: number, p: Phase, l: number): Nest {
    const key = loopKey(this.a, id, p, l);
    let c = this.nests.get(key);
    if (!c) this.nests.set(key, (c = { phase: p, level: l, node: this.a.N[id]!, stmts: [] }));
    return c;
  }

  /** The statements of every loop nest, in graph order. */
  private statements(): void {
    const { a, h } = this;
    for (const id of a.nodes) if (isFused(a, id) && !isInlineStatic(a, id) || isInlineStatic(a, id) && h.local.has(id)) this.nestOf.set(id, loopKey(a, id));
    // Uses inside one nest decide what becomes a local.
    const usesIn = new Map<number, number>();
    for (const id of a.nodes) {
      if (!this.nestOf.has(id)) continue;
      for (const d of a.N[id]!.inputs) if (this.nestOf.get(d) === this.nestOf.get(id)) usesIn.set(d, (usesIn.get(d) ?? 0) + 1);
    }
    for (const id of a.nodes) if (this.nestOf.has(id) && (a.spec.named(id) || (usesIn.get(id) ?? 0) > 1 || h.home.has(id) || a.dests.has(id))) h.local.add(id);
    // An expression inlined deeper than MAX_INLINE_DEPTH gets a local: a chain of N equations would
    // otherwise be one expression N deep (δ₀ = δ · (1 − h₉₉₉²) · … · (1 − h₀²)), and every pass over it recursion N deep.
    const depth = new Map<number, number>();
    for (const id of a.nodes) {
      const key = this.nestOf.get(id);
      if (key === undefined) continue;
      const d = 1 + a.N[id]!.inputs.reduce((m, x) => (this.nestOf.get(x) === key && !h.local.has(x) ? Math.max(m, depth.get(x) ?? 0) : m), 0);
      if (d > MAX_INLINE_DEPTH) h.local.add(id);
      depth.set(id, h.local.has(id) ? 0 : d);
    }

    for (const id of a.nodes) {
      const key = this.nestOf.get(id);
      if (key !== undefined && h.local.has(id)) {
        const p = phaseIn(a, id);
        const own = h.home.has(id) && !a.leafInfo.has(id);
        this.nestFor(id, p, a.level.get(id) ?? 0).stmts.push({ id, expr: this.opExpr(id, key, p), stores: this.storesOf(id, p, own), local: true });
      }
      const s = h.synthetic.get(id);
      if (s) this.synthetic(id, s);
    }
  }

  private synthetic(id: number, s: { phase: Phase; level: number; sum: boolean }): void {
    const { a, h } = this;
    const n = a.N[id]!;
    const expr: Expr = s.sum ? this.blocksSum(id, s.phase) : { e: 'read', view: this.viewOf(h.home.get(id)!, s.phase), mode: readMode(n) };
    const own = s.sum && h.home.has(id) && !(h.linBlocks.get(id) ?? []).includes(h.home.get(id)!);
    const self = s.sum ? null : this.viewOf(h.home.get(id)!, s.phase);
    const same = (v: View) => self !== null && v.buf === self.buf && dimKey(v.col) === dimKey(self.col) && JSON.stringify(v.rows) === JSON.stringify(self.rows);
    const stores = this.storesOf(id, s.phase, own).filter((st) => st.accumulate || !same(st.view));
    if (stores.length) this.nestFor(id, s.phase, s.level).stmts.push({ id, expr, stores, local: a.spec.named(id) });
  }

  private exprOf(id: number, key: string, p: Phase): Expr {
    const { a, h } = this;
    const n = a.N[id]!;
    if (n.op === 'const') return { e: 'num', v: n.attrs.value! };
    if (n.op === 'zeros') return { e: 'num', v: 0 };
    if (this.nestOf.get(id) === key) return h.local.has(id) ? { e: 'local', id } : this.opExpr(id, key, p);
    const home = h.home.get(id);
    if (home) return { e: 'read', view: this.viewOf(home, p), mode: readMode(n) };
    if (isInlineStatic(a, id)) return this.opExpr(id, key, p);
    if ((h.linBlocks.get(id) ?? []).length) return this.blocksSum(id, p);
    throw new Error(`lower: no value for %${id} (${n.op})`);
  }

  private opExpr(id: number, key: string, p: Phase): Expr {
    const n = this.a.N[id]!;
    if (n.op === 'bcast') return this.exprOf(n.inputs[0]!, key, p);
    const form = this.h.folded.get(id);
    if (form !== undefined) return this.exprOf(form, key, p);
    if (!isElementwiseOp(n.op)) throw new Error(`lower: ${n.op} (%${id}) inside an elementwise loop`);
    return { e: 'op', op: n.op, args: n.inputs.map((x) => this.exprOf(x, key, p)), ...(n.attrs.p !== undefined ? { p: n.attrs.p } : {}) };
  }

  private storesOf(id: number, p: Phase, own: boolean): Store[] {
    const out: Store[] = [];
    const home = this.h.home.get(id);
    if (own && home) out.push({ view: this.viewOf(home, p), accumulate: false });
    for (const d of this.a.dests.get(id) ?? []) if (!(own && d.home === home && !d.acc)) out.push({ view: this.viewOf(d.home, p), accumulate: d.acc });
    return out;
  }

  private loopNests(): void {
    const rankOf = (n: Node) => (n.shape.batch ? 10 : 0) + n.shape.dims.length;
    for (const c of this.nests.values()) {
      if (!c.stmts.length) continue;
      const n = c.node;
      const rows = rowsOf(c.phase, n.shape.batch);
      const width = [...n.shape.dims]; // a vector's length, or rows × cols of a matrix (per example or not)
      const note = c.stmts.filter((s) => this.a.spec.named(s.id)).map((s) => this.a.spec.name(s.id)).join(', ');
      this.push(c.phase, c.level, 2, rankOf(n), { k: 'fused', rows, width, stmts: c.stmts, note });
    }
  }

  // ---------------------------------------------------------------- products

  private product(q: Analysis['products'][number]): void {
    const { a, h, bufs } = this;
    const offs = blockOffsets(q);
    const vecs = operandVecs(a, q);
    const depth = vecs.reduce((d, v) => dimAdd(d, widthOf(a.N[v]!)), dimNum(0));
    const width = productWidth(q);
    const pack = bufs.add({ name: `pack_${productName(a, q)}`, extent: 'one', size: [width, depth], role: 'pack' });
    const segOf = new Map<number, Dim>();
    let at = dimNum(0);
    for (const v of vecs) { segOf.set(v, at); at = dimAdd(at, widthOf(a.N[v]!)); }
    const blocks = q.blocks.flatMap((b, i) => b.terms.map((t) => ({
      src: this.matView(t.mat.node).buf, trans: t.mat.trans, srcRow: t.row, srcCol: t.col, rows: t.rows, cols: t.cols, dstRow: offs[i]!, dstCol: segOf.get(t.vec)!,
    })));
    const note = q.blocks.map((b) => b.terms.map((t) => termText(a, t)).join(' + ')).join(', ');
    // Each (block, vector) pair has one term unless a form reads a vector twice: then the blocks add up.
    const exact = q.blocks.every((b) => new Set(b.terms.map((t) => t.vec)).size === b.terms.length && b.terms.length === vecs.length);
    this.packs.push({ k: 'pack', dst: pack, rows: width, cols: depth, blocks, zero: !exact, note });
    const operand: View = q.operand.kind === 'node' ? this.mustView(q.operand.id, q.phase) : { ...this.mustView(vecs[0]!, q.phase), width: depth };
    const out = h.productOut.get(q.id)!;
    const c = this.viewOf(out.home, q.phase);
    // Folded biases: the output starts as the bias (zeros in other blocks), and the product adds to it.
    const init: Kernel[] = [];
    if (q.blocks.some((_, i) => h.blockBias.has(`${q.id}:${i}`))) {
      q.blocks.forEach((b, i) => {
        const bias = h.blockBias.get(`${q.id}:${i}`);
        const dst = { ...c, col: dimAdd(c.col, offs[i]!), width: b.rows };
        init.push(bias === undefined ? { k: 'fill', rows: rowsOf(q.phase, true), dst, size: [b.rows], value: 0 } : { k: 'copy', rows: rowsOf(q.phase, true), src: this.mustView(bias, q.phase), srcBatched: false, dst });
      });
    }
    this.push(q.phase, a.productLevel.get(q.id)!, 1, q.id, ...init, {
      k: 'gemm', rows: rowsOf(q.phase, true), n: width, depth, a: operand, b: { buf: pack, row: dimNum(0), col: dimNum(0), ld: depth },
      c, accumulate: out.acc || init.length > 0, note: init.length ? `${note}, plus the biases` : note,
    });
  }

  /** The transpose of an operand's rows (its columns only), made once per phase and shared by the outer products that read it. */
  private transposeOf(v: View, p: Phase, src: number): { buf: number; row: Dim } {
    const key = `${p}|${v.buf}|${JSON.stringify(v.rows)}|${dimKey(v.col)}|${dimKey(v.width)}`;
    let t = this.transposed.get(key);
    if (t === undefined) {
      t = this.bufs.add({ name: `${this.a.spec.name(src)}_T`, extent: 'seq', size: [v.width], role: 'scratch' });
      this.transposed.set(key, t);
      this.push(p, levelIn(this.a, src, p) + 1, 0, t, { k: 'transpose', rows: rowsOf(p, true), src: v, dst: t });
    }
    return { buf: t, row: dimNum(0) };
  }

  // ---------------------------------------------------------------- other kernels

  private kernel(id: number): void {
    const { a, h } = this;
    if (a.leafInfo.has(id) || a.forms.has(id) || a.interior.has(id) || isFused(a, id) || isLiteral(a, id) || a.N[id]!.op === 'slice') return;
    const n = a.N[id]!;
    const p = phaseIn(a, id);
    const l = a.level.get(id)!;
    const rows = rowsOf(p, n.shape.batch);
    const acc = a.directAcc.get(id);
    const outHome = acc ? acc.home : h.home.get(id)!;
    const out = this.viewOf(outHome, p);
    const note = a.spec.name(id);
    const inView = (i: number) => this.mustView(n.inputs[i]!, p);
    const push = (...ks: Kernel[]) => this.push(p, l, 1, id, ...ks);
    switch (n.op) {
      case 'softmax': return push({ k: 'softmax', rows, n: n.shape.dims[0]!, src: inView(0), dst: out, note });
      case 'sum_feat': return push({ k: 'sumFeat', rows: rowsOf(p, a.N[n.inputs[0]!]!.shape.batch), n: sizeOf(a.N[n.inputs[0]!]!), src: inView(0), dst: out, note });
      case 'sum_batch': return push({ k: 'sumRows', rows: rowsOf(p, true), src: inView(0), dst: out, accumulate: acc !== undefined, note });
      case 'outer': return push(...this.outerKernels(id, p, out, outHome, acc !== undefined, note));
      case 'matmul': {
        const [x, y] = n.inputs as [number, number];
        return push({ k: 'matmul', m: n.shape.dims[0]!, n: n.shape.dims[1]!, depth: a.N[x]!.shape.dims[1]!, a: this.matView(x), aTrans: false, b: this.matView(y), bTrans: false, c: this.matView(id), accumulate: false, note });
      }
      case 'transpose': {
        const x = n.inputs[0]!;
        const [m, k] = a.N[x]!.shape.dims as [Dim, Dim];
        return push({ k: 'pack', dst: outHome.buf, rows: k, cols: m, blocks: [{ src: this.matView(x).buf, trans: true, srcRow: dimNum(0), srcCol: dimNum(0), rows: k, cols: m, dstRow: dimNum(0), dstCol: dimNum(0) }], zero: false, note });
      }
      case 'matvec': {
        const [w, v] = n.inputs as [number, number];
        return push({ k: 'matvec', rows: rowsOf(p, a.N[v]!.shape.batch), m: a.N[w]!.shape.dims[0]!, n: a.N[w]!.shape.dims[1]!, w: this.matView(w), v: inView(1), c: out, note });
      }
      // Matrices per example: one small product per row (m × n from the operands' shapes).
      case 'outer_each': case 'matvec_each': case 'vecmat_each': {
        const [x, y] = n.inputs as [number, number];
        const X = a.N[x]!.shape, Y = a.N[y]!.shape;
        const [m, k] = n.op === 'outer_each' ? [X.dims[0]!, Y.dims[0]!] : n.op === 'matvec_each' ? [X.dims[0]!, X.dims[1]!] : [Y.dims[0]!, Y.dims[1]!];
        const op = n.op === 'outer_each' ? 'outer' : n.op === 'matvec_each' ? 'matvec' : 'vecmat';
        return push({ k: 'each', op, rows, m, n: k, a: inView(0), aBatched: X.batch, b: inView(1), bBatched: Y.batch, c: out, note });
      }
      case 'concat': {
        let col = dimNum(0);
        const ks: Kernel[] = [];
        for (const x of n.inputs) {
          const len = widthOf(a.N[x]!);
          ks.push({ k: 'copy', rows, src: this.mustView(x, p), srcBatched: a.N[x]!.shape.batch, dst: { ...out, col: dimAdd(out.col, col), width: len } });
          col = dimAdd(col, len);
        }
        return push(...ks);
      }
      case 'pad': {
        const x = n.inputs[0]!;
        return push(
          { k: 'fill', rows, dst: out, size: [out.width], value: 0 },
          { k: 'copy', rows, src: inView(0), srcBatched: a.N[x]!.shape.batch, dst: { ...out, col: dimAdd(out.col, n.attrs.offset!), width: widthOf(a.N[x]!) } });
      }
      default:
        throw new Error(`lower: no kernel for ${n.op}`);
    }
  }
  /** Σ over rows of u vᵀ, one kernel per pair of the operands' parts (zeroed first unless it adds into a gradient). */
  private outerKernels(id: number, p: Phase, out: View, outHome: Home, direct: boolean, note: string): Kernel[] {
    const { a } = this;
    const n = a.N[id]!;
    const { u, v } = a.outerParts(id);
    const orows = rowsOf(p, a.N[n.inputs[0]!]!.shape.batch);
    const ks: Kernel[] = [];
    if (!direct) ks.push({ k: 'fill', rows: 'one', dst: { ...out, width: ONE }, size: sizeOf(n), value: 0 });
    for (const x of u) for (const y of v) {
      const uv = this.mustView(x.node, p), vv = this.mustView(y.node, p);
      // Over T·B rows, Σ_r u_r v_rᵀ is a product of the two operands transposed (both read contiguously).
      const big = orows === 'TB';
      const ut = big ? this.transposeOf(uv, p, x.node) : null, vt = big ? this.transposeOf(vv, p, y.node) : null;
      ks.push({ k: 'outer', rows: orows, u: uv, v: vv, ut, vt, c: { buf: outHome.buf, row: x.col, col: y.col, ld: n.shape.dims[1]! }, m: x.len, n: y.len, accumulate: true, note: `${note}: ${a.spec.name(x.node)} ⊗ ${a.spec.name(y.node)}` });
    }
    return ks;
  }
}

function termText(a: Analysis, t: Term): string {
  const m = `${a.spec.name(t.mat.node)}${t.mat.trans ? 'ᵀ' : ''}`;
  return `${m}[${dimText(t.row)}:${dimText(dimAdd(t.row, t.rows))}, ${dimText(t.col)}:${dimText(dimAdd(t.col, t.cols))}] ${a.spec.name(t.vec)}`;
}

const dimText = (d: Dim) => (d.terms.length === 0 ? String(d.k) : d.terms.map(([v, c], i) => `${c < 0 ? '-' : i ? '+' : ''}${Math.abs(c) === 1 ? '' : Math.abs(c)}${v}`).join('') + (d.k ? `${d.k > 0 ? '+' : '-'}${Math.abs(d.k)}` : ''));
