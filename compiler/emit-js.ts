// emit-js: a compiled cell → one standalone JavaScript module (no imports), from
// its lowered plan (lower.ts). Pure Graph → string: the same cell gives the same
// bytes. The module exports `create<Cell>(dims, batch)`, whose instance runs the
// forward pass over T steps and BPTT:
//
//   const cell = createLSTM({ n_x: 16, n_a: 32 }, 1);
//   const { states, outputs } = cell.forward(params, { x }, {});
//   const { params: dW, inputs: dx, init } = cell.backward({ states: { a: da } });
//
// Arrays are flat and row-major: per-step values [T][B][n], initial states
// [B][n], matrices by rows. Results are views of the instance's buffers, valid
// until its next call.

import { spell } from '../grammar/names.ts';
import type { CompiledCell } from './compile.ts';
import type { Dim } from './dims.ts';
import { emitDts } from './emit-js-dts.ts';
import { KERNEL_DEPS, KERNELS, MATH } from './emit-js-kernels.ts';
import { Names, commentText, identifier, jsNumber, jsString } from './emit-js-names.ts';
import type { Graph, Node } from './graph.ts';
import { lowerCell } from './lower.ts';
import type { BufferDecl, CellPlan, Expr, Kernel, MatView, PassPlan, Phase, RowCount, Stmt, View } from './lower-plan.ts';
import { leafText, printCell, printExpr, printGrad, timed } from './notation.ts';

export interface JsOptions {
  readonly precision?: 'f64' | 'f32';
}

export interface EmittedJs {
  /** The factory's name: `createLSTM`. */
  readonly factory: string;
  /** The ES module. */
  readonly module: string;
  /** The same code as the body of a function that returns the factory (for `new Function`). */
  readonly body: string;
  /** Its TypeScript declarations. */
  readonly dts: string;
  /** The dimensions the factory asks for. */
  readonly dims: readonly string[];
  readonly plan: CellPlan;
}

type Pass = 'forward' | 'backward';
const IND = '  ';

export function emitJs(cell: CompiledCell, opts: JsOptions = {}): EmittedJs {
  const plan = lowerCell(cell, opts.precision ?? 'f64');
  const e = new Emitter(cell, plan);
  const factoryCode = e.factory();
  const helpers = e.helpers();
  const header = e.header();
  const name = e.factoryName;
  const module = `${header}\n${helpers}\n\n${factoryCode}\n\nexport { ${name}, ${name} as default };\n`;
  const body = `'use strict';\n${helpers}\n\n${factoryCode}\n\nreturn ${name};\n`;
  const dims = plan.dims.filter((d) => e.dimsUsed.has(d));
  return { factory: name, module, body, dts: emitDts(cell, name, plan.precision, dims), dims, plan };
}

/** celda's own identifiers in a module: never handed out to a value or buffer of the cell. */
const INTERNAL = [
  '$F', ...Object.keys(MATH), ...Object.keys(KERNELS),
  '$dims', '$batch', '$B', '$T', '$TB', '$t', '$b', '$i', '$mem', '$cap', '$last', '$ensure', '$single',
  '$forward', '$backward', '$step', '$stepBackward', '$params', '$inputs', '$init', '$steps', '$cot', '$cs', '$co',
];

class Emitter {
  readonly names = new Names(INTERNAL);
  readonly used = new Set<string>();
  readonly dimId = new Map<string, string>();
  readonly bufId = new Map<number, string>();
  readonly local: Record<Pass, Map<number, string>> = { forward: new Map(), backward: new Map() };
  readonly factoryName: string;
  readonly F: string;

  constructor(readonly cell: CompiledCell, readonly plan: CellPlan) {
    this.factoryName = this.names.fresh(`create${identifier(cell.name)}`);
    this.F = plan.precision === 'f32' ? 'Float32Array' : 'Float64Array';
    for (const d of plan.dims) this.dimId.set(d, this.names.fresh(d));
    for (const b of plan.buffers) this.bufId.set(b.id, this.names.fresh(b.name, '$'));
  }

  use(h: string): string {
    if (!this.used.has(h)) {
      this.used.add(h);
      for (const d of KERNEL_DEPS[h] ?? []) this.use(d);
    }
    return h;
  }

  // ---------------------------------------------------------------- sizes

  /** Dimension variables the emitted code refers to: the factory asks for these only. */
  readonly dimsUsed = new Set<string>();

