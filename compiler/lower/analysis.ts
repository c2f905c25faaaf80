// The analysis of one pass, before anything is placed in memory: which nodes are
// leaves and which are computed, the linear forms (linear-forms.ts), how parameter
// gradients decompose into terms that are added into them, the phase of every
// node (phases.ts), the products that group the forms' terms, and the level of
// every node within its phase (a kernel runs after what it reads).

import type { Dim } from '../ir/dims.ts';
import { dimKey, dimNum } from '../ir/dims.ts';
import type { Graph, Node } from '../ir/graph.ts';
import type { Colocation, LinPart, Product, Term } from './linear-forms.ts';
import { colocate, consumers, groupProducts, linearForms, operandParts } from './linear-forms.ts';
import type { Dest, Home, PassSpec } from './context.ts';
import type { LeafKind } from './phases.ts';
import { assignPhases, isElementwise } from './phases.ts';
import type { Extent, Phase } from './loop-ir.ts';

const ONE = dimNum(1);
const uniq = (xs: readonly number[]) => [...new Set(xs)];

/** Numbers per row of a value of this shape: a vector's length, 1 for a scalar, [m, n] for a matrix. */
export const sizeOf = (n: Node): Dim[] => (n.shape.dims.length === 0 ? [ONE] : [...n.shape.dims]);
export const widthOf = (n: Node): Dim => (n.shape.dims.length === 1 ? n.shape.dims[0]! : ONE);

export interface Analysis {
  readonly spec: PassSpec;
  readonly g: Graph;
  readonly N: readonly Node[];
  readonly leafInfo: ReadonlyMap<number, { kind: LeafKind; home: Home }>;
  /** Roots and (forward) saved values: each must exist as a value. */
  readonly rootSet: ReadonlySet<number>;
  readonly forms: ReadonlyMap<number, readonly Term[]>;
  /** Adds of a parameter gradient's sum: not computed, their terms are added into the gradient. */
  readonly interior: ReadonlySet<number>;
  /** Where each node must be written besides its own home (roots; terms of parameter gradients). */
  readonly dests: Map<number, Dest[]>;
  /** Outer products and Σ_batch terms of a parameter gradient, computed straight into it. */
  readonly directAcc: ReadonlyMap<number, Dest>;
  /** The nodes to compute or read, ascending (topological). */
  readonly nodes: readonly number[];
  readonly users: ReadonlyMap<number, readonly number[]>;
  readonly deps: (id: number) => number[];
  readonly outerParts: (id: number) => { u: ReturnType<typeof operandParts>; v: ReturnType<typeof operandParts> };
  readonly phaseOf: ReadonlyMap<number, Phase>;
  readonly carried: ReadonlySet<number>;
  readonly co: Colocation;
  readonly products: readonly Product[];
  readonly productsOf: ReadonlyMap<number, readonly { p: Product; block: number }[]>;
  readonly level: ReadonlyMap<number, number>;
  readonly productLevel: ReadonlyMap<number, number>;
}

export function analysePass(spec: PassSpec): Analysis {
  const g = spec.g;
  const N = g.nodes;
  const leafInfo = new Map<number, { kind: LeafKind; home: Home }>();
  for (const n of N) {
    const l = spec.leaf(n);
    if (l) leafInfo.set(n.id, l);
  }
  const rootSet = new Set<number>([...spec.roots.map((r) => r.id), ...spec.saved]);
  const rawLive = reach(rootSet, (id) => N[id]!.inputs, leafInfo);
  const forms = passForms(g, leafInfo, rootSet, rawLive);
  const { interior, dests, directAcc } = gradientTerms(spec, N, consumers(g, rawLive), rootSet, forms, leafInfo);
  const { outerParts, deps } = dependencies(g, forms);
  const nodes = [...reach(rootSet, deps, leafInfo)].sort((a, b) => a - b);
  const users = new Map<number, number[]>(nodes.map((id) => [id, []]));
  for (const id of nodes) if (!leafInfo.has(id)) for (const d of deps(id)) users.get(d)!.push(id);

  const { phase: phaseOf, carried } = assignPhases({
    g, nodes, deps, unrolled: spec.unrolled,
    heavy: (id) => forms.has(id) || (!isElementwise(g, id) && !interior.has(id)),
    leafKind: (id) => leafInfo.get(id)?.kind ?? null,
    carryRoots: spec.roots.filter((r) => r.role === 'carry').map((r) => r.id),
    exported: rootSet,
    paramRoots: new Set(spec.roots.filter((r) => r.role === 'param').map((r) => r.id)),
    linear: (id) => forms.has(id),
  });
  const phase = (id: number): Phase => phaseOf.get(id) ?? 'static';
  const parts = linearParts(spec, nodes, forms, phase, carried);
  const canHome = (v: number) => !leafInfo.has(v) && !forms.has(v) && isElementwise(g, v) && !rootSet.has(v) && !dests.has(v) && phase(v) !== 'static' && N[v]!.shape.batch && N[v]!.shape.dims.length === 1;
  const co = colocate(parts, canHome);
  const products = groupProducts(parts, co);
  const productsOf = new Map<number, { p: Product; block: number }[]>();
  for (const p of products) p.blocks.forEach((b, i) => productsOf.set(b.lin, [...(productsOf.get(b.lin) ?? []), { p, block: i }]));

  const a = { spec, g, N, leafInfo, rootSet, forms, interior, dests, directAcc, nodes, users, deps, outerParts, phaseOf, carried, co, products, productsOf, level: new Map(), productLevel: new Map() };
  levels(a);
  return a;
}

