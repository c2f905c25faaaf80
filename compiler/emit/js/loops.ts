// Rendering the kernels of a plan: calls of the helper kernels (emit/js/helpers.ts)
// with offsets and sizes, and the fused loop nests — one loop over rows and one
// over features, a `const` per value named after the notation, preceded by the
// equation as a comment, and stores into the buffers that keep it.

import type { Operand } from './elementwise.ts';
import { JS_ELEMENTWISE } from './elementwise.ts';
import { commentText, jsNumber } from './identifiers.ts';
import type { Chunk, Pass } from './text-base.ts';
import type { JsText } from './text-base.ts';
import { IND, chunk, joined } from './text-base.ts';
import type { Node } from '../../ir/graph.ts';
import type { Expr, Kernel, Phase, Stmt, View } from '../../lower/loop-ir.ts';
import { dimAdd, dimKey, dimNum, dimSub } from '../../ir/dims.ts';
import type { Dim } from '../../ir/dims.ts';
import type { WasmLoopExpr, WasmLoopFunc, LoopReadMode, WasmLoopStmt } from '../wasm/loops-wat.ts';
import { byRow } from '../wasm/loops-wat.ts';
import { wasmLoopSupports } from '../wasm/elementwise.ts';
import type { ActKind } from '../wasm/kernels-wat.ts';
import { ACT_KINDS } from '../wasm/kernels-wat.ts';

type Index = (v: View, mode: 'elem' | 'row' | 'feat' | 'one') => string;

/** A kernel's comment line. */
const note = (s: string) => `// ${commentText(s)}`;
/** A boolean argument of a helper: 1 or 0. */
const flag = (a: boolean) => (a ? 1 : 0);

/** What writing a loop body reads: its pass, how it indexes a view, and expressions written as given text instead. */
interface Scope {
  readonly pass: Pass;
  readonly index: Index;
  /** SIMD: activations read from the scratch they were computed into. */
  readonly given: ReadonlyMap<Expr, string>;
}

/** The activations of a step's loop that the SIMD kernel computes, each with its pass (level). */
interface ActSites {
  readonly sites: Extract<Expr, { e: 'op' }>[];
  readonly level: Map<Expr, number>;
  readonly stmtLevel: Map<Stmt, number>;
}

/** The kernels of a plan as JavaScript, written with the module's text primitives `t`. */
export class LoopText {
  constructor(private readonly t: JsText) {}

