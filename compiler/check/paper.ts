// check, first of all: the paper notation that is sugar over the rest, rewritten
// in the AST before any name is classified.
//   - functions defined in the cell (`g(v) = …`, `LN(z; α, β) = …`) and the
//     predefined ones (LN, RMSNorm) are inlined where they are applied;
//   - a split left-hand side `[f, i, o, g] = e` becomes one equation per name,
//     each reading its slice of e (the graph computes e once: nodes are interned);
//   - a time subscript `x_t` becomes `x^<t>` where `_t` can only be a time index
//     (the rule is in `timeSubscripts`), and is a diagnostic where it is unclear.
// (`h_{t-1}` needs no rule: no name has a `-` in it, so the parser reads it as a time.)

import type { CellAst, Equation, Expr, FunctionDef, Span, Time } from '../../grammar/ast.ts';
import { parse } from '../../grammar/parse.ts';
import { depth, MAX_DEPTH, show, showTimed } from './expr-queries.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import { FUNCTIONS } from '../ir/ops.ts';

/** The cell with its sugar rewritten, and what was wrong with it. */
export function expandPaperNotation(source: CellAst): { ast: CellAst; diagnostics: Diagnostic[] } {
  // An equation nested past MAX_DEPTH is left as it is, for the checker to refuse
  // (E028) before any recursive pass: the rewrites here recurse over expressions.
  const deep = source.equations.filter((eq) => depth(eq.rhs) > MAX_DEPTH);
  if (deep.length > 0) {
    const r = expandPaperNotation({ ...source, equations: source.equations.filter((eq) => !deep.includes(eq)) });
    return { ast: { ...r.ast, equations: [...r.ast.equations, ...deep] }, diagnostics: r.diagnostics };
  }
  const ast = source;
  if (!ast.functions && !ast.splits && !usesPredefined(ast) && !hasTimeSubscript(ast)) return { ast, diagnostics: [] };
  const diags: Diagnostic[] = [];
  const equations = [...ast.equations, ...splitEquations(ast)];
  const fns = cellFunctions(ast, diags);
  checkBodies(ast, equations, fns, diags);
  const budget = { left: MAX_INLINED, reported: false };
  const inlined = equations.map((eq) => ({ ...eq, rhs: inline(eq.rhs, fns, [], diags, budget) }));
  const timed = timeSubscripts({ ...ast, equations: inlined }, diags);
  const { functions: _f, splits: _s, ...rest } = ast;
  return { ast: { ...rest, equations: timed }, diagnostics: diags };
}

// ---------------------------------------------------------------- generic walks

/** The expression with each child replaced by `f(child)`. */
function mapChildren(e: Expr, f: (x: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'apply': return { ...e, args: e.args.map(f) };
    case 'binary': case 'juxt': case 'compare': return { ...e, left: f(e.left), right: f(e.right) };
    case 'neg': case 'transpose': return { ...e, arg: f(e.arg) };
    case 'pow': return { ...e, base: f(e.base) };
    case 'power': return { ...e, base: f(e.base), exponent: f(e.exponent) };
    case 'concat': return { ...e, items: e.items.map(f) };
    case 'cases': return { ...e, arms: e.arms.map((a) => ({ value: f(a.value), cond: a.cond && f(a.cond) })) };
    case 'part': return { ...e, arg: f(e.arg) };
    default: return e;
  }
}

/** Whether `test` holds of `e` or of an expression inside it (by an explicit stack: no depth limit). */
function some(e: Expr, test: (x: Expr) => boolean): boolean {
  const todo: Expr[] = [e];
  while (todo.length > 0) {
    const x = todo.pop()!;
    if (test(x)) return true;
    mapChildren(x, (c) => { todo.push(c); return c; });
  }
  return false;
}

function everyExpr(ast: CellAst): Expr[] {
  return [...ast.equations.map((e) => e.rhs), ...(ast.splits ?? []).map((s) => s.rhs), ...(ast.functions ?? []).map((f) => f.body)];
}

// ---------------------------------------------------------------- split left-hand sides

/** `[f, i, o, g] = e`: `f = e[0/4]`, `i = e[1/4]` … (slice k of n equal slices). */
function splitEquations(ast: CellAst): Equation[] {
  return (ast.splits ?? []).flatMap((s) => s.targets.map((t, index): Equation => ({
    lhs: t,
    rhs: { kind: 'part', arg: s.rhs, index, count: s.targets.length, span: s.rhs.span },
    span: s.span,
  })));
}

