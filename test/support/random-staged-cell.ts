// Random staged cells: a state m that is not a linear recurrence (or not a
// diagonal one) and a state h that is linear, h^<t> = a^<t> ⊙ h^<t-1> + b^<t>, with
// coefficients that read m (at t-1 or at t) — mLSTM's shape, where h is a scan
// only once m's whole sequence is known. With `sg` around m in h's coefficients
// the backward has one stage; without it, m's cotangent reads h's, and the
// backward runs h's reverse scan first. Written as celda source for the property
// tests of staged scans (test/compiler/lower/staged-scan.test.ts).

import fc from 'fast-check';

export interface StagedCell {
  /** m's update: mixing tanh, diagonal tanh, max-plus (mLSTM's stabiliser), relu. */
  readonly m: 'dense' | 'diag' | 'maxplus' | 'relu';
  /** a: a gate of m at t-1, a gate of m at t, the stabilised exp(m^<t-1> − m^<t>) of the max-plus form (any m). */
  readonly a: 'gatePrev' | 'gateNow' | 'expDiff';
  /** b: a projection of x alone, scaled by (1 − a), by tanh(m^<t>), or m^<t> itself. */
  readonly b: 'proj' | 'oneMinus' | 'tanhM' | 'm';
  /** Stop gradients through m where h's coefficients read it. */
  readonly sg: boolean;
  readonly output: boolean;
}

export const randomStagedCell: fc.Arbitrary<StagedCell> = fc.record({
  m: fc.constantFrom('dense' as const, 'diag' as const, 'maxplus' as const, 'relu' as const),
  a: fc.constantFrom('gatePrev' as const, 'gateNow' as const, 'expDiff' as const),
  b: fc.constantFrom('proj' as const, 'oneMinus' as const, 'tanhM' as const, 'm' as const),
  sg: fc.boolean(),
  output: fc.boolean(),
});

export function stagedCellSource(s: StagedCell): string {
  const g = (v: string) => (s.sg ? `sg(${v})` : v);
  const m = {
    dense: 'm^<t> = tanh(U m^<t-1> + W_m x^<t>)',
    diag: 'm^<t> = tanh(u * m^<t-1> + W_m x^<t>)',
    maxplus: 'm^<t> = max(W_f x^<t> + m^<t-1>, W_m x^<t>)',
    relu: 'm^<t> = relu(u * m^<t-1> + W_m x^<t> + b_m)',
  }[s.m];
  // exp(m^<t-1> − m^<t>) is at most 1 for the max-plus form; for the others m is bounded or the gate is scaled down.
  const a = {
    gatePrev: `σ(W_a x^<t> + V ${g('m^<t-1>')})`,
    gateNow: `σ(V ${g('m^<t>')} + b_a)`,
    expDiff: s.m === 'maxplus' ? `exp(${g('m^<t-1>')} + W_f x^<t> - ${g('m^<t>')})` : `0.5 * exp(${g('m^<t-1>')} - ${g('m^<t>')}) / (1 + exp(${g('m^<t-1>')} - ${g('m^<t>')}))`,
  }[s.a];
  const b = {
    proj: '(W_b x^<t>)',
    oneMinus: '(1 - a) * (W_b x^<t>)',
    tanhM: `tanh(${g('m^<t>')}) * (W_b x^<t>)`,
    m: g('m^<t>'),
  }[s.b];
  const lines = ['cell Staged {', '  input x : n', '  state m : n', '  state h : n', `  ${m}`, `  a = ${a}`, `  h^<t> = a * h^<t-1> + ${b}`];
  if (s.output) lines.push('  y^<t> = W_y h^<t> + m^<t>');
  lines.push('}');
  return lines.join('\n') + '\n';
}
