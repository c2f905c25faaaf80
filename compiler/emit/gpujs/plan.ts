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
import { reachable } from '../../ir/graph.ts';
import type { Graph, Root } from '../../ir/graph.ts';
import type { Shape } from '../../ir/ops.ts';
import type { Idx, KernelPlan, Layout, PlanOptions, StepPlan } from './base.ts';
import { GpujsPlanError, batchedVector, outputOf, ownIdx, readBuffer } from './base.ts';
import { Block, KernelWriter } from './kernel-writer.ts';
import { LEAVES, VIEWS, materialized } from './materialize.ts';

export type { Arg, KernelPlan, PlanOptions, StepPlan } from './base.ts';
export { GpujsPlanError } from './base.ts';
export { materialized } from './materialize.ts';

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
  const forced = new Set<number>(opts.materialize ?? []);
  // over all T·B rows, a product with a transposed weight (a backward's Wᵀ·v) reads a copy of Wᵀ made once, row by row
  if (opts.rows) {
    const live = reachable(g);
    for (const n of g.nodes) if (live.has(n.id) && n.op === 'matvec' && n.shape.batch && g.nodes[n.inputs[0]!]!.op === 'transpose') forced.add(n.inputs[0]!);
  }
  for (;;) {
    const made = materialized(g, forced, opts.rows ?? false);
    // a root that is a leaf (a state passed through unchanged) still gets a kernel: it copies
    for (const r of g.roots) made.add(r.id);
    const plan = writeKernels(g, made, (id) => layouts[id]!, dim, opts, isBackward);
    const max = opts.maxArrays;
    const over = max === undefined ? undefined : plan.kernels.find((k) => arrays(k) > max);
    if (!over) return plan;
    const split = over.node < 0 ? undefined : largestInlined(g, made, over.node);
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
  const fits = (output: readonly number[]) => {
    if (opts.maxExtent !== undefined && output.some((e) => e > opts.maxExtent!))
      throw new GpujsPlanError(`a kernel output of ${output.join(' × ')} exceeds this device's limit of ${opts.maxExtent} per side`);
  };
  // kernels holding a node's values laid out for the kernels that read them (each made on first use, before its reader):
  // `value` writes the thread's value from a writer (its arguments become the kernel's)
  const derived = new Map<string, number>();
  const derive = (key: string, name: string, output: number[], value: (w: KernelWriter, body: Block) => string, returnType?: 'Array(4)'): number => {
    const found = derived.get(key);
    if (found !== undefined) return found;
    fits(output);
    const w = new KernelWriter(g, made, -1, kernelOf, layout, dim, opts, isBackward);
    const body = new Block('  ');
    body.emit(`return ${value(w, body)};`);
    derived.set(key, kernels.length);
    kernels.push({ name, node: -1, output, args: w.args, ...(returnType ? { returnType } : {}), source: `function (${w.params.join(', ')}) {\n${body.lines.join('\n')}\n}` });
    return kernels.length - 1;
  };
  const label = (id: number) => g.labels[id] ?? `v${id}`;
  // a batched vector transposed, [n rows × batch columns]
  const transposed = (id: number): number => derive(`${id}:T`, `${label(id)}_T`, [opts.batch, layout(id).dims[0]!],
    (w, body) => w.value(id, { b: 'this.thread.x', i: 'this.thread.y' }, body));
  // a node's values packed by four along one axis (PlanOptions.pack, quad):
  // 'cols' [K/4 × m] of a matrix by its rows or [K/4 × rows] of a batched vector;
  // 'rows' [rows/4 × n] of a batched vector, transposed, or [m/4 × K] of a matrix (element [k][q] holds column k of rows 4q…4q+3)
  const packed = (id: number, along: 'cols' | 'rows'): number => {
    const l = layout(id);
    // element [y][x] holds lanes 4x … 4x+3 of the packed axis at y of the other
    const four = (c: number) => `(this.thread.x * 4 + ${c})`;
    const [axis, other, across, length]: [keyof Idx, keyof Idx, number, number] = l.batched
      ? (along === 'rows' ? ['b', 'i', opts.batch, l.dims[0]!] : ['i', 'b', l.dims[0]!, opts.batch])
      : (along === 'rows' ? ['i', 'j', l.dims[0]!, l.dims[1]!] : ['j', 'i', l.dims[1]!, l.dims[0]!]);
    return derive(`${id}:${along}`, `${label(id)}_4`, [across / 4, length],
      (w, body) => `[${[0, 1, 2, 3].map((c) => w.value(id, { [axis]: four(c), [other]: 'this.thread.y' }, body)).join(', ')}]`, 'Array(4)');
  };
  // PlanOptions.quad: a product over all rows as a kernel of four outputs per thread, or undefined where it does not apply
  const quad = (id: number): number | undefined => {
    const n = g.nodes[id]!;
    const vector = (x: number) => batchedVector(layout(x));
    let operands: () => [number, number], K: number;
    if (n.op === 'matvec' && vector(id) && vector(n.inputs[1]!) && !layout(n.inputs[0]!).batched) {
      // y[r][i] = Σ_k W[i][k] · v[r][k]: v packed along k, W packed by four of its rows
      K = layout(n.inputs[0]!).dims[1]!;
      operands = () => [packed(n.inputs[1]!, 'cols'), packed(n.inputs[0]!, 'rows')];
    } else if (n.op === 'outer' && n.inputs.every(vector)) {
      // Σ_r u[r][i] · v[r][j]: u transposed and packed along the rows, v packed along j
      K = opts.batch;
      operands = () => [packed(n.inputs[0]!, 'rows'), packed(n.inputs[1]!, 'cols')];
    } else return undefined;
    const [N, M] = outputOf(layout(id), opts.batch) as [number, number];
    if (N % 4 !== 0 || K % 4 !== 0) return undefined;
    const [a, b] = operands();
    return derive(`${id}:quad`, `${label(id)}_q`, [N / 4, M], (w, body) => {
      const [A, B] = [w.arg({ from: 'kernel', index: a }, 'a4'), w.arg({ from: 'kernel', index: b }, 'b4')];
      const acc = [0, 1, 2, 3].map((c) => `q${c}`);
      for (const q of acc) body.emit(`let ${q} = 0.0;`);
      body.emit(`for (let k = 0; k < ${K / 4}; k++) {`);
      body.emit(`  const u = ${A}[this.thread.y][k];`);
      for (let c = 0; c < 4; c++) body.emit(`  const w${c} = ${B}[k * 4 + ${c}][this.thread.x];`);
      for (let c = 0; c < 4; c++) body.emit(`  ${acc[c]} += u[0] * w0[${c}] + u[1] * w1[${c}] + u[2] * w2[${c}] + u[3] * w3[${c}];`);
      body.emit('}');
      return `[${acc.join(', ')}]`;
    }, 'Array(4)');
  };
  for (const id of [...made].sort((a, b) => a - b)) {
    const l = layout(id);
    const output = outputOf(l, opts.batch);
    fits(output);
    const w = new KernelWriter(g, made, id, kernelOf, layout, dim, opts, isBackward, transposed, opts.pack && opts.rows ? packed : undefined);
    const body = new Block('  ');
    const q = opts.quad && opts.rows ? quad(id) : undefined;
    let result: string;
    if (q === undefined) result = w.value(id, ownIdx(l), body);
    else {
      // the element this thread owns, of the four-output kernel's
      body.emit(`const q = ${w.arg({ from: 'kernel', index: q }, `${label(id)}_q`)}[this.thread.y][Math.floor(this.thread.x / 4)];`);
      result = 'q[this.thread.x % 4]';
    }
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

/**
 * The kernels of `plan` the roots that `keep` accepts need, by index into
 * plan.kernels (a backward that is not asked for the inputs' gradients runs
 * none of the kernels only they read).
 */
function neededKernels(plan: StepPlan, keep: (root: StepPlan['roots'][number]['root']) => boolean): Set<number> {
  const need = new Set<number>();
  const visit = (i: number) => {
    if (need.has(i)) return;
    need.add(i);
    for (const a of plan.kernels[i]!.args) if (a.from === 'kernel') visit(a.index);
  };
  for (const r of plan.roots) if (keep(r.root)) visit(r.kernel);
  return need;
}

/** The kernels of a backward plan that every gradient but the inputs' needs (a backward asked for `{ inputs: false }`). */
export const kernelsWithoutInputGrads = (plan: StepPlan): Set<number> => neededKernels(plan, (r) => r.role !== 'grad' || r.of !== 'input');

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
