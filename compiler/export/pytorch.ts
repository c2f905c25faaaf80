// export/pytorch: a compiled cell → one readable Python module (torch only) with
// `class <Cell>(torch.nn.Module)`. Pure CompiledCell → string, built from the
// forward graph (never from source text): one Python line per equation, named
// after the notation, the equation above it as a comment. Gradients come from
// torch's autograd; the tests hold them to celda's symbolic ones.
//
//   model = GRU(n_x=4, n_a=3, dtype=torch.float64)
//   states, outputs = model({"x": x})            # x: [T, B, n_x]
//   states["c"], outputs["a"]                     # [T, B, n_a]

import type { CompiledCell } from '../compile.ts';
import { stateShapeDims } from '../check/typed-cell.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import type { Graph, Node, Root } from '../ir/graph.ts';
import { reachable } from '../ir/graph.ts';
import type { Shape } from '../ir/ops.ts';
import { leafText, printCell, printExpr, timed } from '../print/notation.ts';
import { spell } from '../../grammar/names.ts';
import { D } from '../diagnostics.ts';
import type { PyText } from './pytorch-ops.ts';
import { PREC, PYTORCH } from './pytorch-ops.ts';
import { pyComment, pyIdentifier, PyNames, pyNumber, pyString } from './python-text.ts';

export type ExportResult =
  | { readonly ok: true; readonly code: string }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

const IND = '    ';

/** Names a module's code uses itself; a cell's names are kept off them. */
const RESERVED = ['self', 'torch', 'nn', 'F', 'Tensor', 'Dict', 'List', 'Optional', 'Tuple', 'math', 'B', 'T', 't',
  'inputs', 'inputs_t', 'init', 'given', 'states', 'states_prev', 'outputs', 'ref', 'dtype', 'float', 'int', 'range', 'max', 'len'];

/** Attributes every torch.nn.Module has: a parameter or dimension may not shadow them. */
const MODULE_ATTRS = new Set(['forward', 'step', 'initial_states', 'reset_parameters', 'training', 'dump_patches', 'call_super_init',
  'to', 'cpu', 'cuda', 'float', 'double', 'half', 'type', 'eval', 'train', 'apply', 'state_dict', 'load_state_dict', 'parameters',
  'named_parameters', 'buffers', 'children', 'modules', 'zero_grad', 'register_buffer', 'register_parameter', 'add_module', 'get_parameter',
  'requires_grad_', 'extra_repr', 'share_memory', 'bfloat16', 'xpu', 'ipu', 'to_empty', 'get_submodule', 'get_buffer']);

export interface PytorchOptions {
  /** `celda`: the step's backward is celda's own derivative (a torch.autograd.Function); `autograd` (default): torch's. */
  readonly vjp?: 'autograd' | 'celda';
}

export function exportPytorch(cell: CompiledCell, opts: PytorchOptions = {}): ExportResult {
  const t = cell.typed;
  const diagnostics: Diagnostic[] = [];
  const attr = new Map<string, string>();
  for (const p of t.params) attr.set(p.name, pyIdentifier(p.name));
  for (const d of t.dims) attr.set(d, pyIdentifier(d));
  const g = cell.forward;
  // a dimension is also a keyword argument of __init__, beside `self` and `dtype`
  for (const d of t.dims) if (attr.get(d) === 'dtype' || attr.get(d) === 'self') diagnostics.push(D.exportName(t.span, 'PyTorch', d, `is a keyword argument of the module's __init__ already`));
  for (const [name, a] of attr) {
    if (MODULE_ATTRS.has(a)) {
      const leafNode = g.nodes.find((n) => n.op === 'param' && n.attrs.name === name);
      diagnostics.push(D.exportName(leafNode?.span ?? t.span, 'PyTorch', name, `is the name of a torch.nn.Module attribute (\`self.${a}\`)`));
    }
  }
  const body = new StepBody(cell, attr);
  diagnostics.push(...body.diagnostics);
  if (t.mode === 'unrolled') {
    for (const s of t.states) for (let k = 1; k <= t.steps; k++)
      if (!g.roots.some((r) => r.role === 'state' && r.name === s.name && r.step === k)) diagnostics.push(D.cannotExport(t.span, 'PyTorch', `state \`${s.name}\` is not defined at step ${k}`, 'an unrolled cell exports when it defines every state at every step'));
  }
  let vjp: StepBody | null = null;
  if (opts.vjp === 'celda') {
    if (t.mode === 'unrolled') diagnostics.push(D.cannotExport(t.span, 'PyTorch', '--vjp celda: an unrolled cell has no step to give a backward', 'export it without --vjp celda (autograd differentiates the unrolled graph)'));
    else {
      vjp = new StepBody(cell, attr, cell.backward);
      diagnostics.push(...vjp.diagnostics);
    }
  }
  if (diagnostics.length) return { ok: false, diagnostics };
  return { ok: true, code: new ModuleText(cell, attr, body, vjp).text() };
}

