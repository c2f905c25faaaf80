// export/onnx: a compiled cell → an ONNX model (opset 17, float32), encoded with
// protobufjs from the official onnx.proto (onnx-proto.ts). The forward pass
// over T is one `Scan` whose body is the cell's step graph; an unrolled cell is
// its graph laid out straight. Interface (docs/export.md, DESIGN §3):
//
//   inputs:  each cell input [T, B, n] by name, then init_<state> [B, n] for
//            each state, then (paramsAsInputs) each parameter by name, by rows
//   outputs: each state over all steps, then each per-step output, [T, B, n]
//
// Parameters are otherwise initializers holding the values given. Dimensions
// are numbers here (ONNX shapes of parameters are fixed); T and B are free.

import protobuf from 'protobufjs/light.js';
import type { CompiledCell } from '../compile.ts';
import { stateDims, stateShapeDims } from '../check/typed-cell.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { evalDim } from '../ir/dims.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { reachable } from '../ir/graph.ts';
import type { Shape } from '../ir/ops.ts';
import { D } from '../diagnostics.ts';
import { ONNX } from './onnx-ops.ts';
import { ONNX_PROTO } from './onnx-proto.ts';

export const OPSET = 17;
/** The IR version of opset 17 (ONNX 1.12), so that runtimes and checkers from then on load the model. */
export const IR_VERSION = 8;

export interface OnnxOptions {
  /** Every dimension the cell uses, as a number. */
  readonly dims: Readonly<Record<string, number>>;
  /** Parameter values, row-major, by canonical name; required unless paramsAsInputs. */
  readonly params?: Readonly<Record<string, ArrayLike<number>>>;
  readonly paramsAsInputs?: boolean;
}

export type OnnxResult = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export const FLOAT = 1, INT64 = 7;
export const ATTR = { FLOAT: 1, INT: 2, GRAPH: 5, INTS: 7 } as const;

export type Obj = Record<string, unknown>;
export type ShapeDim = number | string;

const root = protobuf.Root.fromJSON(ONNX_PROTO as protobuf.INamespace);
export const ModelProto = root.lookupType('onnx.ModelProto');

export const valueInfo = (name: string, dims: readonly ShapeDim[], elemType = FLOAT): Obj => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(values as ArrayLike<number>);
  const out = new Uint8Array(f.length * 4);
  const view = new DataView(out.buffer);
  f.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return out;
}

/** Value names unique across the model (ONNX graphs are SSA, subgraphs included). */
export class Namer {
  private readonly taken = new Set<string>();
  reserve(name: string) { this.taken.add(name); }
  fresh(base: string): string {
    const stem = base.replace(/[^A-Za-z0-9_]/g, '_') || 'v';
    let name = stem;
    for (let k = 2; this.taken.has(name); k++) name = `${stem}_${k}`;
    this.taken.add(name);
    return name;
  }
}

/** One ONNX graph under construction: its nodes, and the step graph's values by node id. */
export class GraphText {
  readonly nodes: Obj[] = [];
  readonly values = new Map<number, string>();
  readonly diagnostics: Diagnostic[] = [];
  private readonly consts = new Map<string, string>();
  private batchSizes: string | null = null;

  /** `batchRef` names a tensor whose axis `batchAxis` is B. */
  constructor(private readonly namer: Namer, private readonly env: Readonly<Record<string, number>>, private readonly batchRef: () => string, private readonly batchAxis: number, private readonly fallbackSpan: Node['span'] & object) {}

  op(type: string, inputs: readonly string[], attrs: Readonly<Record<string, number | readonly number[] | Obj>> = {}, name?: string): string {
    const out = this.namer.fresh(name ?? type.toLowerCase());
    const attribute = Object.entries(attrs).map(([k, v]) =>
      typeof v === 'number' ? { name: k, type: ATTR.INT, i: v }
        : Array.isArray(v) ? { name: k, type: ATTR.INTS, ints: v }
          : { name: k, type: ATTR.GRAPH, g: v });
    this.nodes.push({ opType: type, input: [...inputs], output: [out], name: out, attribute });
    return out;
  }

