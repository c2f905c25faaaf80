// How each elementwise primitive is written in a gpu.js kernel: the arithmetic
// of the JavaScript table (emit/js/elementwise.ts), and the rest written for
// gpu.js — Math.* instead of the module's helpers (a kernel calls nothing else),
// tanh clamped, σ through a bound exp. A closed table: a new primitive is a
// compile error here until it has its gpu.js text. Every operand is a name or an atom, and the
// kernel writer parenthesizes any result that is not (emit/gpujs/kernel-writer.ts).

import type { ElementwiseOp } from '../../ir/ops.ts';
import type { Render } from '../js/elementwise.ts';
import { ARITHMETIC } from '../js/elementwise.ts';
import { lit } from './base.ts';

/** `Math.f(x)`: an atom. */
const math = (f: string): Render => ([a]) => ({ s: `Math.${f}(${a!.s})`, p: 4 });
const atom = (s: string) => ({ s, p: 4 });

export const GPUJS_ELEMENTWISE: Readonly<Record<ElementwiseOp, Render>> = {
  ...ARITHMETIC,
  pow: ([a], { p }) => atom(power(a!.s, p!)),
  tanh: ([a]) => atom(`Math.tanh(Math.min(Math.max(${a!.s}, -15.0), 15.0))`),
  sigmoid: ([a], { bind }) => {
    // stable both ways: exp of a non-positive number never overflows
    const v = a!.s;
    const e = bind!('e', `Math.exp(-Math.abs(${v}))`);
    return atom(`(${v} >= 0.0 ? 1.0 / (1.0 + ${e}) : ${e} / (1.0 + ${e}))`);
  },
  relu: ([a]) => atom(`Math.max(${a!.s}, 0.0)`),
  step: ([a]) => atom(`(${a!.s} > 0.0 ? 1.0 : 0.0)`),
  sign: math('sign'),
  max: ([a, b]) => atom(`Math.max(${a!.s}, ${b!.s})`),
  min: ([a, b]) => atom(`Math.min(${a!.s}, ${b!.s})`),
  stopgrad: ([a]) => a!,
  ge: ([a, b]) => atom(`(${a!.s} >= ${b!.s} ? 1.0 : 0.0)`),
  gt: ([a, b]) => atom(`(${a!.s} > ${b!.s} ? 1.0 : 0.0)`),
  select: ([m, a, b]) => atom(`(${m!.s} != 0.0 ? ${a!.s} : ${b!.s})`),
  power: ([a, b]) => atom(`Math.pow(${a!.s}, ${b!.s})`),
  abs: math('abs'),
  exp: math('exp'),
  log: math('log'),
  sqrt: math('sqrt'),
  softplus: ([a]) => atom(`(Math.max(${a!.s}, 0.0) + Math.log(1.0 + Math.exp(-Math.abs(${a!.s}))))`),
} satisfies Record<ElementwiseOp, Render>;

function power(x: string, p: number): string {
  if (Number.isInteger(p) && p >= 1 && p <= 4) return `(${Array.from({ length: p }, () => x).join(' * ')})`;
  if (p === 0) return '1.0';
  if (p === -1) return `(1.0 / ${x})`;
  if (p === 0.5) return `Math.sqrt(${x})`;
  return `Math.pow(${x}, ${lit(p)})`;
}
