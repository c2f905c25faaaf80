// Phases of the lowering (compiler/lower/phases.ts, analysis.ts linearParts): a
// state that does not depend on the carry is still computed in the loop (it is
// a carry root), so what reads it — a reduction, a softmax, a product — cannot
// run before the loop. Each cell below read such a state before it was written
// (the JavaScript module disagreed with the interpreter); now every one agrees.
import { describe, expect, it } from 'vitest';
import { jsBackend } from '../../../runtime/backends/js.ts';
import { agreement } from '../../support/emit-js.ts';
import { compileOk } from '../../support/cells.ts';
import { emitJs } from '../../../compiler/emit/js/emit.ts';

const READS_A_STATE_AT_T: Record<string, string> = {
  'Σ_i of it': 'm^<t> = m^<t-1> + sum(k^<t>)',
  'Σ_i of a product of it': 'm^<t> = m^<t-1> + sum(k^<t> * k^<t>)',
  'softmax of it': 'm^<t> = m^<t-1> + softmax(k^<t>)',
  'a matrix times its softmax': 'm^<t> = m^<t-1> + V softmax(k^<t>)',
  'beside a nonlinear recurrence': 'm^<t> = tanh(m^<t-1>) + sum(k^<t>)',
};

describe('a value of the loop is not read before the loop', () => {
  for (const [what, body] of Object.entries(READS_A_STATE_AT_T)) {
    it(what, () => {
      const cell = compileOk(`cell L {\n  input x : n\n  state k : n\n  state m : n\n  k^<t> = tanh(W x^<t>)\n  ${body}\n}`)[0]!;
      for (const [batch, seed] of [[1, 1], [3, 2]] as const) {
        const a = agreement(cell, jsBackend, { dims: { n: 3 }, batch, steps: 3, seed });
        expect(a.worst, `batch ${batch}: worst at ${a.where}`).toBeLessThanOrEqual(1e-12);
      }
    });
  }

  it('the reduction runs in the loop, after the state it reads', () => {
    const cell = compileOk('cell L {\n  input x : n\n  state k : n\n  state m : n\n  k^<t> = tanh(W x^<t>)\n  m^<t> = m^<t-1> + sum(k^<t>)\n}')[0]!;
    const m = emitJs(cell, { precision: 'f64' }).module;
    const pre = m.slice(m.indexOf('function $forwardPre'), m.indexOf('function $forwardLoop'));
    expect(pre).not.toContain('$sumFeat');
    expect(m.slice(m.indexOf('function $forwardLoop'))).toContain('$sumFeat');
  });
});
