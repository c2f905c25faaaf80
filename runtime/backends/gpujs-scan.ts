// The gpu.js backend's passes over scans (compiler/emit/gpujs/scan.ts): the
// coefficients of every step at once, a chunked scan over time per state (a
// fixed number of kernels), then the step graph over all T·B rows — kernel
// launches per pass that do not grow with T. runtime/backends/gpujs.ts calls
// these for a step cell whose every state is a scan in that pass, and keeps its
// step-by-step passes for every other cell (and for `scan: false`).
//
// A forward in two stages (mLSTM: m, then C and n, whose coefficients read m)
// runs its first stage over all T first — as a max-plus scan when its states are
// max(a + h, b) recurrences, else stepped on its own step graph, each step placed
// into an all-steps array — and then the scans, which read it as the states at
// t−1. A forward on webasm or cpu hands its coefficient kernels' values per
// example (`scan:saved:key`) to the backward, which reads them as inputs.

import type { CompiledCell } from '../../compiler/compile.ts';
import type { Arg } from '../../compiler/emit/gpujs/plan.ts';
import type { ScanKernel, ScanPlan, ScanRead, SegmentLink, StateScan } from '../../compiler/emit/gpujs/scan.ts';
import { ALONE, NOW, maxPlusRecurrence, placePlan, planScan, shiftFromPlan, shiftPlan } from '../../compiler/emit/gpujs/scan.ts';
import { copyPlan, kernelsWithoutInputGrads, planStep } from '../../compiler/emit/gpujs/plan.ts';
import { GpujsPlanError } from '../../compiler/emit/gpujs/base.ts';
import { LEAVES } from '../../compiler/emit/gpujs/materialize.ts';
import type { PlanOptions, StepPlan } from '../../compiler/emit/gpujs/base.ts';
import type { ScanForms, ScanRecurrence } from '../../compiler/lower/scan.ts';
import { positiveByForm, stateGraph } from '../../compiler/lower/scan.ts';

export type ScanKernelFn = (...args: unknown[]) => unknown;
/** Makes a gpu.js kernel from a planned one (its name, source, output size and, packed by four, its return type). */
export type MakeKernel = (k: { name: string; source: string; output: readonly number[]; returnType?: 'Array(4)' }) => ScanKernelFn;

/** The kernels of one scanned pass at one T. */
export interface ScanKernels {
  readonly plan: ScanPlan;
  readonly coef: ScanKernelFn[];
  readonly whole: ScanKernelFn[];
  /**
   * Per state of plan.states: its scan kernels; its handover to the next segment
   * (a pass in segments only); the shift to states at t−1 (a forward whose outputs
   * need the whole step graph only).
   */
  readonly states: readonly { readonly kernels: readonly ScanKernelFn[]; readonly handover: ScanKernelFn | null; readonly shift: ScanKernelFn | null }[];
  /** Forward: whether the outputs need the whole step graph (an output that is not a state under another name). */
  readonly needsWhole: boolean;
  /** Zeros of [n, T·B] per state (the backward's carry) and of each parameter's size (its accumulator). */
  readonly zeros: (output: readonly number[]) => unknown;
  /** T·B. */
  readonly rows: number;
  /** Forward: coefficient kernels of all-rows values a backward may read instead of computing them again, by node key (emit/gpujs/scan.ts nodeKeys). */
  readonly saved: readonly { readonly kernel: number; readonly key: number; readonly width: number }[];
}

/** Which passes of a cell run as scans: every state of the pass must be one (else that pass steps through time). */
export function scannedPasses(cell: CompiledCell, forms: ScanForms | null): { forward: boolean; backward: boolean } {
  if (forms === null || cell.typed.mode !== 'step') return { forward: false, backward: false };
  const all = (names: readonly string[]) => cell.typed.states.length > 0 && cell.typed.states.every((s) => names.includes(s.name));
  return { forward: all(forms.fwd.map((r) => r.state)), backward: all(forms.bwd.map((r) => r.state)) };
}

