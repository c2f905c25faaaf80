// lower: a compiled cell → a CellPlan (loop-ir.ts) for a pass over T steps.
//
// The forward pass saves what the backward pass reads. Backward values are matched
// to forward ones by structure (both graphs are hash-consed the same way), so the
// backward reads Γ_u from where the forward stored it instead of recomputing it;
// only concatenations and slices of leaves are rebuilt, as views.

import type { CompiledCell } from '../compile.ts';
import type { TypedCell } from '../check/typed-cell.ts';
import { stateDims } from '../check/typed-cell.ts';
import type { Dim } from '../ir/dims.ts';
import { dimNum } from '../ir/dims.ts';
import type { Graph, Node } from '../ir/graph.ts';
import type { BufferTable as Table, Dest, Home, PassSpec } from './context.ts';
import { BufferTable } from './context.ts';
import { lowerPass } from './pass.ts';
import type { CellPlan } from './loop-ir.ts';
import { scanForms } from './scan.ts';
import { scanKernels } from './scan-kernels.ts';

const LAYOUT = new Set(['concat', 'slice', 'pad', 'bcast', 'transpose', 'const', 'zeros']);
/** Cheap to recompute from what is saved: the backward rebuilds these instead of reading them. */
const ARITHMETIC = new Set(['add', 'sub', 'mul', 'neg']);
const LEAVES = new Set(['param', 'input', 'prev', 'cot', 'const', 'zeros']);

/** Structural keys: equal keys mean equal values, in either graph (ids interned in a shared table). */
export function structKeys(g: Graph, table: Map<string, number>): number[] {
  const out: number[] = [];
  for (const n of g.nodes) {
    const a = n.attrs;
    const k = `${n.op}|${JSON.stringify([a.name, a.step, a.value, a.p, a.offset, a.len, a.total, a.shape])}|${n.inputs.map((x) => out[x]).join(',')}`;
    let v = table.get(k);
    if (v === undefined) table.set(k, (v = table.size));
    out.push(v);
  }
  return out;
}

/**
 * The backward nodes to read from the forward's buffers, mapped to their forward
 * nodes: states, outputs and the results of functions and products (Γ_u,
 * tanh(c^<t>)); other sums and products of those are recomputed, as are
 * concatenations of leaves.
 */
export function savedValues(fwd: Graph, bwd: Graph): Map<number, number> {
  const table = new Map<string, number>();
  const fk = structKeys(fwd, table), bk = structKeys(bwd, table);
  const fwdByKey = new Map(fk.map((k, i) => [k, i]));
  const varying = new Set<number>();
  for (const n of fwd.nodes) if (n.op === 'input' || n.op === 'prev' || n.inputs.some((x) => varying.has(x))) varying.add(n.id);
  const rootOf = new Set(fwd.roots.map((r) => r.id)); // stored anyway
  const saved = new Map<number, number>();
  const seen = new Set<number>();
  const stack = bwd.roots.map((r) => r.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = bwd.nodes[id]!;
    const f = fwdByKey.get(bk[id]!);
    if (f !== undefined && varying.has(f) && !LEAVES.has(n.op) && !LAYOUT.has(n.op) && (!ARITHMETIC.has(n.op) || rootOf.has(f))) {
      saved.set(id, f);
      continue;
    }
    stack.push(...n.inputs);
  }
  return saved;
}

