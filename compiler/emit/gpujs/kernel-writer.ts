// The body of one gpu.js kernel: the value of its node at the thread's index,
// written as `const` statements, with the inlined nodes, views and loops it reads
// (emit/gpujs/plan.ts decides which nodes get a kernel of their own).

import type { Dim } from '../../ir/dims.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import { isElementwiseOp } from '../../ir/ops.ts';
import type { Arg, Idx, Layout, PlanOptions } from './base.ts';
import { GpujsPlanError, batchedVector, ident, idxKey, lit, norm, readBuffer } from './base.ts';
import { GPUJS_ELEMENTWISE } from './elementwise.ts';
import { LEAVES, VIEWS } from './materialize.ts';

/** Statements of one scope (a kernel body or a loop body) and the values already bound in it. */
export class Block {
  readonly lines: string[] = [];
  readonly bound: Map<string, string>;
  constructor(readonly indent: string, parent?: Block) {
    this.bound = new Map(parent?.bound);
  }
  emit(line: string) {
    this.lines.push(this.indent + line);
  }
}

export class KernelWriter {
  private readonly argNames = new Map<string, string>();
  readonly args: Arg[] = [];
  readonly params: string[] = [];
  private counter = 0;

  constructor(
    private readonly g: Graph,
    private readonly made: ReadonlySet<number>,
    private readonly self: number,
    private readonly kernelOf: ReadonlyMap<number, number>,
    private readonly layout: (id: number) => Layout,
    private readonly dim: (d: Dim) => number,
    private readonly opts: PlanOptions,
    /** Backward loop steps read the state at t-1 from the all-steps trajectory buffer. */
    private readonly isBackward: boolean,
    /** The kernel holding a batched vector node transposed, [n rows × batch columns] (plan.ts `transposed`), where the plan offers one. */
    private readonly transposed?: (id: number) => number,
    /** The kernel holding a node's values packed by four (plan.ts `packed`, PlanOptions.pack), where the plan offers one. */
    private readonly packed?: (id: number, along: 'cols' | 'rows') => number,
  ) {}

  /** Σ over K/4 packed elements of two Array(4) arrays: four products per pair of reads. */
  private packedSum(block: Block, base: string, K: number, a: (k: string) => string, b: (k: string) => string): string {
    return this.sum(block, base, [{ n: K / 4, body: (k, inner) => {
      const [u, v] = [this.fresh('u'), this.fresh('v')];
      inner.emit(`const ${u} = ${a(k)};`);
      inner.emit(`const ${v} = ${b(k)};`);
      return `(${u}[0] * ${v}[0] + ${u}[1] * ${v}[1] + ${u}[2] * ${v}[2] + ${u}[3] * ${v}[3])`;
    } }]);
  }

  /** A node's name in kernel sources: its label, else v<id>. */
  private label(id: number): string {
    return this.g.labels[id] ?? `v${id}`;
  }

  fresh(base: string): string {
    return `${base}${this.counter++}`;
  }

  /** The identifier of a kernel argument, adding it on first use. */
  arg(a: Arg, base: string): string {
    const key = JSON.stringify(a);
    const found = this.argNames.get(key);
    if (found) return found;
    const name = `${ident(base)}_${this.args.length}`;
    this.argNames.set(key, name);
    this.args.push(a);
    this.params.push(name);
    return name;
  }

  /** Row offset of the current step in an all-steps buffer, for a leaf with an optional concrete step. */
  private rowOffset(step: number | undefined): string {
    if (this.opts.mode === 'unrolled') return String(((step ?? 1) - 1) * this.opts.batch);
    return this.arg({ from: 'offset' }, 'offset');
  }

  private leaf(n: Node, x: Idx, block: Block): string {
    const l = this.layout(n.id);
    const name = n.attrs.name!;
    switch (n.op) {
      case 'const': return lit(n.attrs.value!);
      case 'zeros': return '0.0';
      case 'param': return readBuffer(this.arg({ from: 'param', name }, `p_${name}`), l, x);
      case 'input': return readBuffer(this.arg({ from: 'input', name }, `in_${name}`), l, x, this.rowOffset(n.attrs.step));
      case 'prev': {
        if (this.opts.mode === 'loop' && this.isBackward) return readBuffer(this.arg({ from: 'prev', name }, `prev_${name}`), l, x, this.rowOffset(undefined));
        return readBuffer(this.arg({ from: 'prev', name }, `prev_${name}`), l, x);
      }
      case 'cot': {
        const given = readBuffer(this.arg({ from: 'cot', name }, `cot_${name.replace(':', '_')}`), l, x, this.rowOffset(n.attrs.step));
        if (this.opts.mode === 'unrolled' || !name.startsWith('state:')) return given;
        const state = name.slice('state:'.length);
        const carried = readBuffer(this.arg({ from: 'carry', name: state }, `carry_${state}`), l, x);
        return this.bind(block, `${n.id}@${idxKey(norm(l, x))}`, `cot_${state}`, `${given} + ${carried}`);
      }
      default: throw new GpujsPlanError(`${n.op} is not a leaf`);
    }
  }