/** Whether every scanned state of a pass has a decay that is positive by its form (or is 1): the log-space scan can run it. */
export function logScannable(forms: ScanForms, direction: 'forward' | 'backward'): boolean {
  const g = direction === 'forward' ? forms.forward : forms.backward;
  return (direction === 'forward' ? forms.fwd : forms.bwd).every((r) => r.a === null || positiveByForm(g, r.a));
}

/**
 * A scanned pass at T steps: one segment of T steps, or — when T·B rows exceed
 * the device's limit — segments of at most `maxExtent / B` steps, run one after
 * another (the forward from the first, the backward from the last), each handing
 * its state (λ) over to the next; the parameter gradients accumulate across them.
 */
export interface ScanPass {
  readonly segments: readonly { readonly first: number; readonly k: ScanKernels }[];
  readonly plan: ScanPlan;
  readonly stateN: ReadonlyMap<string, number>;
  /** A staged forward (mLSTM): the first stage's states stepped through all T before the scans, which read them as sequences. */
  readonly stepped?: SteppedStage;
}

/**
 * The first stage of a staged forward: its states over all T in an all-steps
 * array [n, T·B] on the device, from which each segment of the scans then reads
 * the states at t−1. Stepped — its own step graph (the stage's states alone) over
 * B rows per step, each step's result placed into the array — or, when every
 * state of the stage is a max-plus recurrence (maxPlusRecurrence), scanned over
 * all T; each way holds only the kernels it runs.
 */
export type SteppedStage = StageBase & (
  | { readonly scan?: undefined; readonly plan: StepPlan; readonly kernels: readonly ScanKernelFn[];
    /** Per state: the copy of its initial state, the kernel placing a step's rows. */
    readonly copy: ReadonlyMap<string, ScanKernelFn>; readonly place: ReadonlyMap<string, ScanKernelFn> }
  /** Its coefficients for all T·B rows, then its scans: no step graph, no stepping kernels. */
  | { readonly scan: ScanKernels });

interface StageBase {
  readonly states: readonly string[];
  readonly steps: number;
  readonly batch: number;
  readonly width: ReadonlyMap<string, number>;
  /** Per state: the shift to t−1 by segment length. */
  readonly shift: ReadonlyMap<string, ReadonlyMap<number, ScanKernelFn>>;
  readonly zeros: (output: readonly number[]) => unknown;
}

