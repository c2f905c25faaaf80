// Random cells through the generated JavaScript. fast-check builds expression
// trees (fc.letrec, test/support/random-cell-source.ts); they are typed against random dimensions and written as
// celda source: products with concatenated operands (some parameters shared
// between uses), transposed and multiplied parameter matrices, elementwise
// arithmetic, σ/tanh/softmax/softplus/relu, several states, intermediates and
// outputs. Every cell's forward values and gradients from the JS backend must
// agree with the float64 interpreter: 1e-12 relative in float64; 1e-5 in float32,
// relative to the cell's largest value (forward) or gradient (backward), since a
// random gradient may be a sum of nearly cancelling terms that float32 cannot
// resolve to 1e-5 of its own size — or, for a badly conditioned random cell, 20×
// what one float32 rounding of its inputs does to the float64 reference.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../../compiler/compile.ts';
import { hasErrors, render } from '../../../../compiler/diagnostics.ts';
import { jsBackend } from '../../../../runtime/backends/js.ts';
import { agreement } from '../../../support/emit-js.ts';
import type { CellSpec } from '../../../support/random-cell-source.ts';
import { randomCellSource, randomCellSpec } from '../../../support/random-cell-source.ts';

// Trees to depth 4 with every form, intermediates, outputs, and dimensions 1..4.
const spec = randomCellSpec({ maxDepth: 4, extended: true, maxInters: 2, maxOutputs: 2, maxSize: 4 });

function check(s: CellSpec, precision: 'f64' | 'f32', seed: number): boolean {
  const { text, dims } = randomCellSource(s);
  const r = compile(text);
  // A random cell may be refused (an intermediate nobody reads, say); that is the checker's business.
  if (hasErrors(r.diagnostics) || r.cells.length !== 1) return true;
  const cell = r.cells[0]!;
  const env = Object.fromEntries(cell.typed.dims.map((d) => [d, dims[d] ?? 2]));
  let a: ReturnType<typeof agreement>;
  try {
    a = agreement(cell, jsBackend, { dims: env, batch: 1 + (seed % 3), steps: 3, seed, precision });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${text}`, { cause: e });
  }
  // Values that float32 cannot hold (a recurrence that blows up) say nothing about the backend.
  if (precision === 'f32' && !(a.scale < 1e30)) return true;
  // float32 is judged against the cell's scale (a random gradient can be a sum of nearly cancelling
  // terms), and against the cell's conditioning (a recurrence like h ← 4h⁶ amplifies any rounding).
  const err = precision === 'f64' ? a.worst : a.worstScaled;
  const tol = precision === 'f64' ? 1e-12 : Math.max(1e-5, 20 * a.conditioning);
  if (!(err <= tol)) throw new Error(`${precision}: error ${err} at ${a.where}\n${text}${r.diagnostics.map((d) => render(d, 'cell.celda', text)).join('\n')}`);
  return true;
}

describe('random cells: the JS backend agrees with the interpreter', () => {
  it('compiles most random cells (the test is not vacuous)', () => {
    let ok = 0;
    fc.assert(fc.property(spec, (s) => { if (!hasErrors(compile(randomCellSource(s).text).diagnostics)) ok++; }), { numRuns: 60, seed: 11 });
    expect(ok).toBeGreaterThan(30);
  });

  it('float64: 1e-12', () => {
    fc.assert(fc.property(spec, fc.nat(1000), (s, seed) => check(s, 'f64', seed)), { numRuns: 120, seed: 7 });
  });

  it('float32: 1e-5', () => {
    fc.assert(fc.property(spec, fc.nat(1000), (s, seed) => check(s, 'f32', seed)), { numRuns: 80, seed: 8 });
  });
});
