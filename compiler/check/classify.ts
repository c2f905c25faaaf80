// check, first stages: what each name is. Declarations (dims, inputs, states,
// outputs, parameters), then the equations: function aliases (`g_1 = tanh`),
// the cell's time mode (general step <t> or concrete steps), the time rules of
// a left-hand side, value aliases (`c^<t> = a^<t>`) and initial values; then
// the states, as the names read at <t-1>.

import type { DimExpr, Equation, Expr, Span, Time } from '../../grammar/ast.ts';
import { applies, depth, freeVars, MAX_DEPTH, show, showTimed, timeText } from './expr-queries.ts';
import type { CheckContext } from './context.ts';
import { display, isTimedName, key, timedNames } from './context.ts';
import { closest, D, didYouMean } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { dimAdd, dimNum, dimScale, dimSub, dimVar } from '../ir/dims.ts';
import { FUNCTIONS } from '../ir/ops.ts';

// ---------------------------------------------------------------- declarations

function dimExpr(cx: CheckContext, d: DimExpr): Dim {
  switch (d.kind) {
    case 'dim': cx.rigid.add(d.name); return dimVar(d.name);
    case 'dimnum': return dimNum(d.value);
    case 'dimadd': return d.op === '+' ? dimAdd(dimExpr(cx, d.left), dimExpr(cx, d.right)) : dimSub(dimExpr(cx, d.left), dimExpr(cx, d.right));
    case 'dimscale': return dimScale(dimExpr(cx, d.arg), d.factor);
  }
}

export function declarations(cx: CheckContext): void {
  const seen = new Set<string>();
  const declSpans = new Map<string, Span>();
  for (const decl of cx.ast.decls) {
    if (decl.kind === 'dim') {
      cx.rigid.add(decl.name);
      if (decl.init?.kind === 'num' && Number.isInteger(decl.init.value) && decl.init.value >= 0) cx.dimDefaults[decl.name] = decl.init.value;
      else if (decl.init) cx.diags.push(D.badDim(decl.init.span, 'a dimension needs a whole number'));
      continue;
    }
    if (seen.has(decl.name)) { cx.diags.push(D.duplicateDecl(decl.nameSpan, show(decl.name), declSpans.get(decl.name))); continue; }
    seen.add(decl.name);
    declSpans.set(decl.name, decl.nameSpan);
    const shape = decl.shape?.map((d) => dimExpr(cx, d)) ?? null;
    if (decl.kind === 'input' || decl.kind === 'state') {
      if (shape && shape.length !== 1) { cx.diags.push(D.badDim(decl.span, `\`${show(decl.name)}\` is a vector per example: give one dimension, like \`${decl.kind} ${show(decl.name)} : n_${decl.name}\``)); continue; }
      if (decl.kind === 'input') cx.inputs.set(decl.name, { dim: shape?.[0] ?? cx.solver.fresh(), span: decl.nameSpan });
      else cx.declStates.set(decl.name, { init: decl.init, span: decl.nameSpan });
      // `state m : 1` is a scalar per example (as `param b : 1` is a scalar), stored as one number per example.
      if (decl.kind === 'state' && shape && shape[0]!.terms.length === 0 && shape[0]!.k === 1) cx.scalarStates.add(decl.name);
      if (shape) cx.nameDims.set(decl.name, shape[0]!);
    } else if (decl.kind === 'param') {
      // `param b : 1` is a scalar.
      const s = shape && shape.length === 1 && shape[0]!.terms.length === 0 && shape[0]!.k === 1 ? [] : shape;
      cx.params.set(decl.name, { shape: s, declared: true, span: decl.nameSpan });
    } else if (decl.kind === 'output') {
      cx.declOutputs.set(decl.name, { span: decl.nameSpan });
      if (shape && shape.length === 1) cx.nameDims.set(decl.name, shape[0]!);
    }
  }
  for (const [name, s] of cx.declStates) if (s.init) {
    const v = constInit(s.init);
    if (v === null) cx.diags.push(D.badInit(s.init.span, show(name)));
    else cx.inits.set(name, { value: v, span: s.init.span });
  }
}

