// The docs run: every shell block of README.md and docs/*.md (test/docs/blocks.ts
// says which and how), in order, in one temporary directory per file — as a
// newcomer would type them after `npm install`, with `examples/` beside them and
// `celda` (and `npx celda`) the built command line. Trainings are shortened by
// CELDA_MAX_STEPS, which docs/training.md documents. A block fails the test if
// it exits non-zero; its output is shown. Each block runs as `bash --norc -c`.
//
// One file only: CELDA_DOCS=docs/export.md npx vitest run test/docs/docs.test.ts
// (a comma-separated list takes several; an unknown file is an error).

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserMissing, browserRequired } from '../browser/browser.ts';
import { pythonWith, torchRequired } from '../support/python.ts';
import { chosenFiles, shellBlocks } from './blocks.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ALL_FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

const FILES = chosenFiles(process.env.CELDA_DOCS, ALL_FILES);

/** Steps a documented training takes here: enough to run every stage (training, evaluation, checkpoint), not to learn. */
const QUICK_STEPS = '5';

const inCI = () => process.env.CI === 'true' || process.env.CI === '1';

/** A directory where the docs' commands find what `npm install celda` gives: `celda` on PATH, `npx celda`, examples/. */
function workspace(python: string | null): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'celda-docs-'));
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  const shim = (name: string, target: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec ${target} "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  };
  shim('celda', `${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin', 'celda.js'))}`);
  if (python) shim('python3', JSON.stringify(python));
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, CELDA_MAX_STEPS: QUICK_STEPS };
  delete env.CELDA_FROM_SOURCE;
  return { dir, env };
}

/** `npx celda …` as after `npm install`: the celda on PATH (npx itself would look the package up). */
const PRELUDE = 'set -e -o pipefail\nnpx() { if [ "$1" = celda ]; then shift; celda "$@"; else command npx "$@"; fi; }\n';

describe('the shell blocks of the docs', () => {
  it('are all marked with a known mark, and the files have some to run', () => {
    let runnable = 0;
    for (const f of ALL_FILES) runnable += shellBlocks(readFileSync(join(ROOT, f), 'utf8'), f).filter((b) => b.mark === 'run').length;
    expect(runnable).toBeGreaterThan(10);
    expect(() => shellBlocks('```sh no-rn\nls\n```\n', 'x.md')).toThrow('x.md:1: unknown mark `no-rn` on a shell block');
    expect(shellBlocks('a\n```sh\necho 1\n```\n```js\nx\n```\n````sh needs-python\n```\npython3\n````\n')).toEqual([
      { line: 2, mark: 'run', code: 'echo 1\n' },
      { line: 8, mark: 'needs-python', code: '```\npython3\n' },
    ]);
    expect(chosenFiles(undefined, ALL_FILES)).toEqual(ALL_FILES);
    expect(chosenFiles('./docs/export.md, README.md', ALL_FILES)).toEqual(['README.md', 'docs/export.md']);
    expect(() => chosenFiles('docs/exprot.md', ALL_FILES)).toThrow(/CELDA_DOCS names docs\/exprot\.md, not a file the doc runner runs/);
  });

  it('docs/export.md keeps its commands in blocks the runner runs, in order, not in indented blocks', () => {
    const text = readFileSync(join(ROOT, 'docs/export.md'), 'utf8');
    const blocks = shellBlocks(text, 'docs/export.md');
    expect(blocks.filter((b) => b.mark === 'run').length).toBeGreaterThanOrEqual(3);
    expect(blocks.filter((b) => b.mark === 'needs-python').length).toBeGreaterThanOrEqual(3);
    expect(text).not.toMatch(/^ {4}(celda|npx|python3|torchrun) /m);
  });

  const python = pythonWith(['torch']);
  for (const file of FILES) {
    const blocks = shellBlocks(readFileSync(join(ROOT, file), 'utf8'), file).filter((b) => b.mark !== 'no-run');
    if (blocks.length === 0) continue;
    it(`${file}: every block runs, in order`, () => {
      const { dir, env } = workspace(python);
      try {
        for (const b of blocks) {
          const where = `${file}:${b.line}`;
          const missing = b.mark === 'needs-python' ? (python ? null : 'no python3 with torch (CELDA_PYTHON, python3, /usr/bin/python3)')
            : b.mark === 'needs-browser' ? browserMissing() : null;
          if (missing) {
            const required = b.mark === 'needs-python' ? torchRequired() : browserRequired();
            if (required || inCI()) throw new Error(`${where}: ${missing}, and this run requires it`);
            process.stderr.write(`skipping ${where}: ${missing}\n`);
            continue;
          }
          const r = spawnSync('bash', ['--norc', '-c', PRELUDE + b.code], { cwd: dir, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 1 << 26 });
          const shown = `${where}: the block\n${b.code}exited ${r.status ?? r.signal}\n--- stdout (end)\n${r.stdout.slice(-3000)}\n--- stderr (end)\n${r.stderr.slice(-3000)}`;
          expect(r.status, shown).toBe(0);
          expect(r.stderr, shown).not.toMatch(/internal error|\n\s+at .*\.(ts|js):\d+/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