/** The scan of a pass over `steps` steps in segments of at most `most` steps (kernels shared by segments of the same length). */
export function makeScanPass(forms: ScanForms, direction: 'forward' | 'backward', steps: number, most: number, stateN: ReadonlyMap<string, number>, opts: PlanOptions, make: MakeKernel, zeros: (output: readonly number[]) => unknown, form: 'plain' | 'log' = 'plain', stepped?: readonly string[], keys?: readonly number[]): ScanPass {
  const cuts: { first: number; len: number }[] = [];
  for (let first = 0; first < steps; first += most) cuts.push({ first, len: Math.min(most, steps - first) });
  // the forward hands over from every segment but the last; the backward from every one, the first its initial state's
  // gradient; a backward segment before the last reads the next one's hand-over: a length's kernels plan what its segments run
  const last = cuts.length - 1;
  const link = (len: number): SegmentLink => ({
    handover: direction === 'backward' || cuts.some((c, i) => c.len === len && i < last),
    next: direction === 'backward' && cuts.some((c, i) => c.len === len && i < last),
  });
  const byLength = new Map<number, ScanKernels>();
  const segments: { first: number; k: ScanKernels }[] = [];
  for (const { first, len } of cuts) {
    let k = byLength.get(len);
    if (!k) byLength.set(len, (k = makeScanKernels(forms, direction, len, stateN, opts, make, zeros, form, link(len), new Set(), keys)));
    segments.push({ first, k });
  }
  const lengths = [...byLength.keys()];
  if (stepped === undefined) return { segments, plan: segments[0]!.k.plan, stateN };
  // the stepped stage's sequences span all T in one array: T·B rows must fit the device
  if (opts.maxExtent !== undefined && steps * opts.batch > opts.maxExtent)
    throw new GpujsPlanError(`the staged forward's first stage over ${steps * opts.batch} rows exceeds this device's limit of ${opts.maxExtent}`);
  const sg = stateGraph(forms.forward, stepped);
  const B = opts.batch;
  const base: StageBase = {
    states: stepped, steps, batch: B, width: new Map(stepped.map((s) => [s, stateN.get(s)!])), zeros,
    shift: new Map(stepped.map((s) => [s, new Map(lengths.map((len) => [len, make(shiftFromPlan(stateN.get(s)!, B, len))]))])),
  };
  // a first stage of max-plus recurrences (mLSTM's m) is a scan too: no launches per step. It runs its coefficients
  // and its scans only (scannedStage), so it is planned from its graph without roots: nothing else is planned
  const mp = stepped.map((s) => maxPlusRecurrence(sg, s));
  if (mp.every((r) => r !== null)) {
    const coefficients = { ...sg, roots: [] };
    const scan = makeScanKernels({ forward: coefficients, backward: coefficients, fwd: mp as ScanRecurrence[], bwd: [] }, 'forward', steps, stateN, opts, make, zeros, 'plain', ALONE, new Set(stepped));
    return { segments, plan: segments[0]!.k.plan, stateN, stepped: { ...base, scan } };
  }
  const plan = planStep(sg, opts);
  return { segments, plan: segments[0]!.k.plan, stateN, stepped: {
    ...base, plan, kernels: plan.kernels.map(make),
    copy: new Map(stepped.map((s) => [s, make({ ...copyPlan(stateN.get(s)!, B) })])),
    place: new Map(stepped.map((s) => [s, make(placePlan(stateN.get(s)!, B, steps))])),
  } };
}

export function makeScanKernels(forms: ScanForms, direction: 'forward' | 'backward', steps: number, stateN: ReadonlyMap<string, number>, opts: PlanOptions, make: MakeKernel, zeros: (output: readonly number[]) => unknown, form: 'plain' | 'log' = 'plain', link: SegmentLink = ALONE, maxplus: ReadonlySet<string> = new Set(), keys?: readonly number[]): ScanKernels {
  const g = direction === 'forward' ? forms.forward : forms.backward;
  const plan = planScan(g, direction === 'forward' ? forms.fwd : forms.bwd, direction, steps, stateN, opts, form, link, maxplus);
  const mk = (k: Omit<ScanKernel, 'reads'>) => make(k);
  // forward: the outputs that are no state (planScan reads the states at t from the scans); whether one reads a state at t−1
  const needsWhole = plan.whole.roots.length > 0;
  const readsPrev = (state: string) => plan.whole.kernels.some((k) => k.args.some((a) => a.from === 'prev' && a.name === state));
  return {
    plan,
    coef: plan.coefficients.kernels.map(make),
    whole: plan.whole.kernels.map(make),
    // the shift feeds the whole step graph a state at t−1, where a forward's outputs read it (forwardScan)
    states: plan.states.map((s) => ({ kernels: s.kernels.map(mk), handover: s.handover && mk(s.handover),
      shift: direction === 'forward' && readsPrev(s.state) ? mk(shiftPlan(stateN.get(s.state)!, opts.batch, steps)) : null })),
    needsWhole,
    zeros,
    rows: steps * opts.batch,
    // values per example (batched) that are not leaves: the backward computes them again otherwise
    saved: keys === undefined ? [] : plan.coefficients.kernels.flatMap((kp, i) => {
      const n = g.nodes[kp.node];
      return n && n.shape.batch && !LEAVES.has(n.op) ? [{ kernel: i, key: keys[kp.node]!, width: kp.output[0]! }] : [];
    }),
  };
}

