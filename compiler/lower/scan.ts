// Scans: the linear, diagonal recurrences of a cell (compiler/passes/linearity.ts)
// rewritten as h^<t> = a^<t> ⊙ h^<t-1> + b^<t>, with a and b nodes of their own
// that do not depend on any state, so a lowering can compute them for all T·B
// rows before the time loop and leave only the recurrence itself to run over time
// (sequentially, elementwise; or as a parallel scan over time on a GPU).
//
// Forward: every state whose verdict is linear-diagonal and whose coefficients
// read no state at t-1. Backward: the cotangent carried from step t to t-1,
// ∂ℒ/∂h^<t-1> = α^<t> ⊙ λ^<t> + β^<t> with λ^<t> = ∂ℒ/∂h^<t> (given plus carried) —
// affine and diagonal in λ whenever the forward's state Jacobian is diagonal (a
// linear-diagonal state, and also IndRNN or the 2018 SRU, whose forward is not
// linear): the reverse scan λ^<t-1> = g^<t-1> + α^<t> ⊙ λ^<t> + β^<t>. Everything
// else of the backward (∂a = λ ⊙ h^<t-1>, ∂b = λ, and through them the
// parameters') reads λ only and runs for all steps at once after the loop.
//
// A cell with no such state gets no rewrite at all, so its lowering is exactly
// what it was.

import type { CompiledCell } from '../compile.ts';
import type { Graph } from '../ir/graph.ts';
import { Builder, reachable } from '../ir/graph.ts';
import type { ScanNote } from '../passes/linearity.ts';
import { carriedUnder, linearity, prevLeaf, stronglyConnected } from '../passes/linearity.ts';

/** One scanned recurrence of a rewritten graph: the carried leaf and its coefficients (null: a = 1, or b = 0). */
export interface ScanRecurrence {
  readonly state: string;
  /** The root carried to the next step: the state's update (forward), ∂ℒ/∂state^<t-1> (backward). */
  readonly root: number;
  /** The leaf it is affine in: state^<t-1> (forward), the state's cotangent λ^<t> (backward). */
  readonly leaf: number;
  readonly a: number | null;
  readonly b: number | null;
  /** The states of earlier stages whose carried values its coefficients read (empty unless staged). */
  readonly after: readonly string[];
}

export interface ScanForms {
  readonly forward: Graph;
  readonly backward: Graph;
  /** The scanned recurrences of each graph (empty: that pass runs as before). */
  readonly fwd: readonly ScanRecurrence[];
  readonly bwd: readonly ScanRecurrence[];
  /**
   * Staged passes (`staged: true`, and only when a scanned state needs an earlier
   * state's whole sequence): the states whose carried values each stage computes,
   * in order; the last stage also computes every other root. A stage reads the
   * carried values of earlier stages as sequences (they are done), so mLSTM's C and
   * n are scans once m has run: forward [[m], [C, n]].
   */
  readonly stages?: { readonly forward: readonly (readonly string[])[]; readonly backward: readonly (readonly string[])[] };
}

export interface ScanOptions {
  /** Let a scanned state's coefficients read states computed in an earlier stage (a lowering that runs the stages one after the other). */
  readonly staged?: boolean;
}

/** An affine form a·leaf + b in the leaf; 'one' and 'zero' as themselves so no constant node is made for them. */
interface Affine {
  readonly a: number | 'one' | 'zero';
  readonly b: number | 'zero';
}

/**
 * The scans of a compiled cell's step graphs, or null when it has none (it is
 * not a step cell, or no state is a diagonal linear recurrence forward or back).
 */