// ---------------------------------------------------------------- functions

/** The predefined functions, as a cell would define them (ε = 1e-5, as PyTorch's LayerNorm; docs/notation.md). */
const PREDEFINED_SOURCE = `
LN(z; γ, β) = γ * (z - mean(z)) / sqrt(mean((z - mean(z))^2) + 0.00001) + β
RMSNorm(z; γ) = γ * z / sqrt(mean(z^2) + 0.00001)
`;

/** Applied to one argument, a predefined function normalises without gain and bias: `LN(z)`, `RMSNorm(z)`. */
const PREDEFINED_PLAIN_SOURCE = `
LN(z) = (z - mean(z)) / sqrt(mean((z - mean(z))^2) + 0.00001)
RMSNorm(z) = z / sqrt(mean(z^2) + 0.00001)
`;
/** Other names of the predefined functions. */
const PREDEFINED_ALIASES: Readonly<Record<string, string>> = { LayerNorm: 'LN', layernorm: 'LN', RMSnorm: 'RMSNorm', rmsnorm: 'RMSNorm' };

let predefined: { full: ReadonlyMap<string, FunctionDef>; plain: ReadonlyMap<string, FunctionDef> } | undefined;

function predefinedFunctions(): ReadonlyMap<string, FunctionDef> {
  return predefinedTables().full;
}

function predefinedTables(): { full: ReadonlyMap<string, FunctionDef>; plain: ReadonlyMap<string, FunctionDef> } {
  if (predefined) return predefined;
  const read = (source: string) => {
    const parsed = parse(source);
    if (!parsed.ok) throw new Error(`check: the predefined functions do not parse: ${parsed.problem.expected}`);
    return new Map((parsed.ast.cells[0]!.functions ?? []).map((f) => [f.name, f]));
  };
  predefined = { full: read(PREDEFINED_SOURCE), plain: read(PREDEFINED_PLAIN_SOURCE) };
  return predefined;
}

interface Fn {
  readonly def: FunctionDef;
  /** A predefined function: its body's spans are not in this file, so the call's span replaces them. */
  readonly builtin: boolean;
  /** A predefined function's form for one argument (no gain, no bias). */
  readonly plain?: FunctionDef;
}

function usesPredefined(ast: CellAst): boolean {
  const names = new Set([...predefinedFunctions().keys(), ...Object.keys(PREDEFINED_ALIASES)]);
  return everyExpr(ast).some((e) => some(e, (x) => x.kind === 'apply' && names.has(x.fn)));
}

/** The functions a cell may apply by name: its own first, then the predefined ones it does not redefine. */
function cellFunctions(ast: CellAst, diags: Diagnostic[]): Map<string, Fn> {
  const fns = new Map<string, Fn>();
  for (const [name, def] of predefinedFunctions()) fns.set(name, { def, builtin: true, plain: predefinedTables().plain.get(name) });
  for (const [alias, name] of Object.entries(PREDEFINED_ALIASES)) fns.set(alias, fns.get(name)!);
  const own = new Map<string, FunctionDef>();
  for (const def of ast.functions ?? []) {
    const first = own.get(def.name);
    if (first) { diags.push(D.doubleDefinition(def.nameSpan, `${show(def.name)}(…)`, first.nameSpan)); continue; }
    const seen = new Map<string, Span>();
    for (const p of def.params) {
      if (seen.has(p.name)) diags.push(D.doubleDefinition(p.span, show(p.name), seen.get(p.name)));
      else seen.set(p.name, p.span);
    }
    own.set(def.name, def);
    fns.set(def.name, { def, builtin: false });
  }
  return fns;
}

/**
 * A name in a function's body is an argument, or something of the cell: a
 * declared or defined name, a function, a dimension. Anything else (a
 * parameter of the body's own) is a mistake: each use of the function would share it.
 */
