// A data-parallel training thread (see parallel.ts): builds the same model from
// the cell's source and the run's settings, then answers each step with the
// gradient of its shard, reading the parameters from shared memory.

import { parentPort, workerData } from 'node:worker_threads';
import { compile } from '../../../compiler/compile.ts';
import { loadBackend, withScan } from './backends.ts';
import { buildModel } from '../model/model.ts';
import type { SharedLayout, StepReply, StepRequest, ThreadFailure, WorkerSetup } from './parallel.ts';
import { UsageError } from '../../usage.ts';
import type { Table } from '../tensor.ts';
import { zerosLike } from '../tensor.ts';
import { makeBatch, runBatch } from '../model/topology.ts';

const { setup, layout } = workerData as { setup: WorkerSetup; layout: SharedLayout };
const port = parentPort!;

async function main(): Promise<void> {
  // The cell's default name as the main thread gave it (a cell without `cell NAME { … }` is named after its file).
  const cell = compile(setup.cellSource, { defaultCellName: setup.cellName }).cells.find((c) => c.name === setup.cellName);
  if (!cell) throw new Error(`cell ${setup.cellName} did not compile in the worker`);
  const backend = withScan(await loadBackend(setup.backend), setup.scan);
  const model = buildModel(cell, setup.spec, backend.factory);
  const shared = new Float64Array(layout.buffer);
  const params: Table = new Map(layout.entries.map(([name, off, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [name, { shape, data: shared.subarray(off, off + n) }];
  }));
  const total = layout.entries.reduce((n, [, , shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
  port.on('message', (req: StepRequest) => {
    try {
      const grads = zerosLike(params);
      const loss = req.examples.length ? runBatch(model, params, makeBatch(model, req.examples), grads, { bptt: req.bptt, count: req.count }).loss : 0;
      const flat = new Float64Array(total);
      for (const [name, off] of layout.entries) flat.set(grads.get(name)!.data, off);
      port.postMessage({ loss, grads: flat } satisfies StepReply, [flat.buffer]);
    } catch (e) {
      port.postMessage(threadFailure(e) satisfies StepReply);
    }
  });
  port.postMessage({ ready: true });
}

/** What this thread posts for what it caught: one line for the user, never a stack; and whether it was a UsageError (parallel.ts raises it again as one). */
function threadFailure(e: unknown): ThreadFailure {
  return { error: e instanceof Error ? e.message : String(e), ...(e instanceof UsageError ? { usage: true as const } : {}) };
}

main().catch((e) => port.postMessage(threadFailure(e) satisfies StepReply));
