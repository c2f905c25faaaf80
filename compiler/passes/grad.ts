// grad: reverse-mode differentiation of a graph into another graph. One short
// loop over the nodes in reverse topological order: a cotangent map where a
// missing entry is the symbolic zero, contributions added as they arrive, each
// primitive's VJP rule taken from the one op table. The result is again a Graph
// (the forward nodes it needs are shared by hash-consing), so it can be
// simplified, printed, lowered and differentiated again.

import type { Graph, Root } from '../ir/graph.ts';
import { Builder } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { OPS } from '../ir/ops.ts';

/** The name of the cotangent leaf fed for a root: `state:c`, `output:y_hat`, `grad:param:W_aa`. */
export const cotName = (r: Root) => (r.role === 'grad' ? `grad:${r.of}:${r.name}` : `${r.role}:${r.name}`);

/**
 * The name grad(g) gives the cotangent leaf of root r: `cotName(r)`, primed
 * until it differs from every cot leaf g already has. Without the primes, the
 * third derivative would merge two different leaves: the roots of grad(grad(f))
 * are named like those of grad(f) (`grad:param:W_aa`), whose cotangents are
 * already leaves of grad(f).
 */
export function cotNameIn(g: Graph, r: Root): string {
  const taken = new Set(g.nodes.filter((n) => n.op === 'cot' && n.attrs.step === r.step).map((n) => n.attrs.name));
  let name = cotName(r);
  while (taken.has(name)) name += "'";
  return name;
}

export type LeafOp = 'param' | 'input' | 'prev' | 'cot';

/**
 * The VJP graph of `g`: its leaves are g's leaves plus one `cot` leaf per root
 * of g; its roots are the gradients of Σ ⟨cot, root⟩ with respect to every leaf
 * whose op is in `wrt`.
 */
export function grad(g: Graph, wrt: readonly LeafOp[] = ['param', 'input', 'prev']): Graph {
  const b = new Builder(g);
  const ct = new Map<number, number>();
  const accumulate = (id: number, c: number | null) => {
    if (c === null) return;
    const old = ct.get(id);
    ct.set(id, old === undefined ? c : b.node('add', [old, c]));
  };
  for (const r of g.roots) {
    const seed = b.node('cot', [], { name: cotNameIn(g, r), step: r.step, shape: b.shape(r.id) });
    accumulate(r.id, seed);
  }
  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const c = ct.get(id);
    const n = g.nodes[id]!;
    if (c === undefined || OPS[n.op].arity === 0) continue;
    const contribs = OPS[n.op].vjp(c, id, n.inputs, n.attrs, b);
    n.inputs.forEach((x, i) => accumulate(x, contribs[i] ?? null));
  }
  const roots: Root[] = [];
  for (const n of g.nodes) {
    if (!(wrt as readonly OpName[]).includes(n.op)) continue;
    const id = ct.get(n.id) ?? b.zeros(n.shape);
    const root: Root = { name: n.attrs.name!, role: 'grad', id, of: n.op as LeafOp };
    roots.push(n.attrs.step === undefined ? root : { ...root, step: n.attrs.step });
  }
  return b.finish(roots);
}
