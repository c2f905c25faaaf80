// celda train / sample / predict / compare, in process: the final JSON line,
// the files written, resume, refusals, and errors without stack traces.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { celda } from '../support/cli.ts';
import { EMPTY_SAMPLE } from '../../cli/train.ts';
import { checksum } from '../../runtime/train/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/train/io/safetensors.ts';
import { g2pTask } from '../../runtime/train/data/tasks/g2p.ts';
import { namesTask, namesVocab } from '../../runtime/train/data/tasks/names.ts';
import type { Table } from '../../runtime/train/tensor.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const GRU = join(ROOT, 'examples/cells/gru.celda');
const RNN = join(ROOT, 'examples/cells/rnn.celda');
const tmp = () => mkdtempSync(join(tmpdir(), 'celda-train-cli-'));


const tiny = ['--hidden', '4', '--embed', '4', '--batch', '8', '--eval-every', '2', '--eval-size', '16', '--backend', 'interp', '--threads', '1'];
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);

describe('celda train', () => {
  it('trains, logs plain lines off a terminal, writes checkpoint and curves, ends with one JSON line', async () => {
    const out = tmp();
    const r = await celda('train', 'gender', '--cell', GRU, '--steps', '4', ...tiny, '--out', out);
    expect(r.code, r.err).toBe(0);
    const s = lastJson(r.out);
    expect(s).toMatchObject({ task: 'gender', cell: 'GRU', steps: 4 });
    expect(Object.keys(s.metrics).sort()).toEqual(['accuracy', 'majority_accuracy']);
    expect(typeof s.seconds).toBe('number');
    expect(s.cpu_seconds).toBeGreaterThan(0);
    expect(r.err).toMatch(/step 4\/4 +loss \d\.\d{4} +accuracy/);
    for (const f of ['model.safetensors', 'state.safetensors', 'cell.celda', 'loss.svg', 'metrics.svg', 'summary.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'metrics.svg'), 'utf8')).toMatch(/^<svg[\s\S]*accuracy[\s\S]*<\/svg>\n$/);

    const resumed = await celda('train', '--resume', out, '--steps', '6', '--quiet', '--backend', 'interp');
    expect(resumed.code, resumed.err).toBe(0);
    expect(lastJson(resumed.out).steps).toBe(6);

    const refused = await celda('train', '--resume', out, '--hidden', '8', '--backend', 'interp');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^error: --hidden 8 differs from the checkpoint's 4/);

    const p = await celda('predict', out, 'maria', 'john', '--backend', 'interp');
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^maria\t(female|male)\t0\.\d{3}\njohn\t(female|male)\t0\.\d{3}\n$/);
    const s2 = await celda('sample', out, '--backend', 'interp');
    expect(s2.code).toBe(2);
    expect(s2.err).toMatch(/use celda predict/);
  });

  it('names: samples printed on stderr, stdout only the JSON line; celda sample is reproducible from its seed', async () => {
    const out = tmp();
    const r = await celda('train', 'names', '--cell', RNN, '--steps', '2', ...tiny, '--out', out, '--samples', '3');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/\nsamples: "[a-z-]*", "[a-z-]*", "[a-z-]*"\n/);
    expect(r.out.split('\n')).toHaveLength(2);
    expect(r.out).toMatch(/^\{"task":"names".*\}\n$/);
    expect(Object.keys(lastJson(r.out).metrics).sort()).toEqual(['bigram_nll', 'nll']);
    const a = await celda('sample', out, '--n', '4', '--seed', '3', '--top-k', '5', '--backend', 'interp');
    const b = await celda('sample', out, '--n', '4', '--seed', '3', '--top-k', '5', '--backend', 'interp');
    expect(a.code, a.err).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out.split('\n').length).toBe(5);
  });

  it('celda sample: a sample the model ends at once is said in words, not printed as an empty line', async () => {
    const out = tmp();
    const r = await celda('train', 'names', '--cell', RNN, '--steps', '2', ...tiny, '--out', out, '--samples', '0', '--quiet');
    expect(r.code, r.err).toBe(0);
    // the end token made far likelier than any letter: every sample ends at its first token
    const eos = namesTask().eos!;
    const mpath = join(out, 'model.safetensors'), spath = join(out, 'state.safetensors');
    const m = decodeSafetensors(readFileSync(mpath), mpath), st = decodeSafetensors(readFileSync(spath), spath);
    const tensors: Table = new Map([...m.tensors].map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data) }]));
    tensors.get('layer0.b_y')!.data[eos] = 100; // RNN's own head, ŷ = softmax(W_ya a + b_y)
    writeFileSync(mpath, encodeSafetensors(new Map([...tensors].map(([k, v]) => [k, { dtype: 'F64' as const, shape: v.shape, data: v.data }])), m.metadata));
    writeFileSync(spath, encodeSafetensors(st.tensors, { ...st.metadata, params_checksum: checksum(tensors) }));
    for (const flags of [['--n', '3'], ['--n', '2', '--greedy']]) {
      const s = await celda('sample', out, ...flags, '--backend', 'interp');
      expect([s.code, s.err], flags.join(' ')).toEqual([0, '']);
      expect(s.out).toBe(`${EMPTY_SAMPLE}\n`.repeat(Number(flags[1])));
    }
    expect(EMPTY_SAMPLE).toBe('(empty: the model ended the sequence at once)');
    // never a name: no name has a character of it outside the letters
    const letters = new Set(namesVocab().symbols);
    expect([...'(): '].filter((ch) => letters.has(ch))).toEqual([]);
  });

  it('celda predict (g2p): a pronunciation the model ends at once is said in words after the word, not an empty field', async () => {
    const out = tmp();
    const r = await celda('train', 'g2p', '--cell', GRU, '--steps', '2', ...tiny, '--out', out, '--samples', '0', '--quiet');
    expect(r.code, r.err).toBe(0);
    const mpath = join(out, 'model.safetensors'), spath = join(out, 'state.safetensors');
    const m = decodeSafetensors(readFileSync(mpath), mpath), st = decodeSafetensors(readFileSync(spath), spath);
    const tensors: Table = new Map([...m.tensors].map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data) }]));
    // the decoder's end token far likelier than any phoneme: every prediction ends at its first token
    tensors.get('head.b')!.data[g2pTask().eos!] = 100;
    writeFileSync(mpath, encodeSafetensors(new Map([...tensors].map(([k, v]) => [k, { dtype: 'F64' as const, shape: v.shape, data: v.data }])), m.metadata));
    writeFileSync(spath, encodeSafetensors(st.tensors, { ...st.metadata, params_checksum: checksum(tensors) }));
    for (const flags of [[], ['--beam', '3']]) {
      const p = await celda('predict', out, 'cat', 'dog', ...flags, '--backend', 'interp');
      expect([p.code, p.err], flags.join(' ')).toEqual([0, '']);
      expect(p.out).toBe(`CAT\t${EMPTY_SAMPLE}\nDOG\t${EMPTY_SAMPLE}\n`);
    }
  });

  it('refuses bad usage with one error line', async () => {
    const cases: [string[], RegExp][] = [
      [['train', 'poetry', '--cell', GRU], /unknown task `poetry` \(tasks: names, gender, entities, g2p\)/],
      [['train', 'gendr', '--cell', GRU], /unknown task `gendr` \(tasks: names, gender, entities, g2p\); did you mean `gender`\?/],
      [['train', 'gender'], /needs --cell FILE/],
      [['train', 'gender', '--cell', GRU, '--hidden', 'big'], /--hidden must be a whole number ≥ 1, not `big`/],
      [['train', 'gender', '--cell', GRU, '--steps', '3', '--epochs', '1'], /--steps or --epochs, not both/],
      [['train', 'gender', '--cell', join(ROOT, 'examples/cells/rnn-unrolled.celda'), '--backend', 'interp'], /fixed steps/],
      [['train', 'gender', '--cell', GRU, '--backend', 'gpu'], /--backend must be one of js, js-f32, interp, gpujs, not `gpu`/],
      [['train', 'g2p', '--cell', GRU, '--bidirectional', '--backend', 'interp'], /--bidirectional needs the whole input/],
      [['train', '--resume', '/nonexistent/dir'], /no checkpoint directory \/nonexistent\/dir: it does not exist/],
      [['train', 'gender', '--cell', GRU, '--bptt', '5', '--backend', 'interp'], /--bptt truncates a loss-per-step sequence/],
    ];
    for (const [argv, msg] of cases) {
      const r = await celda(...argv);
      expect(r.code, argv.join(' ')).not.toBe(0);
      expect(r.err, argv.join(' ')).toMatch(msg);
      expect(r.err).not.toMatch(/at .*\.ts:\d+/);
    }
  });
});

