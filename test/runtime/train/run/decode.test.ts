// Decoding: sampling is reproducible from its seed, top-k 1 is greedy, and
// beam search wide enough to be exhaustive finds the likeliest sequence.

import { describe, expect, it } from 'vitest';
import { Rng } from '../../../../runtime/random.ts';
import { beamDecode, generate, greedyDecode } from '../../../../runtime/train/run/decode.ts';
import { makeBatch, runBatch } from '../../../../runtime/train/model/topology.ts';
import { exampleCell, tinyModel } from '../../../support/train.ts';

const gru = exampleCell('gru.celda');

describe('one-to-many generation', () => {
  const { model, params } = tinyModel(gru, { topology: 'one-to-many' }, 4);
  const o = { temperature: 1, topK: 0, greedy: false, maxLen: 6, eos: 3 };
  it('one seed gives the same samples', () => {
    const a = generate(model, params, 5, new Rng(1), o), b = generate(model, params, 5, new Rng(1), o);
    expect(a.map((s) => [...s])).toEqual(b.map((s) => [...s]));
    expect(a.every((s) => s.length <= 6 && !s.includes(3))).toBe(true);
  });
  it('top-k 1 and greedy agree', () => {
    const g = generate(model, params, 3, new Rng(1), { ...o, greedy: true });
    const k1 = generate(model, params, 3, new Rng(2), { ...o, topK: 1 });
    expect(k1.map((s) => [...s])).toEqual(g.map((s) => [...s]));
  });
});

describe('encoder–decoder decoding', () => {
  const { model, params } = tinyModel(gru, { topology: 'encoder-decoder', classes: 3 }, 8);
  const eos = 2, maxLen = 4;
  const src = Int32Array.of(1, 4, 2);
  const nll = (y: number[]) => runBatch(model, params, makeBatch(model, [{ x: src, y: Int32Array.from([...y, eos]) }]), null).loss;

  it('beam search of width 1 is greedy', () => {
    expect([...beamDecode(model, params, src, 1, maxLen, eos)]).toEqual([...greedyDecode(model, params, [src], maxLen, eos)[0]!]);
  });

  it('a beam wide enough to keep every prefix finds the likeliest sequence', () => {
    let best: number[] = [], bestNll = Infinity;
    const walk = (prefix: number[]) => {
      const v = nll(prefix);
      if (v < bestNll) { bestNll = v; best = prefix; }
      if (prefix.length < maxLen - 1) for (const c of [0, 1]) walk([...prefix, c]);
    };
    walk([]);
    const beam = [...beamDecode(model, params, src, 16, maxLen, eos)];
    expect(nll(beam)).toBeCloseTo(bestNll, 10);
    expect(beam).toEqual(best);
  });

  it('greedy decoding of a batch matches decoding each source alone', () => {
    const srcs = [src, Int32Array.of(0), Int32Array.of(3, 3, 3, 1)];
    const together = greedyDecode(model, params, srcs, maxLen, eos).map((s) => [...s]);
    const alone = srcs.map((s) => [...greedyDecode(model, params, [s], maxLen, eos)[0]!]);
    expect(together).toEqual(alone);
  });
});
