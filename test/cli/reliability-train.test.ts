// Training as a hostile user would drive it: sizes that would exhaust memory,
// checkpoints edited by hand, output directories that cannot be written, and
// names JavaScript objects already have, through the worker threads too. Each
// gets one `error:` line (or works), never a stack trace or an internal error.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checksum } from '../../runtime/train/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/train/io/safetensors.ts';
import { TrainError } from '../../runtime/train/errors.ts';
import { GradWorkers } from '../../runtime/train/run/parallel.ts';
import type { Table } from '../../runtime/train/tensor.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const GRU = join(ROOT, 'examples/cells/gru.celda');
const NO_CRASH = /internal error|\.ts:\d+|\.js:\d+|\bat \S+ \(|TypeError|RangeError/;
const dir = mkdtempSync(join(tmpdir(), 'celda-reliability-train-'));
const celda = (...argv: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), ...argv], { encoding: 'utf8', timeout: 60_000 });
const TINY = ['--hidden', '8', '--steps', '2', '--batch', '8', '--quiet'];
const put = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

/** One error line (no trace), and the exit code. */
function refused(r: ReturnType<typeof celda>, code: number, message: RegExp): void {
  expect(r.stderr).not.toMatch(NO_CRASH);
  expect(r.status, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

/** A trained tiny checkpoint, copied fresh for each edit. */
function checkpoint(task: string, name: string): string {
  const out = join(dir, name);
  const r = celda('train', task, '--cell', GRU, ...TINY, '--out', out);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

/** Rewrite a checkpoint's files: the model's tensors and metadata, with the state's checksum kept in step. */
function edit(out: string, f: (model: { tensors: Table; metadata: Record<string, string> }, state: Record<string, string>) => void): void {
  const mpath = join(out, 'model.safetensors'), spath = join(out, 'state.safetensors');
  const m = decodeSafetensors(readFileSync(mpath), mpath), s = decodeSafetensors(readFileSync(spath), spath);
  const tensors: Table = new Map([...m.tensors].map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data) }]));
  const metadata = { ...m.metadata }, smeta = { ...s.metadata };
  f({ tensors, metadata }, smeta);
  smeta.params_checksum = checksum(tensors);
  writeFileSync(mpath, encodeSafetensors(new Map([...tensors].map(([k, v]) => [k, { dtype: 'F64' as const, shape: v.shape, data: v.data }])), metadata));
  writeFileSync(spath, encodeSafetensors(s.tensors, smeta));
}

describe('sizes are checked against the memory a run needs, before allocating', () => {
  it('refuses a --hidden whose parameters alone exceed the limit, naming the figure and the limit', () => {
    refused(celda('train', 'gender', '--cell', GRU, '--hidden', '100000', '--steps', '2', '--out', join(dir, 'huge')), 1,
      /^error: training gender \(.*hidden 100000.*\) needs about [\d.]+ GiB, more than the limit of 4\.0 GiB; raise it with --max-memory SIZE/);
  }, 60_000);

  it('--max-memory and CELDA_MAX_MEMORY set the limit; a bad size is a usage error', () => {
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--max-memory', '64K', '--out', join(dir, 'small')), 1, /needs about .* more than the limit of 64 KiB/);
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--max-memory', 'lots', '--out', join(dir, 'small')), 2, /^error: --max-memory must be a size such as 8G/);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), 'train', 'gender', '--cell', GRU, ...TINY, '--out', join(dir, 'env')], { encoding: 'utf8', env: { ...process.env, CELDA_MAX_MEMORY: '64K' } });
    refused(r, 1, /more than the limit of 64 KiB/);
  }, 60_000);

  it('refuses absurd sizes on the command line as usage errors', () => {
    refused(celda('train', 'gender', '--cell', GRU, '--hidden', '1e300', '--out', join(dir, 'absurd')), 2, /^error: --hidden must be at most \d+, not `1e300`/);
    refused(celda('train', 'gender', '--cell', GRU, '--embed', '1e20', '--out', join(dir, 'absurd')), 2, /^error: --embed must be at most/);
    refused(celda('train', 'gender', '--cell', GRU, '--seed', '4294967296', '--out', join(dir, 'absurd')), 2, /^error: --seed must be at most 4294967295/);
    refused(celda('train', 'gender', '--cell', GRU, '--epochs', '1e300', '--out', join(dir, 'absurd')), 2, /^error: --epochs 1e300 makes \S+ steps, more than the most a run takes/);
  }, 60_000);

  it('`celda sample --n` and `--max-len` and `celda predict --beam` are checked too', () => {
    const out = checkpoint('names', 'names-sample');
    refused(celda('sample', out, '--n', '1000000000'), 1, /^error: sampling 1000000000 sequences of up to 32 tokens needs about .* more than the limit/);
    refused(celda('sample', out, '--max-len', '2000000000'), 1, /^error: sampling 10 sequences of up to 2000000000 tokens needs about/);
    const g2p = checkpoint('g2p', 'g2p-beam');
    refused(celda('predict', g2p, 'hello', '--beam', '100000000'), 1, /^error: predicting for an input of 5 tokens with a beam of 100000000, .* needs about/);
  }, 180_000);
});

