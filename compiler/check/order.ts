// check, dependency order: each definition after the ones it reads within the
// same step, and one diagnostic per cycle of definitions.

import { freeVars } from './expr-queries.ts';
import type { CheckContext, Def } from './context.ts';
import { display, key } from './context.ts';
import { D } from '../diagnostics.ts';

/** The definitions (by key) an equation reads within the same step. */
export function deps(cx: CheckContext, d: Def): string[] {
  const out: string[] = [];
  for (const v of freeVars(d.rhs)) {
    if (v.time === null) {
      // A bare name is an intermediate, or in a step cell the value at <t>,
      // or in an unrolled cell the value at the equation's own step.
      const bare = cx.defs.get(key(v.name));
      if (bare && (!bare.timed || cx.mode === 'step')) out.push(key(v.name));
      else if (cx.mode === 'unrolled' && d.step !== undefined && cx.defs.has(key(v.name, d.step))) out.push(key(v.name, d.step));
    } else if (v.time.kind === 'rel' && v.time.offset === 0 && cx.mode === 'step') {
      if (cx.defs.has(key(v.name))) out.push(key(v.name));
    } else if (v.time.kind === 'abs' && cx.mode === 'unrolled') {
      if (cx.defs.has(key(v.name, v.time.step))) out.push(key(v.name, v.time.step));
    }
  }
  return out;
}

/** The keys of every definition, each after its dependencies (depth first, in source order). */
export function dependencyOrder(cx: CheckContext): string[] {
  const order: string[] = [];
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
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
        const first = cx.defs.get(cyc[0]!)!;
        cx.diags.push(D.cycle(first.eq.lhs.span, cyc.map((c) => display(cx.defs.get(c)!))));
      }
      return;
    }
    state.set(k, 1);
    stack.push(k);
    for (const dep of deps(cx, cx.defs.get(k)!)) visit(dep);
    stack.pop();
    state.set(k, 2);
    order.push(k);
  };
  for (const k of cx.defs.keys()) visit(k);
  return order;
}
