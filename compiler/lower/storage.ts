// Homes: where every value of a pass lives. Leaves and roots have theirs (the
// interface buffers); co-located vectors share a stack; a product writes straight
// into a root's buffer when it computes exactly that root; values one loop nest
// keeps for later go side by side into one buffer; everything else that must be
// stored gets a buffer of its own, sized for one step (B rows) or all (T·B rows).

import { dimAdd, dimKey, dimNum } from '../ir/dims.ts';
import type { Analysis } from './analysis.ts';
import { extentFor, isFused, isInlineStatic, isLiteral, loopKey, needsHome, phaseIn, readAcrossPhases, sizeOf, widthOf } from './analysis.ts';
import { blockOffsets, productWidth } from './linear-forms.ts';
import type { BufferTable, Home } from './context.ts';
import type { Extent, Phase } from './loop-ir.ts';

/** A statement the lowering adds to a loop nest: a copy into a root's buffer, or the sum of a form's blocks. */
export interface Synthetic {
  readonly phase: Phase;
  readonly level: number;
  /** The sum of the form's blocks (else a copy of the node's home). */
  readonly sum: boolean;
}

export interface Homes {
  readonly home: Map<number, Home>;
  /** The blocks of product outputs whose sum is a form's value. */
  readonly linBlocks: ReadonlyMap<number, readonly Home[]>;
  readonly productOut: ReadonlyMap<number, { home: Home; acc: boolean }>;
  /** Adds whose bias was folded into a product: their value is the form's. */
  readonly folded: ReadonlyMap<number, number>;
  /** `${product}:${block}` → the bias parameter that block starts from. */
  readonly blockBias: ReadonlyMap<string, number>;
  readonly synthetic: ReadonlyMap<number, Synthetic>;
  /** Fused nodes that get their own `const` in the loop (stored, or used twice, or named). */
  readonly local: Set<number>;
}

export const productName = (a: Analysis, q: Analysis['products'][number]) => (q.operand.kind === 'node' ? `${a.spec.name(q.operand.id)}_proj` : `stack${q.operand.stack}_proj`);

export function assignHomes(a: Analysis, bufs: BufferTable): Homes {
  const home = new Map<number, Home>();
  for (const [id, l] of a.leafInfo) home.set(id, l.home);
  stacks(a, bufs, home);
  const { folded, blockBias } = foldBiases(a);
  const { productOut, linBlocks } = productOutputs(a, bufs, home, blockBias);
  groupSaved(a, bufs, home);
  const { synthetic, local } = nodeHomes(a, bufs, home, linBlocks);
  return { home, linBlocks, productOut, folded, blockBias, synthetic, local };
}

function newHome(a: Analysis, bufs: BufferTable, id: number, extent: Extent = extentFor(a, id)): Home {
  const n = a.N[id]!;
  // A matrix per example keeps both sizes: rows × cols numbers per row of the buffer.
  const buf = bufs.add({ name: a.spec.name(id), extent, size: n.shape.batch && n.shape.dims.length < 2 ? [widthOf(n)] : sizeOf(n), role: 'value' });
  return { buf, col: dimNum(0), width: widthOf(n), shift: 0 };
}

/** Co-located vectors share one buffer, each at its columns. */
function stacks(a: Analysis, bufs: BufferTable, home: Map<number, Home>): void {
  for (const s of a.co.stacks) {
    const qs = a.products.filter((q) => q.operand.kind === 'stack' && q.operand.stack === s.id);
    const seq = !a.spec.unrolled && (s.vecs.some((v) => readAcrossPhases(a, v) || phaseIn(a, v) !== 'loop') || qs.some((q) => q.phase !== 'loop'));
    const width = s.vecs.reduce((w, v) => dimAdd(w, widthOf(a.N[v]!)), dimNum(0));
    const buf = bufs.add({ name: `stack${s.id}`, extent: seq ? 'seq' : 'step', size: [width], role: 'value' });
    let col = dimNum(0);
    for (const v of s.vecs) {
      home.set(v, { buf, col, width: widthOf(a.N[v]!), shift: 0 });
      col = dimAdd(col, widthOf(a.N[v]!));
    }
  }
}

