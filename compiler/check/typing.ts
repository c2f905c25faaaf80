// check, typing: every equation's expression becomes a TExpr with a symbolic
// shape, in dependency order, over as many passes as deferred equations need;
// each defined value then takes the shape of its expression.

import type { Expr } from '../../grammar/ast.ts';
import type { TExpr, TypedEq } from './typed-cell.ts';
import { show } from './expr-queries.ts';
import type { CheckContext, Def } from './context.ts';
import { Defer, display, isPoison, isState, key, perExampleScalar, poison, scalarShape, showDim, showShape, vec } from './context.ts';
import { dimNum } from '../ir/dims.ts';
import { variable } from './references.ts';
import { call, elementwise, op, product } from './shapes.ts';
import { assignMatrix, diagAlone, matrixProduct } from './matrices.ts';
import { typeCases, typeCompare, typePart } from './piecewise.ts';
import { vectorsThroughElementwise } from './elementwise-params.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D, DERIVATIVES, didYouMean } from '../diagnostics.ts';
import { FUNCTIONS } from '../ir/ops.ts';
import { SUGAR_FUNCTIONS, dimValue, isDimName, mean, noteTransposed, tensorPower, transposedProduct } from './reductions.ts';

/** `\partial`, `\sum_{batch}`: the notes' backward pass, which celda derives itself. */
const GRADIENT_COMMANDS = ['\\partial', '\\sum', '\\nabla'];

const LATEX_KNOWN = ['\\tanh', '\\sigma', '\\exp', '\\log', '\\sqrt', '\\frac', '\\cdot', '\\odot', '\\tilde', '\\widetilde', '\\hat', '\\widehat', '\\left', '\\right', '\\Gamma', '\\dots', '\\qquad', '\\begin', '\\end', '\\top', '\\langle', '\\rangle'];

/**
 * The typed equations in dependency order, and the keys of the definitions
 * that could never be typed (their parameters' shapes stay unknown).
 */
export function typeAll(cx: CheckContext, order: readonly string[]): { equations: TypedEq[]; stuck: Set<string> } {
  // Several passes: an equation whose parameters cannot be typed yet (`p * q`
  // with both unknown) waits for a later equation to fix them.
  const done = new Map<string, TypedEq>();
  let pending = order.slice();
  while (pending.length > 0) {
    const still: string[] = [];
    for (const k of pending) {
      const def = cx.defs.get(k)!;
      const local: Diagnostic[] = [];
      try {
        const expr = typeExpr(cx, def.rhs, local, def);
        done.set(k, { name: def.name, step: def.step, expr, span: def.eq.span });
        if (isPoison(expr) || !assign(cx, def, expr, local)) cx.poisoned.add(k);
        else if (scalarOfVector.has(expr)) done.set(k, { name: def.name, step: def.step, expr: { k: 'op', op: 'sum_feat', args: [expr], attrs: {}, span: expr.span, shape: perExampleScalar }, span: def.eq.span });
        cx.diags.push(...local);
      } catch (e) {
        if (!(e instanceof Defer)) throw e;
        still.push(k);
      }
    }
    // Stuck: a parameter read only through an elementwise function becomes a vector (elementwise-params.ts).
    if (still.length === pending.length && !vectorsThroughElementwise(cx, still.map((k) => cx.defs.get(k)!.rhs))) break;
    pending = still;
  }
  const stuck = new Set(pending.filter((k) => !done.has(k)));
  return { equations: order.filter((k) => done.has(k)).map((k) => done.get(k)!), stuck };
}

/** The defined value takes the shape of its expression; states and named dims are unified. */
function assign(cx: CheckContext, def: Def, e: TExpr, diags: Diagnostic[]): boolean {
  if (!e.shape) return true;
  let shape = e.shape;
  if (def.timed && cx.scalarStates.has(def.name)) return assignScalarState(cx, def, e, diags);
  // ---- a matrix per example (matrices.ts): declared `state C : d × d`, or an output that is one
  if (def.timed) {
    const m = assignMatrix(cx, def, shape, diags);
    if (m !== undefined) return m;
  }
  // ---- end matrix per example
  if (def.timed) {
    const what = `the definition of \`${display(def)}\``;
    if (shape.dims.length !== 1 && (isState(cx, def.name) || cx.mode === 'unrolled')) {
      const scalarHint = shape.dims.length === 0 && cx.mode === 'step' ? `; for a scalar per example, declare \`state ${show(def.name)} : 1\`` : '';
      diags.push(D.shapeMismatch(def.eq.rhs.span, what, 'a vector per example', showShape(cx, shape), `\`${display(def)}\` is carried from step to step, so it is a vector per example; this equation gives ${showShape(cx, shape)}${scalarHint}`));
      return false;
    }
    shape = { batch: true, dims: shape.dims };
    if (shape.dims.length === 1) {
      const known = cx.nameDims.get(def.name);
      if (!known) cx.nameDims.set(def.name, shape.dims[0]!);
      else if (cx.solver.unify(known, shape.dims[0]!) === false) {
        const decl = cx.declStates.has(def.name) ? `state ${show(def.name)}` : cx.declOutputs.has(def.name) ? `output ${show(def.name)}` : undefined;
        const why = decl ? `it is declared \`${decl} : ${showDim(cx, known)}\`` : 'that is its size where it is read';
        diags.push(D.shapeMismatch(def.eq.rhs.span, what, showShape(cx, vec(known)), showShape(cx, shape),
          `\`${display(def)}\` is ${showShape(cx, vec(known))} (${why}), but its equation gives ${showShape(cx, shape)}`));
        return false;
      }
    }
  }
  cx.types.set(key(def.name, def.step), shape);
  return true;
}

