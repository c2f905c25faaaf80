// Source text → AST. The only module that imports ohm: the grammar (celda.ohm,
// bundled so this runs in a browser too) matches the text, one semantic
// operation turns the concrete tree into the plain objects of ast.ts and makes
// every name canonical. Spans are offsets into the source exactly as given.

import type { FailedMatchResult, IterationNode, Node, NonterminalNode } from 'ohm-js';
import grammar from './celda.ohm-bundle.js';
import type {
  BinaryOp, CaseArm, CellAst, CompareOp, Decl, DeclKind, DimExpr, Equation, Expr, FileAst, FunctionDef, ParseResult, Span, SplitEquation,
  SyntaxProblem, Time,
} from './ast.ts';
import { accentFromCommand, canonicalName, greekFromCommand, nameFromLetter, PRIME, type NameParts } from './names.ts';

export interface ParseOptions {
  /** Name of the one cell of a file with no `cell Name { … }` wrapper. Default `cell`. */
  readonly defaultCellName?: string;
}

export function parse(source: string, opts: ParseOptions = {}): ParseResult {
  try {
    // A byte-order mark (files saved by some editors) becomes a blank of the same
    // length, so spans stay offsets into the source as given.
    const text = casesAmpersands(source.startsWith(BOM) ? ' ' + source.slice(1) : source);
    const match = grammar.match(text);
    if (match.failed()) return { ok: false, problem: matchProblem(match, source) };
    const unpaired = unpairedDelimiter(source);
    if (unpaired !== null) return { ok: false, problem: unpaired };
    const file = semantics(match).ast() as FileAst;
    return { ok: true, ast: bareCellName(file, opts.defaultCellName ?? 'cell') };
  } catch (err) {
    if (err instanceof NameProblem) return { ok: false, problem: err.problem };
    // Ohm and the semantic operation recurse once per nesting level; thousands of
    // brackets overflow the stack. That is a problem with the input, not a crash.
    if (err instanceof RangeError) return { ok: false, problem: { span: deepestGroup(source), expected: NESTED, found: '' } };
    const expected = `valid notation (internal parser error: ${err instanceof Error ? err.message : String(err)})`;
    return { ok: false, problem: { span: { start: 0, end: 0 }, expected, found: '' } };
  }
}

const BOM = '\uFEFF';

/** What the grammar reads as the `&` of a `cases` environment (celda.ohm `caseAmp`). */
const CASE_AMP = '\uE000';

/**
 * `&` is space in LaTeX alignments, but in `\begin{cases} v & v \geq 0 \end{cases}` it
 * separates a value from its condition: inside a cases environment each `&` (not in
 * a comment) becomes U+E000, one UTF-16 unit for one, so spans stay offsets into the
 * source.
 */