describe('celda compare', () => {
  it('trains each cell with the same budget and writes a report with overlaid curves', async () => {
    const out = tmp();
    const r = await celda('compare', 'gender', '--cells', GRU, RNN, '--steps', '2', ...tiny, '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\| cell \| file \| params \| steps \| seconds \| accuracy \| majority_accuracy \|/);
    expect(r.out).toMatch(/\| GRU \|[\s\S]*\| RNN \|/);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/!\[validation accuracy\]\(accuracy\.svg\)/);
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/GRU[\s\S]*RNN/);
    expect(existsSync(join(out, 'GRU', 'model.safetensors'))).toBe(true);
  });

  it('reports a cell that cannot be fitted once, in the table, and exits 1; stdout is the table and where the report is', async () => {
    const out = tmp();
    const unrolled = join(ROOT, 'examples/cells/rnn-unrolled.celda');
    const r = await celda('compare', 'gender', '--cells', GRU, unrolled, '--steps', '2', ...tiny, '--out', out, '--quiet');
    expect(r.code, r.err).toBe(1);
    const rows = r.out.split('\n');
    expect(rows.slice(0, 2)).toEqual(['| cell | file | params | steps | seconds | accuracy | majority_accuracy | ms/step | stable |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']);
    expect(rows[2]).toMatch(/^\| GRU \| .*gru\.celda \| \d+ \| 2 \| [\d.]+ \| 0\.\d{4} \| 0\.\d{4} \| [\d.]+ \| yes \|$/);
    expect(rows[3]).toMatch(/^\| RNN5 \| .*rnn-unrolled\.celda \| – \| – \| – \| failed: cell RNN5 is written out over 5 fixed steps; [^|]* \| – \| – \| failed \|$/);
    expect(rows.slice(4)).toEqual(['', `report: ${join(out, 'report.md')}`, '']);
    expect(r.err.match(/fixed steps/g)).toHaveLength(1);
  });

  it('CELDA_MAX_STEPS shortens every run, and says so', async () => {
    const out = tmp();
    process.env.CELDA_MAX_STEPS = '3';
    try {
      const r = await celda('train', 'gender', '--cell', GRU, '--steps', '50', ...tiny, '--out', out, '--quiet');
      expect(r.code, r.err).toBe(0);
      expect(lastJson(r.out).steps).toBe(3);
      expect(r.err).toContain('note: CELDA_MAX_STEPS=3: a quick run, stopped at step 3, not 50; its final metrics use 16 validation examples, not the whole split\n');
      process.env.CELDA_MAX_STEPS = 'lots';
      const bad = await celda('train', 'gender', '--cell', GRU, ...tiny, '--out', tmp());
      expect([bad.code, bad.err]).toEqual([2, 'error: CELDA_MAX_STEPS must be a whole number ≥ 0, not `lots`\n']);
    } finally {
      delete process.env.CELDA_MAX_STEPS;
    }
  });
});
