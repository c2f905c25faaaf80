// check: AST → typed cell. Classifies names (parameter, input, state, output,
// intermediate, named function), enforces the time rules, sorts equations by data
// dependency (finding cycles), and infers symbolic shapes by unification.
// Collects diagnostics instead of stopping at the first.

import type { CellAst, DimExpr, Equation, Expr, Span, Time } from '../grammar/ast.ts';
import { spell } from '../grammar/names.ts';
import type { Diagnostic } from './diagnostics.ts';
import { closest, D, DERIVATIVES, didYouMean } from './diagnostics.ts';
import type { Dim } from './dims.ts';
import { DimSolver, dimAdd, dimEq, dimNum, dimScale, dimSub, dimSum, dimToString, dimVar, isUnknown, substDim } from './dims.ts';
import type { Attrs, OpName, Shape } from './ops.ts';
import { FUNCTIONS, OPS, shapeToString } from './ops.ts';

// ---------------------------------------------------------------- the typed cell

export type LeafKind = 'param' | 'input' | 'prev' | 'ref' | 'const';

export type TExpr =
  | { readonly k: 'leaf'; readonly leaf: LeafKind; readonly name: string; readonly step?: number; readonly value?: number; readonly span: Span; shape: Shape | null }
  | { readonly k: 'op'; readonly op: OpName; readonly args: readonly TExpr[]; readonly attrs: Attrs; readonly span: Span; shape: Shape | null };

export interface TypedEq {
  /** The value defined: `Gamma_u` (intermediate), `c` at <t>, or `a` at a concrete step. */
  readonly name: string;
  readonly step?: number;
  readonly expr: TExpr;
  readonly span: Span;
}

export interface TypedCell {
  readonly name: string;
  readonly span: Span;
  /** `step`: one step t-1 → t; `unrolled`: a fixed number of concrete steps. */
  readonly mode: 'step' | 'unrolled';
  readonly steps: number;
  readonly inputs: readonly { name: string; dim: Dim }[];
  readonly states: readonly { name: string; dim: Dim; init: number }[];
  readonly outputs: readonly { name: string; shape: Shape }[];
  readonly params: readonly { name: string; shape: readonly Dim[] }[];
  /** Every dimension variable: declared ones first, then inferred ones (named `n_y` …). */
  readonly dims: readonly string[];
  readonly dimDefaults: Readonly<Record<string, number>>;
  readonly equations: readonly TypedEq[];
  /** Shapes of every defined value (`Gamma_u`, `c`), for printing. */
  readonly shapes: Readonly<Record<string, Shape>>;
}

// ---------------------------------------------------------------- helpers

class Defer extends Error {}

const timeText = (t: Time): string =>
  t.kind === 'rel' ? (t.offset === 0 ? 't' : `t${t.offset > 0 ? '+' : ''}${t.offset}`) : t.kind === 'abs' ? String(t.step) : t.kind === 'empty' ? '' : t.text;

const vec = (d: Dim, batch = true): Shape => ({ batch, dims: [d] });
const scalarShape: Shape = { batch: false, dims: [] };

const key = (name: string, step?: number) => (step === undefined ? name : `${name}@${step}`);

/** A name as messages show it: `Γ_u`, `c̃`, `ŷ` (the canonical name is ASCII). */
const show = (name: string) => spell(name, 'unicode');
const showTimed = (name: string, time: string) => `${show(name)}^<${time}>`;

/** Source-like text of a small expression, for messages: `Γ_u`, `x^<t>`, `1 - Γ_u`. */
function exprText(e: Expr, nested = false): string {
  const wrap = (t: string) => (nested ? `(${t})` : t);
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'var': return e.time ? showTimed(e.name, timeText(e.time)) : show(e.name);
    case 'apply': return `${show(e.fn)}(${exprText(e.arg)})`;
    case 'binary': return wrap(`${exprText(e.left, true)} ${e.op === '@' ? '·' : e.op} ${exprText(e.right, true)}`);
    case 'juxt': return wrap(`${exprText(e.left, true)} ${exprText(e.right, true)}`);
    case 'neg': return wrap(`-${exprText(e.arg, true)}`);
    case 'pow': return `${exprText(e.base, true)}^${e.exponent}`;
    case 'transpose': return `${exprText(e.arg, true)}ᵀ`;
    case 'concat': return `[${e.items.map((i) => exprText(i)).join(', ')}]`;
    case 'zeros': return '[0 … 0]';
    case 'latex': return e.command;
  }
}

/** Both operands' text when each is short enough to read in a message. */
function operandTexts(l?: Expr, r?: Expr): [string, string] | undefined {
  if (!l || !r) return undefined;
  const a = exprText(l), b = exprText(r);
  return [...a].length <= 28 && [...b].length <= 28 ? [a, b] : undefined;
}

/** A function name, possibly through a named alias (`g_1 = tanh`). */
interface FnAlias { readonly op: OpName; readonly span: Span }

interface ParamInfo {
  shape: Dim[] | null;
  readonly declared: boolean;
  readonly span: Span;
  /** Where the current shape was learned (a declaration or a use), for "used with two shapes". */
  where: string;
  learnedAt?: Span;
}

interface Def {
  readonly name: string;
  readonly step?: number; // concrete step (unrolled), undefined for <t> or no time
  readonly timed: boolean; // defined at <t> (or a concrete step), not an intermediate
  readonly eq: Equation;
  readonly rhs: Expr;
}

function freeVars(e: Expr, out: { name: string; time: Time | null; span: Span }[] = []) {
  switch (e.kind) {
    case 'var': out.push({ name: e.name, time: e.time, span: e.span }); break;
    case 'apply': out.push({ name: e.fn, time: null, span: e.fnSpan }); freeVars(e.arg, out); break;
    case 'binary': case 'juxt': freeVars(e.left, out); freeVars(e.right, out); break;
    case 'neg': case 'transpose': freeVars(e.arg, out); break;
    case 'pow': freeVars(e.base, out); break;
    case 'concat': for (const i of e.items) freeVars(i, out); break;
    default: break;
  }
  return out;
}

/** Deeper than any cell written by hand; the passes after check recurse this deep. */
const MAX_DEPTH = 1000;

function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'apply': return [e.arg];
    case 'binary': case 'juxt': return [e.left, e.right];
    case 'neg': case 'transpose': return [e.arg];
    case 'pow': return [e.base];
    case 'concat': return e.items;
    default: return [];
  }
}