/** Readable names for the values of a graph: labels, roots, leaves, then derived ones. */
function namer(g: Graph, kind: 'forward' | 'backward', borrowed: (id: number) => string | undefined) {
  const names = new Map<number, string>();
  const named = new Set<number>();
  for (const [id, name] of Object.entries(g.labels)) { names.set(Number(id), name); named.add(Number(id)); }
  for (const r of [...g.roots].reverse()) {
    const step = r.step !== undefined ? `_${r.step}` : '';
    const name = kind === 'forward' ? `${r.name}${step}` : r.of === 'prev' ? `d${r.name}${r.step !== undefined ? step : '_prev'}` : `d${r.name}${step}`;
    names.set(r.id, name);
    named.add(r.id);
  }
  let k = 0;
  if (kind === 'backward') {
    // Values used more than once are the temporaries δ₁, δ₂, … of `celda grad`, numbered in graph order.
    const uses = new Map<number, number>();
    const seen = new Set<number>();
    const stack = g.roots.map((r) => r.id);
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id) || borrowed(id) !== undefined) continue;
      seen.add(id);
      for (const x of g.nodes[id]!.inputs) { uses.set(x, (uses.get(x) ?? 0) + 1); stack.push(x); }
    }
    for (const id of [...seen].sort((a, b) => a - b)) {
      const n = g.nodes[id]!;
      if ((uses.get(id) ?? 0) > 1 && !names.has(id) && !LEAVES.has(n.op) && !['transpose', 'bcast'].includes(n.op)) names.set(id, `delta_${++k}`);
    }
  }
  const name = (id: number): string => {
    const have = names.get(id);
    if (have !== undefined) return have;
    const n = g.nodes[id]!;
    const b = borrowed(id);
    let out: string;
    if (b !== undefined) out = b;
    else if (n.op === 'param') out = n.attrs.name!;
    else if (n.op === 'input') out = `${n.attrs.name}${n.attrs.step !== undefined ? `_${n.attrs.step}` : ''}`;
    else if (n.op === 'prev') out = `${n.attrs.name}${n.attrs.step !== undefined ? `_${n.attrs.step}` : '_prev'}`;
    else if (n.op === 'cot') {
      const [, base] = n.attrs.name!.split(':') as [string, string];
      out = `d${base}${n.attrs.step !== undefined ? `_${n.attrs.step}` : ''}`;
    } else if (n.op === 'transpose') out = `${name(n.inputs[0]!)}_T`;
    else if (n.inputs.length === 1 && names.has(n.inputs[0]!) && !['bcast', 'slice'].includes(n.op)) out = `${n.op}_${name(n.inputs[0]!)}`;
    else out = kind === 'forward' ? `v${++k}` : `delta_${++k}`;
    names.set(id, out);
    return out;
  };
  return { name, named: (id: number) => named.has(id) };
}

export interface LowerOptions {
  /** Run the diagonal linear recurrences as scans (scan.ts): default true; false is the sequential lowering. */
  readonly scan?: boolean;
  /** Run a pass in stages where a scan needs an earlier state's whole sequence (scan.ts): default true; false keeps one stage per pass. */
  readonly staged?: boolean;
}

export function lowerCell(cell: CompiledCell, precision: 'f64' | 'f32' = 'f64', opts: LowerOptions = {}): CellPlan {
  const t = cell.typed;
  const scan = opts.scan === false ? null : scanForms(cell, { staged: opts.staged !== false });
  const fwd = scan?.forward ?? cell.forward, bwd = scan?.backward ?? cell.backward;
  const coefficients = (rs: NonNullable<typeof scan>['fwd']) => new Set(rs.flatMap((r) => [r.a, r.b].filter((c): c is number => c !== null)));
  const bufs: Table = new BufferTable();
  const io = interfaceBuffers(t, fwd, bufs);

  // The forward pass; what the backward reads from it.
  const saved = savedValues(fwd, bwd);
  const fwdNames = namer(fwd, 'forward', () => undefined);
  const forward = lowerStaged({
    g: fwd, unrolled: io.unrolled, roots: forwardRoots(fwd, io), saved: new Set(saved.values()),
    ...(scan ? { pre: coefficients(scan.fwd) } : {}),
    leaf: (n) => interfaceLeaf(io, n, true),
    name: fwdNames.name, named: fwdNames.named,
  }, scan?.stages?.forward, (n) => (n.op === 'prev' ? n.attrs.name! : null), (r) => (r.role === 'state' ? r.name : null), bufs);

  // The backward pass.
  const grads = gradientBuffers(t, io, bufs);
  const bwdNames = namer(bwd, 'backward', (id) => {
    const f = saved.get(id);
    return f === undefined ? undefined : fwdNames.name(f);
  });
  const backward = lowerStaged({
    g: bwd, unrolled: io.unrolled, roots: backwardRoots(bwd, io, grads), saved: new Set(),
    ...(scan ? { pre: coefficients(scan.bwd) } : {}),
    leaf: (n) => backwardLeaf(io, grads, n, saved.get(n.id), forward.homes),
    name: bwdNames.name, named: bwdNames.named,
  }, scan?.stages?.backward, (n) => (n.op === 'cot' && n.attrs.name!.startsWith('state:') ? n.attrs.name!.slice('state:'.length) : null), (r) => (r.role === 'grad' && r.of === 'prev' ? r.name : null), bufs);

  const { params, inputs, states, outputs } = io;
  const { cotangents, dparams, dinputs } = grads;
  return {
    name: cell.name, precision, mode: t.mode, steps: t.steps, dims: t.dims,
    buffers: bufs.decls,
    // A loop that is only scanned recurrences runs as one scan kernel per recurrence (scan-kernels.ts).
    forward: scan && scan.fwd.length > 0 && !io.unrolled ? scanKernels(forward.plan, bufs.decls, false) : forward.plan,
    backward: scan && scan.bwd.length > 0 && !io.unrolled ? scanKernels(backward.plan, bufs.decls, true) : backward.plan,
    params, inputs, states, outputs, cotangents, dparams, dinputs,
    savedFrom: Object.fromEntries(saved),
    ...(scan ? { scans: { forward: scan.fwd.map((r) => r.state), backward: scan.bwd.map((r) => r.state), ...(scan.stages ? { stages: scan.stages } : {}) }, graphs: { forward: fwd, backward: bwd } } : {}),
  };
}