// ---------------------------------------------------------------- the step's lines

class StepBody {
  readonly diagnostics: Diagnostic[] = [];
  readonly lines: string[] = [];
  /** Variables of materialised nodes (leaves, named values, shared subexpressions). */
  readonly varOf = new Map<number, string>();
  /** Leaf variables and what they read: `x_t` ← inputs_t["x"], `c_prev` ← states_prev["c"]. */
  readonly leaves: { id: number; name: string; v: string; op: 'input' | 'prev' | 'cot'; step?: number }[] = [];
  /** The variable of each root, by its index in g.roots. */
  readonly rootVar: string[] = [];
  /** Each root's value as [B, …], by its index in g.roots. */
  readonly rootValues: string[];
  usesBatch = false;
  usesLike = false;
  private readonly names = new PyNames(RESERVED);
  private readonly g: Graph;
  private readonly notation = new Map<number, string>();

  /** The step's graph, or (`graph`) its VJP: then the cotangent leaves are read from `cotangents`, the roots are gradients. */
  constructor(private readonly cell: CompiledCell, private readonly attr: ReadonlyMap<string, string>, graph: Graph = cell.forward) {
    const g = (this.g = graph);
    const unrolled = cell.typed.mode === 'unrolled';
    for (const a of attr.values()) this.names.fresh(a);
    const live = reachable(g);
    const uses = new Map<number, number>();
    for (const n of g.nodes) if (live.has(n.id)) for (const x of n.inputs) uses.set(x, (uses.get(x) ?? 0) + 1);

    for (const n of g.nodes) {
      if (!live.has(n.id)) continue;
      if (n.op === 'param') this.varOf.set(n.id, `self.${attr.get(n.attrs.name!)!}`);
      else if (n.op === 'input' || n.op === 'prev' || n.op === 'cot') {
        const when = n.attrs.step !== undefined ? String(n.attrs.step) : n.op === 'input' ? 't' : 'prev';
        const v = this.names.fresh(n.op === 'cot' ? `ct_${n.attrs.name!.split(':').at(-1)!}` : `${n.attrs.name!}_${when}`);
        this.varOf.set(n.id, v);
        this.leaves.push({ id: n.id, name: n.attrs.name!, v, op: n.op, ...(n.attrs.step !== undefined ? { step: n.attrs.step } : {}) });
      }
      const nt = leafText(n, 'unicode', unrolled);
      if (nt !== undefined && n.op !== 'const' && n.op !== 'zeros') this.notation.set(n.id, nt);
    }

    // Named values in graph order, as printCell lists them: labels, then the roots they define.
    const events = [
      ...Object.entries(g.labels).map(([id, name]) => ({ id: Number(id), base: name, lhs: spell(name, 'unicode'), root: -1 })).filter((e) => live.has(e.id)),
      ...g.roots.map((r, i) => ({ id: r.id, base: rootBase(r), lhs: r.role === 'grad' ? `∂/∂${r.of === 'param' ? spell(r.name, 'unicode') : timed(r.name, r.of === 'prev' ? 't-1' : 't', 'unicode')}` : timed(r.name, r.step !== undefined ? String(r.step) : 't', 'unicode'), root: i })),
    ].sort((a, b) => a.id - b.id || (a.root < 0 ? -1 : 0) - (b.root < 0 ? -1 : 0) || a.root - b.root);
    const byId = new Map<number, typeof events>();
    for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);

