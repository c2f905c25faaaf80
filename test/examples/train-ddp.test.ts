// examples/pytorch/train_ddp.py, the scale-out example, on the real engine: the
// GRU exported by `celda export`, the gender task's training split from
// `celda data`, two processes under DistributedDataParallel (gloo, started by
// the script itself: Debian's torch 1.13 has no working torchrun on Python
// 3.11) for 40 steps. Both ranks end with identical parameters and the loss on
// a fixed batch fell. Skips with one line without torch, fails without it
// under CELDA_REQUIRE_TORCH=1.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../support/cells.ts';
import { pythonWith, torchRequired } from '../support/python.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CELDA = join(ROOT, 'bin', 'celda.js');
const py = pythonWith(['torch']);
const skip = py === null && !torchRequired();
if (skip) console.log('SKIP DistributedDataParallel example: no python3 imports torch (Debian: python3-torch); set CELDA_REQUIRE_TORCH=1 to make this a failure');
const dir = mkdtempSync(join(tmpdir(), 'celda-ddp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const celda = (...args: string[]) => spawnSync(process.execPath, [CELDA, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

describe('celda data', () => {
  it('writes the task as JSON lines', () => {
    const r = celda('data', 'gender', '--split', 'validation');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { x: number[]; y: number[]; in_vocab: number; classes: number; topology: string; text: string });
    expect(lines.length).toBeGreaterThan(100);
    expect(lines[0]).toMatchObject({ classes: 2, topology: 'many-to-one' });
    expect(lines.every((l) => l.x.length === l.text.split('\t')[0]!.length && l.x.every((i) => i >= 0 && i < l.in_vocab) && (l.y[0] === 0 || l.y[0] === 1))).toBe(true);
    expect(celda('data', 'gender', '--split', 'dev').status).toBe(2);
  });
});

describe.skipIf(skip)('examples/pytorch/train_ddp.py', () => {
  it('two gloo processes train an exported GRU: identical parameters on both ranks, and the loss fell', () => {
    if (py === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports torch');
    const cell = join(dir, 'gru.py');
    expect(celda('export', join(EXAMPLES, 'gru.celda'), '--to', 'pytorch', '-o', cell).status).toBe(0);
    const data = join(dir, 'train.jsonl');
    const d = celda('data', 'gender', '--split', 'train');
    expect(d.status, d.stderr).toBe(0);
    writeFileSync(data, d.stdout);
    const out = join(dir, 'result.json');
    // Two processes meet over a loopback port; on a busy machine the rendezvous has once been lost (one rank
    // waited forever). --timeout bounds every wait, so such a run fails promptly; it gets one more try.
    const run = () => spawnSync(py, [join(ROOT, 'examples', 'pytorch', 'train_ddp.py'), '--cell', cell, '--data', data, '--procs', '2', '--steps', '40', '--hidden', '16', '--embed', '8', '--timeout', '60', '--out', out],
      { encoding: 'utf8', timeout: 140_000 });
    let r = run();
    if (r.status !== 0) r = run();
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { world_size: number; loss_before: number; loss_after: number; identical_parameters: boolean; parameter_hashes: string[] };
    expect(result.world_size).toBe(2);
    expect(result.parameter_hashes).toHaveLength(2);
    expect(result.identical_parameters).toBe(true);
    expect(result.loss_after).toBeLessThan(0.9 * result.loss_before);
  }, 300_000);
});
