// check: AST → typed cell. Classifies names (parameter, input, state, output,
// intermediate, named function), enforces the time rules, sorts equations by data
// dependency (finding cycles), and infers symbolic shapes by unification.
// Collects diagnostics instead of stopping at the first.

import type { CellAst, DimExpr, Equation, Expr, Span, Time } from '../grammar/ast.ts';
import type { Diagnostic } from './diagnostics.ts';
import { D, didYouMean } from './diagnostics.ts';
import type { Dim } from './dims.ts';
import { DimSolver, dimAdd, dimEq, dimNum, dimScale, dimSub, dimSum, dimVar, isUnknown, substDim } from './dims.ts';
import type { Attrs, OpName, Shape } from './ops.ts';
import { FUNCTIONS, OPS, shapeToString } from './ops.ts';

// ---------------------------------------------------------------- the typed cell

export type LeafKind = 'param' | 'input' | 'prev' | 'ref' | 'const';

export type TExpr =
  | { readonly k: 'leaf'; readonly leaf: LeafKind; readonly name: string; readonly step?: number; readonly value?: number; readonly span: Span; shape: Shape | null }
  | { readonly k: 'op'; readonly op: OpName; readonly args: readonly TExpr[]; readonly attrs: Attrs; readonly span: Span; shape: Shape | null };

export interface TypedEq {
  /** The value defined: `Gamma_u` (intermediate), `c` at <t>, or `a` at a concrete step. */
  readonly name: string;
  readonly step?: number;
  readonly expr: TExpr;
  readonly span: Span;
}

export interface TypedCell {
  readonly name: string;
  readonly span: Span;
  /** `step`: one step t-1 → t; `unrolled`: a fixed number of concrete steps. */
  readonly mode: 'step' | 'unrolled';
  readonly steps: number;
  readonly inputs: readonly { name: string; dim: Dim }[];
  readonly states: readonly { name: string; dim: Dim; init: number }[];
  readonly outputs: readonly { name: string; shape: Shape }[];
  readonly params: readonly { name: string; shape: readonly Dim[] }[];
  /** Every dimension variable: declared ones first, then inferred ones (named `n_y` …). */
  readonly dims: readonly string[];
  readonly dimDefaults: Readonly<Record<string, number>>;
  readonly equations: readonly TypedEq[];
  /** Shapes of every defined value (`Gamma_u`, `c`), for printing. */
  readonly shapes: Readonly<Record<string, Shape>>;
}

// ---------------------------------------------------------------- helpers

class Defer extends Error {}

const timeText = (t: Time): string =>
  t.kind === 'rel' ? (t.offset === 0 ? 't' : `t${t.offset > 0 ? '+' : ''}${t.offset}`) : t.kind === 'abs' ? String(t.step) : t.kind === 'empty' ? '' : t.text;

const vec = (d: Dim, batch = true): Shape => ({ batch, dims: [d] });
const scalarShape: Shape = { batch: false, dims: [] };

const key = (name: string, step?: number) => (step === undefined ? name : `${name}@${step}`);

/** A function name, possibly through a named alias (`g_1 = tanh`). */
interface FnAlias { readonly op: OpName; readonly span: Span }

interface ParamInfo {
  shape: Dim[] | null;
  readonly declared: boolean;
  readonly span: Span;
  /** Where the current shape was learned, for "used with two shapes". */
  where: string;
}

interface Def {
  readonly name: string;
  readonly step?: number; // concrete step (unrolled), undefined for <t> or no time
  readonly timed: boolean; // defined at <t> (or a concrete step), not an intermediate
  readonly eq: Equation;
  readonly rhs: Expr;
}

function freeVars(e: Expr, out: { name: string; time: Time | null; span: Span }[] = []) {
  switch (e.kind) {
    case 'var': out.push({ name: e.name, time: e.time, span: e.span }); break;
    case 'apply': out.push({ name: e.fn, time: null, span: e.fnSpan }); freeVars(e.arg, out); break;
    case 'binary': case 'juxt': freeVars(e.left, out); freeVars(e.right, out); break;
    case 'neg': case 'transpose': freeVars(e.arg, out); break;
    case 'pow': freeVars(e.base, out); break;
    case 'concat': for (const i of e.items) freeVars(i, out); break;
    default: break;
  }
  return out;
}

// ---------------------------------------------------------------- the checker

export function check(cell: CellAst): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
  return new Checker(cell).run();
}

