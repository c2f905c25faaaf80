// simplify: named one-line rewrite rules, kept per op, run to a fixed point,
// then dead-code elimination. Common subexpressions need no rule: the Builder
// interns every node, so rebuilding a graph merges equal ones. Shared by
// forward and backward.

import type { Graph, Node } from '../ir/graph.ts';
import { Builder, GraphError, attrsKey, reachable } from '../ir/graph.ts';
import { dimAdd, dimEq, dimNum } from '../ir/dims.ts';
import type { OpName } from '../ir/ops.ts';
import { OPS, shapeEq } from '../ir/ops.ts';

/** A rule sees a node about to be built (inputs already rewritten) and may return a replacement id. */
export interface Rule {
  readonly name: string;
  readonly apply: (ins: readonly number[], n: Node, b: Builder) => number | undefined;
}
/** Each op's rules, in the order they are tried; the first that returns an id wins. */
export type RuleTable = { readonly [op in OpName]?: readonly Rule[] };

const constOf = (b: Builder, id: number) => (b.nodes[id]!.op === 'const' ? b.nodes[id]!.attrs.value : undefined);
const isZero = (b: Builder, id: number) => constOf(b, id) === 0 || b.nodes[id]!.op === 'zeros';
const is = (b: Builder, id: number, v: number) => constOf(b, id) === v;
const allConst = (b: Builder, ids: readonly number[]) => ids.every((i) => constOf(b, i) !== undefined);
const opOf = (b: Builder, id: number) => b.nodes[id]!.op;
const input = (b: Builder, id: number) => b.nodes[id]!.inputs[0]!;
/** Use `x` in place of a node of shape `n.shape` only when nothing is lost by broadcasting. */
const keep = (b: Builder, x: number, n: Node) => (shapeEq(b.shape(x), n.shape) ? x : undefined);

/** An elementwise op of constants is the constant it evaluates to (when finite). Tried last, for every elementwise op. */
const fold: Rule = { name: 'fold constants', apply: (ins, n, b) => {
  if (!ins.every((i) => constOf(b, i) !== undefined)) return undefined;
  const args = ins.map((i) => ({ batched: false, dims: [], data: Float64Array.of(constOf(b, i)!) }));
  const v = OPS[n.op].eval(args, n.attrs, { batch: 1, out: { batched: false, dims: [] }, dim: () => 0 })[0]!;
  return Number.isFinite(v) ? b.const(v) : undefined;
} };

/** The rules, by op; test/compiler/passes/simplify-rules.test.ts walks this table, a case for every rule. */
export const RULES: RuleTable = {
  add: [
    { name: 'x + 0 → x', apply: ([x, y], n, b) => (isZero(b, y) ? keep(b, x, n) : undefined) },
    { name: '0 + x → x', apply: ([x, y], n, b) => (isZero(b, x) ? keep(b, y, n) : undefined) },
    { name: 'x + (-y) → x - y', apply: ([x, y], _n, b) => (opOf(b, y) === 'neg' ? b.node('sub', [x, input(b, y)]) : undefined) },
    fold,
  ],
  sub: [
    { name: 'x - 0 → x', apply: ([x, y], n, b) => (isZero(b, y) ? keep(b, x, n) : undefined) },
    { name: '0 - x → -x', apply: ([x, y], n, b) => (isZero(b, x) && shapeEq(b.shape(y), n.shape) ? b.node('neg', [y]) : undefined) },
    { name: 'x - (-y) → x + y', apply: ([x, y], _n, b) => (opOf(b, y) === 'neg' ? b.node('add', [x, input(b, y)]) : undefined) },
    fold,
  ],
  mul: [
    { name: 'x * 1 → x', apply: ([x, y], n, b) => (is(b, y, 1) ? keep(b, x, n) : undefined) },
    { name: '1 * x → x', apply: ([x, y], n, b) => (is(b, x, 1) ? keep(b, y, n) : undefined) },
    { name: 'x * 0 → 0', apply: ([x, y], n, b) => (isZero(b, x) || isZero(b, y) ? b.zeros(n.shape) : undefined) },
    { name: 'x * x → x²', apply: ([x, y], _n, b) => (x === y ? b.node('pow', [x], { p: 2 }) : undefined) },
    { name: 'c * (d * x) → (c·d) * x', apply: ([x, y], _n, b) => {
      if (constOf(b, x) === undefined || opOf(b, y) !== 'mul') return undefined;
      const [p, q] = b.nodes[y]!.inputs as [number, number];
      const c = constOf(b, p);
      return c === undefined ? undefined : b.node('mul', [b.const(constOf(b, x)! * c), q]);
    } },
    { name: 'x * c → c * x', apply: ([x, y], _n, b) => (constOf(b, y) !== undefined && constOf(b, x) === undefined ? b.node('mul', [y, x]) : undefined) },
    fold,
  ],
  div: [
    { name: 'x / 1 → x', apply: ([x, y], n, b) => (is(b, y, 1) ? keep(b, x, n) : undefined) },
    fold,
  ],
  neg: [
    { name: '-(-x) → x', apply: ([x], _n, b) => (opOf(b, x) === 'neg' ? input(b, x) : undefined) },
    fold,
  ],
  pow: [
    { name: 'x^1 → x', apply: ([x], n) => (n.attrs.p === 1 ? x : undefined) },
    { name: 'x^0 → 1', apply: (_i, n, b) => (n.attrs.p === 0 && n.shape.dims.length === 0 && !n.shape.batch ? b.const(1) : undefined) },
    fold,
  ],
  tanh: [fold], sigmoid: [fold], relu: [fold], exp: [fold], log: [fold], sqrt: [fold], abs: [fold], softplus: [fold], step: [fold], sign: [fold], max: [fold], min: [fold], stopgrad: [fold], power: [fold],
  ge: [fold], gt: [fold],
  select: [
    // (a mask and both branches constant: folded, by the last rule)
    { name: 'select(1, x, y) → x', apply: ([m, x, y], n, b) => (constOf(b, m) !== undefined && constOf(b, m) !== 0 && !allConst(b, [x, y]) ? keep(b, x, n) : undefined) },
    { name: 'select(0, x, y) → y', apply: ([m, x, y], n, b) => (constOf(b, m) === 0 && !allConst(b, [x, y]) ? keep(b, y, n) : undefined) },
    { name: 'select(m, x, x) → x', apply: ([_m, x, y], n, b) => (x === y ? keep(b, x, n) : undefined) },
    fold,
  ],
  transpose: [
    { name: '(xᵀ)ᵀ → x', apply: ([x], _n, b) => (opOf(b, x) === 'transpose' ? input(b, x) : undefined) },
  ],
  bcast: [
    { name: 'bcast to the same shape → x', apply: ([x], n, b) => keep(b, x, n) },
  ],
  slice: [
    { name: 'slice of a concat → the operand', apply: ([x], n, b) => {
      if (opOf(b, x) !== 'concat') return undefined;
      let at = dimNum(0);
      for (const part of b.nodes[x]!.inputs) {
        const len = b.shape(part).dims[0]!;
        if (dimEq(at, n.attrs.offset!) && dimEq(len, n.attrs.len!)) return keep(b, part, n);
        at = dimAdd(at, len);
      }
      return undefined;
    } },
  ],
};