    for (const n of g.nodes) {
      if (!live.has(n.id)) continue;
      const named = byId.get(n.id);
      const isLeafVar = this.varOf.has(n.id);
      if (!named) {
        if (!isLeafVar && n.op !== 'const' && (uses.get(n.id) ?? 0) >= 2) {
          // a shared [u, v] is named after its parts (`c_prev_x_t`), anything else after its node
          const parts = n.op === 'concat' ? n.inputs.map((x) => this.varOf.get(x)) : [];
          const v = this.names.fresh(parts.length && parts.every((x) => x !== undefined && !x.startsWith('self.')) ? parts.join('_') : `_${n.id}`);
          this.line(v, n, printExpr(n.id, this.printer(), true));
        }
        continue;
      }
      for (const e of named) {
        const v = this.names.fresh(e.base);
        if (this.varOf.has(n.id)) this.alias(v, this.varOf.get(n.id)!, `${e.lhs} = ${this.notation.get(n.id)}`);
        else this.line(v, n, `${e.lhs} = ${printExpr(n.id, this.printer(), true)}`);
        if (!this.notation.has(n.id)) this.notation.set(n.id, e.lhs);
        if (e.root >= 0) this.rootVar[e.root] = v;
      }
    }
    this.rootValues = g.roots.map((_, i) => this.rootValue(i));
  }

  /** A variable name not yet taken in this body (nor by the module's own names). */
  fresh(base: string): string {
    return this.names.fresh(base);
  }

  private printer() {
    return { g: this.g, sp: 'unicode' as const, nameOf: (id: number) => this.notation.get(id) };
  }

  private alias(v: string, of: string, comment: string) {
    this.lines.push(`# ${pyComment(comment)}`, `${v} = ${of}`);
  }

  private line(v: string, n: Node, comment: string) {
    const text = this.render(n.id)[0];
    this.lines.push(`# ${pyComment(comment)}`, `${v} = ${text}`);
    this.varOf.set(n.id, v);
  }

  render(id: number): PyText {
    const v = this.varOf.get(id);
    if (v !== undefined) return [v, PREC.atom];
    const n = this.g.nodes[id]!;
    const sub = (i: number, min: number) => {
      const [s, p] = this.render(n.inputs[i]!);
      return p < min ? `(${s})` : s;
    };
    const r = PYTORCH[n.op]({
      node: n,
      input: (i) => this.g.nodes[n.inputs[i]!]!,
      arg: sub,
      ew: (i, min) => {
        const x = this.g.nodes[n.inputs[i]!]!;
        if (!(x.shape.batch && x.shape.dims.length === 0 && n.shape.dims.length > 0)) return sub(i, min);
        return sub(i, PREC.atom) + '.unsqueeze(-1)'.repeat(n.shape.dims.length);
      },
      tensor: (i) => {
        const x = this.g.nodes[n.inputs[i]!]!;
        if (x.op !== 'const') return sub(i, 0);
        return `torch.full([], ${pyNumber(x.attrs.value!)}, ${this.like()})`;
      },
      dim: (d) => this.dim(d),
      sizes: (s) => this.sizes(s),
      like: () => this.like(),
    });
    if ('unsupported' in r) {
      this.diagnostics.push(D.cannotExport(n.span ?? this.cell.typed.span, 'PyTorch', `\`${n.op}\`: ${r.unsupported}`));
      return ['None', PREC.atom];
    }
    return r;
  }

  dim(d: Dim): string {
    return pyDim(d, (v) => `self.${this.attr.get(v) ?? pyIdentifier(v)}`);
  }

  sizes(s: Shape): string {
    if (s.batch) this.usesBatch = true;
    return `[${[...(s.batch ? ['B'] : []), ...s.dims.map((d) => this.dim(d))].join(', ')}]`;
  }

  like(): string {
    this.usesLike = true;
    return 'dtype=ref.dtype, device=ref.device';
  }

  /** A root's value as [B, …]: one without the batch axis is repeated over it. */
  private rootValue(i: number): string {
    const r = this.g.roots[i]!;
    const n = this.g.nodes[r.id]!;
    const v = this.rootVar[i]!;
    if (n.shape.batch || (r.role === 'grad' && r.of === 'param')) return v;
    return `${v}.expand(${this.sizes({ batch: true, dims: n.shape.dims })})`;
  }
}

