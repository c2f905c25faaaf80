// check, reading a name inside an expression: what `x^<t>`, `a^<t-1>`, `W`,
// `Γ_u` or `a^<3>` refers to (input, previous state, parameter, an earlier
// definition), and the diagnostic with its help when it refers to nothing.

import type { Span, Time } from '../../grammar/ast.ts';
import type { TExpr } from './typed-cell.ts';
import { freeVars, show, showTimed, timeText } from './expr-queries.ts';
import type { CheckContext, Def } from './context.ts';
import { Defer, isTimedName, key, leaf, nameDim, once, perExampleScalar, poison, timedNames, vec } from './context.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { closest, D } from '../diagnostics.ts';
import { FUNCTIONS } from '../ir/ops.ts';

/** A reference to a name in the expression of `def`. */
export function variable(cx: CheckContext, name: string, time: Time | null, span: Span, diags: Diagnostic[], def: Def): TExpr {
  if (FUNCTIONS[name] || cx.functions.has(name)) {
    if (time === null) { diags.push(D.notAFunction(span, show(name))); return poison(span); }
  }
  // Its equation was rejected with a diagnostic of its own: nothing more to say.
  if (cx.broken.has(name) && ![...cx.defs.values()].some((d) => d.name === name)) return poison(span);
  if (time === null) return readBare(cx, name, span, diags, def);
  if (time.kind === 'empty') { diags.push(D.emptyTime(span, show(name))); return poison(span); }
  if (time.kind === 'other') {
    diags.push(cx.mode === 'step'
      ? D.badTime(span, show(name), time.text, 'read', `inside a cell, read \`${showTimed(name, 't')}\` (this step) or \`${showTimed(name, 't-1')}\` (the step before)`)
      : D.badTime(span, show(name), time.text, 'read-unrolled', def.step !== undefined ? `in the equation of step ${def.step}, read \`${showTimed(name, String(def.step))}\` or \`${showTimed(name, String(def.step - 1))}\`` : 'read it at a concrete step'));
    return poison(span);
  }
  return cx.mode === 'step' ? readInStep(cx, name, time, span, diags) : readUnrolled(cx, name, time, span, diags, def);
}

/** A name without a time index: an intermediate, this step's value, an input, or a parameter. */
function readBare(cx: CheckContext, name: string, span: Span, diags: Diagnostic[], def: Def): TExpr {
  const inter = cx.defs.get(key(name));
  if (inter && !inter.timed) return refTo(cx, key(name), name, span);
  if (cx.mode === 'step' && isTimedName(cx, name)) return refTo(cx, key(name), name, span);
  if (cx.mode === 'unrolled' && isTimedName(cx, name)) {
    if (def.step !== undefined && cx.defs.has(key(name, def.step))) return refTo(cx, key(name, def.step), name, span, def.step);
    diags.push(D.outputAsParam(span, show(name), def.step !== undefined ? `write \`${showTimed(name, String(def.step))}\` or \`${showTimed(name, String(def.step - 1))}\`` : `write it at a step: \`${showTimed(name, '1')}\``));
    return poison(span);
  }
  if (cx.inputs.has(name)) {
    if (cx.mode === 'step') return leaf('input', name, span, vec(cx.inputs.get(name)!.dim));
    if (def.step !== undefined) return leaf('input', name, span, vec(cx.inputs.get(name)!.dim), def.step);
  }
  if (cx.declStates.has(name) || cx.inits.has(name)) { diags.push(D.outputAsParam(span, show(name))); return poison(span); }
  if (!cx.params.has(name)) cx.params.set(name, { shape: null, declared: false, span });
  const shape = cx.params.get(name)!.shape;
  return { k: 'leaf', leaf: 'param', name, span, shape: shape ? { batch: false, dims: shape } : null };
}

/** `x^<t>`, `a^<t-1>` … in a cell written for a general step. */
function readInStep(cx: CheckContext, name: string, time: Time & { kind: 'rel' | 'abs' }, span: Span, diags: Diagnostic[]): TExpr {
  if (time.kind === 'abs') {
    const initial = time.step === 0 && (cx.declStates.has(name) || cx.inits.has(name) || isTimedName(cx, name));
    once(cx, diags, `E013:${name}`, initial
      ? D.mixedTime(span, `\`${showTimed(name, '0')}\` is the initial value, but this cell is written for a general step t`, `read \`${showTimed(name, 't-1')}\`; its value at the first step is the initial value`)
      : D.mixedTime(span, `\`${showTimed(name, String(time.step))}\` is a concrete step, but this cell is written for a general step t`, `read \`${showTimed(name, 't')}\` (this step) or \`${showTimed(name, 't-1')}\` (the step before)`));
    return poison(span);
  }
  if (time.offset === 0) {
    if (cx.defs.has(key(name)) && cx.defs.get(key(name))!.timed) return refTo(cx, key(name), name, span);
    if (cx.inputs.has(name)) return leaf('input', name, span, vec(cx.inputs.get(name)!.dim));
    if (cx.declStates.has(name)) return poison(span); // reported at the declaration
    once(cx, diags, `E004:${name}`, D.unknownName(span, showTimed(name, 't'), unknownHelp(cx, name, 't')));
    return poison(span);
  }
  if (time.offset === -1) {
    if (cx.inputs.has(name)) { once(cx, diags, `E020:${name}`, D.inputAtPrevious(span, show(name))); return poison(span); }
    if (isTimedName(cx, name)) return leaf('prev', name, span, cx.scalarStates.has(name) ? perExampleScalar : vec(nameDim(cx, name)));
    if (cx.declStates.has(name)) return poison(span); // reported at the declaration
    once(cx, diags, `E008:${name}`, D.stateNotDefined(span, show(name), false, prevHelp(cx, name)));
    return poison(span);
  }
  const help = time.offset > 0
    ? `a cell computes step t from step t-1 and cannot read ahead; read \`${showTimed(name, 't')}\` or \`${showTimed(name, 't-1')}\``
    : `to look ${-time.offset} steps back, carry the value in a state: \`${show(name)}_prev^<t> = ${showTimed(name, 't-1')}\`, then read \`${show(name)}_prev^<t-1>\`${time.offset < -2 ? ' (one such state per step back)' : ''}`;
  diags.push(D.badTime(span, show(name), timeText(time), 'read', help));
  return poison(span);
}