function casesAmpersands(text: string): string {
  if (!text.includes('cases')) return text;
  // to the end of the text when it is never closed, so the error is the missing `\end{cases}`
  return text.replace(/\\begin[ \t]*\{cases\}[\s\S]*?(?:\\end[ \t]*\{cases\}|$(?![\s\S]))/g, (env) => env.replace(/([#%][^\n\r]*)|&/g, (m, comment) => (comment !== undefined ? m : CASE_AMP)));
}

/** compiler/diagnostics.ts words this expectation as "nested too deeply". */
const NESTED = 'an expression nested less deeply';

// ---- pairing: what the grammar skips as space ----------------------------------

/**
 * Comments, `\\` (a separator, so `\\begin` is not `\begin`), environments and
 * math delimiters, in source order. Delimiters inside a comment are not
 * delimiters; the grammar has already accepted the text, so an environment
 * name here is one it knows.
 */
const DELIMITERS = /[#%][^\n\r]*|\\\\|\\(begin|end)[ \t]*\{([^}\n\r]*)\}|\$\$?/g;

interface Opener {
  readonly text: string;
  readonly start: number;
}

/**
 * The grammar reads `\begin{split}`, `\end{split}`, `$$` and `$` as space, so it
 * cannot see them unpaired; this does, after a match: the first environment
 * closed by the wrong `\end` or never closed, the `\end` with no `\begin`, the
 * `$$` or `$` left open. Null if every one is paired.
 */
function unpairedDelimiter(source: string): SyntaxProblem | null {
  if (!/[$\\]/.test(source)) return null;
  const open: Opener[] = [];
  const unclosed = (o: Opener): SyntaxProblem => ({
    span: { start: o.start, end: o.start + o.text.length },
    expected: `\`${closerOf(o.text)}\` to close this \`${o.text}\``,
    found: o.text,
  });
  for (const m of source.matchAll(DELIMITERS)) {
    const text = m[0];
    const start = m.index;
    if (text[0] === '#' || text[0] === '%' || text === '\\\\') continue;
    if (m[1] === 'begin') { open.push({ text, start }); continue; }
    const closes = m[1] === 'end' ? (o: Opener) => closerOf(o.text) === `\\end{${m[2]}}` : (o: Opener) => o.text === text;
    const at = lastIndex(open, closes);
    if (at === open.length - 1 && at >= 0) { open.pop(); continue; }
    // Something opened after the one this closes is still open.
    if (at >= 0) return unclosed(open[open.length - 1]!);
    if (m[1] === 'end') {
      // Inside another environment, the `\end` it needs; else the missing `\begin`.
      const inside = open[lastIndex(open, (o) => o.text.startsWith('\\begin'))];
      const expected = inside ? `\`${closerOf(inside.text)}\`` : `\`\\begin{${m[2]}}\` before this \`${text}\``;
      return { span: { start, end: start + text.length }, expected, found: text };
    }
    open.push({ text, start });
  }
  return open.length > 0 ? unclosed(open[open.length - 1]!) : null;
}

/** `Array.prototype.findLastIndex`, which the project's ES2022 library lacks. */
function lastIndex<T>(xs: readonly T[], test: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (test(xs[i]!)) return i;
  return -1;
}

/** `\begin {split}` → `\end{split}`; `$$` → `$$`. */
function closerOf(opener: string): string {
  const env = /^\\begin[ \t]*\{(.*)\}$/.exec(opener);
  return env ? `\\end{${env[1]}}` : opener;
}

/**
 * Where an input too deeply nested to read is: the outermost bracket around its
 * deepest point, to its matching bracket (only the bracket if none matches). A
 * cell's own braces are not counted. Comments are skipped. One pass, so a huge
 * input costs little more than reading it.
 */
function deepestGroup(source: string): Span {
  const cellBraces = new Set([...source.matchAll(/\bcell[ \t]+[^\s{]+[ \t]*\{/g)].map((m) => m.index + m[0].length - 1));
  const openers: number[] = [];
  let depth = 0;
  let root = -1;
  let rootEnd = -1;
  const comment = /[#%][^\n\r]*/y;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '#' || c === '%') { comment.lastIndex = i; comment.exec(source); i = comment.lastIndex - 1; continue; }
    if (c === '(' || c === '[' || (c === '{' && !cellBraces.has(i))) {
      openers.push(i);
      if (openers.length > depth) { depth = openers.length; root = openers[0]!; rootEnd = -1; }
    } else if ((c === ')' || c === ']' || c === '}') && openers.length > 0) {
      if (openers.pop() === root && openers.length === 0) rootEnd = i + 1;
    }
  }
  if (root < 0) return { start: 0, end: 0 };
  return { start: root, end: rootEnd < 0 ? root + 1 : rootEnd };
}

// ---- errors ------------------------------------------------------------------

/** A name the grammar accepts but celda cannot make canonical (`é`, `ж`). */
class NameProblem extends Error {
  constructor(readonly problem: SyntaxProblem) {
    super(problem.expected);
  }
}

function badName(node: Node, expected: string): never {
  throw new NameProblem({ span: spanOf(node), expected, found: node.sourceString });
}

/** Ohm's failure records; `getRightmostFailures` is public but missing from its types. */
interface Failure {
  getText(): string;
  type: 'description' | 'string' | 'code';
}

/** What can start an expression, as the grammar's terminals say it. */
const EXPRESSION_STARTS = new Set(['a name', 'a number', 'a LaTeX command', '(', '[', '{', '\\', '-', '−', '\\begin', 'cases']);

function matchProblem(match: FailedMatchResult, source: string): SyntaxProblem {
  const pos = match.getRightmostFailurePosition();
  const failures = (match as unknown as { getRightmostFailures(): Failure[] }).getRightmostFailures();
  const found = tokenAt(source, pos);
  if (found === '^' || found === '_') {
    const unclosed = unclosedScript(source, pos, found);
    if (unclosed !== null) return unclosed;
  }
  return { span: { start: pos, end: pos + found.length }, expected: expectedText(failures, found), found };
}

/** The brackets a time index, superscript or subscript closes with. */
const SCRIPT_CLOSERS = new Set(['>', '⟩', '\\rangle', ')', '}']);

/**
 * A `^` or `_` whose bracket is never closed (`a^<t = …`, `w_{aa x`): names,
 * time indices and superscripts hide their insides behind a description, so the
 * match fails at the `^` or `_`. Matching the script alone finds where its
 * closing bracket is missing; null if it is not an unclosed bracket.
 */
function unclosedScript(source: string, pos: number, mark: '^' | '_'): SyntaxProblem | null {
  // The rules after the mark and its blanks: `timeSup` and `superscript` have
  // descriptions, which would hide the failure again.
  const from = mark === '^' ? pos + /^\^[ \t]*/.exec(source.slice(pos))![0].length : pos;
  const rules = mark === '^' ? SUPERSCRIPT_RULES : SUBSCRIPT_RULES;
  let best: SyntaxProblem | null = null;
  for (const [rule, what] of rules) {
    const match = grammar.match(source.slice(from), rule);
    if (!match.failed()) continue;
    const at = from + match.getRightmostFailurePosition();
    const failures = (match as unknown as { getRightmostFailures(): Failure[] }).getRightmostFailures();
    const closers = [...new Set(failures.filter((f) => f.type === 'string' && SCRIPT_CLOSERS.has(f.getText())).map((f) => f.getText()))];
    if (closers.length === 0 || (best !== null && best.span.start >= at)) continue;
    const found = tokenAt(source, at);
    best = { span: { start: at, end: at + found.length }, expected: `${closers.map((c) => `\`${c}\``).join(' or ')} to close the ${what}`, found };
  }
  return best;
}

const SUPERSCRIPT_RULES = [['timeAngle', 'time index'], ['timeBraced', 'time index'], ['supArgument', 'superscript']] as const;
const SUBSCRIPT_RULES = [['subscript', 'subscript']] as const;

/** After a complete operand anything could follow; "an operator" says enough. */
const AFTER_OPERAND_NOISE = new Set(['an expression', 'a time index', 'a superscript']);

/**
 * Ohm's failures at the rightmost position, in words: the terminals that start an
 * expression become "an expression", terminals are quoted, descriptions kept,
 * "end of input" last: `")", an operator or a line break`.
 */
function expectedText(failures: readonly Failure[], found: string): string {
  // Ohm calls the failures of an iteration that stopped early "fluffy"; they are
  // still what could have come next, so keep them.
  let texts = failures.map((f) => (f.type === 'string' ? `"${f.getText()}"` : f.getText()));
  const has = (t: string) => texts.includes(t);
  // A `^` or `_` that does not start a superscript or subscript: say what it should start.
  if (found === '^') return has('a superscript') ? 'a time index or a superscript' : 'a time index';
  if (found === '_') return 'a subscript';
  // Where an operand could start, its kinds and first characters read "an expression"
  // (the grammar's `operandStart` says so itself; a failed operand lists its kinds).
  if (has('an expression') || (has('a name') && has('a number'))) {
    texts = ['an expression', ...texts.filter((t) => !EXPRESSION_STARTS.has(t) && !EXPRESSION_STARTS.has(unquote(t)))];
  }
  if (has('an operator')) texts = texts.filter((t) => !AFTER_OPERAND_NOISE.has(t));
  const unique = [...new Set(texts)].sort((a, b) => rank(a) - rank(b));
  if (unique.length === 0) return 'valid notation';
  if (unique.length === 1) return unique[0];
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

function unquote(t: string): string {
  return t.startsWith('"') && t.endsWith('"') && t.length > 1 ? t.slice(1, -1) : t;
}

function rank(text: string): number {
  if (text === 'end of input') return 3;
  if (text === 'a line break') return 2;
  return text.startsWith('"') ? 0 : 1;
}

/** The token at `pos`, as written: a LaTeX command, a word, a line break or one grapheme. */
function tokenAt(source: string, pos: number): string {
  const rest = source.slice(pos, pos + 64);
  if (rest === '') return '';
  const token = /^(\\[A-Za-z]+|\\.|[A-Za-z0-9]+|\r\n)/su.exec(rest);
  if (token) return token[1];
  const first = new Intl.Segmenter().segment(rest)[Symbol.iterator]().next().value;
  return first?.segment ?? rest[0];
}

// ---- the semantic operation ------------------------------------------------------

function spanOf(node: Node): Span {
  return { start: node.source.startIdx, end: node.source.endIdx };
}

function join(a: { span: Span }, b: { span: Span }): Span {
  return { start: a.span.start, end: b.span.end };
}

const expr = (node: Node): Expr => node.ast() as Expr;
const dim = (node: Node): DimExpr => node.ast() as DimExpr;
const nameParts = (node: Node): NameParts => node.ast() as NameParts;
const nameOf = (node: Node): string => {
  const { name, time } = timedName(node);
  return time === null ? name : badName(node, 'a name without a time subscript (`_{t-1}` belongs on a value in an equation)');
};

/** The start of what `subscript` returns for a time subscript, `_{t-1}`. */
const TIME_MARK = '\u0001';

/** A name and the time its last subscript gives (`h_{t-1}` → h at t-1); a bare `_t` stays part of the name (the checker decides). */
function timedName(node: Node): { name: string; time: Time | null } {
  const parts = nameParts(node);
  const at = parts.subscripts.findIndex((s) => s.startsWith(TIME_MARK));
  if (at < 0) return { name: canonicalName(parts), time: null };
  if (at !== parts.subscripts.length - 1 || parts.label !== undefined) return badName(node, 'a time subscript (`_{t-1}`) last in the name');
  return { name: canonicalName({ ...parts, subscripts: parts.subscripts.slice(0, -1) }), time: readTime(parts.subscripts[at]!.slice(1)) };
}

/** A name with both a time subscript and a time superscript (`h_{t-1}^{<t>}`) has one too many. */
function oneTime(node: Node, sub: Time | null, sup: Time | null): Time | null {
  if (sub !== null && sup !== null) return badName(node, 'one time index (a subscript `_{t-1}` or a superscript `^{<t-1>}`, not both)');
  return sub ?? sup;
}

const COMPARE: Readonly<Record<string, CompareOp>> = {
  '>=': '>=', '≥': '>=', '⩾': '>=', '\\geq': '>=', '\\ge': '>=', '\\geqslant': '>=',
  '<=': '<=', '≤': '<=', '⩽': '<=', '\\leq': '<=', '\\le': '<=', '\\leqslant': '<=',
  '>': '>', '\\gt': '>', '<': '<', '\\lt': '<',
};
const optional = <T>(node: Node): T | null => (node.numChildren > 0 ? (node.child(0).ast() as T) : null);
const list = <T>(node: Node): T[] => node.asIteration().children.map((c: Node) => c.ast() as T);

/** One operand of an operator chain: the operator before it, its leading minuses. */
interface Link {
  readonly op: BinaryOp | null;
  readonly minuses: readonly Node[];
  readonly operand: Expr;
}

/** What `+ - − /` mean; every other operator of `mulOp` is the elementwise product. */
const ARITH_OPS: Readonly<Record<string, BinaryOp>> = { '+': '+', '-': '-', '−': '-', '/': '/' };

/** Tightest first (after juxtaposition); each level folds to the left. `neg` is a leading minus. */
const PRECEDENCE: readonly (readonly BinaryOp[] | 'neg')[] = [['@'], 'neg', ['*', '/'], ['+', '-']];

/**
 * `a + -b · c * d` → `a + ((-(b · c)) * d)`, one precedence level at a time.
 * Binary nodes span their operands; a minus spans from its sign to the end of
 * the `·` product it starts (no minus follows `·`, so the product is whole).
 */
function foldChain(links: readonly Link[]): Expr {
  let chain = links.map((link) => ({ ...link }));
  for (const level of PRECEDENCE) {
    if (level === 'neg') {
      for (const link of chain) link.operand = negated(link.minuses, link.operand);
      continue;
    }
    const folded: typeof chain = [];
    for (const link of chain) {
      const left = folded[folded.length - 1];
      if (left !== undefined && link.op !== null && level.includes(link.op)) {
        left.operand = { kind: 'binary', op: link.op, left: left.operand, right: link.operand, span: join(left.operand, link.operand) };
      } else {
        folded.push(link);
      }
    }
    chain = folded;
  }
  return chain[0].operand;
}

function negated(minuses: readonly Node[], operand: Expr): Expr {
  return minuses.reduceRight(
    (arg: Expr, minus): Expr => ({ kind: 'neg', arg, span: { start: minus.source.startIdx, end: arg.span.end } }),
    operand,
  );
}

/**
 * `W^T`, `x²`: superscripts apply in turn, each node spanning from the operand.
 * A Primary is a choice with one child, the operand itself; reading it directly
 * spares a visit per operand.
 */
function postfixed(primary: Node, superscripts: Node): Expr {
  return superscripts.children.reduce((arg: Expr, sup): Expr => {
    const s = sup.ast() as Superscript;
    const span = { start: arg.span.start, end: sup.source.endIdx };
    if (s.kind === 'power') return { kind: 'power', base: arg, exponent: s.exponent, span };
    return s.kind === 'transpose' ? { kind: 'transpose', arg, span } : { kind: 'pow', base: arg, exponent: s.exponent, span };
  }, expr(primary.child(0)));
}

/** The index of `\sum_i` or `\sum_{i}`. */
const indexOf = (command: string) => command.replace(/[^a-z]/g, '').slice(-1);

/**
 * The body of `\sum_i …` over the features: `v_i` is the vector `v`, and two
 * indexed factors side by side multiply elementwise (`\sum_i u_i v_i` is the
 * inner product). Names without the index are left as written.
 */
function featureIndexed(e: Expr, i: string): Expr {
  return indexed(e, i)[0];
}

function indexed(e: Expr, i: string): [Expr, boolean] {
  const suffix = `_${i}`;
  switch (e.kind) {
    case 'var':
      return e.name.endsWith(suffix) && e.name.length > suffix.length ? [{ ...e, name: e.name.slice(0, -suffix.length) }, true] : [e, false];
    case 'juxt': {
      const [l, li] = indexed(e.left, i), [r, ri] = indexed(e.right, i);
      return li && ri ? [{ kind: 'binary', op: '*', left: l, right: r, span: e.span }, true] : [{ ...e, left: l, right: r }, li || ri];
    }
    case 'binary': {
      const [l, li] = indexed(e.left, i), [r, ri] = indexed(e.right, i);
      return [{ ...e, left: l, right: r }, li || ri];
    }
    case 'neg': { const [a, ai] = indexed(e.arg, i); return [{ ...e, arg: a }, ai]; }
    case 'pow': { const [a, ai] = indexed(e.base, i); return [{ ...e, base: a }, ai]; }
    case 'power': {
      const [a, ai] = indexed(e.base, i), [x, xi] = indexed(e.exponent, i);
      return [{ ...e, base: a, exponent: x }, ai || xi];
    }
    case 'apply': {
      const args = e.args.map((x) => indexed(x, i));
      return [{ ...e, args: args.map(([x]) => x) }, args.some(([, xi]) => xi)];
    }
    default: return [e, false];
  }
}

/** `(e)` is `e`, spanning its brackets so carets cover what was written. */
function widened<T extends { span: Span }>(inner: T, node: Node): T {
  return { ...inner, span: spanOf(node) };
}

type Superscript = { kind: 'transpose' } | { kind: 'pow'; exponent: number } | { kind: 'power'; exponent: Expr };

const SUPER_DIGITS = '⁰¹²³⁴⁵⁶⁷⁸⁹';

function readNumber(text: string): number {
  return Number(text.replace('−', '-'));
}

/** The inside of `<…>`: `t` → rel 0, `t-1` → rel −1, `3` → abs 3, `` → empty, else other. */
function readTime(raw: string): Time {
  const text = raw.replace(/\\[,;:! ]/g, '').replace(/\s+/g, '').replace(/−/g, '-');
  if (text === '') return { kind: 'empty' };
  if (text === 't') return { kind: 'rel', offset: 0 };
  const rel = /^t([+-])(\d+)$/.exec(text);
  if (rel) return { kind: 'rel', offset: (rel[1] === '-' ? -1 : 1) * Number(rel[2]) };
  if (/^\d+$/.test(text)) return { kind: 'abs', step: Number(text) };
  return { kind: 'other', text };
}

/** `a_{1}` of `{a_{1}}`; null if nothing is left. */
function subscriptText(text: string): string | null {
  const clean = text.split('_').filter((s) => s !== '').join('_');
  return clean === '' ? null : clean;
}

function letterParts(node: Node): NameParts {
  const letter = nameFromLetter(node.sourceString);
  if (letter === null) return badName(node, 'a Latin or Greek letter (accents: tilde, hat, bar, dot)');
  return { ...letter, subscripts: [] };
}

function greekParts(node: Node): NameParts {
  const base = greekFromCommand(node.sourceString);
  return base === null ? badName(node, 'a Greek letter') : { base, accents: [], subscripts: [] };
}

function withAccent(parts: NameParts, command: Node): NameParts {
  const accent = accentFromCommand(command.sourceString) ?? badName(command, 'an accent');
  return { ...parts, accents: [...parts.accents, accent] };
}

type Item = Decl | Equation | FunctionDef | SplitEquation;

function cellOf(name: string, nameSpan: Span, items: readonly Item[], span: Span): CellAst {
  const decls = items.filter((i): i is Decl => !('lhs' in i) && !('params' in i) && !('targets' in i));
  const equations = items.filter((i): i is Equation => 'lhs' in i);
  const functions = items.filter((i): i is FunctionDef => 'params' in i);
  const splits = items.filter((i): i is SplitEquation => 'targets' in i);
  return { name, nameSpan, decls, equations, ...(functions.length > 0 ? { functions } : {}), ...(splits.length > 0 ? { splits } : {}), span };
}

/** What `Lhs` reads, before the equation's right-hand side joins it. */
type LhsAst =
  | { readonly kind: 'plain'; readonly name: string; readonly time: Time | null; readonly span: Span }
  | { readonly kind: 'function'; readonly name: string; readonly nameSpan: Span; readonly params: FunctionDef['params']; readonly semi: number | null }
  | { readonly kind: 'split'; readonly targets: SplitEquation['targets'] };

const params = (node: Node): FunctionDef['params'] => node.asIteration().children.map((n: Node) => ({ name: nameOf(n), span: spanOf(n) }));

const BARE = '\u0000bare';

function bareCellName(file: FileAst, name: string): FileAst {
  return { ...file, cells: file.cells.map((c) => (c.name === BARE ? { ...c, name } : c)) };
}

const semantics = grammar.createSemantics().addOperation<unknown>('ast', {
  // files and items
  File_cells(_seps, cells, _between) {
    return { cells: cells.children.map((c) => c.ast()), span: { start: 0, end: this.source.sourceString.length } };
  },
  File_bare(body) {
    const end = this.source.sourceString.length;
    const cell = cellOf(BARE, { start: 0, end: 0 }, body.ast() as Item[], { start: 0, end });
    return { cells: [cell], span: { start: 0, end } } satisfies FileAst;
  },
  Cell(_kw, name, _open, body, _close) {
    return cellOf(nameOf(name), spanOf(name), body.ast() as Item[], spanOf(this));
  },
  Body(_lead, items, _trail) {
    return list(items);
  },
  Decl(keyword, name, shape, init) {
    return {
      kind: keyword.sourceString as DeclKind,
      name: nameOf(name),
      nameSpan: spanOf(name),
      shape: optional<DimExpr[]>(shape),
      init: optional<Expr>(init),
      span: spanOf(this),
    } satisfies Decl;
  },
  Shape(_colon, dims) {
    return list(dims);
  },
  Init(_eq, _nl, value) {
    return value.ast();
  },
  Equation(lhs, _eq, _nl, rhs) {
    const l = lhs.ast() as LhsAst;
    const span = { start: lhs.source.startIdx, end: rhs.source.endIdx };
    if (l.kind === 'function') return { name: l.name, nameSpan: l.nameSpan, params: l.params, semi: l.semi, body: expr(rhs), span } satisfies FunctionDef;
    if (l.kind === 'split') return { targets: l.targets, rhs: expr(rhs), span } satisfies SplitEquation;
    return { lhs: { name: l.name, time: l.time, span: l.span }, rhs: expr(rhs), span } satisfies Equation;
  },
  Lhs_functionSemi(name, _open, before, _semi, after, _close) {
    const first = params(before);
    return { kind: 'function', name: nameOf(name), nameSpan: spanOf(name), params: [...first, ...params(after)], semi: first.length } satisfies LhsAst;
  },
  Lhs_function(name, _open, names, _close) {
    return { kind: 'function', name: nameOf(name), nameSpan: spanOf(name), params: params(names), semi: null } satisfies LhsAst;
  },
  Lhs_split(_open, targets, _close) {
    return { kind: 'split', targets: list(targets) } satisfies LhsAst;
  },
  Lhs_tuple(_open, targets, _close, _transpose) {
    return { kind: 'split', targets: list(targets) } satisfies LhsAst;
  },
  Lhs_column(_begin, _o1, _env1, _c1, _nl1, targets, _sep, _nl2, _end, _o2, _env2, _c2) {
    return { kind: 'split', targets: list(targets) } satisfies LhsAst;
  },
  Lhs_plain(name, time) {
    const t = timedName(name);
    return { kind: 'plain', name: t.name, time: oneTime(name, t.time, optional<Time>(time)), span: spanOf(this) } satisfies LhsAst;
  },
  SplitTarget(name, time) {
    const t = timedName(name);
    return { name: t.name, time: oneTime(name, t.time, optional<Time>(time)), span: spanOf(this) };
  },

  // dimensions
  DimSum(first, tails) {
    return tails.children.reduce((left: DimExpr, tail): DimExpr => {
      const [op, right] = tail.ast() as [string, DimExpr];
      return { kind: 'dimadd', op: op === '+' ? '+' : '-', left, right, span: join(left, right) };
    }, dim(first));
  },
  DimAddTail(op, term) {
    return [op.sourceString, dim(term)];
  },
  DimTerm_scale(factor, _star, arg) {
    return { kind: 'dimscale', factor: Number(factor.sourceString), arg: dim(arg), span: spanOf(this) } satisfies DimExpr;
  },
  DimAtom_paren(_open, inner, _close) {
    return widened(dim(inner), this);
  },
  DimAtom_num(n) {
    return { kind: 'dimnum', value: Number(n.sourceString), span: spanOf(this) } satisfies DimExpr;
  },
  DimAtom_name(name) {
    return { kind: 'dim', name: nameOf(name), span: spanOf(this) } satisfies DimExpr;
  },

  // expressions: one operator chain, folded by precedence
  Expr(minuses, first, _operators, tails) {
    const head: Link = { op: null, minuses: minuses.children, operand: expr(first) };
    return foldChain([head, ...tails.children.map((t) => t.ast() as Link)]);
  },
  ExprTail_mat(_op, _nl, operand) {
    return { op: '@', minuses: [], operand: expr(operand) } satisfies Link;
  },
  ExprTail_arith(op, _nl, minuses, operand) {
    return { op: ARITH_OPS[op.sourceString] ?? '*', minuses: minuses.children, operand: expr(operand) } satisfies Link;
  },
  JuxtExpr(first, firstSuperscripts, _starts, rest, restSuperscripts) {
    return rest.children
      .map((primary, i) => postfixed(primary, restSuperscripts.child(i)))
      .reduce((left, right): Expr => ({ kind: 'juxt', left, right, span: join(left, right) }), postfixed(first, firstSuperscripts));
  },
  Primary_num(n) {
    return { kind: 'num', value: readNumber(n.sourceString), span: spanOf(this) } satisfies Expr;
  },
  Primary_paren(_open, _nl1, inner, _nl2, _close) {
    return widened(expr(inner), this);
  },
  Primary_compare(_open, _nl1, inner, _nl2, _close) {
    return widened(expr(inner), this);
  },
  Condition(left, op, _nl, right) {
    const l = expr(left), r = expr(right);
    return { kind: 'compare', op: COMPARE[op.sourceString.trim()] ?? '>=', left: l, right: r, span: join(l, r) } satisfies Expr;
  },
  Cases_call(_word, _open, _nl1, arms, _nl2, _close) {
    return { kind: 'cases', arms: list<CaseArm>(arms), span: spanOf(this) } satisfies Expr;
  },
  Cases_brace(_open, _nl1, first, _sep, rest, _nl2, _close) {
    return { kind: 'cases', arms: [first.ast() as CaseArm, ...list<CaseArm>(rest)], span: spanOf(this) } satisfies Expr;
  },
  Cases_latex(_begin, _o1, _cases1, _c1, _nl1, arms, _sep, _nl2, _end, _o2, _cases2, _c2) {
    return { kind: 'cases', arms: list<CaseArm>(arms), span: spanOf(this) } satisfies Expr;
  },
  CaseArm_if(value, _if, cond) {
    return { value: expr(value), cond: expr(cond) } satisfies CaseArm;
  },
  CaseArm_otherwise(value, _otherwise) {
    return { value: expr(value), cond: null } satisfies CaseArm;
  },
  LatexArm_if(value, _comma, _amp, _quads, _if, cond, _comma2, _dot) {
    return { value: expr(value), cond: expr(cond) } satisfies CaseArm;
  },
  LatexArm_otherwise(value, _comma, _amp, _quads, _otherwise, _comma2, _dot) {
    return { value: expr(value), cond: null } satisfies CaseArm;
  },
  Primary_group(_open, _nl1, inner, _nl2, _close) {
    return widened(expr(inner), this);
  },
  Primary_concat(_open, _nl1, items, _nl2, _close) {
    return { kind: 'concat', items: list<Expr>(items), span: spanOf(this) } satisfies Expr;
  },
  Primary_sum(_command, body) {
    return { kind: 'apply', fn: 'sum', fnSpan: spanOf(_command), args: [featureIndexed(expr(body), indexOf(_command.sourceString))], span: spanOf(this) } satisfies Expr;
  },
  Primary_latex(command) {
    const name = /^\\[A-Za-z]+/.exec(command.sourceString)?.[0] ?? command.sourceString;
    return { kind: 'latex', command: name, span: spanOf(this) } satisfies Expr;
  },
  Apply_semi(fn, _open, _nl1, args, _semi, _nl2, named, _nl3, _close) {
    const first = list<Expr>(args);
    return { kind: 'apply', fn: nameOf(fn), fnSpan: spanOf(fn), args: [...first, ...list<Expr>(named)], semi: first.length, span: spanOf(this) } satisfies Expr;
  },
  Apply_paren(fn, _open, _nl1, args, _nl2, _close) {
    return { kind: 'apply', fn: nameOf(fn), fnSpan: spanOf(fn), args: list<Expr>(args), span: spanOf(this) } satisfies Expr;
  },
  Apply_brace(fn, _open, _nl1, args, _nl2, _close) {
    return { kind: 'apply', fn: nameOf(fn), fnSpan: spanOf(fn), args: list<Expr>(args), span: spanOf(this) } satisfies Expr;
  },
  Primary_abs(open, _nl1, arg, _nl2, _close) {
    return { kind: 'apply', fn: 'abs', fnSpan: spanOf(open), args: [expr(arg)], span: spanOf(this) } satisfies Expr;
  },
  Frac(_cmd, top, bottom) {
    return { kind: 'binary', op: '/', left: expr(top), right: expr(bottom), span: spanOf(this) } satisfies Expr;
  },
  Sqrt(cmd, arg) {
    return { kind: 'apply', fn: 'sqrt', fnSpan: spanOf(cmd), args: [expr(arg)], span: spanOf(this) } satisfies Expr;
  },
  Braced(_open, _nl1, inner, _nl2, _close) {
    return inner.ast();
  },
  Var(name, time) {
    const t = timedName(name);
    return { kind: 'var', name: t.name, time: oneTime(name, t.time, optional<Time>(time)), span: spanOf(this) } satisfies Expr;
  },
  Zeros(_open, _z1, _c1, _dots, _c2, _z2, _close) {
    return { kind: 'zeros', span: spanOf(this) } satisfies Expr;
  },

  // names
  name(head, tilde, primes, subscripts, morePrimes, label) {
    const parts = nameParts(head);
    const written = subscripts.children.map((s) => {
      const text = s.ast() as string;
      return text.startsWith(TIME_MARK) ? text : subscriptText(text) ?? badName(s, 'a subscript');
    });
    const accents = tilde.numChildren > 0 ? [...parts.accents, 'tilde'] : parts.accents;
    const primed = Array.from({ length: primes.numChildren + morePrimes.numChildren }, () => PRIME);
    const sup = optional<string>(label);
    return {
      base: parts.base,
      accents: [...accents, ...primed],
      subscripts: [...parts.subscripts, ...written],
      ...(sup !== null ? { label: sup } : {}),
    } satisfies NameParts;
  },
  supLabel_paren(_caret, _s1, _open, _s2, _p, _s3, word, _s4, _close, _s5, _c) {
    return word.sourceString;
  },
  supLabel_braced(_caret, _s1, _open, _s2, _look1, _look2, word, _s3, _close) {
    return word.sourceString;
  },
  timeSubscript(_open, _s1, _t, _s2, sign, _s3, digits, _s4, _close) {
    return `${TIME_MARK}t${sign.sourceString === '+' ? '+' : '-'}${digits.sourceString}`;
  },
  subLetter(_letter) {
    return canonicalName(letterParts(this));
  },
  asciiHead(first, rest, marks) {
    const word = first.sourceString + rest.sourceString;
    return marks.numChildren === 0 ? { base: word, accents: [], subscripts: [] } : accented(word, marks, this);
  },
  unicodeHead(_letter, _marks) {
    return letterParts(this);
  },
  commandHead(_backslash, name) {
    return name.ast();
  },
  commandName_accent(command, _open, _s1, inner, _s2, _close) {
    return withAccent(nameParts(inner), command);
  },
  commandName_accentBare(command, _s, letter) {
    return withAccent(nameParts(letter), command);
  },
  commandName_wrapper(_command, _open, _s1, inner, _s2, _close) {
    return inner.ast();
  },
  commandName_greek(command) {
    return greekParts(command);
  },
  commandName_function(command) {
    return { base: command.sourceString.slice(1), accents: [], subscripts: [] } satisfies NameParts;
  },
  nameLetter_ascii(_letter, _marks) {
    return letterParts(this);
  },
  nameLetter_unicode(_letter, _marks) {
    return letterParts(this);
  },
  nameLetter_greek(command) {
    return greekParts(command);
  },
  subscript(_underscore, _spaces, body) {
    return body.ast();
  },
  subscriptGroup(_open, pieces, _close) {
    return pieces.children.map((p) => p.ast()).join('');
  },
  alnumWord(_chars) {
    return this.sourceString;
  },
  greekCommand(_backslash, _word) {
    return greekParts(this).base;
  },
  subPiece_space(_s) {
    return '';
  },
  subPiece_word(word) {
    return word.sourceString;
  },
  subPiece_greek(command) {
    return greekParts(command).base;
  },
  subPiece_unicode(_letter) {
    return canonicalName(letterParts(this));
  },
  subPiece_bracedNested(_u, _s, _open, pieces, _close) {
    return '_' + pieces.children.map((p) => p.ast()).join('');
  },
  subPiece_nested(_u, _s, word) {
    return '_' + word.sourceString;
  },

  // superscripts
  timeSup(_caret, _s, argument) {
    return argument.ast();
  },
  timeBraced(_open, _s1, bracket, _s2, _close) {
    return optional<Time>(bracket) ?? ({ kind: 'empty' } satisfies Time);
  },
  timeBracket_paren(_open, text, _close) {
    return readTime(text.sourceString);
  },
  timeAngle(_open, text, _close) {
    return readTime(text.sourceString);
  },
  superscript(_start, body) {
    return body.ast();
  },
  Postfix_power(_open, exponent, _close) {
    return { kind: 'power', exponent: expr(exponent) } satisfies Superscript;
  },
  superscriptBody_caret(_caret, _s, argument) {
    return argument.ast();
  },
  supArgument_braced(_open, _s1, content, _s2, _close) {
    return content.ast();
  },
  superscriptBody_transposeMark(_t) {
    return { kind: 'transpose' } satisfies Superscript;
  },
  superscriptBody_digits(minus, digits) {
    const value = Number([...digits.sourceString].map((d) => SUPER_DIGITS.indexOf(d)).join(''));
    return { kind: 'pow', exponent: minus.numChildren > 0 ? -value : value } satisfies Superscript;
  },
  supContent_transpose(_t) {
    return { kind: 'transpose' } satisfies Superscript;
  },
  supContent_number(n) {
    return { kind: 'pow', exponent: readNumber(n.sourceString) } satisfies Superscript;
  },

  _iter(...children) {
    return children.map((c) => c.ast());
  },
  _terminal() {
    return this.sourceString;
  },
});

/** `ab̃`: marks after an ASCII word accent the whole word. */
function accented(word: string, marks: IterationNode, node: NonterminalNode): NameParts {
  const accents = marks.children.map((m) => nameFromLetter('a' + m.sourceString)?.accents[0] ?? badName(node, 'an accent'));
  return { base: word, accents, subscripts: [] };
}