  private bind(block: Block, key: string, base: string, expr: string): string {
    const v = block.bound.get(key);
    if (v) return v;
    const name = this.fresh(`${ident(base)}_`);
    block.emit(`const ${name} = ${expr};`);
    block.bound.set(key, name);
    return name;
  }

  /** An expression for element `x` of node `id`, emitting the statements it needs into `block`. */
  value(id: number, x: Idx, block: Block): string {
    const n = this.g.nodes[id]!;
    const l = this.layout(id);
    const at = norm(l, x);
    if (LEAVES.has(n.op)) return this.leaf(n, at, block);
    if (id !== this.self && this.made.has(id)) {
      const k = this.kernelOf.get(id)!;
      return readBuffer(this.arg({ from: 'kernel', index: k }, this.label(id)), l, at);
    }
    if (VIEWS.has(n.op)) return this.view(n, at, block);
    const key = `${id}@${idxKey(at)}`;
    const bound = block.bound.get(key);
    if (bound) return bound;
    const expr = this.compute(n, at, block);
    return this.bind(block, key, this.label(id), expr);
  }

  private view(n: Node, x: Idx, block: Block): string {
    const [a] = n.inputs as [number];
    switch (n.op) {
      case 'bcast': return this.value(a, x, block);
      case 'transpose': return this.value(a, { i: x.j, j: x.i }, block);
      case 'slice': return this.value(a, { ...x, i: `${x.i} + ${this.dim(n.attrs.offset!)}` }, block);
      case 'pad': {
        const off = this.dim(n.attrs.offset!), len = this.layout(a).dims[0]!;
        // the index is clamped so that a backend evaluating both branches never reads out of range
        const inner = this.value(a, { ...x, i: clampIndex(`${x.i} - ${off}`, off > 0, len - 1) }, block);
        return `((${x.i} >= ${off} && ${x.i} < ${off + len}) ? ${inner} : 0.0)`;
      }
      case 'concat': {
        let expr = '';
        let off = 0;
        const pieces = n.inputs.map((p) => ({ p, off: (off += this.pieceLen(p)) - this.pieceLen(p) }));
        for (let k = pieces.length - 1; k >= 0; k--) {
          const { p, off: o } = pieces[k]!;
          const len = this.pieceLen(p);
          const v = this.value(p, { ...x, i: clampIndex(o > 0 ? `${x.i} - ${o}` : x.i!, o > 0, k < pieces.length - 1 ? len - 1 : undefined) }, block);
          expr = k === pieces.length - 1 ? v : `(${x.i} < ${o + len} ? ${v} : ${expr})`;
        }
        return expr;
      }
      default: throw new GpujsPlanError(`${n.op} is not a view`);
    }
  }

  private pieceLen(id: number): number {
    return this.layout(id).dims[0]!;
  }

  /** A loop `for (let v = 0; v < n; v++) { … }` accumulating into a fresh variable; returns the variable. */
  private sum(block: Block, base: string, loops: readonly { n: number; body: (v: string, inner: Block) => string }[]): string {
    const acc = this.fresh(`${base}_`);
    block.emit(`let ${acc} = 0.0;`);
    const U = this.opts.unroll ?? 1;
    for (const { n, body } of loops) {
      const v = this.fresh('k');
      const inner = new Block(block.indent + '  ', block);
      // unrolled (PlanOptions.unroll): U terms per iteration where U divides the length
      const u = U > 1 && n >= U && n % U === 0 ? U : 1;
      const terms = Array.from({ length: u }, (_, j) => body(j === 0 ? v : `(${v} + ${j})`, inner));
      block.emit(`for (let ${v} = 0; ${v} < ${n}; ${v}${u > 1 ? ` += ${u}` : '++'}) {`);
      block.lines.push(...inner.lines);
      block.emit(`  ${acc} += ${terms.join(' + ')};`);
      block.emit('}');
    }
    return acc;
  }