/** An initial value: a number, its negation, or `[0 … 0]`. */
function constInit(e: Expr): number | null {
  if (e.kind === 'zeros') return 0;
  if (e.kind === 'num') return e.value;
  if (e.kind === 'neg' && e.arg.kind === 'num') return -e.arg.value;
  return null;
}

// ---------------------------------------------------------------- definitions

export function definitions(cx: CheckContext): void {
  cx.equations = dropTooDeep(cx);
  const rest = functionAliases(cx, cx.equations);
  const odd = timeMode(cx, rest);
  // Count definitions per (name, time) to recognise aliases: `c^<t> = a^<t>`
  // where `c^<t>` is defined elsewhere and `a^<t>` nowhere says a^<t> is c^<t>.
  const count = new Map<string, number>();
  for (const e of rest) count.set(lhsKey(e), (count.get(lhsKey(e)) ?? 0) + 1);
  const definedKeys = new Set(count.keys());
  for (const eq of rest) {
    if (odd.has(eq) || lhsTimeRefused(cx, eq)) { cx.broken.add(eq.lhs.name); continue; }
    define(cx, eq, count, definedKeys);
  }
  for (const [name, o] of cx.declOutputs) if (!isTimedName(cx, name) && !cx.broken.has(name)) cx.diags.push(D.outputNotDefined(o.span, show(name)));
}

const timeKey = (name: string, time: Time | null) => `${name}|${time ? timeText(time) : ''}`;
const lhsKey = (e: Equation) => timeKey(e.lhs.name, e.lhs.time);

/**
 * Every later pass recurses over expressions; a 5000-term sum would overflow
 * the stack, so such an equation is refused here, once.
 */
function dropTooDeep(cx: CheckContext): Equation[] {
  return cx.ast.equations.filter((eq) => {
    const d = depth(eq.rhs);
    if (d <= MAX_DEPTH) return true;
    cx.diags.push(D.tooDeep(eq.rhs.span, d, MAX_DEPTH));
    cx.broken.add(eq.lhs.name);
    return false;
  });
}

/** Function aliases first: `g_1 = tanh`. Returns the other equations. */
function functionAliases(cx: CheckContext, eqs: readonly Equation[]): Equation[] {
  const rest: Equation[] = [];
  for (const eq of eqs) {
    const r = eq.rhs;
    if (eq.lhs.time === null && r.kind === 'var' && r.time === null && (FUNCTIONS[r.name] || cx.functions.has(r.name)) && !cx.params.has(eq.lhs.name)) {
      const op = FUNCTIONS[r.name] ?? cx.functions.get(r.name)!.op;
      const first = cx.functions.get(eq.lhs.name)?.span ?? cx.inputs.get(eq.lhs.name)?.span;
      if (first) cx.diags.push(D.doubleDefinition(eq.lhs.span, show(eq.lhs.name), first));
      else cx.functions.set(eq.lhs.name, { op, span: eq.lhs.span });
    } else if (eq.lhs.time === null && r.kind === 'var' && r.time === null && misspeltFunction(cx, eq.lhs.name, r.name)) {
      // `g_1 = tahn` with `g_1(…)` below: a function name with a typo, not a parameter.
      cx.diags.push(D.unknownFunction(r.span, show(r.name), didYouMean(r.name, Object.keys(FUNCTIONS), show)));
      cx.broken.add(eq.lhs.name);
    } else rest.push(eq);
  }
  return rest;
}

/** `alias = name` where `alias(…)` is applied somewhere, so `name` was meant to be a function. */
function misspeltFunction(cx: CheckContext, alias: string, name: string): boolean {
  if (cx.params.get(name)?.declared || cx.inputs.has(name) || cx.equations.some((eq) => eq.lhs.name === name)) return false;
  return cx.equations.some((eq) => applies(eq.rhs, alias));
}

