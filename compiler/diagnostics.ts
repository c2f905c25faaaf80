// Diagnostics are values: one catalog of named constructors with stable codes.
// Stages collect them; one renderer prints them (rustc / Elm style):
//
//   gru.celda:4:9: error[E003]: unknown function `tahn`
//     4 |   c̃ = tahn(W_c[c^<t-1>, x^<t>] + b_c)
//       |       ^~~~
//   help: did you mean `tanh`?

import { distance } from 'fastest-levenshtein';
import type { Span } from '../grammar/ast.ts';

export type { Span };

export interface Diagnostic {
  readonly code: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly span: Span;
  readonly help?: string;
}

const err = (code: string, span: Span, message: string, help?: string): Diagnostic =>
  help === undefined ? { code, severity: 'error', message, span } : { code, severity: 'error', message, span, help };

/** "did you mean `W_aa`?" — the closest candidate within a small edit distance. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && c < best)) [best, bestD] = [c, d];
  }
  const limit = Math.max(1, Math.floor(name.length / 3));
  return best !== undefined && bestD <= limit ? `did you mean \`${best}\`?` : undefined;
}

/** The catalog. Codes are stable: tests and users rely on them. */
export const D = {
  syntax: (span: Span, expected: string, found: string) =>
    err('E001', span, found === '' ? `unexpected end of input, expected ${expected}` : `unexpected \`${found}\`, expected ${expected}`),
  unknownLatex: (span: Span, command: string, help?: string) =>
    err('E002', span, `unknown LaTeX command \`${command}\``, help ?? 'celda knows Greek letters, \\tilde, \\hat, \\frac, \\sqrt, \\cdot, \\odot, \\tanh, \\exp, \\log, \\sigma and spacing commands'),
  unknownFunction: (span: Span, name: string, help?: string) =>
    err('E003', span, `unknown function \`${name}\``, help ?? 'functions: tanh, sigmoid (σ), softmax, relu, exp, log, sqrt, abs, softplus'),
  unknownName: (span: Span, name: string, help?: string) =>
    err('E004', span, `unknown name \`${name}\`: it is read at a time step but never defined or declared as an input`, help),
  badTime: (span: Span, name: string, time: string) =>
    err('E005', span, `\`${name}^<${time}>\` is not allowed here: inside a cell only <t> and <t-1> may be read`, 'a cell computes step t from step t-1; to read further back, carry the value in a state'),
  emptyTime: (span: Span, name: string) =>
    err('E006', span, `\`${name}\` has an empty time index \`^{}\``, `write \`${name}^{<t>}\` or \`${name}^{<t-1>}\` (the notes lost some indices in extraction)`),
  cycle: (span: Span, path: readonly string[]) =>
    err('E007', span, `these equations depend on each other within one step: ${[...path, path[0]].map((n) => `\`${n}\``).join(' → ')}`, 'break the cycle by reading one of them at <t-1>'),
  stateNotDefined: (span: Span, name: string) =>
    err('E008', span, `\`${name}^<t-1>\` is read, but \`${name}^<t>\` is never defined`, `add an equation \`${name}^<t> = …\` or read an input at <t>`),
  shapeMismatch: (span: Span, what: string, a: string, b: string) =>
    err('E009', span, `shape mismatch in ${what}: ${a} vs ${b}`),
  paramTwoShapes: (span: Span, name: string, a: string, b: string) =>
    err('E010', span, `parameter \`${name}\` is used with two shapes: ${a} here, ${b} before`),
  doubleDefinition: (span: Span, name: string) =>
    err('E011', span, `\`${name}\` is defined twice`, 'each value has one equation; rename one of them'),
  inputDefined: (span: Span, name: string) =>
    err('E012', span, `\`${name}\` is declared as an input and cannot be defined by an equation`),
  mixedTime: (span: Span) =>
    err('E013', span, 'this cell mixes concrete time steps (`<1>`, `<2>`, …) with `<t>`', 'write the cell either for a general step t or fully unrolled at concrete steps'),
  cannotInfer: (span: Span, name: string) =>
    err('E014', span, `cannot infer the shape of \`${name}\``, `declare it: \`param ${name} : n_a\` or \`param ${name} : n_a × n_x\``),
  notAFunction: (span: Span, name: string) =>
    err('E015', span, `\`${name}\` names a function and cannot be used as a value`, `apply it: \`${name}(…)\``),
  duplicateDecl: (span: Span, name: string) =>
    err('E016', span, `\`${name}\` is declared twice`),
  badInit: (span: Span, name: string) =>
    err('E017', span, `the initial value of \`${name}\` must be a constant (\`0\`, \`[0 \\dots 0]\` or a number)`),
  noEquations: (span: Span, cell: string) =>
    err('E018', span, `cell \`${cell}\` has no equations`),
  badFunctionAlias: (span: Span, name: string) =>
    err('E019', span, `\`${name}\` is given a function, but it already names a value`),
  inputAtPrevious: (span: Span, name: string) =>
    err('E020', span, `input \`${name}\` is read at <t-1>; inputs are read at <t>`, `carry it in a state: \`${name}_prev^<t> = ${name}^<t>\``),
  duplicateCell: (span: Span, name: string) => err('E021', span, `cell \`${name}\` is defined twice in this file`),
  notScalarExponent: (span: Span) => err('E022', span, 'an exponent must be a number'),
  badDim: (span: Span, text: string) => err('E023', span, `bad dimension: ${text}`),
  unrolledGap: (span: Span, name: string, step: number) =>
    err('E024', span, `\`${name}^<${step}>\` is read but never defined`, step === 0 ? `give it an initial value: \`${name}^<0> = [0 \\dots 0]\`` : undefined),
  outputAsParam: (span: Span, name: string) =>
    err('E025', span, `\`${name}\` is defined at <t> but read here without a time index`),
  internal: (span: Span, message: string) => err('E999', span, `internal error: ${message}`, 'this is a bug in celda; please report it with the cell that caused it'),
} as const;

