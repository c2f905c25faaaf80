// emit/gpujs/scan.ts: a pass whose recurrences are scans (compiler/lower/scan.ts)
// as gpu.js kernels whose number does not depend on T. Pure, like plan.ts: it
// returns kernel sources and says what each reads; runtime/backends/gpujs-scan.ts
// runs them.
//
//   1. the coefficients a, b (forward) or α, β (backward) of every scanned state,
//      for all T·B rows at once: the graph of the coefficients alone planned as
//      one step over T·B rows (plan.ts);
//   2. the scan itself, chunked over time, per state. Time is cut into chunks of
//      L ≈ (2T)^⅓ steps (L minimises T·L, the local scans' work per lane, plus
//      (T/L)², the carries'). Forward, h_t = a_t h_{t−1} + b_t:
//        local  E_t = b_t + a_t E_{t−1} from 0 at the chunk's first step,
//        decay  P_t = a_t ⋯ a_{start}          (one thread per row, ≤ L steps each)
//        carry  H_c = P_end(c−1) H_{c−1} + E_end(c−1), H_0 = h⁰ (one thread per chunk)
//        fix-up h_t = P_t H_c + E_t
//      Backward, the same from each chunk's last step down, on
//      λ_t = (g_t + β_{t+1}) + α_{t+1} λ_{t+1} (no α, β after the last step),
//      its fix-up returning λ − g (what is carried into each step besides the
//      given cotangent); four kernels per state and pass (three when a is 1),
//      whatever T;
//   3. the pass's whole step graph planned over T·B rows (plan.ts), reading the
//      scanned values as all-steps arrays: the forward's outputs from the states
//      at t (the scans' values, `prev now:state`: no kernel computes a state
//      again) and at t−1 (shifted by a step, where an output reads that), the
//      backward's gradients from g (read at the segment's offset) and λ − g as
//      the carried cotangent.
// Row r of a [n, T·B] array is step ⌊r / B⌋, example r mod B (the layout of the
// all-steps inputs). T, B and L are literals in the sources: kernels per T.
// A pass too long for one kernel's rows runs as segments of T
// (runtime/backends/gpujs-scan.ts), each a plan of this kind over its steps;
// `handover` passes the state (the backward's β + α λ) from one to the next.
//
// The log-space form (`--scan log`, decays positive by their form) carries
// E = E⁺ − E⁻ as L± = log E± (floored at log 1e-37, so no −∞ reaches a kernel)
// and P as log P; a step is L± ← logaddexp(log a + L±, log b±): no product of
// decays underflows or overflows. Its fix-up returns exp L⁺ − exp L⁻.

import type { Graph } from '../../ir/graph.ts';
import { Builder, attrsKey, reachable } from '../../ir/graph.ts';
import type { ScanRecurrence } from '../../lower/scan.ts';
import { coefficientGraph } from '../../lower/scan.ts';
import type { PlanOptions, StepPlan } from './base.ts';
import { planStep } from './plan.ts';

/**
 * What a scan kernel reads: the state's coefficient a or b; `given`: h⁰ [n, B]
 * (forward) or the given cotangent g of all T steps (backward, read from row
 * `offset`, a number: the first row of this segment); `next`: in a segment that
 * is not the last, the backward's β_{t+1} + α_{t+1} λ_{t+1} past its last step
 * [n, B]; or an earlier kernel of the same state (-1: its last, the scanned values).
 */
export type ScanRead = 'a' | 'b' | 'given' | 'offset' | 'next' | { readonly kernel: number };

/** A scan kernel: its source, output and arguments in order. */
export interface ScanKernel {
  readonly name: string;
  readonly output: readonly number[];
  readonly source: string;
  readonly reads: readonly ScanRead[];
}

