// Which states of a cell are linear recurrences, h_t = a_t ⊙ h_{t−1} + b_t, with
// coefficients that do not depend on the state — the recurrences an associative
// scan can run in parallel over time — and why a state is not one.
//
// On the forward step graph: the states are grouped into the strongly connected
// components of "reads at t−1", taken in order (a component's coefficients may
// depend on the whole sequence of earlier components). Within a component S,
// every node on a path from a previous-state leaf of S to an update of S must be
//   add, sub, neg, a broadcast, a slice or concatenation (linear in each input),
//   a product (elementwise, matrix–vector, outer) with exactly one factor that
//   depends on S, a division whose denominator does not depend on S, or a
//   transpose or feature sum (linear);
// then S is linear. It is diagonal when S enters only through elementwise ops
// (each feature's recurrence is its own: a scan per feature); a matrix product or
// a feature sum mixes features (dense). A component that is not linear but whose
// state enters only through elementwise ops (IndRNN, SRU) has a diagonal state
// Jacobian: its backward through time is a linear, diagonal recurrence.

import type { Span } from '../../grammar/ast.ts';
import type { Graph, Node } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { spell } from '../../grammar/names.ts';
import { printExpr } from '../print/notation.ts';

export type Recurrence =
  /** h_t = a_t ⊙ h_{t−1} + b_t, feature by feature: a scan per feature. */
  | 'linear-diagonal'
  /** h_t = A_t h_{t−1} + b_t with features mixed (a matrix product or a sum over features). */
  | 'linear-dense'
  /** Nonlinear, but each feature of h_t depends only on the same feature of h_{t−1}: the backward is a diagonal scan. */
  | 'diagonal-jacobian'
  | 'nonlinear'
  /** The state does not read itself (nor a state that reads it) at t−1. */
  | 'not-recurrent';

export interface StateLinearity {
  readonly state: string;
  /** The states of its strongly connected component, in the cell's order. */
  readonly component: readonly string[];
  readonly kind: Recurrence;
  /** Why it is not linear (or not diagonal): the first node that breaks it, and where in the source. */
  readonly reason?: { readonly text: string; readonly span: Span | null };
}

/** Ops through which the state passes linearly, feature by feature. */
const LINEAR_ELEMENTWISE: ReadonlySet<OpName> = new Set(['add', 'sub', 'neg', 'bcast']);
/** Ops that are linear in each input but move or mix features. */
const LINEAR_STRUCTURAL: ReadonlySet<OpName> = new Set(['slice', 'concat', 'pad', 'transpose', 'sum_feat', 'sum_batch']);
/** Products: linear when exactly one factor depends on the state. */
const PRODUCTS: ReadonlySet<OpName> = new Set(['mul', 'matvec', 'matmul', 'outer', 'outer_each', 'matvec_each', 'vecmat_each']);
/** What mixes features (so a linear recurrence through it is dense, and its Jacobian not diagonal). */
const MIXING: ReadonlySet<OpName> = new Set(['matvec', 'matmul', 'outer', 'sum_feat', 'softmax', 'concat', 'slice', 'pad', 'transpose', 'outer_each', 'matvec_each', 'vecmat_each']);

/** The linearity of every state of a step graph, in the order of its state roots. */
export function linearity(g: Graph): StateLinearity[] {
  const updates = g.roots.filter((r) => r.role === 'state');
  if (updates.some((r) => r.step !== undefined)) {
    // An unrolled cell has no recurrence to scan: its steps are written out.
    return updates.filter((r) => r.step === undefined).map((r) => ({ state: r.name, component: [r.name], kind: 'not-recurrent' }));
  }
  const names = updates.map((r) => r.name);
  const reads = new Map(updates.map((r) => [r.name, carriedUnder(g.nodes, r.id, prevLeaf)]));
  const components = stronglyConnected(names, (s) => [...reads.get(s)!].filter((x) => names.includes(x)));
  const out = new Map<string, StateLinearity>();
  for (const comp of components) {
    const S = new Set(comp);
    const recurrent = comp.length > 1 || reads.get(comp[0]!)!.has(comp[0]!);
    const verdict = recurrent
      ? classify(g, S, updates.filter((r) => S.has(r.name)).map((r) => r.id))
      : { kind: 'not-recurrent' as const };
    const ordered = names.filter((n) => S.has(n));
    for (const s of ordered) out.set(s, { state: s, component: ordered, ...verdict });
  }
  return names.map((n) => out.get(n)!);
}