/** Call the kernels of a plan over a segment's rows (from row `offset` of the all-steps arrays); `source` resolves every argument but kernel outputs and the offset; `before`: the outputs of the kernels its indices count on from (emit/gpujs/scan.ts planShared). */
function runAll(plan: StepPlan, kernels: readonly ScanKernelFn[], source: (a: Arg) => unknown, count: () => void, offset: number, before: readonly unknown[] = [], only?: ReadonlySet<number>): unknown[] {
  // one slot per kernel, run or not (`only`): a later plan's indices count on from these
  const outs: unknown[] = [...before, ...plan.kernels.map(() => undefined)];
  plan.kernels.forEach((k, i) => {
    if (only && !only.has(i)) return;
    count();
    outs[before.length + i] = kernels[i]!(...k.args.map((a) => (a.from === 'kernel' ? outs[a.index] : a.from === 'offset' ? offset : source(a))));
  });
  return outs;
}

/** What a state's scan kernels read besides the coefficients and each other. */
interface ScanInputs {
  readonly given: (state: string) => unknown;
  readonly offset: number;
  readonly next: (state: string) => unknown;
}

/** The reads of a scan kernel. */
const scanArgs = (reads: readonly ScanRead[], s: StateScan, coefOuts: readonly unknown[], outs: readonly unknown[], x: ScanInputs): unknown[] =>
  reads.map((r) => (r === 'a' ? coefOuts[s.a!] : r === 'b' ? coefOuts[s.b!] : r === 'given' ? x.given(s.state) : r === 'offset' ? x.offset : r === 'next' ? x.next(s.state)
    : outs[r.kernel < 0 ? outs.length - 1 : r.kernel]));

/** The scan kernels of every state; returns by state its scanned values (states, or λ − g) and its handover to the next segment (a thunk: run only when there is one). */
function scanStates(k: ScanKernels, coefOuts: readonly unknown[], x: ScanInputs, count: () => void): Map<string, { values: unknown; handover: () => unknown }> {
  const out = new Map<string, { values: unknown; handover: () => unknown }>();
  k.plan.states.forEach((s, i) => {
    const fns = k.states[i]!;
    const outs: unknown[] = [];
    s.kernels.forEach((kernel, j) => {
      count();
      outs[j] = fns.kernels[j]!(...scanArgs(kernel.reads, s, coefOuts, outs, x));
    });
    out.set(s.state, { values: outs[outs.length - 1], handover: () => {
      if (!fns.handover || !s.handover) throw new Error('internal: a hand-over in a pass planned as one segment');
      count();
      return fns.handover(...scanArgs(s.handover.reads, s, coefOuts, outs, x));
    } });
  });
  return out;
}

/** Results over all steps: one segment's array under its key, or each segment's under `key#i` in order (a pipeline returns a flat bag of handles; runtime/backends/gpujs.ts joins them). */
const joined = (parts: ReadonlyMap<string, readonly unknown[]>): Record<string, unknown> =>
  Object.fromEntries([...parts].flatMap(([key, v]) => (v.length === 1 ? [[key, v[0]]] : v.map((x, i) => [`${key}#${i}`, x]))));

/**
 * The forward orchestration: `source` resolves parameters and inputs, `init` a
 * state's initial value on the device. Results: `scan:state:name` (all steps) and,
 * when the outputs need it, `scan:output:name` (all steps).
 */