  /** One kernel of a phase: a call of a helper, or a fused loop nest. */
  kernel(pass: Pass, k: Kernel): Chunk {
    if (k.k === 'fused') return this.fused(pass, k);
    const B = (id: number) => this.t.buf(id);
    switch (k.k) {
      case 'pack': return this.pack(k);
      case 'gemm': {
        const gemm = this.t.gemm();
        return chunk([
          note(`${k.note} (one product: ${this.t.rows(k.rows)} × ${this.t.dim(k.n)}, depth ${this.t.dim(k.depth)})`),
          `${gemm.call}(${this.t.rows(k.rows)}, ${this.t.dim(k.n)}, ${this.t.dim(k.depth)}, ${B(k.a.buf)}, ${this.t.offset(k.a)}, ${this.t.rowWidth(k.a.buf)}, ${B(k.b.buf)}, ${this.t.matOffset(k.b)}, ${this.t.dim(k.b.ld)}, ${B(k.c.buf)}, ${this.t.offset(k.c)}, ${this.t.rowWidth(k.c.buf)}, ${flag(k.accumulate)});`,
        ], gemm.uses);
      }
      case 'transpose': {
        const m = this.t.move('$transpose');
        return chunk([`${m.call}(${this.t.rows(k.rows)}, ${this.t.dim(k.src.width)}, ${B(k.src.buf)}, ${this.t.offset(k.src)}, ${this.t.rowWidth(k.src.buf)}, ${B(k.dst)});`], m.uses);
      }
      case 'outer': return this.outer(k);
      case 'softmax':
        return chunk([note(`${k.note} = softmax (stable)`), `$softmax(${this.t.rows(k.rows)}, ${this.t.dim(k.n)}, ${B(k.src.buf)}, ${this.t.offset(k.src)}, ${this.t.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${this.t.rowWidth(k.dst.buf)});`], ['$softmax']);
      case 'sumFeat':
        return chunk([note(`${k.note} = Σ over features`), `$sumFeat(${this.t.rows(k.rows)}, ${this.t.prod(...k.n.map((d) => this.t.dim(d)))}, ${B(k.src.buf)}, ${this.t.offset(k.src)}, ${this.t.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${this.t.rowWidth(k.dst.buf)});`], ['$sumFeat']);
      case 'sumRows': {
        const m = this.t.move('$sumRows');
        return chunk([note(`${k.note}: Σ over ${this.t.rows(k.rows)} rows`), `${m.call}(${this.t.rows(k.rows)}, ${this.t.width(k.src)}, ${B(k.src.buf)}, ${this.t.offset(k.src)}, ${this.t.rowWidth(k.src.buf)}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${flag(k.accumulate)});`], m.uses);
      }
      case 'matmul':
        return chunk([note(k.note), `$matmul(${this.t.dim(k.m)}, ${this.t.dim(k.n)}, ${this.t.dim(k.depth)}, ${B(k.a.buf)}, ${this.t.matOffset(k.a)}, ${this.t.dim(k.a.ld)}, ${B(k.b.buf)}, ${this.t.matOffset(k.b)}, ${this.t.dim(k.b.ld)}, ${B(k.c.buf)}, ${this.t.matOffset(k.c)}, ${this.t.dim(k.c.ld)}, ${flag(k.accumulate)});`], ['$matmul']);
      case 'matvec':
        return chunk([note(k.note), `$matvec(${this.t.rows(k.rows)}, ${this.t.dim(k.m)}, ${this.t.dim(k.n)}, ${B(k.w.buf)}, ${this.t.matOffset(k.w)}, ${this.t.dim(k.w.ld)}, ${B(k.v.buf)}, ${this.t.offset(k.v)}, ${this.t.rowWidth(k.v.buf)}, ${B(k.c.buf)}, ${this.t.offset(k.c)}, ${this.t.rowWidth(k.c.buf)});`], ['$matvec']);
      case 'each': {
        const fn = ({ outer: '$outerEach', matvec: '$matvecEach', vecmat: '$vecmatEach' } as const)[k.op];
        const ld = (v: View, batched: boolean) => (batched ? this.t.rowWidth(v.buf) : '0');
        return chunk([note(k.note), `${fn}(${this.t.rows(k.rows)}, ${this.t.dim(k.m)}, ${this.t.dim(k.n)}, ${B(k.a.buf)}, ${this.t.offset(k.a)}, ${ld(k.a, k.aBatched)}, ${B(k.b.buf)}, ${this.t.offset(k.b)}, ${ld(k.b, k.bBatched)}, ${B(k.c.buf)}, ${this.t.offset(k.c)}, ${this.t.rowWidth(k.c.buf)});`], [fn]);
      }
      case 'copy': {
        const m = this.t.move('$copy');
        return chunk([`${m.call}(${this.t.rows(k.rows)}, ${this.t.width(k.src)}, ${B(k.src.buf)}, ${this.t.offset(k.src)}, ${k.srcBatched ? this.t.rowWidth(k.src.buf) : '0'}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${this.t.rowWidth(k.dst.buf)});`], m.uses);
      }
      case 'scan': return this.scan(k);
      case 'fill': {
        if (k.rows === 'one') {
          const off = this.t.offset(k.dst);
          return chunk([`${B(k.dst.buf)}.fill(${jsNumber(k.value)}, ${off}, ${this.t.sum(off, this.t.prod(...k.size.map((d) => this.t.dim(d))))});`]);
        }
        return chunk([`$fill(${this.t.rows(k.rows)}, ${this.t.prod(...k.size.map((d) => this.t.dim(d)))}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${this.t.rowWidth(k.dst.buf)}, ${jsNumber(k.value)});`], ['$fill']);
      }
    }
  }