/** `a^<3>`, `x^<3>` in a cell unrolled at concrete steps. */
function readUnrolled(cx: CheckContext, name: string, time: Time & { kind: 'rel' | 'abs' }, span: Span, diags: Diagnostic[], def: Def): TExpr {
  if (time.kind === 'rel') {
    const at = def.step === undefined ? undefined : def.step + time.offset;
    once(cx, diags, `E013:${name}`, D.mixedTime(span, `\`${showTimed(name, timeText(time))}\` is read at a general step, but this cell is unrolled at concrete steps`,
      at !== undefined && at >= 0 ? `in the equation of step ${def.step}, read \`${showTimed(name, String(at))}\`` : 'read it at a concrete step: `x^<1>`, `a^<0>` …'));
    return poison(span);
  }
  const s = time.step;
  if (cx.defs.has(key(name, s))) return refTo(cx, key(name, s), name, span, s);
  if (cx.inputs.has(name)) {
    const last = lastStep(cx);
    if (s >= 1 && s <= last) return leaf('input', name, span, vec(cx.inputs.get(name)!.dim), s);
    once(cx, diags, `E029:${name}`, D.inputOutOfSteps(span, show(name), s, last));
    return poison(span);
  }
  if (s === 0 && (cx.inits.has(name) || cx.declStates.has(name))) return leaf('prev', name, span, vec(nameDim(cx, name)), 0);
  if (cx.broken.has(name)) return poison(span); // a step of it was rejected: likely this one
  const steps = [...cx.defs.values()].filter((d) => d.name === name && d.step !== undefined);
  if (steps.length === 0 && !cx.inits.has(name)) {
    once(cx, diags, `E004:${name}`, D.unknownName(span, showTimed(name, String(s)), unknownHelp(cx, name, String(s))));
    return poison(span);
  }
  // All the missing steps of one name are one diagnostic.
  const missing = missingSteps(cx, name);
  const help = missing.length > 1 ? `also read but never defined: ${missing.filter((m) => m !== s).map((m) => `\`${showTimed(name, String(m))}\``).join(', ')}; define each step as the others are defined` : s === 0 ? undefined : `define it as the other steps are defined: \`${showTimed(name, String(s))} = …\``;
  once(cx, diags, `E024:${name}`, D.unrolledGap(span, show(name), s, help));
  return poison(span);
}

/** The last step an unrolled cell defines: its inputs are read at steps 1 … last. */
export function lastStep(cx: CheckContext): number {
  return Math.max(0, ...[...cx.defs.values()].map((d) => d.step ?? 0));
}

/** Steps at which an unrolled cell reads `name` without defining it. */
function missingSteps(cx: CheckContext, name: string): number[] {
  const out = new Set<number>();
  for (const d of cx.defs.values()) for (const v of freeVars(d.rhs)) {
    if (v.name !== name || v.time?.kind !== 'abs') continue;
    const s = v.time.step;
    if (!cx.defs.has(key(name, s)) && !(s === 0 && (cx.inits.has(name) || cx.declStates.has(name)))) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

/** How many times a name is read at some time index in the whole cell. */
function timedReads(cx: CheckContext, name: string): number {
  let n = 0;
  for (const eq of cx.equations) for (const v of freeVars(eq.rhs)) if (v.name === name && v.time !== null) n++;
  return n;
}

/**
 * Help for a name read at a step but defined nowhere: a typo of an input (or,
 * for longer names, of a defined value) if it is read once; otherwise the
 * input declaration it is missing.
 */
function unknownHelp(cx: CheckContext, name: string, time: string): string {
  const declare = `declare it as an input: \`input ${show(name)} : n_${name}\``;
  if (cx.params.has(name) || cx.defs.has(key(name))) return `\`${show(name)}\` is used without a time index elsewhere; write \`${show(name)}\` or define \`${showTimed(name, time)} = …\``;
  if (timedReads(cx, name) > 1) return declare;
  const typo = closest(name, cx.inputs.keys()) ?? ([...name].length > 1 ? closest(name, timedNames(cx)) : undefined);
  return typo === undefined ? declare : `did you mean \`${showTimed(typo, time)}\`? (or declare a new input: \`input ${show(name)} : n_${name}\`)`;
}

/** Help for `h^<t-1>` when nothing defines `h^<t>`. */
function prevHelp(cx: CheckContext, name: string): string {
  if (cx.defs.has(key(name))) return `\`${show(name)}\` is defined without a time index, so it has no value at t-1; define \`${showTimed(name, 't')} = …\` to carry it to the next step`;
  const typo = closest(name, [...timedNames(cx), ...cx.declStates.keys()]);
  const add = `define the state: \`${showTimed(name, 't')} = …\``;
  return typo === undefined ? add : `did you mean \`${showTimed(typo, 't-1')}\`? (or ${add})`;
}

/** A read of an earlier definition: its shape, once its own equation is typed. */
function refTo(cx: CheckContext, k: string, name: string, span: Span, step?: number): TExpr {
  if (cx.poisoned.has(k)) return poison(span);
  const t = cx.types.get(k);
  if (!t) throw new Defer();
  return leaf('ref', name, span, t, step);
}
