// simplify: named one-line rewrite rules run to a fixed point, then dead-code
// elimination. Common subexpressions need no rule: the Builder interns every
// node, so rebuilding a graph merges equal ones. Shared by forward and backward.

import type { Graph, Node } from '../ir/graph.ts';
import { Builder, reachable } from '../ir/graph.ts';
import { dimAdd, dimEq, dimNum } from '../ir/dims.ts';
import type { OpName } from '../ir/ops.ts';
import { OPS, shapeEq } from '../ir/ops.ts';

/** A rule sees a node about to be built (inputs already rewritten) and may return a replacement id. */
export interface Rule {
  readonly name: string;
  readonly apply: (op: OpName, ins: readonly number[], n: Node, b: Builder) => number | undefined;
}

const constOf = (b: Builder, id: number) => (b.nodes[id]!.op === 'const' ? b.nodes[id]!.attrs.value : undefined);
const isZero = (b: Builder, id: number) => constOf(b, id) === 0 || b.nodes[id]!.op === 'zeros';
const is = (b: Builder, id: number, v: number) => constOf(b, id) === v;
const opOf = (b: Builder, id: number) => b.nodes[id]!.op;
/** Use `x` in place of a node of shape `n.shape` only when nothing is lost by broadcasting. */
const keep = (b: Builder, x: number, n: Node) => (shapeEq(b.shape(x), n.shape) ? x : undefined);

export const RULES: readonly Rule[] = [
  { name: 'x + 0 → x', apply: (op, [x, y], n, b) => (op === 'add' && isZero(b, y!) ? keep(b, x!, n) : undefined) },
  { name: '0 + x → x', apply: (op, [x, y], n, b) => (op === 'add' && isZero(b, x!) ? keep(b, y!, n) : undefined) },
  { name: 'x - 0 → x', apply: (op, [x, y], n, b) => (op === 'sub' && isZero(b, y!) ? keep(b, x!, n) : undefined) },
  { name: '0 - x → -x', apply: (op, [x, y], n, b) => (op === 'sub' && isZero(b, x!) && shapeEq(b.shape(y!), n.shape) ? b.node('neg', [y!]) : undefined) },
  { name: 'x * 1 → x', apply: (op, [x, y], n, b) => (op === 'mul' && is(b, y!, 1) ? keep(b, x!, n) : undefined) },
  { name: '1 * x → x', apply: (op, [x, y], n, b) => (op === 'mul' && is(b, x!, 1) ? keep(b, y!, n) : undefined) },
  { name: 'x * 0 → 0', apply: (op, [x, y], n, b) => (op === 'mul' && (isZero(b, x!) || isZero(b, y!)) ? b.zeros(n.shape) : undefined) },
  { name: 'x / 1 → x', apply: (op, [x, y], n, b) => (op === 'div' && is(b, y!, 1) ? keep(b, x!, n) : undefined) },
  { name: '-(-x) → x', apply: (op, [x], _n, b) => (op === 'neg' && opOf(b, x!) === 'neg' ? b.nodes[x!]!.inputs[0] : undefined) },
  { name: 'x - (-y) → x + y', apply: (op, [x, y], _n, b) => (op === 'sub' && opOf(b, y!) === 'neg' ? b.node('add', [x!, b.nodes[y!]!.inputs[0]!]) : undefined) },
  { name: 'x + (-y) → x - y', apply: (op, [x, y], _n, b) => (op === 'add' && opOf(b, y!) === 'neg' ? b.node('sub', [x!, b.nodes[y!]!.inputs[0]!]) : undefined) },
  { name: '(xᵀ)ᵀ → x', apply: (op, [x], _n, b) => (op === 'transpose' && opOf(b, x!) === 'transpose' ? b.nodes[x!]!.inputs[0] : undefined) },
  { name: 'x * x → x²', apply: (op, [x, y], _n, b) => (op === 'mul' && x === y ? b.node('pow', [x!], { p: 2 }) : undefined) },
  { name: 'x^1 → x', apply: (op, [x], n, b) => (op === 'pow' && n.attrs.p === 1 ? x : undefined) },
  { name: 'x^0 → 1', apply: (op, _i, n, b) => (op === 'pow' && n.attrs.p === 0 && n.shape.dims.length === 0 && !n.shape.batch ? b.const(1) : undefined) },
  { name: 'c * (d * x) → (c·d) * x', apply: (op, [x, y], _n, b) => {
    if (op !== 'mul' || constOf(b, x!) === undefined || opOf(b, y!) !== 'mul') return undefined;
    const [p, q] = b.nodes[y!]!.inputs as [number, number];
    const c = constOf(b, p);
    return c === undefined ? undefined : b.node('mul', [b.const(constOf(b, x!)! * c), q]);
  } },
  { name: 'x * c → c * x', apply: (op, [x, y], _n, b) => (op === 'mul' && constOf(b, y!) !== undefined && constOf(b, x!) === undefined ? b.node('mul', [y!, x!]) : undefined) },
  { name: 'fold constants', apply: (op, ins, n, b) => {
    if (ins.length === 0 || !ins.every((i) => constOf(b, i) !== undefined) || OPS[op].kind !== 'elementwise') return undefined;
    const args = ins.map((i) => ({ batched: false, dims: [], data: Float64Array.of(constOf(b, i)!) }));
    const v = OPS[op].eval(args, n.attrs, { batch: 1, out: { batched: false, dims: [] }, dim: () => 0 })[0]!;
    return Number.isFinite(v) ? b.const(v) : undefined;
  } },
  { name: 'bcast to the same shape → x', apply: (op, [x], n, b) => (op === 'bcast' ? keep(b, x!, n) : undefined) },
  { name: 'slice of a concat → the operand', apply: (op, [x], n, b) => {
    if (op !== 'slice' || opOf(b, x!) !== 'concat') return undefined;
    let at = dimNum(0);
    for (const part of b.nodes[x!]!.inputs) {
      const len = b.shape(part).dims[0]!;
      if (dimEq(at, n.attrs.offset!) && dimEq(len, n.attrs.len!)) return keep(b, part, n);
      at = dimAdd(at, len);
    }
    return undefined;
  } },
];

function rebuild(g: Graph, live: Set<number>): Graph {
  const b = new Builder();
  const map = new Map<number, number>();
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    const ins = n.inputs.map((x) => map.get(x)!);
    let id: number | undefined;
    for (const r of RULES) {
      id = r.apply(n.op, ins, n, b);
      if (id !== undefined) break;
    }
    if (id === undefined) id = b.node(n.op, ins, n.attrs, n.span);
    map.set(n.id, id);
    const label = g.labels[n.id];
    if (label !== undefined) b.label(id, label);
  }
  return b.finish(g.roots.map((r) => ({ ...r, id: map.get(r.id)! })));
}

const same = (a: Graph, b: Graph) =>
  a.nodes.length === b.nodes.length &&
  a.nodes.every((n, i) => n.op === b.nodes[i]!.op && n.inputs.join() === b.nodes[i]!.inputs.join()) &&
  a.roots.every((r, i) => r.id === b.roots[i]!.id);

/** Rules to a fixed point, then dead-code elimination. Returns `g` itself when nothing changes. */
export function simplify(g: Graph): Graph {
  let cur = g;
  for (let i = 0; i < 20; i++) {
    const next = rebuild(cur, reachable(cur));
    if (same(next, cur)) break;
    cur = next;
  }
  return cur;
}