function checkBodies(ast: CellAst, equations: readonly Equation[], fns: ReadonlyMap<string, Fn>, diags: Diagnostic[]): void {
  const known = new Set<string>([...ast.decls.map((d) => d.name), ...equations.map((e) => e.lhs.name), ...fns.keys(), ...Object.keys(FUNCTIONS)]);
  for (const e of equations) for (const v of vars(e.rhs)) if (v.time !== null) known.add(v.name);
  for (const def of ast.functions ?? []) {
    const args = new Set(def.params.map((p) => p.name));
    const reported = new Set<string>();
    for (const v of vars(def.body)) {
      if (args.has(v.name) || reported.has(v.name) || (v.time === null ? known.has(v.name) || known.has(v.name.replace(/_t$/, '')) : true)) continue;
      reported.add(v.name);
      const call = def.semi === null ? `${show(def.name)}(${[...def.params.map((p) => show(p.name)), show(v.name)].join(', ')})` : `${show(def.name)}(${def.params.slice(0, def.semi).map((p) => show(p.name)).join(', ')}; ${[...def.params.slice(def.semi).map((p) => show(p.name)), show(v.name)].join(', ')})`;
      diags.push(D.unknownInFunction(v.span, show(v.name), show(def.name), `pass it as an argument, \`${call} = …\`, or declare it in the cell (\`param ${show(v.name)} : …\`) to share one value between every use`));
    }
  }
}

/** The names an expression reads as values (not the functions it applies). */
function vars(e: Expr, out: { name: string; time: Time | null; span: Span }[] = []): { name: string; time: Time | null; span: Span }[] {
  if (e.kind === 'var') out.push({ name: e.name, time: e.time, span: e.span });
  mapChildren(e, (x) => { vars(x, out); return x; });
  return out;
}

/**
 * How many expression nodes inlining may make in one cell: functions that apply
 * each other twice over double at every level (`f₂(v) = f₁(f₁(v))` …), and thirty
 * levels would not fit in memory.
 */
const MAX_INLINED = 200_000;

/** Every application of a defined function replaced by its body, arguments substituted. */
function inline(e: Expr, fns: ReadonlyMap<string, Fn>, stack: readonly string[], diags: Diagnostic[], budget: { left: number; reported: boolean }): Expr {
  const inner = mapChildren(e, (x) => inline(x, fns, stack, diags, budget));
  if (inner.kind !== 'apply') return inner;
  const fn = fns.get(inner.fn);
  if (!fn) return inner;
  const def = fn.plain && inner.args.length === 1 && inner.semi === undefined ? fn.plain : fn.def;
  if (stack.includes(def.name)) {
    diags.push(D.recursiveFunction(inner.fnSpan, [...stack.slice(stack.indexOf(def.name)), def.name].map(show)));
    return { kind: 'num', value: 0, span: inner.span };
  }
  if (!arityFits(def, inner)) {
    diags.push(D.functionArity(inner.span, show(inner.fn), arityText(def.params.length, def.semi), arityText(inner.args.length, inner.semi ?? null), fn.builtin ? undefined : def.nameSpan));
    return { kind: 'num', value: 0, span: inner.span };
  }
  const bound = new Map(def.params.map((p, i) => [p.name, inner.args[i]!] as const));
  const body = fn.builtin ? respan(def.body, inner.span) : def.body;
  budget.left -= size(def.body) + inner.args.reduce((n, a) => n + size(a), 0);
  if (budget.left < 0) {
    if (!budget.reported) diags.push(D.tooMuchInlining(inner.span, MAX_INLINED));
    budget.reported = true;
    return { kind: 'num', value: 0, span: inner.span };
  }
  return inline(substitute(body, bound), fns, [...stack, def.name], diags, budget);
}

/** How many nodes an expression has. */
function size(e: Expr): number {
  let n = 1;
  mapChildren(e, (x) => { n += size(x); return x; });
  return n;
}

/** The arguments match the definition in number, and split at the same `;` when the call has one. */
function arityFits(def: FunctionDef, call: Expr & { kind: 'apply' }): boolean {
  if (call.args.length !== def.params.length) return false;
  return call.semi === undefined || call.semi === (def.semi ?? def.params.length);
}

function arityText(n: number, semi: number | null): string {
  const count = (k: number) => (k === 1 ? 'one argument' : `${k} arguments`);
  return semi === null || semi === n ? count(n) : `${count(semi)} and ${n - semi} after \`;\``;
}

/** The body with each argument's name replaced by the expression passed for it. */
function substitute(body: Expr, bound: ReadonlyMap<string, Expr>): Expr {
  if (body.kind === 'var' && body.time === null && bound.has(body.name)) return bound.get(body.name)!;
  return mapChildren(body, (x) => substitute(x, bound));
}

