// `celda compare` on zoo cells, as docs/zoo.md is made: cells with several
// states read through their h, a run stopped by the NaN guard reported as not
// stable (the others still run), ms per step, and --report writing its section
// into a markdown file — keeping the text around it, replacing it on a rerun.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { celda } from '../support/cli.ts';

const ZOO = join(import.meta.dirname, '..', '..', 'examples', 'zoo');


// A forget bias of 800 makes the unstabilised sLSTM's exp(f̃) infinite at once, even in float64.
const tiny = ['--steps', '3', '--hidden', '4', '--embed', '4', '--batch', '8', '--eval-every', '3', '--eval-size', '16', '--backend', 'interp', '--threads', '1', '--forget-bias', '800', '--quiet'];

describe('celda compare on the zoo', () => {
  it('reports parameters, metrics, ms per step and stability, and writes its section of a report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celda-zoo-compare-'));
    const report = join(dir, 'zoo.md');
    writeFileSync(report, '# The zoo\n\nWritten by hand.\n');
    const cells = [join(ZOO, 'janet.celda'), join(ZOO, 'slstm-unstabilised.celda')];
    const r = await celda('compare', 'gender', '--cells', ...cells, ...tiny, '--out', join(dir, 'runs'), '--report', report);
    expect(r.code, r.err).toBe(1); // one run failed
    expect(r.err).not.toMatch(/--readout/); // JANET (c, h) and the sLSTM (c, n, h) are read through h
    expect(r.out).toMatch(/\| cell \| file \| params \| steps \| seconds \| accuracy \| majority_accuracy \| ms\/step \| stable \|/);
    const janet = r.out.split('\n').find((l) => l.startsWith('| JANET '))!;
    expect(janet).toMatch(/\| \d+ \| 3 \| [\d.]+ \| 0\.\d+ \| 0\.\d+ \| [\d.]+ \| yes \|$/);
    const slstm = r.out.split('\n').find((l) => l.startsWith('| sLSTM_unstabilised '))!;
    // the reason once, in the first metric's column; the stability column says which guard stopped it
    expect(slstm).toMatch(/\| failed: step 1: .*NaN.* \| – \| – \| no: NaN guard \|$/);

    const text = readFileSync(report, 'utf8');
    expect(text.startsWith('# The zoo\n\nWritten by hand.\n\n<!-- celda compare gender: begin')).toBe(true);
    expect(text).toContain('    celda compare gender --cells ');
    expect(text).toContain('![validation accuracy](zoo-gender-accuracy.svg)');
    expect(readFileSync(join(dir, 'zoo-gender-loss.svg'), 'utf8')).toMatch(/JANET/);
    expect(existsSync(join(dir, 'zoo-gender-accuracy.svg'))).toBe(true);

    // A rerun replaces its section; text after it stays.
    writeFileSync(report, `${text}\nMore text.\n`);
    const again = await celda('compare', 'gender', '--cells', cells[0]!, ...tiny, '--out', join(dir, 'runs2'), '--report', report);
    expect(again.code, again.err).toBe(0);
    const after = readFileSync(report, 'utf8');
    expect(after.match(/celda compare gender: begin/g)).toHaveLength(1);
    expect(after).not.toContain('sLSTM_unstabilised');
    expect(after.startsWith('# The zoo\n\nWritten by hand.\n')).toBe(true);
    expect(after.endsWith('\nMore text.\n')).toBe(true);
  });

  it('refuses --report for celda train, and a report in a directory that does not exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celda-zoo-compare-'));
    const t = await celda('train', 'gender', '--cell', join(ZOO, 'janet.celda'), '--report', join(dir, 'r.md'));
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/unknown option `--report` for celda train/);
    const c = await celda('compare', 'gender', '--cells', join(ZOO, 'janet.celda'), ...tiny, '--out', join(dir, 'runs'), '--report', join(dir, 'no', 'r.md'));
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/--report .*does not exist/);
  });
});
