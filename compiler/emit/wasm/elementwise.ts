// How each elementwise primitive a fused loop may hand over to WebAssembly is
// written in f32x4 (emit/wasm/loops-wat.ts writes the loops around them). The
// table's keys are exactly what the loops support: a primitive missing here
// (exp, log, softplus, power: no f32x4 instruction, and a polynomial of our own would
// not match JavaScript's float64 Math) keeps its loop in JavaScript, and a new
// primitive is a compile error until it is added here or to WasmLoopLacks.

import type { ElementwiseOp, OpName } from '../../ir/ops.ts';
import type { ActKind } from './kernels-wat.ts';
import { get } from './wat-text.ts';

/** The elementwise primitives a loop handed over to WebAssembly cannot contain. */
type WasmLoopLacks = 'exp' | 'log' | 'softplus' | 'power';
export type WasmLoopOp = Exclude<ElementwiseOp, WasmLoopLacks>;

export interface WasmContext {
  /** The op's exponent (pow). */
  readonly p?: number;
  /** A fresh v128 local, named without its `$`. */
  temp(): string;
  /** tanh or σ of four lanes (the `act` kernel's arithmetic, kernels-wat.ts actBody). */
  act(kind: ActKind, x: string): string;
}

export interface WasmRender {
  /** The f32x4 text from its operands, each written when called (in the order called: a temp taken first is numbered first). */
  readonly text: (x: readonly (() => string)[], c: WasmContext) => string;
  /** The exponents it handles (pow); a loop with any other stays in JavaScript. */
  readonly only?: (p: number | undefined) => boolean;
}

export const splat = (v: number) => `(f32x4.splat (f32.const ${f32Text(v)}))`;

/**
 * A constant as the float32 that JavaScript's float32 stores would round it to,
 * written as the shortest decimal that reads back as that float in float64 (which
 * holds every float32 exactly). watr reads a decimal f32 literal as the nearest
 * float64, then rounds that to float32 (twice rounded: a decimal near the midpoint
 * of two float32s could land on the wrong one); this text reads back as the
 * float32 itself in float64, so the second rounding is exact.
 */
function f32Text(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return 'nan';
  if (!Number.isFinite(f)) return f > 0 ? 'inf' : '-inf';
  return Object.is(f, -0) ? '-0' : String(f);
}

const op1 = (name: string): WasmRender => ({ text: ([a]) => `(f32x4.${name} ${a!()})` });
const op2 = (name: string): WasmRender => ({ text: ([a, b]) => `(f32x4.${name} ${a!()} ${b!()})` });

export const WASM_LOOP_OPS: Readonly<Record<WasmLoopOp, WasmRender>> = {
  add: op2('add'),
  sub: op2('sub'),
  mul: op2('mul'),
  div: op2('div'),
  neg: op1('neg'),
  abs: op1('abs'),
  sqrt: op1('sqrt'),
  // IEEE max and min, as Math.max and Math.min: NaN if either is, max(−0, +0) = +0.
  max: op2('max'),
  min: op2('min'),
  stopgrad: { text: ([a]) => a!() },
  // Comparisons give all-ones lanes where true: masked to 1.0, as JavaScript's `x >= y ? 1 : 0`.
  ge: { text: ([a, b]) => `(v128.and (f32x4.ge ${a!()} ${b!()}) ${splat(1)})` },
  gt: { text: ([a, b]) => `(v128.and (f32x4.gt ${a!()} ${b!()}) ${splat(1)})` },
  // a where m ≠ 0 (NaN included, as JavaScript's m !== 0), else b; both branches are computed, as in JavaScript.
  select: {
    text: ([m, a, b]) => {
      const mask = m!(), x = a!(), y = b!();
      return `(v128.bitselect ${x} ${y} (f32x4.ne ${mask} ${splat(0)}))`;
    },
  },
  // max(0, x) as JavaScript's x > 0 ? x : 0 (pmax(0, x) = 0 < x ? x : 0: NaN and −0 give 0).
  relu: { text: ([a]) => `(f32x4.pmax ${splat(0)} ${a!()})` },
  step: { text: ([a]) => `(v128.and (f32x4.gt ${a!()} ${splat(0)}) ${splat(1)})` },
  // Math.sign: 1 above 0, −1 below, else x itself (±0, NaN).
  sign: {
    text: ([a], c) => {
      const t = c.temp();
      return `(v128.bitselect ${splat(1)} (v128.bitselect ${splat(-1)} (local.tee $${t} ${a!()}) (f32x4.lt ${get(t)} ${splat(0)})) (f32x4.gt ${get(t)} ${splat(0)}))`;
    },
  },
  // x¹ and x² only.
  pow: {
    only: (p) => p === 2 || p === 1,
    text: ([a], c) => {
      if (c.p === 1) return a!();
      const t = c.temp();
      return `(f32x4.mul (local.tee $${t} ${a!()}) ${get(t)})`;
    },
  },
  tanh: { text: ([a], c) => c.act('tanh', a!()) },
  sigmoid: { text: ([a], c) => c.act('sigmoid', a!()) },
} satisfies Record<WasmLoopOp, WasmRender>;

/** Whether a loop with this op may be handed over (the table's keys; for pow, its exponents). */
export function wasmLoopSupports(op: OpName, p: number | undefined): op is WasmLoopOp {
  if (!Object.hasOwn(WASM_LOOP_OPS, op)) return false;
  return WASM_LOOP_OPS[op as WasmLoopOp].only?.(p) ?? true;
}