/** One round: every live node rebuilt through the first of its op's rules that fires. Also names the rules that fired. */
function rebuild(g: Graph, live: Set<number>, rules: RuleTable): { graph: Graph; fired: string[] } {
  const b = new Builder();
  const map = new Map<number, number>();
  const fired: string[] = [];
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    const ins = n.inputs.map((x) => map.get(x)!);
    let id: number | undefined;
    for (const r of rules[n.op] ?? []) {
      id = r.apply(ins, n, b);
      if (id !== undefined) { fired.push(r.name); break; }
    }
    if (id === undefined) id = b.node(n.op, ins, n.attrs, n.span);
    map.set(n.id, id);
    const label = g.labels[n.id];
    if (label !== undefined) b.label(id, label);
  }
  return { graph: b.finish(g.roots.map((r) => ({ ...r, id: map.get(r.id)! }))), fired };
}

/** The same op, inputs and attributes (a node a round left alone keeps its attrs object, so most skip the key). */
const sameNode = (n: Node, m: Node) =>
  n.op === m.op && n.inputs.length === m.inputs.length && n.inputs.every((x, i) => x === m.inputs[i]) &&
  (n.attrs === m.attrs || attrsKey(n.attrs) === attrsKey(m.attrs));

/** The same table: node by node the same op, inputs and attributes, and the same roots. */
export const sameGraph = (a: Graph, b: Graph) =>
  a.nodes.length === b.nodes.length &&
  a.nodes.every((n, i) => sameNode(n, b.nodes[i]!)) &&
  a.roots.length === b.roots.length &&
  a.roots.every((r, i) => r.id === b.roots[i]!.id);

/** Rounds before simplify gives up: the example cells settle in a few. */
export const MAX_ROUNDS = 20;

/**
 * Rules to a fixed point, then dead-code elimination. Returns `g` itself when
 * nothing changes. Rules that keep rewriting each other past MAX_ROUNDS are a
 * bug in the rules: a GraphError (an internal error to the user) that names them.
 */
export function simplify(g: Graph, rules: RuleTable = RULES): Graph {
  let cur = g;
  for (let round = 1; ; round++) {
    const { graph: next, fired } = rebuild(cur, reachable(cur), rules);
    if (sameGraph(next, cur)) return cur;
    if (round === MAX_ROUNDS) throw new GraphError(`simplify found no fixed point in ${MAX_ROUNDS} rounds; the last round applied ${[...new Set(fired)].join(', ') || 'no rule'}`);
    cur = next;
  }
}