/**
 * Bias folding: in add(L, b), b a parameter vector and L a form read by this add alone with a
 * block computed before the loop (the input projection), b is added once into that block for
 * all T·B rows instead of at every step and element: σ(W[a, x] + b) reads one number less.
 */
function foldBiases(a: Analysis) {
  const folded = new Map<number, number>();
  const blockBias = new Map<string, number>();
  for (const id of a.nodes) {
    const n = a.N[id]!;
    if (a.spec.unrolled || n.op !== 'add' || !isFused(a, id) || phaseIn(a, id) !== 'loop') continue;
    for (const [l, b] of [[n.inputs[0]!, n.inputs[1]!], [n.inputs[1]!, n.inputs[0]!]] as const) {
      const bn = a.N[b]!;
      if (!a.forms.has(l) || a.rootSet.has(l) || a.users.get(l)!.length !== 1 || folded.has(id)) continue;
      if (bn.op !== 'param' || bn.shape.batch || bn.shape.dims.length !== 1 || !n.shape.batch || dimKey(bn.shape.dims[0]!) !== dimKey(n.shape.dims[0]!)) continue;
      const pre = (a.productsOf.get(l) ?? []).find(({ p }) => p.phase === 'pre');
      if (!pre) continue;
      folded.set(id, l);
      blockBias.set(`${pre.p.id}:${pre.block}`, b);
    }
  }
  return { folded, blockBias };
}

/** Product outputs: straight into a root's buffer when the product computes exactly that root. */
function productOutputs(a: Analysis, bufs: BufferTable, home: Map<number, Home>, blockBias: ReadonlyMap<string, number>) {
  const productOut = new Map<number, { home: Home; acc: boolean }>();
  const linBlocks = new Map<number, Home[]>();
  for (const q of a.products) {
    const offs = blockOffsets(q);
    const only = q.blocks.length === 1 ? q.blocks[0]!.lin : null;
    const ds = only !== null ? a.dests.get(only) ?? [] : [];
    // A root's buffer can take the product: one that is read back (not added to) if there is one,
    // else the only destination, added to, when nothing else reads the value.
    const alone = only !== null && (a.productsOf.get(only) ?? []).length === 1 && !q.blocks.some((_, i) => blockBias.has(`${q.id}:${i}`));
    const direct = !alone ? undefined : ds.find((d) => !d.acc) ?? (ds.length === 1 && a.users.get(only!)!.length === 0 ? ds[0] : undefined);
    if (direct) {
      productOut.set(q.id, { home: direct.home, acc: direct.acc });
      a.dests.set(only!, ds.filter((d) => d !== direct));
      if (!direct.acc) home.set(only!, direct.home);
    } else {
      const seq = !a.spec.unrolled && (q.phase !== 'loop' || q.blocks.some((b) => readAcrossPhases(a, b.lin)));
      const buf = bufs.add({ name: productName(a, q), extent: seq ? 'seq' : 'step', size: [productWidth(q)], role: 'value' });
      productOut.set(q.id, { home: { buf, col: dimNum(0), width: productWidth(q), shift: 0 }, acc: false });
    }
    const out = productOut.get(q.id)!;
    if (!out.acc) q.blocks.forEach((b, i) => linBlocks.set(b.lin, [...(linBlocks.get(b.lin) ?? []), { ...out.home, col: dimAdd(out.home.col, offs[i]!), width: b.rows }]));
  }
  return { productOut, linBlocks };
}

/**
 * Values of one loop nest kept for all steps (what the backward reads) go side by side into one
 * buffer, as a hand-written loop keeps its gates together: fewer arrays for the loop to address.
 */