export interface StateScan {
  readonly state: string;
  /** The kernels of plan `coefficients` that compute a (α) and b (β); null: 1, or 0. */
  readonly a: number | null;
  readonly b: number | null;
  /** Run in order; the last one's output is the scanned state (forward) or λ − g (backward: the cotangent carried into each step besides the given one), [n, T·B]. */
  readonly kernels: readonly ScanKernel[];
  /**
   * Segments (T·B rows beyond the device's limit, runtime/backends/gpujs-scan.ts):
   * forward, the state at the segment's last step, (H) → [n, B], the next
   * segment's h⁰; backward, β + α λ at the segment's first step, (a?, b?, λ − g,
   * g, offset) → [n, B], the `next` of the segment before it — the first
   * segment's is the initial state's gradient. Null where no segment of this
   * length hands over (planScan's `link.handover` false): a forward of one
   * segment, the forward's last segment.
   */
  readonly handover: ScanKernel | null;
}

export interface ScanPlan {
  readonly direction: 'forward' | 'backward';
  readonly form: 'plain' | 'log';
  readonly steps: number;
  /** Steps per chunk. */
  readonly chunk: number;
  /** The kernels that read no scanned value (the coefficients and what else they share with the step graph), run first; roots: the coefficients. */
  readonly coefficients: StepPlan;
  readonly states: readonly StateScan[];
  /** The rest of the step graph over all T·B rows; its kernel indices count on from coefficients' (planShared). */
  readonly whole: StepPlan;
}

/**
 * How the segments of one length of a pass in segments (runtime/backends/gpujs-scan.ts)
 * link to their neighbours: `handover`, whether one of them hands its state over
 * (StateScan.handover); `next`, backward, whether one of them ends before the
 * last step and so reads the `next` of the segment after it.
 */
export interface SegmentLink {
  readonly handover: boolean;
  readonly next: boolean;
}

/** A pass of one segment: nothing handed over, nothing read from a segment after. */
export const ALONE: SegmentLink = { handover: false, next: false };

/** Steps per chunk at T steps: about (2T)^⅓, at least 1, at most T. */
export function chunkLength(steps: number): number {
  return Math.min(steps, Math.max(1, Math.round(Math.cbrt(2 * steps))));
}

/** How a kernel reads a coefficient from the output layout of the kernel that made it. */
const reader = (output: readonly number[] | 'unit') => (v: string, row: string): string => {
  if (output === 'unit') return '1.0';
  const feat = output[0] === 1 ? '0' : 'i';
  return output.length === 2 ? `${v}[${row}][${feat}]` : `${v}[${feat}]`;
};

const fn = (params: readonly string[], body: readonly string[]) => `function (${params.join(', ')}) {\n${body.map((l) => `  ${l}`).join('\n')}\n}`;

/** log 1e-37: the log of zero, kept finite so that logaddexp never computes −∞ − (−∞). */
const LOG_ZERO = '-85.19564844';
const logOf = (e: string, sign: 1 | -1) => `Math.log(Math.max(${sign < 0 ? `-(${e})` : e}, 1e-37))`;
/** Statements setting `v` to logaddexp(x, y) (x, y: variable names). */
const logaddexp = (v: string, x: string, y: string) => [`const m_${v} = Math.max(${x}, ${y});`, `${v} = m_${v} + Math.log(Math.exp(${x} - m_${v}) + Math.exp(${y} - m_${v}));`];

/**
 * The scan kernels of a pass: `g` its step graph (rewritten by lower/scan.ts),
 * `scans` its scanned states, `n` each state's width, over `steps` steps of
 * `opts.batch` examples. Throws GpujsPlanError where plan.ts does (a kernel over
 * T·B rows larger than the device takes).
 */