/**
 * A pass in stages (scan.ts): stage k computes the carried values of its states
 * and reads those of earlier stages as sequences, already complete (`varying`
 * leaves, not carried ones); the last stage computes every other root too. Values
 * the backward reads are saved by the first stage that computes them. One stage:
 * the pass as it was.
 */
function lowerStaged(spec: PassSpec, stages: readonly (readonly string[])[] | undefined, carriedState: (n: Node) => string | null, rootState: (r: Graph['roots'][number]) => string | null, bufs: Table): ReturnType<typeof lowerPass> {
  if (stages === undefined || stages.length < 2) return lowerPass(spec, bufs);
  const level = new Map(stages.flatMap((ss, k) => ss.map((s) => [s, k] as const)));
  const last = stages.length - 1;
  const stateOfRoot = (id: number) => spec.g.roots.filter((r) => r.id === id).map(rootState).find((s) => s !== null) ?? null;
  const plans: ReturnType<typeof lowerPass>['plan'][] = [];
  const homes = new Map<number, Home>();
  const savedLeft = new Set(spec.saved);
  for (let k = 0; k <= last; k++) {
    const roots = spec.roots.filter((r) => {
      const s = r.role === 'carry' ? stateOfRoot(r.id) : null;
      return s === null ? k === last : level.get(s) === k;
    });
    // An earlier stage's state after step t is read where that stage stored it, not computed again.
    const done = new Map(spec.roots.filter((r) => r.role === 'carry' && !r.dest.acc && (level.get(stateOfRoot(r.id) ?? '') ?? k) < k).map((r) => [r.id, r.dest.home]));
    const leaf: PassSpec['leaf'] = (n) => {
      const l = spec.leaf(n);
      const s = carriedState(n);
      if (l === null && done.has(n.id)) return { kind: 'varying', home: done.get(n.id)! };
      return l !== null && l.kind === 'carry' && s !== null && level.get(s)! < k ? { ...l, kind: 'varying' } : l;
    };
    // The saved values this stage reaches (the last stage: all that are left).
    const reached = new Set<number>();
    const stack = roots.map((r) => r.id);
    while (stack.length) {
      const id = stack.pop()!;
      if (reached.has(id)) continue;
      reached.add(id);
      if (leaf(spec.g.nodes[id]!) === null) stack.push(...spec.g.nodes[id]!.inputs);
    }
    const saved = new Set([...savedLeft].filter((id) => k === last || reached.has(id)));
    for (const id of saved) savedLeft.delete(id);
    const r = lowerPass({ ...spec, roots, leaf, saved }, bufs);
    for (const [id, h] of r.homes) if (!homes.has(id) || saved.has(id)) homes.set(id, h);
    plans.push(r.plan);
  }
  return { plan: { ...plans[last]!, stages: plans.slice(0, last) }, homes };
}

const vecHome = (buf: number, width: Dim, shift: number, block?: number): Home => (block === undefined ? { buf, col: dimNum(0), width, shift } : { buf, col: dimNum(0), width, shift, block });

/** The buffers of what a caller passes in and reads back: parameters, inputs, states, outputs. */
interface Io {
  readonly unrolled: boolean;
  readonly params: CellPlan['params'];
  readonly inputs: CellPlan['inputs'];
  readonly states: CellPlan['states'];
  readonly outputs: CellPlan['outputs'];
  readonly paramBuf: ReadonlyMap<string, number>;
  readonly inputOf: ReadonlyMap<string, CellPlan['inputs'][number]>;
  readonly stateOf: ReadonlyMap<string, CellPlan['states'][number]>;
  readonly outputOf: ReadonlyMap<string, CellPlan['outputs'][number]>;
  /** Outputs with a buffer of their own (the others are a state, or another output, under another name). */
  readonly ownsBuffer: ReadonlySet<string>;
  readonly outputWidth: (name: string) => Dim[];
}