/**
 * A scalar state (`state m : 1`) takes a scalar per example; a vector whose
 * size is 1 (`W x^<t>` with W of one row) is accepted too, as its one element,
 * so cells written when `: 1` meant a vector of one element keep working.
 */
function assignScalarState(cx: CheckContext, def: Def, e: TExpr, diags: Diagnostic[]): boolean {
  const shape = e.shape!;
  if (cx.mode === 'unrolled') { diags.push(D.dimInUnrolled(def.eq.lhs.span, show(def.name))); return false; }
  if (shape.dims.length === 1 && cx.solver.unify(shape.dims[0]!, dimNum(1)) !== false) {
    scalarOfVector.set(e, true);
  } else if (shape.dims.length !== 0) {
    diags.push(D.scalarStateShape(def.eq.rhs.span, show(def.name), showShape(cx, shape)));
    return false;
  }
  cx.types.set(key(def.name, def.step), perExampleScalar);
  return true;
}

/** Expressions of scalar states that are a vector of one element (summed to its element when the equations are assembled). */
export const scalarOfVector = new WeakMap<TExpr, true>();

function isFunctionName(cx: CheckContext, name: string) {
  return !!FUNCTIONS[name] || cx.functions.has(name);
}

/** A bare name applied to `(…)` that is neither a function nor plausibly a matrix. */
function looksLikeFunction(cx: CheckContext, name: string) {
  if (cx.params.get(name)?.declared || cx.defs.has(key(name)) || cx.inputs.has(name)) return false;
  if (name.includes('_') || name.length === 1) return false;
  return true;
}

