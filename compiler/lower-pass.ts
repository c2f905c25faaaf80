// Lowering one pass (the forward or the backward step graph) to kernels.
//
//   linear forms → phases → products → homes → levels → kernels
//
// Every value gets a home (a buffer, a column range, which rows) or is fused:
// elementwise values computed in the same loop nest are locals of that loop.
// Kernels of a phase run in levels: a product or reduction runs after what it
// reads; the elementwise loops of a level run after its products.

import type { Dim } from './dims.ts';
import { dimAdd, dimKey, dimNum } from './dims.ts';
import type { Graph, Node } from './graph.ts';
import type { LinPart, Product, Term } from './lower-linear.ts';
import { blockOffsets, colocate, consumers, groupProducts, linearForms, operandParts, productWidth } from './lower-linear.ts';
import type { LeafKind } from './lower-phase.ts';
import { assignPhases, isElementwise } from './lower-phase.ts';
import type { BufferDecl, Expr, Extent, Kernel, MatView, PassPlan, Phase, ReadMode, RowCount, Stmt, Store, View } from './lower-plan.ts';

/** Where a value lives: columns of a buffer, at a row block relative to the step (or fixed). */
export interface Home {
  readonly buf: number;
  readonly col: Dim;
  readonly width: Dim;
  /** Block shift: 0 for step t itself, 1 for a state after step t (slot t+1), … */
  readonly shift: number;
  /** A fixed block (unrolled cells). */
  readonly block?: number;
}

/** A place a root must be written to; `acc`: added to (gradients summed over time). */
export interface Dest {
  readonly home: Home;
  readonly acc: boolean;
}

export interface PassSpec {
  readonly g: Graph;
  readonly unrolled: boolean;
  /** Leaves with a home (parameters, inputs, states, cotangents, saved forward values); null for computed nodes. */
  readonly leaf: (n: Node) => { kind: LeafKind; home: Home } | null;
  readonly roots: readonly { id: number; dest: Dest; role: 'carry' | 'param' | 'value' }[];
  /** Forward: values the backward pass reads (kept in T·B buffers). */
  readonly saved: ReadonlySet<number>;
  readonly name: (id: number) => string;
  readonly named: (id: number) => boolean;
}

export class BufferTable {
  readonly decls: BufferDecl[] = [];
  add(d: Omit<BufferDecl, 'id'>): number {
    const id = this.decls.length;
    this.decls.push({ id, ...d });
    return id;
  }
  get(id: number): BufferDecl {
    return this.decls[id]!;
  }
}

export interface PassResult {
  readonly plan: PassPlan;
  readonly homes: ReadonlyMap<number, Home>;
}

const ONE = dimNum(1);
const uniq = (xs: readonly number[]) => [...new Set(xs)];
const rowsOf = (phase: Phase, batched: boolean): RowCount => (!batched ? 'one' : phase === 'pre' || phase === 'post' ? 'TB' : 'B');

/** Numbers per row of a value of this shape: a vector's length, 1 for a scalar, [m, n] for a matrix. */
export const sizeOf = (n: Node): Dim[] => (n.shape.dims.length === 0 ? [ONE] : [...n.shape.dims]);
const widthOf = (n: Node): Dim => (n.shape.dims.length === 1 ? n.shape.dims[0]! : ONE);

function readMode(n: Node): ReadMode {
  const s = n.shape;
  if (s.batch) return s.dims.length > 0 ? 'elem' : 'row';
  return s.dims.length > 0 ? 'feat' : 'one';
}

interface Item {
  readonly level: number;
  /** 0 transposes, 1 products and other kernels, 2 elementwise loops. */
  readonly stage: number;
  readonly rank: number;
  readonly kernels: Kernel[];
}

interface Cluster {
  readonly key: string;
  readonly phase: Phase;
  readonly level: number;
  readonly node: Node;
  readonly stmts: Stmt[];
}