  private constant(key: string, tensor: Obj): string {
    const hit = this.consts.get(key);
    if (hit) return hit;
    const out = this.namer.fresh('c');
    this.nodes.push({ opType: 'Constant', input: [], output: [out], name: out, attribute: [{ name: 'value', type: 4, t: { name: out, ...tensor } }] });
    this.consts.set(key, out);
    return out;
  }

  f32 = (v: number) => this.constant(`f${Object.is(v, -0) ? '-0' : v}`, { dataType: FLOAT, dims: [], rawData: f32Bytes([v]) });
  i64 = (vs: readonly number[]) => this.constant(`i${vs.join(',')}`, { dataType: INT64, dims: [vs.length], int64Data: [...vs] });
  i64Scalar = (v: number) => this.constant(`s${v}`, { dataType: INT64, dims: [], int64Data: [v] });

  dim = (d: Dim): number => evalDim(d, this.env)!;

  /** [B, n, …] as an int64 value: B from the shape of a per-example tensor of this graph. */
  sizes = (s: Shape): string => {
    const feat = s.dims.map(this.dim);
    if (!s.batch) return this.i64(feat);
    this.batchSizes ??= this.op('Slice', [this.op('Shape', [this.batchRef()]), this.i64([this.batchAxis]), this.i64([this.batchAxis + 1])], {}, 'B');
    return feat.length ? this.op('Concat', [this.batchSizes, this.i64(feat)], { axis: 0 }) : this.batchSizes;
  };

  /** Render every live node of a step graph whose leaves are already in `values`. */
  render(g: Graph, live: ReadonlySet<number>): void {
    for (const n of g.nodes) {
      if (!live.has(n.id) || this.values.has(n.id)) continue;
      const arg = (i: number) => this.values.get(n.inputs[i]!)!;
      const r = ONNX[n.op]({
        node: n,
        input: (i) => g.nodes[n.inputs[i]!]!,
        arg,
        ew: (i) => {
          const x = g.nodes[n.inputs[i]!]!;
          if (!(x.shape.batch && x.shape.dims.length === 0 && n.shape.dims.length > 0)) return arg(i);
          return this.op('Unsqueeze', [arg(i), this.i64(n.shape.dims.map((_, k) => k - n.shape.dims.length))]);
        },
        op: (type, inputs, attrs) => this.op(type, inputs, attrs, g.labels[n.id]),
        f32: this.f32,
        i64: this.i64,
        dim: this.dim,
        sizes: this.sizes,
      });
      if (typeof r !== 'string') {
        this.diagnostics.push(D.cannotExport(n.span ?? this.fallbackSpan, 'ONNX', `\`${n.op}\`: ${r.unsupported}`));
        this.values.set(n.id, 'missing');
      } else this.values.set(n.id, r);
    }
  }

  /** A value as [B, …]: one without the batch axis is expanded over it. */
  batched(id: number, g: Graph): string {
    const n = g.nodes[id]!;
    const v = this.values.get(id)!;
    return n.shape.batch ? v : this.op('Expand', [v, this.sizes({ batch: true, dims: n.shape.dims })]);
  }
}