function groupSaved(a: Analysis, bufs: BufferTable, home: Map<number, Home>): void {
  const groups = new Map<string, number[]>();
  for (const id of a.nodes) {
    if (!isFused(a, id) || home.has(id) || (a.dests.get(id) ?? []).some((d) => !d.acc) || !needsHome(a, id) || extentFor(a, id) !== 'seq') continue;
    if (a.N[id]!.shape.dims.length !== 1) continue;
    const key = `${loopKey(a, id)}|${dimKey(widthOf(a.N[id]!))}`;
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  for (const ids of groups.values()) {
    if (ids.length < 2) continue;
    const w = widthOf(a.N[ids[0]!]!);
    const buf = bufs.add({ name: groupName(ids.map((i) => a.spec.name(i))), extent: 'seq', size: [ids.reduce((s) => dimAdd(s, w), dimNum(0))], role: 'value' });
    let col = dimNum(0);
    for (const id of ids) {
      home.set(id, { buf, col, width: w, shift: 0 });
      col = dimAdd(col, w);
    }
  }
}

/** Longest name of a group's buffer: past it, the names that fit and how many more (a chain of 1,000 equations would otherwise name one buffer with all of them). */
export const GROUP_NAME_CAP = 64;

/** A group's buffer is named after its values, `i_f_g_o`, or `h_0_h_1_and_998_more` past GROUP_NAME_CAP. */
export function groupName(names: readonly string[]): string {
  const all = names.join('_');
  if (all.length <= GROUP_NAME_CAP) return all;
  let name = names[0]!, k = 1;
  while (k < names.length && name.length + 1 + names[k]!.length <= GROUP_NAME_CAP - 16) name += `_${names[k++]}`;
  return `${name}_and_${names.length - k}_more`;
}

/** Every other node: its home, and the statements that copy it where roots want it. */
function nodeHomes(a: Analysis, bufs: BufferTable, home: Map<number, Home>, linBlocks: ReadonlyMap<number, readonly Home[]>) {
  const synthetic = new Map<number, Synthetic>();
  const local = new Set<number>();
  const here = (id: number, sum: boolean): Synthetic => ({ phase: phaseIn(a, id), level: a.level.get(id)!, sum });
  for (const id of a.nodes) {
    const n = a.N[id]!;
    const ds = a.dests.get(id) ?? [];
    const first = ds.find((d) => !d.acc);
    if (a.leafInfo.has(id)) {
      // A root that is a leaf (c^<t> = c^<t-1>): copied in the loop if it is carried, after it otherwise.
      const carry = a.spec.roots.some((r) => r.id === id && r.role === 'carry');
      if (ds.length) synthetic.set(id, { phase: a.spec.unrolled || carry ? 'loop' : 'post', level: 0, sum: false });
      continue;
    }
    if (isLiteral(a, id) && ds.length === 0) continue;
    if (a.interior.has(id) || a.directAcc.has(id) || isInlineStatic(a, id) && !needsHome(a, id) && ds.length === 0) continue;
    if (a.forms.has(id)) {
      const blocks = linBlocks.get(id) ?? [];
      if (!home.has(id) && blocks.length === 1 && (!a.spec.saved.has(id) || bufs.get(blocks[0]!.buf).extent !== 'step')) home.set(id, blocks[0]!);
      const own = !home.has(id) && needsHome(a, id);
      if (own) home.set(id, first ? first.home : newHome(a, bufs, id));
      if (own || ds.length) synthetic.set(id, here(id, true));
    } else if (n.op === 'slice') {
      const x = home.get(n.inputs[0]!);
      if (!x) throw new Error(`lower: slice of a value without a home (%${id})`);
      home.set(id, { ...x, col: dimAdd(x.col, n.attrs.offset!), width: n.attrs.len! });
      if (ds.length) synthetic.set(id, here(id, false));
    } else if (isFused(a, id)) {
      if (needsHome(a, id) || ds.length || home.has(id)) {
        if (!home.has(id)) {
          if (first) home.set(id, first.home);
          else if (needsHome(a, id)) home.set(id, newHome(a, bufs, id));
        }
        local.add(id);
      }
    } else {
      // A kernel of its own writes its home (a root's buffer when it is one).
      if (!home.has(id)) home.set(id, first ? first.home : newHome(a, bufs, id));
      if (ds.some((d) => d.home !== home.get(id))) synthetic.set(id, here(id, false));
    }
  }
  return { synthetic, local };
}
