// emit/gpujs/plan.ts: one step graph (forward or backward) → a plan of gpu.js kernels.
// Pure: it returns kernel *sources* (JavaScript function text that gpu.js
// translates to GLSL, WGSL or WebAssembly) and says where each argument comes
// from; runtime/backends/gpujs.ts creates the kernels and runs the plan.
//
// gpu.js kernels have one output each, computed one element per thread. So the
// plan *materializes* some nodes (each becomes a kernel writing a device
// buffer: a texture on WebGL2, a storage buffer on WebGPU) and *fuses* the rest
// into the kernels that read them:
//   - elementwise arithmetic is inlined as `const` statements at the thread's
//     index — one kernel per group of gate arithmetic;
//   - matrix–vector products, batch and feature sums and softmax become loops
//     inside the kernel that consumes them (a product over the batch is a
//     kernel of output [m, B]);
//   - layout ops (concat, slice, pad, broadcast, transpose) are index
//     arithmetic and never kernels; a product with a concatenated operand
//     `W[c, x]` becomes one loop per piece.
// A node is materialized when it is a root, when kernels of two different
// groups read it, or when a loop would read it at many indices per output
// element and it is more than one cheap arithmetic op (a sigmoid inside a
// matvec's inner loop would be recomputed m times).
//
// Everything emitted comes from the graph: identifiers are sanitised and
// numbered, numbers are printed from their values. Nothing of the source text
// reaches a kernel.

import { evalDim } from '../../ir/dims.ts';
import type { Dim } from '../../ir/dims.ts';
import type { Graph, Node, Root } from '../../ir/graph.ts';
import type { OpName, Shape } from '../../ir/ops.ts';
import { isElementwiseOp } from '../../ir/ops.ts';
import { GpujsPlanError, lit } from './base.ts';
import { GPUJS_ELEMENTWISE } from './elementwise.ts';

export { GpujsPlanError };

/** Where a kernel argument comes from when the plan runs. */
export type Arg =
  | { readonly from: 'param'; readonly name: string }
  /** All steps of an input, rows [T·B] × n; a step reads rows offset…offset+B. */
  | { readonly from: 'input'; readonly name: string }
  /** All steps of a cotangent (`state:c`, `output:y_hat`), rows [T·B] × n. */
  | { readonly from: 'cot'; readonly name: string }
  /** The state at t-1: a device buffer [B][n] in the forward pass; all steps [T·B] × n in the backward pass. */
  | { readonly from: 'prev'; readonly name: string }
  /** Backward: ∂ℒ/∂state^<t> carried from step t+1, [B][n]. */
  | { readonly from: 'carry'; readonly name: string }
  /** Backward: the running sum over later steps of a parameter gradient. */
  | { readonly from: 'acc'; readonly name: string }
  /** The output of an earlier kernel of the same step. */
  | { readonly from: 'kernel'; readonly index: number }
  /** The number (t-1)·B: the first row of this step in an all-steps buffer. */
  | { readonly from: 'offset' };

export interface KernelPlan {
  /** Readable: the notation name of the value it computes (`Gamma_u`, `c`, `dW_aa`). */
  readonly name: string;
  readonly node: number;
  /** gpu.js output size, x fastest: [n, B] per example, [n] or [n, m] without batch, [1, B] / [1] for scalars. */
  readonly output: readonly number[];
  readonly args: readonly Arg[];
  /** `function (p_W_aa, prev_a, …) { … }` for gpu.js's createKernel. */
  readonly source: string;
}

export interface StepPlan {
  readonly kernels: readonly KernelPlan[];
  /** Each root of the graph and the kernel whose output it is. */
  readonly roots: readonly { readonly root: Root; readonly kernel: number }[];
}

export interface PlanOptions {
  readonly dims: ReadonlyMap<string, number>;
  readonly batch: number;
  /** 'loop': one step of a recurrence, run T times; 'unrolled': a whole fixed-length unrolled graph, run once. */
  readonly mode: 'loop' | 'unrolled';
  /** Largest output extent along x or y the device takes (the texture size limit). */
  readonly maxExtent?: number;
  /** Most arrays one kernel may read (WebGPU: storage buffers per shader stage, less the output). */
  readonly maxArrays?: number;
}

