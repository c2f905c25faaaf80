// Highlighting for the notation in CodeMirror: one stream tokenizer that reads
// the three spellings alike (`Γ_u`, `Gamma_u`, `\Gamma_{u}`). It only colours;
// the compiler (run on every edit) is what checks.

import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import type { StreamParser, StringStream } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import { FUNCTIONS } from '../compiler/ir/ops.ts';
import { GREEK_COMMANDS } from '../grammar/names.ts';

const KEYWORDS = new Set(['cell', 'input', 'state', 'param', 'output']);
/** Function names in every spelling: ops.ts's table, σ, and the LaTeX commands that name them. */
const FUNCTION_WORDS = new Set([...Object.keys(FUNCTIONS), 'σ', 'sigma', 'tanh']);
const LATEX_FUNCTIONS = new Set(['tanh', 'sigma', 'exp', 'log', 'ln', 'sqrt', 'max', 'min', 'operatorname', 'mathrm', 'text']);
const LATEX_LAYOUT = new Set(['left', 'right', 'begin', 'end', 'qquad', 'quad', 'big', 'Big', 'bigl', 'bigr', 'dots', 'ldots', 'cdots']);

/** A time index: `^<t-1>`, `^⟨t⟩`, `^{<t>}`, `^{(t)}` … */
const TIME = /^\^(\{\s*)?[<⟨(]\s*[^>⟩)}\n]*[>⟩)](\s*\})?/;
const NAME = /^[\p{L}][\p{L}\p{M}\p{N}]*(?:_(?:\{[^}\n]*\}|[\p{L}\p{N}]+))?[~\u0303\u0302]?/u;
const SUBSCRIPT = /^_(?:\{[^}\n]*\}|[\p{L}\p{N}]+)/u;

interface State { inShape: boolean }

/** The tokenizer (exported for its tests): token names are CodeMirror's highlight tags. */
export const celdaStream: StreamParser<State> = {
  name: 'celda',
  startState: () => ({ inShape: false }),
  token(stream: StringStream, state: State): string | null {
    if (stream.sol()) state.inShape = false;
    if (stream.eatSpace()) return null;
    if (stream.match(/^[#%]/)) { stream.skipToEnd(); return 'comment'; }
    if (stream.match(TIME)) return 'meta';
    if (stream.match(/^\\[A-Za-z]+/)) {
      const cmd = stream.current().slice(1);
      if (LATEX_FUNCTIONS.has(cmd)) return 'variableName.function';
      if (LATEX_LAYOUT.has(cmd)) return 'processingInstruction';
      // A Greek letter is a name, with its subscript, as `Γ_u` is: `\Gamma_{u}`.
      if (GREEK_COMMANDS[`\\${cmd}`] !== undefined) { stream.match(SUBSCRIPT); return 'variableName'; }
      return 'variableName.special';
    }
    if (stream.match(/^\\[,;:! ]/)) return 'processingInstruction';
    if (stream.match(/^\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/)) return 'number';
    const m = stream.match(NAME) as RegExpMatchArray | null;
    if (m) {
      const word = m[0];
      if (KEYWORDS.has(word)) { if (word !== 'cell') state.inShape = true; return 'keyword'; }
      if (FUNCTION_WORDS.has(word) && stream.match(/^\s*\(/, false)) return 'variableName.function';
      if (state.inShape) return 'typeName';
      if (/^[WUVb](_|$)/.test(word)) return 'variableName.definition';
      return 'variableName';
    }
    if (stream.match(/^[=:]/)) return 'operator';
    if (stream.match(/^[-+*/⊙·@×^]/)) return 'operator';
    if (stream.match(/^[[\](){}]/)) return 'bracket';
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '#' } },
};

export const celdaLanguage = StreamLanguage.define<State>(celdaStream);

const style = HighlightStyle.define([
  { tag: t.keyword, color: 'var(--hl-keyword)', fontWeight: '600' },
  { tag: t.comment, color: 'var(--hl-comment)', fontStyle: 'italic' },
  { tag: t.meta, color: 'var(--hl-time)' },
  { tag: [t.function(t.variableName), t.function(t.name)], color: 'var(--hl-function)' },
  { tag: t.special(t.variableName), color: 'var(--hl-latex)' },
  { tag: t.definition(t.variableName), color: 'var(--hl-param)' },
  { tag: t.typeName, color: 'var(--hl-dim)' },
  { tag: t.number, color: 'var(--hl-number)' },
  { tag: t.operator, color: 'var(--hl-operator)' },
  { tag: t.processingInstruction, color: 'var(--hl-comment)' },
]);

export const celdaHighlighting = syntaxHighlighting(style);