export function planScan(g: Graph, scans: readonly ScanRecurrence[], direction: 'forward' | 'backward', steps: number, n: ReadonlyMap<string, number>, opts: PlanOptions, form: 'plain' | 'log' = 'plain', link: SegmentLink = ALONE, maxplus: ReadonlySet<string> = new Set()): ScanPlan {
  const B = opts.batch, R = steps * B;
  const all: PlanOptions = { ...opts, batch: R, mode: 'loop', rows: opts.cpu === true };
  const { coefficients, whole } = planShared(g, scans, direction, all);
  const kernelOf = (name: string) => coefficients.roots.find((r) => r.root.name === name)?.kernel ?? null;
  const L = chunkLength(steps);
  const states = scans.map((s): StateScan => {
    const a = s.a === null ? null : kernelOf(`a:${s.state}`), b = s.b === null ? null : kernelOf(`b:${s.state}`);
    const shape = { B, T: steps, L, w: n.get(s.state)!, direction, form,
      readA: reader(a === null ? 'unit' : coefficients.kernels[a]!.output), readB: reader(b === null ? 'unit' : coefficients.kernels[b]!.output),
      hasA: a !== null, hasB: b !== null, name: s.state, next: link.next, maxplus: maxplus.has(s.state) };
    if (shape.maxplus && (direction !== 'forward' || a === null || b === null)) throw new Error('planScan: a max-plus scan runs forward, with both coefficients');
    return { state: s.state, a, b, kernels: form === 'log' && !shape.maxplus ? logKernels(shape) : plainKernels(shape), handover: link.handover ? handover(shape) : null };
  });
  return { direction, form, steps, chunk: L, coefficients, states, whole };
}

/**
 * The coefficients and the whole step graph planned as one graph (the step graph
 * with roots `a:state`, `b:state` added), so a product both read — minGRU's W_z x
 * in a, b, and the backward's gradients — is one kernel, computed once. Its
 * kernels split in two: those that read no scanned value (the forward's states
 * at t−1, the backward's carried cotangent), run before the scans, and the rest,
 * after them. `whole`'s kernel indices (its args' and roots') count on from
 * `coefficients`' kernels: it runs with their outputs before its own.
 */
function planShared(g0: Graph, scans0: readonly ScanRecurrence[], direction: 'forward' | 'backward', all: PlanOptions): { coefficients: StepPlan; whole: StepPlan } {
  const coefRoots = coefficientGraph(g0, scans0).roots;
  // backward: ∂state^<t-1> is the scan's (λ − g one step on); the initial state's, β + α λ at the first step, is the first segment's hand-over
  const { g, scans, old: idIn } = direction === 'forward' ? readScanned(g0, scans0)
    : { g: { ...g0, roots: g0.roots.filter((r) => !(r.role === 'grad' && r.of === 'prev' && scans0.some((s) => s.state === r.name))) }, scans: scans0, old: (id: number) => id };
  // coefficientGraph prunes: its roots name the coefficients; their ids here are the scans'
  const extra = scans.flatMap((s) => [...(s.a !== null ? [{ name: `a:${s.state}`, role: 'output' as const, id: s.a }] : []), ...(s.b !== null ? [{ name: `b:${s.state}`, role: 'output' as const, id: s.b }] : [])]);
  if (extra.length !== coefRoots.length) throw new Error('planShared: the coefficients disagree with coefficientGraph');
  const scanned = new Set(scans.map((s) => s.state));
  // forward: every product per example that reads no scanned state is a kernel of its own, so the backward can read it (runtime/backends/gpujs.ts)
  const late = (id: number, memo: boolean[] = []): boolean => {
    if (memo[id] !== undefined) return memo[id]!;
    const n = g.nodes[id]!;
    return (memo[id] = (n.op === 'prev' && (scanned.has(n.attrs.name!) || n.attrs.name!.startsWith(NOW))) || n.inputs.some((x) => late(x, memo)));
  };
  const memo: boolean[] = [];
  const products = direction === 'forward' ? g.nodes.filter((n) => (n.op === 'matvec' || n.op === 'matmul') && n.shape.batch && !late(n.id, memo)).map((n) => n.id) : [];
  const plan = planStep({ ...g, roots: [...g.roots, ...extra] }, products.length > 0 ? { ...all, materialize: new Set(products) } : all);
  const after: boolean[] = [];
  plan.kernels.forEach((k, i) => {
    after[i] = k.args.some((a) => a.from === 'carry' || (direction === 'forward' && a.from === 'prev' && (scanned.has(a.name) || a.name.startsWith(NOW))) || (a.from === 'kernel' && after[a.index]!));
  });
  const order = [...plan.kernels.keys()].sort((a, b) => Number(after[a]) - Number(after[b]) || a - b);
  const at = new Map(order.map((old, i) => [old, i]));
  const kernels = order.map((old) => {
    const k = plan.kernels[old]!;
    return { ...k, node: k.node < 0 ? k.node : idIn(k.node), args: k.args.map((a) => (a.from === 'kernel' ? { from: 'kernel' as const, index: at.get(a.index)! } : a)) };
  });
  const early = after.filter((l) => !l).length;
  const roots = plan.roots.map((r) => ({ root: { ...r.root, id: idIn(r.root.id) }, kernel: at.get(r.kernel)! }));
  const isCoef = (r: (typeof roots)[number]) => extra.some((e) => e.name === r.root.name && idIn(e.id) === r.root.id && r.root.role === 'output');
  if (roots.some((r) => isCoef(r) && r.kernel >= early)) throw new Error('planShared: a coefficient reads a scanned value');
  return {
    coefficients: { kernels: kernels.slice(0, early), roots: roots.filter(isCoef) },
    whole: { kernels: kernels.slice(early), roots: roots.filter((r) => !isCoef(r)) },
  };
}

