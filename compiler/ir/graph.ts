// The graph IR: a flat, id-indexed, hash-consed table of primitive nodes in
// topological order (ids are indices; inputs always have smaller ids). Interning
// (op, inputs, attrs) gives common-subexpression elimination for free. Graphs are
// frozen (immer) once built; passes build new graphs and return the same object
// when nothing changed.

import { freeze } from 'immer';
import type { Span } from '../../grammar/ast.ts';
import { dimKey, dimToString } from './dims.ts';
import type { Attrs, Emit, OpName, Shape } from './ops.ts';
import { OPS, shapeEq, shapeToString } from './ops.ts';

export interface Node {
  readonly id: number;
  readonly op: OpName;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly shape: Shape;
  /** Where in the source this value came from (null for nodes made by a pass). */
  readonly span: Span | null;
}

/** A named result of a graph: a state at t, a per-step output, a gradient. */
export interface Root {
  readonly name: string;
  readonly role: 'state' | 'output' | 'grad';
  readonly id: number;
  /** For unrolled cells and gradients w.r.t. unrolled inputs: the concrete step. */
  readonly step?: number;
  /** For gradients: which kind of leaf it is the gradient of. */
  readonly of?: 'param' | 'input' | 'prev' | 'cot';
}

export interface Graph {
  readonly nodes: readonly Node[];
  readonly roots: readonly Root[];
  /** Notation names of intermediate values (`Gamma_u`), for printing and emitted code. */
  readonly labels: Readonly<Record<number, string>>;
}

export class GraphError extends Error {}

/** Attributes as a canonical string: equal strings, equal attributes. */
export function attrsKey(a: Attrs): string {
  const parts: string[] = [];
  for (const k of Object.keys(a).sort()) {
    const v = (a as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (k === 'offset' || k === 'len' || k === 'total') parts.push(`${k}=${dimKey(v as never)}`);
    else if (k === 'shape') {
      const s = v as Shape;
      parts.push(`shape=${s.batch ? 'B' : ''}[${s.dims.map(dimKey).join(',')}]`);
    } else parts.push(`${k}=${JSON.stringify(v)}`);
  }
  return parts.join(';');
}

export const nodeKey = (op: OpName, inputs: readonly number[], attrs: Attrs) => `${op}(${inputs.join(',')}){${attrsKey(attrs)}}`;

export class Builder implements Emit {
  readonly nodes: Node[] = [];
  readonly labels: Record<number, string> = {};
  private readonly index = new Map<string, number>();

  constructor(base?: Graph) {
    if (base) {
      for (const n of base.nodes) this.push(n.op, n.inputs, n.attrs, n.shape, n.span);
      Object.assign(this.labels, base.labels);
    }
  }

  private push(op: OpName, inputs: readonly number[], attrs: Attrs, shape: Shape, span: Span | null): number {
    const key = nodeKey(op, inputs, attrs);
    const found = this.index.get(key);
    if (found !== undefined) return found;
    const id = this.nodes.length;
    this.nodes.push({ id, op, inputs: [...inputs], attrs, shape, span });
    this.index.set(key, id);
    return id;
  }

  node(op: OpName, inputs: readonly number[], attrs: Attrs = {}, span: Span | null = null): number {
    const def = OPS[op];
    if (def.arity >= 0 && def.arity !== inputs.length) throw new GraphError(`${op} takes ${def.arity} inputs, got ${inputs.length}`);
    const shape = def.shape(inputs.map((i) => this.shape(i)), attrs);
    if (typeof shape === 'string') throw new GraphError(`${op}: ${shape}`);
    return this.push(op, inputs, attrs, shape, span);
  }

  shape(id: number): Shape {
    const n = this.nodes[id];
    if (!n) throw new GraphError(`no node %${id}`);
    return n.shape;
  }

  const(value: number): number {
    return this.node('const', [], { value });
  }

  zeros(shape: Shape): number {
    return this.node('zeros', [], { shape });
  }

  unbroadcast(g: number, to: Shape): number {
    let out = g;
    const s = this.shape(out);
    if (s.batch && !to.batch) out = this.node('sum_batch', [out]);
    if (s.dims.length > 0 && to.dims.length === 0) out = this.node('sum_feat', [out]);
    return out;
  }

  label(id: number, name: string): void {
    const n = this.nodes[id]!;
    if (this.labels[id] === undefined && n.op !== 'param' && n.op !== 'input' && n.op !== 'prev' && n.op !== 'const' && n.op !== 'cot') this.labels[id] = name;
  }

  finish(roots: readonly Root[]): Graph {
    return freeze({ nodes: this.nodes.slice(), roots: [...roots], labels: { ...this.labels } }, true);
  }
}

// ---------------------------------------------------------------- verifier

/** Problems with a graph (empty when it is well formed): ids, arity, shapes, roots. */
export function verify(g: Graph): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  g.nodes.forEach((n, i) => {
    if (n.id !== i) problems.push(`%${i}: id is ${n.id}`);
    for (const x of n.inputs) if (!(x >= 0 && x < i)) problems.push(`%${i}: input %${x} is not defined before use`);
    const def = OPS[n.op];
    if (!def) return void problems.push(`%${i}: unknown op ${n.op}`);
    if (def.arity >= 0 && def.arity !== n.inputs.length) problems.push(`%${i}: ${n.op} takes ${def.arity} inputs`);
    if (n.inputs.every((x) => x >= 0 && x < i)) {
      const s = def.shape(n.inputs.map((x) => g.nodes[x]!.shape), n.attrs);
      if (typeof s === 'string') problems.push(`%${i}: ${s}`);
      else if (!shapeEq(s, n.shape)) problems.push(`%${i}: shape ${shapeToString(n.shape)} but ${n.op} gives ${shapeToString(s)}`);
    }
    const key = nodeKey(n.op, n.inputs, n.attrs);
    if (seen.has(key)) problems.push(`%${i}: duplicate of an earlier node (${key})`);
    seen.add(key);
  });
  for (const r of g.roots) if (!(r.id >= 0 && r.id < g.nodes.length)) problems.push(`root ${r.name}: no node %${r.id}`);
  return problems;
}