  dim(d: Dim): string {
    const parts: string[] = [];
    for (const [v, c] of d.terms) {
      this.dimsUsed.add(v);
      const id = this.dimId.get(v) ?? identifier(v);
      const mag = Math.abs(c) === 1 ? id : `${Math.abs(c)} * ${id}`;
      parts.push(parts.length === 0 ? (c < 0 ? `-${mag}` : mag) : `${c < 0 ? '-' : '+'} ${mag}`);
    }
    if (d.k !== 0 || parts.length === 0) parts.push(parts.length === 0 ? String(d.k) : `${d.k < 0 ? '-' : '+'} ${Math.abs(d.k)}`);
    const s = parts.join(' ');
    return parts.length > 1 || (d.terms.length === 1 && Math.abs(d.terms[0]![1]) !== 1) ? `(${s})` : s;
  }

  /** A product of factors, dropping 1s and folding 0. */
  prod(...fs: string[]): string {
    const xs = fs.filter((f) => f !== '1');
    if (xs.includes('0')) return '0';
    return xs.length ? xs.join(' * ') : '1';
  }

  sum(...xs: string[]): string {
    const ys = xs.filter((x) => x !== '0');
    return ys.length ? ys.join(' + ') : '0';
  }

  size(b: BufferDecl): string {
    return this.prod(...b.size.map((d) => this.dim(d)));
  }

  rowWidth(buf: number): string {
    return this.dim(this.plan.buffers[buf]!.size[0]!);
  }

  rows(r: RowCount): string {
    return r === 'B' ? '$B' : r === 'TB' ? '$TB' : '1';
  }

  /** Offset of the first row a view selects. */
  base(v: View): string {
    const W = this.rowWidth(v.buf);
    const r = v.rows;
    switch (r.at) {
      case 'zero': return '0';
      case 't': return this.prod(r.shift ? `($t + ${r.shift})` : '$t', '$B', W);
      case 'block': return r.block === 0 ? '0' : this.prod(String(r.block), '$B', W);
      case 'all': return r.shift === 0 ? '0' : this.prod(String(r.shift), '$B', W);
    }
  }

  offset(v: View): string {
    return this.sum(this.base(v), this.dim(v.col));
  }

  matOffset(m: MatView): string {
    return this.sum(this.prod(this.dim(m.row), this.dim(m.ld)), this.dim(m.col));
  }

  buf(id: number): string {
    this.touched?.add(id);
    return this.bufId.get(id)!;
  }

  /** Buffers referred to while emitting a function, to take the T·B ones from `$mem` at its start. */
  touched: Set<number> | null = null;

  /** `const { $x, $Gamma_u } = $mem;` for the T-dependent buffers a function body used. */
  takeFromMem(used: Set<number>): string[] {
    const ids = [...used].filter((b) => this.timedBuffer(b)).sort((a, b) => a - b);
    return ids.length ? [`const { ${ids.map((b) => this.bufId.get(b)!).join(', ')} } = $mem;`] : [];
  }

  timedBuffer(id: number): boolean {
    const e = this.plan.buffers[id]!.extent;
    return e === 'seq' || e === 'states';
  }

  // ---------------------------------------------------------------- notation for comments

  graph(pass: Pass): Graph {
    return pass === 'forward' ? this.cell.forward : this.cell.backward;
  }

  /** The notation of a value that has a name, for comments (`Γ_u`, `c^⟨t⟩`, `∂W_c`, `δ₃`). */
  notation(pass: Pass, id: number): string | undefined {
    const g = this.graph(pass);
    const n = g.nodes[id]!;
    const unrolled = this.cell.typed.mode === 'unrolled';
    if (pass === 'backward') {
      const f = this.plan.savedFrom[id];
      if (f !== undefined) return this.notation('forward', f) ?? `(${this.expr('forward', f)})`;
      const r = g.roots.find((x) => x.id === id);
      if (r) {
        const time = r.step !== undefined ? String(r.step) : r.of === 'prev' ? 't-1' : 't';
        return `∂${r.of === 'param' ? spell(r.name, 'unicode') : timed(r.name, time, 'unicode')}`;
      }
      const name = this.plan.backward.names[id];
      if (name !== undefined && /^delta_\d+$/.test(name) && this.local.backward.has(id)) return `δ${name.slice(6).replace(/\d/g, (c) => '₀₁₂₃₄₅₆₇₈₉'[Number(c)]!)}`;
      return leafText(n, 'unicode', unrolled);
    }
    const label = g.labels[id];
    if (label !== undefined) return spell(label, 'unicode');
    const r = g.roots.find((x) => x.id === id);
    if (r) return timed(r.name, r.step !== undefined ? String(r.step) : 't', 'unicode');
    return leafText(n, 'unicode', unrolled);
  }