function interfaceBuffers(t: TypedCell, fwd: Graph, bufs: Table): Io {
  const unrolled = t.mode === 'unrolled';
  const params = t.params.map((p) => ({ key: p.name, buf: bufs.add({ name: p.name, extent: 'one', size: p.shape.length ? p.shape : [dimNum(1)], role: 'param', key: p.name }), shape: p.shape }));
  const inputs = t.inputs.map((i) => ({ key: i.name, buf: bufs.add({ name: i.name, extent: 'seq', size: [i.dim], role: 'input', key: i.name }), width: i.dim }));
  const states = t.states.map((s) => ({ key: s.name, buf: bufs.add({ name: s.name, extent: 'states', size: stateDims(s), role: 'state', key: s.name }), width: s.dim, init: s.init, ...(s.cols ? { cols: s.cols } : {}) }));
  const stateOf = new Map(states.map((s) => [s.key, s]));
  const outputWidth = (name: string): Dim[] => {
    const o = t.outputs.find((x) => x.name === name)!;
    return o.shape.dims.length ? [...o.shape.dims] : [dimNum(1)];
  };

  // Outputs: a buffer each, unless the output is a state (or another output) under another name.
  const outputs: CellPlan['outputs'][number][] = [];
  const ownsBuffer = new Set<string>();
  const rootBuf = new Map<number, { buf: number; shift: number }>();
  if (!unrolled) for (const r of fwd.roots) if (r.role === 'state' && !rootBuf.has(r.id)) rootBuf.set(r.id, { buf: stateOf.get(r.name)!.buf, shift: 1 });
  for (const o of t.outputs) {
    const r = fwd.roots.find((x) => x.role === 'output' && x.name === o.name);
    const alias = r && !unrolled ? rootBuf.get(r.id) : undefined;
    if (alias) { outputs.push({ key: o.name, buf: alias.buf, shift: alias.shift, width: outputWidth(o.name) }); continue; }
    const buf = bufs.add({ name: o.name, extent: 'seq', size: outputWidth(o.name), role: 'output', key: o.name });
    outputs.push({ key: o.name, buf, shift: 0, width: outputWidth(o.name) });
    ownsBuffer.add(o.name);
    if (r && !unrolled) rootBuf.set(r.id, { buf, shift: 0 });
  }
  return {
    unrolled, params, inputs, states, outputs, ownsBuffer, outputWidth, stateOf,
    paramBuf: new Map(params.map((p) => [p.key, p.buf])),
    inputOf: new Map(inputs.map((i) => [i.key, i])),
    outputOf: new Map(outputs.map((o) => [o.key, o])),
  };
}

/** Where a parameter, input or state at t-1 is read (carry: the forward pass carries states from step to step). */
function interfaceLeaf(io: Io, n: Node, carry: boolean): ReturnType<PassSpec['leaf']> {
  const name = n.attrs.name!;
  const step = n.attrs.step;
  switch (n.op) {
    case 'param': return { kind: 'static', home: vecHome(io.paramBuf.get(name)!, n.shape.dims[0] ?? dimNum(1), 0) };
    case 'input': { const i = io.inputOf.get(name)!; return { kind: 'varying', home: vecHome(i.buf, i.width, 0, step === undefined ? undefined : step - 1) }; }
    case 'prev': { const s = io.stateOf.get(name)!; return { kind: carry && !io.unrolled ? 'carry' : 'varying', home: vecHome(s.buf, s.width, 0, step) }; }
    default: return null;
  }
}

/** Where the forward pass stores its roots: states one slot on, outputs in their own buffers. */
function forwardRoots(fwd: Graph, io: Io): PassSpec['roots'][number][] {
  const roots: PassSpec['roots'][number][] = [];
  for (const r of fwd.roots) {
    if (r.role === 'state') {
      const s = io.stateOf.get(r.name)!;
      roots.push({ id: r.id, dest: { home: vecHome(s.buf, s.width, 1, r.step), acc: false }, role: io.unrolled ? 'value' : 'carry' });
    } else {
      const o = io.outputOf.get(r.name)!;
      if (!io.ownsBuffer.has(r.name)) continue; // another name of a state or an output: stored there
      roots.push({ id: r.id, dest: { home: vecHome(o.buf, o.width.length === 1 ? o.width[0]! : dimNum(1), 0, r.step === undefined ? undefined : r.step - 1), acc: false }, role: 'value' });
    }
  }
  return roots;
}

