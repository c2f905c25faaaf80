// Gradients of every topology against central finite differences, through the
// interpreter backend in float64: masks (variable lengths in one batch), teacher
// forcing, the encoder→decoder handoff, embeddings, one-hot inputs, the
// bidirectional wrapper, stacked layers, the cell's own heads, truncated BPTT.

import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../../../runtime/train/model/model.ts';
import { pad } from '../../../../runtime/train/data/batch.ts';
import { zerosLike } from '../../../../runtime/train/tensor.ts';
import { makeBatch, runBatch } from '../../../../runtime/train/model/topology.ts';
import { exampleCell, gradCheck, tinyExamples, tinyModel } from '../../../support/train.ts';

const gru = exampleCell('gru.celda'), rnn = exampleCell('rnn.celda'), lstm = exampleCell('lstm.celda'), rnnG = exampleCell('rnn-g.celda'), mgu = exampleCell('mgu.celda');

const cases: [string, typeof gru, Partial<ModelSpec> & Pick<ModelSpec, 'topology'>, number?][] = [
  ['many-to-many, GRU, runtime head, embedding', gru, { topology: 'many-to-many' }],
  ['many-to-many, bidirectional GRU, 2 layers', gru, { topology: 'many-to-many', bidirectional: true, layers: 2 }, 3],
  ['many-to-many, RNN with its own softmax ŷ', rnn, { topology: 'many-to-many' }],
  ['many-to-many, RNN_g with its own sigmoid ŷ (per-class sigmoid loss)', rnnG, { topology: 'many-to-many' }],
  ['many-to-one, GRU, 4 classes', gru, { topology: 'many-to-one' }],
  ['many-to-one, MGU, two classes (sigmoid cross-entropy)', mgu, { topology: 'many-to-one', classes: 2 }],
  ['many-to-one, RNN with its own softmax ŷ, two classes', rnn, { topology: 'many-to-one', classes: 2 }],
  ['many-to-one, bidirectional LSTM', lstm, { topology: 'many-to-one', bidirectional: true }],
  ['one-to-many, LSTM, teacher forcing', lstm, { topology: 'one-to-many' }],
  ['one-to-many, GRU, one-hot inputs', gru, { topology: 'one-to-many', embed: 0 }],
  ['encoder–decoder, LSTM, 2 layers (both states handed over)', lstm, { topology: 'encoder-decoder', layers: 2 }, 3],
  ['encoder–decoder, RNN with its own ŷ', rnn, { topology: 'encoder-decoder' }],
];

describe('topology gradients match finite differences', () => {
  for (const [name, cell, spec, stride] of cases) {
    it(name, () => {
      const { model, params } = tinyModel(cell, spec);
      const r = gradCheck(model, params, tinyExamples(model, 4), { stride });
      expect(r.checked).toBeGreaterThan(20);
      expect(r.worst, r.where).toBeLessThan(1e-5);
    });
  }
});

describe('masks', () => {
  it('padding changes nothing: a batch of sequences of different lengths scores as the sum of its parts', () => {
    for (const topology of ['many-to-many', 'many-to-one', 'one-to-many', 'encoder-decoder'] as const) {
      const { model, params } = tinyModel(gru, { topology, bidirectional: topology === 'many-to-many' });
      const ex = tinyExamples(model, 4);
      const all = runBatch(model, params, makeBatch(model, ex), null);
      const parts = ex.map((e) => runBatch(model, params, makeBatch(model, [e]), null));
      expect(all.count).toBe(parts.reduce((n, p) => n + p.count, 0));
      expect(all.loss).toBeCloseTo(parts.reduce((s, p) => s + p.loss, 0), 10);
    }
  });

  it('pads time-major with −1', () => {
    const p = pad([Int32Array.of(1, 2, 3), Int32Array.of(4)]);
    expect([...p.ids]).toEqual([1, 4, 2, -1, 3, -1]);
    expect([...p.lengths]).toEqual([3, 1]);
  });
});