  /** A recurrence over all T steps in one call ($scan; SIMD: the heap's kernel, which threads may share). */
  private scan(k: Extract<Kernel, { k: 'scan' }>): Chunk {
    const B = (id: number) => this.t.buf(id);
    const m = this.t.move('$scan');
    const W = this.t.prod(...k.width.map((d) => this.t.dim(d)));
    const operand = (o: Extract<Kernel, { k: 'scan' }>['a']) => {
      if (o === null) return ['null', '0', '0', '0'];
      const batched = o.mode === 'elem' || o.mode === 'row';
      return [B(o.view.buf), this.t.offset(o.view), batched ? this.t.rowWidth(o.view.buf) : '0', o.mode === 'elem' || o.mode === 'feat' ? '1' : '0'];
    };
    const what = k.reverse ? `${k.note}: the reverse scan over t = T-1 … 0` : `${k.note}: the scan over t = 0 … T-1`;
    return chunk([
      note(what),
      `${m.call}(${flag(k.reverse)}, $TB, ${W}, ${B(k.dst.buf)}, ${this.t.offset(k.dst)}, ${this.t.offset(k.src)}, ${this.t.rowWidth(k.dst.buf)}, ${[...operand(k.a), ...operand(k.b)].join(', ')});`,
    ], m.uses);
  }

  /** Packed weights: blocks of parameters copied (transposed where asked) side by side into one matrix. */
  private pack(k: Extract<Kernel, { k: 'pack' }>): Chunk {
    const B = (id: number) => this.t.buf(id);
    const pack = this.t.move('$pack');
    const ld = this.t.dim(k.cols);
    const out = [note(`${this.t.plan.buffers[k.dst]!.name} = ${k.note}`)];
    if (k.zero) out.push(`${B(k.dst)}.fill(0);`);
    for (const b of k.blocks) {
      const src = this.t.plan.buffers[b.src]!;
      const lds = this.t.dim(src.size[src.size.length - 1]!);
      out.push(`${pack.call}(${B(k.dst)}, ${ld}, ${this.t.dim(b.dstRow)}, ${this.t.dim(b.dstCol)}, ${B(b.src)}, ${lds}, ${b.trans}, ${this.t.dim(b.srcRow)}, ${this.t.dim(b.srcCol)}, ${this.t.dim(b.rows)}, ${this.t.dim(b.cols)}, ${flag(k.zero)});`);
    }
    return chunk(out, pack.uses);
  }

  /** Σ over rows of u vᵀ: a product of the transposes where the lowering made them, else the plain helper. */
  private outer(k: Extract<Kernel, { k: 'outer' }>): Chunk {
    const B = (id: number) => this.t.buf(id);
    const ld = this.t.dim(k.c.ld);
    const cOff = this.t.matOffset(k.c);
    if (k.ut && k.vt) {
      const R = this.t.rows(k.rows);
      const gemm = this.t.gemm();
      return chunk([
        note(`${k.note}: Σ over ${R} rows, as a product of transposes`),
        `${gemm.call}(${this.t.dim(k.m)}, ${this.t.dim(k.n)}, ${R}, ${B(k.ut.buf)}, ${this.t.prod(this.t.dim(k.ut.row), R)}, ${R}, ${B(k.vt.buf)}, ${this.t.prod(this.t.dim(k.vt.row), R)}, ${R}, ${B(k.c.buf)}, ${cOff}, ${ld}, ${flag(k.accumulate)});`,
      ], gemm.uses);
    }
    return chunk([note(k.note), `$outer(${this.t.rows(k.rows)}, ${this.t.dim(k.m)}, ${this.t.dim(k.n)}, ${B(k.u.buf)}, ${this.t.offset(k.u)}, ${this.t.rowWidth(k.u.buf)}, ${B(k.v.buf)}, ${this.t.offset(k.v)}, ${this.t.rowWidth(k.v.buf)}, ${B(k.c.buf)}, ${cOff}, ${ld});`], ['$outer']);
  }

