// The exit-code rule, command by command (README "Exit codes"): 2 when the
// command line is wrong — an unknown command, option, task or value, and a
// setting the runtime refuses for this task or cell (a UsageError,
// runtime/usage.ts, mapped to 2 in cli/main.ts only) — and 1 when what it names
// is wrong: a cell, a JSON file, a checkpoint. Each refusal is one `error:` line
// (or the compiler's diagnostics) and nothing on stdout.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getTask } from '../../runtime/train/data/tasks/index.ts';
import { TrainError } from '../../runtime/train/errors.ts';
import { loadBackend } from '../../runtime/train/run/backends.ts';
import { checkSettings } from '../../runtime/train/run/loop.ts';
import type { RunConfig } from '../../runtime/train/run/loop.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { UsageError } from '../../runtime/usage.ts';
import { EXAMPLES, compileOk } from '../support/cells.ts';
import { celda } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RNN = join(EXAMPLES, 'rnn.celda');
const GRU = join(EXAMPLES, 'gru.celda');
const UNROLLED = join(EXAMPLES, 'rnn-unrolled.celda');
const MLSTM = join(ROOT, 'examples', 'zoo', 'mlstm.celda');
const tmp = mkdtempSync(join(tmpdir(), 'celda-exit-codes-'));
const put = (name: string, text: string) => { const p = join(tmp, name); writeFileSync(p, text); return p; };
const BAD_CELL = put('bad.celda', 'cell B {\n  input x : n_x\n  state a : n_a\n  a^<t> = tahn(a^<t-1>)\n}\n');
const BAD_JSON = put('bad.json', '{"inputs": [');
// a literal beyond float64: refused by the checker at its place (E077) — before, gpu.js refused the cell with no position
const INFINITE = put('infinite.celda', 'cell G {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>) * 1e999\n}\n');
const BEYOND = /infinite\.celda:4:39: error\[E077\]: this number is beyond the range of a float64 number/;
const SMALL = put('small.celda', 'cell G {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>)\n}\n');
const INPUTS = put('inputs.json', JSON.stringify({ dims: { n_x: 2, n_a: 2 }, inputs: { x: [[[1, 2]]] } }));
const SHAPES = put('shapes.json', JSON.stringify({ dims: { n_x: 2, n_a: 2 }, inputs: { x: [[[1, 2, 3]]] } }));
const NOT_A_RUN = join(tmp, 'not-a-run');
mkdirSync(NOT_A_RUN);
const NEVER = join(tmp, 'never-written');
const TINY = ['--hidden', '4', '--embed', '4', '--batch', '8', '--backend', 'interp', '--threads', '1', '--quiet', '--out', NEVER];
const GPUJS = ['--hidden', '4', '--embed', '4', '--batch', '8', '--backend', 'gpujs', '--threads', '1', '--quiet', '--out', NEVER];

type Case = readonly [argv: readonly string[], code: 1 | 2, message: RegExp];