describe('truncated BPTT', () => {
  it('with a window as long as the sequence it is plain BPTT', () => {
    const { model, params } = tinyModel(gru, { topology: 'many-to-many' });
    const ex = tinyExamples(model, 4);
    const b = makeBatch(model, ex);
    const g1 = zerosLike(params), g2 = zerosLike(params);
    runBatch(model, params, b, g1);
    runBatch(model, params, b, g2, { bptt: b.src.T });
    for (const [k, v] of g1) expect([...g2.get(k)!.data]).toEqual([...v.data]);
  });

  it('is the gradient of the chunked loss with each carried state held constant', () => {
    const { model, params } = tinyModel(lstm, { topology: 'many-to-many' });
    const seq = (n: number, s: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + s) % 4);
    const ex = [0, 1, 2].map((s) => ({ x: seq(6, s), y: seq(6, s + 1) }));
    const K = 4;
    const full = makeBatch(model, ex);
    const grads = zerosLike(params);
    const r = runBatch(model, params, full, grads, { bptt: K });
    // The same objective by hand: the first chunk, then the second from the first's final states as constants.
    const head = makeBatch(model, ex.map((e) => ({ x: e.x.slice(0, K), y: e.y.slice(0, K) })));
    const tail = makeBatch(model, ex.map((e) => ({ x: e.x.slice(K), y: e.y.slice(K) })));
    const carry = runBatch(model, params, head, null, { carry: true }).carry!;
    const objective = () => (runBatch(model, params, head, null).loss + runBatch(model, params, tail, null, { init: carry }).loss) / r.count;
    expect(objective()).toBeCloseTo(r.loss / r.count, 12);
    const eps = 1e-6;
    let worst = 0;
    for (const [name, p] of params) for (let i = 0; i < p.data.length; i += 3) {
      const x = p.data[i]!;
      p.data[i] = x + eps; const up = objective();
      p.data[i] = x - eps; const down = objective();
      p.data[i] = x;
      const fd = (up - down) / (2 * eps), an = grads.get(name)!.data[i]!;
      worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-4, Math.abs(fd) + Math.abs(an)));
    }
    expect(worst).toBeLessThan(1e-5);
    // And it is not the full gradient: the truncation drops the paths across the cut.
    const fullGrads = zerosLike(params);
    runBatch(model, params, full, fullGrads);
    const diff = [...fullGrads].some(([k, v]) => v.data.some((x, i) => Math.abs(x - grads.get(k)!.data[i]!) > 1e-9));
    expect(diff).toBe(true);
  });
});

describe('swapping the backend', () => {
  it('the generated-JS backend gives the interpreter’s losses and gradients', async () => {
    const { jsBackend } = await import('../../../../runtime/backends/js.ts');
    const { buildModel } = await import('../../../../runtime/train/model/model.ts');
    for (const [cell, spec] of [[lstm, { topology: 'encoder-decoder', layers: 2 }], [gru, { topology: 'many-to-many', bidirectional: true }], [rnn, { topology: 'one-to-many' }]] as const) {
      const { model, params } = tinyModel(cell, spec);
      const js = buildModel(cell, model.spec, jsBackend);
      const batch = makeBatch(model, tinyExamples(model, 4));
      const g1 = zerosLike(params), g2 = zerosLike(params);
      const a = runBatch(model, params, batch, g1), b = runBatch(js, params, batch, g2);
      expect(b.loss).toBeCloseTo(a.loss, 10);
      for (const [k, v] of g1) v.data.forEach((x, i) => expect(g2.get(k)!.data[i]).toBeCloseTo(x, 10));
    }
  });
});

describe('every example cell trains in every topology', () => {
  const files = ['rnn.celda', 'rnn-g.celda', 'gru-simplified.celda', 'gru.celda', 'lstm-notes.celda', 'lstm.celda', 'lstm-peephole.celda', 'mgu.celda'];
  for (const file of files) {
    it(file, () => {
      const cell = exampleCell(file);
      for (const topology of ['many-to-many', 'many-to-one', 'one-to-many', 'encoder-decoder'] as const) {
        for (const bidirectional of topology === 'many-to-many' ? [false, true] : [false]) {
          const { model, params } = tinyModel(cell, { topology, bidirectional });
          const grads = zerosLike(params);
          const r = runBatch(model, params, makeBatch(model, tinyExamples(model, 3)), grads);
          expect(Number.isFinite(r.loss) && r.loss > 0, `${file} ${topology}`).toBe(true);
          const cellGrads = [...grads].filter(([k]) => k.includes('layer0.') && !k.endsWith('_y') && !k.endsWith('_ya'));
          expect(cellGrads.some(([, g]) => g.data.some((x) => x !== 0)), `${file} ${topology}`).toBe(true);
        }
      }
    });
  }

  it('a cell with two states and no a^<t> asks for --readout, and trains with it', async () => {
    const { cellFrom } = await import('../../../support/train.ts');
    const two = cellFrom('cell Two {\n input x : n_x\n state h : n_h\n state m : n_h\n m^<t> = tanh(W_m[h^<t-1>, x^<t>] + b_m)\n h^<t> = σ(W_h[m^<t-1>, x^<t>]) ⊙ m^<t>\n}\n');
    expect(() => tinyModel(two, { topology: 'many-to-one' })).toThrow(/choose the value the output head reads with --readout NAME \(one of m, h\)/);
    const { model, params } = tinyModel(two, { topology: 'many-to-one', readout: 'h' });
    expect(gradCheck(model, params, tinyExamples(model, 3)).worst).toBeLessThan(1e-5);
  });
});