class Checker {
  readonly diags: Diagnostic[] = [];
  readonly solver = new DimSolver();
  readonly rigid = new Set<string>();
  readonly dimDefaults: Record<string, number> = {};
  readonly inputs = new Map<string, { dim: Dim; span: Span }>();
  readonly declStates = new Map<string, { dim: Dim | null; init: Expr | null; span: Span }>();
  readonly declOutputs = new Map<string, { shape: readonly DimExpr[] | null; span: Span }>();
  readonly params = new Map<string, ParamInfo>();
  readonly functions = new Map<string, FnAlias>();
  readonly defs = new Map<string, Def>(); // key(name, step)
  readonly types = new Map<string, Shape>(); // key(name, step) → shape of the defined value
  readonly nameDims = new Map<string, Dim>(); // a time-indexed name's vector dim, shared over steps
  mode: 'step' | 'unrolled' = 'step';
  readonly inits = new Map<string, { value: number; span: Span }>(); // unrolled `a^<0> = …` and state decl inits
  readonly readPrev = new Map<string, Span>(); // names read at <t-1>
  readonly order: string[] = [];

  constructor(readonly ast: CellAst) {}

  run(): { cell: TypedCell | null; diagnostics: Diagnostic[] } {
    this.declarations();
    this.definitions();
    if (this.defs.size === 0 && this.functions.size === 0 && !this.diags.length) this.diags.push(D.noEquations(this.ast.nameSpan.end > this.ast.nameSpan.start ? this.ast.nameSpan : this.ast.span, this.ast.name));
    this.scanReads();
    this.sort();
    const eqs = this.typeAll();
    this.finishParams();
    if (this.diags.some((d) => d.severity === 'error')) return { cell: null, diagnostics: this.diags };
    return { cell: this.assemble(eqs), diagnostics: this.diags };
  }

  // ------------------------------------------------------------ declarations

  dimExpr(d: DimExpr): Dim {
    switch (d.kind) {
      case 'dim': this.rigid.add(d.name); return dimVar(d.name);
      case 'dimnum': return dimNum(d.value);
      case 'dimadd': return d.op === '+' ? dimAdd(this.dimExpr(d.left), this.dimExpr(d.right)) : dimSub(this.dimExpr(d.left), this.dimExpr(d.right));
      case 'dimscale': return dimScale(this.dimExpr(d.arg), d.factor);
    }
  }

  declarations(): void {
    const seen = new Set<string>();
    for (const decl of this.ast.decls) {
      if (decl.kind === 'dim') {
        this.rigid.add(decl.name);
        if (decl.init?.kind === 'num' && Number.isInteger(decl.init.value) && decl.init.value >= 0) this.dimDefaults[decl.name] = decl.init.value;
        else if (decl.init) this.diags.push(D.badDim(decl.init.span, 'a dimension needs a whole number'));
        continue;
      }
      if (seen.has(decl.name)) { this.diags.push(D.duplicateDecl(decl.nameSpan, decl.name)); continue; }
      seen.add(decl.name);
      const shape = decl.shape?.map((d) => this.dimExpr(d)) ?? null;
      if (decl.kind === 'input' || decl.kind === 'state') {
        if (shape && shape.length !== 1) { this.diags.push(D.badDim(decl.span, `\`${decl.name}\` is a vector: give one dimension`)); continue; }
        if (decl.kind === 'input') this.inputs.set(decl.name, { dim: shape?.[0] ?? this.solver.fresh(), span: decl.nameSpan });
        else this.declStates.set(decl.name, { dim: shape?.[0] ?? null, init: decl.init, span: decl.nameSpan });
        if (shape) this.nameDims.set(decl.name, shape[0]!);
      } else if (decl.kind === 'param') {
        const s = shape && shape.length === 1 && shape[0]!.terms.length === 0 && shape[0]!.k === 1 ? [] : shape;
        this.params.set(decl.name, { shape: s, declared: true, span: decl.nameSpan, where: 'its declaration' });
      } else if (decl.kind === 'output') {
        this.declOutputs.set(decl.name, { shape: decl.shape, span: decl.nameSpan });
        if (shape && shape.length === 1) this.nameDims.set(decl.name, shape[0]!);
      }
    }
    for (const [name, s] of this.declStates) if (s.init) {
      const v = this.constInit(s.init);
      if (v === null) this.diags.push(D.badInit(s.init.span, name));
      else this.inits.set(name, { value: v, span: s.init.span });
    }
  }

  constInit(e: Expr): number | null {
    if (e.kind === 'zeros') return 0;
    if (e.kind === 'num') return e.value;
    if (e.kind === 'neg' && e.arg.kind === 'num') return -e.arg.value;
    return null;
  }

  // ------------------------------------------------------------ definitions

