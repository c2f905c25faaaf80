// celda compare builds each cell's model once: the core it makes while checking
// every cell's settings is the one that cell's run trains (TrainInput.checked),
// and a cell over the memory limit is still a failed row of the table, the
// others trained. buildModel is wrapped in a spy that counts, nothing more.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { celda } from '../support/cli.ts';
import { buildModel } from '../../runtime/train/model/model.ts';
import { defaultConfig } from '../../runtime/train/run/core.ts';
import { modelFor } from '../../runtime/train/run/loop.ts';
import { trainingBytes } from '../../runtime/train/run/memory.ts';
import { getTask } from '../../runtime/train/data/tasks/index.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { compileOk } from '../support/cells.ts';

vi.mock('../../runtime/train/model/model.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../runtime/train/model/model.ts')>();
  return { ...m, buildModel: vi.fn(m.buildModel) };
});

const ROOT = join(import.meta.dirname, '..', '..');
const GRU = join(ROOT, 'examples/cells/gru.celda');
const RNN = join(ROOT, 'examples/cells/rnn.celda');
const TINY = ['--hidden', '4', '--embed', '4', '--batch', '8', '--eval-every', '2', '--eval-size', '16', '--backend', 'interp', '--threads', '1', '--quiet'];

describe('celda compare builds each model once', () => {
  it('a cell refused for memory is a failed row, the other trains; one build per cell', async () => {
    // a limit between what the RNN's run needs and what the GRU's needs, with the settings compare makes of TINY
    const gender = getTask('gender');
    const config = defaultConfig(gender, { hidden: 4, embed: 4, batch: 8, evalEvery: 2, evalSize: 16, threads: 1, steps: 2 });
    const need = (file: string) => trainingBytes(modelFor(gender, compileOk(readFileSync(file, 'utf8'))[0]!, config, interpBackend), config, gender.load());
    const [gru, rnn] = [need(GRU), need(RNN)];
    expect(gru).toBeGreaterThan(1.5 * rnn);
    const limit = `${Math.round(Math.sqrt(gru * rnn) / 1024)}K`;

    const builds = vi.mocked(buildModel);
    builds.mockClear();
    const out = mkdtempSync(join(tmpdir(), 'celda-compare-once-'));
    const r = await celda('compare', 'gender', '--cells', GRU, RNN, '--steps', '2', ...TINY, '--max-memory', limit, '--out', out);
    expect(r.code, r.err).toBe(1);
    expect(r.err).not.toMatch(/\n\s+at \S+/);
    const rows = r.out.split('\n');
    expect(rows[2]).toMatch(/^\| GRU \| .*gru\.celda \| – \| – \| – \| failed: training gender \(.*\) needs about [^|]* more than the limit of [^|]* \| – \| – \| failed \|$/);
    expect(rows[3]).toMatch(/^\| RNN \| .*rnn\.celda \| \d+ \| 2 \| [\d.]+ \| 0\.\d{4} \| 0\.\d{4} \| [\d.]+ \| [^|]+ \|$/);
    expect(existsSync(join(out, 'RNN', 'model.safetensors'))).toBe(true);
    // refused before its run claims a directory
    expect(existsSync(join(out, 'GRU'))).toBe(false);
    // one model per cell: GRU's for its check (refused when its turn came), RNN's for its check and run
    expect(builds.mock.calls.length).toBe(2);
    expect(builds.mock.calls.map((c) => c[0].name)).toEqual(['GRU', 'RNN']);
  }, 120_000);
});
