// The CLI's training loop, pinned: the bytes of the checkpoints it writes for
// a few runs that exercise the schedule, warmup, bucketing, clipping, two
// layers, momentum SGD and resuming. Refactoring the loop (run/core.ts holds
// its pure part) must leave every byte as it was.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import { getTask } from '../../../../runtime/train/data/tasks/index.ts';
import { loadCheckpoint } from '../../../../runtime/train/io/checkpoint.ts';
import { train } from '../../../../runtime/train/run/loop.ts';
import type { RunConfig } from '../../../../runtime/train/run/settings.ts';
import { exampleCell } from '../../../support/train.ts';

const root = mkdtempSync(join(tmpdir(), 'celda-loop-pin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = (task: string, over: Partial<RunConfig>): RunConfig => ({ ...getTask(task).defaults, task, seed: 7, head: 'auto', threads: 1, ...over });

const digest = (dir: string) => {
  const h = createHash('sha256');
  for (const f of ['model.safetensors', 'state.safetensors', 'cell.celda']) h.update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 16);
};

const NAMES = config('names', { hidden: 8, embed: 4, steps: 30, batch: 16, warmup: 5, decaySteps: 30, evalEvery: 10, evalSize: 20 });
const GENDER = config('gender', { hidden: 6, embed: 3, layers: 2, steps: 20, batch: 8, optimizer: 'sgd', momentum: 0.9, lr: 0.05, schedule: 'step:10:0.5', clip: 0.5, evalEvery: 10, evalSize: 20, bucket: false });

describe('the training loop writes the same checkpoint bytes as before', () => {
  it('names, GRU, cosine schedule with warmup, bucketed batches', async () => {
    const out = join(root, 'names');
    const seen: number[] = [];
    await train({ task: getTask('names'), cell: exampleCell('gru.celda'), config: NAMES, factory: interpBackend, out }, { eval: (s) => seen.push(s) });
    expect(seen).toEqual([10, 20, 30]);
    expect(digest(out)).toBe('44cb506ec8b54b51');
  }, 120_000);

  it('gender, two LSTM layers, momentum SGD, step schedule, clipping', async () => {
    const out = join(root, 'gender');
    await train({ task: getTask('gender'), cell: exampleCell('lstm.celda'), config: GENDER, factory: interpBackend, out });
    expect(digest(out)).toBe('27edaa2b98f98b5d');
  }, 120_000);

  it('gender, two threads computing each step\'s gradient', async () => {
    const out = join(root, 'threads');
    await train({ task: getTask('gender'), cell: exampleCell('gru.celda'), config: { ...GENDER, threads: 2, layers: 1, optimizer: 'adam' }, factory: interpBackend, backendName: 'interp', out });
    expect(digest(out)).toBe('5b791c52efaa93a3');
  }, 120_000);

  it('names resumed at step 15 of 30 ends where the straight run ends', async () => {
    const out = join(root, 'resumed');
    const cell = exampleCell('gru.celda');
    await train({ task: getTask('names'), cell, config: { ...NAMES, steps: 15 }, factory: interpBackend, out });
    await train({ task: getTask('names'), cell, config: NAMES, factory: interpBackend, out, resume: loadCheckpoint(out), resumeDir: out });
    expect(digest(out)).toBe('44cb506ec8b54b51');
  }, 120_000);
});
