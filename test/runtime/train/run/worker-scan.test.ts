// The training threads make their backends with the main thread's scan option
// (`--no-scan`, `--scan log`: TrainInput.scan → WorkerSetup.scan,
// runtime/train/run/worker.ts), not the backend's default: the same shard of a
// minGRU step on gpu.js gives other bits in log space than plain, and with the
// option left out the plain ones.

import { readFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { gpujsSyncBackend, releaseDevices } from '../../../../runtime/backends/gpujs.ts';
import { Rng } from '../../../../runtime/random.ts';
import { buildModel, initParams } from '../../../../runtime/train/model/model.ts';
import { GradWorkers } from '../../../../runtime/train/run/parallel.ts';
import type { Table } from '../../../../runtime/train/tensor.ts';
import { zerosLike } from '../../../../runtime/train/tensor.ts';
import { compileOk } from '../../../support/cells.ts';
import { tinyExamples } from '../../../support/train.ts';

afterAll(releaseDevices);

const source = readFileSync(new URL('../../../../examples/zoo/mingru.celda', import.meta.url), 'utf8');
const cell = compileOk(source)[0]!;
const spec = { topology: 'many-to-one', inVocab: 5, classes: 4, embed: 0, hidden: 8, layers: 1, bidirectional: false, head: 'auto' } as const;

/** One step's summed gradients over two threads: this thread's shard on a plain scan, the worker's with `scan` (absent: left out of its setup). */
async function step(scan?: boolean | 'log'): Promise<Table> {
  const model = buildModel(cell, spec, (c, o) => gpujsSyncBackend(c, { ...o, webasmThreads: false }));
  const params = initParams(model, new Rng(3), { kind: 'glorot', forgetBias: 0 });
  const workers = await GradWorkers.start(2, { cellSource: source, cellName: cell.name, spec, backend: 'gpujs', ...(scan !== undefined ? { scan } : {}) }, params);
  try {
    const grads = zerosLike(params);
    await workers.step(model, params, tinyExamples(model, 8), grads, 0);
    return grads;
  } finally {
    await workers.close();
  }
}

const bits = (t: Table) => [...t].map(([k, v]) => `${k}:${Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('hex')}`);

it("a training thread's backend takes the run's scan option (--scan log on gpu.js: the worker's shard in log space)", async () => {
  const [log, plain, left] = [await step('log'), await step(true), await step()];
  expect(bits(plain)).toEqual(bits(left));
  // the worker's shard ran in log space: other bits …
  expect(bits(log)).not.toEqual(bits(plain));
  // … of the same gradient
  for (const [k, v] of plain) {
    const scale = Math.max(1e-6, ...Array.from(v.data, Math.abs));
    const err = Math.max(...Array.from(v.data, (x, i) => Math.abs(x - log.get(k)!.data[i]!)));
    expect(err / scale, k).toBeLessThan(1e-4);
  }
}, 120_000);