  definitions(): void {
    const eqs = this.ast.equations;
    // Function aliases first: `g_1 = tanh`.
    const rest: Equation[] = [];
    for (const eq of eqs) {
      const r = eq.rhs;
      if (eq.lhs.time === null && r.kind === 'var' && r.time === null && (FUNCTIONS[r.name] || this.functions.has(r.name)) && !this.params.has(eq.lhs.name)) {
        const op = FUNCTIONS[r.name] ?? this.functions.get(r.name)!.op;
        if (this.functions.has(eq.lhs.name) || this.inputs.has(eq.lhs.name)) this.diags.push(D.doubleDefinition(eq.lhs.span, eq.lhs.name));
        else this.functions.set(eq.lhs.name, { op, span: eq.lhs.span });
      } else rest.push(eq);
    }
    const hasAbs = rest.some((e) => e.lhs.time?.kind === 'abs' && e.lhs.time.step > 0);
    const rel = rest.find((e) => e.lhs.time?.kind === 'rel');
    if (hasAbs && rel) this.diags.push(D.mixedTime(rel.lhs.span));
    this.mode = hasAbs && !rel ? 'unrolled' : 'step';

    // Count definitions per (name, time) to recognise aliases: `c^<t> = a^<t>`
    // where `c^<t>` is defined elsewhere and `a^<t>` nowhere says a^<t> is c^<t>.
    const lhsKey = (e: Equation) => `${e.lhs.name}|${e.lhs.time ? timeText(e.lhs.time) : ''}`;
    const count = new Map<string, number>();
    for (const e of rest) count.set(lhsKey(e), (count.get(lhsKey(e)) ?? 0) + 1);
    const definedKeys = new Set(count.keys());
    for (const eq of rest) {
      const { lhs, rhs } = eq;
      if (lhs.time?.kind === 'empty') { this.diags.push(D.emptyTime(lhs.span, lhs.name)); continue; }
      if (lhs.time && (lhs.time.kind === 'other' || (lhs.time.kind === 'rel' && lhs.time.offset !== 0) || (lhs.time.kind === 'abs' && lhs.time.step < 0))) {
        this.diags.push(D.badTime(lhs.span, lhs.name, timeText(lhs.time))); continue;
      }
      let name = lhs.name;
      let time = lhs.time;
      let value: Expr = rhs;
      if (rhs.kind === 'var' && rhs.time?.kind === time?.kind && (count.get(lhsKey(eq)) ?? 0) > 1 && !definedKeys.has(`${rhs.name}|${rhs.time ? timeText(rhs.time) : ''}`) && !this.inputs.has(rhs.name) && (time === null || timeText(time) === timeText(rhs.time!))) {
        // alias: rhs is the new name, equal to lhs
        name = rhs.name;
        time = rhs.time;
        value = { kind: 'var', name: lhs.name, time: lhs.time, span: lhs.span };
        count.set(lhsKey(eq), count.get(lhsKey(eq))! - 1);
      }
      if (this.inputs.has(name) && time !== null) { this.diags.push(D.inputDefined(lhs.span, name)); continue; }
      if (time?.kind === 'abs' && time.step === 0) {
        const v = this.constInit(value);
        if (v === null) this.diags.push(D.badInit(value.span, name));
        else if (this.inits.has(name)) this.diags.push(D.doubleDefinition(lhs.span, `${name}^<0>`));
        else this.inits.set(name, { value: v, span: eq.span });
        continue;
      }
      const step = time?.kind === 'abs' ? time.step : undefined;
      const k = time === null ? key(name) : key(name, step);
      const clash = time === null ? this.defs.get(key(name)) ?? (this.mode === 'step' ? undefined : undefined) : this.defs.get(k);
      if (clash || (time === null && [...this.defs.values()].some((d) => d.name === name && d.timed)) || (time !== null && this.defs.get(key(name))?.timed === false)) {
        this.diags.push(D.doubleDefinition(lhs.span, name));
        continue;
      }
      if (time === null && this.functions.has(name)) { this.diags.push(D.badFunctionAlias(lhs.span, name)); continue; }
      this.defs.set(time === null ? key(name) : k, { name, step, timed: time !== null, eq, rhs: value });
    }
    for (const [name, o] of this.declOutputs) if (![...this.defs.values()].some((d) => d.name === name && d.timed)) this.diags.push(D.unknownName(o.span, name, `declare it by defining \`${name}^<t> = …\``));
  }

  isTimedName(name: string) {
    for (const d of this.defs.values()) if (d.name === name && d.timed) return true;
    return false;
  }

