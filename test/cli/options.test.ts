// The command line as a newcomer meets it: one declaration of each command's
// options (cli/commands.ts) behind the parser, the help and the docs' tables;
// one exit-code rule (0 success, 1 the input is wrong, 2 the command line is
// wrong); "did you mean" for commands, options, tasks and values; stdout that
// carries only the result; `celda eval --template`.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, GPU_MODES, TRAIN, TRAIN_BACKENDS } from '../../cli/commands.ts';
import { commandHelp, fillTables, markers, parseOptions } from '../../cli/options.ts';
import { BACKEND_NAMES } from '../../runtime/train/run/backends.ts';
import { SETTINGS } from '../../runtime/train/run/settings.ts';
import { GPU_MODES as GPUJS_MODES } from '../../runtime/backends/gpujs.ts';
import { EXAMPLES } from '../support/cells.ts';
import { fillTaskDefaults, taskDefaultsTable } from '../../scripts/docs-options.ts';
import { celda } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RNN = join(EXAMPLES, 'rnn.celda');
const GRU = join(EXAMPLES, 'gru.celda');
const tmp = mkdtempSync(join(tmpdir(), 'celda-options-'));


/** A refusal: the status, nothing on stdout, one `error:` line on stderr matching `msg`. */
async function refused(argv: string[], code: 1 | 2, msg: RegExp): Promise<void> {
  const r = await celda(...argv);
  expect([r.code, r.out], argv.join(' ')).toEqual([code, '']);
  expect(r.err, argv.join(' ')).toMatch(/^error: [^\n]*\n$/);
  expect(r.err, argv.join(' ')).toMatch(msg);
}

describe('one declaration of the options', () => {
  it('every option a command accepts is in its --help, and the parser accepts every option its help lists', async () => {
    for (const c of COMMANDS) {
      const r = await celda(c.name, '--help');
      expect([r.code, r.err], c.name).toEqual([0, '']);
      expect(r.out).toBe(commandHelp(c));
      for (const o of c.options) {
        expect(r.out, `${c.name} --${o.name}`).toMatch(new RegExp(`(^|[ ,])--${o.name}( |\\n)`, 'm'));
        const argv = o.type === 'boolean' ? [`--${o.name}`] : [`--${o.name}`, o.choices?.[0] ?? 'v'];
        expect(parseOptions(argv, c).values, `${c.name} --${o.name}`).toHaveProperty([o.name]);
      }
    }
  });

  it('the docs hold every command\'s table, as the declaration makes it (npx tsx scripts/docs-options.ts rewrites them)', () => {
    const cli = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    for (const c of COMMANDS) {
      expect(cli, `docs/cli.md lacks the table of ${c.name}`).toContain(markers(c.name)[0]);
      for (const o of c.options) expect(cli, `docs/cli.md: ${c.name} --${o.name}`).toContain(`\`--${o.name}`);
    }
    for (const f of ['README.md', 'docs/cli.md', 'docs/training.md', 'docs/eval-json.md']) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      expect(fillTaskDefaults(fillTables(text, COMMANDS)) === text, `${f} has an option table out of date: run npx tsx scripts/docs-options.ts`).toBe(true);
    }
    const training = readFileSync(join(ROOT, 'docs/training.md'), 'utf8');
    expect(training).toContain(markers('train')[0]);
    expect(training).toContain(`<!-- task-defaults -->\n${taskDefaultsTable()}<!-- /task-defaults -->`);
  });

  it('every setting of a run is an option of train and compare, and the value lists match the runtime\'s', () => {
    const names = (c: (typeof COMMANDS)[number]) => c.options.map((o) => o.name);
    for (const s of SETTINGS) {
      expect(names(TRAIN)).toContain(s.opt);
      expect(names(COMMANDS.find((c) => c.name === 'compare')!)).toContain(s.opt);
    }
    expect([...TRAIN_BACKENDS].sort()).toEqual([...BACKEND_NAMES].sort());
    expect([...GPU_MODES].sort()).toEqual([...GPUJS_MODES].sort());
  });

  it('parses --name value, --name=value, -o value, -oVALUE, switches, repeats, values that start with -, and -- ', () => {
    const c = TRAIN;
    expect(parseOptions(['gender', '--hidden', '8', '--lr=0.1', '--forget-bias', '-1', '--quiet', '--dim', 'a=1', '--dim=b=2', '--', '--hidden'], c))
      .toEqual({ values: { hidden: '8', lr: '0.1', 'forget-bias': '-1', quiet: true, dim: ['a=1', 'b=2'] }, positionals: ['gender', '--hidden'] });
    const compile = COMMANDS.find((x) => x.name === 'compile')!;
    expect(parseOptions(['x.celda', '-o', 'a.js'], compile).values).toEqual({ out: 'a.js' });
    expect(parseOptions(['x.celda', '-oa.js'], compile).values).toEqual({ out: 'a.js' });
    expect(() => parseOptions(['--hidden', '--lr', '1'], c)).toThrow('--hidden needs a value: --hidden N');
    expect(() => parseOptions(['--hidden'], c)).toThrow('--hidden needs a value: --hidden N');
    expect(() => parseOptions(['--quiet=yes'], c)).toThrow('--quiet is a switch and takes no value (give --quiet alone)');
    expect(() => parseOptions(['-x'], compile)).toThrow('unknown option `-x` for celda compile (celda compile --help lists its options)');
  });
});

