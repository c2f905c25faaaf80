// Second derivatives. The backward step is itself a Graph, so grad() applies to
// it: the result is the VJP of the VJP, with respect to its parameter, input,
// previous-state and cotangent leaves. It is checked against central
// differences of the interpreted backward graph — which exercises every VJP
// rule on the nodes VJP rules emit (outer, transpose, sum_batch, bcast, pow …).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { grad } from '../../../compiler/passes/grad.ts';
import { verify } from '../../../compiler/ir/graph.ts';
import { simplify } from '../../../compiler/passes/simplify.ts';
import { Rng } from '../../../runtime/random.ts';
import { checkGraphGrad, describeMismatches, dimEnv, evalRoots, randomLeaves, scaledError } from '../../support/numeric.ts';

const DIR = new URL('../../../examples/cells/', import.meta.url);
const cellOf = (file: string, name: string) => compile(readFileSync(new URL(file, DIR), 'utf8')).cells.find((c) => c.name === name)!;
const CELLS = [
  cellOf('rnn.celda', 'RNN'), cellOf('gru.celda', 'GRU'), cellOf('lstm.celda', 'LSTM'),
  cellOf('lstm-notes.celda', 'LSTM_notes'), cellOf('rnn-unrolled.celda', 'RNN5'),
];
const SIZES = { n_x: 2, n_a: 3, n_y: 4 };

describe.each(CELLS.map((cell) => ({ name: cell.name, cell })))('grad(backward) of $name', ({ cell }) => {
  const env = dimEnv(cell, SIZES);

  it('matches central differences of the interpreted backward graph w.r.t. params, inputs, previous states and cotangents', () => {
    const r = checkGraphGrad(cell.backward, { env, batch: 2, seed: 600, wrt: ['param', 'input', 'prev', 'cot'], rtol: 1e-6, atol: 1e-9 });
    expect(verify(r.vjp)).toEqual([]);
    const kinds = new Set(r.vjp.roots.map((x) => x.of));
    expect([...kinds].sort()).toEqual(['cot', 'input', 'param', 'prev']);
    expect(r.count).toBeGreaterThan(40);
    expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
    expect(r.maxRel).toBeLessThan(1e-7);
  });

  it('the second-order graph simplifies without changing its values, and differentiates again', () => {
    const second = grad(cell.backward, ['param', 'input', 'prev', 'cot']);
    const simple = simplify(second);
    expect(verify(simple)).toEqual([]);
    expect(simplify(simple)).toBe(simple);
    expect(simple.nodes.length).toBeLessThan(second.nodes.length);
    const leaves = randomLeaves(second, env, 2, new Rng(601));
    const a = evalRoots(second, leaves, env, 2), b = evalRoots(simple, leaves, env, 2);
    a.forEach((v, k) => v.data.forEach((x, i) => expect(scaledError(x, b[k]!.data[i]!, 1e-12, 1e-14)).toBeLessThanOrEqual(1)));
    // Third order, on the simplified second-order graph of the smallest cell only.
    if (cell.name === 'RNN') {
      const r = checkGraphGrad(simple, { env, batch: 2, seed: 602, wrt: ['param', 'prev', 'cot'] });
      expect(r.mismatches, describeMismatches(r.mismatches)).toEqual([]);
    }
  });
});