export function lowerPass(spec: PassSpec, bufs: BufferTable): PassResult {
  const g = spec.g;
  const N = g.nodes;

  // ---------------------------------------------------------------- leaves, liveness, linear forms
  const leafInfo = new Map<number, { kind: LeafKind; home: Home }>();
  for (const n of N) {
    const l = spec.leaf(n);
    if (l) leafInfo.set(n.id, l);
  }
  const rawVarying = new Set<number>();
  for (const n of N) {
    const l = leafInfo.get(n.id);
    if (l) {
      if (l.kind !== 'static') rawVarying.add(n.id);
    } else if (n.inputs.some((x) => rawVarying.has(x))) rawVarying.add(n.id);
  }
  const rootSet = new Set<number>([...spec.roots.map((r) => r.id), ...spec.saved]);
  const walk = (from: Iterable<number>, next: (id: number) => readonly number[]) => {
    const seen = new Set<number>();
    const stack = [...from];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      if (!leafInfo.has(id)) stack.push(...next(id));
    }
    return seen;
  };
  const rawLive = walk(rootSet, (id) => N[id]!.inputs);
  const isStaticMat = (id: number) => !rawVarying.has(id) && !N[id]!.shape.batch;
  const forms = new Map(linearForms(g, rawLive, isStaticMat, (id) => rootSet.has(id) || leafInfo.has(id)).forms);
  for (const id of leafInfo.keys()) forms.delete(id); // a saved value is read, not recomputed
  const rawUses = consumers(g, rawLive);
  const rootCount = new Map<number, number>();
  for (const r of spec.roots) rootCount.set(r.id, (rootCount.get(r.id) ?? 0) + 1);

  // Parameter gradients are sums (over uses of the parameter); each term is added into the gradient.
  const interior = new Set<number>();
  const dests = new Map<number, Dest[]>();
  const directAcc = new Map<number, Dest>();
  const addDest = (id: number, d: Dest) => dests.set(id, [...(dests.get(id) ?? []), d]);
  const sameBatch = (id: number) => {
    const n = N[id]!;
    return [n.inputs[0]!, n.inputs[1]!].every((x) => operandParts(g, x).every((p) => N[p.node]!.shape.batch === N[x]!.shape.batch));
  };
  for (const r of spec.roots) {
    if (r.role !== 'param') { addDest(r.id, r.dest); continue; }
    const sole = (x: number) => (x === r.id ? rawUses[x]!.length === 0 && rootCount.get(x) === 1 : rawUses[x]!.length === 1 && !rootSet.has(x));
    const terms: number[] = [];
    const flatten = (x: number) => {
      const n = N[x]!;
      if (n.op === 'add' && sole(x) && !forms.has(x)) {
        interior.add(x);
        flatten(n.inputs[0]!);
        flatten(n.inputs[1]!);
      } else terms.push(x);
    };
    flatten(r.id);
    for (const x of terms) {
      const op = N[x]!.op;
      if ((op === 'outer' || op === 'sum_batch') && sole(x) && !leafInfo.has(x) && (op === 'sum_batch' || sameBatch(x))) directAcc.set(x, { ...r.dest, acc: true });
      else if (N[x]!.op !== 'zeros') addDest(x, { ...r.dest, acc: true });
    }
  }

  const outerParts = (id: number) => {
    const n = N[id]!;
    const split = sameBatch(id);
    const parts = (x: number) => (split ? operandParts(g, x) : [{ node: x, col: dimNum(0), len: N[x]!.shape.dims[0]! }]);
    return { u: parts(n.inputs[0]!), v: parts(n.inputs[1]!) };
  };
  const deps = (id: number): number[] => {
    const f = forms.get(id);
    if (f) return uniq([...f.map((t) => t.vec), ...f.map((t) => t.mat.node)]);
    const n = N[id]!;
    if (n.op === 'outer') {
      const { u, v } = outerParts(id);
      return uniq([...u, ...v].map((p) => p.node));
    }
    return uniq(n.inputs);
  };
  const live = walk(rootSet, deps);
  const nodes = [...live].sort((a, b) => a - b);
  const users = new Map<number, number[]>(nodes.map((id) => [id, []]));
  for (const id of nodes) if (!leafInfo.has(id)) for (const d of deps(id)) users.get(d)!.push(id);

  // ---------------------------------------------------------------- phases
  const heavy = (id: number) => forms.has(id) || (!isElementwise(g, id) && !interior.has(id));
  const productName = (q: { operand: Product['operand'] }) => (q.operand.kind === 'node' ? `${spec.name(q.operand.id)}_proj` : `stack${q.operand.stack}_proj`);
  const { phase: phaseMap, carried } = assignPhases({
    g, nodes, deps, heavy, unrolled: spec.unrolled,
    leafKind: (id) => leafInfo.get(id)?.kind ?? null,
    carryRoots: spec.roots.filter((r) => r.role === 'carry').map((r) => r.id),
    exported: rootSet,
    paramRoots: new Set(spec.roots.filter((r) => r.role === 'param').map((r) => r.id)),
    linear: (id) => forms.has(id),
  });
  const phase = (id: number): Phase => phaseMap.get(id) ?? 'static';

  // ---------------------------------------------------------------- products
  const parts: LinPart[] = [];
  for (const id of nodes) {
    const f = forms.get(id);
    if (!f) continue;
    const p = phase(id);
    const byPhase = new Map<Phase, Term[]>();
    for (const t of f) {
      const tp: Phase = p === 'loop' && !spec.unrolled && !carried.has(t.vec) ? 'pre' : p;
      byPhase.set(tp, [...(byPhase.get(tp) ?? []), t]);
    }
    for (const [tp, terms] of byPhase) parts.push({ lin: id, phase: tp, terms });
  }
  const canHome = (v: number) => !leafInfo.has(v) && !forms.has(v) && isElementwise(g, v) && !rootSet.has(v) && !dests.has(v) && phase(v) !== 'static' && N[v]!.shape.batch && N[v]!.shape.dims.length === 1;
  const co = colocate(parts, canHome);
  const products = groupProducts(parts, co);
  const productsOf = new Map<number, { p: Product; block: number }[]>();
  for (const p of products) p.blocks.forEach((b, i) => productsOf.set(b.lin, [...(productsOf.get(b.lin) ?? []), { p, block: i }]));
  const operandVecs = (p: Product): number[] => (p.operand.kind === 'node' ? [p.operand.id] : co.stacks[p.operand.stack]!.vecs.slice(p.operand.from, p.operand.from + p.operand.count));

  // ---------------------------------------------------------------- levels
  const level = new Map<number, number>();
  const productLevel = new Map<number, number>();
  const lv = (d: number, p: Phase) => (phaseMap.get(d) === p ? level.get(d) ?? 0 : 0);
  for (const id of nodes) {
    if (leafInfo.has(id)) { level.set(id, 0); continue; }
    const p = phase(id);
    const n = N[id]!;
    if (forms.has(id)) {
      let l = 0;
      for (const { p: q } of productsOf.get(id) ?? []) {
        if (q.phase !== p) continue;
        if (!productLevel.has(q.id)) productLevel.set(q.id, 1 + Math.max(0, ...operandVecs(q).map((v) => lv(v, p))));
        l = Math.max(l, productLevel.get(q.id)!);
      }
      level.set(id, l);
    } else if (n.op === 'slice' || interior.has(id) || isElementwise(g, id)) level.set(id, Math.max(0, ...deps(id).map((d) => lv(d, p))));
    else level.set(id, 1 + Math.max(0, ...deps(id).map((d) => lv(d, p))));
  }
  for (const q of products) if (!productLevel.has(q.id)) productLevel.set(q.id, 1 + Math.max(0, ...operandVecs(q).map((v) => lv(v, q.phase))));

  // ---------------------------------------------------------------- clusters and homes
  const shapeKey = (n: Node) => `${n.shape.batch ? 'B' : ''}[${n.shape.dims.map(dimKey).join(',')}]`;
  const clusterKey = (id: number, p: Phase = phase(id), l: number = level.get(id) ?? 0) => `${p}|${l}|${shapeKey(N[id]!)}`;
  const literal = (id: number) => N[id]!.op === 'const' || N[id]!.op === 'zeros';
  const ew = (id: number) => !leafInfo.has(id) && !forms.has(id) && !literal(id) && isElementwise(g, id) && !interior.has(id);
  const inlineStatic = (id: number) => ew(id) && phase(id) === 'static';
  const cross = (id: number) => spec.saved.has(id) || users.get(id)!.some((u) => !interior.has(u) && phase(u) !== phase(id));
  const mustHome = (id: number) => {
    if (spec.saved.has(id)) return true;
    for (const u of users.get(id)!) {
      if (interior.has(u)) continue;
      if (phase(u) !== phase(id)) return true;
      if (!ew(u)) return true;
      if (ew(id) && clusterKey(u) !== clusterKey(id)) return true;
    }
    return false;
  };
  const extentFor = (id: number): Extent => {
    const n = N[id]!;
    if (!n.shape.batch) return 'one';
    if (spec.unrolled) return 'step';
    return phase(id) === 'pre' || phase(id) === 'post' || cross(id) ? 'seq' : 'step';
  };
  const newHome = (id: number, extent: Extent = extentFor(id), name = spec.name(id)): Home => {
    const n = N[id]!;
    const buf = bufs.add({ name, extent, size: n.shape.batch ? [widthOf(n)] : sizeOf(n), role: 'value' });
    return { buf, col: dimNum(0), width: widthOf(n), shift: 0 };
  };

  const home = new Map<number, Home>();
  for (const [id, l] of leafInfo) home.set(id, l.home);

  // Stacks: co-located vectors share one buffer, each at its columns.
  co.stacks.forEach((s) => {
    const qs = products.filter((q) => q.operand.kind === 'stack' && q.operand.stack === s.id);
    const seq = !spec.unrolled && (s.vecs.some((v) => cross(v) || phase(v) !== 'loop') || qs.some((q) => q.phase !== 'loop'));
    const width = s.vecs.reduce((a, v) => dimAdd(a, widthOf(N[v]!)), dimNum(0));
    const buf = bufs.add({ name: `stack${s.id}`, extent: seq ? 'seq' : 'step', size: [width], role: 'value' });
    let col = dimNum(0);
    for (const v of s.vecs) {
      home.set(v, { buf, col, width: widthOf(N[v]!), shift: 0 });
      col = dimAdd(col, widthOf(N[v]!));
    }
  });

  // Bias folding: in add(L, b), b a parameter vector and L a form read by this add alone with a block
  // computed before the loop (the input projection), b is added once into that block for all T·B rows
  // instead of at every step and every element: σ(W[a, x] + b) reads one number less per element.
  const folded = new Map<number, number>(); // the add → its form
  const blockBias = new Map<string, number>(); // `${product}:${block}` → the bias parameter
  for (const id of nodes) {
    const n = N[id]!;
    if (spec.unrolled || n.op !== 'add' || !ew(id) || phase(id) !== 'loop') continue;
    for (const [l, b] of [[n.inputs[0]!, n.inputs[1]!], [n.inputs[1]!, n.inputs[0]!]] as const) {
      const bn = N[b]!;
      if (!forms.has(l) || rootSet.has(l) || users.get(l)!.length !== 1 || folded.has(id)) continue;
      if (bn.op !== 'param' || bn.shape.batch || bn.shape.dims.length !== 1 || !n.shape.batch || dimKey(bn.shape.dims[0]!) !== dimKey(n.shape.dims[0]!)) continue;
      const pre = (productsOf.get(l) ?? []).find(({ p }) => p.phase === 'pre');
      if (!pre) continue;
      folded.set(id, l);
      blockBias.set(`${pre.p.id}:${pre.block}`, b);
    }
  }

  // Product outputs: straight into a root's buffer when the product computes exactly that root.
  const productOut = new Map<number, { home: Home; acc: boolean }>();
  const linBlocks = new Map<number, Home[]>();
  for (const q of products) {
    const offs = blockOffsets(q);
    const only = q.blocks.length === 1 ? q.blocks[0]!.lin : null;
    const ds = only !== null ? dests.get(only) ?? [] : [];
    // A root's own buffer can take the product: one that is read back (not added to) if there is
    // one, else the only destination, added to, when nothing else reads the value.
    const alone = only !== null && (productsOf.get(only) ?? []).length === 1 && !q.blocks.some((_, i) => blockBias.has(`${q.id}:${i}`));
    const direct = !alone ? undefined : ds.find((d) => !d.acc) ?? (ds.length === 1 && users.get(only!)!.length === 0 ? ds[0] : undefined);
    if (direct) {
      productOut.set(q.id, { home: direct.home, acc: direct.acc });
      dests.set(only!, ds.filter((d) => d !== direct));
      if (!direct.acc) home.set(only!, direct.home);
    } else {
      const seq = !spec.unrolled && (q.phase !== 'loop' || q.blocks.some((b) => cross(b.lin)));
      const buf = bufs.add({ name: productName(q), extent: seq ? 'seq' : 'step', size: [productWidth(q)], role: 'value' });
      productOut.set(q.id, { home: { buf, col: dimNum(0), width: productWidth(q), shift: 0 }, acc: false });
    }
    const out = productOut.get(q.id)!;
    q.blocks.forEach((b, i) => {
      if (out.acc) return;
      linBlocks.set(b.lin, [...(linBlocks.get(b.lin) ?? []), { ...out.home, col: dimAdd(out.home.col, offs[i]!), width: b.rows }]);
    });
  }

  // Values of one fused loop kept for all steps (what the backward reads) go side by side into one
  // buffer, as a hand-written loop keeps its gates together: fewer arrays for the loop to address.
  const groups = new Map<string, number[]>();
  for (const id of nodes) {
    if (!ew(id) || home.has(id) || (dests.get(id) ?? []).some((d) => !d.acc) || !mustHome(id) || extentFor(id) !== 'seq') continue;
    if (N[id]!.shape.dims.length !== 1) continue;
    const key = `${clusterKey(id)}|${dimKey(widthOf(N[id]!))}`;
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  for (const ids of groups.values()) {
    if (ids.length < 2) continue;
    const w = widthOf(N[ids[0]!]!);
    const buf = bufs.add({ name: ids.map((i) => spec.name(i)).join('_'), extent: 'seq', size: [ids.reduce((a) => dimAdd(a, w), dimNum(0))], role: 'value' });
    let col = dimNum(0);
    for (const id of ids) {
      home.set(id, { buf, col, width: w, shift: 0 });
      col = dimAdd(col, w);
    }
  }

  // Synthetic statements: copies into roots' buffers, sums of a form's blocks.
  const synthetic = new Map<number, { phase: Phase; level: number; stores: Store[]; sum: boolean }>();
  const local = new Set<number>();
  for (const id of nodes) {
    const n = N[id]!;
    const ds = dests.get(id) ?? [];
    if (leafInfo.has(id)) {
      if (ds.length) {
        const isCarry = spec.roots.some((r) => r.id === id && r.role === 'carry');
        synthetic.set(id, { phase: spec.unrolled || isCarry ? 'loop' : 'post', level: 0, stores: [], sum: false });
      }
      continue;
    }
    if (literal(id) && ds.length === 0) continue;
    if (interior.has(id) || directAcc.has(id) || inlineStatic(id) && !mustHome(id) && ds.length === 0) continue;
    if (forms.has(id)) {
      const blocks = linBlocks.get(id) ?? [];
      if (!home.has(id) && blocks.length === 1 && (!spec.saved.has(id) || bufs.get(blocks[0]!.buf).extent !== 'step')) home.set(id, blocks[0]!);
      const needOwn = !home.has(id) && mustHome(id);
      if (needOwn) {
        const first = ds.find((d) => !d.acc);
        home.set(id, first ? first.home : newHome(id));
      }
      if (needOwn || ds.length) synthetic.set(id, { phase: phase(id), level: level.get(id)!, stores: [], sum: true });
      continue;
    }
    if (n.op === 'slice') {
      const x = home.get(n.inputs[0]!);
      if (!x) throw new Error(`lower: slice of a value without a home (%${id})`);
      home.set(id, { ...x, col: dimAdd(x.col, n.attrs.offset!), width: n.attrs.len! });
      if (ds.length) synthetic.set(id, { phase: phase(id), level: level.get(id)!, stores: [], sum: false });
      continue;
    }
    if (ew(id)) {
      if (mustHome(id) || ds.length || home.has(id)) {
        if (!home.has(id)) {
          const first = ds.find((d) => !d.acc);
          if (first) home.set(id, first.home);
          else if (mustHome(id)) home.set(id, newHome(id));
        }
        local.add(id);
      }
      continue;
    }
    // A kernel of its own: writes its home (a root's buffer when it is one).
    if (!home.has(id)) {
      const first = ds.find((d) => !d.acc);
      home.set(id, first ? first.home : newHome(id));
    }
    const rest = ds.filter((d) => d.home !== home.get(id));
    if (rest.length) synthetic.set(id, { phase: phase(id), level: level.get(id)!, stores: [], sum: false });
  }

  // ---------------------------------------------------------------- elementwise loops
  const clusters = new Map<string, Cluster>();
  const clusterOf = new Map<number, string>();
  const clusterFor = (id: number, p: Phase, l: number): Cluster => {
    const key = `${p}|${l}|${shapeKey(N[id]!)}`;
    let c = clusters.get(key);
    if (!c) clusters.set(key, (c = { key, phase: p, level: l, node: N[id]!, stmts: [] }));
    return c;
  };
  for (const id of nodes) if (ew(id) && !inlineStatic(id) || inlineStatic(id) && local.has(id)) clusterOf.set(id, clusterKey(id));
  // Uses inside one loop decide what becomes a local.
  const usesIn = new Map<number, number>();
  for (const id of nodes) {
    if (!clusterOf.has(id)) continue;
    for (const d of N[id]!.inputs) if (clusterOf.get(d) === clusterOf.get(id)) usesIn.set(d, (usesIn.get(d) ?? 0) + 1);
  }
  for (const id of nodes) if (clusterOf.has(id) && (spec.named(id) || (usesIn.get(id) ?? 0) > 1 || home.has(id) || dests.has(id))) local.add(id);

  const viewOf = (h: Home, p: Phase): View => {
    const extent = bufs.get(h.buf).extent;
    const rows: View['rows'] =
      extent === 'one' || extent === 'step' ? { at: 'zero' }
      : h.block !== undefined ? { at: 'block', block: h.block }
      : p === 'loop' || p === 'static' ? { at: 't', shift: h.shift }
      : { at: 'all', shift: h.shift };
    return { buf: h.buf, rows, col: h.col, width: h.width };
  };
  const matView = (id: number): MatView => {
    const h = home.get(id);
    if (!h) throw new Error(`lower: matrix %${id} has no home`);
    const size = bufs.get(h.buf).size;
    return { buf: h.buf, row: dimNum(0), col: dimNum(0), ld: size[size.length - 1]! };
  };
  const mustView = (id: number, p: Phase): View => {
    const h = home.get(id);
    if (!h) throw new Error(`lower: %${id} (${N[id]!.op}) has no home`);
    return viewOf(h, p);
  };

  const exprOf = (id: number, ck: string, p: Phase): Expr => {
    const n = N[id]!;
    if (n.op === 'const') return { e: 'num', v: n.attrs.value! };
    if (n.op === 'zeros') return { e: 'num', v: 0 };
    if (clusterOf.get(id) === ck) return local.has(id) ? { e: 'local', id } : opExpr(id, ck, p);
    const h = home.get(id);
    if (h) return { e: 'read', view: viewOf(h, p), mode: readMode(n) };
    if (inlineStatic(id)) return opExpr(id, ck, p);
    const blocks = linBlocks.get(id);
    if (blocks && blocks.length) return blocks.map((b): Expr => ({ e: 'read', view: viewOf(b, p), mode: readMode(n) })).reduce((a, b) => ({ e: 'op', op: 'add', args: [a, b] }));
    throw new Error(`lower: no value for %${id} (${n.op})`);
  };
  const opExpr = (id: number, ck: string, p: Phase): Expr => {
    const n = N[id]!;
    if (n.op === 'bcast') return exprOf(n.inputs[0]!, ck, p);
    const form = folded.get(id);
    if (form !== undefined) return exprOf(form, ck, p);
    return { e: 'op', op: n.op, args: n.inputs.map((x) => exprOf(x, ck, p)), ...(n.attrs.p !== undefined ? { p: n.attrs.p } : {}) };
  };
  const storesOf = (id: number, p: Phase, own: boolean): Store[] => {
    const out: Store[] = [];
    const h = home.get(id);
    if (own && h) out.push({ view: viewOf(h, p), accumulate: false });
    for (const d of dests.get(id) ?? []) if (!(own && d.home === h && !d.acc)) out.push({ view: viewOf(d.home, p), accumulate: d.acc });
    return out;
  };

  for (const id of nodes) {
    const ck = clusterOf.get(id);
    if (ck !== undefined && local.has(id)) {
      const own = home.has(id) && !leafInfo.has(id);
      const c = clusterFor(id, phase(id), level.get(id) ?? 0);
      c.stmts.push({ id, expr: opExpr(id, ck, phase(id)), stores: storesOf(id, phase(id), own), local: true });
    }
    const s = synthetic.get(id);
    if (s) {
      const c = clusterFor(id, s.phase, s.level);
      const n = N[id]!;
      const expr: Expr = s.sum
        ? (linBlocks.get(id) ?? []).map((b): Expr => ({ e: 'read', view: viewOf(b, s.phase), mode: readMode(n) })).reduce((a, b) => ({ e: 'op', op: 'add', args: [a, b] }))
        : { e: 'read', view: viewOf(home.get(id)!, s.phase), mode: readMode(n) };
      const own = s.sum && home.has(id) && !(linBlocks.get(id) ?? []).includes(home.get(id)!);
      const self = s.sum ? null : viewOf(home.get(id)!, s.phase);
      const same = (v: View) => self !== null && v.buf === self.buf && dimKey(v.col) === dimKey(self.col) && JSON.stringify(v.rows) === JSON.stringify(self.rows);
      const stores = storesOf(id, s.phase, own).filter((st) => st.accumulate || !same(st.view));
      if (stores.length) c.stmts.push({ id, expr, stores, local: spec.named(id) });
    }
  }

  // ---------------------------------------------------------------- kernels
  const items: Record<Phase, Item[]> = { static: [], pre: [], loop: [], post: [] };
  const packs: Kernel[] = [];
  const push = (p: Phase, level: number, stage: number, rank: number, ...ks: Kernel[]) => items[p].push({ level, stage, rank, kernels: ks });
  const transposed = new Map<string, number>();
  /** The transpose of an operand's rows (its columns only), made once per phase and shared by the outer products that read it. */
  const transposeOf = (v: View, p: Phase, src: number): { buf: number; row: Dim } => {
    const key = `${p}|${v.buf}|${JSON.stringify(v.rows)}|${dimKey(v.col)}|${dimKey(v.width)}`;
    let t = transposed.get(key);
    if (t === undefined) {
      t = bufs.add({ name: `${spec.name(src)}_T`, extent: 'seq', size: [v.width], role: 'scratch' });
      transposed.set(key, t);
      push(p, lv(src, p) + 1, 0, t, { k: 'transpose', rows: rowsOf(p, true), src: v, dst: t });
    }
    return { buf: t, row: dimNum(0) };
  };

  for (const q of products) {
    const offs = blockOffsets(q);
    const vecs = operandVecs(q);
    const depth = vecs.reduce((a, v) => dimAdd(a, widthOf(N[v]!)), dimNum(0));
    const width = productWidth(q);
    const pack = bufs.add({ name: `pack_${productName(q)}`, extent: 'one', size: [width, depth], role: 'pack' });
    const segOf = new Map<number, Dim>();
    let at = dimNum(0);
    for (const v of vecs) { segOf.set(v, at); at = dimAdd(at, widthOf(N[v]!)); }
    const blocks = q.blocks.flatMap((b, i) => b.terms.map((t) => ({
      src: matView(t.mat.node).buf, trans: t.mat.trans, srcRow: t.row, srcCol: t.col, rows: t.rows, cols: t.cols, dstRow: offs[i]!, dstCol: segOf.get(t.vec)!,
    })));
    const note = q.blocks.map((b) => b.terms.map((t) => termText(t, spec)).join(' + ')).join(', ');
    // Each (block, vector) pair has one term unless a form reads a vector twice: then the blocks add up.
    const exact = q.blocks.every((b) => new Set(b.terms.map((t) => t.vec)).size === b.terms.length && b.terms.length === vecs.length);
    packs.push({ k: 'pack', dst: pack, rows: width, cols: depth, blocks, zero: !exact, note });
    const operand: View = q.operand.kind === 'node'
      ? mustView(q.operand.id, q.phase)
      : { ...mustView(vecs[0]!, q.phase), width: depth };
    const out = productOut.get(q.id)!;
    const c = viewOf(out.home, q.phase);
    // Folded biases: the output starts as the bias (zeros in other blocks), and the product adds to it.
    const init: Kernel[] = [];
    if (q.blocks.some((_, i) => blockBias.has(`${q.id}:${i}`))) {
      q.blocks.forEach((b, i) => {
        const bias = blockBias.get(`${q.id}:${i}`);
        const dst = { ...c, col: dimAdd(c.col, offs[i]!), width: b.rows };
        init.push(bias === undefined ? { k: 'fill', rows: rowsOf(q.phase, true), dst, size: [b.rows], value: 0 } : { k: 'copy', rows: rowsOf(q.phase, true), src: mustView(bias, q.phase), srcBatched: false, dst });
      });
    }
    push(q.phase, productLevel.get(q.id)!, 1, q.id, ...init, {
      k: 'gemm', rows: rowsOf(q.phase, true), n: width, depth, a: operand, b: { buf: pack, row: dimNum(0), col: dimNum(0), ld: depth },
      c, accumulate: out.acc || init.length > 0, note: init.length ? `${note}, plus the biases` : note,
    });
  }

  for (const id of nodes) {
    if (leafInfo.has(id) || forms.has(id) || interior.has(id) || ew(id) || literal(id) || N[id]!.op === 'slice') continue;
    const n = N[id]!;
    const p = phase(id);
    const l = level.get(id)!;
    const rows = rowsOf(p, n.shape.batch);
    const acc = directAcc.get(id);
    const outHome = acc ? acc.home : home.get(id)!;
    const out = viewOf(outHome, p);
    const note = spec.name(id);
    const inView = (i: number) => mustView(n.inputs[i]!, p);
    switch (n.op) {
      case 'softmax': push(p, l, 1, id, { k: 'softmax', rows, n: n.shape.dims[0]!, src: inView(0), dst: out, note }); break;
      case 'sum_feat': push(p, l, 1, id, { k: 'sumFeat', rows: rowsOf(p, N[n.inputs[0]!]!.shape.batch), n: sizeOf(N[n.inputs[0]!]!), src: inView(0), dst: out, note }); break;
      case 'sum_batch': push(p, l, 1, id, { k: 'sumRows', rows: rowsOf(p, true), src: inView(0), dst: out, accumulate: acc !== undefined, note }); break;
      case 'outer': {
        const { u, v } = outerParts(id);
        const batched = N[n.inputs[0]!]!.shape.batch;
        const orows = rowsOf(p, batched);
        const ks: Kernel[] = [];
        const nCols = n.shape.dims[1]!;
        if (!acc) ks.push({ k: 'fill', rows: 'one', dst: { ...out, width: ONE }, size: sizeOf(n), value: 0 });
        const cBuf = outHome.buf;
        for (const a of u) for (const b of v) {
          const uv = mustView(a.node, p), vv = mustView(b.node, p);
          const big = orows === 'TB';
          const ut = big ? transposeOf(uv, p, a.node) : null, vt = big ? transposeOf(vv, p, b.node) : null;
          ks.push({ k: 'outer', rows: orows, u: uv, v: vv, ut, vt, c: { buf: cBuf, row: a.col, col: b.col, ld: nCols }, m: a.len, n: b.len, accumulate: true, note: `${note}: ${spec.name(a.node)} ⊗ ${spec.name(b.node)}` });
        }
        push(p, l, 1, id, ...ks);
        break;
      }
      case 'matmul': {
        const [a, b] = n.inputs as [number, number];
        push(p, l, 1, id, { k: 'matmul', m: n.shape.dims[0]!, n: n.shape.dims[1]!, depth: N[a]!.shape.dims[1]!, a: matView(a), aTrans: false, b: matView(b), bTrans: false, c: matView(id), accumulate: false, note });
        break;
      }
      case 'transpose': {
        const x = n.inputs[0]!;
        const [m, k] = N[x]!.shape.dims as [Dim, Dim];
        push(p, l, 1, id, { k: 'pack', dst: outHome.buf, rows: k, cols: m, blocks: [{ src: matView(x).buf, trans: true, srcRow: dimNum(0), srcCol: dimNum(0), rows: k, cols: m, dstRow: dimNum(0), dstCol: dimNum(0) }], zero: false, note });
        break;
      }
      case 'matvec': {
        const [w, v] = n.inputs as [number, number];
        push(p, l, 1, id, { k: 'matvec', rows: rowsOf(p, N[v]!.shape.batch), m: N[w]!.shape.dims[0]!, n: N[w]!.shape.dims[1]!, w: matView(w), wRows: 'one', v: inView(1), c: out, accumulate: false, note });
        break;
      }
      case 'concat': {
        let col = dimNum(0);
        const ks: Kernel[] = [];
        for (const x of n.inputs) {
          const len = widthOf(N[x]!);
          ks.push({ k: 'copy', rows, src: mustView(x, p), srcBatched: N[x]!.shape.batch, dst: { ...out, col: dimAdd(out.col, col), width: len } });
          col = dimAdd(col, len);
        }
        push(p, l, 1, id, ...ks);
        break;
      }
      case 'pad': {
        const x = n.inputs[0]!;
        push(p, l, 1, id,
          { k: 'fill', rows, dst: out, size: [out.width], value: 0 },
          { k: 'copy', rows, src: inView(0), srcBatched: N[x]!.shape.batch, dst: { ...out, col: dimAdd(out.col, n.attrs.offset!), width: widthOf(N[x]!) } });
        break;
      }
      default:
        throw new Error(`lower: no kernel for ${n.op}`);
    }
  }

  const rankOf = (n: Node) => (n.shape.batch ? 10 : 0) + n.shape.dims.length;
  for (const c of clusters.values()) {
    if (!c.stmts.length) continue;
    const n = c.node;
    const rows = rowsOf(c.phase, n.shape.batch);
    const width = n.shape.batch ? (n.shape.dims.length ? [n.shape.dims[0]!] : []) : [...n.shape.dims];
    const note = c.stmts.filter((s) => spec.named(s.id)).map((s) => spec.name(s.id)).join(', ');
    push(c.phase, c.level, 2, rankOf(n), { k: 'ew', rows, width, stmts: c.stmts, note });
  }

  const order = (xs: Item[]) => [...xs].sort((a, b) => a.level - b.level || a.stage - b.stage || a.rank - b.rank).flatMap((i) => i.kernels);
  const phases: Record<Phase, Kernel[]> = { static: [...order(items.static), ...packs], pre: order(items.pre), loop: order(items.loop), post: order(items.post) };
  const names: Record<number, string> = {};
  for (const c of clusters.values()) for (const st of c.stmts) names[st.id] = spec.name(st.id);
  for (const id of nodes) names[id] ??= spec.name(id);
  return { plan: { phases, names, named: nodes.filter((id) => spec.named(id)) }, homes: home };
}

function termText(t: Term, spec: PassSpec): string {
  const m = `${spec.name(t.mat.node)}${t.mat.trans ? 'ᵀ' : ''}`;
  return `${m}[${dimText(t.row)}:${dimText(dimAdd(t.row, t.rows))}, ${dimText(t.col)}:${dimText(dimAdd(t.col, t.cols))}] ${spec.name(t.vec)}`;
}

const dimText = (d: Dim) => (d.terms.length === 0 ? String(d.k) : d.terms.map(([v, c], i) => `${c < 0 ? '-' : i ? '+' : ''}${Math.abs(c) === 1 ? '' : Math.abs(c)}${v}`).join('') + (d.k ? `${d.k > 0 ? '+' : '-'}${Math.abs(d.k)}` : ''));