/** Type one expression of `def`'s equation; diagnostics go to `diags`, kept only if it is not deferred. */
function typeExpr(cx: CheckContext, e: Expr, diags: Diagnostic[], def: Def): TExpr {
  const go = (x: Expr) => typeExpr(cx, x, diags, def);
  switch (e.kind) {
    case 'num': return { k: 'leaf', leaf: 'const', name: '', value: e.value, span: e.span, shape: scalarShape };
    case 'var':
      // `d` after `dim d`: the dimension's size as a number (reductions.ts).
      if (e.time === null && isDimName(cx, e.name)) return dimValue(e.name, e.span);
      return variable(cx, e.name, e.time, e.span, diags, def);
    case 'latex': diags.push(D.unknownLatex(e.span, e.command, didYouMean(e.command, LATEX_KNOWN) ?? (GRADIENT_COMMANDS.includes(e.command) ? DERIVATIVES : undefined))); return poison(e.span);
    case 'zeros': diags.push(D.zerosInExpression(e.span)); return poison(e.span);
    case 'apply': {
      if (SUGAR_FUNCTIONS[e.fn] !== undefined && !cx.functions.has(e.fn)) return mean(cx, e.fn, e.args.map(go), e.span, diags);
      const diag = diagAlone(cx, e, diags); // ---- `diag(v)` outside a product (matrices.ts)
      if (diag) return diag;
      if (isFunctionName(cx, e.fn)) return call(cx, e.fn, e.fnSpan, e.args.map(go), e.span, diags);
      if (looksLikeFunction(cx, e.fn)) {
        diags.push(D.unknownFunction(e.fnSpan, show(e.fn), didYouMean(e.fn, [...Object.keys(FUNCTIONS), ...cx.functions.keys()], show)));
        e.args.forEach(go); // their own mistakes are worth reporting too
        return poison(e.span);
      }
      // `W (v)` multiplies; `W (u, v)` is neither a product nor a call.
      if (e.args.length !== 1) { diags.push(D.wrongArity(e.span, show(e.fn), 1, e.args.length)); return poison(e.span); }
      return product(cx, variable(cx, e.fn, null, e.fnSpan, diags, def), go(e.args[0]!), e.span, diags, false, [{ kind: 'var', name: e.fn, time: null, span: e.fnSpan }, e.args[0]!]);
    }
    case 'juxt': {
      // `\frac{1}{\sqrt{d}} W_k x`: a constant factor scales the product that follows it, (c W) x = c (W x)
      if (e.left.kind === 'juxt' && isConstant(cx, e.left.left)) {
        const rest: Expr = { kind: 'juxt', left: e.left.right, right: e.right, span: { start: e.left.right.span.start, end: e.right.span.end } };
        return go({ kind: 'juxt', left: e.left.left, right: rest, span: e.span });
      }
      if (e.left.kind === 'var' && e.left.time === null && SUGAR_FUNCTIONS[e.left.name] !== undefined && !cx.functions.has(e.left.name)) return mean(cx, e.left.name, [go(e.right)], e.span, diags);
      // `uᵀ v`: an inner product of vectors, or `Wᵀ v` (reductions.ts decides from the shapes).
      if (e.left.kind === 'transpose') return transposedProduct(cx, noteTransposed(cx, go(e.left.arg), e.left), go(e.right), e.span, diags, false, [e.left, e.right], e.left.span);
      if (e.left.kind === 'var' && e.left.time === null && isFunctionName(cx, e.left.name)) return call(cx, e.left.name, e.left.span, [go(e.right)], e.span, diags);
      // ---- `v kᵀ` and `diag(v) A` (matrices.ts); `uᵀ v`, with the transpose on the left, is not these
      const each = matrixProduct(cx, e.left, e.right, e.span, diags, go, false);
      if (each) return each;
      // ---- end
      return product(cx, go(e.left), go(e.right), e.span, diags, false, [e.left, e.right]);
    }
    case 'binary': {
      if (e.op === '@' && e.left.kind === 'transpose') return transposedProduct(cx, noteTransposed(cx, go(e.left.arg), e.left), go(e.right), e.span, diags, true, [e.left, e.right], e.left.span);
      // ---- `diag(v) · A` (matrices.ts)
      if (e.op === '@') { const each = matrixProduct(cx, e.left, e.right, e.span, diags, go, true); if (each) return each; }
      const l = go(e.left), r = go(e.right);
      if (e.op === '@') return product(cx, l, r, e.span, diags, true, [e.left, e.right]);
      const name = ({ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' } as const)[e.op];
      const what = ({ '+': 'a sum', '-': 'a difference', '*': 'an elementwise product', '/': 'a division' } as const)[e.op];
      return elementwise(cx, name, l, r, e.span, diags, what, [e.left, e.right]);
    }
    case 'neg': {
      const a = go(e.arg);
      if (a.shape === null && !isPoison(a)) throw new Defer();
      return op(cx, 'neg', [a], e.span, diags, 'a negation');
    }
    case 'pow': {
      const a = go(e.base);
      if (a.shape === null && !isPoison(a)) throw new Defer();
      if (e.exponent === 1) return a;
      return op(cx, 'pow', [a], e.span, diags, 'a power', { p: e.exponent });
    }
    case 'power':
      // `e^{x}` is exp(x) when `e` names nothing else (the papers' e^{ĩ − m}).
      if (e.base.kind === 'var' && e.base.name === 'e' && e.base.time === null && !cx.params.get('e')?.declared && !cx.defs.has(key('e')) && !cx.inputs.has('e')) return call(cx, 'exp', e.base.span, [go(e.exponent)], e.span, diags);
      return tensorPower(cx, go(e.base), go(e.exponent), e.span, diags, [e.base, e.exponent]);
    case 'transpose': {
      const a = go(e.arg);
      if (a.shape === null && !isPoison(a)) throw new Defer();
      return op(cx, 'transpose', [a], e.span, diags, 'a transpose');
    }
    case 'concat': {
      const items = e.items.map(go);
      if (items.some((i) => isPoison(i))) return poison(e.span);
      if (items.some((i) => i.shape === null)) throw new Defer();
      // A scalar per example (`m^<t-1>` of `state m : 1`) stacks as one element.
      const stacked = items.map((i): TExpr => (i.shape!.batch && i.shape!.dims.length === 0 ? { k: 'op', op: 'bcast', args: [i], attrs: { shape: vec(dimNum(1)) }, span: i.span, shape: vec(dimNum(1)) } : i));
      return op(cx, 'concat', stacked, e.span, diags, 'a concatenation');
    }
    case 'compare': return typeCompare(cx, e, go, diags);
    case 'cases': return typeCases(cx, e, go, diags);
    case 'part': return typePart(cx, e, go, diags);
  }
}

/** A number written as one: literals, declared dimensions read as numbers, and their quotients, products, roots and negations (`\frac{1}{\sqrt{d}}`). */
function isConstant(cx: CheckContext, e: Expr): boolean {
  switch (e.kind) {
    case 'num': return true;
    case 'var': return e.time === null && isDimName(cx, e.name);
    case 'neg': return isConstant(cx, e.arg);
    case 'pow': return isConstant(cx, e.base);
    case 'binary': return e.op !== '@' && isConstant(cx, e.left) && isConstant(cx, e.right);
    case 'apply': return e.fn === 'sqrt' && e.args.length === 1 && !cx.functions.has('sqrt') && isConstant(cx, e.args[0]!);
    default: return false;
  }
}
