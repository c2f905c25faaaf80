// A refusal in a training thread is the command line's, as on the main thread
// (runtime/train/run/parallel.ts): `celda train --backend gpujs --threads 2`
// exits 2 with the one line the main thread gives — `--backend gpujs: …` and a
// backend that runs the cell — whichever thread meets it first, not 1 with `a
// training thread failed: …`. The refusal is forced as gpu.js would give it
// where it finds no WebAssembly: its GPU class says so, in the training threads
// only (their boot code is prefixed; the main thread's gpu.js is untouched), or
// in the main thread only.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { releaseDevices } from '../../runtime/backends/gpujs.ts';
import { EXAMPLES } from '../support/cells.ts';
import { celda } from '../support/cli.ts';

const forced = vi.hoisted(() => ({ inWorkers: false }));

vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>();
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  const gpujs = pathToFileURL(createRequire(import.meta.url).resolve('gpu.js')).href;
  // gpu.js in this thread reports no WebAssembly, before the training thread's own code loads
  const noWasm = `import(${JSON.stringify(gpujs)}).then((m) => { Object.defineProperty((m.default ?? m).GPU, 'isWebAssemblySupported', { get: () => false }); })`;
  class Worker extends real.Worker {
    constructor(code: string | URL, opts?: ConstructorParameters<typeof real.Worker>[1]) {
      const training = opts?.eval === true && String(code).includes('/run/worker.');
      super(training && forced.inWorkers ? `${noWasm}.then(() => ${String(code)})` : code, opts);
    }
  }
  return { ...real, Worker, default: { ...real, Worker } };
});

afterAll(releaseDevices);

const GRU = join(EXAMPLES, 'gru.celda');
const tmp = mkdtempSync(join(tmpdir(), 'celda-thread-refusal-'));
const args = (out: string) => ['train', 'gender', '--cell', GRU, '--hidden', '4', '--embed', '4', '--batch', '8', '--steps', '2', '--eval-every', '2', '--eval-size', '16',
  '--backend', 'gpujs', '--threads', '2', '--quiet', '--out', join(tmp, out)];
const LINE = 'error: --backend gpujs: gpu.js reports no WebAssembly support here; --backend js-f32 trains the cell without gpu.js\n';

describe('a training thread\'s gpu.js refusal', () => {
  it('in the main thread: exit 2, one line', async () => {
    const own = Object.getOwnPropertyDescriptor(GPU, 'isWebAssemblySupported')!;
    await releaseDevices(); // the device is made (and the check made) once per process
    Object.defineProperty(GPU, 'isWebAssemblySupported', { ...own, get: () => false });
    try {
      expect(await celda(...args('main'))).toEqual({ code: 2, out: '', err: LINE });
    } finally {
      Object.defineProperty(GPU, 'isWebAssemblySupported', own);
    }
  }, 120_000);

  it('in a worker thread only: the same exit 2 and line, not `a training thread failed` (exit 1)', async () => {
    forced.inWorkers = true;
    try {
      expect(await celda(...args('worker'))).toEqual({ code: 2, out: '', err: LINE });
    } finally {
      forced.inWorkers = false;
    }
  }, 120_000);

  it('in `celda compare`, a worker-only refusal is that cell\'s failed row: the comparison goes on and writes its report', async () => {
    const out = join(tmp, 'compare');
    forced.inWorkers = true;
    try {
      const r = await celda('compare', 'gender', GRU, join(EXAMPLES, 'rnn.celda'), ...args('unused').slice(4, -2), '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`GRU: failed: ${LINE.slice('error: '.length)}`);
      expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/GRU/);
    } finally {
      forced.inWorkers = false;
    }
  }, 240_000);

  it('unforced, the same run trains on both threads', async () => {
    const r = await celda(...args('plain'));
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
  }, 120_000);
});
