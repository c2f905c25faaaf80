// One folder per diagnostic: test/compiler/check/diagnostics/<case>/cell.celda
// and expected.txt, the exact stderr of `celda check cell.celda` run in that
// folder. `UPDATE=1 npx vitest run test/compiler/check/diagnostics.test.ts`
// rewrites the expected files — then read every changed one as a user would.
//
// Snapshots alone would accept whatever the compiler prints today, so each case
// also states, independently, the codes it must produce and the text its first
// caret must sit under (read back from the rendered lines, grapheme by grapheme).

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../compiler/compile.ts';
import { render } from '../../../compiler/diagnostics.ts';

const DIR = join(import.meta.dirname, 'diagnostics');
const ROOT = join(import.meta.dirname, '..', '..', '..');

/** Per case: the codes, in source order, and the text under the first caret. */
const CASES: Record<string, { codes: string[]; under: string }> = {
  'syntax-unclosed-paren': { codes: ['E001'], under: 'ŷ' },
  'syntax-unclosed-bracket': { codes: ['E001'], under: ')' },
  'syntax-stray-equals': { codes: ['E001'], under: '=' },
  'syntax-garbage-char': { codes: ['E001'], under: '¤' },
  'syntax-broken-begin': { codes: ['E001'], under: '\\begin' },
  'syntax-unclosed-environment': { codes: ['E001'], under: '\\begin{split}' },
  'syntax-unclosed-time-index': { codes: ['E001'], under: '=' },
  'syntax-unclosed-subscript': { codes: ['E001'], under: '^' },
  'byte-order-mark': { codes: ['E003'], under: 'tahn' },
  'pasted-derivative': { codes: ['E001'], under: '\\frac' },
  'unknown-latex-command': { codes: ['E002'], under: '\\tanhh' },
  'batch-sum': { codes: ['E002'], under: '\\sum_{batch}' },
  'unknown-function': { codes: ['E003'], under: 'tahn' },
  'unknown-function-after-tilde': { codes: ['E003'], under: 'tahn' },
  'function-alias-typo': { codes: ['E003'], under: 'tahn' },
  'unknown-name-at-t': { codes: ['E004'], under: 'z^<t>' },
  'input-name-typo': { codes: ['E004'], under: 'x_ni^<t>' },
  'missing-input-declaration': { codes: ['E004'], under: 'x^<t>' },
  'unrolled-missing-input': { codes: ['E004'], under: 'x^{<1>}' },
  'crlf-line-endings': { codes: ['E004'], under: 'q^<t>' },
  'future-index': { codes: ['E005'], under: 'a^<t+1>' },
  'two-steps-back': { codes: ['E005'], under: 'a^<t-2>' },
  'other-index': { codes: ['E005'], under: 'a^<s>' },
  'defined-at-previous-step': { codes: ['E005'], under: 'a^<t-1>' },
  'empty-index': { codes: ['E006'], under: 'a^{}' },
  'notes-empty-index': { codes: ['E006'], under: 'c^{}' },
  'cycle': { codes: ['E007'], under: 'a^<t>' },
  'state-never-defined': { codes: ['E008'], under: 'h^<t-1>' },
  'declared-state-never-defined': { codes: ['E008'], under: 'a' },
  'shape-mismatch': { codes: ['E009'], under: 'Γ_u * x^<t>' },
  'shape-mismatch-definition': { codes: ['E009'], under: 'Γ_u * x^<t>' },
  'juxtaposed-vectors': { codes: ['E009'], under: 'a^<t-1> x^<t>' },
  'transpose-vector': { codes: ['E009'], under: 'x^<t>^T' },
  'param-two-shapes': { codes: ['E010'], under: 'W' },
  'param-declared-shape': { codes: ['E010'], under: 'W_aa' },
  'double-definition': { codes: ['E011'], under: 'a^<t>' },
  'bare-file': { codes: ['E011'], under: 'ŷ^<t>' },
  'input-defined': { codes: ['E012'], under: 'x^<t>' },
  'mixed-time': { codes: ['E013'], under: 'a^<1>' },
  'concrete-read-in-step': { codes: ['E013'], under: 'a^<0>' },
  'general-read-in-unrolled': { codes: ['E013'], under: 'x^{< t>}' },
  'cannot-infer': { codes: ['E014', 'E014'], under: 'b_u' },
  'function-as-value': { codes: ['E015'], under: 'tanh' },
  'duplicate-declaration': { codes: ['E016'], under: 'a' },
  'non-constant-init': { codes: ['E017'], under: 'x' },
  'empty-cell': { codes: ['E018'], under: 'Empty' },
  'input-at-previous': { codes: ['E020'], under: 'x^<t-1>' },
  'duplicate-cell': { codes: ['E021'], under: 'RNN' },
  'unrolled-gap': { codes: ['E024'], under: 'a^{<2>}' },
  'zeros-in-equation': { codes: ['E026'], under: '[0 … 0]' },
  'number-beyond-float64': { codes: ['E077'], under: '1e999' },
  'declared-output-never-defined': { codes: ['E027'], under: 'y' },
  'unrolled-input-step-zero': { codes: ['E029'], under: 'x^{<0>}' },
  'no-output': { codes: ['E030'], under: 'h' },
  'tab-indentation': { codes: ['E003'], under: 'tahn' },
  // Matrices per example (compiler/check/matrices.ts).
  'matrix-vector-sizes': { codes: ['E009'], under: 'C^<t> q^<t>' },
  'outer-of-a-matrix': { codes: ['E040'], under: 'C^<t-1>ᵀ' },
  'diag-without-matrix': { codes: ['E041'], under: 'diag(Δ)' },
  // Collected, not first-only, and nothing that merely follows from them.
  'multiple-errors': { codes: ['E003', 'E005', 'E004'], under: 'tahn' },
};