/** Every span of an expression replaced by `span`: a predefined function's body points at its call. */
function respan(e: Expr, span: Span): Expr {
  const out = mapChildren(e, (x) => respan(x, span));
  return out.kind === 'apply' ? { ...out, span, fnSpan: span } : { ...out, span };
}

// ---------------------------------------------------------------- time subscripts

function hasTimeSubscript(ast: CellAst): boolean {
  return ast.equations.some((e) => e.lhs.name.endsWith('_t')) || everyExpr(ast).some((e) => some(e, (x) => x.kind === 'var' && x.name.endsWith('_t')));
}

/**
 * `x_t` is `x^<t>` when `_t` can only be a time index: the whole name `x_t` is
 * not declared, and `x` is a declared input, state or output, or is written with a
 * time index somewhere in the cell (`x^<t-1>`, `x_{t-1}`), or `x_t` is defined by
 * an equation (`h_t = …`, which makes h a value of step t) — unless x itself is
 * defined without a time index or declared a parameter (RG-LRU's `a = σ(Λ)` beside
 * `a_t = a^{c r_t}`): then x_t is a name of its own. Otherwise, on the
 * left of a product (`B_t [u, v]`, `W_t · x`) it is a matrix, a parameter's name;
 * any other `x_t` is unclear — a parameter named x_t, or an input never
 * declared — and is a diagnostic.
 */
function timeSubscripts(ast: CellAst, diags: Diagnostic[]): Equation[] {
  const declared = new Set(ast.decls.map((d) => d.name));
  const params = new Set(ast.decls.filter((d) => d.kind === 'param').map((d) => d.name));
  const timedBases = new Set(ast.decls.filter((d) => d.kind === 'input' || d.kind === 'state' || d.kind === 'output').map((d) => d.name));
  for (const eq of ast.equations) {
    if (eq.lhs.time !== null) timedBases.add(eq.lhs.name);
    for (const v of vars(eq.rhs)) if (v.time !== null) timedBases.add(v.name);
  }
  // `a = σ(Λ)` beside `a_t = a^{c r_t}` (RG-LRU): a has no time index, so a_t is a name of its own.
  const untimed = new Set([...ast.equations.filter((e) => e.lhs.time === null && !e.lhs.name.endsWith('_t')).map((e) => e.lhs.name), ...params]);
  const definedT = new Set(ast.equations.filter((e) => e.lhs.time === null && e.lhs.name.endsWith('_t')).map((e) => e.lhs.name));
  const reported = new Set<string>();
  /** `time`: x_t is x^<t>; `name`: x_t is a name; `unclear`: either. */
  const resolve = (name: string): 'time' | 'name' | 'unclear' => {
    const base = name.slice(0, -2);
    if (!name.endsWith('_t') || base === '' || declared.has(name) || untimed.has(base)) return 'name';
    return timedBases.has(base) || definedT.has(name) ? 'time' : 'unclear';
  };
  const rewrite = (e: Expr, matrix = false): Expr => {
    if (e.kind === 'var' && e.time === null && e.name.endsWith('_t')) {
      const how = resolve(e.name);
      if (how === 'time') return { ...e, name: e.name.slice(0, -2), time: NOW };
      // `B_t [u, v]`, `W_t x`: a matrix, which no value of a step is: a parameter's name.
      if (how === 'name' || matrix) return e;
      if (!reported.has(e.name)) {
        reported.add(e.name);
        const b = e.name.slice(0, -2);
        diags.push(D.ambiguousTime(e.span, show(e.name), show(b), showTimed(b, 't')));
      }
      return e;
    }
    if (e.kind === 'juxt' || (e.kind === 'binary' && e.op === '@')) return { ...e, left: rewrite(e.left, true), right: rewrite(e.right) };
    return mapChildren(e, (x) => rewrite(x));
  };
  return ast.equations.map((eq) => {
    const timed = eq.lhs.time === null && resolve(eq.lhs.name) === 'time';
    const lhs = timed ? { ...eq.lhs, name: eq.lhs.name.slice(0, -2), time: NOW } : eq.lhs;
    return { ...eq, lhs, rhs: rewrite(eq.rhs) };
  });
}

const NOW: Time = { kind: 'rel', offset: 0 };