/** Depth of an expression tree, measured without recursion. */
function depth(e: Expr): number {
  let max = 0;
  const stack: [Expr, number][] = [[e, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (d > max) max = d;
    for (const c of children(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Whether `fn(…)` appears in an expression. */
function applies(e: Expr, fn: string): boolean {
  switch (e.kind) {
    case 'apply': return e.fn === fn || applies(e.arg, fn);
    case 'juxt': case 'binary': return applies(e.left, fn) || applies(e.right, fn);
    case 'neg': case 'transpose': return applies(e.arg, fn);
    case 'pow': return applies(e.base, fn);
    case 'concat': return e.items.some((i) => applies(i, fn));
    default: return false;
  }
}

// ---------------------------------------------------------------- the checker

export function check(cell: CellAst): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
  return new Checker(cell).run();
}

class Checker {
  readonly diags: Diagnostic[] = [];
  readonly solver = new DimSolver();
  readonly rigid = new Set<string>();
  readonly dimDefaults: Record<string, number> = {};
  readonly inputs = new Map<string, { dim: Dim; span: Span }>();
  readonly declStates = new Map<string, { dim: Dim | null; init: Expr | null; span: Span }>();
  readonly declOutputs = new Map<string, { shape: readonly DimExpr[] | null; span: Span }>();
  readonly params = new Map<string, ParamInfo>();
  readonly functions = new Map<string, FnAlias>();
  readonly defs = new Map<string, Def>(); // key(name, step)
  readonly types = new Map<string, Shape>(); // key(name, step) → shape of the defined value
  readonly nameDims = new Map<string, Dim>(); // a time-indexed name's vector dim, shared over steps
  mode: 'step' | 'unrolled' = 'step';
  readonly inits = new Map<string, { value: number; span: Span }>(); // unrolled `a^<0> = …` and state decl inits
  readonly readPrev = new Map<string, Span>(); // names read at <t-1>
  readonly order: string[] = [];
  /** Names whose equation was rejected (bad time index, …): reading them reports nothing more. */
  readonly broken = new Set<string>();
  /** Definitions whose expression failed to type: what reads them is not checked against them. */
  readonly poisoned = new Set<string>();
  /** Once-only diagnostics (an unknown name read in five places is one mistake), by key. */
  readonly onceKeys = new Map<Diagnostic, string>();
  readonly declSpans = new Map<string, Span>();
  /** Definitions that could never be typed (their parameters' shapes stay unknown). */
  readonly stuck = new Set<string>();
  /** The equations of the cell that are not too deep to check. */
  equations: readonly Equation[] = [];
  /** The cell has no equations at all (reported once, as such). */
  empty = false;

  constructor(readonly ast: CellAst) {}

  run(): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
    this.declarations();
    this.definitions();
    this.empty = this.defs.size === 0 && !this.diags.length;
    if (this.empty) this.diags.push(D.noEquations(this.ast.nameSpan.end > this.ast.nameSpan.start ? this.ast.nameSpan : this.ast.span, this.ast.name));
    const last = [...this.defs.values()].at(-1);
    if (last && !this.diags.length && this.timedNames().length === 0) this.diags.push(D.noOutputs(last.eq.lhs.span, this.ast.name, show(last.name)));
    this.scanReads();
    this.sort();
    const eqs = this.typeAll();
    this.finishParams();
    const diagnostics = this.finalDiagnostics();
    if (diagnostics.some((d) => d.severity === 'error')) return { cell: null, diagnostics };
    return { cell: this.assemble(eqs), diagnostics };
  }

  /** A diagnostic reported once per key: the first in source order is kept. */
  once(diags: Diagnostic[], k: string, d: Diagnostic): void {
    this.onceKeys.set(d, k);
    diags.push(d);
  }

  /** In source order, each once-only key kept at its first place. */
  finalDiagnostics(): Diagnostic[] {
    const sorted = this.diags.map((d, i) => [d, i] as const).sort(([a, i], [b, j]) => a.span.start - b.span.start || i - j).map(([d]) => d);
    const seen = new Set<string>();
    return sorted.filter((d) => {
      const k = this.onceKeys.get(d);
      if (k === undefined) return true;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  // ------------------------------------------------------------ declarations

  dimExpr(d: DimExpr): Dim {
    switch (d.kind) {
      case 'dim': this.rigid.add(d.name); return dimVar(d.name);
      case 'dimnum': return dimNum(d.value);
      case 'dimadd': return d.op === '+' ? dimAdd(this.dimExpr(d.left), this.dimExpr(d.right)) : dimSub(this.dimExpr(d.left), this.dimExpr(d.right));
      case 'dimscale': return dimScale(this.dimExpr(d.arg), d.factor);
    }
  }

  declarations(): void {
    const seen = new Set<string>();
    for (const decl of this.ast.decls) {
      if (decl.kind === 'dim') {
        this.rigid.add(decl.name);
        if (decl.init?.kind === 'num' && Number.isInteger(decl.init.value) && decl.init.value >= 0) this.dimDefaults[decl.name] = decl.init.value;
        else if (decl.init) this.diags.push(D.badDim(decl.init.span, 'a dimension needs a whole number'));
        continue;
      }
      if (seen.has(decl.name)) { this.diags.push(D.duplicateDecl(decl.nameSpan, show(decl.name), this.declSpans.get(decl.name))); continue; }
      seen.add(decl.name);
      this.declSpans.set(decl.name, decl.nameSpan);
      const shape = decl.shape?.map((d) => this.dimExpr(d)) ?? null;
      if (decl.kind === 'input' || decl.kind === 'state') {
        if (shape && shape.length !== 1) { this.diags.push(D.badDim(decl.span, `\`${show(decl.name)}\` is a vector per example: give one dimension, like \`${decl.kind} ${show(decl.name)} : n_${decl.name}\``)); continue; }
        if (decl.kind === 'input') this.inputs.set(decl.name, { dim: shape?.[0] ?? this.solver.fresh(), span: decl.nameSpan });
        else this.declStates.set(decl.name, { dim: shape?.[0] ?? null, init: decl.init, span: decl.nameSpan });
        if (shape) this.nameDims.set(decl.name, shape[0]!);
      } else if (decl.kind === 'param') {
        const s = shape && shape.length === 1 && shape[0]!.terms.length === 0 && shape[0]!.k === 1 ? [] : shape;
        this.params.set(decl.name, { shape: s, declared: true, span: decl.nameSpan, where: 'its declaration' });
      } else if (decl.kind === 'output') {
        this.declOutputs.set(decl.name, { shape: decl.shape, span: decl.nameSpan });
        if (shape && shape.length === 1) this.nameDims.set(decl.name, shape[0]!);
      }
    }
    for (const [name, s] of this.declStates) if (s.init) {
      const v = this.constInit(s.init);
      if (v === null) this.diags.push(D.badInit(s.init.span, show(name)));
      else this.inits.set(name, { value: v, span: s.init.span });
    }
  }

  constInit(e: Expr): number | null {
    if (e.kind === 'zeros') return 0;
    if (e.kind === 'num') return e.value;
    if (e.kind === 'neg' && e.arg.kind === 'num') return -e.arg.value;
    return null;
  }

  // ------------------------------------------------------------ definitions

  definitions(): void {
    // Every later pass recurses over expressions; a 5000-term sum would
    // overflow the stack, so such an equation is refused here, once.
    const eqs = this.ast.equations.filter((eq) => {
      const d = depth(eq.rhs);
      if (d <= MAX_DEPTH) return true;
      this.diags.push(D.tooDeep(eq.rhs.span, d, MAX_DEPTH));
      this.broken.add(eq.lhs.name);
      return false;
    });
    this.equations = eqs;
    // Function aliases first: `g_1 = tanh`.
    const rest: Equation[] = [];
    for (const eq of eqs) {
      const r = eq.rhs;
      if (eq.lhs.time === null && r.kind === 'var' && r.time === null && (FUNCTIONS[r.name] || this.functions.has(r.name)) && !this.params.has(eq.lhs.name)) {
        const op = FUNCTIONS[r.name] ?? this.functions.get(r.name)!.op;
        const first = this.functions.get(eq.lhs.name)?.span ?? this.inputs.get(eq.lhs.name)?.span;
        if (first) this.diags.push(D.doubleDefinition(eq.lhs.span, show(eq.lhs.name), first));
        else this.functions.set(eq.lhs.name, { op, span: eq.lhs.span });
      } else if (eq.lhs.time === null && r.kind === 'var' && r.time === null && this.misspeltFunction(eq.lhs.name, r.name)) {
        // `g_1 = tahn` with `g_1(…)` below: a function name with a typo, not a parameter.
        this.diags.push(D.unknownFunction(r.span, show(r.name), didYouMean(r.name, Object.keys(FUNCTIONS), show)));
        this.broken.add(eq.lhs.name);
      } else rest.push(eq);
    }
    const odd = this.timeMode(rest);

    // Count definitions per (name, time) to recognise aliases: `c^<t> = a^<t>`
    // where `c^<t>` is defined elsewhere and `a^<t>` nowhere says a^<t> is c^<t>.
    const lhsKey = (e: Equation) => `${e.lhs.name}|${e.lhs.time ? timeText(e.lhs.time) : ''}`;
    const count = new Map<string, number>();
    for (const e of rest) count.set(lhsKey(e), (count.get(lhsKey(e)) ?? 0) + 1);
    const definedKeys = new Set(count.keys());
    for (const eq of rest) {
      const { lhs, rhs } = eq;
      if (odd.has(eq)) { this.broken.add(lhs.name); continue; }
      if (lhs.time?.kind === 'empty') { this.diags.push(D.emptyTime(lhs.span, show(lhs.name), 'defined')); this.broken.add(lhs.name); continue; }
      if (lhs.time && (lhs.time.kind === 'other' || (lhs.time.kind === 'rel' && lhs.time.offset !== 0) || (lhs.time.kind === 'abs' && lhs.time.step < 0))) {
        this.diags.push(this.mode === 'step'
          ? D.badTime(lhs.span, show(lhs.name), timeText(lhs.time), 'defined', this.lhsTimeHelp(lhs.name, lhs.time))
          : D.badTime(lhs.span, show(lhs.name), timeText(lhs.time), 'defined-unrolled', `define it at a step: \`${showTimed(lhs.name, '1')} = …\`, \`${showTimed(lhs.name, '2')} = …\``));
        this.broken.add(lhs.name);
        continue;
      }
      let name = lhs.name;
      let time = lhs.time;
      let value: Expr = rhs;
      if (rhs.kind === 'var' && rhs.time?.kind === time?.kind && (count.get(lhsKey(eq)) ?? 0) > 1 && !definedKeys.has(`${rhs.name}|${rhs.time ? timeText(rhs.time) : ''}`) && !this.inputs.has(rhs.name) && (time === null || timeText(time) === timeText(rhs.time!))) {
        // alias: rhs is the new name, equal to lhs
        name = rhs.name;
        time = rhs.time;
        value = { kind: 'var', name: lhs.name, time: lhs.time, span: lhs.span };
        count.set(lhsKey(eq), count.get(lhsKey(eq))! - 1);
      }
      const nameSpan = value === rhs ? lhs.span : rhs.span;
      if (this.inputs.has(name) && time !== null) { this.diags.push(D.inputDefined(nameSpan, show(name), this.inputs.get(name)!.span)); continue; }
      if (time?.kind === 'abs' && time.step === 0) {
        const v = this.constInit(value);
        if (v === null) this.diags.push(D.badInit(value.span, show(name)));
        else if (this.inits.has(name)) this.diags.push(D.doubleDefinition(nameSpan, `${show(name)}^<0>`, this.inits.get(name)!.span));
        else this.inits.set(name, { value: v, span: eq.span });
        continue;
      }
      const step = time?.kind === 'abs' ? time.step : undefined;
      const k = time === null ? key(name) : key(name, step);
      const clash = this.defs.get(k)
        ?? (time === null ? [...this.defs.values()].find((d) => d.name === name && d.timed) : this.defs.get(key(name))?.timed === false ? this.defs.get(key(name)) : undefined);
      if (clash) {
        this.diags.push(D.doubleDefinition(nameSpan, clash.timed === (time !== null) ? this.display({ name, step, timed: time !== null }) : show(name), clash.eq.lhs.span));
        continue;
      }
      if (time === null && this.functions.has(name)) { this.diags.push(D.badFunctionAlias(nameSpan, show(name))); continue; }
      this.defs.set(k, { name, step, timed: time !== null, eq, rhs: value });
    }
    for (const [name, o] of this.declOutputs) if (!this.isTimedName(name) && !this.broken.has(name)) this.diags.push(D.outputNotDefined(o.span, show(name)));
  }

  /**
   * A cell is written for a general step <t>, or unrolled at concrete steps
   * (`a^<1>`, `a^<2>` …; `a^<0>` is an initial value in either). When both
   * appear, the larger group decides, and the first equation of the other group
   * gets the one diagnostic; the rest of that group is set aside quietly.
   */
  timeMode(rest: readonly Equation[]): Set<Equation> {
    const concrete = rest.filter((e) => e.lhs.time?.kind === 'abs' && e.lhs.time.step > 0);
    const general = rest.filter((e) => e.lhs.time?.kind === 'rel' && e.lhs.time.offset === 0);
    this.mode = concrete.length > general.length ? 'unrolled' : 'step';
    if (concrete.length === 0 || general.length === 0) return new Set();
    const odd = this.mode === 'step' ? concrete : general;
    const first = odd[0]!.lhs;
    const more = odd.length > 1 ? ` (and ${odd.length - 1} more)` : '';
    this.diags.push(this.mode === 'step'
      ? D.mixedTime(first.span, `\`${showTimed(first.name, timeText(first.time!))}\` is defined at a concrete step${more}, but the other equations of this cell are written for a general step <t>`,
        `write \`${showTimed(first.name, 't')} = …\` (a cell is one step, t-1 → t), or write every equation at concrete steps`)
      : D.mixedTime(first.span, `\`${showTimed(first.name, 't')}\` is written for a general step${more}, but the other equations of this cell are at concrete steps`,
        `write it at each step, \`${showTimed(first.name, '1')} = …\`, \`${showTimed(first.name, '2')} = …\`, or write the whole cell for a general step <t>`));
    return new Set(odd);
  }

  /** `alias = name` where `alias(…)` is applied somewhere, so `name` was meant to be a function. */
  misspeltFunction(alias: string, name: string): boolean {
    if (this.params.get(name)?.declared || this.inputs.has(name) || this.equations.some((eq) => eq.lhs.name === name)) return false;
    return this.equations.some((eq) => applies(eq.rhs, alias));
  }

  lhsTimeHelp(name: string, time: Time): string {
    const t = showTimed(name, 't');
    if (time.kind === 'rel' && time.offset > 0) return `define \`${t} = …\`; the next step reads it as \`${showTimed(name, 't-1')}\``;
    if (time.kind === 'rel') return `define \`${t} = …\`; \`${showTimed(name, 't-1')}\` is then the value of the step before`;
    return `define \`${t} = …\``;
  }

  isTimedName(name: string) {
    for (const d of this.defs.values()) if (d.name === name && d.timed) return true;
    return false;
  }

  // States are the names read at <t-1> and the declared ones.
  scanReads(): void {
    if (this.mode !== 'step') return;
    for (const d of this.defs.values()) for (const v of freeVars(d.rhs)) if (v.time?.kind === 'rel' && v.time.offset === -1 && !this.readPrev.has(v.name)) this.readPrev.set(v.name, v.span);
    // A declared state with no equation: one diagnostic at the declaration, and
    // its reads say nothing more. In an empty cell "no equations" says it all.
    if (this.empty) return;
    for (const [name, s] of this.declStates) {
      if (this.isTimedName(name) || this.broken.has(name)) continue;
      const near = closest(name, this.timedNames().filter((n) => !this.declStates.has(n)));
      const help = near !== undefined ? `is \`${showTimed(near, 't')} = …\` meant to be \`${showTimed(name, 't')} = …\`?`
        : this.defs.has(key(name)) ? `\`${show(name)}\` is defined without a time index; write \`${showTimed(name, 't')} = …\``
        : undefined;
      this.broken.add(name);
      this.diags.push(D.stateNotDefined(s.span, show(name), true, help));
    }
  }

  timedNames(): string[] {
    return [...new Set([...this.defs.values()].filter((d) => d.timed).map((d) => d.name))];
  }

  isState(name: string) {
    return this.mode === 'step' && (this.readPrev.has(name) || this.declStates.has(name)) && this.isTimedName(name);
  }

  // ------------------------------------------------------------ dependency order

  /** The definitions an expression reads within the same step. */
  deps(d: Def): string[] {
    const out: string[] = [];
    for (const v of freeVars(d.rhs)) {
      if (v.time === null) {
        if (this.defs.has(key(v.name)) && !this.defs.get(key(v.name))!.timed) out.push(key(v.name));
        else if (this.mode === 'step' && this.defs.has(key(v.name))) out.push(key(v.name));
        else if (this.mode === 'unrolled' && d.step !== undefined && this.defs.has(key(v.name, d.step))) out.push(key(v.name, d.step));
      } else if (v.time.kind === 'rel' && v.time.offset === 0 && this.mode === 'step') {
        if (this.defs.has(key(v.name))) out.push(key(v.name));
      } else if (v.time.kind === 'abs' && this.mode === 'unrolled') {
        if (this.defs.has(key(v.name, v.time.step))) out.push(key(v.name, v.time.step));
      }
    }
    return out;
  }

  sort(): void {
    const state = new Map<string, 0 | 1 | 2>(); // 1 = on the stack, 2 = done
    const stack: string[] = [];
    // One diagnostic per knot: a cycle that shares an equation with one already
    // reported is the same mistake seen from another side.
    const inCycle = new Set<string>();
    const visit = (k: string): void => {
      const s = state.get(k);
      if (s === 2) return;
      if (s === 1) {
        const cyc = stack.slice(stack.indexOf(k));
        if (!cyc.some((c) => inCycle.has(c))) {
          for (const c of cyc) inCycle.add(c);
          const first = this.defs.get(cyc[0]!)!;
          this.diags.push(D.cycle(first.eq.lhs.span, cyc.map((c) => this.display(this.defs.get(c)!))));
        }
        return;
      }
      state.set(k, 1);
      stack.push(k);
      for (const dep of this.deps(this.defs.get(k)!)) visit(dep);
      stack.pop();
      state.set(k, 2);
      this.order.push(k);
    };
    for (const k of this.defs.keys()) visit(k);
  }

  display(d: Pick<Def, 'name' | 'step' | 'timed'>): string {
    return d.step !== undefined ? showTimed(d.name, String(d.step)) : d.timed ? showTimed(d.name, 't') : show(d.name);
  }

  // ------------------------------------------------------------ typing

  typeAll(): TypedEq[] {
    // Several passes: an equation whose parameters cannot be typed yet (`p * q`
    // with both unknown) waits for a later equation to fix them.
    const done = new Map<string, TypedEq>();
    let pending = this.order.slice();
    while (pending.length > 0) {
      const still: string[] = [];
      for (const k of pending) {
        const def = this.defs.get(k)!;
        const local: Diagnostic[] = [];
        try {
          const expr = this.expr(def.rhs, local, def);
          done.set(k, { name: def.name, step: def.step, expr, span: def.eq.span });
          if (this.isPoison(expr) || !this.assign(def, expr, local)) this.poisoned.add(k);
          this.diags.push(...local);
        } catch (e) {
          if (!(e instanceof Defer)) throw e;
          still.push(k);
        }
      }
      if (still.length === pending.length) break;
      pending = still;
    }
    for (const k of pending) if (!done.has(k)) this.stuck.add(k);
    return this.order.filter((k) => done.has(k)).map((k) => done.get(k)!);
  }

  /** The defined value takes the shape of its expression; states and named dims are unified. */
  assign(def: Def, e: TExpr, diags: Diagnostic[]): boolean {
    if (!e.shape) return true;
    let shape = e.shape;
    if (def.timed) {
      const what = `the definition of \`${this.display(def)}\``;
      if (shape.dims.length !== 1 && (this.isState(def.name) || this.mode === 'unrolled')) {
        diags.push(D.shapeMismatch(def.eq.rhs.span, what, 'a vector per example', this.showShape(shape), `\`${this.display(def)}\` is carried from step to step, so it is a vector per example; this equation gives ${this.showShape(shape)}`));
        return false;
      }
      shape = { batch: true, dims: shape.dims };
      if (shape.dims.length === 1) {
        const known = this.nameDims.get(def.name);
        if (known) {
          if (this.solver.unify(known, shape.dims[0]!) === false) {
            const decl = this.declStates.has(def.name) ? `state ${show(def.name)}` : this.declOutputs.has(def.name) ? `output ${show(def.name)}` : undefined;
            const why = decl ? `it is declared \`${decl} : ${this.showDim(known)}\`` : 'that is its size where it is read';
            diags.push(D.shapeMismatch(def.eq.rhs.span, what, this.showShape(vec(known)), this.showShape(shape),
              `\`${this.display(def)}\` is ${this.showShape(vec(known))} (${why}), but its equation gives ${this.showShape(shape)}`));
            return false;
          }
        } else this.nameDims.set(def.name, shape.dims[0]!);
      }
    }
    this.types.set(key(def.name, def.step), shape);
    return true;
  }

  /** A shape for a message; dimensions not known yet show as `?`. */
  showShape(s: Shape | null): string {
    if (!s) return 'unknown';
    return shapeToString({ batch: s.batch, dims: s.dims.map((d) => this.solver.resolve(d)) }).replace(/\?\d+/g, '?');
  }

  showDim(d: Dim): string {
    return dimToString(this.solver.resolve(d)).replace(/\?\d+/g, '?');
  }

  nameDim(name: string): Dim {
    let d = this.nameDims.get(name);
    if (!d) { d = this.solver.fresh(); this.nameDims.set(name, d); }
    return d;
  }

  leaf(leaf: LeafKind, name: string, span: Span, shape: Shape | null, step?: number): TExpr {
    return step === undefined ? { k: 'leaf', leaf, name, span, shape } : { k: 'leaf', leaf, name, step, span, shape };
  }

  /** A reference to a name in an expression. */
  variable(name: string, time: Time | null, span: Span, diags: Diagnostic[], def: Def): TExpr {
    if (FUNCTIONS[name] || this.functions.has(name)) {
      if (time === null) { diags.push(D.notAFunction(span, show(name))); return this.poison(span); }
    }
    // Its equation was rejected with a diagnostic of its own: nothing more to say.
    if (this.broken.has(name) && ![...this.defs.values()].some((d) => d.name === name)) return this.poison(span);
    if (time === null) {
      const inter = this.defs.get(key(name));
      if (inter && !inter.timed) return this.refTo(key(name), name, span);
      if (this.mode === 'step' && this.isTimedName(name)) return this.refTo(key(name), name, span);
      if (this.mode === 'unrolled' && this.isTimedName(name)) {
        if (def.step !== undefined && this.defs.has(key(name, def.step))) return this.refTo(key(name, def.step), name, span, def.step);
        diags.push(D.outputAsParam(span, show(name), def.step !== undefined ? `write \`${showTimed(name, String(def.step))}\` or \`${showTimed(name, String(def.step - 1))}\`` : `write it at a step: \`${showTimed(name, '1')}\``));
        return this.poison(span);
      }
      if (this.inputs.has(name)) {
        if (this.mode === 'step') return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim));
        if (def.step !== undefined) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim), def.step);
      }
      if (this.declStates.has(name) || this.inits.has(name)) { diags.push(D.outputAsParam(span, show(name))); return this.poison(span); }
      if (!this.params.has(name)) this.params.set(name, { shape: null, declared: false, span, where: 'its first use' });
      return { k: 'leaf', leaf: 'param', name, span, shape: this.params.get(name)!.shape ? { batch: false, dims: this.params.get(name)!.shape! } : null };
    }
    if (time.kind === 'empty') { diags.push(D.emptyTime(span, show(name))); return this.poison(span); }
    if (time.kind === 'other') {
      diags.push(this.mode === 'step'
        ? D.badTime(span, show(name), time.text, 'read', `inside a cell, read \`${showTimed(name, 't')}\` (this step) or \`${showTimed(name, 't-1')}\` (the step before)`)
        : D.badTime(span, show(name), time.text, 'read-unrolled', def.step !== undefined ? `in the equation of step ${def.step}, read \`${showTimed(name, String(def.step))}\` or \`${showTimed(name, String(def.step - 1))}\`` : 'read it at a concrete step'));
      return this.poison(span);
    }
    return this.mode === 'step' ? this.readInStep(name, time, span, diags) : this.readUnrolled(name, time, span, diags, def);
  }

  /** `x^<t>`, `a^<t-1>` … in a cell written for a general step. */
  readInStep(name: string, time: Time & { kind: 'rel' | 'abs' }, span: Span, diags: Diagnostic[]): TExpr {
    if (time.kind === 'abs') {
      const initial = time.step === 0 && (this.declStates.has(name) || this.inits.has(name) || this.isTimedName(name));
      this.once(diags, `E013:${name}`, initial
        ? D.mixedTime(span, `\`${showTimed(name, '0')}\` is the initial value, but this cell is written for a general step t`, `read \`${showTimed(name, 't-1')}\`; its value at the first step is the initial value`)
        : D.mixedTime(span, `\`${showTimed(name, String(time.step))}\` is a concrete step, but this cell is written for a general step t`, `read \`${showTimed(name, 't')}\` (this step) or \`${showTimed(name, 't-1')}\` (the step before)`));
      return this.poison(span);
    }
    if (time.offset === 0) {
      if (this.defs.has(key(name)) && this.defs.get(key(name))!.timed) return this.refTo(key(name), name, span);
      if (this.inputs.has(name)) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim));
      if (this.declStates.has(name)) return this.poison(span); // reported at the declaration
      this.once(diags, `E004:${name}`, D.unknownName(span, showTimed(name, 't'), this.unknownHelp(name, 't')));
      return this.poison(span);
    }
    if (time.offset === -1) {
      if (this.inputs.has(name)) { this.once(diags, `E020:${name}`, D.inputAtPrevious(span, show(name))); return this.poison(span); }
      if (this.isTimedName(name)) return this.leaf('prev', name, span, vec(this.nameDim(name)));
      if (this.declStates.has(name)) return this.poison(span); // reported at the declaration
      this.once(diags, `E008:${name}`, D.stateNotDefined(span, show(name), false, this.prevHelp(name)));
      return this.poison(span);
    }
    const t = timeText(time);
    const help = time.offset > 0
      ? `a cell computes step t from step t-1 and cannot read ahead; read \`${showTimed(name, 't')}\` or \`${showTimed(name, 't-1')}\``
      : `to look ${-time.offset} steps back, carry the value in a state: \`${show(name)}_prev^<t> = ${showTimed(name, 't-1')}\`, then read \`${show(name)}_prev^<t-1>\`${time.offset < -2 ? ' (one such state per step back)' : ''}`;
    diags.push(D.badTime(span, show(name), t, 'read', help));
    return this.poison(span);
  }

  /** `a^<3>`, `x^<3>` in a cell unrolled at concrete steps. */
  readUnrolled(name: string, time: Time & { kind: 'rel' | 'abs' }, span: Span, diags: Diagnostic[], def: Def): TExpr {
    if (time.kind === 'rel') {
      const at = def.step === undefined ? undefined : def.step + time.offset;
      this.once(diags, `E013:${name}`, D.mixedTime(span, `\`${showTimed(name, timeText(time))}\` is read at a general step, but this cell is unrolled at concrete steps`,
        at !== undefined && at >= 0 ? `in the equation of step ${def.step}, read \`${showTimed(name, String(at))}\`` : 'read it at a concrete step: `x^<1>`, `a^<0>` …'));
      return this.poison(span);
    }
    const s = time.step;
    if (this.defs.has(key(name, s))) return this.refTo(key(name, s), name, span, s);
    if (this.inputs.has(name)) {
      const last = this.lastStep();
      if (s >= 1 && s <= last) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim), s);
      this.once(diags, `E029:${name}`, D.inputOutOfSteps(span, show(name), s, last));
      return this.poison(span);
    }
    if (s === 0 && (this.inits.has(name) || this.declStates.has(name))) return this.leaf('prev', name, span, vec(this.nameDim(name)), 0);
    if (this.broken.has(name)) return this.poison(span); // a step of it was rejected: likely this one
    const steps = [...this.defs.values()].filter((d) => d.name === name && d.step !== undefined).map((d) => d.step!);
    if (steps.length === 0 && !this.inits.has(name)) {
      this.once(diags, `E004:${name}`, D.unknownName(span, showTimed(name, String(s)), this.unknownHelp(name, String(s))));
      return this.poison(span);
    }
    // All the missing steps of one name are one diagnostic.
    const missing = this.missingSteps(name);
    const help = missing.length > 1 ? `also read but never defined: ${missing.filter((m) => m !== s).map((m) => `\`${showTimed(name, String(m))}\``).join(', ')}; define each step as the others are defined` : s === 0 ? undefined : `define it as the other steps are defined: \`${showTimed(name, String(s))} = …\``;
    this.once(diags, `E024:${name}`, D.unrolledGap(span, show(name), s, help));
    return this.poison(span);
  }

  /** The last step an unrolled cell defines: its inputs are read at steps 1 … last. */
  lastStep(): number {
    return Math.max(0, ...[...this.defs.values()].map((d) => d.step ?? 0));
  }

  /** Steps at which an unrolled cell reads `name` without defining it. */
  missingSteps(name: string): number[] {
    const out = new Set<number>();
    for (const d of this.defs.values()) for (const v of freeVars(d.rhs)) {
      if (v.name !== name || v.time?.kind !== 'abs') continue;
      const s = v.time.step;
      if (!this.defs.has(key(name, s)) && !(s === 0 && (this.inits.has(name) || this.declStates.has(name)))) out.add(s);
    }
    return [...out].sort((a, b) => a - b);
  }

  /** How many times a name is read at some time index in the whole cell. */
  timedReads(name: string): number {
    let n = 0;
    for (const eq of this.equations) for (const v of freeVars(eq.rhs)) if (v.name === name && v.time !== null) n++;
    return n;
  }

  /**
   * Help for a name read at a step but defined nowhere: a typo of an input (or,
   * for longer names, of a defined value) if it is read once; otherwise the
   * input declaration it is missing.
   */
  unknownHelp(name: string, time: string): string {
    const declare = `declare it as an input: \`input ${show(name)} : n_${name}\``;
    if (this.params.has(name) || this.defs.has(key(name))) return `\`${show(name)}\` is used without a time index elsewhere; write \`${show(name)}\` or define \`${showTimed(name, time)} = …\``;
    if (this.timedReads(name) > 1) return declare;
    const typo = closest(name, this.inputs.keys()) ?? ([...name].length > 1 ? closest(name, this.timedNames()) : undefined);
    return typo === undefined ? declare : `did you mean \`${showTimed(typo, time)}\`? (or declare a new input: \`input ${show(name)} : n_${name}\`)`;
  }

  /** Help for `h^<t-1>` when nothing defines `h^<t>`. */
  prevHelp(name: string): string {
    if (this.defs.has(key(name))) return `\`${show(name)}\` is defined without a time index, so it has no value at t-1; define \`${showTimed(name, 't')} = …\` to carry it to the next step`;
    const typo = closest(name, [...this.timedNames(), ...this.declStates.keys()]);
    const add = `define the state: \`${showTimed(name, 't')} = …\``;
    return typo === undefined ? add : `did you mean \`${showTimed(typo, 't-1')}\`? (or ${add})`;
  }

  refTo(k: string, name: string, span: Span, step?: number): TExpr {
    if (this.poisoned.has(k)) return this.poison(span);
    const t = this.types.get(k);
    if (!t) throw new Defer();
    return this.leaf('ref', name, span, t, step);
  }

  poison(span: Span): TExpr {
    return { k: 'leaf', leaf: 'const', name: '', value: NaN, span, shape: null };
  }

  isPoison(e: TExpr) {
    return e.shape === null && !(e.k === 'leaf' && e.leaf === 'param');
  }

  op(op: OpName, args: TExpr[], span: Span, diags: Diagnostic[], what: string, attrs: Attrs = {}): TExpr {
    if (args.some((a) => this.isPoison(a))) return this.poison(span);
    if (args.some((a) => a.shape === null)) throw new Defer();
    const shape = OPS[op].shape(args.map((a) => this.resolved(a.shape!)), attrs);
    if (typeof shape === 'string') {
      const i = shape.indexOf(' vs ');
      const text = shape.replace(/\?\d+/g, '?');
      diags.push(i >= 0 ? D.shapeMismatch(span, what, text.slice(0, text.indexOf(' vs ')), text.slice(text.indexOf(' vs ') + 4)) : D.shapeMismatch(span, what, text, undefined, OP_HELP[op]));
      return this.poison(span);
    }
    return { k: 'op', op, args, attrs, span, shape };
  }

  resolved(s: Shape): Shape {
    return { batch: s.batch, dims: s.dims.map((d) => this.solver.resolve(d)) };
  }

  /** Learn or check a parameter's shape from a use. */
  paramShape(e: TExpr, want: Dim[], diags: Diagnostic[], span: Span, where: string): boolean {
    if (e.k !== 'leaf' || e.leaf !== 'param') return true;
    const p = this.params.get(e.name)!;
    if (!p.shape) {
      p.shape = want;
      p.where = where;
      p.learnedAt = span;
      e.shape = { batch: false, dims: want };
      return true;
    }
    const ok = p.shape.length === want.length && p.shape.every((d, i) => this.solver.unify(d, want[i]!) !== false);
    if (!ok) {
      this.twoShapes(diags, e, want);
      return false;
    }
    e.shape = { batch: false, dims: p.shape };
    return true;
  }

  /** "parameter `W` is used with two shapes", pointing back at where it got the first. */
  twoShapes(diags: Diagnostic[], e: TExpr & { k: 'leaf' }, here: readonly Dim[]): void {
    const p = this.params.get(e.name);
    const before = p?.shape ?? e.shape?.dims ?? [];
    const first = p?.learnedAt ?? (p?.declared ? p.span : undefined);
    diags.push(D.paramTwoShapes(e.span, show(e.name), this.showShape({ batch: false, dims: here }), this.showShape({ batch: false, dims: before }), first && first.start !== e.span.start ? first : undefined));
  }

  /** Unify the feature dims of two operands of an elementwise op (broadcasting scalars). */
  elementwise(op: OpName, l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], what: string, ast?: readonly [Expr, Expr]): TExpr {
    if (this.isPoison(l) || this.isPoison(r)) return this.poison(span);
    const lp = l.shape === null, rp = r.shape === null;
    if (lp && rp) throw new Defer();
    if (lp && !this.paramShape(l, [...r.shape!.dims], diags, l.span, `\`${what}\``)) return this.poison(span);
    if (rp && !this.paramShape(r, [...l.shape!.dims], diags, r.span, `\`${what}\``)) return this.poison(span);
    const ls = l.shape!, rs = r.shape!;
    if (ls.dims.length > 0 && rs.dims.length > 0) {
      const ok = ls.dims.length === rs.dims.length && ls.dims.every((d, i) => this.solver.unify(d, rs.dims[i]!) !== false);
      if (!ok) {
        const param = l.k === 'leaf' && l.leaf === 'param' ? l : r.k === 'leaf' && r.leaf === 'param' ? r : null;
        if (param) this.twoShapes(diags, param, [...(param === l ? rs : ls).dims]);
        else diags.push(D.shapeMismatch(span, what, this.showShape(ls), this.showShape(rs), 'elementwise operations (`+ - * /`) need operands of one size; a matrix maps one size to another: `W x^<t>`', operandTexts(ast?.[0], ast?.[1])));
        return this.poison(span);
      }
    }
    return this.op(op, [l, r], span, diags, what);
  }

  /** `A B` and `A · B`: matrix–vector, matrix–matrix, or scaling by a scalar. */
  product(l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], explicit: boolean, ast?: readonly [Expr, Expr]): TExpr {
    if (this.isPoison(l) || this.isPoison(r)) return this.poison(span);
    const what = explicit ? 'a matrix product' : 'a product by juxtaposition';
    if (l.shape === null) {
      if (r.shape === null) throw new Defer();
      if (r.shape.dims.length === 0) return this.elementwise('mul', l, r, span, diags, 'a product', ast);
      if (!this.paramShape(l, [this.solver.fresh(), r.shape.dims[0]!], diags, l.span, 'a matrix product')) return this.poison(span);
    }
    if (r.shape === null) {
      const ls = l.shape!;
      if (ls.dims.length === 2) { if (!this.paramShape(r, [ls.dims[1]!], diags, r.span, 'a matrix product')) return this.poison(span); }
      else return this.elementwise('mul', l, r, span, diags, 'a product', ast);
    }
    const ls = l.shape!, rs = r.shape!;
    if (ls.dims.length === 0 || rs.dims.length === 0) return this.elementwise('mul', l, r, span, diags, 'a product', ast);
    const operands = operandTexts(ast?.[0], ast?.[1]);
    if (ls.dims.length === 2) {
      if (ls.batch) { diags.push(D.shapeMismatch(span, what, this.showShape(ls), this.showShape(rs), undefined, operands)); return this.poison(span); }
      const inner = rs.dims[0]!;
      if (this.solver.unify(ls.dims[1]!, inner) === false) {
        if (l.k === 'leaf' && l.leaf === 'param') this.twoShapes(diags, l, [this.solver.fresh(), inner]);
        else diags.push(D.shapeMismatch(span, what, this.showShape(ls), this.showShape(rs), `the columns of the matrix (${this.showDim(ls.dims[1]!)}) must match the size of the vector (${this.showDim(inner)})`, operands));
        return this.poison(span);
      }
      return this.op(rs.dims.length === 1 ? 'matvec' : 'matmul', [l, r], span, diags, 'a matrix product');
    }
    diags.push(D.shapeMismatch(span, what, this.showShape(ls), this.showShape(rs), 'juxtaposition and `·` multiply a matrix by a vector; use `*` (or ⊙) for the elementwise product', operands));
    return this.poison(span);
  }

  call(fn: string, fnSpan: Span, arg: TExpr, span: Span, diags: Diagnostic[]): TExpr {
    const op = FUNCTIONS[fn] ?? this.functions.get(fn)?.op;
    if (!op) { diags.push(D.unknownFunction(fnSpan, show(fn), didYouMean(fn, [...Object.keys(FUNCTIONS), ...this.functions.keys()], show))); return this.poison(span); }
    if (arg.shape === null && !this.isPoison(arg)) throw new Defer();
    return this.op(op, [arg], span, diags, `${show(fn)}(…)`);
  }

  isFunctionName(name: string) {
    return !!FUNCTIONS[name] || this.functions.has(name);
  }

  /** A bare name applied to `(…)` that is neither a function nor plausibly a matrix. */
  looksLikeFunction(name: string) {
    if (this.params.get(name)?.declared || this.defs.has(key(name)) || this.inputs.has(name)) return false;
    if (name.includes('_') || name.length === 1) return false;
    return true;
  }

  expr(e: Expr, diags: Diagnostic[], def: Def): TExpr {
    const go = (x: Expr) => this.expr(x, diags, def);
    switch (e.kind) {
      case 'num': return { k: 'leaf', leaf: 'const', name: '', value: e.value, span: e.span, shape: scalarShape };
      case 'var': return this.variable(e.name, e.time, e.span, diags, def);
      case 'latex': diags.push(D.unknownLatex(e.span, e.command, didYouMean(e.command, LATEX_KNOWN) ?? (GRADIENT_COMMANDS.includes(e.command) ? DERIVATIVES : undefined))); return this.poison(e.span);
      case 'zeros': diags.push(D.zerosInExpression(e.span)); return this.poison(e.span);
      case 'apply': {
        if (this.isFunctionName(e.fn)) return this.call(e.fn, e.fnSpan, go(e.arg), e.span, diags);
        if (this.looksLikeFunction(e.fn)) {
          diags.push(D.unknownFunction(e.fnSpan, show(e.fn), didYouMean(e.fn, [...Object.keys(FUNCTIONS), ...this.functions.keys()], show)));
          go(e.arg); // its own mistakes are worth reporting too
          return this.poison(e.span);
        }
        return this.product(this.variable(e.fn, null, e.fnSpan, diags, def), go(e.arg), e.span, diags, false, [{ kind: 'var', name: e.fn, time: null, span: e.fnSpan }, e.arg]);
      }
      case 'juxt': {
        if (e.left.kind === 'var' && e.left.time === null && this.isFunctionName(e.left.name)) return this.call(e.left.name, e.left.span, go(e.right), e.span, diags);
        return this.product(go(e.left), go(e.right), e.span, diags, false, [e.left, e.right]);
      }
      case 'binary': {
        const l = go(e.left), r = go(e.right);
        if (e.op === '@') return this.product(l, r, e.span, diags, true, [e.left, e.right]);
        const op = ({ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' } as const)[e.op];
        const what = ({ '+': 'a sum', '-': 'a difference', '*': 'an elementwise product', '/': 'a division' } as const)[e.op];
        return this.elementwise(op, l, r, e.span, diags, what, [e.left, e.right]);
      }
      case 'neg': {
        const a = go(e.arg);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        return this.op('neg', [a], e.span, diags, 'a negation');
      }
      case 'pow': {
        const a = go(e.base);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        if (e.exponent === 1) return a;
        return this.op('pow', [a], e.span, diags, 'a power', { p: e.exponent });
      }
      case 'transpose': {
        const a = go(e.arg);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        return this.op('transpose', [a], e.span, diags, 'a transpose');
      }
      case 'concat': {
        const items = e.items.map(go);
        if (items.some((i) => this.isPoison(i))) return this.poison(e.span);
        if (items.some((i) => i.shape === null)) throw new Defer();
        return this.op('concat', items, e.span, diags, 'a concatenation');
      }
    }
  }

  // ------------------------------------------------------------ wrapping up

  finishParams(): void {
    // After another error, an unknown shape is most likely its consequence.
    // And an equation that waits on another stuck one is not where the shape is
    // missing: only parameters of equations stuck on their own are reported.
    const quiet = this.diags.some((d) => d.severity === 'error');
    const own = new Set<string>();
    for (const k of this.stuck) {
      const def = this.defs.get(k)!;
      if (this.deps(def).some((dep) => this.stuck.has(dep))) continue;
      for (const v of freeVars(def.rhs)) if (v.time === null) own.add(v.name);
    }
    for (const [name, p] of this.params) if (!p.shape && !quiet && (own.has(name) || own.size === 0)) this.diags.push(D.cannotInfer(p.span, show(name)));
    for (const [a, b] of this.solver.contradictions()) this.diags.push(D.shapeMismatch(this.ast.nameSpan, 'the cell', this.showShape(vec(a)), this.showShape(vec(b))));
  }

  assemble(eqs: TypedEq[]): TypedCell {
    // Name the unknown dims: ŷ's size → n_y, then whatever is left after a parameter.
    const names = new Map<string, string>();
    const taken = new Set(this.rigid);
    const nameFor = (d: Dim, hint: string) => {
      const r = this.solver.resolve(d);
      if (r.terms.length === 1 && r.k === 0 && r.terms[0]![1] === 1 && isUnknown(r.terms[0]![0]) && !names.has(r.terms[0]![0])) {
        let n = `n_${hint}`;
        for (let i = 2; taken.has(n); i++) n = `n_${hint}${i}`;
        taken.add(n);
        names.set(r.terms[0]![0], n);
      }
    };
    const base = (name: string) => name.replace(/_(hat|tilde|bar|dot)$/, '').replace(/_(hat|tilde|bar|dot)_/, '_');
    for (const [name, i] of this.inputs) nameFor(i.dim, base(name));
    for (const [name, d] of this.nameDims) if (this.isTimedName(name)) nameFor(d, base(name));
    for (const [name, p] of this.params) p.shape?.forEach((d, i) => nameFor(d, `${name}_${i}`));
    const fin = (d: Dim): Dim => substDim(this.solver.resolve(d), (v) => (isUnknown(v) ? dimVar(names.get(v) ?? v) : undefined));
    const finShape = (s: Shape): Shape => ({ batch: s.batch, dims: s.dims.map(fin) });
    const finExpr = (e: TExpr): TExpr => {
      const shape = e.shape && finShape(e.shape);
      if (e.k === 'leaf') return { ...e, shape };
      const attrs: Attrs = { ...e.attrs };
      return { ...e, args: e.args.map(finExpr), attrs, shape };
    };
    const timedNames = [...new Set([...this.defs.values()].filter((d) => d.timed).map((d) => d.name))];
    const steps = this.mode === 'unrolled' ? Math.max(...[...this.defs.values()].map((d) => d.step ?? 0)) : 1;
    const states = this.mode === 'step'
      ? timedNames.filter((n) => this.isState(n))
      : timedNames.filter((n) => this.inits.has(n) || this.declStates.has(n) || [...this.defs.values()].some((d) => freeVars(d.rhs).some((v) => v.name === n && v.time?.kind === 'abs' && v.time.step !== d.step)));
    const outputs = timedNames.filter((n) => !states.includes(n));
    const shapes: Record<string, Shape> = {};
    for (const [k, s] of this.types) shapes[k.split('@')[0]!] = finShape(s);
    const dims = [...this.rigid, ...new Set(names.values())];
    const cell: TypedCell = {
      name: this.ast.name,
      span: this.ast.span,
      mode: this.mode,
      steps,
      inputs: [...this.inputs].map(([name, i]) => ({ name, dim: fin(i.dim) })),
      states: states.map((name) => ({ name, dim: fin(this.nameDim(name)), init: this.inits.get(name)?.value ?? 0 })),
      outputs: outputs.map((name) => ({ name, shape: shapes[name]! })),
      params: [...this.params].filter(([, p]) => p.shape).map(([name, p]) => ({ name, shape: p.shape!.map(fin) })),
      dims: dims.filter((d) => !d.startsWith('?')),
      dimDefaults: { ...this.dimDefaults },
      equations: eqs.map((q) => ({ ...q, expr: finExpr(q.expr) })),
      shapes,
    };
    return cell;
  }
}

/** Help for a shape rule's refusal that is not "A vs B", per primitive. */
const OP_HELP: Partial<Record<OpName, string>> = {
  transpose: 'only a matrix (a parameter such as `W`) can be transposed; a vector per example needs no transpose: `W x^<t>` already multiplies it as a column',
  softmax: 'softmax normalises a vector per example',
  concat: '`[u, v]` stacks vectors per example; a matrix cannot be concatenated',
};

/** `\partial`, `\sum_{batch}`: the notes' backward pass, which celda derives itself. */
const GRADIENT_COMMANDS = ['\\partial', '\\sum', '\\nabla'];

const LATEX_KNOWN = ['\\tanh', '\\sigma', '\\exp', '\\log', '\\sqrt', '\\frac', '\\cdot', '\\odot', '\\tilde', '\\widetilde', '\\hat', '\\widehat', '\\left', '\\right', '\\Gamma', '\\dots', '\\qquad', '\\begin', '\\end', '\\top', '\\langle', '\\rangle'];

export { dimEq, dimSum };