// ---------------------------------------------------------------- storage

/** A value's numeric layout; every device buffer is a 1-D or 2-D array. */
interface Layout {
  readonly batched: boolean;
  readonly dims: readonly number[];
}

/** Index expressions for one element: b (example), i (row/feature), j (column). */
interface Idx {
  readonly b?: string;
  readonly i?: string;
  readonly j?: string;
}

const outputOf = (l: Layout, B: number): number[] => {
  if (l.dims.length === 2) {
    if (l.batched) throw new GpujsPlanError('a matrix per example has no gpu.js layout');
    return [l.dims[1]!, l.dims[0]!];
  }
  const n = l.dims.length === 1 ? l.dims[0]! : 1;
  return l.batched ? [n, B] : [n];
};

/** The thread's own index for a value of this layout. */
const ownIdx = (l: Layout): Idx =>
  l.dims.length === 2 ? { i: 'this.thread.y', j: 'this.thread.x' }
    : { ...(l.batched ? { b: 'this.thread.y' } : {}), ...(l.dims.length === 1 ? { i: 'this.thread.x' } : {}) };

/** Drop the index parts a value does not have (broadcasting). */
const norm = (l: Layout, x: Idx): Idx => ({
  ...(l.batched ? { b: x.b ?? '0' } : {}),
  ...(l.dims.length >= 1 ? { i: x.i ?? '0' } : {}),
  ...(l.dims.length === 2 ? { j: x.j ?? '0' } : {}),
});
const idxKey = (x: Idx) => `${x.b ?? ''}|${x.i ?? ''}|${x.j ?? ''}`;

/** Read element `x` of a buffer holding a value of layout `l`; `rowOffset` shifts the batch row (all-steps buffers). */
function readBuffer(name: string, l: Layout, x: Idx, rowOffset?: string): string {
  const n = norm(l, x);
  const row = (b: string) => (rowOffset === undefined ? b : `${rowOffset} + ${b}`);
  if (l.dims.length === 2) return `${name}[${n.i}][${n.j}]`;
  if (l.batched) return `${name}[${row(n.b!)}][${l.dims.length === 1 ? n.i : '0'}]`;
  return `${name}[${l.dims.length === 1 ? n.i : '0'}]`;
}

const ident = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_').slice(0, 40);

// ---------------------------------------------------------------- which nodes become kernels

const VIEWS: ReadonlySet<OpName> = new Set(['concat', 'slice', 'pad', 'bcast', 'transpose']);
const LEAVES: ReadonlySet<OpName> = new Set(['param', 'input', 'prev', 'cot', 'const', 'zeros']);
const CHEAP: ReadonlySet<OpName> = new Set(['add', 'sub', 'mul', 'neg', 'div']);
/** Consumers that read an operand at many indices per output element (index = operand position). */
const SPREAD: Partial<Record<OpName, readonly number[]>> = { matvec: [0, 1], matmul: [0, 1], outer: [0, 1], softmax: [0] };

/**
 * The materialized nodes. Walks the graph from the last node to the first, so
 * every consumer is decided before its operands; a second walk knows which
 * operands the first one materialized, so arithmetic on them is recognised as
 * cheap to recompute. (Any set is correct — an inlined node is recomputed
 * where it is read — so the choice only moves cost.)
 */
export function materialized(g: Graph, forced: ReadonlySet<number> = new Set()): Set<number> {
  let made = decide(g, new Set(), forced);
  made = decide(g, made, forced);
  return made;
}

function decide(g: Graph, before: ReadonlySet<number>, forced: ReadonlySet<number>): Set<number> {
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
    const make = rootIds.has(id) || forced.has(id) || (!VIEWS.has(n.op) && (
      (groups.size > 1 && !(elementwise && ofReads)) ||
      (spread && !(CHEAP.has(n.op) && ofReads))));
    if (make) out.add(id);
    const passOn = make ? [{ group: id, spread: false }] : uses;
    n.inputs.forEach((x, k) => {
      const spreads = SPREAD[n.op]?.includes(k) ?? false;
      for (const u of passOn) users[x]!.push({ group: u.group, spread: u.spread || spreads });
    });
  }
  return out;
}