export function exportOnnx(cell: CompiledCell, opts: OnnxOptions): OnnxResult {
  const t = cell.typed, g = cell.forward;
  const diagnostics: Diagnostic[] = [];
  const env = opts.dims;
  const unbound = new Set<string>();
  const need = (d: Dim) => d.terms.forEach(([v]) => { if (env[v] === undefined) unbound.add(v); });
  t.params.forEach((p) => p.shape.forEach(need));
  t.inputs.forEach((i) => need(i.dim));
  t.states.forEach((s) => stateDims(s).forEach(need));
  t.outputs.forEach((o) => o.shape.dims.forEach(need));
  if (unbound.size) return { ok: false, diagnostics: [D.cannotExport(t.span, 'ONNX', `no size for ${[...unbound].map((v) => `\`${v}\``).join(', ')}: the shapes of an ONNX model's parameters are numbers`, 'bind every dimension (--dims n_x=4,n_a=3, or the shapes of --params)')] };
  if (t.inputs.length === 0) diagnostics.push(D.cannotExport(t.span, 'ONNX', `cell \`${t.name}\` has no input: an ONNX Scan over T needs at least one`));
  if (!opts.paramsAsInputs) for (const p of t.params) if (!opts.params?.[p.name]) diagnostics.push(D.cannotExport(t.span, 'ONNX', `no value for parameter \`${p.name}\``, 'give the parameters, or export with --params-as-inputs'));
  if (diagnostics.length) return { ok: false, diagnostics };

  const namer = new Namer();
  const size = (d: Dim) => evalDim(d, env)!;
  const interfaceNames = [...t.inputs.map((i) => i.name), ...t.states.map((s) => `init_${s.name}`), ...t.params.map((p) => p.name), ...t.states.map((s) => s.name), ...t.outputs.map((o) => o.name)];
  const dup = interfaceNames.find((n, i) => interfaceNames.indexOf(n) !== i);
  if (dup !== undefined) return { ok: false, diagnostics: [D.exportName(t.span, 'ONNX', dup, 'names two values of the model\'s interface')] };
  interfaceNames.forEach((n) => namer.reserve(n));

  const inputs = [
    ...t.inputs.map((i) => valueInfo(i.name, ['T', 'B', size(i.dim)])),
    ...t.states.map((s) => valueInfo(`init_${s.name}`, ['B', ...stateFeat(s, size)])),
    ...(opts.paramsAsInputs ? t.params.map((p) => valueInfo(p.name, p.shape.map(size))) : []),
  ];
  // a parameter the simplified graph no longer reads is left out (with --params-as-inputs it stays an input: the interface is fixed)
  const live = reachable(g);
  const used = new Set(g.nodes.filter((n) => n.op === 'param' && live.has(n.id)).map((n) => n.attrs.name!));
  const initializer = opts.paramsAsInputs ? [] : t.params.filter((p) => used.has(p.name)).map((p) => ({ name: p.name, dataType: FLOAT, dims: p.shape.map(size), rawData: f32Bytes(opts.params![p.name]!) }));
  const outputs = [
    ...t.states.map((s) => valueInfo(s.name, ['T', 'B', ...stateFeat(s, size)])),
    ...t.outputs.map((o) => valueInfo(o.name, ['T', 'B', ...o.shape.dims.map(size)])),
  ];
  const main = new GraphText(namer, env, () => t.inputs[0]!.name, 1, t.span);
  for (const n of g.nodes) if (n.op === 'param') main.values.set(n.id, n.attrs.name!);

  if (t.mode === 'unrolled') unrolled(cell, main, live);
  else {
    const bodyResult = scanBody(cell, namer, env, live);
    if ('diagnostics' in bodyResult) return { ok: false, diagnostics: bodyResult.diagnostics };
    const finals = t.states.map((s) => namer.fresh(`${s.name}_final`));
    main.nodes.push({
      opType: 'Scan', name: namer.fresh('scan'),
      input: [...t.states.map((s) => `init_${s.name}`), ...t.inputs.map((i) => i.name)],
      output: [...finals, ...t.states.map((s) => s.name), ...t.outputs.map((o) => o.name)],
      attribute: [{ name: 'body', type: ATTR.GRAPH, g: bodyResult.body }, { name: 'num_scan_inputs', type: ATTR.INT, i: t.inputs.length }],
    });
  }
  if (main.diagnostics.length) return { ok: false, diagnostics: main.diagnostics };

  const model = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'celda',
    docString: `celda cell ${t.name}: inputs [T, B, n], init_<state> [B, n]; outputs every state and per-step output [T, B, n]`,
    graph: { name: t.name.replace(/[^A-Za-z0-9_]/g, '_'), node: main.nodes, input: inputs, output: outputs, initializer },
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`internal: ONNX model does not verify: ${problem}`);
  return { ok: true, bytes: ModelProto.encode(ModelProto.fromObject(model)).finish() };
}

/** A state's feature axes: none for a scalar state (`state m : 1`, [B]), else its size. */
const stateFeat = (s: { dim: Dim; scalar?: true; cols?: Dim }, size: (d: Dim) => number): number[] => stateShapeDims(s).map(size);

