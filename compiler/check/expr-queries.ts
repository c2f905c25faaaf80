// Small reads of the AST that every stage of the checker shares: the names an
// expression reads, how deep it nests, and how names, times and expressions
// are written in messages.

import type { Expr, Span, Time } from '../../grammar/ast.ts';
import { spell } from '../../grammar/names.ts';

/** A time index as written: `t`, `t-1`, `3`. */
export const timeText = (t: Time): string =>
  t.kind === 'rel' ? (t.offset === 0 ? 't' : `t${t.offset > 0 ? '+' : ''}${t.offset}`) : t.kind === 'abs' ? String(t.step) : t.kind === 'empty' ? '' : t.text;

/** A name as messages show it: `Γ_u`, `c̃`, `ŷ` (the canonical name is ASCII). */
export const show = (name: string) => spell(name, 'unicode');
export const showTimed = (name: string, time: string) => `${show(name)}^<${time}>`;

/** Every name an expression reads, in source order, functions included. */
export function freeVars(e: Expr, out: { name: string; time: Time | null; span: Span }[] = []) {
  switch (e.kind) {
    case 'var': out.push({ name: e.name, time: e.time, span: e.span }); break;
    case 'apply': out.push({ name: e.fn, time: null, span: e.fnSpan }); for (const a of e.args) freeVars(a, out); break;
    case 'binary': case 'juxt': freeVars(e.left, out); freeVars(e.right, out); break;
    case 'neg': case 'transpose': freeVars(e.arg, out); break;
    case 'pow': freeVars(e.base, out); break;
    case 'power': freeVars(e.base, out); freeVars(e.exponent, out); break;
    case 'concat': for (const i of e.items) freeVars(i, out); break;
    case 'compare': freeVars(e.left, out); freeVars(e.right, out); break;
    case 'cases': for (const a of e.arms) { freeVars(a.value, out); if (a.cond) freeVars(a.cond, out); } break;
    case 'part': freeVars(e.arg, out); break;
    default: break;
  }
  return out;
}

/** Deeper than any cell written by hand; the passes after check recurse this deep. */
export const MAX_DEPTH = 1000;

function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'apply': return e.args;
    case 'binary': case 'juxt': return [e.left, e.right];
    case 'neg': case 'transpose': return [e.arg];
    case 'pow': return [e.base];
    case 'power': return [e.base, e.exponent];
    case 'concat': return e.items;
    case 'compare': return [e.left, e.right];
    case 'cases': return e.arms.flatMap((a) => (a.cond ? [a.value, a.cond] : [a.value]));
    case 'part': return [e.arg];
    default: return [];
  }
}

/** Numbers written beyond float64 (`1e999`), and exponents `x^{1e999}`, found without recursion. */
export function nonFiniteNumbers(e: Expr): { span: Span; what: string }[] {
  const found: { span: Span; what: string }[] = [];
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === 'num' && !Number.isFinite(x.value)) found.push({ span: x.span, what: 'this number' });
    if (x.kind === 'pow' && !Number.isFinite(x.exponent)) found.push({ span: x.span, what: 'the exponent of this power' });
    stack.push(...children(x));
  }
  return found;
}

/** Depth of an expression tree, measured without recursion. */
export function depth(e: Expr): number {
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
export function applies(e: Expr, fn: string): boolean {
  switch (e.kind) {
    case 'apply': return e.fn === fn || e.args.some((a) => applies(a, fn));
    case 'juxt': case 'binary': return applies(e.left, fn) || applies(e.right, fn);
    case 'neg': case 'transpose': return applies(e.arg, fn);
    case 'pow': return applies(e.base, fn);
    case 'power': return applies(e.base, fn) || applies(e.exponent, fn);
    case 'concat': return e.items.some((i) => applies(i, fn));
    case 'compare': case 'cases': case 'part': return children(e).some((c) => applies(c, fn));
    default: return false;
  }
}

/** Source-like text of a small expression, for messages: `Γ_u`, `x^<t>`, `1 - Γ_u`. */
function exprText(e: Expr, nested = false): string {
  const wrap = (t: string) => (nested ? `(${t})` : t);
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'var': return e.time ? showTimed(e.name, timeText(e.time)) : show(e.name);
    case 'apply': return `${show(e.fn)}(${e.args.map((a) => exprText(a)).join(', ')})`;
    case 'binary': return wrap(`${exprText(e.left, true)} ${e.op === '@' ? '·' : e.op} ${exprText(e.right, true)}`);
    case 'juxt': return wrap(`${exprText(e.left, true)} ${exprText(e.right, true)}`);
    case 'neg': return wrap(`-${exprText(e.arg, true)}`);
    case 'pow': return `${exprText(e.base, true)}^${e.exponent}`;
    case 'power': return `${exprText(e.base, true)}^{${exprText(e.exponent)}}`;
    case 'transpose': return `${exprText(e.arg, true)}ᵀ`;
    case 'concat': return `[${e.items.map((i) => exprText(i)).join(', ')}]`;
    case 'zeros': return '[0 … 0]';
    case 'latex': return e.command;
    case 'compare': return wrap(`${exprText(e.left, true)} ${({ '>=': '≥', '<=': '≤', '>': '>', '<': '<' } as const)[e.op]} ${exprText(e.right, true)}`);
    case 'cases': return `cases(${e.arms.map((a) => (a.cond ? `${exprText(a.value)} if ${exprText(a.cond)}` : `${exprText(a.value)} otherwise`)).join(', ')})`;
    case 'part': return exprText(e.arg, nested);
  }
}

/** Both operands' text when each is short enough to read in a message. */
export function operandTexts(l?: Expr, r?: Expr): [string, string] | undefined {
  if (!l || !r) return undefined;
  const a = exprText(l), b = exprText(r);
  return [...a].length <= 28 && [...b].length <= 28 ? [a, b] : undefined;
}
