// The gpu.js backend's passes over scans (compiler/emit/gpujs/scan.ts): the
// coefficients of every step at once, a chunked scan over time per state (a
// fixed number of kernels), then the step graph over all T·B rows — kernel
// launches per pass that do not grow with T. runtime/backends/gpujs.ts calls
// these for a step cell whose every state is a scan in that pass, and keeps its
// step-by-step passes for every other cell (and for `scan: false`).

import type { CompiledCell } from '../../compiler/compile.ts';
import type { Arg } from '../../compiler/emit/gpujs/plan.ts';
import type { ScanKernel, ScanPlan } from '../../compiler/emit/gpujs/scan.ts';
import { planScan, shiftPlan } from '../../compiler/emit/gpujs/scan.ts';
import type { PlanOptions, StepPlan } from '../../compiler/emit/gpujs/base.ts';
import type { ScanForms } from '../../compiler/lower/scan.ts';
import { positiveByForm } from '../../compiler/lower/scan.ts';

export type ScanKernelFn = (...args: unknown[]) => unknown;

/** The kernels of one scanned pass at one T. */
export interface ScanKernels {
  readonly plan: ScanPlan;
  readonly coef: ScanKernelFn[];
  readonly whole: ScanKernelFn[];
  /** Per state of plan.states: its scan kernels, and the shift to states at t−1. */
  readonly states: readonly { readonly kernels: readonly ScanKernelFn[]; readonly shift: ScanKernelFn }[];
  /** Forward: whether the outputs need the whole step graph (an output that is not a state under another name). */
  readonly needsWhole: boolean;
  /** Zeros of [n, T·B] per state (the backward's carry) and of each parameter's size (its accumulator). */
  readonly zeros: (output: readonly number[]) => unknown;
  /** T·B. */
  readonly rows: number;
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

export function makeScanKernels(forms: ScanForms, direction: 'forward' | 'backward', steps: number, stateN: ReadonlyMap<string, number>, opts: PlanOptions, make: (k: { name: string; source: string; output: readonly number[] }) => ScanKernelFn, zeros: (output: readonly number[]) => unknown, form: 'plain' | 'log' = 'plain'): ScanKernels {
  const g = direction === 'forward' ? forms.forward : forms.backward;
  const plan = planScan(g, direction === 'forward' ? forms.fwd : forms.bwd, direction, steps, stateN, opts, form);
  const mk = (k: Omit<ScanKernel, 'reads'>) => make(k);
  const stateRoots = new Set(g.roots.filter((r) => r.role === 'state').map((r) => r.id));
  return {
    plan,
    coef: plan.coefficients.kernels.map(make),
    whole: plan.whole.kernels.map(make),
    states: plan.states.map((s) => ({ kernels: s.kernels.map(mk), shift: mk(shiftPlan(stateN.get(s.state)!, opts.batch, steps)) })),
    needsWhole: g.roots.some((r) => r.role === 'output' && !stateRoots.has(r.id)),
    zeros,
    rows: steps * opts.batch,
  };
}

/** Call the kernels of a plan over all rows (offset 0); `source` resolves every argument but kernel outputs and the offset. */
function runAll(plan: StepPlan, kernels: readonly ScanKernelFn[], source: (a: Arg) => unknown, count: () => void): unknown[] {
  const outs: unknown[] = [];
  plan.kernels.forEach((k, i) => {
    count();
    outs[i] = kernels[i]!(...k.args.map((a) => (a.from === 'kernel' ? outs[a.index] : a.from === 'offset' ? 0 : source(a))));
  });
  return outs;
}

/** The scan kernels of every state, from the coefficients and `given` (h⁰, or the given cotangent); returns the scanned arrays (states, or λ) by state. */
function scanStates(k: ScanKernels, coefOuts: readonly unknown[], given: (state: string) => unknown, count: () => void): Map<string, unknown> {
  const out = new Map<string, unknown>();
  k.plan.states.forEach((s, i) => {
    const fns = k.states[i]!.kernels;
    const outs: unknown[] = [];
    s.kernels.forEach((kernel, j) => {
      count();
      outs[j] = fns[j]!(...kernel.reads.map((r) => (r === 'a' ? coefOuts[s.a!] : r === 'b' ? coefOuts[s.b!] : r === 'given' ? given(s.state) : outs[r.kernel])));
    });
    out.set(s.state, outs[outs.length - 1]);
  });
  return out;
}

/**
 * The forward orchestration: `source` resolves parameters and inputs, `init` a
 * state's initial value on the device. Results: `scan:state:name` (all steps) and,
 * when the outputs need it, `scan:output:name` (all steps).
 */
export function forwardScan(k: ScanKernels, source: (a: Arg) => unknown, init: (state: string) => unknown, count: () => void): Record<string, unknown> {
  const coefOuts = runAll(k.plan.coefficients, k.coef, source, count);
  const H = scanStates(k, coefOuts, init, count);
  const out: Record<string, unknown> = {};
  for (const [s, v] of H) out[`scan:state:${s}`] = v;
  if (!k.needsWhole) return out;
  const prev = new Map<string, unknown>();
  const shifts = k.plan.states.map((s, i) => ({ state: s.state, shift: k.states[i]!.shift }));
  for (const { state, shift } of shifts) { count(); prev.set(state, shift(init(state), H.get(state))); }
  const outs = runAll(k.plan.whole, k.whole, (a) => (a.from === 'prev' ? prev.get(a.name) : source(a)), count);
  for (const { root, kernel } of k.plan.whole.roots) if (root.role === 'output') out[`scan:output:${root.name}`] = outs[kernel];
  return out;
}

/**
 * The backward orchestration: `source` resolves parameters, inputs, states at t−1
 * and the given cotangents (all steps); λ of each state is scanned from its given
 * cotangent, then the backward step graph runs over all rows with λ as the state's
 * cotangent. Results: `param:name`, `scan:input:name` (all steps), `scan:init:name`
 * (∂ℒ/∂state^<t-1> at every step; its first B rows are the initial state's).
 */
export function backwardScan(k: ScanKernels, source: (a: Arg) => unknown, stateN: ReadonlyMap<string, number>, paramOut: ReadonlyMap<string, readonly number[]>, wantInputs: boolean, count: () => void): Record<string, unknown> {
  const coefOuts = runAll(k.plan.coefficients, k.coef, source, count);
  const lambda = scanStates(k, coefOuts, (s) => source({ from: 'cot', name: `state:${s}` }), count);
  const carry = new Map<string, unknown>();
  const acc = new Map<string, unknown>();
  const outs = runAll(k.plan.whole, k.whole, (a) => {
    switch (a.from) {
      case 'cot': return a.name.startsWith('state:') ? lambda.get(a.name.slice('state:'.length)) : source(a);
      case 'carry': {
        if (!carry.has(a.name)) { count(); carry.set(a.name, k.zeros([stateN.get(a.name)!, k.rows])); }
        return carry.get(a.name);
      }
      case 'acc': {
        if (!acc.has(a.name)) { count(); acc.set(a.name, k.zeros(paramOut.get(a.name)!)); }
        return acc.get(a.name);
      }
      default: return source(a);
    }
  }, count);
  const out: Record<string, unknown> = {};
  for (const { root, kernel } of k.plan.whole.roots) {
    if (root.of === 'param') out[`param:${root.name}`] = outs[kernel];
    else if (root.of === 'prev') out[`scan:init:${root.name}`] = outs[kernel];
    else if (root.of === 'input' && wantInputs) out[`scan:input:${root.name}`] = outs[kernel];
  }
  return out;
}