/** The Scan body: (states at t-1, inputs at t) → (states at t, states at t again as scan outputs, outputs at t). */
export function scanBody(cell: CompiledCell, namer: Namer, env: Readonly<Record<string, number>>, live: ReadonlySet<number>, paramName: (name: string) => string = (n) => n): { body: Obj } | { diagnostics: Diagnostic[] } {
  const t = cell.typed, g = cell.forward;
  const size = (d: Dim) => evalDim(d, env)!;
  const prevName = new Map(t.states.map((s) => [s.name, namer.fresh(`${s.name}_prev`)]));
  const inName = new Map(t.inputs.map((i) => [i.name, namer.fresh(`${i.name}_t`)]));
  const body = new GraphText(namer, env, () => [...prevName.values()][0] ?? [...inName.values()][0]!, 0, t.span);
  for (const n of g.nodes) {
    if (n.op === 'param') body.values.set(n.id, paramName(n.attrs.name!));
    if (n.op === 'prev') body.values.set(n.id, prevName.get(n.attrs.name!)!);
    if (n.op === 'input') body.values.set(n.id, inName.get(n.attrs.name!)!);
  }
  body.render(g, live);
  if (body.diagnostics.length) return { diagnostics: body.diagnostics };
  const rootOf = (role: 'state' | 'output', name: string) => g.roots.find((r) => r.role === role && r.name === name)!.id;
  const out = (role: 'state' | 'output', name: string, suffix: string) => body.op('Identity', [body.batched(rootOf(role, name), g)], {}, `${name}_${suffix}`);
  const next = t.states.map((s) => out('state', s.name, 'next'));
  const stateSeq = t.states.map((s) => out('state', s.name, 't'));
  const outSeq = t.outputs.map((o) => out('output', o.name, 't'));
  return {
    body: {
      name: 'step',
      node: body.nodes,
      input: [...t.states.map((s) => valueInfo(prevName.get(s.name)!, ['B', ...stateFeat(s, size)])), ...t.inputs.map((i) => valueInfo(inName.get(i.name)!, ['B', size(i.dim)]))],
      output: [
        ...t.states.map((s, k) => valueInfo(next[k]!, ['B', ...stateFeat(s, size)])),
        ...t.states.map((s, k) => valueInfo(stateSeq[k]!, ['B', ...stateFeat(s, size)])),
        ...t.outputs.map((o, k) => valueInfo(outSeq[k]!, ['B', ...o.shape.dims.map(size)])),
      ],
    },
  };
}

/** An unrolled cell: its steps in the main graph, x^<k> = x[k-1], each result stacked over the steps. */
function unrolled(cell: CompiledCell, main: GraphText, live: ReadonlySet<number>): void {
  const t = cell.typed, g = cell.forward;
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    if (n.op === 'input') main.values.set(n.id, main.op('Gather', [n.attrs.name!, main.i64Scalar(n.attrs.step! - 1)], { axis: 0 }, `${n.attrs.name}_${n.attrs.step}`));
    if (n.op === 'prev') main.values.set(n.id, `init_${n.attrs.name}`);
  }
  main.render(g, live);
  // every step 1 … T: a step no equation defines (an output at some steps only, a hole) holds zeros, as in every backend —
  // one zeros value per name, which each of its holes reads
  const stack = (role: 'state' | 'output', name: string) => {
    const rs = g.roots.filter((r) => r.role === role && r.name === name);
    // each root's value as [B, …], made once (batched() adds an Expand for a root without the batch axis)
    const rows = new Map<number, string>();
    const batched = (id: number) => rows.get(id) ?? rows.set(id, main.batched(id, g)).get(id)!;
    let hole: string | undefined;
    const zeros = () => (hole ??= main.op('Unsqueeze', [main.op('Expand', [main.f32(0), main.op('Shape', [batched(rs[0]!.id)])]), main.i64([0])], {}, `${name}_hole`));
    const steps = Array.from({ length: t.steps }, (_, k) => {
      const r = rs.find((x) => x.step === k + 1);
      return r ? main.op('Unsqueeze', [batched(r.id), main.i64([0])]) : zeros();
    });
    main.nodes.push({ opType: 'Concat', name: `${name}_steps`, input: steps, output: [name], attribute: [{ name: 'axis', type: ATTR.INT, i: 0 }] });
  };
  t.states.forEach((s) => stack('state', s.name));
  t.outputs.forEach((o) => stack('output', o.name));
}