// ---------------------------------------------------------------- kernel bodies

/** Statements of one scope (a kernel body or a loop body) and the values already bound in it. */
class Block {
  readonly lines: string[] = [];
  readonly bound: Map<string, string>;
  constructor(readonly indent: string, parent?: Block) {
    this.bound = new Map(parent?.bound);
  }
  emit(line: string) {
    this.lines.push(this.indent + line);
  }
}

class KernelWriter {
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
  ) {}

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
      return readBuffer(this.arg({ from: 'kernel', index: k }, this.g.labels[id] ?? `v${id}`), l, at);
    }
    if (VIEWS.has(n.op)) return this.view(n, at, block);
    const key = `${id}@${idxKey(at)}`;
    const bound = block.bound.get(key);
    if (bound) return bound;
    const expr = this.compute(n, at, block);
    return this.bind(block, key, this.g.labels[id] ?? `v${id}`, expr);
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
    for (const { n, body } of loops) {
      const v = this.fresh('k');
      const inner = new Block(block.indent + '  ', block);
      const term = body(v, inner);
      block.emit(`for (let ${v} = 0; ${v} < ${n}; ${v}++) {`);
      block.lines.push(...inner.lines);
      block.emit(`  ${acc} += ${term};`);
      block.emit('}');
    }
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
        if (l.dims.length > 1) throw new GpujsPlanError('a sum over the features of a matrix has no gpu.js lowering');
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
        return this.sum(block, 'op', [{ n: this.opts.batch, body: (b, inner) => `${this.value(u, { b, i: x.i }, inner)} * ${this.value(v, { b, i: x.j }, inner)}` }]);
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

// ---------------------------------------------------------------- the plan

/**
 * The kernels of one step graph, in an order where every kernel comes after
 * the kernels it reads. A kernel that would read more arrays than the device
 * binds is split: its largest inlined subexpression becomes a kernel of its
 * own, until every kernel fits.
 */
export function planStep(g: Graph, opts: PlanOptions): StepPlan {
  const dim = (d: Dim) => {
    const v = evalDim(d, opts.dims);
    if (v === undefined) throw new GpujsPlanError('a dimension is not bound');
    return v;
  };
  const layouts = g.nodes.map((n) => ({ batched: n.shape.batch, dims: n.shape.dims.map(dim) }));
  const isBackward = g.nodes.some((n) => n.op === 'cot');
  const forced = new Set<number>();
  for (;;) {
    const made = materialized(g, forced);
    // a root that is a leaf (a state passed through unchanged) still gets a kernel: it copies
    for (const r of g.roots) made.add(r.id);
    const plan = writeKernels(g, made, (id) => layouts[id]!, dim, opts, isBackward);
    const max = opts.maxArrays;
    const over = max === undefined ? undefined : plan.kernels.find((k) => arrays(k) > max);
    if (!over) return plan;
    const split = largestInlined(g, made, over.node);
    if (split === undefined)
      throw new GpujsPlanError(`the kernel for ${over.name} reads ${arrays(over)} arrays; this device binds at most ${max} per kernel`);
    forced.add(split);
  }
}

const arrays = (k: KernelPlan) => k.args.filter((a) => a.from !== 'offset').length;

/** The inlined node inside the kernel of `root` that reads the most distinct arrays (at least two), if any. */
function largestInlined(g: Graph, made: ReadonlySet<number>, root: number): number | undefined {
  const reads = new Map<number, Set<string>>();
  const readsOf = (id: number): Set<string> => {
    const found = reads.get(id);
    if (found) return found;
    const n = g.nodes[id]!;
    let out: Set<string>;
    if (n.op === 'const' || n.op === 'zeros') out = new Set();
    else if (LEAVES.has(n.op)) out = new Set([`${n.op}:${n.attrs.name}`, ...(n.op === 'cot' && n.attrs.name!.startsWith('state:') ? [`carry:${n.attrs.name}`] : [])]);
    else if (id !== root && made.has(id)) out = new Set([`kernel:${id}`]);
    else out = new Set(n.inputs.flatMap((x) => [...readsOf(x)]));
    reads.set(id, out);
    return out;
  };
  readsOf(root);
  let best: number | undefined;
  for (const [id, r] of reads) {
    const n = g.nodes[id]!;
    if (id === root || made.has(id) || LEAVES.has(n.op) || VIEWS.has(n.op) || r.size < 2) continue;
    if (best === undefined || r.size > reads.get(best)!.size) best = id;
  }
  return best;
}

