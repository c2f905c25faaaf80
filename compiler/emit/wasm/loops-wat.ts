// The WebAssembly text of a float32 SIMD module's fused elementwise loops: the
// gate arithmetic of each step (and the loops over all T·B rows), four features
// at a time in f32x4, on the memory the module's JavaScript and the products
// share. emit/js/loops.ts describes each loop it can hand over (WasmLoopFunc: operands
// as byte addresses, statements as expression trees); this file only spells
// them. Pure: the same functions give the same text.
//
// Why: in JavaScript a step's loops compute in float64, one element at a time,
// and once the products ran as SIMD they were a large part of a training step
// (BENCHMARKS.md, "Measurements behind the code").
//
//   fN(R, W, p₀, s₀, p₁, s₁, …): for b < R, i < W: the statements in order, each
//   operand k at byte address p_k + b·s_k + 4i ('elem'), p_k + b·s_k ('row', one
//   float per row), p_k + 4i ('feat', the same for every row) or p_k ('one').
//
// Whole groups of four features run as vectors, then the last W mod 4 one at a
// time through the same vector code (one float splatted, lane 0 stored), so every
// element gets the same float32 operations wherever it falls. Every operation is
// float32 (the JavaScript loops round only at stores), tanh and σ are the `act`
// kernel's (kernels-wat.ts actBody): inlined in the vector body, called in the tail.
// A loop is only handed over when running its statements four elements in
// lockstep gives what one at a time would
// (emit/js/loops.ts checks the views it stores and reads).

import compileWat from 'watr/compile';
import type { ActKind } from './kernels-wat.ts';
import { ACT_KINDS, ACT_LOCALS, actBody } from './kernels-wat.ts';
import { add, c32, get, set, whileLoop } from './wat-text.ts';
import type { WasmLoopOp } from './elementwise.ts';
import { WASM_LOOP_OPS, splat } from './elementwise.ts';
import { memoryFlagAt } from './memory-flag.ts';

/** How an operand is addressed (see the header). */
export type LoopReadMode = 'elem' | 'row' | 'feat' | 'one';

/** Modes addressed by row (p + b·s): their operand also takes a row stride. */
export const byRow = (m: LoopReadMode) => m === 'elem' || m === 'row';

export type WasmLoopExpr =
  | { readonly e: 'num'; readonly v: number }
  | { readonly e: 'read'; readonly slot: number }
  | { readonly e: 'local'; readonly id: number }
  | { readonly e: 'op'; readonly op: WasmLoopOp; readonly args: readonly WasmLoopExpr[]; readonly p?: number };

export interface WasmLoopStmt {
  readonly id: number;
  readonly expr: WasmLoopExpr;
  /** Operand slots stored into ('elem' only), with += where accumulate. */
  readonly stores: readonly { readonly slot: number; readonly accumulate: boolean }[];
  /** Read again by a later statement: kept in a local. */
  readonly local: boolean;
}

export interface WasmLoopFunc {
  readonly name: string;
  readonly slots: readonly LoopReadMode[];
  readonly stmts: readonly WasmLoopStmt[];
}

class FuncText {
  private temps = 0;
  readonly locals: string[] = [];
  /** Whether an activation is inlined: its locals ($x, ACT_LOCALS) are declared. */
  act = false;

  /** called: the activations the tail calls (wasmLoopsText adds their functions to the module). */
  constructor(private readonly f: WasmLoopFunc, private readonly called: Set<ActKind>) {}

  private temp(): string {
    const t = `t${this.temps++}`;
    this.locals.push(`(local $${t} v128)`);
    return t;
  }

  /** The address of operand k for feature byte offset $i (tail: the same, one float). */
  private addr(k: number): string {
    const m = this.f.slots[k]!;
    return m === 'elem' || m === 'feat' ? add(get(`p${k}`), get('i')) : get(`p${k}`);
  }

  private read(k: number, tail: boolean): string {
    const m = this.f.slots[k]!;
    if (m === 'row' || m === 'one' || tail) return `(f32x4.splat (f32.load ${this.addr(k)}))`;
    return `(v128.load ${this.addr(k)})`;
  }

  expr(e: WasmLoopExpr, tail: boolean): string {
    switch (e.e) {
      case 'num': return splat(e.v);
      case 'read': return this.read(e.slot, tail);
      case 'local': return get(`v${e.id}`);
      case 'op': {
        const { p } = e;
        return WASM_LOOP_OPS[e.op].text(e.args.map((x) => () => this.expr(x, tail)), {
          ...(p !== undefined ? { p } : {}),
          temp: () => this.temp(),
          act: (kind, x) => {
            // Inline in the vector body (a call per four lanes cost about as much as the activation); the tail,
            // at most three floats a row, calls the same text as a function of its own, keeping the module small.
            if (tail) {
              this.called.add(kind);
              return `(call $${kind}4 ${x})`;
            }
            this.act = true;
            return `(block (result v128) ${set('x', x)} ${actBody(kind).join(' ')} ${get('v')})`;
          },
        });
      }
    }
  }