/** The nodes reached from `from` along `next`, not going past leaves. */
function reach(from: Iterable<number>, next: (id: number) => readonly number[], leafInfo: ReadonlyMap<number, unknown>): Set<number> {
  const seen = new Set<number>();
  const stack = [...from];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!leafInfo.has(id)) stack.push(...next(id));
  }
  return seen;
}

/** The linear forms of the live nodes (linear-forms.ts), over matrices that do not vary with the step; leaves excepted. */
function passForms(g: Graph, leafInfo: ReadonlyMap<number, { kind: LeafKind }>, rootSet: ReadonlySet<number>, live: ReadonlySet<number>): Map<number, readonly Term[]> {
  const N = g.nodes;
  const varying = new Set<number>();
  for (const n of N) {
    const l = leafInfo.get(n.id);
    if (l) {
      if (l.kind !== 'static') varying.add(n.id);
    } else if (n.inputs.some((x) => varying.has(x))) varying.add(n.id);
  }
  const isStaticMat = (id: number) => !varying.has(id) && !N[id]!.shape.batch;
  const forms = new Map(linearForms(g, live, isStaticMat, (id) => rootSet.has(id) || leafInfo.has(id)).forms);
  for (const id of leafInfo.keys()) forms.delete(id); // a saved value is read, not recomputed
  return forms;
}

/** What each node reads: a form's vectors and matrices, an outer product's operand parts, else its inputs. */
function dependencies(g: Graph, forms: ReadonlyMap<number, readonly Term[]>): Pick<Analysis, 'outerParts' | 'deps'> {
  const N = g.nodes;
  const outerParts = (id: number) => {
    const n = N[id]!;
    const split = sameBatch(g, id);
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
  return { outerParts, deps };
}

/**
 * Products: a form's terms split by phase (a term whose vector does not depend on the carry is
 * computed before the loop); colocate and groupProducts then put vectors of one sum side by side
 * and terms with one operand together.
 */
function linearParts(spec: PassSpec, nodes: readonly number[], forms: ReadonlyMap<number, readonly Term[]>, phase: (id: number) => Phase, carried: ReadonlySet<number>): LinPart[] {
  const parts: LinPart[] = [];
  for (const id of nodes) {
    const f = forms.get(id);
    if (!f) continue;
    const p = phase(id);
    const byPhase = new Map<Phase, Term[]>();
    for (const t of f) {
      // (not a vector computed in the loop itself: a state root that does not depend on the carry, or what reads it)
      const tp: Phase = p === 'loop' && !spec.unrolled && !carried.has(t.vec) && phase(t.vec) !== 'loop' ? 'pre' : p;
      byPhase.set(tp, [...(byPhase.get(tp) ?? []), t]);
    }
    for (const [tp, terms] of byPhase) parts.push({ lin: id, phase: tp, terms });
  }
  return parts;
}

/** Parameter gradients are sums (over the uses of the parameter); each term is added into the gradient. */
function gradientTerms(spec: PassSpec, N: readonly Node[], uses: number[][], rootSet: ReadonlySet<number>, forms: ReadonlyMap<number, unknown>, leafInfo: ReadonlyMap<number, unknown>) {
  const interior = new Set<number>();
  const dests = new Map<number, Dest[]>();
  const directAcc = new Map<number, Dest>();
  const addDest = (id: number, d: Dest) => dests.set(id, [...(dests.get(id) ?? []), d]);
  const rootCount = new Map<number, number>();
  for (const r of spec.roots) rootCount.set(r.id, (rootCount.get(r.id) ?? 0) + 1);
  for (const r of spec.roots) {
    if (r.role !== 'param') { addDest(r.id, r.dest); continue; }
    const sole = (x: number) => (x === r.id ? uses[x]!.length === 0 && rootCount.get(x) === 1 : uses[x]!.length === 1 && !rootSet.has(x));
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
      if ((op === 'outer' || op === 'sum_batch') && sole(x) && !leafInfo.has(x) && (op === 'sum_batch' || sameBatch(spec.g, x))) directAcc.set(x, { ...r.dest, acc: true });
      else if (op !== 'zeros') addDest(x, { ...r.dest, acc: true });
    }
  }
  return { interior, dests, directAcc };
}

