// ∂x only where something reads it (runtime/train/model/stack.ts, topology.ts):
// a layer's backward is asked for its input's gradient when a layer below, or an
// embedding, reads it — never for the first layer over a one-hot code. gpu.js then
// runs none of the kernels only ∂x needs (runtime/backends/gpujs.ts); every
// gradient stays bit for bit what asking for ∂x everywhere gave.

import { afterAll, describe, expect, it } from 'vitest';
import type { BackendFactory, CellBackend } from '../../../../runtime/backend.ts';
import { gpujsSyncBackend, releaseDevices } from '../../../../runtime/backends/gpujs.ts';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import type { ModelSpec } from '../../../../runtime/train/model/model.ts';
import { buildModel, initParams } from '../../../../runtime/train/model/model.ts';
import { makeBatch, runBatch } from '../../../../runtime/train/model/topology.ts';
import { Rng } from '../../../../runtime/random.ts';
import type { Table } from '../../../../runtime/train/tensor.ts';
import { zerosLike } from '../../../../runtime/train/tensor.ts';
import { exampleCell, gradCheck, tinyExamples, tinyModel } from '../../../support/train.ts';

afterAll(releaseDevices);

const gru = exampleCell('gru.celda'), lstm = exampleCell('lstm.celda');
type Spec = Partial<ModelSpec> & Pick<ModelSpec, 'topology'>;

/** Each layer's backend (in the order the forward builds them: encoder, then decoder; fwd, then bwd), with what each backward call asked. */
function asking(inner: BackendFactory): { factory: BackendFactory; asked: boolean[][] } {
  const asked: boolean[][] = [];
  return {
    asked,
    factory: (c, o) => {
      const b = inner(c, o), mine: boolean[] = [];
      asked.push(mine);
      return { ...b, backward: (cot, want) => { mine.push(want?.inputs ?? true); return b.backward(cot, want); } };
    },
  };
}

/** The layers' prefixes in the same order. */
const prefixes = (m: ReturnType<typeof buildModel>) => [m.encoder, ...(m.decoder ? [m.decoder] : [])].flatMap((mod) => mod.stack.blocks.flatMap((b) => (b.kind === 'uni' ? [b.layer] : [b.fwd, b.bwd]))).map((l) => l.prefix);

/** One training step's gradients of `spec`'s tiny model over `factory`. */
function step(cell: typeof gru, spec: Spec, factory: BackendFactory, bptt?: number): Table {
  const { params } = tinyModel(cell, spec);
  const model = buildModel(cell, { inVocab: 5, classes: 4, embed: 3, hidden: 3, layers: 1, bidirectional: false, head: 'auto', ...spec }, factory);
  const grads = zerosLike(params);
  runBatch(model, params, makeBatch(model, tinyExamples(model, 4)), grads, { bptt });
  return grads;
}

/** The backward as before: ∂x asked of every layer. */
const alwaysInputs = (inner: BackendFactory): BackendFactory => (c, o) => {
  const b = inner(c, o);
  return Object.assign(Object.create(b) as CellBackend, { backward: (cot: Parameters<CellBackend['backward']>[0]) => b.backward(cot, { inputs: true }) });
};

const same = (a: Table, b: Table) => {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, v] of a) expect(Buffer.from(b.get(k)!.data.buffer).equals(Buffer.from(v.data.buffer)), k).toBe(true);
};