  /**
   * SIMD modules, a loop over rows (a step's B rows, or all T·B rows in blocks of
   * B): the tanh and σ of the loop computed by the kernel's vectorised `act`
   * rather than one call per element. Their arguments are
   * written to a scratch buffer ($act: one segment per call site) by a first pass
   * of the loop, activated in place four lanes at a time, and read back by the
   * loop itself; an activation whose argument needs another's result waits for a
   * second pass (tanh(c) after the gates of c).
   */
  actSites(k: Extract<Kernel, { k: 'fused' }>): ActSites | null {
    if (!this.t.simd || k.rows === 'one') return null;
    if (this.sitesOf.has(k)) return this.sitesOf.get(k)!;
    const sites: Extract<Expr, { e: 'op' }>[] = [];
    const level = new Map<Expr, number>();
    const localLevel = new Map<number, number>();
    // A read of a buffer that an earlier statement of the loop stores waits for that statement; a
    // store into a buffer waits for every earlier statement that reads or stores it.
    const storedLevel = new Map<number, number>();
    const touchedLevel = new Map<number, number>();
    let reads: number[] = [];
    const walk = (e: Expr): number => {
      switch (e.e) {
        case 'num': return 0;
        case 'read': reads.push(e.view.buf); return storedLevel.get(e.view.buf) ?? 0;
        case 'local': return localLevel.get(e.id) ?? 0;
        case 'op': {
          const inner = Math.max(0, ...e.args.map(walk));
          if (!ACT_KINDS.includes(e.op as ActKind)) return inner;
          const l = Math.max(level.get(e) ?? 0, inner + 1);
          if (!level.has(e)) sites.push(e);
          level.set(e, l);
          return l;
        }
      }
    };
    const stmtLevel = new Map<Stmt, number>();
    for (const st of k.stmts) {
      reads = [];
      let l = walk(st.expr);
      for (const w of st.stores) l = Math.max(l, touchedLevel.get(w.view.buf) ?? 0);
      stmtLevel.set(st, l);
      if (st.local) localLevel.set(st.id, l);
      for (const w of st.stores) storedLevel.set(w.view.buf, Math.max(storedLevel.get(w.view.buf) ?? 0, l));
      for (const b of [...reads, ...st.stores.map((w) => w.view.buf)]) touchedLevel.set(b, Math.max(touchedLevel.get(b) ?? 0, l));
    }
    const found = sites.length ? { sites, level, stmtLevel } : null;
    this.sitesOf.set(k, found);
    return found;
  }

  private readonly sitesOf = new Map<Kernel, ActSites | null>();

  /** Locals an expression reads, not looking inside what is `given`. */
  private localsIn(e: Expr, given: ReadonlyMap<Expr, string>, into: Set<number>): Set<number> {
    if (given.has(e)) return into;
    if (e.e === 'local') into.add(e.id);
    else if (e.e === 'op') for (const x of e.args) this.localsIn(x, given, into);
    return into;
  }

  /** Floats of scratch the activations of a kernel need (null: none), as an expression of the dimensions (it calls $ceil). */
  actScratch(k: Kernel): string | null {
    if (k.k !== 'fused') return null;
    const a = this.actSites(k);
    if (!a) return null;
    const width = k.width.length ? this.t.prod(...k.width.map((d) => this.t.dim(d))) : '1';
    return this.t.prod(String(a.sites.length), `($ceil(${this.t.prod('$B', width)} / 4) * 4)`);
  }