export function scanForms(cell: CompiledCell, opts: ScanOptions = {}): ScanForms | null {
  if (cell.typed.mode !== 'step') return null;
  const verdicts = linearity(cell.forward);
  const linear = verdicts.filter((v) => v.kind === 'linear-diagonal').map((v) => v.state);
  const diagonal = verdicts.filter((v) => v.kind === 'linear-diagonal' || v.kind === 'diagonal-jacobian').map((v) => v.state);
  const staged = opts.staged === true;

  const fwdFind = (g: Graph, s: string) => ({
    root: g.roots.find((r) => r.role === 'state' && r.name === s && r.step === undefined)?.id,
    leaf: g.nodes.find((n) => n.op === 'prev' && n.attrs.name === s && n.attrs.step === undefined)?.id,
  });
  const bwdFind = (g: Graph, s: string) => ({
    root: g.roots.find((r) => r.role === 'grad' && r.of === 'prev' && r.name === s && r.step === undefined)?.id,
    leaf: g.nodes.find((n) => n.op === 'cot' && n.attrs.name === `state:${s}` && n.attrs.step === undefined)?.id,
  });
  const bwdCarried = (op: string, name: string) => (op === 'cot' && name.startsWith('state:') ? name.slice('state:'.length) : null);
  const states = cell.typed.states.map((s) => s.name);
  const f = staged ? stagedRewrite(cell.forward, states, linear, fwdFind, prevLeaf) : { ...rewrite(cell.forward, linear, fwdFind, prevLeaf, noReads), stages: [states] };
  const b = staged ? stagedRewrite(cell.backward, states, diagonal, bwdFind, bwdCarried) : { ...rewrite(cell.backward, diagonal, bwdFind, bwdCarried, noReads), stages: [states] };
  if (f.scans.length === 0 && b.scans.length === 0) return null;
  const stages = f.stages.length > 1 || b.stages.length > 1 ? { stages: { forward: f.stages, backward: b.stages } } : {};
  return { forward: f.graph, backward: b.graph, fwd: f.scans, bwd: b.scans, ...stages };
}

type Find = (g: Graph, s: string) => { root?: number; leaf?: number };
/** The state whose carried leaf a node is (`prev h`, `cot state:h`), or null. */
type CarriedLeaf = (op: string, name: string) => string | null;
/** Unstaged: a scan's coefficients read no carried leaf at all. */
const noReads = (_s: string, reads: ReadonlySet<string>) => reads.size === 0;

/** What --explain says of the scans (compiler/passes/linearity.ts): each scanned state and the states it waits for. */
export function scanNote(s: ScanForms | null): ScanNote {
  const of = (rs: readonly ScanRecurrence[] | undefined) => new Map((rs ?? []).map((r) => [r.state, r.after]));
  return { forward: of(s?.fwd), backward: of(s?.bwd) };
}

/**
 * Stages of a pass: the strongly connected components of "the carried root of X
 * reads the carried leaf of Y", dependencies first; a component runs in the stage
 * of what it reads, and one stage later when a scan in it reads an earlier state
 * in its coefficients (those must be whole sequences before the scan starts). A
 * candidate whose coefficients read its own component is not a scan.
 */
function stagedRewrite(g: Graph, states: readonly string[], candidates: readonly string[], find: Find, carried: CarriedLeaf): { graph: Graph; scans: ScanRecurrence[]; stages: string[][] } {
  const probe = rewrite(g, candidates, find, carried, () => true);
  const reads = new Map(probe.reads);
  const deps = new Map(states.map((s) => {
    const root = find(g, s).root;
    return [s, root === undefined ? new Set<string>() : carriedUnder(g.nodes, root, carried)];
  }));
  const level = new Map<string, number>();
  const scanned = new Set<string>();
  for (const comp of stronglyConnected(states, (s) => [...deps.get(s)!].filter((x) => states.includes(x)))) {
    const C = new Set(comp);
    let at = 0;
    for (const s of comp) {
      const r = reads.get(s);
      const scan = r !== undefined && ![...r].some((y) => C.has(y));
      if (scan) scanned.add(s);
      for (const y of deps.get(s)!) if (!C.has(y)) at = Math.max(at, level.get(y)! + (scan && r!.has(y) ? 1 : 0));
    }
    for (const s of comp) level.set(s, at);
  }
  const count = Math.max(0, ...level.values()) + 1;
  const stages = Array.from({ length: count }, (_, k) => states.filter((s) => level.get(s) === k));
  const out = rewrite(g, candidates.filter((s) => scanned.has(s)), find, carried, (s, r) => [...r].every((y) => level.get(y)! < level.get(s)!));
  return { graph: out.graph, scans: out.scans, stages };
}

/**
 * Rewrite each candidate's carried root as a ⊙ leaf + b where it is affine and
 * diagonal in its leaf and `allow` accepts the states whose carried leaves its
 * coefficients read; the graph is returned pruned to what its roots read, and for
 * every candidate with an affine form the states its coefficients read.
 */