/** The name a forward's whole step graph reads a scanned state at t by (a `prev` leaf: the scan's values over the segment's rows, read at the row itself). */
export const NOW = 'now:';

/**
 * A forward's step graph reading each scanned state at t from its scan instead
 * of computing it again: the state's root node becomes a leaf `prev now:state`,
 * and the roots that were that node (the state, an output that is the state
 * under another name) are dropped — the scan holds them. `old`: a node's id in `g`.
 */
function readScanned(g: Graph, scans: readonly ScanRecurrence[]): { g: Graph; scans: ScanRecurrence[]; old: (id: number) => number } {
  const b = new Builder();
  const map = new Map<number, number>(), back = new Map<number, number>();
  const now = new Map(scans.map((s) => [s.root, s.state]));
  for (const n of g.nodes) {
    const state = now.get(n.id);
    const id = state !== undefined ? b.node('prev', [], { name: `${NOW}${state}`, shape: n.shape }) : b.node(n.op, n.inputs.map((x) => map.get(x)!), n.attrs, n.span);
    map.set(n.id, id);
    if (!back.has(id)) back.set(id, n.id);
    const label = g.labels[n.id];
    if (label !== undefined && state === undefined) b.label(id, label);
  }
  const m = (id: number) => map.get(id)!;
  const graph = b.finish(g.roots.filter((r) => !now.has(r.id)).map((r) => ({ ...r, id: m(r.id) })));
  return { g: graph, scans: scans.map((r) => ({ ...r, root: m(r.root), leaf: m(r.leaf), a: r.a === null ? null : m(r.a), b: r.b === null ? null : m(r.b) })), old: (id) => back.get(id)! };
}

interface Shape {
  readonly B: number; readonly T: number; readonly L: number; readonly w: number;
  readonly direction: 'forward' | 'backward'; readonly form: 'plain' | 'log';
  readonly readA: (v: string, row: string) => string; readonly readB: (v: string, row: string) => string;
  readonly hasA: boolean; readonly hasB: boolean; readonly name: string;
  /** Backward: whether a segment of this length may end before the last step (its local scan reads `next`). */
  readonly next: boolean;
  /** A max-plus recurrence h_t = max(a_t + h_{t−1}, b_t) (forward): the same kernels over (max, +) instead of (+, ×). */
  readonly maxplus: boolean;
}

const chunks = (x: Shape) => Math.ceil(x.T / x.L);

