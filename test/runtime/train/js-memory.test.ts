// The js backend's hard limits (runtime/backends/js-memory.ts), modelled before
// anything is allocated: a WebAssembly memory holds at most 4 GiB (float32 with
// SIMD: one block per instance, grown with T), a typed array at most 2³²
// elements (float64). The mLSTM on names at its defaults (d = 128, the
// evaluation batch of 256) once ran 225 steps and then died asking 4.4 GB of
// the heap; it is now refused before the first step. Nothing here allocates
// more than a few megabytes.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { growthPeak, jsInstanceBytes, jsLimitProblem, TYPED_ARRAY_ELEMENTS, WASM_MEMORY_BYTES } from '../../../runtime/backends/js-memory.ts';
import { interpBackend } from '../../../runtime/backends/interp.ts';
import { LimitError } from '../../../runtime/limits.ts';
import { getTask } from '../../../runtime/train/data/tasks/index.ts';
import type { RunConfig } from '../../../runtime/train/run/loop.ts';
import { modelFor } from '../../../runtime/train/run/loop.ts';
import { checkBackendLimits } from '../../../runtime/train/run/memory.ts';
import { compileOk, example } from '../../support/cells.ts';
import { celda } from '../../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MLSTM_FILE = join(ROOT, 'examples', 'zoo', 'mlstm.celda');
const mlstm = compileOk(readFileSync(MLSTM_FILE, 'utf8'))[0]!;
const gru = example('gru.celda');

describe('what an instance of the js backend holds', () => {
  it('grows with T and the batch as the layout does, a matrix state per example at d × d', () => {
    const dims = { n_x: 16, d: 8 };
    const one = jsInstanceBytes(mlstm, dims, 4, 10, 'f32'), twice = jsInstanceBytes(mlstm, dims, 8, 10, 'f32');
    expect(twice.total).toBeGreaterThan(one.total);
    expect(jsInstanceBytes(mlstm, dims, 4, 20, 'f32').total).toBeGreaterThan(one.total);
    expect(jsInstanceBytes(mlstm, dims, 4, 10, 'f64').total).toBeGreaterThan(one.total);
    // the largest buffer is the trajectory of C: (T + 1) · B · d · d numbers, or more
    expect(one.largest.elements).toBeGreaterThanOrEqual(11 * 4 * 8 * 8);
    expect(one.total % 16).toBe(0);
  });

  it('the heap\'s peak while a block grows: the new block before the old is freed, holes that do not fit', () => {
    expect(growthPeak(() => 1024, 5)).toBe(16 + 2 * 1024);
    const sizes = (T: number) => 1000 * T;
    const peak = growthPeak(sizes, 20);
    expect(peak).toBeGreaterThanOrEqual(16 + sizes(20) + sizes(19));
    expect(peak).toBeLessThan(16 + 3 * sizes(20));
  });
});

describe('the hard limits, refused before training', () => {
  it('float32 with SIMD: the evaluation batch of the mLSTM at d = 128 over 17 steps passes 4 GiB while it grows', () => {
    // 2.0 GiB with the staged scan, which keeps C's input term i′ v kᵀ for all T·B rows (1.7 GiB stepped)
    const problem = jsLimitProblem(mlstm, { n_x: 16, d: 128 }, 256, 17, 'f32', true, 'the evaluation batch of 256');
    expect(problem).toMatch(/^the evaluation batch of 256 of cell mLSTM \(n_x = 16, d = 128\) needs a block of 2\.0 GiB for 17 steps of 256 rows, and up to [\d.]+ GiB of memory while the block grows to it, more than the 4\.0 GiB a WebAssembly memory holds; lower --hidden or --dim/);
    expect(jsLimitProblem(mlstm, { n_x: 16, d: 64 }, 256, 17, 'f32', true, 'x')).toBeNull();
    expect(jsLimitProblem(gru, { n_x: 16, n_a: 128 }, 256, 17, 'f32', true, 'x')).toBeNull();
    expect(WASM_MEMORY_BYTES).toBe(4 * 1024 ** 3);
  });

  it('float64: one array past V8\'s 2³² elements', () => {
    const rows = 2 ** 20;
    expect(jsInstanceBytes(mlstm, { n_x: 16, d: 64 }, rows, 17, 'f64').largest.elements).toBeGreaterThan(TYPED_ARRAY_ELEMENTS);
    expect(jsLimitProblem(mlstm, { n_x: 16, d: 64 }, rows, 17, 'f64', false, 'a training batch')).toMatch(/needs an array of \d+ numbers for `C` over 17 steps of 1048576 rows, more than the 4294967296 a typed array holds/);
    expect(jsLimitProblem(mlstm, { n_x: 16, d: 64 }, 256, 17, 'f64', false, 'x')).toBeNull();
  });

  it('checkBackendLimits: the mLSTM on names at its defaults is refused on js-f32, not on interp; the GRU passes', () => {
    const names = getTask('names');
    const data = names.load();
    const config = { ...names.defaults, task: 'names', seed: 0, head: 'auto', readout: 'h' } as RunConfig;
    const model = modelFor(names, mlstm, config, interpBackend);
    expect(() => checkBackendLimits(model, config, data, 'js-f32')).toThrow(LimitError);
    expect(() => checkBackendLimits(model, config, data, 'js-f32')).toThrow(/the evaluation batch of 256 of cell mLSTM/);
    expect(() => checkBackendLimits(model, config, data, 'interp')).not.toThrow();
    const small = { ...config, hidden: 32 };
    expect(() => checkBackendLimits(modelFor(names, mlstm, small, interpBackend), small, data, 'js-f32')).not.toThrow();
    const g = { ...config, readout: undefined } as RunConfig;
    expect(() => checkBackendLimits(modelFor(names, gru, g, interpBackend), g, data, 'js-f32')).not.toThrow();
  });

  it('celda train: one error line and exit 1 before the first step', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'celda-js-memory-')), 'run');
    const r = await celda('train', 'names', '--cell', MLSTM_FILE, '--readout', 'h', '--max-memory', '12G', '--out', out);
    expect([r.code, r.out]).toEqual([1, '']);
    expect(existsSync(out)).toBe(false);
    expect(r.err).not.toMatch(/step \d+\/|internal error/);
    expect(r.err).toMatch(/^error: the evaluation batch of 256 of cell mLSTM \(n_x = 16, d = 128\) .* more than the 4\.0 GiB a WebAssembly memory holds; lower --hidden or --dim .*\n$/);
  }, 60_000);
});
