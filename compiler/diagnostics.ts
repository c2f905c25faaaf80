// Diagnostics are values: one catalog of named constructors with stable codes.
// Stages collect them; one renderer prints them (rustc / Elm style):
//
//   gru.celda:4:7: error[E003]: unknown function `tahn`
//    4 |   c̃ = tahn(W_c[c^<t-1>, x^<t>] + b_c)
//      |       ^~~~
//   help: did you mean `tanh`?
//
// Columns count graphemes, so `c̃` is one. A diagnostic may carry notes, each a
// second place in the source (`note: first defined here`, underlined `----`).

import type { Span } from '../grammar/ast.ts';

export type { Span };

/** A secondary place that explains the error: "first used as ? × n_x here". */
export interface Note {
  readonly span: Span;
  readonly message: string;
}

export interface Diagnostic {
  readonly code: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly span: Span;
  readonly help?: string;
  readonly notes?: readonly Note[];
}

const err = (code: string, span: Span, message: string, help?: string, notes?: readonly Note[]): Diagnostic => ({
  code, severity: 'error', message, span,
  ...(help === undefined ? {} : { help }),
  ...(notes === undefined || notes.length === 0 ? {} : { notes }),
});

const note = (span: Span | undefined, message: string): Note[] => (span ? [{ span, message }] : []);

/**
 * Optimal-string-alignment distance: Levenshtein plus swapping two neighbours
 * as one edit, so `tahn` is one typo away from `tanh`, as a person counts.
 */
export function editDistance(a: string, b: string): number {
  const x = [...a], y = [...b];
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[x.length]![y.length]!;
}

/** The closest candidate within a small edit distance (a third of the name), if any. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && c < best)) [best, bestD] = [c, d];
  }
  const limit = Math.max(1, Math.floor([...name].length / 3));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** "did you mean `W_aa`?" — the closest candidate within a small edit distance. */
export function didYouMean(name: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c): string | undefined {
  const best = closest(name, candidates);
  return best === undefined ? undefined : `did you mean \`${show(best)}\`?`;
}

/** What the parser expects when its recursion overflowed (grammar/parse.ts). */
const NESTED = 'an expression nested less deeply';

function syntaxMessage(expected: string, found: string): string {
  if (expected === NESTED) return 'this is nested too deeply for celda to read';
  if (expected.includes(' to close this ')) return `\`${found}\` is never closed: expected ${expected.replace(/ to close this .*$/, '')} to close it`;
  if (expected.includes(' before this ')) return `\`${found}\` closes nothing: expected ${expected.replace(/ before this .*$/, '')} before it`;
  if (found === '') return `unexpected end of input, expected ${expected}`;
  if (/^(\r\n|\n|\r)$/.test(found)) return `unexpected line break, expected ${expected}`;
  return `unexpected \`${found}\`, expected ${expected}`;
}

/** The usual cause of a parse failure, when the expectation gives it away. */
function syntaxHelp(expected: string, found: string): string | undefined {
  if (expected === NESTED) return 'name parts of a deep expression: `s_1 = …`, then use `s_1`';
  if (expected.includes('")"')) return 'a `(` opened earlier is not closed: add `)` before this point';
  if (expected.includes('"]"')) return 'a `[` opened earlier is not closed: add `]` before this point';
  if (found === '' && expected.includes('"}"')) return 'the cell is not closed: end it with `}`';
  if (found === '=' && expected.includes('an expression')) return 'an equation has one `=`';
  if (['>', '<', '≥', '≤', '⩾', '⩽', '\\geq', '\\leq', '\\ge', '\\le'].includes(found) && !expected.includes('a comparison')) return 'a comparison is a condition of `cases(a if v ≥ 0, b otherwise)`, or a value (1 or 0) in parentheses: `(v ≥ 0)`';
  if ((found === '\\frac' || found === '\\partial') && expected.includes('an equation')) return DERIVATIVES;
  return undefined;
}