  /**
   * Pass L (1 … deepest level + 1) runs the statements of level L − 1 in full (their
   * stores happen once, here), recomputes the locals of lower levels it needs, and
   * writes the arguments of the level-L activations; the kernel then activates them.
   * The last pass has no activations left to prepare: it is the loop itself.
   */
  fusedSimdAct(pass: Pass, k: Extract<Kernel, { k: 'fused' }>, a: ActSites, rowLoop: (body: string[], from?: string, to?: string) => string[], index: Index): Chunk {
    const width = k.width.length ? this.t.prod(...k.width.map((d) => this.t.dim(d))) : null;
    const uses: string[] = ['$ceil'];
    const seg = `($ceil(${this.t.prod('$B', width ?? '1')} / 4) * 4)`;
    // A loop over all T·B rows runs in blocks of B rows ($r0 … $r1), so the scratch stays one step's size.
    const blocked = k.rows !== 'B';
    const loop = (body: string[]) => (blocked ? rowLoop(body, '$r0', '$r1') : rowLoop(body));
    const row = blocked ? '($b - $r0)' : '$b';
    const at = width ? `${row} * ${width} + $i` : row;
    // Segments in the order (level, kind): one `act` call covers each run of the same level and kind.
    const kind = (e: Extract<Expr, { e: 'op' }>) => ACT_KINDS.indexOf(e.op as ActKind);
    const order = [...a.sites].sort((x, y) => a.level.get(x)! - a.level.get(y)! || kind(x) - kind(y));
    const slot = new Map<Expr, number>(order.map((e, i) => [e, i]));
    const read = (e: Expr) => `$actv[${this.t.sum(this.t.prod(String(slot.get(e)!), '$seg'), at)}]`;
    const out: string[] = ['{', `${IND}const $actv = $mem.$act, $seg = ${seg};`];
    if (blocked) out.push(`${IND}for (let $r0 = 0; $r0 < ${this.t.rows(k.rows)}; $r0 += $B) {`, `${IND}const $r1 = $r0 + $B < ${this.t.rows(k.rows)} ? $r0 + $B : ${this.t.rows(k.rows)};`);
    const maxLevel = a.sites.reduce((m, e) => Math.max(m, a.level.get(e)!), 0);
    // Each pass looks only at its own activations and statements (a chain of N activations has N passes).
    const sitesAt = buckets(order, (e) => a.level.get(e)!);
    const stmtsAt = buckets(k.stmts, (st) => a.stmtLevel.get(st)!);
    const stmtIndex = new Map(k.stmts.map((st, i) => [st, i]));
    const localStmt = new Map(k.stmts.filter((st) => st.local).map((st) => [st.id, st]));
    // The activations of earlier passes: read from the scratch (one map, grown pass by pass).
    const given = new Map<Expr, string>();
    for (let L = 1; L <= maxLevel + 1; L++) {
      for (const e of sitesAt.get(L - 1) ?? []) given.set(e, read(e));
      const sc: Scope = { pass, index, given };
      // This pass's roots: the statements of level L − 1, and the arguments of the level-L activations.
      const args = sitesAt.get(L) ?? [];
      const roots = stmtsAt.get(L - 1) ?? [];
      const needed = new Set<number>();
      for (const st of roots) this.localsIn(st.expr, sc.given, needed);
      for (const e of args) this.localsIn(e.args[0]!, sc.given, needed);
      // …and the earlier locals they read, recomputed (their stores ran in an earlier pass).
      for (const id of needed) {
        const st = localStmt.get(id);
        if (st) this.localsIn(st.expr, sc.given, needed);
      }
      const body: string[] = [];
      const js = (e: Expr) => {
        const r = this.js(sc, e);
        uses.push(...r.uses);
        return r.s;
      };
      const recomputed = [...needed].map((id) => localStmt.get(id)).filter((st): st is Stmt => st !== undefined && a.stmtLevel.get(st)! < L - 1);
      for (const st of [...roots, ...recomputed].sort((x, y) => stmtIndex.get(x)! - stmtIndex.get(y)!)) {
        if (a.stmtLevel.get(st)! === L - 1) {
          const c = this.stmt(sc, st, true);
          body.push(...c.lines);
          uses.push(...c.uses);
        } else body.push(`const ${this.t.localName(pass, st.id)} = ${js(st.expr)};`);
      }
      if (L > maxLevel) {
        out.push(...loop(body).map((l) => IND + l));
        break;
      }
      for (const e of args) body.push(`${read(e)} = ${js(e.args[0]!)};`);
      out.push(`${IND}// Arguments of ${args.map((e) => (e.op === 'sigmoid' ? 'σ' : 'tanh')).join(', ')}, then the activations in place (vectorised).`);
      out.push(...loop(body).map((l) => IND + l));
      const runs: { kind: number; from: number; count: number }[] = [];
      for (const e of args) {
        const i = slot.get(e)!, last = runs[runs.length - 1];
        if (last && last.kind === kind(e) && last.from + last.count === i) last.count++;
        else runs.push({ kind: kind(e), from: i, count: 1 });
      }
      for (const r of runs) out.push(`${IND}$kact(${r.kind}, ${this.t.sum('$actv.byteOffset', this.t.prod('4', String(r.from), '$seg'))}, ${this.t.prod(String(r.count), '$seg')});`);
    }
    if (blocked) {
      // The block loop's body one level further in.
      out.splice(3, out.length - 3, ...out.slice(3).map((l) => IND + l));
      out.push(`${IND}}`);
    }
    out.push('}');
    return chunk(out, uses);
  }

