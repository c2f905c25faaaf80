// The text of emitted JavaScript that every part of a module shares: identifiers
// (celda's own start with `$`; a cell's names are reduced by emit/js/identifiers.ts), sizes
// as expressions of the dimensions, offsets of buffer views, and the notation
// of a value for the comment above the statement that computes it. The kernels
// (emit/js/loops.ts, LoopText) and the module (emit/js/emit.ts, Emitter) are
// written with one JsText each; what they write comes back as Chunks.

import { spell } from '../../../grammar/names.ts';
import type { CompiledCell } from '../../compile.ts';
import type { Dim } from '../../ir/dims.ts';
import { KERNEL_DEPS, KERNELS, MATH } from './helpers.ts';
import type { MoveHelper } from './simd-helpers.ts';
import type { WasmLoopFunc } from '../wasm/loops-wat.ts';
import { Names, commentText, identifier } from './identifiers.ts';
import type { Graph } from '../../ir/graph.ts';
import type { BufferDecl, CellPlan, MatView, RowCount, View } from '../../lower/loop-ir.ts';
import { leafText, printExpr, timed } from '../../print/notation.ts';

export type Pass = 'forward' | 'backward';
export const IND = '  ';

/**
 * Lines of a module and what they need from the module around them: the helpers
 * they call (emit/js/helpers.ts; SIMD: the `$k…` wrappers of simd-helpers.ts too)
 * and the fused loops they hand to WebAssembly, in the order of their calls.
 * Every render returns one, and whoever puts renders together joins them.
 */
export interface Chunk {
  readonly lines: readonly string[];
  readonly uses: readonly string[];
  readonly loops: readonly WasmLoopFunc[];
}

export const chunk = (lines: readonly string[], uses: readonly string[] = [], loops: readonly WasmLoopFunc[] = []): Chunk => ({ lines, uses, loops });

/** The chunks one after another (or around other lines: `lines`), needing what each of them needs. */
export const joined = (cs: readonly Chunk[], lines: readonly string[] = cs.flatMap((c) => c.lines)): Chunk =>
  ({ lines, uses: cs.flatMap((c) => c.uses), loops: cs.flatMap((c) => c.loops) });

/** A call of a helper: its name, and the helpers it needs. */
export interface Call {
  readonly call: string;
  readonly uses: readonly string[];
}

/** The helpers a module's code needs: the ones it calls and, in turn, theirs (KERNEL_DEPS). */
export function helperClosure(uses: readonly string[]): Set<string> {
  const out = new Set<string>();
  const add = (h: string) => {
    if (out.has(h)) return;
    out.add(h);
    for (const d of KERNEL_DEPS[h] ?? []) add(d);
  };
  for (const h of uses) add(h);
  return out;
}

/** celda's own identifiers in a module: never handed out to a value or buffer of the cell. */
const INTERNAL = [
  '$F', ...Object.keys(MATH), ...Object.keys(KERNELS),
  '$dims', '$batch', '$B', '$T', '$TB', '$t', '$b', '$i', '$mem', '$cap', '$last', '$ensure', '$single', '$bytes',
  '$forward', '$backward', '$step', '$stepBackward', '$params', '$inputs', '$init', '$steps', '$cot', '$cs', '$co',
  // SIMD modules (emit/js/simd-helpers.ts)
  '$WASM', '$kernel', '$options', '$act', '$actv', '$kact', '$seg', '$r0', '$r1', '$heap', '$kgemm', '$mm', '$viewed', '$block', '$layout', '$take', '$at', '$buf',
  '$ktranspose', '$ksumRows', '$kcopy', '$kpack', '$kscan', '$WASM_FMA', '$kernelModule', '$ew', '$ewOf', '$EW_WASM', '$ewModule', '$ownHeaps', '$ownHeapsGone',
];

export class JsText {
  readonly names = new Names(INTERNAL);
  readonly dimId = new Map<string, string>();
  readonly bufId = new Map<number, string>();
  readonly local: Record<Pass, Map<number, string>> = { forward: new Map(), backward: new Map() };
  readonly factoryName: string;
  readonly F: string;

  /** simd: float32 modules whose products run as WebAssembly SIMD, on buffers that are all views of one memory. */
  constructor(readonly cell: CompiledCell, readonly plan: CellPlan, readonly simd: boolean) {
    this.factoryName = this.names.fresh(`create${identifier(cell.name)}`);
    this.F = plan.precision === 'f32' ? 'Float32Array' : 'Float64Array';
    for (const d of plan.dims) this.dimId.set(d, this.names.fresh(d));
    for (const b of plan.buffers) this.bufId.set(b.id, this.names.fresh(b.name, '$'));
  }

  /** The matrix product a kernel calls: the plain-JS helper, or (SIMD) the instance's call into WebAssembly. */
  gemm(): Call {
    return this.simd ? { call: '$mm', uses: [] } : { call: '$gemm', uses: ['$gemm'] };
  }

  /** A data-movement helper a kernel calls: the plain-JS one, or (SIMD) its instance wrapper `$k…`, which falls back to it. */
  move(h: MoveHelper): Call {
    if (!this.simd) return { call: h, uses: [h] };
    const wrapper = `$k${h.slice(1)}`;
    return { call: wrapper, uses: [h, wrapper] };
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

  /** Numbers per row: a vector's length, or rows × cols of a matrix per example. */
  rowWidth(buf: number): string {
    return this.prod(...this.plan.buffers[buf]!.size.map((d) => this.dim(d)));
  }

  /** The numbers a view spans in a row: its width, or the whole row of a matrix per example. */
  width(v: View): string {
    const b = this.plan.buffers[v.buf]!;
    return b.extent !== 'one' && b.size.length > 1 ? this.rowWidth(v.buf) : this.dim(v.width);
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

  /** Buffers referred to while rendering a function body (fromMem), to take the T·B ones from `$mem` at its start. */
  private touched: Set<number> | null = null;

  /**
   * Renders a function body, and the lines to put at its start: `const { $x, $Gamma_u } = $mem;`
   * for the T-dependent buffers it referred to (not counting nested bodies rendered with fromMem).
   */
  fromMem<T>(render: () => T): { value: T; take: string[] } {
    const outer = this.touched;
    this.touched = new Set();
    try {
      const value = render();
      const ids = [...this.touched].filter((b) => this.timedBuffer(b)).sort((a, b) => a - b);
      return { value, take: ids.length ? [`const { ${ids.map((b) => this.bufId.get(b)!).join(', ')} } = $mem;`] : [] };
    } finally {
      this.touched = outer;
    }
  }

  timedBuffer(id: number): boolean {
    if (this.simd) return true;
    const e = this.plan.buffers[id]!.extent;
    return e === 'seq' || e === 'states';
  }

  // ---------------------------------------------------------------- notation for comments

  graph(pass: Pass): Graph {
    const g = this.plan.graphs ?? this.cell;
    return pass === 'forward' ? g.forward : g.backward;
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
    // A comment, for reading: a subexpression deeper than 100 levels prints as `…`.
    return printExpr(id, { g: this.graph(pass), sp: 'unicode', nameOf: (x) => this.notation(pass, x), maxDepth: 100 }, true);
  }

  comment(pass: Pass, id: number, acc: boolean): string {
    const lhs = this.notation(pass, id) ?? this.plan[pass].names[id] ?? `%${id}`;
    return `// ${commentText(`${lhs} ${acc ? '+=' : '='} ${this.expr(pass, id)}`)}`;
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
}
