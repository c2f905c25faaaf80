// Learning-rate schedules. Each is a pure function of the step, and none depends
// on the total number of steps asked for, so a run resumed with a larger
// `--steps` follows exactly the curve of a run that was asked for it at once.

export type Schedule =
  | { readonly kind: 'constant'; readonly warmup: number }
  | { readonly kind: 'cosine'; readonly warmup: number; readonly decaySteps: number; readonly floor: number }
  | { readonly kind: 'step'; readonly warmup: number; readonly every: number; readonly gamma: number };

/** The learning rate at `step` (0-based): linear warm-up, then the schedule's shape. */
export function lrAt(base: number, s: Schedule, step: number): number {
  const warm = s.warmup > 0 && step < s.warmup ? (step + 1) / s.warmup : 1;
  switch (s.kind) {
    case 'constant': return base * warm;
    case 'cosine': {
      const p = Math.min(1, step / Math.max(1, s.decaySteps));
      return base * warm * (s.floor + (1 - s.floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
    }
    case 'step': return base * warm * Math.pow(s.gamma, Math.floor(step / s.every));
  }
}

/**
 * `constant`, `cosine[:DECAY_STEPS[:FLOOR]]` or `step:EVERY:GAMMA`; `decaySteps`
 * is the default horizon of `cosine`. Returns an error message for bad text.
 */
export function parseSchedule(text: string, decaySteps: number, warmup: number): Schedule | string {
  const [kind, ...args] = text.split(':');
  const nums = args.map(Number);
  if (nums.some((x) => !Number.isFinite(x) || x < 0)) return `--schedule ${text}: the numbers after \`:\` must be non-negative`;
  switch (kind) {
    case 'constant':
      return args.length === 0 ? { kind, warmup } : '--schedule constant takes no arguments';
    case 'cosine': {
      const [d = decaySteps, floor = 0.05] = nums;
      if (args.length > 2 || !Number.isInteger(d) || d < 1 || floor > 1) return '--schedule cosine[:DECAY_STEPS[:FLOOR]] needs whole DECAY_STEPS ≥ 1 and FLOOR in [0, 1]';
      return { kind, warmup, decaySteps: d, floor };
    }
    case 'step': {
      const [every, gamma] = nums;
      if (args.length !== 2 || !Number.isInteger(every) || every! < 1) return '--schedule step:EVERY:GAMMA needs whole EVERY ≥ 1 and a factor GAMMA';
      return { kind, warmup, every: every!, gamma: gamma! };
    }
    default:
      return `unknown --schedule \`${kind}\` (constant, cosine[:DECAY_STEPS[:FLOOR]], step:EVERY:GAMMA)`;
  }
}
