// How each elementwise primitive is written in emitted JavaScript: one closed
// table, so a primitive added to ir/ops.ts without a rendering here is a compile
// error. gpu.js kernels (emit/gpujs/elementwise.ts) take its arithmetic as it is
// and write the rest their own way.

import type { ElementwiseOp } from '../../ir/ops.ts';
import { jsNumber } from './identifiers.ts';

/** An expression already written, with its precedence (1 sum, 2 product, 3 unary, 4 atom). */
export interface Operand {
  readonly s: string;
  readonly p: number;
}

/** An op written out: its text and precedence, and the helper it calls (emit/js/helpers.ts MATH), if any. */
export interface Rendered extends Operand {
  readonly uses?: string;
}

export interface RenderContext {
  /** The op's exponent (pow). */
  readonly p?: number;
  /** Binds an expression to a `const` of its own (gpu.js kernels, which repeat no subexpression), returning its name. */
  readonly bind?: (base: string, expr: string) => string;
}

/** An op's text from its operands, already written, in order. */
export type Render = (x: readonly Operand[], c: RenderContext) => Rendered;

/** An operand in parentheses when it binds looser than `min` (or as loosely, on the right of a non-associative op). */
export const paren = (x: Operand, min: number, strict = false) => (x.p < min || (strict && x.p === min) ? `(${x.s})` : x.s);

const infix = (op: string, p: number): Render => ([a, b]) => ({ s: `${paren(a!, p)} ${op} ${paren(b!, p, true)}`, p });
/** A call of one of the helpers of emitted modules (`$tanh(x)`). */
const helper = (name: string): Render => ([a]) => ({ s: `${name}(${a!.s})`, p: 4, uses: name });

/** Arithmetic, written the same in every C-like kernel language (gpu.js takes these as they are). */
export const ARITHMETIC = {
  add: infix('+', 1),
  sub: infix('-', 1),
  mul: infix('*', 2),
  div: infix('/', 2),
  neg: ([a]) => ({ s: `-${paren(a!, 4)}`, p: 3 }),
} satisfies Partial<Record<ElementwiseOp, Render>>;

export const JS_ELEMENTWISE: Readonly<Record<ElementwiseOp, Render>> = {
  ...ARITHMETIC,
  pow: ([a], { p }) => {
    if (p !== 2) return { s: `$pow(${a!.s}, ${jsNumber(p!)})`, p: 4, uses: '$pow' };
    // x² of a name or an element read as x * x; of anything longer, through the helper (computed once)
    return a!.p === 4 && !a!.s.includes('(') ? { s: `${a!.s} * ${a!.s}`, p: 2 } : { s: `$sq(${a!.s})`, p: 4, uses: '$sq' };
  },
  tanh: helper('$tanh'),
  sigmoid: helper('$sigmoid'),
  relu: helper('$relu'),
  exp: helper('$exp'),
  log: helper('$log'),
  sqrt: helper('$sqrt'),
  abs: helper('$abs'),
  softplus: helper('$softplus'),
  step: helper('$heaviside'),
  sign: helper('$sign'),
  max: ([a, b]) => ({ s: `Math.max(${a!.s}, ${b!.s})`, p: 4 }),
  min: ([a, b]) => ({ s: `Math.min(${a!.s}, ${b!.s})`, p: 4 }),
  stopgrad: ([a]) => a!,
  ge: ([a, b]) => ({ s: `(${a!.s} >= ${b!.s} ? 1 : 0)`, p: 4 }),
  gt: ([a, b]) => ({ s: `(${a!.s} > ${b!.s} ? 1 : 0)`, p: 4 }),
  select: ([m, a, b]) => ({ s: `(${m!.s} !== 0 ? ${a!.s} : ${b!.s})`, p: 4 }),
  power: ([a, b]) => ({ s: `Math.pow(${a!.s}, ${b!.s})`, p: 4 }),
} satisfies Record<ElementwiseOp, Render>;