/** The parameters and reads of a local-scan kernel: a (when it is not 1), and for `withB` b (when not 0) and, backward, the given cotangent g. */
const coefParams = (x: Shape, withB: boolean): { params: string[]; reads: ScanRead[] } => {
  const params: string[] = [], reads: ScanRead[] = [];
  if (x.hasA) { params.push('a'); reads.push('a'); }
  if (withB && x.hasB) { params.push('b'); reads.push('b'); }
  if (withB && x.direction === 'backward') { params.push('g', 'o'); reads.push('given', 'offset'); }
  if (withB && x.direction === 'backward' && x.next) { params.push('nx'); reads.push('next'); }
  return { params, reads };
};

/**
 * A local scan over the steps of a row's chunk up to that row's step (forward:
 * from the chunk's start; backward: down from its end): `acc` starts at `init`,
 * and per step s (a row of the all-steps arrays) the statements `step` see `c`
 * (the decay) and, when `withB`, `e` (the added term) of that direction's recurrence.
 */
function localLoop(x: Shape, withB: boolean, init: string, step: readonly string[]): string[] {
  const { B, T, L } = x, R = T * B;
  const head = ['const r = this.thread.y;', 'const i = this.thread.x;', `const j = Math.floor(r / ${B});`, `const u = r - j * ${B};`, `const c0 = Math.floor(j / ${L}) * ${L};`, `let acc = ${init};`];
  if (x.direction === 'forward') {
    return [...head, `for (let k = 0; k < ${L}; k++) {`, '  const t = c0 + k;', '  if (t <= j) {', `    const s = t * ${B} + u;`,
      `    const c = ${x.readA('a', 's')};`, ...(withB ? [`    const e = ${x.hasB ? x.readB('b', 's') : '0.0'};`] : []),
      ...step.map((l) => `    ${l}`), '  }', '}', 'return acc;'];
  }
  // backward: λ_t = (g_t + β_{t+1}) + α_{t+1} λ_{t+1}; nothing after the last step
  return [...head, `for (let k = 0; k < ${L}; k++) {`, `  const t = c0 + ${L - 1} - k;`, `  if (t >= j && t <= ${T - 1}) {`, `    const s = t * ${B} + u;`,
    `    const q = s + ${B};`, `    const p = (q <= ${R - 1} ? q : s);`,
    `    const c = (q <= ${R - 1} ? ${x.readA('a', 'p')} : 0.0);`, ...(withB ? [`    const e = (q <= ${R - 1} ? g[o + s][i] + ${x.hasB ? x.readB('b', 'p') : '0.0'} : g[o + s][i]${x.next ? ' + nx[u][i]' : ''});`] : []),
    ...step.map((l) => `    ${l}`), '  }', '}', 'return acc;'];
}

/** The carry kernel, one thread per chunk: `acc` from `init` over the chunks before (forward) or after (backward) this one; `step` sees `s`, the row that chunk's values are read at (its last step forward, its first backward). */
function carryLoop(x: Shape, init: readonly string[], step: readonly string[]): string[] {
  const { B, L } = x, C = chunks(x);
  const head = ['const r = this.thread.y;', 'const i = this.thread.x;', `const d = Math.floor(r / ${B});`, `const u = r - d * ${B};`, ...init];
  if (x.direction === 'forward')
    return [...head, `for (let k = 0; k < ${C}; k++) {`, '  if (k < d) {', `    const s = (k * ${L} + ${L - 1}) * ${B} + u;`, ...step.map((l) => `    ${l}`), '  }', '}'];
  return [...head, `for (let k = 0; k < ${C}; k++) {`, `  const q = ${C - 1} - k;`, '  if (q > d) {', `    const s = q * ${L * B} + u;`, ...step.map((l) => `    ${l}`), '  }', '}'];
}

/** The fix-up's head: `h`, the row of this row's chunk in the carries. */
const fixHead = (x: Shape) => ['const r = this.thread.y;', 'const i = this.thread.x;', `const j = Math.floor(r / ${x.B});`, `const u = r - j * ${x.B};`, `const h = Math.floor(j / ${x.L}) * ${x.B} + u;`];