  /** The statements for the four features at byte offset $i (tail: the one feature there). */
  body(tail: boolean): string[] {
    const out: string[] = [];
    for (const s of this.f.stmts) {
      let value = this.expr(s.expr, tail);
      if (s.local) {
        out.push(set(`v${s.id}`, value));
        value = get(`v${s.id}`);
      } else if (s.stores.length > 1) {
        const t = this.temp();
        out.push(set(t, value));
        value = get(t);
      }
      for (const st of s.stores) {
        const at = this.addr(st.slot);
        if (tail) {
          const lane = `(f32x4.extract_lane 0 ${value})`;
          out.push(`(f32.store ${at} ${st.accumulate ? `(f32.add (f32.load ${at}) ${lane})` : lane})`);
        } else out.push(`(v128.store ${at} ${st.accumulate ? `(f32x4.add (v128.load ${at}) ${value})` : value})`);
      }
    }
    return out;
  }
}

/** One loop's function: rows, then whole groups of four features, then the rest one at a time. */
function funcText(f: WasmLoopFunc, called: Set<ActKind>): string[] {
  const t = new FuncText(f, called);
  const vector = t.body(false), tail = t.body(true);
  if (t.act) t.locals.push(...['x', ...ACT_LOCALS].map((l) => `(local $${l} v128)`));
  const params = ['(param $R i32) (param $W i32)', ...f.slots.map((m, k) => (byRow(m) ? `(param $p${k} i32) (param $s${k} i32)` : `(param $p${k} i32)`))];
  const strided = f.slots.flatMap((m, k) => (byRow(m) ? [k] : []));
  const body = [
    set('wb', `(i32.shl ${get('W')} (i32.const 2))`),
    set('w4', `(i32.and ${get('wb')} (i32.const -16))`),
    set('b', c32(0)),
    ...whileLoop('b', `(i32.ge_u ${get('b')} ${get('R')})`, [
      set('i', c32(0)),
      ...whileLoop('v', `(i32.ge_u ${get('i')} ${get('w4')})`, [...vector, set('i', add(get('i'), c32(16)))]),
      ...whileLoop('s', `(i32.ge_u ${get('i')} ${get('wb')})`, [...tail, set('i', add(get('i'), c32(4)))]),
      ...strided.map((k) => set(`p${k}`, add(get(`p${k}`), get(`s${k}`)))),
      set('b', add(get('b'), c32(1))),
    ]),
  ];
  const values = f.stmts.filter((s) => s.local).map((s) => `(local $v${s.id} v128)`);
  return [
    `  (func $${f.name} (export "${f.name}") ${params.join(' ')}`,
    `    (local $b i32) (local $i i32) (local $wb i32) (local $w4 i32)${values.length ? ' ' + values.join(' ') : ''}${t.locals.length ? ' ' + t.locals.join(' ') : ''}`,
    ...body.map((l) => '    ' + l),
    '  )',
  ];
}

/** An activation of four lanes as a function of its own ($tanh4, $sigmoid4: the tails call it). */
function actFuncText(kind: ActKind): string[] {
  return [
    `  (func $${kind}4 (param $x v128) (result v128)`,
    `    ${ACT_LOCALS.map((l) => `(local $${l} v128)`).join(' ')}`,
    ...actBody(kind).map((l) => '    ' + l),
    `    ${get('v')}`,
    '  )',
  ];
}

/** The module of a cell's elementwise loops; `shared` imports a shared memory (celda's thread pool). */
export function wasmLoopsText(funcs: readonly WasmLoopFunc[], shared: boolean): string {
  const called = new Set<ActKind>();
  return [
    ';; celda: a cell\'s fused elementwise loops, f32x4; generated by compiler/emit/wasm/loops-wat.ts.',
    '(module',
    `  (import "env" "memory" (memory 1 65536${shared ? ' shared' : ''}))`,
    ...funcs.flatMap((f) => funcText(f, called)),
    ...ACT_KINDS.filter((k) => called.has(k)).flatMap(actFuncText),
    ')',
    '',
  ].join('\n');
}

/** The module assembled (by watr) for an unshared memory: its text, base64, and the byte that makes it import a shared one (3) instead (1). */
export interface WasmLoopsModule {
  readonly wat: string;
  readonly base64: string;
  readonly sharedFlagAt: number;
  readonly bytes: number;
}

export function assembleWasmLoops(funcs: readonly WasmLoopFunc[]): WasmLoopsModule {
  const wat = wasmLoopsText(funcs, false);
  const local: Uint8Array = compileWat(wat);
  const sharedFlagAt = memoryFlagAt(local);
  let s = '';
  for (const b of local) s += String.fromCharCode(b);
  return { wat, base64: btoa(s), sharedFlagAt, bytes: local.length };
}