const rootBase = (r: Root) => (r.role === 'grad' ? `d${r.name}${r.of === 'prev' ? '_prev' : ''}` : r.step !== undefined ? `${r.name}_${r.step}` : r.name);

/** A dimension as a Python int expression. */
export function pyDim(d: Dim, name: (v: string) => string): string {
  const parts: string[] = [];
  for (const [v, c] of d.terms) {
    const mag = Math.abs(c) === 1 ? name(v) : `${Math.abs(c)} * ${name(v)}`;
    parts.push(parts.length === 0 ? (c < 0 ? `-${mag}` : mag) : `${c < 0 ? '-' : '+'} ${mag}`);
  }
  if (d.k !== 0 || parts.length === 0) parts.push(parts.length === 0 ? String(d.k) : `${d.k < 0 ? '-' : '+'} ${Math.abs(d.k)}`);
  return parts.join(' ');
}

// ---------------------------------------------------------------- the module

class ModuleText {
  private readonly t: CompiledCell['typed'];
  private readonly cls: string;

  constructor(private readonly cell: CompiledCell, private readonly attr: ReadonlyMap<string, string>, private readonly body: StepBody, private readonly vjp: StepBody | null = null) {
    this.t = cell.typed;
    this.cls = pyIdentifier(cell.name);
  }

  text(): string {
    const L: string[] = [];
    L.push(...this.header(), '', 'import math', 'from typing import Dict, List, Optional, Tuple', '', 'import torch', 'import torch.nn.functional as F', 'from torch import Tensor, nn', '', '');
    L.push(...this.meta(), '', '');
    L.push(`class ${this.cls}(nn.Module):`);
    L.push(...this.doc().map((l) => IND + l), '');
    L.push(...this.init().map((l) => (l ? IND + l : l)), '');
    L.push(...this.reset().map((l) => IND + l), '');
    L.push(...this.initialStates().map((l) => IND + l), '');
    if (this.t.mode === 'step') L.push(...this.step().map((l) => IND + l), '', ...this.forwardLoop().map((l) => IND + l));
    else L.push(...this.forwardUnrolled().map((l) => IND + l));
    if (this.vjp) L.push('', ...this.celdaStep().map((l) => IND + l), '', ...this.stepVjp(this.vjp).map((l) => IND + l), '', '', ...this.stepFunction());
    return L.join('\n').replace(/[ ]+$/gm, '') + '\n';
  }

  private header(): string[] {
    const lines = [
      `celda: the cell \`${this.cell.name}\`, exported to PyTorch.`,
      'Generated from the cell\'s graph by `celda export --to pytorch`; torch only.',
      '',
      ...printCell(this.t, this.cell.forward, 'unicode').trimEnd().split('\n'),
    ];
    return lines.map((l) => `# ${pyComment(l)}`.trimEnd());
  }

  /** What a training script needs to wire the module up without reading the cell: names and the dimension of each. */
  private meta(): string[] {
    const t = this.t;
    const dimOf = (d: Dim) => pyString(pyDim(d, (v) => this.attr.get(v) ?? pyIdentifier(v)));
    const table = (xs: readonly { name: string; dim: Dim }[]) => `{${xs.map((x) => `${pyString(x.name)}: ${dimOf(x.dim)}`).join(', ')}}`;
    return [
      '# The cell\'s interface: the dimension (a keyword of __init__, or a sum of them) of each input, state and output.',
      'CELL = {',
      `    "class": ${pyString(this.cls)},`,
      `    "dims": [${t.dims.map((d) => pyString(this.attr.get(d)!)).join(', ')}],`,
      `    "inputs": ${table(t.inputs)},`,
      // a scalar state (`state m : 1`) is [B] per step: its dimension is 1
      `    "states": ${table(t.states)},`,
      `    "outputs": {${t.outputs.map((o) => `${pyString(o.name)}: [${o.shape.dims.map(dimOf).join(', ')}]`).join(', ')}},`,
      `    "steps": ${t.mode === 'unrolled' ? t.steps : 'None'},`,
      '}',
    ];
  }