/**
 * A cell is written for a general step <t>, or unrolled at concrete steps
 * (`a^<1>`, `a^<2>` …; `a^<0>` is an initial value in either). When both
 * appear, the larger group decides, and the first equation of the other group
 * gets the one diagnostic; the rest of that group is set aside quietly.
 */
function timeMode(cx: CheckContext, rest: readonly Equation[]): Set<Equation> {
  const concrete = rest.filter((e) => e.lhs.time?.kind === 'abs' && e.lhs.time.step > 0);
  const general = rest.filter((e) => e.lhs.time?.kind === 'rel' && e.lhs.time.offset === 0);
  cx.mode = concrete.length > general.length ? 'unrolled' : 'step';
  if (concrete.length === 0 || general.length === 0) return new Set();
  const odd = cx.mode === 'step' ? concrete : general;
  const first = odd[0]!.lhs;
  const more = odd.length > 1 ? ` (and ${odd.length - 1} more)` : '';
  cx.diags.push(cx.mode === 'step'
    ? D.mixedTime(first.span, `\`${showTimed(first.name, timeText(first.time!))}\` is defined at a concrete step${more}, but the other equations of this cell are written for a general step <t>`,
      `write \`${showTimed(first.name, 't')} = …\` (a cell is one step, t-1 → t), or write every equation at concrete steps`)
    : D.mixedTime(first.span, `\`${showTimed(first.name, 't')}\` is written for a general step${more}, but the other equations of this cell are at concrete steps`,
      `write it at each step, \`${showTimed(first.name, '1')} = …\`, \`${showTimed(first.name, '2')} = …\`, or write the whole cell for a general step <t>`));
  return new Set(odd);
}

/** A left-hand side at a time a cell cannot define (`a^<>`, `a^<t+1>`, `a^<s>`): reported here. */
function lhsTimeRefused(cx: CheckContext, eq: Equation): boolean {
  const { lhs } = eq;
  if (lhs.time?.kind === 'empty') { cx.diags.push(D.emptyTime(lhs.span, show(lhs.name), 'defined')); return true; }
  if (lhs.time && (lhs.time.kind === 'other' || (lhs.time.kind === 'rel' && lhs.time.offset !== 0) || (lhs.time.kind === 'abs' && lhs.time.step < 0))) {
    cx.diags.push(cx.mode === 'step'
      ? D.badTime(lhs.span, show(lhs.name), timeText(lhs.time), 'defined', lhsTimeHelp(lhs.name, lhs.time))
      : D.badTime(lhs.span, show(lhs.name), timeText(lhs.time), 'defined-unrolled', `define it at a step: \`${showTimed(lhs.name, '1')} = …\`, \`${showTimed(lhs.name, '2')} = …\``));
    return true;
  }
  return false;
}

function lhsTimeHelp(name: string, time: Time): string {
  const t = showTimed(name, 't');
  if (time.kind === 'rel' && time.offset > 0) return `define \`${t} = …\`; the next step reads it as \`${showTimed(name, 't-1')}\``;
  if (time.kind === 'rel') return `define \`${t} = …\`; \`${showTimed(name, 't-1')}\` is then the value of the step before`;
  return `define \`${t} = …\``;
}

/**
 * What an equation defines: `c^<t> = a^<t>`, when `c^<t>` has another equation
 * and `a^<t>` none, defines `a^<t>` as `c^<t>` (and uses up one count of `c^<t>`).
 */
function definedBy(cx: CheckContext, eq: Equation, count: Map<string, number>, definedKeys: ReadonlySet<string>): { name: string; time: Time | null; value: Expr } {
  const { lhs, rhs } = eq;
  if (rhs.kind === 'var' && rhs.time?.kind === lhs.time?.kind && (count.get(lhsKey(eq)) ?? 0) > 1 && !definedKeys.has(timeKey(rhs.name, rhs.time)) && !cx.inputs.has(rhs.name) && (lhs.time === null || timeText(lhs.time) === timeText(rhs.time!))) {
    count.set(lhsKey(eq), count.get(lhsKey(eq))! - 1);
    return { name: rhs.name, time: rhs.time, value: { kind: 'var', name: lhs.name, time: lhs.time, span: lhs.span } };
  }
  return { name: lhs.name, time: lhs.time, value: rhs };
}