/** For the notes' backward equations pasted into a cell. */
export const DERIVATIVES = 'celda derives the backward equations itself (see `celda grad`): write only the forward equations of the cell';

const FUNCTION_LIST = 'tanh, sigmoid (σ), softmax, relu, exp, log, sqrt, abs, softplus; LN and RMSNorm; and functions defined in the cell, `g(v) = …`';

/**
 * The catalog. Codes are stable: tests and users rely on them. Names arrive
 * spelled for display. A retired code is not reused: E022 (an exponent that is
 * not a number) since tensor exponents (`x^y` of two tensors) are allowed.
 */
export const D = {
  syntax: (span: Span, expected: string, found: string) => err('E001', span, syntaxMessage(expected, found), syntaxHelp(expected, found)),
  unknownLatex: (span: Span, command: string, help?: string) =>
    err('E002', span, `unknown LaTeX command \`${command}\``, help ?? 'celda knows Greek letters, \\tilde, \\hat, \\frac, \\sqrt, \\cdot, \\odot, \\tanh, \\exp, \\log, \\sigma and spacing commands'),
  unknownFunction: (span: Span, name: string, help?: string) =>
    err('E003', span, `unknown function \`${name}\``, help ?? `functions: ${FUNCTION_LIST}`),
  unknownName: (span: Span, name: string, help?: string) =>
    err('E004', span, `unknown name \`${name}\`: it is read at a time step but never defined or declared as an input`, help),
  /** `where`: the index is on a value read or on the left side of an equation, in a cell for step t or unrolled. */
  badTime: (span: Span, name: string, time: string, where: 'read' | 'defined' | 'read-unrolled' | 'defined-unrolled' = 'read', help?: string) =>
    err('E005', span, {
      read: `\`${name}^<${time}>\` is not allowed here: inside a cell only <t> and <t-1> may be read`,
      defined: `\`${name}^<${time}>\` cannot be defined: an equation of a cell defines a value at <t>`,
      'read-unrolled': `\`${name}^<${time}>\` is not allowed here: an unrolled cell reads values at concrete steps (\`<0>\`, \`<1>\`, …)`,
      'defined-unrolled': `\`${name}^<${time}>\` cannot be defined: an unrolled cell defines values at concrete steps (\`<1>\`, \`<2>\`, …)`,
    }[where], help ?? 'a cell computes step t from step t-1; to read further back, carry the value in a state'),
  emptyTime: (span: Span, name: string, where: 'read' | 'defined' = 'read') =>
    err('E006', span, `\`${name}\` has an empty time index \`^{}\``, where === 'defined'
      ? `write \`${name}^{<t>}\`: an equation defines a value at <t> (the notes lost some indices in extraction)`
      : `write \`${name}^{<t>}\` or \`${name}^{<t-1>}\` (the notes lost some indices in extraction)`),
  cycle: (span: Span, path: readonly string[], notes?: readonly Note[]) =>
    err('E007', span, `these equations depend on each other within one step: ${[...path, path[0]].map((n) => `\`${n}\``).join(' → ')}`, 'break the cycle by reading one of them at <t-1>', notes),
  /** A state read at <t-1> (or declared) with no equation at <t>. */
  stateNotDefined: (span: Span, name: string, declared = false, help?: string) =>
    err('E008', span, declared ? `state \`${name}\` is declared, but \`${name}^<t>\` is never defined` : `\`${name}^<t-1>\` is read, but \`${name}^<t>\` is never defined`,
      help ?? `add an equation \`${name}^<t> = …\`${declared ? '' : ' or read an input at <t>'}`),
  /**
   * Both shapes, `a` and `b`, with the operands' text (`Γ_u`, `x^<t>`) when it is
   * short; without `b`, `a` is the whole reason (`transpose needs a matrix, got …`).
   */
  shapeMismatch: (span: Span, what: string, a: string, b?: string, help?: string, operands?: readonly [string, string]) =>
    err('E009', span, b === undefined ? `shape mismatch in ${what}: ${a}`
      : operands ? `shape mismatch in ${what}: \`${operands[0]}\` is ${a}, \`${operands[1]}\` is ${b}` : `shape mismatch in ${what}: ${a} vs ${b}`, help),
  paramTwoShapes: (span: Span, name: string, here: string, before: string, first?: Span) =>
    err('E010', span, `parameter \`${name}\` is used with two shapes: ${here} here, ${before} before`,
      `a parameter has one shape (\`?\` is a size not inferred yet); give each use its own parameter (\`${name}_1\`, \`${name}_2\`) or multiply a concatenation: \`${name}[u, v]\``,
      note(first, `\`${name}\` gets the shape ${before} here`)),
  doubleDefinition: (span: Span, name: string, first?: Span) =>
    err('E011', span, `\`${name}\` is defined twice`, 'each value has one equation; rename one of them', note(first, 'first defined here')),
  inputDefined: (span: Span, name: string, declared?: Span) =>
    err('E012', span, `\`${name}\` is declared as an input and cannot be defined by an equation`,
      `inputs come from outside the cell; rename the value this equation defines, or remove \`input ${name}\``, note(declared, 'declared as an input here')),
  /** Concrete steps (`<1>`) and `<t>` in one cell; `message` says which side this span is on. */
  mixedTime: (span: Span, message = 'this cell mixes concrete time steps (`<1>`, `<2>`, …) with `<t>`', help = 'write the cell either for a general step t or fully unrolled at concrete steps') =>
    err('E013', span, message, help),
  cannotInfer: (span: Span, name: string) =>
    err('E014', span, `cannot infer the shape of \`${name}\``, `declare it: \`param ${name} : n_a\` or \`param ${name} : n_a × n_x\``),
  notAFunction: (span: Span, name: string) =>
    err('E015', span, `\`${name}\` names a function and cannot be used as a value`, `apply it: \`${name}(…)\``),
  duplicateDecl: (span: Span, name: string, first?: Span) =>
    err('E016', span, `\`${name}\` is declared twice`, 'remove one of the declarations', note(first, 'first declared here')),
  badInit: (span: Span, name: string) =>
    err('E017', span, `the initial value of \`${name}\` must be a constant (\`0\`, \`[0 \\dots 0]\` or a number)`, 'a cell starts from a fixed state; pass a different one at run time (`init` in `celda eval`)'),
  noEquations: (span: Span, cell: string) =>
    err('E018', span, `cell \`${cell}\` has no equations`, 'write one equation per line, e.g. `a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)`'),
  badFunctionAlias: (span: Span, name: string) =>
    err('E019', span, `\`${name}\` is given a function, but it already names a value`),
  inputAtPrevious: (span: Span, name: string) =>
    err('E020', span, `input \`${name}\` is read at <t-1>; inputs are read at <t>`, `carry it in a state: \`${name}_prev^<t> = ${name}^<t>\`, then read \`${name}_prev^<t-1>\``),
  duplicateCell: (span: Span, name: string, first?: Span) =>
    err('E021', span, `cell \`${name}\` is defined twice in this file`, 'rename one of the cells', note(first, 'first defined here')),
  badDim: (span: Span, text: string) => err('E023', span, `bad dimension: ${text}`),
  unrolledGap: (span: Span, name: string, step: number, help?: string) =>
    err('E024', span, `\`${name}^<${step}>\` is read but never defined`, help ?? (step === 0 ? `give it an initial value: \`${name}^<0> = [0 \\dots 0]\`` : undefined)),
  outputAsParam: (span: Span, name: string, help?: string) =>
    err('E025', span, `\`${name}\` is defined at <t> but read here without a time index`, help ?? `write \`${name}^<t>\` (this step) or \`${name}^<t-1>\` (the previous one)`),
  zerosInExpression: (span: Span) =>
    err('E026', span, '`[0 … 0]` is an initial value and cannot be used inside an equation', 'write `0` for zeros in an expression; start a state at zero with `a^<0> = [0 \\dots 0]` or `state a : n_a = 0`'),
  outputNotDefined: (span: Span, name: string) =>
    err('E027', span, `output \`${name}\` is declared, but \`${name}^<t>\` is never defined`, `add an equation \`${name}^<t> = …\``),
  tooDeep: (span: Span, depth: number, limit: number) =>
    err('E028', span, `this expression is nested ${depth} levels deep; celda checks at most ${limit}`, 'name parts of it: `s_1 = …`, then use `s_1`'),
  inputOutOfSteps: (span: Span, name: string, step: number, last: number) =>
    err('E029', span, `input \`${name}\` has no value at step ${step}: this unrolled cell reads its inputs at steps 1 to ${last}`,
      step === 0 ? `step 0 holds initial values only; the first input is \`${name}^<1>\`` : `define the steps up to ${step}, or read \`${name}^<${last}>\``),
  noOutputs: (span: Span, cell: string, last: string) =>
    err('E030', span, `cell \`${cell}\` computes no value at <t>: it has no state and no output`, `a value without a time index is an intermediate of the step; write \`${last}^<t> = …\` to make it an output`),
  wrongArity: (span: Span, fn: string, want: number, got: number) =>
    err('E031', span, `\`${fn}\` takes ${want === 1 ? 'one argument' : `${want} arguments`}, got ${got}`,
      want === 1 ? `apply it to one value: \`${fn}(…)\`` : `write \`${fn}(${Array.from({ length: want }, (_, i) => 'abcd'[i]).join(', ')})\``),
  /** `v kᵀ` where a side is not a vector (matrices per example). */
  outerOperands: (span: Span, operand: string, shape: string, side: 'left' | 'right', operands?: readonly [string, string]) =>
    err('E040', span, `\`${operands ? `${operands[0]} ${operands[1]}ᵀ` : `v ${operand}ᵀ`}\` is an outer product of two vectors, but \`${operand}\` (on the ${side}) is ${shape}`,
      side === 'right' ? 'write `v kᵀ` with `v` and `k` vectors (per example or not); a parameter matrix is transposed where it multiplies a vector: `Wᵀ x`' : 'write `v kᵀ` with `v` and `k` vectors; to scale the outer product by a scalar, write `f v kᵀ` or `f * (v kᵀ)`'),
  /** `diag(v)` without a matrix or vector to scale, or of something that is not a vector. */
  diagOperand: (span: Span, what: string, help: string) =>
    err('E041', span, `\`diag(v)\` scales the rows of the matrix it multiplies: ${what}`, help),
  /** A function defined in the cell (`g(v) = …`) that applies itself, directly or through others. */
  recursiveFunction: (span: Span, path: readonly string[]) =>
    err('E070', span, `function \`${path[0]}\` applies itself: ${path.map((n) => `\`${n}\``).join(' → ')}`, 'a function is inlined where it is applied, so it cannot call itself; write the repetition out'),
  /** A defined function applied to the wrong number of arguments (before and after `;`). */
  functionArity: (span: Span, fn: string, want: string, got: string, definition?: Span) =>
    err('E071', span, `\`${fn}\` takes ${want}, got ${got}`, `write \`${fn}(…)\` with the arguments of its definition`, note(definition, 'defined here')),
  /** A name in a function's body that is neither its argument nor anything of the cell. */
  unknownInFunction: (span: Span, name: string, fn: string, help: string) =>
    err('E072', span, `\`${name}\` in the body of \`${fn}\` is not one of its arguments`, help),
  /** `[f, i, o, g] = e` where e's length is not a multiple of the number of names. */
  badSplit: (span: Span, count: number, size: string, help?: string) =>
    err('E073', span, `cannot split ${size} into ${count} equal parts`, help ?? `the right-hand side must have a length divisible by ${count}`),
  /** `x_t` where it is unclear whether `_t` is a time index. */
  ambiguousTime: (span: Span, written: string, base: string, timed: string) =>
    err('E074', span, `\`${written}\`: is \`_t\` a time index (\`${timed}\`) or part of a parameter's name?`,
      `declare \`${base}\` (\`input ${base} : n_${base}\`) or write \`${timed}\` to read it at step t; for a parameter named \`${written}\`, declare \`param ${written} : …\``),
  /** Functions that apply each other so often that inlining them would make a cell too large. */
  tooMuchInlining: (span: Span, limit: number) =>
    err('E076', span, `inlining the functions applied here makes more than ${limit} terms`, 'functions are inlined where they are applied; name an intermediate value (`s_1 = f(…)`) and apply the function to it, instead of nesting applications'),
  /** A `cases` with an arm that cannot be reached, or a comparison where a value is wanted. */
  badCases: (span: Span, message: string, help?: string) => err('E075', span, message, help),
  numberOutOfRange: (span: Span, what: string) =>
    err('E077', span, `${what} is beyond the range of a float64 number (about ±1.8 × 10³⁰⁸)`, 'write the number it should be; celda computes in float64 and float32, where it would be ±Infinity'),
  /** Export (compiler/export/): a value the target format has no way to compute. */
  cannotExport: (span: Span, target: string, what: string, help?: string) =>
    err('E050', span, `${target} export: ${what}`, help),
  /** Export: a name the generated module cannot use as it is. */
  exportName: (span: Span, target: string, name: string, why: string) =>
    err('E051', span, `${target} export: \`${name}\` ${why}`, 'rename it in the cell'),
  // Reductions, scalars per example, dimensions as numbers, tensor powers (E060–E063).
  notAVector: (span: Span, what: string, got: string, help: string) =>
    err('E060', span, `${what} needs a vector, got ${got}`, help),
  ambiguousTranspose: (span: Span, name: string) =>
    err('E061', span, `\`${name}ᵀ\` is ambiguous: the shape of \`${name}\` is not known, so this is either an inner product (\`${name}\` a vector) or a transposed matrix product (\`${name}\` a matrix)`,
      `declare it: \`param ${name} : n\` for the inner product Σ_i ${name}_i v_i, or \`param ${name} : n × m\` for the matrix; a lowercase name (\`w_i\`) is read as a vector`),
  scalarStateShape: (span: Span, name: string, got: string) =>
    err('E062', span, `\`${name}\` is declared a scalar per example (\`state ${name} : 1\`), but its equation gives ${got}`,
      `a scalar state is one number per example; reduce the vector (\`sum(v)\`, \`mean(v)\`, \`uᵀ v\`), or declare the state a vector: \`state ${name} : n\``),
  dimInUnrolled: (span: Span, name: string) =>
    err('E063', span, `scalar state \`${name}\` is only supported in a cell written for a general step t`,
      'write the cell with `<t>` and `<t-1>`, or declare the state a vector'),
  internal: (span: Span, message: string) => err('E999', span, `internal error: ${message}`, 'this is a bug in celda; please report it with the cell that caused it'),
} as const;

