// emit/gpujs/scan.ts: a pass whose recurrences are scans (compiler/lower/scan.ts)
// as gpu.js kernels whose number grows with log T, not T. Pure, like plan.ts: it
// returns kernel sources and says what each reads; runtime/backends/gpujs-scan.ts
// runs them.
//
//   1. the coefficients a, b (forward) or α, β (backward) of every scanned state,
//      for all T·B rows at once: the graph of the coefficients alone planned as
//      one step over T·B rows (plan.ts);
//   2. the scan itself, Hillis–Steele over time, per state: a first kernel folds
//      the initial state into step 1 (forward, E_r = b_r + [r < B] a_r h⁰_r) or
//      shifts α, β by a step and adds the given cotangent (backward,
//      λ_t = g_t + α_{t+1} λ_{t+1} + β_{t+1}); then round k combines each row with
//      the row 2^k steps before it (after it, backward):
//        E'_r = A_r E_{r−d} + E_r,   A'_r = A_r A_{r−d}   (d = 2^k·B rows),
//      so after ⌈log₂ T⌉ rounds E holds every state (every λ);
//   3. the pass's whole step graph planned over T·B rows (plan.ts), reading the
//      scanned values as all-steps arrays: the forward's outputs from the states
//      at t−1, the backward's gradients from λ.
// Row r of a [n, T·B] array is step ⌊r / B⌋, example r mod B (the layout of the
// all-steps inputs). Strides are literals: one kernel per round.

import type { Graph } from '../../ir/graph.ts';
import type { ScanRecurrence } from '../../lower/scan.ts';
import { coefficientGraph } from '../../lower/scan.ts';
import type { PlanOptions, StepPlan } from './base.ts';
import { planStep } from './plan.ts';

/** A scan kernel: its source and output; its arguments are named in its doc. */
export interface ScanKernel {
  readonly name: string;
  readonly output: readonly number[];
  readonly source: string;
}

export interface StateScan {
  readonly state: string;
  /** The kernels of plan `coefficients` that compute a (α) and b (β); null: 1, or 0. */
  readonly a: number | null;
  readonly b: number | null;
  /** Forward: (a?, b?, h⁰) → E⁰. Backward: (α?, β?, g) → E⁰. */
  readonly first: ScanKernel;
  /** Backward: (α?) → C⁰, α shifted by a step (0 after the last). Forward: none (A⁰ is a itself). */
  readonly firstA: ScanKernel | null;
  /** Round k: e reads (A?, E), a reads (A); the last round has no a; a state whose a is 1 has no A at all. */
  readonly rounds: readonly { readonly e: ScanKernel; readonly a: ScanKernel | null }[];
}

/**
 * The same scan in log space (`--scan log`, for coefficients a > 0 by their form):
 * E = E⁺ − E⁻ is carried as L± = log E± (floored at log 1e-37, so no −∞ reaches a
 * kernel), A as log A, and a round is L±'_r = logaddexp(log A_r + L±_{r−d}, L±_r),
 * log A'_r = log A_r + log A_{r−d}: no product of decays underflows or overflows;
 * a last kernel returns exp L⁺ − exp L⁻.
 */
export interface LogStateScan {
  readonly state: string;
  readonly a: number | null;
  readonly b: number | null;
  /** (a?, b?, h⁰ | g) → L⁺ and → L⁻. */
  readonly first: readonly [ScanKernel, ScanKernel];
  /** (a?) → log A⁰ (forward: log a; backward: log α shifted by a step); none when a is 1 forward. */
  readonly firstA: ScanKernel | null;
  /** Round k: e± read (LA?, L±); a reads (LA). */
  readonly rounds: readonly { readonly e: readonly [ScanKernel, ScanKernel]; readonly a: ScanKernel | null }[];
  /** (L⁺, L⁻) → exp L⁺ − exp L⁻. */
  readonly last: ScanKernel;
}

export interface ScanPlan {
  readonly direction: 'forward' | 'backward';
  readonly form: 'plain' | 'log';
  readonly steps: number;
  readonly coefficients: StepPlan;
  readonly states: readonly StateScan[];
  /** The log-space form's kernels, per state, in place of `states` (empty in the plain form). */
  readonly logStates: readonly LogStateScan[];
  /** The step graph over all T·B rows. */
  readonly whole: StepPlan;
}

/** How a kernel reads a coefficient from the output layout of the kernel that made it. */
const reader = (output: readonly number[] | 'rows' | 'unit') => (v: string, row: string): string => {
  if (output === 'unit') return '1.0';
  if (output === 'rows') return `${v}[${row}][i]`;
  const feat = output[0] === 1 ? '0' : 'i';
  return output.length === 2 ? `${v}[${row}][${feat}]` : `${v}[${feat}]`;
};

const fn = (params: readonly string[], body: readonly string[]) => `function (${params.join(', ')}) {\n${body.map((l) => `  ${l}`).join('\n')}\n}`;