  // States are the names read at <t-1> and the declared ones.
  scanReads(): void {
    if (this.mode !== 'step') return;
    for (const d of this.defs.values()) for (const v of freeVars(d.rhs)) if (v.time?.kind === 'rel' && v.time.offset === -1 && !this.readPrev.has(v.name)) this.readPrev.set(v.name, v.span);
    for (const [name, s] of this.declStates) if (!this.isTimedName(name)) this.diags.push(D.stateNotDefined(s.span, name));
  }

  isState(name: string) {
    return this.mode === 'step' && (this.readPrev.has(name) || this.declStates.has(name)) && this.isTimedName(name);
  }

  // ------------------------------------------------------------ dependency order

  /** The definitions an expression reads within the same step. */
  deps(d: Def): string[] {
    const out: string[] = [];
    for (const v of freeVars(d.rhs)) {
      if (v.time === null) {
        if (this.defs.has(key(v.name)) && !this.defs.get(key(v.name))!.timed) out.push(key(v.name));
        else if (this.mode === 'step' && this.defs.has(key(v.name))) out.push(key(v.name));
        else if (this.mode === 'unrolled' && d.step !== undefined && this.defs.has(key(v.name, d.step))) out.push(key(v.name, d.step));
      } else if (v.time.kind === 'rel' && v.time.offset === 0 && this.mode === 'step') {
        if (this.defs.has(key(v.name))) out.push(key(v.name));
      } else if (v.time.kind === 'abs' && this.mode === 'unrolled') {
        if (this.defs.has(key(v.name, v.time.step))) out.push(key(v.name, v.time.step));
      }
    }
    return out;
  }

  sort(): void {
    const state = new Map<string, 0 | 1 | 2>(); // 1 = on the stack, 2 = done
    const stack: string[] = [];
    const reported = new Set<string>();
    const visit = (k: string): void => {
      const s = state.get(k);
      if (s === 2) return;
      if (s === 1) {
        const cyc = stack.slice(stack.indexOf(k));
        const id = [...cyc].sort().join(',');
        if (!reported.has(id)) {
          reported.add(id);
          const first = this.defs.get(cyc[0]!)!;
          this.diags.push(D.cycle(first.eq.lhs.span, cyc.map((c) => this.display(this.defs.get(c)!))));
        }
        return;
      }
      state.set(k, 1);
      stack.push(k);
      for (const dep of this.deps(this.defs.get(k)!)) visit(dep);
      stack.pop();
      state.set(k, 2);
      this.order.push(k);
    };
    for (const k of this.defs.keys()) visit(k);
  }

  display(d: Def): string {
    return d.step !== undefined ? `${d.name}^<${d.step}>` : d.timed ? `${d.name}^<t>` : d.name;
  }

  // ------------------------------------------------------------ typing

  typeAll(): TypedEq[] {
    // Several passes: an equation whose parameters cannot be typed yet (`p * q`
    // with both unknown) waits for a later equation to fix them.
    const done = new Map<string, TypedEq>();
    let pending = this.order.slice();
    while (pending.length > 0) {
      const still: string[] = [];
      for (const k of pending) {
        const def = this.defs.get(k)!;
        const local: Diagnostic[] = [];
        try {
          const expr = this.expr(def.rhs, local, def);
          done.set(k, { name: def.name, step: def.step, expr, span: def.eq.span });
          this.assign(def, expr, local);
          this.diags.push(...local);
        } catch (e) {
          if (!(e instanceof Defer)) throw e;
          still.push(k);
        }
      }
      if (still.length === pending.length) break;
      pending = still;
    }
    return this.order.filter((k) => done.has(k)).map((k) => done.get(k)!);
  }

  /** The defined value takes the shape of its expression; states and named dims are unified. */
  assign(def: Def, e: TExpr, diags: Diagnostic[]): void {
    if (!e.shape) return;
    let shape = e.shape;
    if (def.timed) {
      if (shape.dims.length !== 1 && (this.isState(def.name) || this.mode === 'unrolled')) {
        diags.push(D.shapeMismatch(def.eq.rhs.span, `the definition of \`${def.name}\``, 'a vector per example', shapeToString(shape)));
        return;
      }
      shape = { batch: true, dims: shape.dims };
      if (shape.dims.length === 1) {
        const known = this.nameDims.get(def.name);
        if (known) {
          if (this.solver.unify(known, shape.dims[0]!) === false) diags.push(D.shapeMismatch(def.eq.rhs.span, `the definition of \`${def.name}\``, this.showShape(vec(known)), this.showShape(shape)));
        } else this.nameDims.set(def.name, shape.dims[0]!);
      }
    }
    this.types.set(key(def.name, def.step), shape);
  }

