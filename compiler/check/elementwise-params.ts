// check, a last resort of shape inference: a parameter read only through an
// elementwise function (`a = σ(Λ)`, RG-LRU's `a = σ(Λ)` then `a ⊙ h^<t-1>`) has no
// use that fixes its shape, and what reads `a` waits for `a`'s. When typing is
// stuck on such equations, each of those parameters becomes a vector of a size
// not known yet, which the uses of `a` then fix by unification.

import type { Expr } from '../../grammar/ast.ts';
import type { CheckContext } from './context.ts';
import { FUNCTIONS, OPS } from '../ir/ops.ts';

/** Make the parameters applied to elementwise functions in `stuck` vectors of unknown size; whether any was. */
export function vectorsThroughElementwise(cx: CheckContext, stuck: readonly Expr[]): boolean {
  let changed = false;
  const visit = (e: Expr): void => {
    if (e.kind === 'apply' && e.args.length === 1) {
      const op = FUNCTIONS[e.fn] ?? cx.functions.get(e.fn)?.op;
      const arg = e.args[0]!;
      const p = arg.kind === 'var' && arg.time === null ? cx.params.get(arg.name) : undefined;
      if (op && OPS[op].kind === 'elementwise' && OPS[op].arity === 1 && p && p.shape === null) {
        p.shape = [cx.solver.fresh()];
        p.learnedAt = arg.span;
        changed = true;
      }
    }
    for (const c of childrenOf(e)) visit(c);
  };
  for (const e of stuck) visit(e);
  return changed;
}

function childrenOf(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'apply': return e.args;
    case 'binary': case 'juxt': case 'compare': return [e.left, e.right];
    case 'neg': case 'transpose': return [e.arg];
    case 'pow': return [e.base];
    case 'power': return [e.base, e.exponent];
    case 'concat': return e.items;
    case 'cases': return e.arms.flatMap((a) => (a.cond ? [a.value, a.cond] : [a.value]));
    case 'part': return [e.arg];
    default: return [];
  }
}