  private dimKw(): string[] {
    const t = this.t;
    return t.dims.map((d) => `${this.attr.get(d)!}: int${t.dimDefaults[d] !== undefined ? ` = ${t.dimDefaults[d]}` : ''}`);
  }

  private doc(): string[] {
    const t = this.t;
    const ex = t.inputs[0]?.name;
    return [
      `"""${pyComment(`${this.cell.name} as a torch.nn.Module.`).replace(/["\\]/g, '_')}`,
      '',
      'forward(inputs, init) takes each input as [T, B, n] by name and returns',
      '(states, outputs): every state and per-step output over all steps, [T, B, n],',
      'by name (the meaning of `celda eval`). A state missing from init starts at the',
      'cell\'s declared initial value. Parameters are attributes under their names,',
      'matrices by rows (W v is F.linear(v, W)).',
      ...(ex !== undefined ? ['', `Example: states, outputs = model({${pyString(ex)}: x})`] : []),
      '"""',
    ];
  }

  private init(): string[] {
    const t = this.t;
    const kw = [...this.dimKw(), 'dtype: torch.dtype = torch.float32'];
    const L = [`def __init__(self, *, ${kw.join(', ')}) -> None:`, `${IND}super().__init__()`];
    for (const d of t.dims) L.push(`${IND}self.${this.attr.get(d)!} = ${this.attr.get(d)!}`);
    for (const p of t.params) {
      const sizes = p.shape.map((d) => pyDim(d, (v) => this.attr.get(v) ?? pyIdentifier(v)));
      L.push(`${IND}self.${this.attr.get(p.name)!} = nn.Parameter(torch.empty([${sizes.join(', ')}], dtype=dtype))`);
    }
    L.push(`${IND}self.reset_parameters()`);
    return L;
  }

  private reset(): string[] {
    const t = this.t;
    const L = [
      'def reset_parameters(self) -> None:',
      `${IND}"""celda's default: uniform in ±1/√fan_in (a matrix's columns, a vector's length), from torch's generator."""`,
      `${IND}with torch.no_grad():`,
    ];
    const self = (v: string) => `self.${this.attr.get(v) ?? pyIdentifier(v)}`;
    const pairs = t.params.map((p) => {
      const fanIn = p.shape.length === 2 ? p.shape[1]! : p.shape.length === 1 ? p.shape[0]! : undefined;
      return `(self.${this.attr.get(p.name)!}, ${fanIn === undefined ? '1' : pyDim(fanIn, self)})`;
    });
    if (pairs.length === 0) L.push(`${IND}${IND}pass`);
    else L.push(`${IND}${IND}for p, fan_in in [${pairs.join(', ')}]:`, `${IND}${IND}${IND}s = 1.0 / math.sqrt(max(1, fan_in))`, `${IND}${IND}${IND}p.uniform_(-s, s)`);
    return L;
  }

  private initialStates(): string[] {
    const L = [
      'def initial_states(self, B: int, ref: Tensor, init: Optional[Dict[str, Tensor]] = None) -> Dict[str, Tensor]:',
      `${IND}"""The states at t = 0: those given in init, the others at the cell's declared initial value."""`,
      `${IND}given: Dict[str, Tensor] = {}`,
      `${IND}if init is not None:`,
      `${IND}${IND}given = init`,
      `${IND}states: Dict[str, Tensor] = {}`,
    ];
    for (const s of this.t.states) {
      const k = pyString(s.name);
      L.push(`${IND}if ${k} in given:`, `${IND}${IND}states[${k}] = given[${k}]`, `${IND}else:`,
        `${IND}${IND}states[${k}] = torch.full([${['B', ...stateShapeDims(s).map((d) => this.body.dim(d))].join(', ')}], ${pyNumber(s.init)}, dtype=ref.dtype, device=ref.device)`);
    }
    L.push(`${IND}return states`);
    return L;
  }