describe('one exit-code rule: 0 success, 1 the input is wrong, 2 the command line is wrong', () => {
  it('usage asked for goes to stdout with 0; usage after a mistake to stderr with 2', async () => {
    const help = await celda('--help');
    expect([help.code, help.err]).toEqual([0, '']);
    expect(help.out).toMatch(/^celda — [\s\S]*celda train TASK[\s\S]*Exit status: 0 success, 1 the input/);
    for (const c of COMMANDS) expect(help.out).toContain(`celda ${c.name}`);
    expect((await celda('help', 'train')).out).toBe(commandHelp(TRAIN));
    const none = await celda();
    expect([none.code, none.out]).toEqual([2, '']);
    expect(none.err).toBe(help.out);
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    expect(await celda('--version')).toEqual({ code: 0, out: `celda ${version}\n`, err: '' });
    await refused(['--verison'], 2, /^error: unknown option `--verison`; did you mean `celda --version`\?/);
  });

  it('2: an unknown command, option, task or value, each in one line with what to type instead', async () => {
    await refused(['chekc', RNN], 2, /^error: unknown command `chekc`; did you mean `celda check`\? \(celda --help lists the commands\)\n$/);
    await refused(['grad'], 2, /^error: celda grad needs one cell file: celda grad CELL \[options\] \(celda grad --help lists them\)\n$/);
    await refused(['print', RNN, GRU], 2, /^error: celda print needs one cell file, not 2 \(.*rnn\.celda .*gru\.celda\)/);
    await refused(['frobnicate'], 2, /^error: unknown command `frobnicate` \(celda --help lists the commands\)\n$/);
    await refused(['check', RNN, '--explian'], 2, /^error: unknown option `--explian` for celda check; did you mean `--explain`\?\n$/);
    await refused(['eval', RNN, '--input', 'x.json'], 2, /unknown option `--input` for celda eval; did you mean `--inputs`\?/);
    await refused(['train', 'gendr', '--cell', GRU], 2, /unknown task `gendr` \(tasks: names, gender, entities, g2p\); did you mean `gender`\?/);
    await refused(['data', 'nmes'], 2, /unknown task `nmes` .*did you mean `names`\?/);
    await refused(['train', 'gender', '--cell', GRU, '--optimizer', 'adm'], 2, /--optimizer must be one of sgd, adam, adamw, not `adm`; did you mean `adam`\?/);
    await refused(['train', 'gender', '--cell', GRU, '--schedule', 'cosin:100'], 2, /--schedule must be constant, cosine\[:DECAY_STEPS\[:FLOOR\]\] or step:EVERY:GAMMA, not `cosin:100`; did you mean `cosine`\?/);
    await refused(['train', 'gender', '--cell', GRU, '--schedule', 'bogus'], 2, /--schedule must be/);
    await refused(['train', 'gender', '--cell', GRU, '--schedule', 'step:0:1'], 2, /--schedule step:EVERY:GAMMA needs whole EVERY ≥ 1/);
    await refused(['train', 'gender', '--cell', GRU, '--readout', 'cc'], 2, /--readout cc: cell GRU has no state or output `cc` \(it has c, c_tilde, a\); did you mean `c`\?/);
    await refused(['train', 'gender', '--cell', GRU, '--head', 'cel'], 2, /--head must be one of auto, cell, runtime, not `cel`; did you mean `cell`\?/);
    await refused(['print', RNN, '--format', 'latx'], 2, /--format must be one of unicode, latex, ascii, not `latx`; did you mean `latex`\?/);
    await refused(['data', 'names', '--split', 'val'], 2, /--split must be one of train, validation, test, not `val`/);
    await refused(['grad', RNN, '--wrt', 'W_a'], 2, /--wrt: `W_a` is not a parameter, input or state of RNN .*; did you mean `W_aa`\?/);
    await refused(['train', 'gender', '--cell', GRU, '--cells', RNN], 2, /unknown option `--cells` for celda train; did you mean `--cell`\?/);
    await refused(['compare', 'gender', '--cell', GRU], 2, /unknown option `--cell` for celda compare; did you mean `--cells`\?/);
    // options the runtime refuses for this task or cell are the command line's too
    const tiny = ['--hidden', '4', '--embed', '4', '--batch', '8', '--backend', 'interp', '--threads', '1', '--out', join(tmp, 'run-refused')];
    await refused(['train', 'gender', '--cell', GRU, '--bptt', '5', ...tiny], 2, /^error: --bptt truncates a loss-per-step sequence/);
    await refused(['train', 'g2p', '--cell', GRU, '--bidirectional', ...tiny], 2, /^error: --bidirectional needs the whole input at once/);
    await refused(['train', 'gender', '--cell', RNN, '--head', 'cell', '--bidirectional', ...tiny], 2, /^error: --head cell: a bidirectional layer/);
  });

  it('2: an unknown --dim name, refused by every command that takes dimensions, with the closest', async () => {
    await refused(['train', 'gender', '--cell', GRU, '--dim', 'n_q=3'], 2, /--dim n_q: GRU has no dimension `n_q` \(dimensions: n_x, n_a\); did you mean `n_a`\?/);
    await refused(['compare', 'gender', '--cells', GRU, RNN, '--dim', 'n_yy=3'], 2, /--dim n_yy: GRU, RNN have no dimension `n_yy` .*did you mean `n_y`\?/);
    await refused(['bench', GRU, '--dims', 'n_q=3'], 2, /--dims: GRU has no dimension `n_q` .*did you mean `n_a`\?/);
    await refused(['export', GRU, '--to', 'onnx', '-o', join(tmp, 'x.onnx'), '--dims', 'n_q=3'], 2, /--dims: cell `GRU` has no dimension `n_q` .*did you mean `n_a`\?/);
  });

  it('1: the input is wrong — a cell that does not compile, JSON that does not parse, a file without equations', async () => {
    const bad = join(tmp, 'bad.celda');
    writeFileSync(bad, 'cell B {\n  input x : n_x\n  state a : n_a\n  a^<t> = tahn(a^<t-1>)\n}\n');
    const r = await celda('eval', bad, '--inputs', 'whatever.json');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[E003\]: unknown function `tahn`/);
    const broken = join(tmp, 'broken.json');
    writeFileSync(broken, '{"inputs": ');
    await refused(['eval', RNN, '--inputs', broken], 1, /broken\.json:1:\d+: invalid JSON in inputs/);
    const empty = join(tmp, 'empty.celda');
    writeFileSync(empty, '# nothing\n');
    const e = await celda('print', empty);
    expect([e.code, e.out]).toEqual([1, '']);
    expect(e.err).toMatch(/^.*empty\.celda:1:1: error\[E018\]: cell `empty` has no equations\n/);
  });

  it('2: a path that names nothing, and a contradiction', async () => {
    await refused(['sample', join(tmp, 'runs', 'names-GRU')], 2, /no checkpoint directory .*names-GRU: it does not exist \(celda train TASK --cell FILE writes one/);
    await refused(['print', join(tmp, 'nope.celda')], 2, /cannot read cell file .*nope\.celda: no such file/);
    await refused(['sample', join(tmp), '--greedy', '--temperature', '0.5'], 2, /--greedy always takes the likeliest token, so --temperature would be ignored: give one or the other/);
    await refused(['sample', join(tmp), '--greedy', '--top-k', '3'], 2, /so --top-k would be ignored/);
    await refused(['eval', RNN, '--template', '--inputs', 'x.json'], 2, /--template writes an inputs file; it takes no --inputs/);
  });
});