describe('which layers are asked for ∂x', () => {
  const cases: [string, typeof gru, Spec, Record<string, boolean>][] = [
    ['many-to-many, one-hot, 2 layers: the upper layer only', gru, { topology: 'many-to-many', embed: 0, layers: 2 }, { 'layer0.': false, 'layer1.': true }],
    ['many-to-many, embedding: the first layer (the embedding reads it)', gru, { topology: 'many-to-many' }, { 'layer0.': true }],
    ['many-to-one, one-hot, bidirectional: neither direction', lstm, { topology: 'many-to-one', embed: 0, bidirectional: true }, { 'layer0.fwd.': false, 'layer0.bwd.': false }],
    ['many-to-many, one-hot, bidirectional, 2 layers: both directions of the upper block', gru, { topology: 'many-to-many', embed: 0, bidirectional: true, layers: 2 }, { 'layer0.fwd.': false, 'layer0.bwd.': false, 'layer1.fwd.': true, 'layer1.bwd.': true }],
    ['one-to-many, one-hot', gru, { topology: 'one-to-many', embed: 0 }, { 'layer0.': false }],
    ['encoder–decoder, one-hot, 2 layers: the upper layer of each', lstm, { topology: 'encoder-decoder', embed: 0, layers: 2 }, { 'encoder.layer0.': false, 'encoder.layer1.': true, 'decoder.layer0.': false, 'decoder.layer1.': true }],
    ['encoder–decoder, embeddings: every layer', gru, { topology: 'encoder-decoder' }, { 'encoder.layer0.': true, 'decoder.layer0.': true }],
  ];
  for (const [name, cell, spec, want] of cases) {
    it(name, () => {
      const { factory, asked } = asking(interpBackend);
      step(cell, spec, factory);
      const model = buildModel(cell, { inVocab: 5, classes: 4, embed: 3, hidden: 3, layers: 1, bidirectional: false, head: 'auto', ...spec }, interpBackend);
      expect(Object.fromEntries(prefixes(model).map((p, i) => [p, asked[i]]))).toEqual(Object.fromEntries(Object.entries(want).map(([p, w]) => [p, [w]])));
    });
  }

  it('truncated BPTT: each chunk, one-hot, asks for none', () => {
    const { factory, asked } = asking(interpBackend);
    step(gru, { topology: 'many-to-many', embed: 0 }, factory, 2);
    expect(asked).toEqual([[false, false]]);
  });

  it('gradients bit for bit as when every layer was asked, and still those of finite differences', () => {
    for (const [cell, spec] of [[gru, { topology: 'many-to-many', embed: 0, layers: 2 }], [lstm, { topology: 'encoder-decoder', embed: 0, layers: 2 }], [gru, { topology: 'many-to-one', embed: 0, bidirectional: true }]] as const) {
      same(step(cell, spec, interpBackend), step(cell, spec, alwaysInputs(interpBackend)));
      const { model, params } = tinyModel(cell, spec);
      const r = gradCheck(model, params, tinyExamples(model, 4), { stride: 3 });
      expect(r.worst, r.where).toBeLessThan(1e-5);
    }
  });
});

describe('gpu.js (webasm): one training step runs fewer kernels, to the same gradients', () => {
  /** The backends a factory made, in order, and the factory. */
  const gpujs = (always: boolean) => {
    const made: ReturnType<typeof gpujsSyncBackend>[] = [];
    const inner: BackendFactory = (c, o) => { const b = gpujsSyncBackend(c, o); made.push(b); return b; };
    return { made, factory: always ? alwaysInputs(inner) : inner };
  };
  /** Backward launches of each layer's backend after one step of GRU generating (one-to-many) over `spec`. */
  const run = (spec: Partial<ModelSpec>, always: boolean) => {
    const { made, factory } = gpujs(always);
    const full: ModelSpec = { topology: 'one-to-many', inVocab: 6, classes: 6, embed: 0, hidden: 8, layers: 1, bidirectional: false, head: 'runtime', ...spec };
    const model = buildModel(gru, full, factory);
    const params = initParams(model, new Rng(3), { kind: 'glorot', forgetBias: 0 });
    const grads = zerosLike(params);
    const ex = [3, 5, 4, 5].map((n, i) => ({ y: Int32Array.from({ length: n }, (_, t) => (i + 2 * t) % 6) }));
    runBatch(model, params, makeBatch(model, ex), grads);
    return { grads, launches: made.map((b) => b.launches().backward!.launches) };
  };

  it('a one-hot first layer: its backward launches drop from 87 to 82 (one ∂x kernel a step, T = 5), its gradients unchanged', () => {
    const before = run({}, true), after = run({}, false);
    expect(before.launches).toEqual([87]);
    expect(after.launches).toEqual([82]);
    same(after.grads, before.grads);
  });

  it('with an embedding the first layer still computes ∂x (the same launches), and the embedding its gradient', () => {
    const before = run({ embed: 6 }, true), after = run({ embed: 6 }, false);
    expect(after.launches).toEqual(before.launches);
    expect(after.launches).toEqual([87]);
    same(after.grads, before.grads);
    expect(after.grads.get('embedding')!.data.some((v) => v !== 0)).toBe(true);
  });

  it('two layers over one-hot: the lower skips ∂x, the upper still hands its ∂x down', () => {
    const before = run({ layers: 2 }, true), after = run({ layers: 2 }, false);
    expect(before.launches).toEqual([87, 87]);
    expect(after.launches).toEqual([82, 87]);
    same(after.grads, before.grads);
    // the lower layer's gradients come only through the upper layer's ∂x
    for (const [k, v] of after.grads) if (k.startsWith('layer0.')) expect(v.data.some((x) => x !== 0), k).toBe(true);
  });
});