  showShape(s: Shape | null): string {
    if (!s) return 'unknown';
    return shapeToString({ batch: s.batch, dims: s.dims.map((d) => this.solver.resolve(d)) }).replace(/\?(\d+)/g, '?$1');
  }

  nameDim(name: string): Dim {
    let d = this.nameDims.get(name);
    if (!d) { d = this.solver.fresh(); this.nameDims.set(name, d); }
    return d;
  }

  leaf(leaf: LeafKind, name: string, span: Span, shape: Shape | null, step?: number): TExpr {
    return step === undefined ? { k: 'leaf', leaf, name, span, shape } : { k: 'leaf', leaf, name, step, span, shape };
  }

  /** A reference to a name in an expression. */
  variable(name: string, time: Time | null, span: Span, diags: Diagnostic[], def: Def): TExpr {
    if (FUNCTIONS[name] || this.functions.has(name)) {
      if (time === null) { diags.push(D.notAFunction(span, name)); return this.poison(span); }
    }
    const candidates = () => [...new Set([...[...this.defs.values()].map((d) => d.name), ...this.inputs.keys()])];
    if (time === null) {
      const inter = this.defs.get(key(name));
      if (inter && !inter.timed) return this.refTo(key(name), name, span);
      if (this.mode === 'step' && this.isTimedName(name)) return this.refTo(key(name), name, span);
      if (this.mode === 'unrolled' && this.isTimedName(name)) {
        if (def.step !== undefined && this.defs.has(key(name, def.step))) return this.refTo(key(name, def.step), name, span, def.step);
        diags.push(D.outputAsParam(span, name));
        return this.poison(span);
      }
      if (this.inputs.has(name)) {
        if (this.mode === 'step') return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim));
        if (def.step !== undefined) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim), def.step);
      }
      if (this.declStates.has(name) || this.inits.has(name)) { diags.push(D.outputAsParam(span, name)); return this.poison(span); }
      if (!this.params.has(name)) this.params.set(name, { shape: null, declared: false, span, where: 'its first use' });
      return { k: 'leaf', leaf: 'param', name, span, shape: this.params.get(name)!.shape ? { batch: false, dims: this.params.get(name)!.shape! } : null };
    }
    if (time.kind === 'empty') { diags.push(D.emptyTime(span, name)); return this.poison(span); }
    if (time.kind === 'other') { diags.push(D.badTime(span, name, time.text)); return this.poison(span); }
    if (this.mode === 'step') {
      if (time.kind === 'abs') { diags.push(D.mixedTime(span)); return this.poison(span); }
      if (time.offset === 0) {
        if (this.defs.has(key(name)) && this.defs.get(key(name))!.timed) return this.refTo(key(name), name, span);
        if (this.inputs.has(name)) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim));
        diags.push(D.unknownName(span, `${name}^<t>`, didYouMean(name, candidates()) ?? (this.params.has(name) || this.defs.has(key(name)) ? `\`${name}\` has no time index elsewhere; write \`${name}\`` : `declare it: \`input ${name} : n_${name}\``)));
        return this.poison(span);
      }
      if (time.offset === -1) {
        if (this.inputs.has(name)) { diags.push(D.inputAtPrevious(span, name)); return this.poison(span); }
        if (this.isTimedName(name)) return this.leaf('prev', name, span, vec(this.nameDim(name)));
        diags.push(D.stateNotDefined(span, name));
        return this.poison(span);
      }
      diags.push(D.badTime(span, name, timeText(time)));
      return this.poison(span);
    }
    // unrolled
    if (time.kind === 'rel') { diags.push(D.mixedTime(span)); return this.poison(span); }
    const s = time.step;
    if (this.defs.has(key(name, s))) return this.refTo(key(name, s), name, span, s);
    if (this.inputs.has(name)) return this.leaf('input', name, span, vec(this.inputs.get(name)!.dim), s);
    if (s === 0 && (this.inits.has(name) || this.declStates.has(name))) return this.leaf('prev', name, span, vec(this.nameDim(name)), 0);
    diags.push(D.unrolledGap(span, name, s));
    return this.poison(span);
  }

  refTo(k: string, name: string, span: Span, step?: number): TExpr {
    const t = this.types.get(k);
    if (!t) throw new Defer();
    return this.leaf('ref', name, span, t, step);
  }

  poison(span: Span): TExpr {
    return { k: 'leaf', leaf: 'const', name: '', value: NaN, span, shape: null };
  }

  isPoison(e: TExpr) {
    return e.shape === null && !(e.k === 'leaf' && e.leaf === 'param');
  }

  op(op: OpName, args: TExpr[], span: Span, diags: Diagnostic[], what: string, attrs: Attrs = {}): TExpr {
    if (args.some((a) => this.isPoison(a))) return this.poison(span);
    if (args.some((a) => a.shape === null)) throw new Defer();
    const shape = OPS[op].shape(args.map((a) => this.resolved(a.shape!)), attrs);
    if (typeof shape === 'string') {
      diags.push(D.shapeMismatch(span, what, ...splitVs(shape)));
      return this.poison(span);
    }
    return { k: 'op', op, args, attrs, span, shape };
  }

  resolved(s: Shape): Shape {
    return { batch: s.batch, dims: s.dims.map((d) => this.solver.resolve(d)) };
  }

  /** Learn or check a parameter's shape from a use. */
  paramShape(e: TExpr, want: Dim[], diags: Diagnostic[], span: Span, where: string): boolean {
    if (e.k !== 'leaf' || e.leaf !== 'param') return true;
    const p = this.params.get(e.name)!;
    if (!p.shape) {
      p.shape = want;
      p.where = where;
      e.shape = { batch: false, dims: want };
      return true;
    }
    const ok = p.shape.length === want.length && p.shape.every((d, i) => this.solver.unify(d, want[i]!) !== false);
    if (!ok) {
      diags.push(D.paramTwoShapes(span, e.name, this.showShape({ batch: false, dims: want }), `${this.showShape({ batch: false, dims: p.shape })} (from ${p.where})`));
      return false;
    }
    e.shape = { batch: false, dims: p.shape };
    return true;
  }

  /** Unify the feature dims of two operands of an elementwise op (broadcasting scalars). */
  elementwise(op: OpName, l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], what: string): TExpr {
    if (this.isPoison(l) || this.isPoison(r)) return this.poison(span);
    const lp = l.shape === null, rp = r.shape === null;
    if (lp && rp) throw new Defer();
    if (lp && !this.paramShape(l, [...r.shape!.dims], diags, l.span, `\`${what}\``)) return this.poison(span);
    if (rp && !this.paramShape(r, [...l.shape!.dims], diags, r.span, `\`${what}\``)) return this.poison(span);
    const ls = l.shape!, rs = r.shape!;
    if (ls.dims.length > 0 && rs.dims.length > 0) {
      const ok = ls.dims.length === rs.dims.length && ls.dims.every((d, i) => this.solver.unify(d, rs.dims[i]!) !== false);
      if (!ok) {
        const param = l.k === 'leaf' && l.leaf === 'param' ? l : r.k === 'leaf' && r.leaf === 'param' ? r : null;
        if (param) diags.push(D.paramTwoShapes(param.span, param.name, this.showShape({ batch: false, dims: (param === l ? rs : ls).dims }), this.showShape({ batch: false, dims: param.shape!.dims })));
        else diags.push(D.shapeMismatch(span, what, this.showShape(ls), this.showShape(rs)));
        return this.poison(span);
      }
    }
    return this.op(op, [l, r], span, diags, what);
  }

  /** `A B` and `A · B`: matrix–vector, matrix–matrix, or scaling by a scalar. */
  product(l: TExpr, r: TExpr, span: Span, diags: Diagnostic[], explicit: boolean): TExpr {
    if (this.isPoison(l) || this.isPoison(r)) return this.poison(span);
    if (l.shape === null) {
      if (r.shape === null) throw new Defer();
      if (r.shape.dims.length === 0) return this.elementwise('mul', l, r, span, diags, 'a product');
      if (!this.paramShape(l, [this.solver.fresh(), r.shape.dims[0]!], diags, l.span, 'a matrix product')) return this.poison(span);
    }
    if (r.shape === null) {
      const ls = l.shape!;
      if (ls.dims.length === 2) { if (!this.paramShape(r, [ls.dims[1]!], diags, r.span, 'a matrix product')) return this.poison(span); }
      else return this.elementwise('mul', l, r, span, diags, 'a product');
    }
    const ls = l.shape!, rs = r.shape!;
    if (ls.dims.length === 0 || rs.dims.length === 0) return this.elementwise('mul', l, r, span, diags, 'a product');
    if (ls.dims.length === 2) {
      if (ls.batch) { diags.push(D.shapeMismatch(span, 'a matrix product', this.showShape(ls), this.showShape(rs))); return this.poison(span); }
      const inner = rs.dims[0]!;
      if (this.solver.unify(ls.dims[1]!, inner) === false) {
        if (l.k === 'leaf' && l.leaf === 'param') diags.push(D.paramTwoShapes(l.span, l.name, `${this.showShape({ batch: false, dims: [this.solver.fresh(), inner] }).replace(/\?\d+/, '?')}`, this.showShape(ls)));
        else diags.push(D.shapeMismatch(span, 'a matrix product', this.showShape(ls), this.showShape(rs)));
        return this.poison(span);
      }
      return this.op(rs.dims.length === 1 ? 'matvec' : 'matmul', [l, r], span, diags, 'a matrix product');
    }
    diags.push({ ...D.shapeMismatch(span, explicit ? 'a matrix product' : 'a product by juxtaposition', this.showShape(ls), this.showShape(rs)), help: 'juxtaposition and `·` multiply a matrix by a vector; use `*` (or ⊙) for the elementwise product' });
    return this.poison(span);
  }

  call(fn: string, fnSpan: Span, arg: TExpr, span: Span, diags: Diagnostic[]): TExpr {
    const op = FUNCTIONS[fn] ?? this.functions.get(fn)?.op;
    if (!op) { diags.push(D.unknownFunction(fnSpan, fn, didYouMean(fn, [...Object.keys(FUNCTIONS), ...this.functions.keys()]))); return this.poison(span); }
    if (arg.shape === null && !this.isPoison(arg)) throw new Defer();
    return this.op(op, [arg], span, diags, `${fn}(…)`);
  }

  isFunctionName(name: string) {
    return !!FUNCTIONS[name] || this.functions.has(name);
  }

  /** A bare name applied to `(…)` that is neither a function nor plausibly a matrix. */
  looksLikeFunction(name: string) {
    if (this.params.get(name)?.declared || this.defs.has(key(name)) || this.inputs.has(name)) return false;
    if (name.includes('_') || name.length === 1) return false;
    return true;
  }

  expr(e: Expr, diags: Diagnostic[], def: Def): TExpr {
    const go = (x: Expr) => this.expr(x, diags, def);
    switch (e.kind) {
      case 'num': return { k: 'leaf', leaf: 'const', name: '', value: e.value, span: e.span, shape: scalarShape };
      case 'var': return this.variable(e.name, e.time, e.span, diags, def);
      case 'latex': diags.push(D.unknownLatex(e.span, e.command, didYouMean(e.command, LATEX_KNOWN))); return this.poison(e.span);
      case 'zeros': diags.push(D.badInit(e.span, def.name)); return this.poison(e.span);
      case 'apply': {
        if (this.isFunctionName(e.fn)) return this.call(e.fn, e.fnSpan, go(e.arg), e.span, diags);
        if (this.looksLikeFunction(e.fn)) {
          diags.push(D.unknownFunction(e.fnSpan, e.fn, didYouMean(e.fn, [...Object.keys(FUNCTIONS), ...this.functions.keys()])));
          return this.poison(e.span);
        }
        return this.product(this.variable(e.fn, null, e.fnSpan, diags, def), go(e.arg), e.span, diags, false);
      }
      case 'juxt': {
        if (e.left.kind === 'var' && e.left.time === null && this.isFunctionName(e.left.name)) return this.call(e.left.name, e.left.span, go(e.right), e.span, diags);
        return this.product(go(e.left), go(e.right), e.span, diags, false);
      }
      case 'binary': {
        const l = go(e.left), r = go(e.right);
        if (e.op === '@') return this.product(l, r, e.span, diags, true);
        const op = ({ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' } as const)[e.op];
        const what = ({ '+': 'a sum', '-': 'a difference', '*': 'an elementwise product', '/': 'a division' } as const)[e.op];
        return this.elementwise(op, l, r, e.span, diags, what);
      }
      case 'neg': {
        const a = go(e.arg);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        return this.op('neg', [a], e.span, diags, 'a negation');
      }
      case 'pow': {
        const a = go(e.base);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        if (e.exponent === 1) return a;
        return this.op('pow', [a], e.span, diags, 'a power', { p: e.exponent });
      }
      case 'transpose': {
        const a = go(e.arg);
        if (a.shape === null && !this.isPoison(a)) throw new Defer();
        return this.op('transpose', [a], e.span, diags, 'a transpose');
      }
      case 'concat': {
        const items = e.items.map(go);
        if (items.some((i) => this.isPoison(i))) return this.poison(e.span);
        if (items.some((i) => i.shape === null)) throw new Defer();
        return this.op('concat', items, e.span, diags, 'a concatenation');
      }
    }
  }

  // ------------------------------------------------------------ wrapping up

  finishParams(): void {
    for (const [name, p] of this.params) if (!p.shape && !this.diags.some((d) => d.severity === 'error')) this.diags.push(D.cannotInfer(p.span, name));
    for (const [a, b] of this.solver.contradictions()) this.diags.push(D.shapeMismatch(this.ast.nameSpan, 'the cell', this.showShape(vec(a)), this.showShape(vec(b))));
  }

  assemble(eqs: TypedEq[]): TypedCell {
    // Name the unknown dims: ŷ's size → n_y, then whatever is left after a parameter.
    const names = new Map<string, string>();
    const taken = new Set(this.rigid);
    const nameFor = (d: Dim, hint: string) => {
      const r = this.solver.resolve(d);
      if (r.terms.length === 1 && r.k === 0 && r.terms[0]![1] === 1 && isUnknown(r.terms[0]![0]) && !names.has(r.terms[0]![0])) {
        let n = `n_${hint}`;
        for (let i = 2; taken.has(n); i++) n = `n_${hint}${i}`;
        taken.add(n);
        names.set(r.terms[0]![0], n);
      }
    };
    const base = (name: string) => name.replace(/_(hat|tilde|bar|dot)$/, '').replace(/_(hat|tilde|bar|dot)_/, '_');
    for (const [name, i] of this.inputs) nameFor(i.dim, base(name));
    for (const [name, d] of this.nameDims) if (this.isTimedName(name)) nameFor(d, base(name));
    for (const [name, p] of this.params) p.shape?.forEach((d, i) => nameFor(d, `${name}_${i}`));
    const fin = (d: Dim): Dim => substDim(this.solver.resolve(d), (v) => (isUnknown(v) ? dimVar(names.get(v) ?? v) : undefined));
    const finShape = (s: Shape): Shape => ({ batch: s.batch, dims: s.dims.map(fin) });
    const finExpr = (e: TExpr): TExpr => {
      const shape = e.shape && finShape(e.shape);
      if (e.k === 'leaf') return { ...e, shape };
      const attrs: Attrs = { ...e.attrs };
      return { ...e, args: e.args.map(finExpr), attrs, shape };
    };
    const timedNames = [...new Set([...this.defs.values()].filter((d) => d.timed).map((d) => d.name))];
    const steps = this.mode === 'unrolled' ? Math.max(...[...this.defs.values()].map((d) => d.step ?? 0)) : 1;
    const states = this.mode === 'step'
      ? timedNames.filter((n) => this.isState(n))
      : timedNames.filter((n) => this.inits.has(n) || this.declStates.has(n) || [...this.defs.values()].some((d) => freeVars(d.rhs).some((v) => v.name === n && v.time?.kind === 'abs' && v.time.step !== d.step)));
    const outputs = timedNames.filter((n) => !states.includes(n));
    const shapes: Record<string, Shape> = {};
    for (const [k, s] of this.types) shapes[k.split('@')[0]!] = finShape(s);
    const dims = [...this.rigid, ...new Set(names.values())];
    const cell: TypedCell = {
      name: this.ast.name,
      span: this.ast.span,
      mode: this.mode,
      steps,
      inputs: [...this.inputs].map(([name, i]) => ({ name, dim: fin(i.dim) })),
      states: states.map((name) => ({ name, dim: fin(this.nameDim(name)), init: this.inits.get(name)?.value ?? 0 })),
      outputs: outputs.map((name) => ({ name, shape: shapes[name]! })),
      params: [...this.params].filter(([, p]) => p.shape).map(([name, p]) => ({ name, shape: p.shape!.map(fin) })),
      dims: dims.filter((d) => !d.startsWith('?')),
      dimDefaults: { ...this.dimDefaults },
      equations: eqs.map((q) => ({ ...q, expr: finExpr(q.expr) })),
      shapes,
    };
    return cell;
  }
}

/** "A vs B" from an op's shape rule → the two sides for the diagnostic. */
function splitVs(msg: string): [string, string] {
  const i = msg.indexOf(' vs ');
  return i >= 0 ? [msg.slice(0, i), msg.slice(i + 4)] : [msg, 'what the operation needs'];
}

const LATEX_KNOWN = ['\\tanh', '\\sigma', '\\exp', '\\log', '\\sqrt', '\\frac', '\\cdot', '\\odot', '\\tilde', '\\widetilde', '\\hat', '\\widehat', '\\left', '\\right', '\\Gamma', '\\dots', '\\qquad', '\\begin', '\\end', '\\top', '\\langle', '\\rangle'];

export { dimEq, dimSum };
