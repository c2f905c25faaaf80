// The playground's training worker pads each batch's length for gpu.js (one
// pipeline per length): the padded batch must give the loss and gradients of
// the batch as made, for each topology the page trains. And the page trains
// what `celda train` trains: the task's defaults, the loop's own steps.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { interpBackend } from '../../../runtime/backends/interp.ts';
import { Rng } from '../../../runtime/random.ts';
import type { Example } from '../../../runtime/train/data/batch.ts';
import type { Topology } from '../../../runtime/train/model/model.ts';
import { buildModel, initParams } from '../../../runtime/train/model/model.ts';
import { makeBatch, runBatch } from '../../../runtime/train/model/topology.ts';
import { zerosLike } from '../../../runtime/train/tensor.ts';
import { getTask } from '../../../runtime/train/data/tasks/index.ts';
import { defaultConfig, TrainCore } from '../../../runtime/train/run/core.ts';
import { train } from '../../../runtime/train/run/loop.ts';
import { padTime, pageConfig } from '../../../web/train/trainer.ts';

const GRU = compile(readFileSync(join(import.meta.dirname, '../../../examples/cells/gru.celda'), 'utf8')).cells[0]!;

function examples(topology: Topology, rng: Rng): Example[] {
  const seq = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rng.next() * 5));
  return [3, 7, 5, 1].map((n) => topology === 'one-to-many' ? { y: seq(n) } : topology === 'many-to-one' ? { x: seq(n), y: Int32Array.of(n % 2) } : { x: seq(n), y: Int32Array.from(seq(n), (v) => v % 3) });
}

describe('padTime', () => {
  for (const [topology, bidirectional] of [['one-to-many', false], ['many-to-one', false], ['many-to-many', true]] as const) {
    it(`${topology}${bidirectional ? ' (bidirectional)' : ''}: same loss and gradients at length 16 as at the batch's own`, () => {
      const rng = new Rng(3);
      const model = buildModel(GRU, { topology, inVocab: 5, classes: 5, embed: 3, hidden: 4, layers: 1, bidirectional, head: 'auto' }, interpBackend);
      const params = initParams(model, rng, { kind: 'glorot', forgetBias: 1 });
      const batch = makeBatch(model, examples(topology, rng));
      const padded = padTime(batch, 16);
      expect(padded.src.T).toBe(16);
      expect(batch.src.T).toBeLessThan(16);
      const g0 = zerosLike(params), g1 = zerosLike(params);
      const a = runBatch(model, params, batch, g0), b = runBatch(model, params, padded, g1);
      expect(b.count).toBe(a.count);
      expect(b.loss).toBeCloseTo(a.loss, 12);
      for (const [name, t] of g0) {
        const u = g1.get(name)!.data;
        expect(Math.max(...t.data.map((v, i) => Math.abs(v - u[i]!))), name).toBeLessThan(1e-12);
      }
      expect([...g0.values()].some((t) => t.data.some((v) => v !== 0))).toBe(true);
    });
  }

  it('leaves a batch already that long, or longer, as it is', () => {
    const model = buildModel(GRU, { topology: 'one-to-many', inVocab: 5, classes: 5, embed: 3, hidden: 4, layers: 1, bidirectional: false, head: 'auto' }, interpBackend);
    const batch = makeBatch(model, examples('one-to-many', new Rng(1)));
    expect(padTime(batch, batch.src.T)).toBe(batch);
    expect(padTime(batch, 2)).toBe(batch);
  });
});

describe('the page trains what celda train trains', () => {
  const cfg = { task: 'gender' as const, seed: 5, hidden: 6, layers: 2, optimizer: 'adam' as const, schedule: 'step:4:0.5', steps: 12 };

  it('pageConfig: the task\'s defaults, with the page\'s choices and its evaluation cadence', () => {
    const c = pageConfig(cfg);
    expect(c).toEqual(defaultConfig(getTask('gender'), { seed: 5, hidden: 6, layers: 2, optimizer: 'adam', schedule: 'step:4:0.5', steps: 12, threads: 1, evalSize: 256, evalEvery: 25 }));
    expect(c.lr).toBe(getTask('gender').defaults.lr);
    expect(c.warmup).toBe(getTask('gender').defaults.warmup);
    expect(pageConfig({ ...cfg, steps: 800 }).evalEvery).toBe(100);
  });

  it('TrainCore stepped as the page steps it ends where `celda train`\'s loop ends; padded as for gpu.js, to rounding', async () => {
    const config = { ...pageConfig(cfg), evalEvery: 1000 };
    const task = getTask('gender');
    const cli = await train({ task, cell: GRU, config, factory: interpBackend });
    const page = new TrainCore({ task, cell: GRU, config, factory: interpBackend }).init();
    const padded = new TrainCore({ task, cell: GRU, config, factory: interpBackend }).init();
    for (let i = 0; i < config.steps; i++) {
      page.stepOnce((b) => padTime(b, b.src.T));
      padded.stepOnce((b) => padTime(b, Math.ceil(b.src.T / 8) * 8));
    }
    expect(page.step).toBe(cli.step);
    for (const [name, t] of cli.params) {
      expect([...page.params.get(name)!.data], name).toEqual([...t.data]);
      const u = padded.params.get(name)!.data;
      expect(Math.max(...t.data.map((v, i) => Math.abs(v - u[i]!))), name).toBeLessThan(1e-9);
    }
  }, 60_000);
});