describe('a resumed run checks the settings read from its checkpoint by the command line\'s rules', () => {
  it('refuses an edited lr, naming the file and the setting', () => {
    const out = checkpoint('gender', 'edited-lr');
    edit(out, (m) => { m.metadata.config = JSON.stringify({ ...JSON.parse(m.metadata.config!), lr: -5 }); });
    refused(celda('train', '--resume', out, '--steps', '4', '--quiet'), 1,
      new RegExp(`^error: ${join(out, 'model.safetensors').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the checkpoint's setting lr \\(--lr\\) is -5, but it must be a number ≥ 0`));
  }, 60_000);

  it('refuses settings of the wrong type or missing, in train, sample and predict alike', () => {
    const out = checkpoint('gender', 'edited-hidden');
    edit(out, (m) => { m.metadata.config = JSON.stringify({ ...JSON.parse(m.metadata.config!), hidden: '8' }); });
    refused(celda('train', '--resume', out, '--steps', '4', '--quiet'), 1, /the checkpoint's setting hidden \(--hidden\) is "8", but it must be a whole number ≥ 1/);
    refused(celda('predict', out, 'maria'), 1, /the checkpoint's setting hidden \(--hidden\) is "8"/);
    edit(out, (m) => { const c = JSON.parse(m.metadata.config!); delete c.batch; m.metadata.config = JSON.stringify({ ...c, hidden: 8 }); });
    refused(celda('predict', out, 'maria'), 1, /the checkpoint's setting batch \(--batch\) is missing/);
  }, 60_000);
});

describe('sample and predict refuse what training would never have saved', () => {
  it('refuses a non-finite parameter, naming it and its index', () => {
    const out = checkpoint('names', 'nan-names');
    let name = '';
    edit(out, (m) => { const [k, t] = [...m.tensors].at(-1)!; name = k; t.data[t.data.length - 1] = NaN; });
    refused(celda('sample', out), 1, new RegExp(`parameter ${name.replace(/\./g, '\\.')}\\[[\\d, ]+\\] is NaN`));
    refused(celda('predict', out, 'anna'), 1, /is NaN; a checkpoint holds finite numbers only/);
  }, 60_000);

  it('refuses malformed metadata with a message about the file', () => {
    const out = checkpoint('gender', 'bad-meta');
    edit(out, (_m, s) => { s.history = '{"step": 1}'; });
    refused(celda('predict', out, 'maria'), 1, /state\.safetensors: the checkpoint's history metadata is malformed/);
    edit(out, (_m, s) => { s.history = '[]'; s.pending = '[1]'; });
    refused(celda('predict', out, 'maria'), 1, /the checkpoint's pending metadata is \[1\], not a pair of finite numbers/);
    edit(out, (m, s) => { s.pending = '[0, 0]'; m.metadata.config = '[1, 2]'; });
    refused(celda('predict', out, 'maria'), 1, /the checkpoint's settings \(config metadata\) are \[1,2\], not an object/);
    edit(out, (m, s) => { m.metadata.config = '{"task": "gender"'; s.rng = 'x'; });
    refused(celda('predict', out, 'maria'), 1, /the checkpoint's config metadata is not valid JSON/);
  }, 60_000);
});

describe('output directories and dimensions the user got wrong', () => {
  it('`--out` under a file, or where nothing may be created, is one error line', () => {
    const file = put('a-file', 'x');
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--out', join(file, 'run')), 1, /^error: cannot create the output directory .*a-file\/run: a part of the path is a file, not a directory \(ENOTDIR\)/);
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--out', file), 1, /^error: cannot create the output directory .*a-file: it exists and is not a directory/);
    refused(celda('compare', 'gender', '--cells', GRU, ...TINY, '--out', join(file, 'cmp')), 1, /^error: cannot create the output directory/);
    // Where even root may not create a directory (as /proc, where Node's own recursive mkdir never returns).
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--out', '/proc/celda-run'), 1, /^error: cannot create the output directory \/proc\/celda-run: /);
  }, 60_000);

  it('refuses a dimension of 0 and --hidden 0', () => {
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--dim', 'n_a=0', '--out', join(dir, 'zero')), 2, /^error: --dim n_a must be a whole number ≥ 1, not `0`/);
    refused(celda('train', 'gender', '--cell', GRU, '--hidden', '0', '--steps', '2', '--out', join(dir, 'zero')), 2, /^error: --hidden must be a whole number ≥ 1, not `0`/);
    const fixed = put('zero-dim.celda', 'cell Z {\n  input x : n_x\n  state a : n_a\n  state c : n_c\n  dim n_c = 0\n  a^<t> = tanh(W a^<t-1> + U x^<t> + V c^<t-1>)\n  c^<t> = tanh(Q c^<t-1>)\n}\n');
    refused(celda('train', 'gender', '--cell', fixed, ...TINY, '--out', join(dir, 'zero-cell')), 1, /^error: cannot fit cell Z to the task: state c \(--hidden\) has size 8, but the cell needs n_c = 0/);
  }, 60_000);

  it('refuses a --dim the cell does not have, with a did-you-mean (train and compare)', () => {
    refused(celda('train', 'gender', '--cell', GRU, ...TINY, '--dim', 'n_xx=4', '--out', join(dir, 'dim-typo')), 2, /^error: --dim n_xx: GRU has no dimension `n_xx` \(dimensions: n_x, n_a\); did you mean `n_x`\?/);
    refused(celda('compare', 'gender', '--cells', GRU, ...TINY, '--dim', 'n_k=4', '--out', join(dir, 'dim-compare')), 2, /^error: --dim n_k: GRU has no dimension `n_k`/);
  }, 60_000);

  it('keeps the clear message for an unknown task or cell name', () => {
    refused(celda('train', 'gendre', '--cell', GRU, ...TINY), 2, /^error: unknown task `gendre` \(tasks: names, gender, entities, g2p\); did you mean `gender`\?/);
    refused(celda('train', 'gender', '--cell', GRU, '--cell-name', 'LSTM', ...TINY), 2, /no cell named `LSTM`/);
  }, 60_000);
});

describe('worker threads', () => {
  const NAMES = ['constructor', 'toString', 'valueOf'] as const;
  const cell = (lines: readonly string[]) => `cell C {\n${lines.map((l) => `  ${l}\n`).join('')}}\n`;

  it.each(NAMES)('`celda sample` runs a cell whose state and parameter are named %s, trained on two threads', (n) => {
    const c = put(`sample-${n}.celda`, cell(['input x : n_x', `state ${n} : n_a`, `${n}^<t> = tanh(${n}_W ${n}^<t-1> + U x^<t> + b)`]));
    for (const backend of ['js', 'js-f32']) {
      const out = join(dir, `sample-${n}-${backend}`);
      const r = celda('train', 'names', '--cell', c, ...TINY, '--threads', '2', '--backend', backend, '--samples', '2', '--out', out);
      expect(r.stderr, backend).not.toMatch(NO_CRASH);
      expect(r.status, `${backend}: ${r.stderr}`).toBe(0);
      const s = celda('sample', out, '--n', '3', '--backend', backend);
      expect(s.stderr, backend).not.toMatch(NO_CRASH);
      expect(s.status, `${backend}: ${s.stderr}`).toBe(0);
      expect(s.stdout.trim().split('\n')).toHaveLength(3);
    }
  }, 180_000);

  it.each(NAMES)('an input and an output (the readout) named %s train on two threads and predict', (n) => {
    const c = put(`io-${n}.celda`, cell([`input ${n} : n_x`, 'state a : n_a', 'output h : n_a', `a^<t> = tanh(W a^<t-1> + U ${n}^<t> + b)`, `h^<t> = tanh(V a^<t>)`].map((l) => l.replace(/\bh\b/g, `${n}_out`))));
    const o = put(`out-${n}.celda`, cell(['input x : n_x', 'state a : n_a', `output ${n} : n_a`, 'a^<t> = tanh(W a^<t-1> + U x^<t> + b)', `${n}^<t> = tanh(V a^<t>)`]));
    for (const [file, extra] of [[c, []], [o, ['--readout', n]]] as const) {
      for (const backend of ['js', 'js-f32']) {
        const out = join(dir, `io-${n}-${backend}-${file === c ? 'input' : 'output'}`);
        const r = celda('train', 'gender', '--cell', file, ...TINY, ...extra, '--threads', '2', '--backend', backend, '--out', out);
        expect(r.stderr, backend).not.toMatch(NO_CRASH);
        expect(r.status, `${backend}: ${r.stderr}`).toBe(0);
        const p = celda('predict', out, 'maria', '--backend', backend);
        expect(p.stderr, backend).not.toMatch(NO_CRASH);
        expect(p.status, `${backend}: ${p.stderr}`).toBe(0);
      }
    }
  }, 240_000);

  it('a cell without `cell NAME { … }` trains on two threads (the worker names it as the main thread does)', () => {
    const c = put('anonymous.celda', 'input x : n_x\nstate a : n_a\na^<t> = tanh(W a^<t-1> + U x^<t> + b)\n');
    for (const backend of ['js', 'js-f32']) {
      const r = celda('train', 'gender', '--cell', c, ...TINY, '--threads', '2', '--backend', backend, '--out', join(dir, `anonymous-${backend}`));
      expect(r.stderr, backend).not.toMatch(NO_CRASH);
      expect(r.status, `${backend}: ${r.stderr}`).toBe(0);
    }
  }, 120_000);

  describe('a worker that fails reports one line', () => {
    let params: Table;
    beforeAll(() => { params = new Map([['w', { shape: [1], data: Float64Array.of(0) }]]); });
    const spec = { topology: 'many-to-one', inVocab: 3, classes: 2, embed: 0, hidden: 2, layers: 1, bidirectional: false, head: 'auto' } as const;

    it.each(['js', 'js-f32'])('with backend %s', async (backend) => {
      let err: unknown;
      try {
        const w = await GradWorkers.start(2, { cellSource: 'cell C {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + U x^<t>)\n}\n', cellName: 'Missing', spec, backend }, params);
        await w.close();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TrainError);
      expect((err as Error).message).toBe('a training thread failed: cell Missing did not compile in the worker');
    }, 60_000);
  });
});