function plainKernels(x: Shape): ScanKernel[] {
  const out = [x.w, x.T * x.B], carryOut = [x.w, chunks(x) * x.B];
  const unit = !x.hasA && x.direction === 'forward';
  const e = coefParams(x, true), p = coefParams(x, false);
  const mp = x.maxplus;
  // (max, +): E from −∞ (−1e30, finite in float32), P a sum from 0
  const ks: ScanKernel[] = [{ name: `scanlocal_${x.name}`, output: out, reads: e.reads, source: fn(e.params, localLoop(x, true, mp ? '-1.0e30' : '0.0', [mp ? 'acc = Math.max(c + acc, e);' : 'acc = c * acc + e;'])) }];
  if (!unit) ks.push({ name: `scandecay_${x.name}`, output: out, reads: p.reads, source: fn(p.params, localLoop(x, false, mp ? '0.0' : '1.0', [mp ? 'acc = acc + c;' : 'acc = acc * c;'])) });
  const E = { kernel: 0 }, P = { kernel: 1 };
  const init = x.direction === 'forward' ? 'let acc = g[u][i];' : 'let acc = 0.0;';
  const carryParams = x.direction === 'forward' ? ['g'] : [];
  ks.push({ name: `scancarry_${x.name}`, output: carryOut, reads: [...(unit ? [E] : [P, E]), ...(x.direction === 'forward' ? ['given' as const] : [])],
    source: fn([...(unit ? ['E'] : ['P', 'E']), ...carryParams], [...carryLoop(x, [init], [unit ? 'acc = acc + E[s][i];' : mp ? 'acc = Math.max(P[s][i] + acc, E[s][i]);' : 'acc = P[s][i] * acc + E[s][i];']), 'return acc;']) });
  const H = { kernel: ks.length - 1 };
  const back = x.direction === 'backward';
  ks.push({ name: `scan_${x.name}`, output: out, reads: [...(unit ? [E, H] : [P, E, H]), ...(back ? ['given' as const, 'offset' as const] : [])],
    source: fn([...(unit ? ['E', 'H'] : ['P', 'E', 'H']), ...(back ? ['g', 'o'] : [])], [...fixHead(x), mp ? 'return Math.max(P[r][i] + H[h][i], E[r][i]);' : `return ${unit ? 'H[h][i]' : 'P[r][i] * H[h][i]'} + E[r][i]${back ? ' - g[o + r][i]' : ''};`]) });
  return ks;
}

