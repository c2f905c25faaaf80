// TrainCore, the pure part of training that `celda train` and the playground's
// trainer share: settings checked before anything is allocated, the seed fixing
// the run, the schedule's learning rate, clipping, restoring, non-finite losses.

import { describe, expect, it } from 'vitest';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import { getTask } from '../../../../runtime/train/data/tasks/index.ts';
import { NonFiniteError } from '../../../../runtime/train/errors.ts';
import { UsageError } from '../../../../runtime/usage.ts';
import { defaultConfig, TrainCore } from '../../../../runtime/train/run/core.ts';
import type { RunConfig } from '../../../../runtime/train/run/settings.ts';
import { zerosLike } from '../../../../runtime/train/tensor.ts';
import { exampleCell } from '../../../support/train.ts';

const names = getTask('names');
const GRU = exampleCell('gru.celda');
const small = (over: Partial<RunConfig> = {}) => defaultConfig(names, { hidden: 6, embed: 3, batch: 8, evalSize: 16, threads: 1, seed: 3, ...over });
const core = (over: Partial<RunConfig> = {}) => new TrainCore({ task: names, cell: GRU, config: small(over), factory: interpBackend });
const flat = (c: TrainCore) => [...c.params.values()].flatMap((t) => [...t.data]);

describe('TrainCore', () => {
  it('takes the task\'s defaults for every setting not given', () => {
    const c = defaultConfig(names, { hidden: 5 });
    expect(c).toMatchObject({ ...names.defaults, hidden: 5, task: 'names', seed: 0, head: 'auto' });
  });

  it('builds the layers the settings ask for, two layers: two cells\' parameters', () => {
    const one = core().init(), two = core({ layers: 2 }).init();
    const layer = (c: TrainCore, i: number) => [...c.params.keys()].filter((k) => k.startsWith(`layer${i}.`));
    expect(layer(one, 0).length).toBeGreaterThan(0);
    expect(layer(one, 1)).toEqual([]);
    expect(layer(two, 1).length).toBe(layer(two, 0).length);
  });

  it('refuses bad settings with the option\'s name, before initialising anything (a UsageError: the command line is wrong)', () => {
    expect(() => core({ batch: 0 })).toThrow(new UsageError('--batch must be a whole number ≥ 1'));
    expect(() => core({ batch: 10 ** 7 })).toThrow(/--batch 10000000 is larger than the training split \(\d+ examples\)/);
    expect(() => core({ schedule: 'wobbly' })).toThrow(UsageError);
    expect(() => core({ threads: 9 })).toThrow('--threads 9 is more than the batch of 8');
  });

  it('the seed fixes the run: two cores stepped alike end with the same bits; another seed differs', () => {
    const a = core().init(), b = core().init(), c = core({ seed: 4 }).init();
    for (let i = 0; i < 5; i++) { a.stepOnce(); b.stepOnce(); c.stepOnce(); }
    expect(a.step).toBe(5);
    expect(flat(a)).toEqual(flat(b));
    expect(flat(a)).not.toEqual(flat(c));
  });

  it('uses the schedule: warmup ramps the learning rate up from lr / warmup; step halves it every 2', () => {
    const c = core({ lr: 0.01, schedule: 'constant', warmup: 4 }).init();
    expect(Array.from({ length: 5 }, () => c.stepOnce().lr)).toEqual([0.0025, 0.005, 0.0075, 0.01, 0.01]);
    const s = core({ lr: 0.01, schedule: 'step:2:0.5', warmup: 0 }).init();
    expect(Array.from({ length: 5 }, () => s.stepOnce().lr)).toEqual([0.01, 0.01, 0.005, 0.005, 0.0025]);
  });

  it('clips to the global norm the settings give, and reports the norm before clipping', () => {
    const c = core({ clip: 1e-6 }).init();
    const before = flat(c);
    const u = c.stepOnce();
    expect(u.gradNorm).toBeGreaterThan(1e-6);
    expect(u.loss).toBeGreaterThan(0);
    expect(flat(c)).not.toEqual(before);
  });

  it('restore continues exactly where the run was', () => {
    const straight = core().init();
    for (let i = 0; i < 6; i++) straight.stepOnce();
    const first = core().init();
    for (let i = 0; i < 3; i++) first.stepOnce();
    const copy = (t: typeof first.params) => new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
    const resumed = core().restore({ params: copy(first.params), optimizer: { tensors: copy(first.state.tensors), t: first.state.t }, rngState: first.rng.state, order: first.order.slice(), step: first.step });
    for (let i = 0; i < 3; i++) resumed.stepOnce();
    expect(flat(resumed)).toEqual(flat(straight));
  });

  it('refuses an example order that does not fit the training split', () => {
    const c = core().init();
    expect(() => core().restore({ params: c.params, optimizer: c.state, rngState: 1, order: new Int32Array(3), step: 0 })).toThrow(/covers 3 examples, but the training split has \d+/);
  });

  it('stops on a non-finite loss with the step and what was kept', () => {
    const c = core().init();
    expect(() => c.update(zerosLike(c.params), { loss: NaN, count: 1 }, '; nothing kept')).toThrow(new NonFiniteError('step 1: the loss is NaN; training stopped; nothing kept'));
    expect(c.step).toBe(0);
  });

  it('evaluates the task\'s metrics on evalSize examples of the validation split', () => {
    const c = core({ evalSize: 5 }).init();
    expect(c.evalSubset.length).toBe(5);
    const m = c.evaluate();
    expect(Object.keys(m)).toContain(names.watch.name);
    expect(Number.isFinite(m[names.watch.name]!)).toBe(true);
  });
});