// ---------------------------------------------------------------- rendering

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The graphemes of a string, in windows: V8's segmenter slows down more than
 * linearly on long strings (a 40,000-character line takes seconds), so each
 * window of at most GRAPHEME_WINDOW code units is segmented alone and its last
 * grapheme, which the window may have cut, is taken again from the next window.
 * A window starts at a grapheme boundary, which is all the rules need to know
 * of what came before, so the result is that of segmenting the whole string.
 */
export function graphemes(s: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < s.length; ) {
    let end = Math.min(s.length, at + GRAPHEME_WINDOW);
    if (end < s.length && isHighSurrogate(s.charCodeAt(end - 1))) end--; // never cut a code point in two
    const text = s.slice(at, end);
    // Printable ASCII and tabs: every character is a grapheme (but the last, which a mark may follow).
    const window = PLAIN.test(text) ? text.split('') : Array.from(segmenter.segment(text), (g) => g.segment);
    const whole = end === s.length || window.length === 1 ? window : window.slice(0, -1);
    for (const g of whole) out.push(g);
    at += whole.reduce((n, g) => n + g.length, 0);
  }
  return out;
}
const GRAPHEME_WINDOW = 512;
const PLAIN = /^[\t\x20-\x7e]*$/;
const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** A line break as the grammar reads one: `\r\n`, `\n` or a lone `\r`. */
const isBreakAt = (s: string, i: number) => s[i] === '\n' || (s[i] === '\r' && s[i + 1] !== '\n');