export function forwardScan(p: ScanPass, source: (a: Arg) => unknown, init: (state: string) => unknown, count: () => void): Record<string, unknown> {
  const parts = new Map<string, unknown[]>();
  const put = (key: string, v: unknown) => { if (!parts.has(key)) parts.set(key, []); parts.get(key)!.push(v); };
  let h0 = init;
  const seqs = !p.stepped ? new Map<string, unknown>() : p.stepped.scan ? scannedStage(p.stepped.scan, source, init, count) : steppedStage(p.stepped, source, init, count);
  for (const [s, v] of seqs) put(`scan:state:${s}`, v);
  p.segments.forEach(({ first, k }, seg) => {
    const offset = first * (k.rows / k.plan.steps);
    // a staged forward: the first stage's states at t−1 over this segment's rows
    const before = new Map([...seqs].map(([s, v]) => { count(); return [s, p.stepped!.shift.get(s)!.get(k.plan.steps)!(init(s), v, offset)]; }));
    const read = (a: Arg) => (a.from === 'prev' && before.has(a.name) ? before.get(a.name) : source(a));
    const coefOuts = runAll(k.plan.coefficients, k.coef, read, count, offset);
    for (const s of k.saved) put(`scan:saved:${s.key}`, coefOuts[s.kernel]);
    const H = scanStates(k, coefOuts, { given: h0, offset, next: () => null }, count);
    for (const [s, v] of H) put(`scan:state:${s}`, v.values);
    if (k.needsWhole) {
      // the states at t are the scans' values; at t−1, shifted by a step where an output reads them
      const prev = new Map<string, unknown>(before);
      k.plan.states.forEach((s, i) => {
        prev.set(`${NOW}${s.state}`, H.get(s.state)!.values);
        const shift = k.states[i]!.shift;
        if (shift) { count(); prev.set(s.state, shift(h0(s.state), H.get(s.state)!.values)); }
      });
      const outs = runAll(k.plan.whole, k.whole, (a) => (a.from === 'prev' ? prev.get(a.name) : source(a)), count, offset, coefOuts);
      for (const { root, kernel } of k.plan.whole.roots) if (root.role === 'output') put(`scan:output:${root.name}`, outs[kernel]);
    }
    if (seg < p.segments.length - 1) {
      const tails = new Map([...H].map(([s, v]) => [s, v.handover()]));
      h0 = (s) => tails.get(s);
    }
  });
  return joined(parts);
}

/** A first stage of max-plus recurrences: their coefficients for all T·B rows, then their scans; each state over all steps. */
function scannedStage(k: ScanKernels, source: (a: Arg) => unknown, init: (state: string) => unknown, count: () => void): Map<string, unknown> {
  const coefOuts = runAll(k.plan.coefficients, k.coef, source, count, 0);
  const H = scanStates(k, coefOuts, { given: init, offset: 0, next: () => null }, count);
  return new Map([...H].map(([s, v]) => [s, v.values]));
}

/** The stepped first stage of a staged forward: each of its states over all steps, [n, T·B]. */
function steppedStage(st: Extract<SteppedStage, { readonly plan: StepPlan }>, source: (a: Arg) => unknown, init: (state: string) => unknown, count: () => void): Map<string, unknown> {
  let prev = new Map(st.states.map((s) => { count(); return [s, st.copy.get(s)!(init(s))]; }));
  const seqs = new Map(st.states.map((s) => { count(); return [s, st.zeros([st.width.get(s)!, st.steps * st.batch])]; }));
  for (let t = 0; t < st.steps; t++) {
    const offset = t * st.batch;
    const outs = runAll(st.plan, st.kernels, (a) => (a.from === 'prev' ? prev.get(a.name) : source(a)), count, offset);
    const next = new Map(prev);
    for (const { root, kernel } of st.plan.roots) if (root.role === 'state' && root.step === undefined) next.set(root.name, outs[kernel]);
    prev = next;
    for (const s of st.states) { count(); seqs.set(s, st.place.get(s)!(seqs.get(s), prev.get(s), offset)); }
  }
  return seqs;
}