/** Each command: what makes its command line wrong (2), and what makes its input wrong (1). */
const CASES: Readonly<Record<string, readonly Case[]>> = {
  check: [
    [['check', RNN, '--bogus'], 2, /unknown option `--bogus` for celda check/],
    [['check', BAD_CELL], 1, /error\[E003\]: unknown function `tahn`/],
  ],
  eval: [
    [['eval', RNN, '--inputs', SHAPES, '--backend', 'gpu'], 2, /--backend must be one of interp, js, gpujs, not `gpu`/],
    [['eval', RNN, '--inputs', SHAPES, '--gpu-mode', 'cpu'], 2, /--gpu-mode is for --backend gpujs/],
    [['eval', RNN, '--inputs', SHAPES, '--precision', 'f32'], 2, /--precision f32 needs --backend js/],
    [['eval', RNN, '--inputs', SHAPES, '--backend', 'gpujs', '--precision', 'f64'], 2, /float32 only/],
    [['eval', RNN, '--inputs', SHAPES, '--cell', 'GRU'], 2, /no cell named `GRU`/],
    [['eval', RNN], 2, /celda eval needs --inputs I\.json/],
    [['eval', RNN, '--inputs', BAD_JSON], 1, /bad\.json:1:\d+: invalid JSON in inputs/],
    [['eval', RNN, '--inputs', SHAPES], 1, /inputs\.inputs\.x has size 3, but the cell needs n_x = 2/],
    [['eval', INFINITE, '--inputs', INPUTS, '--backend', 'gpujs'], 1, BEYOND],
    // gpu.js refuses this mode: the choice of backend is the command line's, with another that runs it
    [['eval', SMALL, '--inputs', INPUTS, '--backend', 'gpujs', '--gpu-mode', 'webgl2'], 2, /^error: --backend gpujs: the synchronous gpujs backend runs on webasm or cpu, not webgl2 .*; --backend js runs/],
  ],
  grad: [
    [['grad', RNN, '--wrt', 'W_a'], 2, /did you mean `W_aa`\?/],
    [['grad', BAD_CELL], 1, /error\[E003\]/],
  ],
  graph: [
    [['graph', RNN, '--max-nodes', '0'], 2, /--max-nodes must be a whole number ≥ 1/],
    [['graph', RNN, '--format', 'svg', '--max-nodes', '2'], 1, /more than svg renders here .*raise it with --max-nodes/],
  ],
  print: [
    [['print', RNN, '--format', 'latx'], 2, /did you mean `latex`\?/],
    [['print', BAD_CELL], 1, /error\[E003\]/],
  ],
  compile: [
    [['compile', RNN, '--precision', 'f16'], 2, /--precision must be f32 or f64/],
    [['compile', BAD_CELL], 1, /error\[E003\]/],
  ],
  bench: [
    [['bench', GRU, '--dims', 'n_q=3'], 2, /--dims: GRU has no dimension `n_q`/],
    [['bench', BAD_CELL], 1, /error\[E003\]/],
    [['bench', INFINITE, '--backend', 'gpujs', '--steps', '2', '--dims', 'n_x=2,n_a=2'], 1, BEYOND],
  ],
  export: [
    [['export', GRU, '--to', 'tf', '-o', join(tmp, 'x.py')], 2, /--to must be pytorch or onnx/],
    [['export', BAD_CELL, '--to', 'pytorch', '-o', join(tmp, 'x.py')], 1, /error\[E003\]/],
  ],
  data: [
    [['data', 'nmes'], 2, /unknown task `nmes`.*did you mean `names`\?/],
  ],
  playground: [
    [['playground', '--port', 'eighty'], 2, /--port/],
  ],
  train: [
    [['train', 'gendr', '--cell', GRU], 2, /did you mean `gender`\?/],
    [['train', 'gender', '--cell', GRU, '--schedule', 'bogus', ...TINY], 2, /--schedule must be/],
    // refused by the runtime, for this task or cell: still the command line's mistake
    [['train', 'gender', '--cell', GRU, ...TINY, '--batch', '100000'], 2, /^error: --batch 100000 is larger than the training split/],
    [['train', 'gender', '--cell', GRU, ...TINY, '--batch', '2', '--threads', '4'], 2, /^error: --threads 4 is more than the batch of 2/],
    [['train', 'gender', '--cell', GRU, ...TINY, '--head', 'cell'], 2, /^error: --head cell: cell GRU defines no ŷ\^<t>/],
    [['train', 'names', '--cell', MLSTM, ...TINY, '--readout', 'C'], 2, /^error: --readout C: `C` of cell mLSTM is a matrix per example/],
    [['train', 'gender', '--cell', GRU, ...TINY, '--bptt', '5'], 2, /^error: --bptt truncates/],
    [['train', 'gender', '--cell', UNROLLED, ...TINY], 1, /cell RNN5 is written out over 5 fixed steps/],
    [['train', 'gender', '--cell', BAD_CELL, ...TINY], 1, /error\[E003\]/],
    [['train', 'gender', '--cell', INFINITE, ...GPUJS], 1, BEYOND],
    [['train', 'gender', '--cell', INFINITE, ...GPUJS, '--batch', '4', '--threads', '2'], 1, BEYOND],
    [['train', '--resume', NOT_A_RUN], 1, /cannot read checkpoint file/],
  ],
  sample: [
    [['sample', NOT_A_RUN, '--n', 'many'], 2, /--n must be a whole number/],
    [['sample', NOT_A_RUN], 1, /cannot read checkpoint file/],
  ],
  predict: [
    [['predict', NOT_A_RUN, '--beam', '0'], 2, /--beam must be a whole number/],
    [['predict', NOT_A_RUN, 'anna'], 1, /cannot read checkpoint file/],
  ],
  compare: [
    [['compare', 'gender', '--cell', GRU], 2, /did you mean `--cells`\?/],
    [['compare', 'gender', '--cells', GRU, RNN, '--readout', 'cc', ...TINY], 2, /--readout cc: cell GRU has no state or output `cc`/],
    [['compare', 'gender', '--cells', GRU, INFINITE, ...GPUJS], 1, BEYOND],
  ],
};