/** What `celda check cell.celda` writes to stderr. */
function checkOutput(source: string): string {
  const r = compile(source, { defaultCellName: 'cell' });
  return r.diagnostics.map((d) => `${render(d, 'cell.celda', source)}\n`).join('');
}

const graphemes = (s: string) => Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s), (g) => g.segment);

/** The source text a rendered snippet marks: graphemes of the code line above `^~~~` (or `----`). */
function marked(codeLine: string, markLine: string): string {
  const bar = codeLine.indexOf(' | ');
  const code = graphemes(codeLine.slice(bar + 3));
  const marks = graphemes(markLine.slice(bar + 3));
  return code.filter((_, i) => marks[i] === '^' || marks[i] === '~' || marks[i] === '-').join('');
}

const folders = readdirSync(DIR).filter((d) => existsSync(join(DIR, d, 'cell.celda'))).sort();

describe('diagnostics, one folder per case', () => {
  it('every folder is listed with its codes, and every listed case has a folder', () => {
    expect(folders).toEqual(Object.keys(CASES).sort());
  });

  for (const name of folders) {
    it(name, () => {
      const source = readFileSync(join(DIR, name, 'cell.celda'), 'utf8');
      const out = checkOutput(source);
      const file = join(DIR, name, 'expected.txt');
      if (process.env.UPDATE) writeFileSync(file, out);
      expect(out).toBe(readFileSync(file, 'utf8'));

      const want = CASES[name]!;
      const r = compile(source, { defaultCellName: 'cell' });
      expect(r.diagnostics.map((d) => d.code)).toEqual(want.codes);
      for (const d of r.diagnostics) {
        expect(d.span.start).toBeGreaterThanOrEqual(0);
        expect(d.span.end).toBeLessThanOrEqual(source.length);
        expect(d.span.start).toBeLessThanOrEqual(d.span.end);
        for (const n of d.notes ?? []) expect(n.span.end).toBeLessThanOrEqual(source.length);
      }
      const lines = out.split('\n');
      expect(lines[0]).toMatch(/^cell\.celda:\d+:\d+: error\[E\d{3}\]: \S/);
      expect(marked(lines[1]!, lines[2]!)).toBe(want.under);
      expect(out).not.toMatch(/internal error|\.ts:\d+|\bat \w+ \(/);
    });
  }

  it('the line:col of the header is where the caret is (graphemes, tabs and CRLF included)', () => {
    for (const name of ['unknown-function-after-tilde', 'shape-mismatch', 'tab-indentation', 'crlf-line-endings']) {
      const source = readFileSync(join(DIR, name, 'cell.celda'), 'utf8');
      const [head, code, marks] = checkOutput(source).split('\n');
      const [, line, col] = /^cell\.celda:(\d+):(\d+):/.exec(head!)!;
      const bar = code!.indexOf(' | ');
      expect(code!.slice(0, bar).trim()).toBe(line);
      expect(graphemes(marks!.slice(bar + 3)).findIndex((g) => g === '^') + 1).toBe(Number(col));
      expect(code).not.toContain('\r');
    }
  });

  it('notes point at the other place involved', () => {
    const source = readFileSync(join(DIR, 'param-two-shapes', 'cell.celda'), 'utf8');
    const lines = checkOutput(source).split('\n');
    const at = lines.findIndex((l) => l.startsWith('note: '));
    expect(lines[at]).toBe('note: `W` gets the shape ? × n_x here');
    expect(marked(lines[at + 1]!, lines[at + 2]!)).toBe('W');
    // The note marks the first `W`, the caret the second.
    expect(lines[at + 2]!.indexOf('-')).toBeLessThan(lines[2]!.indexOf('^'));
  });

  it('the real command line prints exactly expected.txt on stderr and exits 1', () => {
    for (const name of ['multiple-errors', 'crlf-line-endings', 'shape-mismatch']) {
      const cwd = join(DIR, name);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), 'check', 'cell.celda'], { cwd, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(readFileSync(join(cwd, 'expected.txt'), 'utf8'));
    }
  }, 120_000);
});
