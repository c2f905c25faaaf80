// The four tasks: their data and splits, the entity-labelling rule, the metrics,
// and a short training run on each whose loss falls.

import { describe, expect, it } from 'vitest';
import type { BackendFactory } from '../../../../runtime/backend.ts';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import { loadBackend } from '../../../../runtime/train/run/backends.ts';
import { meanLoss } from '../../../../runtime/train/run/evaluate.ts';
import { bigramNll, errorRates, f1PerClass, majorityAccuracy } from '../../../../runtime/train/data/metrics.ts';
import { train } from '../../../../runtime/train/run/loop.ts';
import { label, lines, MAX_LINE } from '../../../../runtime/train/data/tasks/entities.ts';
import { splitOf } from '../../../../runtime/train/data/tasks/common.ts';
import { getTask } from '../../../../runtime/train/data/tasks/index.ts';
import type { Task } from '../../../../runtime/train/data/tasks/task.ts';
import { exampleCell } from '../../../support/train.ts';

const tags = (text: string) => Array.from(label(text), (t) => '.UEN'[t]).join('');

describe('the entity rule', () => {
  it('tags URLs, e-mail addresses and numbers as documented', () => {
    expect(tags('see http://x.org/a?b=1. now')).toBe('....UUUUUUUUUUUUUUUUUU.....');
    expect(tags('mail bob.s@ex-1.co.uk, ok')).toBe('.....EEEEEEEEEEEEEEEE....');
    expect(tags('at 12:36:23 on 127.0.0.1')).toBe('...NNNNNNNN....NNNNNNNNN');
    expect(tags('v5.9 g7MBY 1.5x 42')).toBe('................NN');
    expect(tags('www.a.com/x1 and 3')).toBe('UUUUUUUUUUUU.....N');
  });

  it('breaks long lines after whitespace and drops blank ones', () => {
    const word = 'abcdefghi ';
    const text = `${word.repeat(25)}\n   \nshort`;
    const ls = lines(text);
    expect(ls.every(([s, e]) => e - s <= MAX_LINE)).toBe(true);
    expect(text.slice(...ls[0]!)).toBe(word.repeat(10));
    expect(text.slice(...ls[ls.length - 1]!)).toBe('short');
    expect(ls.map(([s, e]) => text.slice(s, e)).join('')).toBe(word.repeat(25) + 'short');
  });
});

describe('metrics', () => {
  it('phoneme and word error rates by edit distance', () => {
    const r = errorRates([Int32Array.of(1, 2, 3), Int32Array.of(4)], [Int32Array.of(1, 3), Int32Array.of(4)]);
    expect(r.per).toBeCloseTo(1 / 3, 12);
    expect(r.wer).toBe(0.5);
  });

  it('per-class F1, majority baseline, bigram NLL', () => {
    const f1 = f1PerClass([Int32Array.of(1, 1, 0, 2)], [Int32Array.of(1, 0, 0, 2)], [1, 2]);
    expect(f1.get(1)).toBeCloseTo(2 / 3, 12);
    expect(f1.get(2)).toBe(1);
    expect(majorityAccuracy([0, 0, 1], [0, 1, 1, 1])).toBe(0.25);
    // A deterministic sequence under a bigram fitted on itself: NLL near 0 with little smoothing.
    expect(bigramNll([Int32Array.of(0, 1, 2)], [Int32Array.of(0, 1, 2)], 3, 1e-9)).toBeLessThan(1e-6);
  });
});

describe('data and splits', () => {
  it('splits are fixed by hash and disjoint', () => {
    expect(splitOf('anna')).toBe(splitOf('anna'));
    const t = getTask('gender').load();
    const key = (e: { x?: Int32Array }) => e.x!.join();
    const train = new Set(t.train.map(key));
    expect(t.val.some((e) => train.has(key(e)))).toBe(false);
    expect(t.train.length).toBeGreaterThan(5000);
    expect(new Set(t.train.map((e) => e.y[0])).size).toBe(2);
  });

  it('names end in EOS; g2p uses 39 stressless phonemes', () => {
    const names = getTask('names');
    expect(names.load().train.every((e) => e.y[e.y.length - 1] === names.eos)).toBe(true);
    const g2p = getTask('g2p');
    expect(g2p.classes).toBe(40);
    expect(g2p.show(g2p.parseInput('cat'), Int32Array.of(0))).toMatch(/^CAT\t/);
  });
});

/** Loss on a fixed slice of the training split before and after a few steps. */
async function lossFalls(task: Task, over: Record<string, unknown>, cellFile = 'gru.celda', factory: BackendFactory = interpBackend) {
  const cell = exampleCell(cellFile);
  const config = { ...task.defaults, task: task.name, seed: 1, head: 'auto' as const, hidden: 8, embed: 8, batch: 16, evalEvery: 1000, warmup: 0, schedule: 'constant', threads: 1, ...over };
  const slice = task.load().train.slice(0, 48);
  const before = await train({ task, cell, config: { ...config, steps: 0 }, factory });
  const l0 = meanLoss(before.model, before.params, slice, 16);
  const after = await train({ task, cell, config, factory });
  const l1 = meanLoss(after.model, after.params, slice, 16);
  return { l0, l1 };
}

describe('a short run on each task lowers the loss', () => {
  it('names (one-to-many)', async () => {
    const { l0, l1 } = await lossFalls(getTask('names'), { steps: 25, lr: 0.02 });
    expect(l1).toBeLessThan(l0 - 0.3);
  });
  it('gender (many-to-one)', async () => {
    const { l0, l1 } = await lossFalls(getTask('gender'), { steps: 25, lr: 0.02 });
    expect(l1).toBeLessThan(l0 - 0.02);
  });
  it('entities (many-to-many, bidirectional)', async () => {
    const { l0, l1 } = await lossFalls(getTask('entities'), { steps: 10, batch: 8, hidden: 4, lr: 0.03 });
    expect(l1).toBeLessThan(l0 - 0.1);
  });
  it('g2p (encoder–decoder)', async () => {
    const { l0, l1 } = await lossFalls(getTask('g2p'), { steps: 20, lr: 0.02 });
    expect(l1).toBeLessThan(l0 - 0.3);
  });
});

describe('the float32 SIMD backend (--backend js-f32) trains too', () => {
  it('encoder–decoder and bidirectional tagging: the loss falls as with the float64 module', async () => {
    const f32 = (await loadBackend('js-f32')).factory, f64 = (await loadBackend('js')).factory;
    const runs = [['g2p', { steps: 20, lr: 0.02 }, 0.3], ['entities', { steps: 10, batch: 8, hidden: 4, lr: 0.03 }, 0.1]] as const;
    for (const [name, over, drop] of runs) {
      const a = await lossFalls(getTask(name), over, 'gru.celda', f32);
      const b = await lossFalls(getTask(name), over, 'gru.celda', f64);
      expect(a.l1, name).toBeLessThan(a.l0 - drop);
      // The same run in float32: the same curve to float32's precision (after a few optimizer steps).
      expect(Math.abs(a.l0 - b.l0), name).toBeLessThan(1e-4 * b.l0);
      expect(Math.abs(a.l1 - b.l1), name).toBeLessThan(1e-2 * b.l1);
    }
  });
});
