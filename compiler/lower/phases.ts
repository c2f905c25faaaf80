// Phases: where in a pass over T steps each value of a step graph is computed.
// Backend-neutral, like linear-forms.ts.
//
// A value that depends on the carried state (the forward's a^<t-1>, the backward's
// ∂c^<t> + carry) and feeds the next step must be computed in the loop. Values
// that do not depend on it are computed for all T·B rows at once: before the loop
// when the loop needs them (the input projections W x^<t>), after it otherwise
// (the outputs ŷ^<t>, and the gradients dx and dW, which only need saved values).
// Cheap elementwise values that the loop needs stay in the loop, fused.

import type { Graph } from '../ir/graph.ts';
import type { Phase } from './loop-ir.ts';
import { OPS } from '../ir/ops.ts';

export type LeafKind = 'static' | 'varying' | 'carry';

export interface PhaseQuery {
  readonly g: Graph;
  /** Nodes to place, in topological order (ids ascending). */
  readonly nodes: readonly number[];
  /** The dependencies of a node as the lowering computes it (a linear form: its vectors and matrices). */
  readonly deps: (id: number) => readonly number[];
  readonly leafKind: (id: number) => LeafKind | null;
  /** Nodes whose value the next step reads (state roots; the backward's carried cotangents). */
  readonly carryRoots: readonly number[];
  /** Nodes whose value leaves the pass (roots, saved values): computed wherever, stored after. */
  readonly exported: ReadonlySet<number>;
  /** Roots that are parameter gradients: summed over time, so linear chains into them may be deferred. */
  readonly paramRoots: ReadonlySet<number>;
  /** A node computed by a kernel of its own (a product, a reduction) rather than fused in a loop. */
  readonly heavy: (id: number) => boolean;
  /** A linear form: its terms whose vectors do not depend on the carry are hoisted before the loop. */
  readonly linear: (id: number) => boolean;
  readonly unrolled: boolean;
}

export interface Phases {
  readonly phase: ReadonlyMap<number, Phase>;
  readonly varying: ReadonlySet<number>;
  readonly carried: ReadonlySet<number>;
}

/** Ops through which a sum over time passes unchanged, when the other operands do not vary. */
const LINEAR_IN_ALL = new Set(['add', 'sub', 'neg', 'transpose', 'sum_feat', 'slice', 'concat', 'pad', 'bcast']);
const LINEAR_IN_ONE = new Set(['mul', 'matmul', 'matvec', 'outer']);

export function assignPhases(q: PhaseQuery): Phases {
  const { g } = q;
  const varying = new Set<number>();
  const carried = new Set<number>();
  for (const id of q.nodes) {
    const kind = q.leafKind(id);
    if (kind !== null) {
      if (kind !== 'static') varying.add(id);
      if (kind === 'carry') carried.add(id);
      continue;
    }
    const ds = q.deps(id);
    if (ds.some((d) => varying.has(d))) varying.add(id);
    if (ds.some((d) => carried.has(d))) carried.add(id);
  }
  const users = new Map<number, number[]>(q.nodes.map((id) => [id, []]));
  for (const id of q.nodes) for (const d of new Set(q.deps(id))) users.get(d)?.push(id);

  const phase = new Map<number, Phase>();
  const unbatched = (id: number) => !g.nodes[id]!.shape.batch;
  for (const id of q.nodes) if (!varying.has(id) && unbatched(id)) phase.set(id, 'static');
  if (q.unrolled) {
    for (const id of q.nodes) if (!phase.has(id)) phase.set(id, 'loop');
    return { phase, varying, carried };
  }

  // Unbatched varying values (Σ_batch, outer products) may wait until after the loop
  // when everything downstream is linear in them and ends in a parameter gradient.
  const deferrable = new Set<number>();
  for (const id of [...q.nodes].reverse()) {
    if (!varying.has(id) || !unbatched(id)) continue;
    const us = users.get(id)!;
    if (q.exported.has(id) && !q.paramRoots.has(id)) continue;
    if (us.length === 0 && !q.paramRoots.has(id)) continue;
    const ok = us.every((u) => {
      if (!deferrable.has(u)) return false;
      const n = g.nodes[u]!;
      if (LINEAR_IN_ALL.has(n.op)) return true;
      if (LINEAR_IN_ONE.has(n.op)) return n.inputs.filter((x) => varying.has(x)).length === 1;
      if (n.op === 'div') return n.inputs[0] === id && !varying.has(n.inputs[1]!);
      return false;
    });
    if (ok) deferrable.add(id);
  }

  // The loop: what the carried values at t+1 need, among values that depend on the carry.
  const loop = new Set<number>();
  const stack = [...q.carryRoots.filter((r) => varying.has(r))];
  for (const id of q.nodes) if (varying.has(id) && unbatched(id) && !deferrable.has(id)) stack.push(id);
  while (stack.length) {
    const id = stack.pop()!;
    if (loop.has(id) || phase.get(id) === 'static') continue;
    loop.add(id);
    for (const d of q.deps(id)) if (carried.has(d) && q.leafKind(d) === null) stack.push(d);
  }
  for (const id of loop) phase.set(id, 'loop');

  // Everything else, consumers first: before the loop if the loop (or a value before it)
  // needs it and it is worth a kernel of its own; in the loop, fused, if it is cheap;
  // after the loop otherwise.
  for (const id of [...q.nodes].reverse()) {
    if (phase.has(id)) continue;
    if (q.leafKind(id) !== null) continue;
    const ps = users.get(id)!.map((u) => (phase.get(u) === 'loop' && q.linear(u) && !carried.has(id) ? 'pre' : phase.get(u)));
    if (ps.includes('static')) phase.set(id, 'static');
    else if (ps.includes('loop') || ps.includes('pre')) {
      phase.set(id, q.heavy(id) || ps.includes('pre') ? 'pre' : 'loop');
    } else phase.set(id, 'post');
  }
  // A value before the loop cannot read one computed in it: a state that does not
  // depend on the carry is still computed in the loop (it is a carry root), so a
  // reduction of it (`m^<t> = m^<t-1> + Σ_i k^<t>`) moves into the loop too.
  for (const id of q.nodes) if (phase.get(id) === 'pre' && q.deps(id).some((d) => phase.get(d) === 'loop')) phase.set(id, 'loop');
  return { phase, varying, carried };
}

/** Elementwise ops (and broadcasts, constants) are fused into loops; the rest are kernels. */
export const isElementwise = (g: Graph, id: number): boolean => {
  const op = g.nodes[id]!.op;
  return OPS[op].kind === 'elementwise' || op === 'bcast' || op === 'const' || op === 'zeros';
};