/** An outer product whose operands' parts all have the operand's batch axis (so it splits by parts). */
function sameBatch(g: Graph, id: number): boolean {
  const n = g.nodes[id]!;
  return [n.inputs[0]!, n.inputs[1]!].every((x) => operandParts(g, x).every((p) => g.nodes[p.node]!.shape.batch === g.nodes[x]!.shape.batch));
}

/** The vectors a product reads: one node, or a run of a stack. */
export const operandVecs = (a: Analysis, p: Product): number[] => (p.operand.kind === 'node' ? [p.operand.id] : a.co.stacks[p.operand.stack]!.vecs.slice(p.operand.from, p.operand.from + p.operand.count));

/** Levels within a phase: elementwise nodes and slices at their inputs' level, kernels one above. */
function levels(a: Analysis & { level: Map<number, number>; productLevel: Map<number, number> }): void {
  const { N, level, productLevel } = a;
  const lv = (d: number, p: Phase) => levelIn(a, d, p);
  const productAt = (q: Product) => {
    if (!productLevel.has(q.id)) productLevel.set(q.id, 1 + Math.max(0, ...operandVecs(a, q).map((v) => lv(v, q.phase))));
    return productLevel.get(q.id)!;
  };
  for (const id of a.nodes) {
    if (a.leafInfo.has(id)) { level.set(id, 0); continue; }
    const p = phaseIn(a, id);
    if (a.forms.has(id)) level.set(id, Math.max(0, ...(a.productsOf.get(id) ?? []).filter(({ p: q }) => q.phase === p).map(({ p: q }) => productAt(q))));
    else if (N[id]!.op === 'slice' || a.interior.has(id) || isElementwise(a.g, id)) level.set(id, Math.max(0, ...a.deps(id).map((d) => lv(d, p))));
    else level.set(id, 1 + Math.max(0, ...a.deps(id).map((d) => lv(d, p))));
  }
  for (const q of a.products) productAt(q);
}

// ---------------------------------------------------------------- questions about a node

export const phaseIn = (a: Analysis, id: number): Phase => a.phaseOf.get(id) ?? 'static';
/** A node's level if it is computed in phase p; values from earlier phases are there from the start. */
export const levelIn = (a: Analysis, id: number, p: Phase): number => (a.phaseOf.get(id) === p ? a.level.get(id) ?? 0 : 0);
export const isLiteral = (a: Analysis, id: number) => a.N[id]!.op === 'const' || a.N[id]!.op === 'zeros';
/** Fused into a loop: an elementwise node that is neither a leaf, a form, a literal nor part of a gradient's sum. */
export const isFused = (a: Analysis, id: number) => !a.leafInfo.has(id) && !a.forms.has(id) && !isLiteral(a, id) && isElementwise(a.g, id) && !a.interior.has(id);
/** Computed from parameters only and written inline where it is used. */
export const isInlineStatic = (a: Analysis, id: number) => isFused(a, id) && phaseIn(a, id) === 'static';

const shapeKey = (n: Node) => `${n.shape.batch ? 'B' : ''}[${n.shape.dims.map(dimKey).join(',')}]`;
/** Elementwise nodes of one phase, level and shape share one loop nest. */
export const loopKey = (a: Analysis, id: number, p: Phase = phaseIn(a, id), l: number = a.level.get(id) ?? 0) => `${p}|${l}|${shapeKey(a.N[id]!)}`;

/** Read in another phase than its own (or, in the forward, by the backward). */
export const readAcrossPhases = (a: Analysis, id: number) => a.spec.saved.has(id) || a.users.get(id)!.some((u) => !a.interior.has(u) && phaseIn(a, u) !== phaseIn(a, id));

/** Needs a buffer of its own: read by a kernel, in another phase, or by another loop nest. */
export function needsHome(a: Analysis, id: number): boolean {
  if (a.spec.saved.has(id)) return true;
  for (const u of a.users.get(id)!) {
    if (a.interior.has(u)) continue;
    if (phaseIn(a, u) !== phaseIn(a, id)) return true;
    if (!isFused(a, u)) return true;
    if (isFused(a, id) && loopKey(a, u) !== loopKey(a, id)) return true;
  }
  return false;
}

/** How many rows a new buffer for this node needs. */
export function extentFor(a: Analysis, id: number): Extent {
  const n = a.N[id]!;
  if (!n.shape.batch) return 'one';
  if (a.spec.unrolled) return 'step';
  const p = phaseIn(a, id);
  return p === 'pre' || p === 'post' || readAcrossPhases(a, id) ? 'seq' : 'step';
}