/**
 * The scan kernels of a pass: `g` its step graph (rewritten by lower/scan.ts),
 * `scans` its scanned states, `n` each state's width, over `steps` steps of
 * `opts.batch` examples. Throws GpujsPlanError where plan.ts does (a kernel over
 * T·B rows larger than the device takes).
 */
export function planScan(g: Graph, scans: readonly ScanRecurrence[], direction: 'forward' | 'backward', steps: number, n: ReadonlyMap<string, number>, opts: PlanOptions, form: 'plain' | 'log' = 'plain'): ScanPlan {
  const B = opts.batch, R = steps * B;
  const all: PlanOptions = { ...opts, batch: R, mode: 'loop' };
  const coefficients = planStep(coefficientGraph(g, scans), all);
  const kernelOf = (name: string) => coefficients.roots.find((r) => r.root.name === name)?.kernel ?? null;
  const rounds = Math.ceil(Math.log2(steps));
  if (form === 'log') {
    const logStates = scans.map((s) => logScan(s, direction, B, R, rounds, n.get(s.state)!, s.a === null ? null : kernelOf(`a:${s.state}`), s.b === null ? null : kernelOf(`b:${s.state}`), coefficients));
    return { direction, form, steps, coefficients, states: [], logStates, whole: planStep(g, all) };
  }
  const states = scans.map((s): StateScan => {
    const w = n.get(s.state)!;
    const out = [w, R];
    const a = s.a === null ? null : kernelOf(`a:${s.state}`), b = s.b === null ? null : kernelOf(`b:${s.state}`);
    const readA = reader(a === null ? 'unit' : coefficients.kernels[a]!.output), readB = reader(b === null ? 'unit' : coefficients.kernels[b]!.output);
    const head = ['const r = this.thread.y;', 'const i = this.thread.x;'];
    const params = [...(a !== null ? ['a'] : []), ...(b !== null ? ['b'] : [])];
    let first: ScanKernel, firstA: ScanKernel | null = null;
    if (direction === 'forward') {
      const bv = b === null ? '0.0' : readB('b', 'r');
      first = { name: `scan0_${s.state}`, output: out, source: fn([...params, 'h0'], [...head,
        `const s = (r < ${B} ? r : r - r);`,
        `const e = ${bv};`,
        `return (r < ${B} ? e + ${readA('a', 'r')} * h0[s][i] : e);`]) };
    } else {
      // λ_r = g_r + α_{r+B} λ_{r+B} + β_{r+B}: E⁰_r = g_r + β_{r+B}, C⁰_r = α_{r+B} (0 at the last step)
      const next = [`const q = r + ${B};`, `const s = (q <= ${R - 1} ? q : q - q + ${R - 1});`];
      first = { name: `scan0_${s.state}`, output: out, source: fn([...params, 'g'], [...head, ...next,
        `return (q <= ${R - 1} ? g[r][i] + ${b === null ? '0.0' : readB('b', 's')} : g[r][i]);`]) };
      firstA = { name: `scan0a_${s.state}`, output: out, source: fn(a !== null ? ['a'] : [], [...head, ...next,
        `const c = ${readA('a', 's')};`,
        `return (q <= ${R - 1} ? c : c - c);`]) };
    }
    const unit = direction === 'forward' && a === null;
    const list: { e: ScanKernel; a: ScanKernel | null }[] = [];
    for (let k = 0; k < rounds; k++) {
      const d = 2 ** k * B;
      // forward: round 0 reads a where the coefficients put it; the backward's C⁰ and every later A are rows
      const rd = unit ? reader('unit') : direction === 'forward' && k === 0 ? readA : reader('rows');
      const other = direction === 'forward'
        ? [`const q = r - ${d};`, `const s = (q >= 0 ? q : q - q);`]
        : [`const q = r + ${d};`, `const s = (q <= ${R - 1} ? q : q - q + ${R - 1});`];
      const ok = direction === 'forward' ? 'q >= 0' : `q <= ${R - 1}`;
      const e = { name: `scan${k + 1}_${s.state}`, output: out, source: fn([...(unit ? [] : ['A']), 'E'], [...head, ...other,
        'const e = E[r][i];',
        `return (${ok} ? ${rd('A', 'r')} * E[s][i] + e : e);`]) };
      const last = k === rounds - 1;
      const A = unit || last ? null : { name: `scan${k + 1}a_${s.state}`, output: out, source: fn(['A'], [...head, ...other,
        `const c = ${rd('A', 'r')};`,
        `return (${ok} ? c * ${rd('A', 's')} : c);`]) };
      list.push({ e, a: A });
    }
    return { state: s.state, a, b, first, firstA, rounds: list };
  });
  return { direction, form, steps, coefficients, states, logStates: [], whole: planStep(g, all) };
}