describe('exit codes, command by command', () => {
  it('every command has its cases here', async () => {
    const { COMMANDS } = await import('../../cli/commands.ts');
    expect(Object.keys(CASES).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  for (const [cmd, cases] of Object.entries(CASES)) {
    it(`celda ${cmd}`, async () => {
      for (const [argv, code, message] of cases) {
        const what = argv.join(' ');
        const r = await celda(...argv);
        expect([r.code, r.out], `${what}\n${r.err}`).toEqual([code, '']);
        expect(r.err, what).toMatch(message);
        expect(r.err, what).not.toMatch(/internal error|\n\s+at \S+/);
        if (!/error\[E\d+\]/.test(r.err)) expect(r.err, what).toMatch(/^error: [^\n]*\n$/);
        // a refused run leaves no directory behind
        expect(existsSync(NEVER), what).toBe(false);
      }
    }, 120_000);
  }

  it('compare: a cell whose settings are refused stops the comparison with 2 before any cell trains, not as a failed row', async () => {
    const out = join(tmp, 'compare-refused');
    // RNN has a ŷ for --head cell, GRU has none: refused before RNN trains
    const r = await celda('compare', 'gender', '--cells', RNN, GRU, '--head', 'cell', '--steps', '2', ...TINY, '--out', out);
    expect([r.code, r.out], r.err).toEqual([2, '']);
    expect(r.err).toMatch(/^error: --head cell: cell GRU defines no ŷ\^<t>\n$/);
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});

describe('the runtime says which refusals are the command line\'s by type', () => {
  const gender = getTask('gender');
  const gru = compileOk(readFileSync(GRU, 'utf8'))[0]!;
  const config: RunConfig = { ...gender.defaults, task: 'gender', seed: 0, head: 'auto', hidden: 4, embed: 4, batch: 8, threads: 1 } as RunConfig;
  const thrown = (f: () => unknown): unknown => { try { f(); } catch (e) { return e; } return undefined; };

  it('a refused setting is a UsageError, whatever its message starts with; a cell that cannot fit is a TrainError', () => {
    for (const bad of [{ batch: 100000 }, { threads: 16 }, { bptt: 5 }, { head: 'cell' as const }, { schedule: 'step:0:1' }, { hidden: 0 }, { layers: 0 }]) {
      const e = thrown(() => checkSettings(gender, gru, { ...config, ...bad }, interpBackend));
      expect(e, JSON.stringify(bad)).toBeInstanceOf(UsageError);
      expect(e).not.toBeInstanceOf(TrainError);
    }
    expect(thrown(() => checkSettings(gender, gru, config, interpBackend))).toBeUndefined();
    const unrolled = compileOk(readFileSync(UNROLLED, 'utf8'))[0]!;
    expect(thrown(() => checkSettings(gender, unrolled, config, interpBackend))).toBeInstanceOf(TrainError);
    expect(thrown(() => getTask('poetry'))).toBeInstanceOf(UsageError);
  });

  it('an unknown backend is a UsageError', async () => {
    await expect(loadBackend('cuda')).rejects.toBeInstanceOf(UsageError);
  });
});