/** The log-space form: local L⁺, L⁻ and log P; carries L⁺, L⁻; the fix-up. Six kernels (five when a is 1 forward). */
function logKernels(x: Shape): ScanKernel[] {
  const out = [x.w, x.T * x.B], carryOut = [x.w, chunks(x) * x.B];
  const unit = !x.hasA && x.direction === 'forward';
  const e = coefParams(x, true), p = coefParams(x, false);
  const la = x.direction === 'forward' ? (unit ? '0.0' : logOf('c', 1)) : `(q <= ${x.T * x.B - 1} ? ${logOf('c', 1)} : ${LOG_ZERO})`;
  const local = (sign: 1 | -1, pm: string): ScanKernel => ({ name: `logscanlocal${pm}_${x.name}`, output: out, reads: e.reads,
    source: fn(e.params, localLoop(x, true, LOG_ZERO, [`const x1 = ${la} + acc;`, `const y1 = ${logOf('e', sign)};`, ...logaddexp('acc', 'x1', 'y1')])) });
  const ks: ScanKernel[] = [local(1, 'p'), local(-1, 'm')];
  if (!unit) ks.push({ name: `logscandecay_${x.name}`, output: out, reads: p.reads, source: fn(p.params, localLoop(x, false, '0.0', [`acc = acc + ${la};`])) });
  const Ep = { kernel: 0 }, Em = { kernel: 1 }, P = { kernel: 2 };
  const carry = (sign: 1 | -1, pm: string, Ek: ScanRead): ScanKernel => ({ name: `logscancarry${pm}_${x.name}`, output: carryOut,
    reads: [...(unit ? [] : [P]), Ek, ...(x.direction === 'forward' ? ['given' as const] : [])],
    source: fn([...(unit ? [] : ['P']), 'E', ...(x.direction === 'forward' ? ['g'] : [])], [
      ...carryLoop(x, [`let acc = ${x.direction === 'forward' ? logOf('g[u][i]', sign) : LOG_ZERO};`],
        [`const x1 = ${unit ? '' : 'P[s][i] + '}acc;`, 'const y1 = E[s][i];', ...logaddexp('acc', 'x1', 'y1')]), 'return acc;']) });
  ks.push(carry(1, 'p', Ep), carry(-1, 'm', Em));
  const Hp = { kernel: ks.length - 2 }, Hm = { kernel: ks.length - 1 };
  const lp = unit ? '' : 'P[r][i] + ';
  const back = x.direction === 'backward';
  ks.push({ name: `logscan_${x.name}`, output: out, reads: [...(unit ? [] : [P]), Ep, Em, Hp, Hm, ...(back ? ['given' as const, 'offset' as const] : [])],
    source: fn([...(unit ? [] : ['P']), 'Ep', 'Em', 'Hp', 'Hm', ...(back ? ['g', 'o'] : [])], [...fixHead(x),
      `const xp = ${lp}Hp[h][i];`, 'const yp = Ep[r][i];', 'let vp = 0.0;', ...logaddexp('vp', 'xp', 'yp'),
      `const xm = ${lp}Hm[h][i];`, 'const ym = Em[r][i];', 'let vm = 0.0;', ...logaddexp('vm', 'xm', 'ym'),
      `return Math.exp(vp) - Math.exp(vm)${back ? ' - g[o + r][i]' : ''};`]) });
  return ks;
}

/** StateScan.handover. */
function handover(x: Shape): ScanKernel {
  const head = ['const r = this.thread.y;', 'const i = this.thread.x;'];
  if (x.direction === 'forward') return { name: `scantail_${x.name}`, output: [x.w, x.B], reads: [{ kernel: -1 }], source: fn(['H'], [...head, `return H[${(x.T - 1) * x.B} + r][i];`]) };
  const params = [...(x.hasA ? ['a'] : []), ...(x.hasB ? ['b'] : []), 'L', 'g', 'o'];
  const reads: ScanRead[] = [...(x.hasA ? ['a' as const] : []), ...(x.hasB ? ['b' as const] : []), { kernel: -1 }, 'given', 'offset'];
  return { name: `scanhead_${x.name}`, output: [x.w, x.B], reads, source: fn(params, [...head,
    `return ${x.hasB ? x.readB('b', 'r') : '0.0'} + ${x.readA('a', 'r')} * (L[r][i] + g[o + r][i]);`]) };
}

/** A kernel shifting all-steps states by one step: row r of the result is the state at t−1 (the initial state for t = 1); reads (h0, H). */
export function shiftPlan(n: number, batch: number, steps: number): Omit<ScanKernel, 'reads'> {
  return { name: 'shift', output: [n, steps * batch], source: fn(['h0', 'H'], ['const r = this.thread.y;', 'const i = this.thread.x;',
    `const q = r - ${batch};`, 'const s = (q >= 0 ? q : q - q);', `const u = (r < ${batch} ? r : r - r);`,
    `return (q >= 0 ? H[s][i] : h0[u][i]);`]) };
}

/**
 * A staged forward's stepped stage (mLSTM's m): a kernel writing one step's rows
 * (a [n, B] result) into the all-steps array at row `o`, the rest copied from the
 * array before; reads (all, step, o).
 */