/** The buffers of the backward pass's interface: cotangents in, gradients out. */
interface Grads {
  readonly cotangents: CellPlan['cotangents'];
  readonly dparams: CellPlan['dparams'];
  readonly dinputs: CellPlan['dinputs'];
  readonly cotState: ReadonlyMap<string, number>;
  readonly cotOutput: ReadonlyMap<string, number>;
}

function gradientBuffers(t: TypedCell, io: Io, bufs: Table): Grads {
  const cotangents: CellPlan['cotangents'][number][] = [];
  const cotState = new Map<string, number>(), cotOutput = new Map<string, number>();
  for (const s of io.states) {
    const size = s.cols ? [s.width, s.cols] : [s.width];
    const buf = bufs.add({ name: `d${s.key}`, extent: 'states', size, role: 'cot', key: s.key });
    cotState.set(s.key, buf);
    cotangents.push({ key: s.key, kind: 'state', buf, width: size });
  }
  for (const o of t.outputs) {
    const buf = bufs.add({ name: `d${o.name}`, extent: 'seq', size: io.outputWidth(o.name), role: 'cot', key: o.name });
    cotOutput.set(o.name, buf);
    cotangents.push({ key: o.name, kind: 'output', buf, width: io.outputWidth(o.name) });
  }
  const dparams = io.params.map((p) => ({ key: p.key, buf: bufs.add({ name: `d${p.key}`, extent: 'one', size: p.shape.length ? p.shape : [dimNum(1)], role: 'dparam', key: p.key }) }));
  const dinputs = io.inputs.map((i) => ({ key: i.key, buf: bufs.add({ name: `d${i.key}`, extent: 'seq', size: [i.width], role: 'dinput', key: i.key }) }));
  return { cotangents, dparams, dinputs, cotState, cotOutput };
}

/** Where the backward pass stores its roots: parameter gradients summed, input gradients per step, states' cotangents carried. */
function backwardRoots(bwd: Graph, io: Io, grads: Grads): PassSpec['roots'][number][] {
  const dparamOf = new Map(grads.dparams.map((p) => [p.key, p.buf]));
  const dinputOf = new Map(grads.dinputs.map((p) => [p.key, p.buf]));
  return bwd.roots.map((r) => {
    const n = bwd.nodes[r.id]!;
    const width = n.shape.dims[0] ?? dimNum(1);
    let dest: Dest;
    if (r.of === 'param') dest = { home: vecHome(dparamOf.get(r.name)!, width, 0), acc: true };
    else if (r.of === 'input') dest = { home: vecHome(dinputOf.get(r.name)!, width, 0, r.step === undefined ? undefined : r.step - 1), acc: false };
    else dest = { home: vecHome(grads.cotState.get(r.name)!, width, 0, r.step), acc: true };
    return { id: r.id, dest, role: r.of === 'param' ? 'param' : r.of === 'prev' && !io.unrolled ? 'carry' : 'value' };
  });
}

/** Where the backward pass reads a leaf: a saved forward value (`from`) where the forward stored it, a cotangent, or the interface. */
function backwardLeaf(io: Io, grads: Grads, n: Node, from: number | undefined, forwardHomes: ReadonlyMap<number, Home>): ReturnType<PassSpec['leaf']> {
  if (from !== undefined) {
    const h = forwardHomes.get(from);
    if (!h) throw new Error(`lower: forward value %${from} was not saved`);
    return { kind: 'varying', home: h };
  }
  if (n.op === 'cot') {
    const [role, name] = n.attrs.name!.split(':') as [string, string];
    const step = n.attrs.step;
    if (role === 'state') {
      const s = io.stateOf.get(name)!;
      return { kind: io.unrolled ? 'varying' : 'carry', home: vecHome(grads.cotState.get(name)!, s.width, 1, step) };
    }
    const o = io.outputOf.get(name)!;
    return { kind: 'varying', home: vecHome(grads.cotOutput.get(name)!, o.width.length === 1 ? o.width[0]! : dimNum(1), 0, step === undefined ? undefined : step - 1) };
  }
  return interfaceLeaf(io, n, false);
}