  expr(pass: Pass, id: number): string {
    return printExpr(id, { g: this.graph(pass), sp: 'unicode', nameOf: (x) => this.notation(pass, x) }, true);
  }

  comment(pass: Pass, id: number, acc: boolean): string {
    const lhs = this.notation(pass, id) ?? this.plan[pass].names[id] ?? `%${id}`;
    return `// ${commentText(`${lhs} ${acc ? '+=' : '='} ${this.expr(pass, id)}`)}`;
  }

  // ---------------------------------------------------------------- the module

  header(): string {
    const t = this.cell.typed;
    const lines = [
      `celda: the cell \`${this.cell.name}\`, compiled to JavaScript (${this.plan.precision === 'f32' ? 'float32' : 'float64'}).`,
      'Generated from the cell\'s graph; do not edit. Standalone: no imports.',
      `Exports ${this.factoryName}(dims, batch) → { forward, backward${t.mode === 'step' ? ', step, stepBackward' : ''} }.`,
      '',
      ...printCell(t, this.cell.forward, 'unicode').trimEnd().split('\n'),
      '',
      `Backward step (∂v is ∂ℒ/∂v; parameter gradients summed over the batch and time):`,
      ...printGrad(t, this.cell.forward, this.cell.backward, { spelling: 'unicode', compact: true }).trimEnd().split('\n'),
    ];
    return lines.map((l) => `// ${commentText(l)}`.trimEnd()).join('\n') + '\n';
  }

  helpers(): string {
    const math = Object.keys(MATH).filter((k) => this.used.has(k));
    const out = [`const $F = ${this.F};`];
    if (math.length) out.push(`const ${math.map((k) => `${k} = ${MATH[k]}`).join(', ')};`);
    for (const k of Object.keys(KERNELS)) if (this.used.has(k)) out.push('', KERNELS[k]!);
    return out.join('\n');
  }

  factory(): string {
    const p = this.plan;
    const t = this.cell.typed;
    this.use('$size');
    this.use('$load');
    this.use('$own');
    this.use('$fail');
    const L: string[] = [];
    const fixed = p.buffers.filter((b) => b.extent === 'one' || b.extent === 'step');
    const timed_ = p.buffers.filter((b) => b.extent === 'seq' || b.extent === 'states');
    L.push(`/**`, ` * An instance of ${commentText(this.cell.name)} for the given dimensions and batch size. Buffers are`, ` * allocated here and grown with T; nothing is allocated inside the time loop.`, ` */`);
    L.push(`function ${this.factoryName}($dims, $batch) {`);
    const dimsAt = L.length;
    L.push(`${IND}// Buffers of a fixed size: parameters, packed weights, gradients, values of one step.`);
    for (const b of fixed) L.push(`${IND}const ${this.buf(b.id)} = new $F(${b.extent === 'step' ? this.prod('$B', this.size(b)) : this.size(b)});`);
    L.push('');
    L.push(`${IND}// Buffers of T·B rows (states: (T+1)·B, slot 0 the initial state), grown to the longest T seen.`);
    L.push(`${IND}let $cap = 0, $last = 0;`);
    L.push(`${IND}const $mem = { ${timed_.map((b) => `${this.buf(b.id)}: new $F(0)`).join(', ')} };`);
    L.push(`${IND}function $ensure($T) {`);
    L.push(`${IND}${IND}if ($T <= $cap) return;`);
    L.push(`${IND}${IND}$cap = $T;`);
    for (const b of timed_) L.push(`${IND}${IND}$mem.${this.buf(b.id)} = new $F(${this.prod(b.extent === 'states' ? '($T + 1)' : '$T', '$B', this.size(b))});`);
    L.push(`${IND}}`);
    L.push('');
    L.push(...this.forwardFn().map((l) => IND + l));
    L.push('');
    L.push(...this.backwardFn().map((l) => IND + l));
    L.push('');
    const api = ['forward: $forward', 'backward: $backward'];
    if (t.mode === 'step') {
      L.push(`${IND}// One step at a time (a second instance, so the saved trajectory of forward stays intact).`);
      L.push(`${IND}let $single = null;`);
      L.push(`${IND}function $step($params, $inputs, $init) {`);
      L.push(`${IND}${IND}if ($single === null) $single = ${this.factoryName}($dims, $batch);`);
      L.push(`${IND}${IND}return $single.forward($params, $inputs, $init, 1);`);
      L.push(`${IND}}`);
      L.push(`${IND}function $stepBackward($cot) {`);
      L.push(`${IND}${IND}if ($single === null) $fail('stepBackward before step');`);
      L.push(`${IND}${IND}return $single.backward($cot);`);
      L.push(`${IND}}`);
      api.push('step: $step', 'stepBackward: $stepBackward');
    }
    api.push(`cell: ${jsString(this.cell.name)}`, `precision: ${jsString(p.precision)}`, 'batch: $B');
    L.push(`${IND}return { ${api.join(', ')} };`);
    L.push('}');
    const dims = p.dims.filter((d) => this.dimsUsed.has(d));
    L.splice(dimsAt, 0,
      `${IND}if ($dims === null || typeof $dims !== 'object') $fail(${jsString(`dims: expected an object like { ${dims.map((d) => `${d}: 16`).join(', ')} }`)});`,
      ...dims.map((d) => `${IND}const ${this.dimId.get(d)} = $size($own($dims, ${jsString(d)}), ${jsString(`dims.${d}`)});`),
      `${IND}const $B = $size($batch, 'batch');`,
      '');
    return L.join('\n');
  }