  /** The statements that bind B and ref (the batch size, and the tensor whose dtype and device new tensors take). */
  private batchAndRef(from: string | undefined, b: StepBody = this.body): string[] {
    if (!b.usesBatch && !b.usesLike) return [];
    if (from === undefined) return [`ref = ${this.firstParam()}`, 'B = 1'];
    return [...(b.usesBatch ? [`B = ${from}.shape[0]`] : []), ...(b.usesLike ? [`ref = ${from}`] : [])];
  }

  private firstParam(): string {
    const p = this.t.params[0];
    return p ? `self.${this.attr.get(p.name)!}` : 'torch.zeros([])';
  }

  private step(): string[] {
    const t = this.t, b = this.body;
    const L = [
      `def ${this.vjp ? 'step_values' : 'step'}(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:`,
      `${IND}"""One step: the inputs at t ([B, n] by name) and the states at t-1 → (states at t, outputs at t).${this.vjp ? ' Differentiated by autograd; step() is the same step with celda\'s own derivative.' : ''}"""`,
    ];
    for (const l of b.leaves) L.push(`${IND}${l.v} = ${l.op === 'input' ? 'inputs_t' : 'states_prev'}[${pyString(l.name)}]`);
    const first = b.leaves[0];
    const fallback = t.inputs[0] ? `inputs_t[${pyString(t.inputs[0].name)}]` : t.states[0] ? `states_prev[${pyString(t.states[0].name)}]` : undefined;
    L.push(...this.batchAndRef(first?.v ?? fallback).map((l) => IND + l));
    L.push(...b.lines.map((l) => IND + l));
    const dict = (role: 'state' | 'output') => `{${this.cell.forward.roots.flatMap((r, i) => (r.role === role ? [`${pyString(r.name)}: ${b.rootValues[i]}`] : [])).join(', ')}}`;
    const ret = `return ${dict('state')}, ${dict('output')}`;
    L.push(`${IND}${ret}`);
    return L;
  }

  /** The argument order of the autograd.Function: inputs, states at t-1, parameters. */
  private fnArgs() {
    const t = this.t;
    return [
      ...t.inputs.map((i) => ({ kind: 'input' as const, name: i.name, ref: `inputs_t[${pyString(i.name)}]` })),
      ...t.states.map((st) => ({ kind: 'prev' as const, name: st.name, ref: `states_prev[${pyString(st.name)}]` })),
      ...t.params.map((p) => ({ kind: 'param' as const, name: p.name, ref: `self.${this.attr.get(p.name)!}` })),
    ];
  }

  /** The results of a step, in order: states, then outputs. */
  private fnResults() {
    return [...this.t.states.map((st) => ({ role: 'state' as const, name: st.name })), ...this.t.outputs.map((o) => ({ role: 'output' as const, name: o.name }))];
  }

  private celdaStep(): string[] {
    const res = this.fnResults();
    const dict = (role: 'state' | 'output') => `{${res.flatMap((r, i) => (r.role === role ? [`${pyString(r.name)}: out[${i}]`] : [])).join(', ')}}`;
    return [
      'def step(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:',
      `${IND}"""One step, whose backward is celda's own derivative (step_vjp, the graph \`celda grad\` prints) rather than autograd's."""`,
      `${IND}out = ${this.cls}Step.apply(self, ${this.fnArgs().map((a) => a.ref).join(', ')})`,
      `${IND}return ${dict('state')}, ${dict('output')}`,
    ];
  }