  /** One fused loop nest: every value of the group computed per element, locals named after the notation. */
  fused(pass: Pass, k: Extract<Kernel, { k: 'fused' }>): Chunk {
    const batched = k.rows !== 'one';
    const width = k.width.length ? this.t.prod(...k.width.map((d) => this.t.dim(d))) : null;
    const rowVars = new Map<string, string>();
    const rowDecls: { name: string; decl: string }[] = [];
    const rowVar = (v: View): string => {
      const at = this.t.sum(this.t.base(v), this.t.prod('$b', this.t.rowWidth(v.buf)), this.t.dim(v.col));
      let r = rowVars.get(at);
      if (r === undefined) {
        r = this.t.names.fresh(`${this.t.plan.buffers[v.buf]!.name}_at`, '$');
        rowVars.set(at, r);
        rowDecls.push({ name: r, decl: `${r} = ${at}` });
      }
      return r;
    };
    const index = (v: View, mode: 'elem' | 'row' | 'feat' | 'one'): string => {
      const i = width ? '$i' : '0';
      switch (mode) {
        case 'elem': return this.t.sum(rowVar(v), i);
        case 'row': return rowVar(v);
        case 'feat': return this.t.sum(this.t.dim(v.col), i);
        case 'one': return this.t.dim(v.col);
      }
    };
    const loop = (body: string[], from = '0', to = this.t.rows(k.rows)): string[] => {
      const out: string[] = [];
      const inner = width ? [`for (let $i = 0; $i < ${width}; $i++) {`, ...body.map((l) => IND + l), '}'] : body;
      if (batched) {
        out.push(`for (let $b = ${from}; $b < ${to}; $b++) {`);
        // The row offsets this body reads (a SIMD pass reads fewer than the whole loop).
        const idents = new Set(body.join('\n').match(/\$[\w$]*/g));
        const used = rowDecls.filter((r) => idents.has(r.name));
        if (used.length) out.push(`${IND}const ${used.map((r) => r.decl).join(', ')};`);
        out.push(...inner.map((l) => IND + l), '}');
      } else out.push('{', ...inner.map((l) => IND + l), '}');
      return out;
    };
    const sites = this.actSites(k);
    let inJs: Chunk;
    if (sites) inJs = this.fusedSimdAct(pass, k, sites, loop, index);
    else {
      const sc: Scope = { pass, index, given: new Map() };
      const body = joined(k.stmts.map((s) => this.stmt(sc, s, batched)));
      inJs = joined([body], loop([...body.lines]));
    }
    const wasm = this.t.simd ? this.wasmLoopCall(pass, k) : null;
    if (wasm === null) return inJs;
    // The loop as WebAssembly where the instance has it ($ew: the module's elementwise kernels on the heap's memory), else in JavaScript.
    const js = inJs.lines;
    const inner = js[0] === '{' && js[js.length - 1] === '}' ? js.slice(1, -1) : js;
    return chunk([`if ($ew !== null) ${wasm.call};`, 'else {', ...inner.map((l) => (js === inner ? IND + l : l)), '}'], inJs.uses, [wasm.loop]);
  }

  /** SIMD modules: how many fused loops were handed over to WebAssembly so far (they are named ew0, ew1, … in the order of their calls). */
  private loopsNamed = 0;