/** 1-based line and column (in graphemes) of a UTF-16 offset; lineEnd excludes the line break. */
export function lineCol(source: string, offset: number): { line: number; col: number; lineStart: number; lineEnd: number } {
  const o = Math.max(0, Math.min(offset, source.length));
  let line = 1;
  // A byte-order mark is not a column: line 1 starts after it.
  let lineStart = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = 0; i < o; i++) if (isBreakAt(source, i)) { line++; lineStart = i + 1; }
  let lineEnd = lineStart;
  while (lineEnd < source.length && source[lineEnd] !== '\n' && source[lineEnd] !== '\r') lineEnd++;
  // An offset on the `\n` of `\r\n` belongs to the line it ends.
  const col = graphemes(source.slice(lineStart, Math.max(lineStart, Math.min(o, lineEnd)))).length + 1;
  return { line, col, lineStart, lineEnd };
}

/**
 * Control characters and bidirectional overrides would move the terminal's
 * cursor or reorder the line, and invisible ones (a byte-order mark, a
 * zero-width space) would leave a caret under nothing; show them as U+FFFD
 * (one grapheme each, so carets stay aligned) in source lines, and as
 * `U+FEFF` in messages.
 */
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B\u200E\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/gu;
const safeLine = (s: string) => s.replace(UNSAFE, '\uFFFD');
const safeText = (s: string) => s.replace(UNSAFE, (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).replace(/\t/g, '\\t');

/** The source line of a span with `^~~~` under it (or `-` for a note). */
function snippet(source: string, span: Span, gutter: number, mark: '^' | '-'): string[] {
  const { line, lineStart, lineEnd } = lineCol(source, span.start);
  const start = Math.max(lineStart, Math.min(span.start, lineEnd));
  const text = safeLine(source.slice(lineStart, lineEnd));
  const before = graphemes(source.slice(lineStart, start)).map((g) => (g === '\t' ? '\t' : ' ')).join('');
  const end = Math.min(Math.max(span.end, start), lineEnd);
  const width = Math.max(1, graphemes(source.slice(start, end)).length);
  const pad = ' '.repeat(gutter);
  return [` ${String(line).padStart(gutter)} | ${text}`, ` ${pad} | ${before}${mark}${(mark === '^' ? '~' : '-').repeat(width - 1)}`];
}

export function render(d: Diagnostic, file: string, source: string): string {
  const { line, col } = lineCol(source, d.span.start);
  const notes = d.notes ?? [];
  const gutter = Math.max(String(line).length, ...notes.map((n) => String(lineCol(source, n.span.start).line).length));
  const out = [`${file}:${line}:${col}: ${d.severity}[${d.code}]: ${safeText(d.message)}`, ...snippet(source, d.span, gutter, '^')];
  for (const n of notes) out.push(`note: ${safeText(n.message)}`, ...snippet(source, n.span, gutter, '-'));
  if (d.help) out.push(`help: ${safeText(d.help)}`);
  return out.join('\n');
}

export const hasErrors = (ds: readonly Diagnostic[]) => ds.some((d) => d.severity === 'error');