  private stepVjp(b: StepBody): string[] {
    const t = this.t;
    const L = [
      'def step_vjp(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor], cotangents: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor], Dict[str, Tensor]]:',
      `${IND}"""celda's VJP of one step: the cotangents of the states and outputs at t ("state:c", "output:a": [B, n]) →`,
      `${IND}(gradients of the parameters, summed over the batch; of the states at t-1; of the inputs at t), by name."""`,
    ];
    for (const l of b.leaves) L.push(`${IND}${l.v} = ${l.op === 'input' ? 'inputs_t' : l.op === 'prev' ? 'states_prev' : 'cotangents'}[${pyString(l.name)}]`);
    const first = b.leaves.find((l) => l.op !== 'cot') ?? b.leaves[0];
    const fallback = t.inputs[0] ? `inputs_t[${pyString(t.inputs[0].name)}]` : t.states[0] ? `states_prev[${pyString(t.states[0].name)}]` : undefined;
    L.push(...this.batchAndRef(first?.v ?? fallback, b).map((l) => IND + l));
    L.push(...b.lines.map((l) => IND + l));
    const g = this.cell.backward;
    const dict = (of: 'param' | 'prev' | 'input') => `{${g.roots.flatMap((r, i) => (r.role === 'grad' && r.of === of ? [`${pyString(r.name)}: ${b.rootValues[i]}`] : [])).join(', ')}}`;
    L.push(`${IND}return ${dict('param')}, ${dict('prev')}, ${dict('input')}`);
    return L;
  }

  /** The torch.autograd.Function that runs step_values forward and step_vjp backward. */
  private stepFunction(): string[] {
    const args = this.fnArgs(), res = this.fnResults();
    const at = (kind: 'input' | 'prev') => `{${args.flatMap((a, i) => (a.kind === kind ? [`${pyString(a.name)}: args[${i}]`] : [])).join(', ')}}`;
    // .get: a parameter the simplified step no longer reads has no gradient (None to autograd)
    const grads = args.map((a) => `${a.kind === 'param' ? 'd_params' : a.kind === 'prev' ? 'd_prev' : 'd_inputs'}.get(${pyString(a.name)})`);
    return [
      `class ${this.cls}Step(torch.autograd.Function):`,
      `${IND}"""One step of ${pyComment(this.cell.name).replace(/["\\]/g, '_')} with celda's symbolic derivative as its backward. Arguments: the module, then`,
      `${IND}${args.map((a) => a.name).join(', ')} (inputs at t, states at t-1, parameters); results: ${res.map((r) => r.name).join(', ')}."""`,
      '',
      `${IND}@staticmethod`,
      `${IND}def forward(ctx, module: ${this.cls}, *args: Tensor) -> Tuple[Tensor, ...]:  # type: ignore[override]`,
      `${IND}${IND}ctx.module = module`,
      `${IND}${IND}ctx.save_for_backward(*args)`,
      `${IND}${IND}states, outputs = module.step_values(${at('input')}, ${at('prev')})`,
      `${IND}${IND}return (${res.map((r) => `${r.role === 'state' ? 'states' : 'outputs'}[${pyString(r.name)}].clone()`).join(', ')},)`,
      '',
      `${IND}@staticmethod`,
      `${IND}def backward(ctx, *cots: Tensor) -> Tuple[Optional[Tensor], ...]:  # type: ignore[override]`,
      `${IND}${IND}args = ctx.saved_tensors`,
      `${IND}${IND}cotangents = {${res.map((r, i) => `${pyString(`${r.role}:${r.name}`)}: cots[${i}]`).join(', ')}}`,
      `${IND}${IND}d_params, d_prev, d_inputs = ctx.module.step_vjp(${at('input')}, ${at('prev')}, cotangents)`,
      `${IND}${IND}return (None, ${grads.join(', ')})`,
    ];
  }

  private seqVars() {
    return {
      states: this.t.states.map((s) => ({ name: s.name, v: `${pyIdentifier(s.name)}_steps` })),
      outputs: this.t.outputs.map((o) => ({ name: o.name, v: `${pyIdentifier(o.name)}_steps` })),
    };
  }

