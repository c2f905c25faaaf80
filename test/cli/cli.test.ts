// The celda command line, end to end: in-process for speed, plus the real
// binary for the things only a process shows (exit codes, no stack traces).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../support/cells.ts';
import { celda } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'celda-cli-'));


const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

const RNN = join(EXAMPLES, 'rnn.celda');
const GRU = join(EXAMPLES, 'gru.celda');

describe('celda CMD --help', () => {
  it.each(['check', 'eval', 'grad', 'graph', 'print', 'compile', 'export', 'data', 'bench', 'train', 'sample', 'predict', 'compare'])('%s --help prints that command\'s usage and exits 0', async (cmd) => {
    const r = await celda(cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`^usage: celda ${cmd}( |\\n)`));
    expect(r.out).toMatch(/\noptions:\n {2}--|\nevery command:\n/);
  });

  it('-h too, anywhere before `--`; after it, --help is an argument', async () => {
    expect((await celda('compile', 'x.celda', '-h')).out).toMatch(/^usage: celda compile CELL \[options\]\n[\s\S]*-o, --out OUT\.js/);
    const r = await celda('check', '--', '--help');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read cell file --help: no such file/);
  });
});

describe('celda check', () => {
  it('compiles many files in one process and counts them', async () => {
    const bad = file('bad.celda', 'cell B {\n  input x : n_x\n  state a : n_a\n  a^<t> = tahn(W a^<t-1> + U x^<t>)\n}\n');
    const r = await celda('check', RNN, GRU, bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain('rnn.celda: ok');
    expect(r.out).toContain('2 passed, 1 failed');
    expect(r.err).toContain('bad.celda:4:11: error[E003]: unknown function `tahn`');
    expect(r.err).toContain('help: did you mean `tanh`?');
  });
  it('exits 0 when every file compiles', async () => {
    expect((await celda('check', RNN)).code).toBe(0);
  });
  it('reports a missing file without a stack trace', async () => {
    const r = await celda('check', join(tmp, 'nope.celda'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read cell file .*nope\.celda: no such file/);
  });
});

describe('celda eval', () => {
  const inputs = file('in.json', JSON.stringify({
    dims: { n_x: 2, n_a: 3, n_y: 2 }, batch: 2, steps: 2,
    inputs: { x: [[[1, 2], [0.5, -1]], [[0, 1], [1, 1]]] },
    cotangents: { a: [[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [1, 1, 1]]] },
  }));
  it('follows the JSON contract with random parameters and a seed', async () => {
    const r = await celda('eval', RNN, '--inputs', inputs, '--seed', '7');
    expect(r.err).toBe('');
    const j = JSON.parse(r.out);
    expect(Object.keys(j).sort()).toEqual(['grads', 'outputs', 'params', 'states']);
    expect(j.states.a).toHaveLength(2);
    expect(j.states.a[0]).toHaveLength(2);
    expect(j.states.a[0][0]).toHaveLength(3);
    expect(j.outputs.y_hat[1][1].reduce((s: number, v: number) => s + v, 0)).toBeCloseTo(1, 12);
    expect(Object.keys(j.grads.params).sort()).toEqual(['W_aa', 'W_ax', 'W_ya', 'b_a', 'b_y']);
    expect(j.grads.inputs.x).toHaveLength(2);
    expect(j.grads.init.a).toHaveLength(2);
    const again = JSON.parse((await celda('eval', RNN, '--inputs', inputs, '--seed', '7')).out);
    expect(again).toEqual(j);
    expect(JSON.parse((await celda('eval', RNN, '--inputs', inputs, '--seed', '8')).out).params).not.toEqual(j.params);
  });
  it('reads parameters by canonical name and echoes the caller\'s keys', async () => {
    const params = file('p.json', JSON.stringify({
      W_aa: [[0.1, 0.2, 0], [0, 0.1, 0.3], [0.2, 0, 0.1]], W_ax: [[1, 0], [0, 1], [1, 1]], b_a: [0, 0.1, -0.1],
      W_ya: [[1, 0, 0], [0, 1, 1]], b_y: [0, 0],
    }));
    const r = await celda('eval', RNN, '--inputs', inputs, '--params', params);
    const j = JSON.parse(r.out);
    expect(j.params).toBeUndefined();
    // a^<1> = tanh(W_ax x^<1> + b_a) for the first example: x = [1, 2]
    expect(j.states.a[0][0]).toEqual([Math.tanh(1), Math.tanh(2.1), Math.tanh(2.9)]);
  });
  it('refuses inputs of the wrong shape with the path that is wrong', async () => {
    const badIn = file('bad-in.json', JSON.stringify({ dims: { n_x: 2, n_a: 3, n_y: 2 }, inputs: { x: [[[1, 2], [0.5]]] } }));
    const r = await celda('eval', RNN, '--inputs', badIn);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: inputs\.inputs\.x\[0\]\[1\]: expected shape \[2\], got \[1\]/);
  });
  it('points into a broken JSON file', async () => {
    const broken = file('broken.json', '{\n  "dims": {"n_x": 2,}\n}');
    const r = await celda('eval', RNN, '--inputs', broken);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\.json:2:\d+: invalid JSON in inputs/);
  });
  it('asks for --cell when a file holds several cells', async () => {
    const two = file('two.celda', 'cell A {\n input x : n\n state a : n\n a^<t> = tanh(x^<t> + a^<t-1>)\n}\ncell B {\n input x : n\n state b : n\n b^<t> = x^<t> * b^<t-1>\n}\n');
    const r = await celda('eval', two, '--inputs', inputs);
    expect(r.err).toContain('choose one with --cell NAME');
    expect((await celda('eval', two, '--cell', 'C', '--inputs', inputs)).err).toContain('no cell named `C` (cells: A, B)');
  });
});

