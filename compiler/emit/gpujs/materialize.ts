// Which nodes of a step graph become gpu.js kernels (materialized) and which are
// inlined into the kernels that read them (emit/gpujs/plan.ts explains the rule).

import type { Graph } from '../../ir/graph.ts';
import type { OpName } from '../../ir/ops.ts';

export const VIEWS: ReadonlySet<OpName> = new Set(['concat', 'slice', 'pad', 'bcast', 'transpose']);
export const LEAVES: ReadonlySet<OpName> = new Set(['param', 'input', 'prev', 'cot', 'const', 'zeros']);
const CHEAP: ReadonlySet<OpName> = new Set(['add', 'sub', 'mul', 'neg', 'div']);
/** Consumers that read an operand at many indices per output element (index = operand position). */
const SPREAD: Partial<Record<OpName, readonly number[]>> = { matvec: [0, 1], matmul: [0, 1], outer: [0, 1], softmax: [0], matvec_each: [0, 1], vecmat_each: [0, 1] };

/**
 * The materialized nodes. Walks the graph from the last node to the first, so
 * every consumer is decided before its operands; a second walk knows which
 * operands the first one materialized, so arithmetic on them is recognised as
 * cheap to recompute. (Any set is correct — an inlined node is recomputed
 * where it is read — so the choice only moves cost.)
 */
export function materialized(g: Graph, forced: ReadonlySet<number> = new Set(), manyRows = false): Set<number> {
  let made = decide(g, new Set(), forced, manyRows);
  made = decide(g, made, forced, manyRows);
  return made;
}

/**
 * `manyRows`: a kernel's batch is all T·B rows of a scan (PlanOptions.rows): then even cheap
 * arithmetic a loop reads at many indices gets a kernel of its own — recomputing
 * it per output element multiplies its reads by the output's width — and so
 * does every product per example: gpu.js's WebAssembly kernels run a second
 * product loop in one kernel several times slower than the first (measured,
 * n = 256, 1024 rows: two products in one kernel 415–450 ms, each alone 90 ms).
 */
function decide(g: Graph, before: ReadonlySet<number>, forced: ReadonlySet<number>, manyRows: boolean): Set<number> {
  const users: { group: number; spread: boolean }[][] = g.nodes.map(() => []);
  const out = new Set<number>();
  const rootIds = new Set(g.roots.map((r) => r.id));
  const isRead = (id: number): boolean => {
    const m = g.nodes[id]!;
    return LEAVES.has(m.op) || before.has(id) || (VIEWS.has(m.op) && m.inputs.every(isRead));
  };
  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const n = g.nodes[id]!;
    if (LEAVES.has(n.op)) continue;
    const uses = users[id]!;
    const groups = new Set(uses.map((u) => u.group));
    const spread = uses.some((u) => u.spread);
    const elementwise = !VIEWS.has(n.op) && !(n.op in SPREAD) && n.op !== 'sum_batch' && n.op !== 'sum_feat';
    const ofReads = n.inputs.every(isRead);
    const make = rootIds.has(id) || forced.has(id) || (manyRows && uses.length > 0 && n.shape.batch && (n.op === 'matvec' || n.op === 'matmul')) || (!VIEWS.has(n.op) && (
      (groups.size > 1 && !(elementwise && ofReads)) ||
      (spread && !(CHEAP.has(n.op) && ofReads && !manyRows))));
    if (make) out.add(id);
    const passOn = make ? [{ group: id, spread: false }] : uses;
    n.inputs.forEach((x, k) => {
      const spreads = SPREAD[n.op]?.includes(k) ?? false;
      for (const u of passOn) users[x]!.push({ group: u.group, spread: u.spread || spreads });
    });
  }
  return out;
}