  // ---------------------------------------------------------------- forward and backward

  forwardFn(): string[] {
    const p = this.plan;
    const t = this.cell.typed;
    const L: string[] = [];
    L.push('/** Run T steps from the initial states (default: each state\'s declared constant), saving what backward needs. */');
    L.push('function $forward($params, $inputs, $init, $steps) {');
    L.push(`${IND}if ($params === null || typeof $params !== 'object') $fail('params: expected an object of named arrays');`);
    L.push(`${IND}if ($inputs === undefined || $inputs === null) $inputs = {};`);
    L.push(`${IND}if ($init === undefined || $init === null) $init = {};`);
    const first = p.inputs[0];
    const stepsFrom = first ? `$size(($own($inputs, ${jsString(first.key)}) ?? []).length / (${this.prod('$B', this.dim(first.width))}), ${jsString(`the number of steps (length of inputs.${first.key} / (batch × ${first.key}'s size))`)})` : '1';
    L.push(`${IND}const $T = $steps !== undefined ? $size($steps, 'steps') : ${stepsFrom};`);
    if (t.mode === 'unrolled') L.push(`${IND}if ($T !== ${t.steps}) $fail(${jsString(`${this.cell.name} is unrolled over ${t.steps} steps`)});`);
    L.push(`${IND}$ensure($T);`);
    L.push(`${IND}$last = $T;`);
    L.push(`${IND}const $TB = $T * $B;`);
    const memAt = L.length;
    this.touched = new Set();
    for (const q of p.params) L.push(`${IND}$load(${this.buf(q.buf)}, $own($params, ${jsString(q.key)}), ${jsString(`params.${q.key}`)}, ${this.size(p.buffers[q.buf]!)});`);
    for (const i of p.inputs) L.push(`${IND}$load(${this.buf(i.buf)}, $own($inputs, ${jsString(i.key)}), ${jsString(`inputs.${i.key}`)}, ${this.prod('$TB', this.dim(i.width))});`);
    for (const s of p.states) {
      const n = this.prod('$B', this.dim(s.width));
      L.push(`${IND}if ($own($init, ${jsString(s.key)}) !== undefined) $load(${this.buf(s.buf)}, $own($init, ${jsString(s.key)}), ${jsString(`init.${s.key}`)}, ${n});`);
      L.push(`${IND}else ${this.buf(s.buf)}.fill(${jsNumber(s.init)}, 0, ${n});`);
    }
    const { functions, calls } = this.pass('forward', p.forward);
    L.push(...calls.map((l) => IND + l));
    const states = p.states.map((s) => `[${jsString(s.key)}]: ${this.buf(s.buf)}.subarray(${this.prod('$B', this.dim(s.width))}, ${this.prod('($T + 1)', '$B', this.dim(s.width))})`);
    const outputs = p.outputs.map((o) => {
      const w = this.prod(...o.width.map((d) => this.dim(d)));
      return `[${jsString(o.key)}]: ${this.buf(o.buf)}.subarray(${o.shift ? this.prod('$B', w) : '0'}, ${this.prod(o.shift ? '($T + 1)' : '$T', '$B', w)})`;
    });
    L.push(`${IND}return { states: { ${states.join(', ')} }, outputs: { ${outputs.join(', ')} } };`);
    L.push('}');
    L.splice(memAt, 0, ...this.takeFromMem(this.touched).map((l) => IND + l));
    this.touched = null;
    return [...functions.slice(1), '', ...L];
  }

  backwardFn(): string[] {
    const p = this.plan;
    const L: string[] = [];
    L.push('/** BPTT from step T down to 1 for the last forward: cotangents of states and outputs → gradients. */');
    L.push('function $backward($cot) {');
    L.push(`${IND}if ($last === 0) $fail('backward before forward');`);
    L.push(`${IND}const $T = $last, $TB = $T * $B;`);
    const memAt = L.length;
    this.touched = new Set();
    L.push(`${IND}const $cs = ($cot && $cot.states) || {}, $co = ($cot && $cot.outputs) || {};`);
    L.push(`${IND}// Parameter gradients are sums over the batch and over time.`);
    for (const d of p.dparams) L.push(`${IND}${this.buf(d.buf)}.fill(0);`);
    L.push(`${IND}// A state's cotangent: slot t+1 holds ∂ℒ/∂state^<t+1> as given; step t adds what it carries to slot t.`);
    for (const c of p.cotangents) {
      const w = this.prod(...c.width.map((d) => this.dim(d)));
      const src = c.kind === 'state' ? '$cs' : '$co';
      const at = c.kind === 'state' ? this.prod('$B', w) : '0';
      const n = this.prod('$TB', w);
      L.push(`${IND}if ($own(${src}, ${jsString(c.key)}) !== undefined) $load(${at === '0' ? this.buf(c.buf) : `${this.buf(c.buf)}.subarray(${at})`}, $own(${src}, ${jsString(c.key)}), ${jsString(`cotangents.${c.kind}s.${c.key}`)}, ${n});`);
      L.push(`${IND}else ${this.buf(c.buf)}.fill(0, ${at}, ${this.sum(at, n)});`);
      if (c.kind === 'state') L.push(`${IND}${this.buf(c.buf)}.fill(0, 0, ${at});`);
    }
    const { functions, calls } = this.pass('backward', p.backward);
    L.push(...calls.map((l) => IND + l));
    const params = p.dparams.map((d) => `[${jsString(d.key)}]: ${this.buf(d.buf)}`);
    const inputs = p.dinputs.map((d) => `[${jsString(d.key)}]: ${this.buf(d.buf)}.subarray(0, ${this.prod('$TB', this.size(p.buffers[d.buf]!))})`);
    const init = p.cotangents.filter((c) => c.kind === 'state').map((c) => `[${jsString(c.key)}]: ${this.buf(c.buf)}.subarray(0, ${this.prod('$B', this.dim(c.width[0]!))})`);
    L.push(`${IND}return { params: { ${params.join(', ')} }, inputs: { ${inputs.join(', ')} }, init: { ${init.join(', ')} } };`);
    L.push('}');
    L.splice(memAt, 0, ...this.takeFromMem(this.touched).map((l) => IND + l));
    this.touched = null;
    return [...functions.slice(1), '', ...L];
  }

  /**
   * A pass as one small function per phase (so that V8 optimises and inlines each
   * on its own) and the lines of the pass's entry point that call them.
   */
  pass(pass: Pass, plan: PassPlan): { functions: string[]; calls: string[] } {
    const functions: string[] = [];
    const calls: string[] = [];
    const unrolled = this.cell.typed.mode === 'unrolled';
    const fn = (phase: Phase, title: string, param: string, head: string[], call: string[]) => {
      const ks = plan.phases[phase];
      if (!ks.length) return;
      const name = this.names.fresh(`${pass}${phase[0]!.toUpperCase()}${phase.slice(1)}`, '$');
      functions.push('', `/** ${pass}: ${title} */`, `function ${name}(${param}) {`);
      const outer = this.touched;
      this.touched = new Set();
      const body: string[] = [];
      for (const k of ks) body.push(...this.kernel(pass, phase, k).map((l) => IND + l));
      for (const l of [...this.takeFromMem(this.touched), ...head]) functions.push(IND + l);
      this.touched = outer;
      functions.push(...body, '}');
      calls.push(...call.map((c) => c.replace('#', name)));
    };
    fn('static', 'from the parameters (packed weights).', '', [], ['#();']);
    fn('pre', 'before the loop, every step at once (T·B rows).', '$T', ['const $TB = $T * $B;'], ['#($T);']);
    if (unrolled) fn('loop', `the ${this.cell.typed.steps} unrolled steps, at once.`, '', ['const $t = 0;'], ['#();']);
    else if (pass === 'forward') fn('loop', 'step t+1 of the recurrence (t = 0 … T-1).', '$t', [], ['for (let $t = 0; $t < $T; $t++) #($t);']);
    else fn('loop', 'step t+1 back through time (t = T-1 … 0); only the states\' cotangents are carried.', '$t', [], ['for (let $t = $T - 1; $t >= 0; $t--) #($t);']);
    fn('post', 'after the loop, every step at once (T·B rows).', '$T', ['const $TB = $T * $B;'], ['#($T);']);
    return { functions, calls };
  }

  // ---------------------------------------------------------------- kernels

  kernel(pass: Pass, phase: Phase, k: Kernel): string[] {
    const B = (id: number) => this.buf(id);
    const note = (s: string) => `// ${commentText(s)}`;
    switch (k.k) {
      case 'pack': {
        this.use('$pack');
        const ld = this.dim(k.cols);
        const out = [note(`${this.plan.buffers[k.dst]!.name} = ${k.note}`)];
        if (k.zero) out.push(`${B(k.dst)}.fill(0);`);
        for (const b of k.blocks) {
          const src = this.plan.buffers[b.src]!;
          const lds = this.dim(src.size[src.size.length - 1]!);
          out.push(`$pack(${B(k.dst)}, ${ld}, ${this.dim(b.dstRow)}, ${this.dim(b.dstCol)}, ${B(b.src)}, ${lds}, ${b.trans}, ${this.dim(b.srcRow)}, ${this.dim(b.srcCol)}, ${this.dim(b.rows)}, ${this.dim(b.cols)}, ${k.zero ? 1 : 0});`);
        }
        return out;
      }
      case 'gemm':
        this.use('$gemm');
        return [
          note(`${k.note} (one product: ${this.rows(k.rows)} × ${this.dim(k.n)}, depth ${this.dim(k.depth)})`),
          `$gemm(${this.rows(k.rows)}, ${this.dim(k.n)}, ${this.dim(k.depth)}, ${B(k.a.buf)}, ${this.offset(k.a)}, ${this.rowWidth(k.a.buf)}, ${B(k.b.buf)}, ${this.matOffset(k.b)}, ${this.dim(k.b.ld)}, ${B(k.c.buf)}, ${this.offset(k.c)}, ${this.rowWidth(k.c.buf)}, ${k.accumulate ? 1 : 0});`,
        ];
      case 'transpose':
        this.use('$transpose');
        return [`$transpose(${this.rows(k.rows)}, ${this.dim(k.src.width)}, ${B(k.src.buf)}, ${this.offset(k.src)}, ${this.rowWidth(k.src.buf)}, ${B(k.dst)});`];
      case 'outer': {
        const ld = this.dim(k.c.ld);
        const cOff = this.matOffset(k.c);
        if (k.ut && k.vt) {
          this.use('$gemm');
          const R = this.rows(k.rows);
          return [
            note(`${k.note}: Σ over ${R} rows, as a product of transposes`),
            `$gemm(${this.dim(k.m)}, ${this.dim(k.n)}, ${R}, ${B(k.ut.buf)}, ${this.prod(this.dim(k.ut.row), R)}, ${R}, ${B(k.vt.buf)}, ${this.prod(this.dim(k.vt.row), R)}, ${R}, ${B(k.c.buf)}, ${cOff}, ${ld}, ${k.accumulate ? 1 : 0});`,
          ];
        }
        this.use('$outer');
        return [note(k.note), `$outer(${this.rows(k.rows)}, ${this.dim(k.m)}, ${this.dim(k.n)}, ${B(k.u.buf)}, ${this.offset(k.u)}, ${this.rowWidth(k.u.buf)}, ${B(k.v.buf)}, ${this.offset(k.v)}, ${this.rowWidth(k.v.buf)}, ${B(k.c.buf)}, ${cOff}, ${ld});`];
      }
      case 'softmax':
        this.use('$softmax');
        return [note(`${k.note} = softmax (stable)`), `$softmax(${this.rows(k.rows)}, ${this.dim(k.n)}, ${B(k.src.buf)}, ${this.offset(k.src)}, ${this.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.offset(k.dst)}, ${this.rowWidth(k.dst.buf)});`];
      case 'sumFeat':
        this.use('$sumFeat');
        return [note(`${k.note} = Σ over features`), `$sumFeat(${this.rows(k.rows)}, ${this.prod(...k.n.map((d) => this.dim(d)))}, ${B(k.src.buf)}, ${this.offset(k.src)}, ${this.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.offset(k.dst)}, ${this.rowWidth(k.dst.buf)});`];
      case 'sumRows':
        this.use('$sumRows');
        return [note(`${k.note}: Σ over ${this.rows(k.rows)} rows`), `$sumRows(${this.rows(k.rows)}, ${this.dim(k.src.width)}, ${B(k.src.buf)}, ${this.offset(k.src)}, ${this.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.offset(k.dst)}, ${k.accumulate ? 1 : 0});`];
      case 'matmul':
        this.use('$matmul');
        return [note(k.note), `$matmul(${this.dim(k.m)}, ${this.dim(k.n)}, ${this.dim(k.depth)}, ${B(k.a.buf)}, ${this.matOffset(k.a)}, ${this.dim(k.a.ld)}, ${B(k.b.buf)}, ${this.matOffset(k.b)}, ${this.dim(k.b.ld)}, ${B(k.c.buf)}, ${this.matOffset(k.c)}, ${this.dim(k.c.ld)}, ${k.accumulate ? 1 : 0});`];
      case 'matvec':
        this.use('$matvec');
        return [note(k.note), `$matvec(${this.rows(k.rows)}, ${this.dim(k.m)}, ${this.dim(k.n)}, ${B(k.w.buf)}, ${this.matOffset(k.w)}, ${this.dim(k.w.ld)}, ${B(k.v.buf)}, ${this.offset(k.v)}, ${this.rowWidth(k.v.buf)}, ${B(k.c.buf)}, ${this.offset(k.c)}, ${this.rowWidth(k.c.buf)});`];
      case 'copy':
        this.use('$copy');
        return [`$copy(${this.rows(k.rows)}, ${this.dim(k.src.width)}, ${B(k.src.buf)}, ${this.offset(k.src)}, ${k.srcBatched ? this.rowWidth(k.src.buf) : '0'}, ${B(k.dst.buf)}, ${this.offset(k.dst)}, ${this.rowWidth(k.dst.buf)});`];
      case 'fill': {
        if (k.rows === 'one') {
          const off = this.offset(k.dst);
          return [`${B(k.dst.buf)}.fill(${jsNumber(k.value)}, ${off}, ${this.sum(off, this.prod(...k.size.map((d) => this.dim(d))))});`];
        }
        this.use('$fill');
        return [`$fill(${this.rows(k.rows)}, ${this.prod(...k.size.map((d) => this.dim(d)))}, ${B(k.dst.buf)}, ${this.offset(k.dst)}, ${this.rowWidth(k.dst.buf)}, ${jsNumber(k.value)});`];
      }
      case 'ew':
        return this.ew(pass, k);
    }
  }

  /** One fused loop nest: every value of the group computed per element, locals named after the notation. */
  ew(pass: Pass, k: Extract<Kernel, { k: 'ew' }>): string[] {
    const batched = k.rows !== 'one';
    const width = k.width.length ? this.prod(...k.width.map((d) => this.dim(d))) : null;
    const rowVars = new Map<string, string>();
    const rowDecls: string[] = [];
    const rowVar = (v: View): string => {
      const at = this.sum(this.base(v), this.prod('$b', this.rowWidth(v.buf)), this.dim(v.col));
      let r = rowVars.get(at);
      if (r === undefined) {
        r = this.names.fresh(`${this.plan.buffers[v.buf]!.name}_at`, '$');
        rowVars.set(at, r);
        rowDecls.push(`${r} = ${at}`);
      }
      return r;
    };
    const index = (v: View, mode: 'elem' | 'row' | 'feat' | 'one'): string => {
      const i = width ? '$i' : '0';
      switch (mode) {
        case 'elem': return this.sum(rowVar(v), i);
        case 'row': return rowVar(v);
        case 'feat': return this.sum(this.dim(v.col), i);
        case 'one': return this.dim(v.col);
      }
    };
    const body: string[] = [];
    for (const s of k.stmts) body.push(...this.stmt(pass, s, index, batched));
    const out: string[] = [];
    const inner = width ? [`for (let $i = 0; $i < ${width}; $i++) {`, ...body.map((l) => IND + l), '}'] : body;
    if (batched) {
      out.push(`for (let $b = 0; $b < ${this.rows(k.rows)}; $b++) {`);
      if (rowDecls.length) out.push(`${IND}const ${rowDecls.join(', ')};`);
      out.push(...inner.map((l) => IND + l), '}');
    } else out.push('{', ...inner.map((l) => IND + l), '}');
    return out;
  }

  stmt(pass: Pass, s: Stmt, index: (v: View, mode: 'elem' | 'row' | 'feat' | 'one') => string, batched: boolean): string[] {
    const out: string[] = [];
    const g = this.graph(pass);
    const n: Node = g.nodes[s.id]!;
    const storeMode = (): 'elem' | 'row' | 'feat' | 'one' => (batched ? (n.shape.dims.length ? 'elem' : 'row') : n.shape.dims.length ? 'feat' : 'one');
    const rhs = this.js(pass, s.expr, index)[0];
    const acc = s.stores.length > 0 && s.stores.every((st) => st.accumulate);
    if (s.local) {
      const name = this.localName(pass, s.id);
      if (this.named(pass, s.id) || this.plan[pass].names[s.id]?.startsWith('delta_')) out.push(this.comment(pass, s.id, acc));
      out.push(`const ${name} = ${rhs};`);
      for (const st of s.stores) out.push(`${this.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${name};`);
    } else if (s.stores.length === 1) {
      const st = s.stores[0]!;
      out.push(`${this.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${rhs};`);
    } else if (s.stores.length > 1) {
      const v = this.names.fresh('v', '$');
      out.push(`const ${v} = ${rhs};`);
      for (const st of s.stores) out.push(`${this.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${v};`);
    }
    return out;
  }

  named(pass: Pass, id: number): boolean {
    return this.plan[pass].named.includes(id);
  }

  localName(pass: Pass, id: number): string {
    let n = this.local[pass].get(id);
    if (n === undefined) {
      n = this.names.fresh(this.plan[pass].names[id] ?? `v${id}`);
      this.local[pass].set(id, n);
    }
    return n;
  }

  /** An expression as JS, with its precedence (1 sum, 2 product, 3 unary, 4 atom). */
  js(pass: Pass, e: Expr, index: (v: View, mode: 'elem' | 'row' | 'feat' | 'one') => string): [string, number] {
    const sub = (x: Expr, min: number, strict = false) => {
      const [s, p] = this.js(pass, x, index);
      return p < min || (strict && p === min) ? `(${s})` : s;
    };
    switch (e.e) {
      case 'num': return [jsNumber(e.v), 4];
      case 'read': return [`${this.buf(e.view.buf)}[${index(e.view, e.mode)}]`, 4];
      case 'local': return [this.localName(pass, e.id), 4];
      case 'op': {
        const [a, b] = e.args as [Expr, Expr];
        switch (e.op) {
          case 'add': return [`${sub(a, 1)} + ${sub(b, 1, true)}`, 1];
          case 'sub': return [`${sub(a, 1)} - ${sub(b, 1, true)}`, 1];
          case 'mul': return [`${sub(a, 2)} * ${sub(b, 2, true)}`, 2];
          case 'div': return [`${sub(a, 2)} / ${sub(b, 2, true)}`, 2];
          case 'neg': return [`-${sub(a, 4)}`, 3];
          case 'pow': {
            if (e.p === 2) {
              const [s, p] = this.js(pass, a, index);
              return p === 4 && !s.includes('(') ? [`${s} * ${s}`, 2] : [`${this.use('$sq')}(${s})`, 4];
            }
            return [`${this.use('$pow')}(${sub(a, 0)}, ${jsNumber(e.p!)})`, 4];
          }
          case 'tanh': case 'exp': case 'log': case 'sqrt': case 'abs': case 'sign':
            return [`${this.use(`$${e.op}`)}(${sub(a, 0)})`, 4];
          case 'sigmoid': case 'relu': case 'softplus':
            return [`${this.use(`$${e.op}`)}(${sub(a, 0)})`, 4];
          case 'step':
            return [`${this.use('$heaviside')}(${sub(a, 0)})`, 4];
          default:
            throw new Error(`emit-js: ${e.op} is not elementwise`);
        }
      }
    }
  }
}