  /**
   * The call of a loop's WebAssembly function (compiler/emit/wasm/loops-wat.ts) and the function, or
   * null to keep it in JavaScript: unbatched loops and loops over no features, with
   * ops the kernels lack (wasmLoopSupports: exp, log, …), with a store of one float per row, or that
   * store a buffer they also read or store elsewhere in a way that running four
   * elements in lockstep could reorder.
   */
  wasmLoopCall(pass: Pass, k: Extract<Kernel, { k: 'fused' }>): { call: string; loop: WasmLoopFunc } | null {
    if (k.rows === 'one' || k.width.length === 0) return null;
    const g = this.t.graph(pass);
    const slots: LoopReadMode[] = [];
    const args: string[] = [];
    const slotOf = new Map<string, number>();
    const access: Access[] = [];
    const slot = (v: View, mode: LoopReadMode, store: boolean): number => {
      access.push({ view: v, mode, store });
      const rowed = byRow(mode);
      const off = rowed ? this.t.offset(v) : this.t.dim(v.col);
      const key = `${mode} ${v.buf} ${off}`;
      let at = slotOf.get(key);
      if (at === undefined) {
        at = slots.length;
        slotOf.set(key, at);
        slots.push(mode);
        const buf = this.t.buf(v.buf);
        args.push(off === '0' ? `${buf}.byteOffset` : `${buf}.byteOffset + 4 * ${/^[\w$]+$/.test(off) ? off : `(${off})`}`);
        if (rowed) args.push(this.t.prod('4', this.t.rowWidth(v.buf)));
      }
      return at;
    };
    const expr = (e: Expr): WasmLoopExpr | null => {
      switch (e.e) {
        case 'num': return e;
        case 'local': return e;
        case 'read': return { e: 'read', slot: slot(e.view, e.mode, false) };
        case 'op': {
          if (!wasmLoopSupports(e.op, e.p)) return null;
          const xs = e.args.map(expr);
          if (xs.some((x) => x === null)) return null;
          return { e: 'op', op: e.op, args: xs as WasmLoopExpr[], ...(e.p !== undefined ? { p: e.p } : {}) };
        }
      }
    };
    const stmts: WasmLoopStmt[] = [];
    for (const st of k.stmts) {
      if (!st.local && st.stores.length === 0) continue;
      const x = expr(st.expr);
      if (x === null) return null;
      if (g.nodes[st.id]!.shape.dims.length === 0 && st.stores.length > 0) return null;
      stmts.push({ id: st.id, expr: x, local: st.local, stores: st.stores.map((w) => ({ slot: slot(w.view, 'elem', true), accumulate: w.accumulate })) });
    }
    if (!lockstepSafe(access)) return null;
    const name = `ew${this.loopsNamed++}`;
    return { call: `$ew.${name}(${[this.t.rows(k.rows), this.t.prod(...k.width.map((d) => this.t.dim(d))), ...args].join(', ')})`, loop: { name, slots, stmts } };
  }

  stmt(sc: Scope, s: Stmt, batched: boolean): Chunk {
    const { pass, index } = sc;
    const out: string[] = [];
    const g = this.t.graph(pass);
    const n: Node = g.nodes[s.id]!;
    const storeMode = (): 'elem' | 'row' | 'feat' | 'one' => (batched ? (n.shape.dims.length ? 'elem' : 'row') : n.shape.dims.length ? 'feat' : 'one');
    const { s: rhs, uses } = this.js(sc, s.expr);
    const acc = s.stores.length > 0 && s.stores.every((st) => st.accumulate);
    if (s.local) {
      const name = this.t.localName(pass, s.id);
      if (this.t.named(pass, s.id) || this.t.plan[pass].names[s.id]?.startsWith('delta_')) out.push(this.t.comment(pass, s.id, acc));
      out.push(`const ${name} = ${rhs};`);
      for (const st of s.stores) out.push(`${this.t.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${name};`);
    } else if (s.stores.length === 1) {
      const st = s.stores[0]!;
      out.push(`${this.t.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${rhs};`);
    } else if (s.stores.length > 1) {
      const v = this.t.names.fresh('v', '$');
      out.push(`const ${v} = ${rhs};`);
      for (const st of s.stores) out.push(`${this.t.buf(st.view.buf)}[${index(st.view, storeMode())}] ${st.accumulate ? '+=' : '='} ${v};`);
    }
    return chunk(out, uses);
  }

  /** An expression as JS, with its precedence (emit/js/elementwise.ts Operand) and the helpers it calls. */
  js(sc: Scope, e: Expr): Operand & { readonly uses: readonly string[] } {
    const given = sc.given.get(e);
    if (given !== undefined) return { s: given, p: 4, uses: [] };
    switch (e.e) {
      case 'num': return { s: jsNumber(e.v), p: 4, uses: [] };
      case 'read': return { s: `${this.t.buf(e.view.buf)}[${sc.index(e.view, e.mode)}]`, p: 4, uses: [] };
      case 'local': return { s: this.t.localName(sc.pass, e.id), p: 4, uses: [] };
      case 'op': {
        const x = e.args.map((a) => this.js(sc, a));
        const r = JS_ELEMENTWISE[e.op](x, e.p !== undefined ? { p: e.p } : {});
        return { s: r.s, p: r.p, uses: [...x.flatMap((o) => o.uses), ...(r.uses !== undefined ? [r.uses] : [])] };
      }
    }
  }
}

/** a ≥ b for every value of the dimensions (each at least 1): no negative coefficient in a − b, and a − b ≥ 0 with every dimension 1. */
function provablyGe(a: Dim, b: Dim): boolean {
  const d = dimSub(a, b);
  return d.terms.every(([, c]) => c >= 0) && d.terms.reduce((s, [, c]) => s + c, d.k) >= 0;
}