describe('celda eval without --inputs', () => {
  it('says how to get a template; --template prints one that eval runs as it is', async () => {
    await refused(['eval', GRU], 2, /^error: celda eval needs --inputs I\.json; `celda eval .*gru\.celda --template > inputs\.json` writes a minimal one for this cell\n$/);
    const t = await celda('eval', GRU, '--template');
    expect(t.code).toBe(0);
    const inputs = JSON.parse(t.out) as Record<string, unknown>;
    expect(inputs).toEqual({ dims: { n_x: 2, n_a: 2 }, batch: 1, steps: 2, inputs: { x: [[[0, 0]], [[0, 0]]] }, init: { c: [[0, 0]] } });
    expect(t.err).toBe('note: an inputs file for GRU: T = steps, B = batch; inputs.x is [T][B][n_x], init.c is [B][n_a] (optional, default 0); add "cotangents" (each state and output [T][B][n]) for the gradients (docs/eval-json.md)\n');
    const file = join(tmp, 'gru-inputs.json');
    writeFileSync(file, t.out);
    const r = await celda('eval', GRU, '--inputs', file);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(Object.keys(JSON.parse(r.out) as object)).toEqual(expect.arrayContaining(['states', 'outputs']));
    // every example cell's template runs
    for (const f of ['rnn.celda', 'lstm.celda', 'lstm-peephole.celda', 'mgu.celda', 'rnn-unrolled.celda']) {
      const tf = await celda('eval', join(EXAMPLES, f), '--template');
      expect(tf.code, f).toBe(0);
      const p = join(tmp, `${f}.json`);
      writeFileSync(p, tf.out);
      const e = await celda('eval', join(EXAMPLES, f), '--inputs', p);
      expect([e.code, e.err], f).toEqual([0, '']);
    }
  });

  it('an error names its JSON path once', async () => {
    const cases = [
      { inputs: { x: [[1, 2]] } },
      { dims: { n_a: 2, n_y: 2 }, inputs: { x: [[[1, 'a']]] } },
      { dims: { n_x: 3, n_a: 2, n_y: 2 }, inputs: { x: [[[1, 2]]] } },
      { dims: { n_a: 2, n_y: 2 }, inputs: { x: [[[1, 2]], [[1, 2], [3, 4]]] } },
      { dims: { n_a: 2, n_y: 2 }, steps: 3, inputs: { x: [[[1, 2]]] } },
      { dims: { n_a: 2, n_y: 2 }, inputs: { x: [[[1, 2]]] }, init: { a: [[1]] } },
    ];
    for (const [i, c] of cases.entries()) {
      const p = join(tmp, `path-${i}.json`);
      writeFileSync(p, JSON.stringify(c));
      const r = await celda('eval', RNN, '--inputs', p);
      expect(r.code, r.err).toBe(1);
      const path = /^error: (inputs\.[a-z]+\.[a-z]+)/.exec(r.err)?.[1];
      expect(path, r.err).toBeDefined();
      expect(r.err.split(path!).length - 1, r.err).toBe(1);
    }
  });
});