function rewrite(g: Graph, candidates: readonly string[], find: Find, carried: CarriedLeaf, allow: (state: string, reads: ReadonlySet<string>) => boolean): { graph: Graph; scans: ScanRecurrence[]; reads: Map<string, ReadonlySet<string>> } {
  const bld = new Builder(g);
  const found: { state: string; old: number; root: number; leaf: number; a: number | null; b: number | null; after: string[] }[] = [];
  const readsOf = new Map<string, ReadonlySet<string>>();
  for (const s of candidates) {
    const { root, leaf } = find(g, s);
    if (root === undefined || leaf === undefined) continue;
    const form = affine(g, bld, leaf, root);
    if (form === null || form.a === 'zero') continue;
    const a = form.a === 'one' ? null : form.a, b = form.b === 'zero' ? null : form.b;
    const reads = new Set<string>();
    for (const c of [a, b]) if (c !== null) for (const x of carriedUnder(bld.nodes, c, carried)) reads.add(x);
    readsOf.set(s, reads);
    if (!allow(s, reads)) continue;
    let next = a === null ? leaf : bld.node('mul', [a, leaf]);
    if (b !== null) next = bld.node('add', [next, b]);
    if (!shapeSame(bld.shape(next), g.nodes[root]!.shape)) continue;
    found.push({ state: s, old: root, root: next, leaf, a, b, after: [...reads] });
  }
  if (found.length === 0) return { graph: g, scans: [], reads: readsOf };
  const newRoot = new Map(found.map((x) => [x.old, x.root]));
  // The coefficients are kept alive as roots until pruning has renumbered them.
  const keep = found.flatMap((x) => [x.a, x.b].filter((c): c is number => c !== null));
  // Every root on the old node moves (an output that is the state under another name reads the same value).
  const roots = g.roots.map((r) => (newRoot.has(r.id) ? { ...r, id: newRoot.get(r.id)! } : r));
  const { graph, map } = prune(bld, roots, keep);
  const at = (id: number | null) => (id === null ? null : map.get(id)!);
  return { graph, scans: found.map((x) => ({ state: x.state, root: map.get(x.root)!, leaf: map.get(x.leaf)!, a: at(x.a), b: at(x.b), after: x.after })), reads: readsOf };
}

const shapeSame = (x: Graph['nodes'][number]['shape'], y: Graph['nodes'][number]['shape']) =>
  x.batch === y.batch && x.dims.length === y.dims.length && x.dims.every((d, i) => JSON.stringify(d) === JSON.stringify(y.dims[i]));

/**
 * `root` as a·leaf + b, through add, sub, neg and products and quotients with one
 * factor (the numerator) that depends on the leaf; null when any other op, or a
 * change of shape, lies between them. New nodes go into `bld`.
 */
function affine(g: Graph, bld: Builder, leaf: number, root: number): Affine | null {
  // The nodes between the leaf and the root: those the root reads that read the leaf.
  const upstream = reachable(g, [root]);
  const dependent = new Set<number>([leaf]);
  for (const n of g.nodes) if (n.id > leaf && upstream.has(n.id) && n.inputs.some((x) => dependent.has(x))) dependent.add(n.id);
  if (!dependent.has(root)) return null;
  const leafShape = g.nodes[leaf]!.shape;
  const forms = new Map<number, Affine>([[leaf, { a: 'one', b: 'zero' }]]);
  const mul = (x: number | 'one' | 'zero', y: number): number | 'zero' => (x === 'zero' ? 'zero' : x === 'one' ? y : bld.node('mul', [x, y]));
  const div = (x: number | 'one' | 'zero', y: number): number | 'zero' => (x === 'zero' ? 'zero' : bld.node('div', [x === 'one' ? bld.const(1) : x, y]));
  const neg = <T extends number | 'one' | 'zero'>(x: T): number | 'zero' => (x === 'zero' ? 'zero' : x === 'one' ? bld.node('neg', [bld.const(1)]) : bld.node('neg', [x as number]));
  const sum = (x: number | 'one' | 'zero', y: number | 'one' | 'zero', op: 'add' | 'sub'): number | 'one' | 'zero' => {
    if (y === 'zero') return x;
    if (x === 'zero') return op === 'add' ? y : neg(y);
    const num = (v: number | 'one') => (v === 'one' ? bld.const(1) : v);
    return bld.node(op, [num(x), num(y)]);
  };
  for (const n of g.nodes) {
    if (n.id <= leaf || !dependent.has(n.id)) continue;
    if (!shapeSame(n.shape, leafShape)) return null;
    const [x, y] = n.inputs as [number, number | undefined];
    const fx = forms.get(x), fy = y === undefined ? undefined : forms.get(y);
    let out: Affine;
    switch (n.op) {
      case 'add': case 'sub': {
        const A = fx ?? { a: 'zero' as const, b: x }, Bf = fy ?? { a: 'zero' as const, b: y! };
        const bb = sum(A.b, Bf.b, n.op);
        if (bb === 'one') return null;
        out = { a: sum(A.a, Bf.a, n.op), b: bb };
        break;
      }
      case 'neg': out = { a: neg(fx!.a), b: neg(fx!.b) }; break;
      case 'mul': {
        if (fx && fy) return null;
        const [f, other] = fx ? [fx, y!] : [fy!, x];
        out = { a: f.a === 'zero' ? 'zero' : mul(f.a, other), b: mul(f.b, other) };
        break;
      }
      case 'div': {
        if (!fx || fy) return null;
        out = { a: div(fx.a, y!), b: div(fx.b, y!) };
        break;
      }
      default: return null;
    }
    forms.set(n.id, out);
  }
  return forms.get(root) ?? null;
}