/** A loop's read or store of a view. */
export interface Access {
  readonly view: View;
  readonly mode: LoopReadMode;
  readonly store: boolean;
}

/**
 * Two row selections whose row b is never the same row (step t and t + 1 of a
 * state, say): rows run one after another in both the JavaScript loop and the
 * WebAssembly one, so only accesses within one row can be reordered.
 */
function rowsApart(a: View['rows'], b: View['rows']): boolean {
  if (a.at === 't' && b.at === 't') return a.shift !== b.shift;
  if (a.at === 'block' && b.at === 'block') return a.block !== b.block;
  if (a.at === 'all' && b.at === 'all') return a.shift !== b.shift;
  return false;
}

/**
 * Whether running a loop's statements four elements at a time gives what one
 * element at a time does: every buffer the loop stores is, wherever else the loop
 * touches it, either the same elements (same rows, columns and mode), other
 * blocks of rows, or columns that provably do not overlap on the same rows.
 * Linear in the accesses for the common case (a loop storing N values side by
 * side into one buffer: one sort and N − 1 comparisons, not N² pairs).
 */
export function lockstepSafe(access: readonly Access[]): boolean {
  const on = new Map<number, Access[]>();
  for (const a of access) push(on, a.view.buf, a);
  for (const list of on.values()) if (list.some((a) => a.store) && !bufferSafe(list)) return false;
  return true;
}

/** The accesses of one buffer (which the loop stores), grouped by their rows. */
function bufferSafe(on: readonly Access[]): boolean {
  const byRows = new Map<string, Access[]>();
  for (const a of on) push(byRows, JSON.stringify(a.view.rows), a);
  const groups = [...byRows.values()];
  // Different rows: only two row-addressed accesses whose rows are apart can meet, when one stores.
  for (let g = 0; g < groups.length; g++) {
    for (let h = g + 1; h < groups.length; h++) {
      const x = groups[g]!, y = groups[h]!;
      const apart = rowsApart(x[0]!.view.rows, y[0]!.view.rows);
      const clash = (p: readonly Access[], q: readonly Access[]) => p.some((a) => (!apart || !byRow(a.mode)) && (a.store || q.length > 0 && q.some((b) => b.store)));
      if (clash(x, y) || clash(y, x)) return false;
    }
  }
  return groups.every(sameRowsSafe);
}

/** Accesses of one buffer on the same rows: the same elements, or columns provably apart. */
function sameRowsSafe(on: readonly Access[]): boolean {
  const stores = on.filter((a) => a.store).length;
  if (stores === 0) return true;
  // Anything but an element access meets every other access, when one of the two stores.
  for (const a of on) if (a.mode !== 'elem' && (a.store ? on.length > 1 : stores > 0)) return false;
  // Element accesses at the same column are the same elements; sorted by column (all dimensions 1),
  // columns that each end before the next begins (provably) are pairwise apart, by transitivity.
  const cols = new Map<string, Access[]>();
  for (const a of on) push(cols, dimKey(a.view.col), a);
  const spans = [...cols.values()].map((as) => ({ col: as[0]!.view.col, width: as[0]!.view.width, as }));
  const one = (d: Dim) => d.terms.reduce((s, [, c]) => s + c, d.k);
  spans.sort((x, y) => one(x.col) - one(y.col));
  const chained = spans.every((s) => s.as.every((a) => dimKey(a.view.width) === dimKey(s.width)) && provablyGe(s.width, dimNum(1)))
    && spans.every((s, i) => i === 0 || provablyGe(s.col, dimAdd(spans[i - 1]!.col, spans[i - 1]!.width)));
  if (chained) return true;
  // Otherwise every pair (a cell that rarely gets here).
  for (const x of on) {
    for (const y of on) {
      if (x === y || (!x.store && !y.store) || dimKey(x.view.col) === dimKey(y.view.col)) continue;
      if (!provablyGe(y.view.col, dimAdd(x.view.col, x.view.width)) && !provablyGe(x.view.col, dimAdd(y.view.col, y.view.width))) return false;
    }
  }
  return true;
}

/** Adds a value to the list at a key. */
function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Values by a number of theirs (their level), each list in the given order. */
function buckets<T>(xs: readonly T[], key: (x: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const x of xs) push(m, key(x), x);
  return m;
}