function writeKernels(g: Graph, made: ReadonlySet<number>, layout: (id: number) => Layout, dim: (d: Dim) => number, opts: PlanOptions, isBackward: boolean): StepPlan {
  const kernelOf = new Map<number, number>();
  const kernels: KernelPlan[] = [];
  for (const id of [...made].sort((a, b) => a - b)) {
    const l = layout(id);
    const output = outputOf(l, opts.batch);
    if (opts.maxExtent !== undefined && output.some((e) => e > opts.maxExtent!))
      throw new GpujsPlanError(`a kernel output of ${output.join(' × ')} exceeds this device's limit of ${opts.maxExtent} per side`);
    const w = new KernelWriter(g, made, id, kernelOf, layout, dim, opts, isBackward);
    const body = new Block('  ');
    let result = w.value(id, ownIdx(l), body);
    // a parameter gradient of a loop step adds the sum over the steps after it
    const grad = g.roots.find((r) => r.id === id && r.role === 'grad' && r.of === 'param');
    if (grad && isBackward && opts.mode === 'loop') result = `${readBuffer(w.arg({ from: 'acc', name: grad.name }, `acc_${grad.name}`), l, ownIdx(l))} + ${result}`;
    body.emit(`return ${result};`);
    const root = g.roots.find((r) => r.id === id);
    const name = g.labels[id] ?? (root ? (root.role === 'grad' ? `d${root.name}` : root.name) : `v${id}`);
    kernelOf.set(id, kernels.length);
    kernels.push({
      name, node: id, output, args: w.args,
      source: `function (${w.params.join(', ')}) {\n${body.lines.join('\n')}\n}`,
    });
  }
  // parameter-gradient roots sharing a node need their own accumulator each
  const roots = g.roots.map((root) => ({ root, kernel: kernelOf.get(root.id)! }));
  return { kernels, roots: splitSharedAccumulators(roots, kernels, opts) };
}

/**
 * Two parameters whose gradients are the same node (hash-consing merges them)
 * would share one accumulator; every parameter after the first gets its own
 * copy of the kernel, reading its own accumulator.
 */
function splitSharedAccumulators(roots: { root: Root; kernel: number }[], kernels: KernelPlan[], opts: PlanOptions) {
  if (opts.mode !== 'loop') return roots;
  return roots.map((r) => {
    if (!(r.root.role === 'grad' && r.root.of === 'param')) return r;
    const k = kernels[r.kernel]!;
    if (k.args.some((a) => a.from === 'acc' && a.name === r.root.name)) return r;
    const args = k.args.map((a) => (a.from === 'acc' ? { from: 'acc' as const, name: r.root.name } : a));
    kernels.push({ ...k, name: `d${r.root.name}`, args });
    return { root: r.root, kernel: kernels.length - 1 };
  });
}

/** A kernel copying a [B][n] array to a device buffer of the same layout. */
export function copyPlan(n: number, batch: number): Omit<KernelPlan, 'args'> {
  return { name: 'copy', node: -1, output: [n, batch], source: 'function (a) {\n  return a[this.thread.y][this.thread.x];\n}' };
}

/** A kernel filling a device buffer of the given output size with zeros. */
export function zerosPlan(output: readonly number[]): Omit<KernelPlan, 'args'> {
  return { name: 'zeros', node: -1, output, source: 'function () {\n  return 0.0;\n}' };
}

export const layoutOutput = (s: Shape, dims: ReadonlyMap<string, number>, batch: number): number[] =>
  outputOf({ batched: s.batch, dims: s.dims.map((d) => evalDim(d, dims)!) }, batch);