/** The graph of what the roots (and `keep`) read, renumbered; and where each old id went. */
function prune(bld: Builder, roots: Graph['roots'], keep: readonly number[]): { graph: Graph; map: Map<number, number> } {
  const live = new Set<number>([...roots.map((r) => r.id), ...keep]);
  for (let i = bld.nodes.length - 1; i >= 0; i--) if (live.has(i)) for (const x of bld.nodes[i]!.inputs) live.add(x);
  const out = new Builder();
  const map = new Map<number, number>();
  for (const n of bld.nodes) {
    if (!live.has(n.id)) continue;
    const id = out.node(n.op, n.inputs.map((x) => map.get(x)!), n.attrs, n.span);
    map.set(n.id, id);
    const label = bld.labels[n.id];
    if (label !== undefined) out.label(id, label);
  }
  return { graph: out.finish(roots.map((r) => ({ ...r, id: map.get(r.id)! }))), map };
}

/**
 * The coefficients alone, as a graph of their own: roots `a:state` and `b:state`
 * (outputs; a coefficient that is 1 or 0 has none), so a backend can compute them
 * for all steps at once as one step graph over T·B rows.
 */
export function coefficientGraph(g: Graph, scans: readonly ScanRecurrence[]): Graph {
  const roots: Graph['roots'][number][] = [];
  for (const s of scans) {
    if (s.a !== null) roots.push({ name: `a:${s.state}`, role: 'output', id: s.a });
    if (s.b !== null) roots.push({ name: `b:${s.state}`, role: 'output', id: s.b });
  }
  return prune(new Builder(g), roots, []).graph;
}

/** The part of a forward graph that computes the given states' carried values alone (a stage a backend steps through time on its own). */
export function stateGraph(g: Graph, states: readonly string[]): Graph {
  return prune(new Builder(g), g.roots.filter((r) => r.role === 'state' && r.step === undefined && states.includes(r.name)), []).graph;
}

/**
 * Whether a node is positive by its form — σ, exp, softplus, a positive constant,
 * c − σ(…) with c ≥ 1, and sums, products and quotients of positive values — so
 * that a scan may carry its logarithm (the log-space scan of a decay a^<t>).
 */
export function positiveByForm(g: Graph, id: number): boolean {
  const n = g.nodes[id]!;
  const pos = (x: number) => positiveByForm(g, x);
  switch (n.op) {
    case 'sigmoid': case 'exp': case 'softplus': return true;
    case 'const': return n.attrs.value! > 0;
    case 'add': case 'mul': case 'div': return pos(n.inputs[0]!) && pos(n.inputs[1]!);
    case 'bcast': return pos(n.inputs[0]!);
    case 'sub': {
      const [x, y] = n.inputs.map((i) => g.nodes[i]!) as [typeof n, typeof n];
      return x.op === 'const' && x.attrs.value! >= 1 && y.op === 'sigmoid';
    }
    default: return false;
  }
}