/**
 * The states whose carried leaves a node depends on, over a graph's or a
 * builder's nodes: `carried` names the state a leaf carries (the forward's
 * `prev`, the backward's state cotangent), or null.
 */
export function carriedUnder(nodes: readonly Node[], root: number, carried: (op: string, name: string) => string | null): Set<string> {
  const seen = new Set<number>();
  const found = new Set<string>();
  const stack = [root];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = nodes[id]!;
    const s = carried(n.op, n.attrs.name ?? '');
    if (s !== null) found.add(s);
    stack.push(...n.inputs);
  }
  return found;
}

/** The forward's carried leaves: `x^<t-1>` read as `prev`. */
export const prevLeaf = (op: string, name: string) => (op === 'prev' ? name : null);

/** Tarjan's strongly connected components, dependencies first, each in the given order of names. */
export function stronglyConnected(names: readonly string[], deps: (s: string) => string[]): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    on.add(v);
    for (const w of deps(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      out.push(names.filter((n) => comp.includes(n)));
    }
  };
  for (const v of names) if (!index.has(v)) visit(v);
  return out;
}

type Verdict = Pick<StateLinearity, 'kind' | 'reason'>;

/** Linear, diagonal, or why not: every node between S's previous values and S's updates. */
function classify(g: Graph, S: ReadonlySet<string>, updateIds: readonly number[]): Verdict {
  // Nodes that depend on S at t−1 (ids are topological: inputs first).
  const tainted = new Set<number>();
  for (const n of g.nodes) {
    if ((n.op === 'prev' && S.has(n.attrs.name!)) || n.inputs.some((i) => tainted.has(i))) tainted.add(n.id);
  }
  // Of those, the ones an update of S reads: the path from h_{t−1} to h_t.
  const onPath = new Set<number>();
  const stack = updateIds.filter((id) => tainted.has(id));
  while (stack.length) {
    const id = stack.pop()!;
    if (onPath.has(id)) continue;
    onPath.add(id);
    for (const i of g.nodes[id]!.inputs) if (tainted.has(i)) stack.push(i);
  }
  let nonlinear: Node | null = null, nonlinearWhy = '';
  let mixing: Node | null = null;
  for (const id of [...onPath].sort((a, b) => a - b)) {
    const n = g.nodes[id]!;
    if (n.op === 'prev') continue;
    const dependent = n.inputs.filter((i) => tainted.has(i));
    if (mixing === null && MIXING.has(n.op)) mixing = n;
    if (nonlinear !== null || LINEAR_ELEMENTWISE.has(n.op) || LINEAR_STRUCTURAL.has(n.op)) continue;
    if (PRODUCTS.has(n.op)) {
      if (dependent.length > 1) { nonlinear = n; nonlinearWhy = `a product of two factors that both depend on ${stateList(S)} (${dependent.map((i) => valueText(g, i)).join(' and ')})`; }
    } else if (n.op === 'div') {
      if (tainted.has(n.inputs[1]!)) { nonlinear = n; nonlinearWhy = `a division by a value that depends on ${stateList(S)} (${valueText(g, n.inputs[1]!)})`; }
    } else {
      nonlinear = n;
      nonlinearWhy = `${opText(n)} of a value that depends on ${stateList(S)} (${dependent.map((i) => valueText(g, i)).join(', ')})`;
    }
  }
  if (nonlinear !== null) {
    const reason = { text: nonlinearWhy, span: nonlinear.span };
    return mixing === null ? { kind: 'diagonal-jacobian', reason } : { kind: 'nonlinear', reason };
  }
  if (mixing !== null) return { kind: 'linear-dense', reason: { text: `${opText(mixing)} mixes the features of ${stateList(S)}`, span: mixing.span } };
  if (S.size > 1) return { kind: 'linear-dense', reason: { text: `the states ${[...S].join(', ')} feed each other`, span: null } };
  return { kind: 'linear-diagonal' };
}