/** The kernels of a scanned backward that the coefficients, the parameters' and the initial state's gradients need: all but those only ∂inputs read. */
function withoutInputs(plan: ScanPlan): { coefficients: Set<number>; whole: Set<number> } {
  // once per plan: the synchronous backend (training) runs the backward's body at every step
  const found = withoutInputsOf.get(plan);
  if (found) return found;
  const C = plan.coefficients.kernels.length;
  const both = { kernels: [...plan.coefficients.kernels, ...plan.whole.kernels], roots: [...plan.coefficients.roots, ...plan.whole.roots] };
  const need = kernelsWithoutInputGrads(both);
  const out = { coefficients: new Set([...need].filter((i) => i < C)), whole: new Set([...need].filter((i) => i >= C).map((i) => i - C)) };
  withoutInputsOf.set(plan, out);
  return out;
}
const withoutInputsOf = new WeakMap<ScanPlan, { coefficients: Set<number>; whole: Set<number> }>();

/**
 * The backward orchestration: `source` resolves parameters, inputs, states at t−1
 * and the given cotangents (all steps); per segment from the last, λ − g of each
 * state is scanned from its given cotangent g, then the backward step graph runs
 * over the segment's rows with g as the state's cotangent and λ − g as the one
 * carried in. Results: `param:name`, `scan:input:name` (all steps), `scan:init:name`
 * (∂ℒ/∂state^<0>, [n, B]: the first segment's hand-over; the step graph plans no
 * ∂state^<t-1> over all rows, which the scan holds one step on).
 */
export function backwardScan(p: ScanPass, source: (a: Arg) => unknown, paramOut: ReadonlyMap<string, readonly number[]>, wantInputs: boolean, count: () => void): Record<string, unknown> {
  const parts = new Map<string, unknown[]>();
  const put = (key: string, v: unknown) => { if (!parts.has(key)) parts.set(key, []); parts.get(key)!.unshift(v); };
  const acc = new Map<string, unknown>();
  const given = (s: string) => source({ from: 'cot', name: `state:${s}` });
  // the last segment has nothing after it (its kernels read `next` where they are shared with a segment before the last)
  const none = new Map<string, unknown>();
  let next = (s: string): unknown => {
    if (!none.has(s)) { count(); none.set(s, p.segments[0]!.k.zeros([p.stateN.get(s)!, p.segments[0]!.k.rows / p.plan.steps])); }
    return none.get(s);
  };
  for (let seg = p.segments.length - 1; seg >= 0; seg--) {
    const { first, k } = p.segments[seg]!;
    const offset = first * (k.rows / k.plan.steps);
    let lambda: ReturnType<typeof scanStates> | null = null;
    const read = (a: Arg) => {
      switch (a.from) {
        case 'carry': return lambda!.get(a.name)!.values;
        case 'acc': {
          if (!acc.has(a.name)) { count(); acc.set(a.name, k.zeros(paramOut.get(a.name)!)); }
          return acc.get(a.name);
        }
        default: return source(a);
      }
    };
    const only = wantInputs ? undefined : withoutInputs(k.plan);
    const coefOuts = runAll(k.plan.coefficients, k.coef, read, count, offset, [], only?.coefficients);
    lambda = scanStates(k, coefOuts, { given, offset, next }, count);
    const outs = runAll(k.plan.whole, k.whole, read, count, offset, coefOuts, only?.whole);
    for (const { root, kernel } of k.plan.whole.roots) {
      if (root.of === 'param') acc.set(root.name, outs[kernel]);
      else if (root.of === 'input' && wantInputs) put(`scan:input:${root.name}`, outs[kernel]);
    }
    // β + α λ at the segment's first step: the segment before it reads it, or, the first, it is ∂ℒ/∂state^<0>
    const heads = new Map([...lambda].map(([s, v]) => [s, v.handover()]));
    if (seg > 0) next = (s) => heads.get(s);
    else for (const [s, v] of heads) put(`scan:init:${s}`, v);
  }
  const out = joined(parts);
  for (const [name, v] of acc) out[`param:${name}`] = v;
  return out;
}