  /**
   * Two nested loops `for (i < rows) { for (j < cols) { … } }` accumulating into a fresh
   * variable (a sum over both axes of a matrix); returns the variable. Nested loops rather
   * than one loop over rows·cols: the element's row and column stay integer loop indices,
   * with no division to recover them.
   */
  private sum2(block: Block, base: string, rows: number, cols: number, body: (i: string, j: string, inner: Block) => string): string {
    const acc = this.fresh(`${base}_`);
    block.emit(`let ${acc} = 0.0;`);
    const i = this.fresh('k'), j = this.fresh('k');
    const inner = new Block(block.indent + '    ', block);
    const term = body(i, j, inner);
    block.emit(`for (let ${i} = 0; ${i} < ${rows}; ${i}++) {`);
    block.emit(`  for (let ${j} = 0; ${j} < ${cols}; ${j}++) {`);
    block.lines.push(...inner.lines);
    block.emit(`    ${acc} += ${term};`);
    block.emit('  }');
    block.emit('}');
    return acc;
  }

  /** The pieces of a vector operand, splitting a concatenation so a product loops once per piece. */
  private pieces(id: number): { id: number; off: number; len: number }[] {
    const n = this.g.nodes[id]!;
    if (n.op !== 'concat' || (this.made.has(id) && id !== this.self)) return [{ id, off: 0, len: this.pieceLen(id) }];
    const out: { id: number; off: number; len: number }[] = [];
    let off = 0;
    for (const p of n.inputs) {
      for (const q of this.pieces(p)) out.push({ ...q, off: q.off + off });
      off += this.pieceLen(p);
    }
    return out;
  }

