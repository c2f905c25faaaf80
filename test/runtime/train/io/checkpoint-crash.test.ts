// Crash consistency of checkpoints: a save killed (SIGKILL, in a child process)
// at every write and rename leaves a directory that loads as the old checkpoint
// or the new one, whole; the next save puts things in place and leaves no
// temporaries. Also the `*.tmp-PID` files of older versions' interrupted saves.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { interpBackend } from '../../../../runtime/backends/interp.ts';
import type { Checkpoint } from '../../../../runtime/train/io/checkpoint.ts';
import { loadCheckpoint, SAVE_POINTS, saveCheckpoint } from '../../../../runtime/train/io/checkpoint.ts';
import { train } from '../../../../runtime/train/run/loop.ts';
import type { Table } from '../../../../runtime/train/tensor.ts';
import { exampleCell, nextCheckpoint, toyConfig, toyTask } from '../../../support/train.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href;
const CHILD = join(ROOT, 'test', 'support', 'checkpoint-crash-child.ts');
const tmp = () => mkdtempSync(join(tmpdir(), 'celda-crash-'));
const PROPER = ['cell.celda', 'model.safetensors', 'state.safetensors'];

const same = (a: Table, b: Table) => {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, v] of a) expect(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).equals(Buffer.from(b.get(k)!.data.buffer, b.get(k)!.data.byteOffset, b.get(k)!.data.byteLength)), k).toBe(true);
};
const expectCheckpoint = (got: Checkpoint, want: Checkpoint) => {
  expect(got.step).toBe(want.step);
  same(got.params, want.params);
  same(got.optimizer.tensors, want.optimizer.tensors);
  expect(got.rngState).toBe(want.rngState);
  expect(got.optimizer.t).toBe(want.optimizer.t);
};

describe('a save killed at any point', () => {
  let base: string;
  let old: Checkpoint;
  beforeAll(async () => {
    base = tmp();
    await train({ task: toyTask(), cell: exampleCell('gru.celda'), config: toyConfig({ steps: 2 }), factory: interpBackend, out: base });
    old = loadCheckpoint(base);
  });

  it.each(SAVE_POINTS)('at "%s" leaves the old or the new checkpoint, whole, and the next save cleans up', (point) => {
    const dir = tmp();
    cpSync(base, dir, { recursive: true });
    const r = spawnSync(process.execPath, ['--import', TSX, CHILD, dir, point], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const fresh = nextCheckpoint(old);
    const got = loadCheckpoint(dir);
    // Until both new files are on disk whole, the old pair is the newest complete one; from then on, the new pair.
    const renamed = SAVE_POINTS.indexOf(point) >= SAVE_POINTS.indexOf('state written');
    expectCheckpoint(got, renamed ? fresh : old);
    // Between writing the new pair and renaming its model, the complete pair stands (partly) under `.new` names.
    const underNewNames = ['state written', 'cell written', 'synced', 'state renamed'].includes(point);
    expect(got.recovered, got.recovered).toEqual(underNewNames ? expect.stringContaining('model.safetensors.new') : undefined);
    const next = nextCheckpoint(got);
    saveCheckpoint(dir, next);
    expect(readdirSync(dir).sort()).toEqual(PROPER);
    const after = loadCheckpoint(dir);
    expectCheckpoint(after, next);
    expect(after.recovered).toBeUndefined();
    expect(readFileSync(join(dir, 'cell.celda'), 'utf8')).toBe(after.cellSource);
  }, 90_000);

  it('recovers the complete model an older version left as model.safetensors.tmp-PID between its two renames', () => {
    const dir = tmp();
    cpSync(base, dir, { recursive: true });
    // The old save renamed state first, then died before renaming the model: do that by hand.
    const fresh = nextCheckpoint(old);
    const stage = tmp();
    saveCheckpoint(stage, fresh);
    cpSync(join(stage, 'state.safetensors'), join(dir, 'state.safetensors'));
    cpSync(join(stage, 'model.safetensors'), join(dir, 'model.safetensors.tmp-4242'));
    const got = loadCheckpoint(dir);
    expectCheckpoint(got, fresh);
    expect(got.recovered).toContain('model.safetensors.tmp-4242');
    saveCheckpoint(dir, nextCheckpoint(got));
    expect(readdirSync(dir).sort()).toEqual(PROPER);
  });

  it('still refuses a pair from two saves when nothing complete is left', () => {
    const dir = tmp();
    cpSync(base, dir, { recursive: true });
    const stage = tmp();
    saveCheckpoint(stage, nextCheckpoint(old));
    renameSync(join(stage, 'model.safetensors'), join(dir, 'model.safetensors'));
    expect(() => loadCheckpoint(dir)).toThrow(/model\.safetensors is from step 3 but state\.safetensors from step 2/);
  });
});

describe('a checkpoint directory is claimed by one run', () => {
  const run = (out: string, o: { force?: boolean; resumeDir?: string; steps?: number } = {}) =>
    train({ task: toyTask(), cell: exampleCell('gru.celda'), config: toyConfig({ steps: o.steps ?? 2 }), factory: interpBackend, out, force: o.force, resumeDir: o.resumeDir, resume: o.resumeDir ? loadCheckpoint(o.resumeDir) : undefined });

  it('refuses to start over on a checkpoint unless forced, and continues it when resuming there', async () => {
    const dir = tmp();
    await run(dir);
    await expect(run(dir)).rejects.toThrow(`${dir} already holds a checkpoint (step 2); continue it with --resume ${dir}, or pass --force to start over and overwrite it`);
    expect(loadCheckpoint(dir).step).toBe(2);
    await run(dir, { resumeDir: dir, steps: 4 });
    expect(loadCheckpoint(dir).step).toBe(4);
    await run(dir, { force: true });
    expect(loadCheckpoint(dir).step).toBe(2);
    expect(readdirSync(dir)).not.toContain('train.lock');
  });

  it('refuses a directory a live process holds, and takes over a lock whose process is gone', async () => {
    const dir = tmp();
    const sleeper = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dead = Number(sleeper.stdout); // that process has exited
    writeFileSync(join(dir, 'train.lock'), `${process.ppid}\n`);
    await expect(run(dir)).rejects.toThrow(`${dir} is in use by another training run (process ${process.ppid}); wait for it to finish or choose another --out`);
    writeFileSync(join(dir, 'train.lock'), `${dead}\n`);
    await run(dir);
    expect(loadCheckpoint(dir).step).toBe(2);
    expect(readdirSync(dir)).not.toContain('train.lock');
  });
});