/** Record one equation as a definition, an initial value, or a diagnostic. */
function define(cx: CheckContext, eq: Equation, count: Map<string, number>, definedKeys: ReadonlySet<string>): void {
  const { name, time, value } = definedBy(cx, eq, count, definedKeys);
  const nameSpan = value === eq.rhs ? eq.lhs.span : eq.rhs.span;
  if (cx.inputs.has(name) && time !== null) { cx.diags.push(D.inputDefined(nameSpan, show(name), cx.inputs.get(name)!.span)); return; }
  if (time?.kind === 'abs' && time.step === 0) {
    const v = constInit(value);
    if (v === null) cx.diags.push(D.badInit(value.span, show(name)));
    else if (cx.inits.has(name)) cx.diags.push(D.doubleDefinition(nameSpan, `${show(name)}^<0>`, cx.inits.get(name)!.span));
    else cx.inits.set(name, { value: v, span: eq.span });
    return;
  }
  const step = time?.kind === 'abs' ? time.step : undefined;
  const k = time === null ? key(name) : key(name, step);
  const clash = cx.defs.get(k)
    ?? (time === null ? [...cx.defs.values()].find((d) => d.name === name && d.timed) : cx.defs.get(key(name))?.timed === false ? cx.defs.get(key(name)) : undefined);
  if (clash) {
    cx.diags.push(D.doubleDefinition(nameSpan, clash.timed === (time !== null) ? display({ name, step, timed: time !== null }) : show(name), clash.eq.lhs.span));
    return;
  }
  if (time === null && cx.functions.has(name)) { cx.diags.push(D.badFunctionAlias(nameSpan, show(name))); return; }
  cx.defs.set(k, { name, step, timed: time !== null, eq, rhs: value });
}

// ---------------------------------------------------------------- the cell as a whole

/** A cell with no equations, or with equations but nothing at a time index. */
export function reportEmptyCell(cx: CheckContext): void {
  const { ast } = cx;
  cx.empty = cx.defs.size === 0 && !cx.diags.length;
  if (cx.empty) cx.diags.push(D.noEquations(ast.nameSpan.end > ast.nameSpan.start ? ast.nameSpan : ast.span, ast.name));
  const last = [...cx.defs.values()].at(-1);
  if (last && !cx.diags.length && timedNames(cx).length === 0) cx.diags.push(D.noOutputs(last.eq.lhs.span, ast.name, show(last.name)));
}

/** States are the names read at <t-1> and the declared ones. */
export function scanReads(cx: CheckContext): void {
  if (cx.mode !== 'step') return;
  for (const d of cx.defs.values()) for (const v of freeVars(d.rhs)) if (v.time?.kind === 'rel' && v.time.offset === -1) cx.readPrev.add(v.name);
  // A declared state with no equation: one diagnostic at the declaration, and
  // its reads say nothing more. In an empty cell "no equations" says it all.
  if (cx.empty) return;
  for (const [name, s] of cx.declStates) {
    if (isTimedName(cx, name) || cx.broken.has(name)) continue;
    const near = closest(name, timedNames(cx).filter((n) => !cx.declStates.has(n)));
    const help = near !== undefined ? `is \`${showTimed(near, 't')} = …\` meant to be \`${showTimed(name, 't')} = …\`?`
      : cx.defs.has(key(name)) ? `\`${show(name)}\` is defined without a time index; write \`${showTimed(name, 't')} = …\``
      : undefined;
    cx.broken.add(name);
    cx.diags.push(D.stateNotDefined(s.span, show(name), true, help));
  }
}