/** A value as notation (`f̃ + m^⟨t−1⟩`), named values by their names, deep ones cut short. */
function valueText(g: Graph, id: number): string {
  const labels = g.labels;
  return printExpr(id, { g, sp: 'unicode', maxDepth: 5, nameOf: (x) => (labels[x] !== undefined ? spell(labels[x], 'unicode') : undefined) });
}

const stateList = (S: ReadonlySet<string>) => [...S].map((s) => `${s}^<t-1>`).join(', ');

const OP_TEXT: Partial<Record<OpName, string>> = {
  matvec: 'a matrix–vector product', matmul: 'a matrix product', outer: 'an outer product', sum_feat: 'a sum over features',
  concat: 'a concatenation', slice: 'a slice', pad: 'a padding', transpose: 'a transpose', pow: 'a power', softmax: 'softmax',
  outer_each: 'an outer product per example', matvec_each: 'a matrix–vector product per example', vecmat_each: 'a vector–matrix product per example',
};
const opText = (n: Node): string => OP_TEXT[n.op] ?? n.op;

const KIND_TEXT: Readonly<Record<Recurrence, (s: string) => string>> = {
  'linear-diagonal': (s) => `linear, diagonal: ${s}^<t> = a^<t> ⊙ ${s}^<t-1> + b^<t> feature by feature (a scan per feature)`,
  'linear-dense': (s) => `linear, not diagonal: ${s}^<t> = A^<t> ${s}^<t-1> + b^<t>`,
  'diagonal-jacobian': () => 'not linear, but each feature reads only its own previous value (its backward through time is a diagonal linear recurrence)',
  nonlinear: () => 'not linear',
  'not-recurrent': () => 'not a recurrence (it does not read itself at t-1)',
};

/**
 * What the lowering makes of each state (compiler/lower/scan.ts), for the
 * explanation: the states scanned forward and back, each with the earlier states
 * whose whole sequences its coefficients read (the stages it waits for).
 */
export interface ScanNote {
  readonly forward: ReadonlyMap<string, readonly string[]>;
  readonly backward: ReadonlyMap<string, readonly string[]>;
}

/**
 * The verdicts as lines for `celda check --explain`: each state, its component
 * when it has company, and why it is not linear (or not diagonal), with the
 * place in the source as `where(span)` writes it (`cell.celda:4:11`); with
 * `scans`, whether it runs as a scan, and after which states.
 */
export function explainLinearity(verdicts: readonly StateLinearity[], where: (span: Span) => string, scans?: ScanNote): string[] {
  return verdicts.map((v) => {
    const company = v.component.length > 1 ? ` (with ${v.component.filter((s) => s !== v.state).join(', ')})` : '';
    const why = v.reason ? `: ${v.reason.text}${v.reason.span ? ` at ${where(v.reason.span)}` : ''}` : '';
    return `${v.state}${company}: ${KIND_TEXT[v.kind](v.state)}${why}${scans ? scanText(v, scans) : ''}`;
  });
}

function scanText(v: StateLinearity, scans: ScanNote): string {
  const f = scans.forward.get(v.state), b = scans.backward.get(v.state);
  const dir = (d: string, after: readonly string[]) => (after.length ? `${d} after ${after.join(', ')}` : d);
  const parts = [...(f ? [dir('forward', f)] : []), ...(b ? [dir('back', b)] : [])];
  const waits = [...new Set([...(f ?? []), ...(b ?? [])])];
  if (parts.length) return `; scanned ${parts.join(' and ')}${waits.length ? ` (a stage of its own: its coefficients read the whole sequence of ${waits.join(', ')})` : ''}`;
  if (v.kind === 'linear-diagonal') return '; not scanned: its coefficients depend on its own component at t-1';
  if (v.kind === 'diagonal-jacobian') return '; its backward is not scanned: the carried cotangent reads another state\'s of the same step';
  return '';
}