// ---------------------------------------------------------------- text printer

function attrsText(n: Node): string {
  const a = n.attrs;
  const parts: string[] = [];
  if (a.name !== undefined) parts.push(a.step !== undefined ? `${a.name}@${a.step}` : a.name);
  if (a.value !== undefined) parts.push(String(a.value));
  if (a.p !== undefined) parts.push(`p=${a.p}`);
  if (a.offset !== undefined) parts.push(`offset=${dimToString(a.offset)}`);
  if (a.len !== undefined) parts.push(`len=${dimToString(a.len)}`);
  if (a.total !== undefined) parts.push(`total=${dimToString(a.total)}`);
  return parts.join(' ');
}

/** A deterministic listing, one node per line, for snapshots and internal errors. */
export function printGraph(g: Graph): string {
  const lines = g.nodes.map((n) => {
    const args = [n.op, ...n.inputs.map((x) => `%${x}`), attrsText(n)].filter((s) => s !== '').join(' ');
    const label = g.labels[n.id] !== undefined ? `  # ${g.labels[n.id]}` : '';
    return `%${n.id} = ${args} : ${shapeToString(n.shape)}${label}`;
  });
  for (const r of g.roots) lines.push(`${r.role} ${r.name}${r.step !== undefined ? `@${r.step}` : ''} = %${r.id}`);
  return lines.join('\n') + '\n';
}

/** Ids reachable from the roots (or from the given ids). */
export function reachable(g: Graph, from: readonly number[] = g.roots.map((r) => r.id)): Set<number> {
  const live = new Set<number>(from);
  for (let i = g.nodes.length - 1; i >= 0; i--) if (live.has(i)) for (const x of g.nodes[i]!.inputs) live.add(x);
  return live;
}