export function placePlan(n: number, batch: number, steps: number): Omit<ScanKernel, 'reads'> {
  return { name: 'place', output: [n, steps * batch], source: fn(['A', 'S', 'o'], ['const r = this.thread.y;', 'const i = this.thread.x;',
    'const k = r - o;', `const u = (k >= 0 ? (k < ${batch} ? k : k - k) : k - k);`,
    `return (k >= 0 ? (k < ${batch} ? S[u][i] : A[r][i]) : A[r][i]);`]) };
}

/** The states at t−1 of a segment of `steps` steps from row `o` of an all-steps array (the initial state before the first step); reads (h0, H, o). */
export function shiftFromPlan(n: number, batch: number, steps: number): Omit<ScanKernel, 'reads'> {
  return { name: 'shiftfrom', output: [n, steps * batch], source: fn(['h0', 'H', 'o'], ['const r = this.thread.y;', 'const i = this.thread.x;',
    `const q = o + r - ${batch};`, 'const s = (q >= 0 ? q : q - q);', `const u = (r < ${batch} ? r : r - r);`,
    'return (q >= 0 ? H[s][i] : h0[u][i]);']) };
}

/**
 * A state whose update is max(a + state^<t-1>, b) with a and b reading no state
 * (mLSTM's stabiliser m^<t> = max(f̃ + m^<t-1>, ĩ)): a linear recurrence over
 * (max, +), which the scan kernels run with those operations (planScan's
 * `maxplus`). Null for any other form.
 */
export function maxPlusRecurrence(g: Graph, state: string): ScanRecurrence | null {
  const root = g.roots.find((r) => r.role === 'state' && r.name === state && r.step === undefined);
  const leaf = g.nodes.find((n) => n.op === 'prev' && n.attrs.name === state && n.attrs.step === undefined);
  if (!root || !leaf) return null;
  const n = g.nodes[root.id]!;
  if (n.op !== 'max' || n.inputs.length !== 2) return null;
  const free = (id: number) => ![...reachable(g, [id])].some((x) => g.nodes[x]!.op === 'prev');
  for (const k of [0, 1]) {
    const u = g.nodes[n.inputs[k]!]!;
    if (u.op !== 'add' || u.inputs.length !== 2) continue;
    const a = u.inputs[1] === leaf.id ? u.inputs[0]! : u.inputs[0] === leaf.id ? u.inputs[1]! : null;
    const b = n.inputs[1 - k]!;
    if (a !== null && free(a) && free(b)) return { state, root: root.id, leaf: leaf.id, a, b, after: [] };
  }
  return null;
}

/**
 * Keys of a graph's nodes, equal across graphs for the same computation (op,
 * attributes and inputs' keys, interned in `table`): how a backward finds the
 * all-rows values its forward computed (minGRU's z).
 */
export function nodeKeys(g: Graph, table: Map<string, number>): number[] {
  const keys: number[] = [];
  for (const n of g.nodes) {
    const s = `${n.op}(${n.inputs.map((x) => keys[x]).join(',')}){${attrsKey(n.attrs)}}`;
    let k = table.get(s);
    if (k === undefined) table.set(s, (k = table.size));
    keys.push(k);
  }
  return keys;
}

/** The graph with some nodes read instead as all-steps inputs (node id → input name); `map`: old ids to new. Nodes only they read stay, unread. */
export function readSaved(g: Graph, saved: ReadonlyMap<number, string>): { graph: Graph; map: Map<number, number> } {
  const b = new Builder();
  const map = new Map<number, number>();
  for (const n of g.nodes) {
    const name = saved.get(n.id);
    const id = name !== undefined ? b.node('input', [], { name, shape: n.shape }) : b.node(n.op, n.inputs.map((x) => map.get(x)!), n.attrs, n.span);
    map.set(n.id, id);
    const label = g.labels[n.id];
    if (label !== undefined && name === undefined) b.label(id, label);
  }
  return { graph: b.finish(g.roots.map((r) => ({ ...r, id: map.get(r.id)! }))), map };
}