  private compute(n: Node, x: Idx, block: Block): string {
    const ins = n.inputs;
    const val = (k: number, at: Idx = x) => this.value(ins[k]!, at, block);
    if (isElementwiseOp(n.op)) {
      const operands = ins.map((_, k) => ({ s: val(k), p: 4 }));
      const bind = (base: string, expr: string) => this.bind(block, `${n.id}:${base}@${idxKey(x)}`, base, expr);
      const r = GPUJS_ELEMENTWISE[n.op](operands, { ...(n.attrs.p !== undefined ? { p: n.attrs.p } : {}), bind });
      return r.p === 4 ? r.s : `(${r.s})`;
    }
    switch (n.op) {
      case 'sum_batch':
        return this.sum(block, 'sb', [{ n: this.opts.batch, body: (b, inner) => this.value(ins[0]!, { ...x, b }, inner) }]);
      case 'sum_feat': {
        const l = this.layout(ins[0]!);
        if (l.dims.length === 2) return this.sum2(block, 'sf', l.dims[0]!, l.dims[1]!, (i, j, inner) => this.value(ins[0]!, { ...x, i, j }, inner));
        const F = l.dims[0] ?? 1;
        return this.sum(block, 'sf', [{ n: F, body: (i, inner) => this.value(ins[0]!, { ...x, i }, inner) }]);
      }
      case 'softmax': {
        const F = this.layout(ins[0]!).dims[0]!;
        const m = this.fresh('max_');
        block.emit(`let ${m} = ${val(0, { ...x, i: '0' })};`);
        const k = this.fresh('k');
        const inner = new Block(block.indent + '  ', block);
        const xi = this.value(ins[0]!, { ...x, i: k }, inner);
        block.emit(`for (let ${k} = 1; ${k} < ${F}; ${k}++) {`);
        block.lines.push(...inner.lines);
        block.emit(`  ${m} = Math.max(${m}, ${xi});`);
        block.emit('}');
        const s = this.sum(block, 'se', [{ n: F, body: (i, inner2) => `Math.exp(${this.value(ins[0]!, { ...x, i }, inner2)} - ${m})` }]);
        return `(Math.exp(${val(0)} - ${m}) / ${s})`;
      }
      case 'matvec': {
        const [w, v] = ins as [number, number];
        const K = this.layout(w).dims[1]!;
        if (this.packed && x.b !== undefined && this.layout(v).batched && this.pieces(v).length === 1 && K % 4 === 0) {
          // both operands packed by four along the sum (PlanOptions.pack)
          const [wp, vp] = [this.arg({ from: 'kernel', index: this.packed(w, 'cols') }, `${this.label(w)}_4`), this.arg({ from: 'kernel', index: this.packed(v, 'cols') }, `${this.label(v)}_4`)];
          return this.packedSum(block, 'mv', K, (k) => `${wp}[${x.i}][${k}]`, (k) => `${vp}[${x.b}][${k}]`);
        }
        return this.sum(block, 'mv', this.pieces(v).map((p) => ({
          n: p.len,
          body: (j: string, inner: Block) => `${this.value(w, { i: x.i, j: p.off ? `${j} + ${p.off}` : j }, inner)} * ${this.value(p.id, { b: x.b, i: j }, inner)}`,
        })));
      }
      case 'matmul': {
        const [a, b] = ins as [number, number];
        const K = this.layout(a).dims[1]!;
        return this.sum(block, 'mm', [{ n: K, body: (k, inner) => `${this.value(a, { i: x.i, j: k }, inner)} * ${this.value(b, { i: k, j: x.j }, inner)}` }]);
      }
      case 'outer': {
        const [u, v] = ins as [number, number];
        if (!this.layout(u).batched) return `(${val(0, { i: x.i })} * ${val(1, { i: x.j })})`;
        if (this.transposed && this.opts.rows && [u, v].every((p) => batchedVector(this.layout(p)))) {
          // a sum over all T·B rows reads both operands transposed, each along its contiguous axis
          // (measured in gpu.js webasm, n = 256, 1024 rows: 240–370 ms per product reading down
          // the columns of [rows][n] arrays, 80–85 ms reading the transposes, ~1–2 ms per transpose)
          if (this.packed && this.opts.batch % 4 === 0) {
            // both transposed and packed by four along the rows (PlanOptions.pack)
            const [up, vp] = [u, v].map((p) => this.arg({ from: 'kernel', index: this.packed!(p, 'rows') }, `${this.label(p)}_T4`)) as [string, string];
            return this.packedSum(block, 'op', this.opts.batch, (k) => `${up}[${x.i}][${k}]`, (k) => `${vp}[${x.j}][${k}]`);
          }
          const [ut, vt] = [u, v].map((p) => this.arg({ from: 'kernel', index: this.transposed!(p) }, `${this.label(p)}_T`)) as [string, string];
          return this.sum(block, 'op', [{ n: this.opts.batch, body: (b) => `${ut}[${x.i}][${b}] * ${vt}[${x.j}][${b}]` }]);
        }
        return this.sum(block, 'op', [{ n: this.opts.batch, body: (b, inner) => `${this.value(u, { b, i: x.i }, inner)} * ${this.value(v, { b, i: x.j }, inner)}` }]);
      }
      // Matrices per example: each example's own product, never summed over the batch.
      case 'outer_each': return `(${val(0, { b: x.b, i: x.i })} * ${val(1, { b: x.b, i: x.j })})`;
      case 'matvec_each': {
        const [w, v] = ins as [number, number];
        return this.sum(block, 'mve', [{ n: this.layout(w).dims[1]!, body: (j, inner) => `${this.value(w, { b: x.b, i: x.i, j }, inner)} * ${this.value(v, { b: x.b, i: j }, inner)}` }]);
      }
      case 'vecmat_each': {
        const [u, w] = ins as [number, number];
        return this.sum(block, 'vme', [{ n: this.layout(w).dims[0]!, body: (i, inner) => `${this.value(u, { b: x.b, i }, inner)} * ${this.value(w, { b: x.b, i, j: x.i }, inner)}` }]);
      }
      default: throw new GpujsPlanError(`no gpu.js lowering for ${n.op}`);
    }
  }
}

/**
 * An index kept in range, so that a backend evaluating both sides of a
 * conditional (WGSL's select, WebAssembly's lane masks) never reads outside an
 * array. Written with conditionals, not Math.min/max, which gpu.js's GLSL
 * translation types as float.
 */
function clampIndex(e: string, low: boolean, high?: number): string {
  let out = e;
  // no bare literal as a branch: gpu.js types a literal branch as float in GLSL
  // and WGSL, and both reject a conditional mixing int and float
  if (low) out = `((${out}) >= 0 ? (${out}) : (${out}) - (${out}))`;
  if (high !== undefined) out = `((${out}) <= ${high} ? (${out}) : (${out}) - (${out}) + ${high})`;
  return out;
}
