// many-to-one: first name → gender. Data: the two @stdlib first-name lists,
// lowercased; names found in both lists are removed (they have no single
// answer). Classes: 0 female, 1 male. Metric: validation accuracy, next to the
// accuracy of always answering the training split's majority class.

import type { Example } from '../batch.ts';
import { predictClasses } from '../../run/evaluate.ts';
import { accuracy, majorityAccuracy } from '../metrics.ts';
import { DEFAULTS } from './defaults.ts';
import type { Task } from './task.ts';
import { once, splitBy, Vocab } from './common.ts';
import { nameList } from './names.ts';

export const GENDERS = ['female', 'male'] as const;

export const genderTask = (): Task => {
  const { female, male } = nameList();
  const vocab = new Vocab([...new Set([...female, ...male].join(''))].sort());
  const load = once(() => {
    const f = new Set(female), m = new Set(male);
    const items = [...[...f].filter((n) => !m.has(n)).map((n) => [n, 0] as const), ...[...m].filter((n) => !f.has(n)).map((n) => [n, 1] as const)]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const s = splitBy(items, ([n]) => n);
    const ex = ([n, g]: readonly [string, number]): Example => ({ x: vocab.encode(n), y: Int32Array.of(g) });
    return { train: s.train.map(ex), val: s.val.map(ex), test: s.test.map(ex) };
  });
  return {
    name: 'gender',
    topology: 'many-to-one',
    summary: 'many-to-one: first name → female or male',
    inVocab: vocab.size,
    classes: 2,
    defaults: DEFAULTS.gender,
    load,
    watch: { name: 'accuracy', better: 'higher' },
    metrics(ev, examples, train) {
      const pred = predictClasses(ev.model, ev.params, examples, 256);
      return {
        accuracy: accuracy(pred, examples.map((e) => e.y)),
        majority_accuracy: majorityAccuracy(train.map((e) => e.y[0]!), examples.map((e) => e.y[0]!)),
      };
    },
    parseInput(text) {
      return vocab.encode(text.trim().toLowerCase());
    },
    show(source, prediction) {
      return `${vocab.decode(source ?? [])}\t${GENDERS[prediction[0]!] ?? '?'}`;
    },
  };
};