describe('celda grad', () => {
  it('shows the derivatives the notes show for the RNN', async () => {
    const r = await celda('grad', RNN);
    expect(r.code).toBe(0);
    const text = r.out;
    // (1 − tanh(…)²) · x^⟨t⟩ᵀ, with a^⟨t−1⟩ᵀ for W_aa, Σ_batch for b_a, W_axᵀ · (…) and W_aaᵀ · (…)
    expect(text).toMatch(/δ₂ = \(∂a\^⟨t⟩ \+ W_yaᵀ · δ₁\) \* \(1 − tanh\(W_aa a\^⟨t−1⟩ \+ W_ax x\^⟨t⟩ \+ b_a\)²\)/);
    expect(text).toContain('∂W_ax = Σ_batch δ₂ · x^⟨t⟩ᵀ');
    expect(text).toContain('∂W_aa = Σ_batch δ₂ · a^⟨t−1⟩ᵀ');
    expect(text).toContain('∂b_a = Σ_batch δ₂');
    expect(text).toContain('∂x^⟨t⟩ = W_axᵀ · δ₂');
    expect(text).toContain('∂a^⟨t−1⟩ = W_aaᵀ · δ₂');
  });
  it('prints one gradient in LaTeX', async () => {
    const r = await celda('grad', RNN, '--wrt', 'W_ax', '--format', 'latex');
    expect(r.out).toContain('\\partial W_{ax} = \\sum_{batch}');
    expect(r.out).toContain('(x^{<t>})^{T}');
    expect(r.out).not.toContain('W_{aa}^{T}');
  });
  it('rejects an unknown --wrt', async () => {
    expect((await celda('grad', RNN, '--wrt', 'W_zz')).err).toContain('`W_zz` is not a parameter, input or state of RNN');
  });
});

describe('celda graph and print', () => {
  it('emits DOT for the forward and backward graphs', async () => {
    const f = await celda('graph', GRU);
    expect(f.out).toMatch(/^digraph "GRU" \{/);
    expect(f.out).toContain('Gamma_u = sigmoid');
    const b = await celda('graph', GRU, '--backward');
    expect(b.out).toContain('grad ∂W_u');
  });
  it('renders SVG through wasm Graphviz', async () => {
    const r = await celda('graph', RNN, '--format', 'svg');
    expect(r.out).toContain('<svg');
    expect(r.out).toContain('</svg>');
  });
  it('prints the cell back in LaTeX', async () => {
    const r = await celda('print', GRU, '--format', 'latex');
    expect(r.out).toContain('\\tilde{c}^{<t>} = \\tanh(W_{c}[\\Gamma_{r} * c^{<t-1>}, x^{<t>}] + b_{c})');
  });
});

describe('the installed binary', () => {
  it('runs as `celda` with no build step and never prints a stack trace for bad input', () => {
    const bin = join(ROOT, 'bin', 'celda.js');
    const out = execFileSync(process.execPath, [bin, 'check', RNN], { encoding: 'utf8' });
    expect(out).toContain('ok');
    const bad = file('cycle.celda', 'cell C {\n  input x : n\n  a^<t> = tanh(b^<t> + x^<t>)\n  b^<t> = a^<t>\n}\n');
    const r = spawnSync(process.execPath, [bin, 'eval', bad, '--inputs', join(tmp, 'in.json')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[E007]');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('celda check --explain', () => {
  it('says which states are linear recurrences and why the others are not, with the place', async () => {
    const mingru = file('mingru.celda', 'cell M {\n  input x : n\n  state h : n\n  z = σ(W_z x^<t> + b_z)\n  h^<t> = (1 - z) * h^<t-1> + z * (W_h x^<t>)\n}\n');
    const r = await celda('check', '--explain', mingru, GRU);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  M: h: linear, diagonal: h^<t> = a^<t> ⊙ h^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward and back\n');
    expect(r.out).toMatch(new RegExp(`  GRU: c: not linear: sigmoid of a value that depends on c\\^<t-1> \\(.*c\\^⟨t−1⟩.*\\) at ${GRU.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:11\n`));
    const plain = await celda('check', mingru);
    expect(plain.out).not.toContain('linear');
  });
});