/** log 1e-37: the log of zero, kept finite so that logaddexp never computes −∞ − (−∞). */
const LOG_ZERO = '-85.19564844';

function logScan(s: ScanRecurrence, direction: 'forward' | 'backward', B: number, R: number, rounds: number, w: number, a: number | null, b: number | null, coefficients: StepPlan): LogStateScan {
  const out = [w, R];
  const readA = reader(a === null ? 'unit' : coefficients.kernels[a]!.output), readB = reader(b === null ? 'unit' : coefficients.kernels[b]!.output);
  const head = ['const r = this.thread.y;', 'const i = this.thread.x;'];
  const params = [...(a !== null ? ['a'] : []), ...(b !== null ? ['b'] : [])];
  const logOf = (e: string, sign: 1 | -1) => `Math.log(Math.max(${sign < 0 ? `-(${e})` : e}, 1e-37))`;
  let e: string, pre: string[], last: string;
  if (direction === 'forward') {
    pre = [`const s = (r < ${B} ? r : r - r);`, `const c = ${b === null ? '0.0' : readB('b', 'r')};`];
    e = `(r < ${B} ? c + ${readA('a', 'r')} * h0[s][i] : c)`;
    last = 'h0';
  } else {
    pre = [`const q = r + ${B};`, `const s = (q <= ${R - 1} ? q : q - q + ${R - 1});`];
    e = `(q <= ${R - 1} ? g[r][i] + ${b === null ? '0.0' : readB('b', 's')} : g[r][i])`;
    last = 'g';
  }
  const part = (sign: 1 | -1): ScanKernel => ({ name: `logscan0${sign > 0 ? 'p' : 'm'}_${s.state}`, output: out, source: fn([...params, last], [...head, ...pre, `const e = ${e};`, `return ${logOf('e', sign)};`]) });
  const first: [ScanKernel, ScanKernel] = [part(1), part(-1)];
  const unit = direction === 'forward' && a === null;
  let firstA: ScanKernel | null = null;
  if (direction === 'forward' && a !== null) firstA = { name: `logscan0a_${s.state}`, output: out, source: fn(['a'], [...head, `return ${logOf(readA('a', 'r'), 1)};`]) };
  if (direction === 'backward') firstA = { name: `logscan0a_${s.state}`, output: out, source: fn(a !== null ? ['a'] : [], [...head, `const q = r + ${B};`, `const s = (q <= ${R - 1} ? q : q - q + ${R - 1});`,
    `const c = ${logOf(readA('a', 's'), 1)};`, `return (q <= ${R - 1} ? c : ${LOG_ZERO});`]) };
  const list: { e: [ScanKernel, ScanKernel]; a: ScanKernel | null }[] = [];
  for (let k = 0; k < rounds; k++) {
    const d = 2 ** k * B;
    const other = direction === 'forward'
      ? [`const q = r - ${d};`, `const s = (q >= 0 ? q : q - q);`]
      : [`const q = r + ${d};`, `const s = (q <= ${R - 1} ? q : q - q + ${R - 1});`];
    const ok = direction === 'forward' ? 'q >= 0' : `q <= ${R - 1}`;
    const la = unit ? '0.0' : 'A[r][i]';
    const round = (pm: 'p' | 'm'): ScanKernel => ({ name: `logscan${k + 1}${pm}_${s.state}`, output: out, source: fn([...(unit ? [] : ['A']), 'L'], [...head, ...other,
      'const l = L[r][i];', `const x = ${la} + L[s][i];`, 'const m = Math.max(x, l);',
      `return (${ok} ? m + Math.log(Math.exp(x - m) + Math.exp(l - m)) : l);`]) });
    const e2: [ScanKernel, ScanKernel] = [round('p'), round('m')];
    const A = unit || k === rounds - 1 ? null : { name: `logscan${k + 1}a_${s.state}`, output: out, source: fn(['A'], [...head, ...other, `return (${ok} ? A[r][i] + A[s][i] : A[r][i]);`]) };
    list.push({ e: e2, a: A });
  }
  const lastK = { name: `logscanexp_${s.state}`, output: out, source: fn(['P', 'M'], [...head, 'return Math.exp(P[r][i]) - Math.exp(M[r][i]);']) };
  return { state: s.state, a, b, first, firstA, rounds: list, last: lastK };
}

/** A kernel shifting all-steps states by one step: row r of the result is the state at t−1 (the initial state for t = 1); reads (h0, H). */
export function shiftPlan(n: number, batch: number, steps: number): ScanKernel {
  return { name: 'shift', output: [n, steps * batch], source: fn(['h0', 'H'], ['const r = this.thread.y;', 'const i = this.thread.x;',
    `const q = r - ${batch};`, 'const s = (q >= 0 ? q : q - q);', `const u = (r < ${batch} ? r : r - r);`,
    `return (q >= 0 ? H[s][i] : h0[u][i]);`]) };
}
