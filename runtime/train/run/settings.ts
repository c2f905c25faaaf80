// The rules a run's settings obey, in one table. The command line parses its
// text through them, and a resumed run checks the settings read back from its
// checkpoint through the very same rules, so an edited or damaged file (an
// `lr` of −5, a `hidden` of 1e300) is refused as the option would be.

import { TrainError } from '../errors.ts';
import type { Settings } from '../data/tasks/task.ts';

/** A whole number or a number in [min, max], or one of some words (any text when the list is empty). */
/** A run's settings: the task's, the command line's, or a checkpoint's. */
export interface RunConfig extends Settings {
  readonly task: string;
  readonly seed: number;
  readonly head: 'auto' | 'cell' | 'runtime';
  readonly readout?: string;
  readonly dims?: Readonly<Record<string, number>>;
}

export type Kind = { readonly int: number; readonly max?: number } | { readonly num: number; readonly max?: number } | { readonly oneOf: readonly string[] };

/** The largest size or count a setting takes: beyond it, no array could hold it. */
export const MAX_COUNT = 2 ** 31 - 1;
/** Seeds are 32-bit: a larger one would wrap silently. */
export const MAX_SEED = 2 ** 32 - 1;

export interface Setting {
  /** The option's name on the command line (`--weight-decay`). */
  readonly opt: string;
  /** The RunConfig field it sets. */
  readonly key: keyof RunConfig;
  readonly kind: Kind;
}

/** Options that set a `RunConfig` field: name on the command line, field, and what it accepts. */
export const SETTINGS: readonly Setting[] = [
  { opt: 'hidden', key: 'hidden', kind: { int: 1, max: MAX_COUNT } },
  { opt: 'layers', key: 'layers', kind: { int: 1, max: 1024 } },
  { opt: 'embed', key: 'embed', kind: { int: 0, max: MAX_COUNT } },
  { opt: 'batch', key: 'batch', kind: { int: 1, max: MAX_COUNT } },
  { opt: 'lr', key: 'lr', kind: { num: 0 } },
  { opt: 'optimizer', key: 'optimizer', kind: { oneOf: ['sgd', 'adam', 'adamw'] } },
  { opt: 'weight-decay', key: 'weightDecay', kind: { num: 0 } },
  { opt: 'momentum', key: 'momentum', kind: { num: 0 } },
  { opt: 'schedule', key: 'schedule', kind: { oneOf: [] } },
  { opt: 'warmup', key: 'warmup', kind: { int: 0, max: Number.MAX_SAFE_INTEGER } },
  { opt: 'decay-steps', key: 'decaySteps', kind: { int: 1, max: Number.MAX_SAFE_INTEGER } },
  { opt: 'clip', key: 'clip', kind: { num: 0 } },
  { opt: 'init', key: 'init', kind: { oneOf: ['glorot', 'orthogonal'] } },
  { opt: 'forget-bias', key: 'forgetBias', kind: { num: -Infinity } },
  { opt: 'bptt', key: 'bptt', kind: { int: 0, max: MAX_COUNT } },
  { opt: 'eval-every', key: 'evalEvery', kind: { int: 1, max: Number.MAX_SAFE_INTEGER } },
  { opt: 'eval-size', key: 'evalSize', kind: { int: 1, max: MAX_COUNT } },
  { opt: 'seed', key: 'seed', kind: { int: 0, max: MAX_SEED } },
  { opt: 'threads', key: 'threads', kind: { int: 1, max: 256 } },
  { opt: 'head', key: 'head', kind: { oneOf: ['auto', 'cell', 'runtime'] } },
  { opt: 'readout', key: 'readout', kind: { oneOf: [] } },
];

/** The most updates a run takes: beyond it, a step count is no longer exact. */
export const MAX_STEPS = Number.MAX_SAFE_INTEGER;

/** `--steps`: counted like the other settings, saved in the checkpoint with them. */
export const STEPS: Setting = { opt: 'steps', key: 'steps', kind: { int: 0, max: MAX_STEPS } };

const describe = (kind: Kind): string => {
  if ('oneOf' in kind) return kind.oneOf.length ? `one of ${kind.oneOf.join(', ')}` : 'text';
  const min = 'int' in kind ? kind.int : kind.num;
  return `${'int' in kind ? 'a whole number' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}`;
};

/** What is wrong with a value for a setting of this kind (`must be …`), or null when it is fine. */
export function settingProblem(kind: Kind, value: unknown): string | null {
  if ('oneOf' in kind) {
    if (typeof value !== 'string') return `must be ${describe(kind)}`;
    return kind.oneOf.length && !kind.oneOf.includes(value) ? `must be ${describe(kind)}` : null;
  }
  const min = 'int' in kind ? kind.int : kind.num;
  if (typeof value !== 'number' || !Number.isFinite(value) || ('int' in kind && !Number.isInteger(value)) || value < min) return `must be ${describe(kind)}`;
  if (kind.max !== undefined && value > kind.max) return `must be at most ${kind.max}`;
  return null;
}

/** A setting's text from the command line: its value, or what is wrong with it (`must be …, not \`x\``). */
export function parseSetting(text: string, kind: Kind): { value: number | string } | { problem: string } {
  const value = 'oneOf' in kind ? text : text.trim() === '' ? NaN : Number(text);
  const problem = settingProblem(kind, value);
  return problem === null ? { value } : { problem: `${problem}, not \`${text}\`` };
}

const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v) ?? String(v));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The settings read from a checkpoint, checked by the rules of the command
 * line: every setting present and valid, the switches true or false, the
 * dimensions whole numbers ≥ 1. `file` names where they were read from.
 */
export function validateConfig(config: unknown, file: string): RunConfig {
  const bad = (what: string, v: unknown, rule: string) =>
    new TrainError(`${file}: the checkpoint's setting ${what} is ${show(v)}, but it ${rule}; the file was edited or damaged (start a fresh run, or restore the file)`);
  if (!isRecord(config)) throw new TrainError(`${file}: the checkpoint's settings are ${show(config)}, not an object of settings; the file was edited or damaged`);
  if (typeof config.task !== 'string') throw bad('task', config.task, 'must be the name of a task');
  for (const s of [...SETTINGS, STEPS]) {
    const v = config[s.key];
    if (v === undefined && s.key === 'readout') continue; // optional: absent unless --readout was given
    const problem = settingProblem(s.kind, v);
    if (problem !== null) throw bad(`${s.key} (--${s.opt})`, v, problem);
  }
  for (const key of ['bidirectional', 'bucket'] as const) {
    if (typeof config[key] !== 'boolean') throw bad(key, config[key], 'must be true or false');
  }
  if (config.dims !== undefined) {
    if (!isRecord(config.dims)) throw bad('dims (--dim)', config.dims, 'must map dimension names to sizes');
    for (const [name, v] of Object.entries(config.dims)) {
      const problem = settingProblem({ int: 1, max: MAX_COUNT }, v);
      if (problem !== null) throw bad(`dims.${name} (--dim ${name}=N)`, v, problem);
    }
  }
  return config as unknown as RunConfig;
}