// ---------------------------------------------------------------- rendering

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function graphemes(s: string): string[] {
  return Array.from(segmenter.segment(s), (g) => g.segment);
}

/** 1-based line and column (in graphemes) of a UTF-16 offset. */
export function lineCol(source: string, offset: number): { line: number; col: number; lineStart: number; lineEnd: number } {
  const o = Math.max(0, Math.min(offset, source.length));
  const lineStart = source.lastIndexOf('\n', o - 1) + 1;
  let lineEnd = source.indexOf('\n', o);
  if (lineEnd < 0) lineEnd = source.length;
  let line = 1;
  for (let i = 0; i < lineStart; i++) if (source.charCodeAt(i) === 10) line++;
  const col = graphemes(source.slice(lineStart, o)).length + 1;
  return { line, col, lineStart, lineEnd };
}

export function render(d: Diagnostic, file: string, source: string): string {
  const { line, col, lineStart, lineEnd } = lineCol(source, d.span.start);
  const text = source.slice(lineStart, lineEnd).replace(/\r$/, '');
  const gutter = String(line).length;
  const pad = ' '.repeat(gutter);
  const before = graphemes(source.slice(lineStart, Math.max(lineStart, d.span.start))).map((g) => (g === '\t' ? '\t' : ' ')).join('');
  const spanEnd = Math.min(d.span.end, lineEnd);
  const width = Math.max(1, graphemes(source.slice(d.span.start, Math.max(d.span.start, spanEnd))).length);
  const out = [
    `${file}:${line}:${col}: ${d.severity}[${d.code}]: ${d.message}`,
    ` ${line} | ${text}`,
    ` ${pad} | ${before}^${'~'.repeat(width - 1)}`,
  ];
  if (d.help) out.push(`help: ${d.help}`);
  return out.join('\n');
}

export const hasErrors = (ds: readonly Diagnostic[]) => ds.some((d) => d.severity === 'error');