  private forwardHead(doc: string): string[] {
    const t = this.t;
    const L = [
      'def forward(self, inputs: Dict[str, Tensor], init: Optional[Dict[str, Tensor]] = None) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:',
      `${IND}"""${doc}"""`,
    ];
    const x = t.inputs[0];
    if (x) L.push(`${IND}ref = inputs[${pyString(x.name)}]`, `${IND}T = ref.shape[0]`, `${IND}B = ref.shape[1]`);
    else {
      const s = t.states[0];
      L.push(`${IND}ref = ${this.firstParam()}`, `${IND}T = ${t.mode === 'unrolled' ? t.steps : 1}`, `${IND}B = 1`);
      if (s) L.push(`${IND}if init is not None and ${pyString(s.name)} in init:`, `${IND}${IND}ref = init[${pyString(s.name)}]`, `${IND}${IND}B = ref.shape[0]`);
    }
    L.push(`${IND}states = self.initial_states(B, ref, init)`);
    return L;
  }

  private forwardLoop(): string[] {
    const t = this.t;
    const { states, outputs } = this.seqVars();
    const L = this.forwardHead('Every step: inputs [T, B, n] by name → (states, outputs), each [T, B, n] by name.');
    for (const s of [...states, ...outputs]) L.push(`${IND}${s.v}: List[Tensor] = []`);
    L.push(`${IND}for t in range(T):`);
    L.push(`${IND}${IND}states, outputs = self.step({${t.inputs.map((i) => `${pyString(i.name)}: inputs[${pyString(i.name)}][t]`).join(', ')}}, states)`);
    for (const s of states) L.push(`${IND}${IND}${s.v}.append(states[${pyString(s.name)}])`);
    for (const o of outputs) L.push(`${IND}${IND}${o.v}.append(outputs[${pyString(o.name)}])`);
    const dict = (xs: { name: string; v: string }[]) => `{${xs.map((s) => `${pyString(s.name)}: torch.stack(${s.v})`).join(', ')}}`;
    L.push(`${IND}return ${dict(states)}, ${dict(outputs)}`);
    return L;
  }

  private forwardUnrolled(): string[] {
    const t = this.t, b = this.body;
    const L = this.forwardHead(`The cell unrolled over its ${t.steps} steps: inputs [${t.steps}, B, n] by name → (states, outputs), each [${t.steps}, B, n] by name.`);
    if (t.inputs[0]) L.push(`${IND}if T != ${t.steps}:`, `${IND}${IND}raise ValueError(${pyString(`${this.cell.name} is unrolled over ${t.steps} steps`)})`);
    for (const l of b.leaves) L.push(`${IND}${l.v} = ${l.op === 'input' ? `inputs[${pyString(l.name)}][${l.step! - 1}]` : `states[${pyString(l.name)}]`}`);
    L.push(...b.lines.map((l) => IND + l));
    // every step 1 … T: a step no equation defines (an output at some steps only, a hole) holds zeros, as in every backend —
    // one zeros tensor per name, which each of its holes reads
    const stack = (role: 'state' | 'output', name: string) => {
      const rs = this.cell.forward.roots.map((r, i) => ({ r, i })).filter(({ r }) => r.role === role && r.name === name);
      const at = (k: number) => rs.find(({ r }) => r.step === k);
      let hole: string | undefined;
      const zeros = () => {
        if (hole === undefined) {
          hole = b.fresh(`${name}_hole`);
          L.push(`${IND}# ${pyComment(`${spell(name, 'unicode')} at the steps no equation defines: zeros`)}`, `${IND}${hole} = torch.zeros_like(${b.rootValues[rs[0]!.i]})`);
        }
        return hole;
      };
      return `torch.stack([${Array.from({ length: t.steps }, (_, k) => { const x = at(k + 1); return x ? b.rootValues[x.i] : zeros(); }).join(', ')}])`;
    };
    const states = t.states.map((s) => `${pyString(s.name)}: ${stack('state', s.name)}`), outputs = t.outputs.map((o) => `${pyString(o.name)}: ${stack('output', o.name)}`);
    L.push(`${IND}return {${states.join(', ')}}, {${outputs.join(', ')}}`);
    return L;
  }
}
