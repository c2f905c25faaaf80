// Parser speed in microseconds per character, on every example cell and on a
// 6 KB file of concatenated cells. Run: `npx tsx bench/parse.ts`.
//
// `--baseline <git-rev>` also times the parser of that revision (its grammar/
// folder, read with `git show` into node_modules/.cache so `ohm-js` resolves)
// and prints the speed-up; 0f0683b is the parser before its grammar was
// reshaped for speed. Timings are medians of repeated runs after a warm-up,
// alternating between the two parsers so a busy machine slows both alike.
//
// `--cold` also times what the CLI pays: the first parse of one cell in a
// fresh process (ohm's code not yet compiled by the JIT), median of 7 processes.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ParseResult } from '../grammar/ast.ts';

type Parse = (source: string) => ParseResult;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CURRENT = join(ROOT, 'grammar', 'parse.ts');
const COLD_CELL = join(ROOT, 'examples', 'cells', 'lstm.celda');
const COLD_RUNS = 7;
const CELLS = join(ROOT, 'examples', 'cells');
const BIG_FILE_CHARS = 6 * 1024;
/** Time spent per input and parser; enough for a stable median on a busy machine. */
const BUDGET_MS = 600;

interface Input {
  readonly label: string;
  readonly source: string;
}

function inputs(): Input[] {
  const files = readdirSync(CELLS).filter((f) => f.endsWith('.celda')).sort();
  const cells = files.map((f) => ({ label: f, source: readFileSync(join(CELLS, f), 'utf8') }));
  // Cells one after another, cycling through the examples, until 6 KB.
  let big = '';
  for (let i = 0; big.length < BIG_FILE_CHARS; i++) big += cells[i % cells.length].source + '\n';
  return [...cells, { label: `all cells concatenated (${big.length} chars)`, source: big }];
}

/**
 * Median microseconds per character of `parse(source)` for each parser. Runs
 * alternate between the parsers, so a busy machine slows all of them alike.
 */
function time(parsers: readonly Parse[], source: string): number[] {
  for (const parse of parsers) {
    const check = parse(source);
    if (!check.ok) throw new Error(`benchmark input does not parse: ${JSON.stringify(check.problem)}`);
    for (let i = 0; i < 3; i++) parse(source); // warm-up: JIT and ohm's lazy setup
  }
  const samples: number[][] = parsers.map(() => []);
  const start = performance.now();
  const budget = BUDGET_MS * parsers.length;
  for (let round = 0; round < 5 || (performance.now() - start < budget && round < 2000); round++) {
    parsers.forEach((parse, i) => {
      const t0 = performance.now();
      parse(source);
      samples[i].push(performance.now() - t0);
    });
  }
  return samples.map((s) => (median(s) * 1000) / source.length);
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The grammar/ folder of an older revision, copied out of git (git state is untouched). */
function checkout(rev: string): string {
  const dir = join(ROOT, 'node_modules', '.cache', 'celda-bench', rev.replace(/[^\w.-]/g, '_'), 'grammar');
  mkdirSync(dir, { recursive: true });
  const listing = execFileSync('git', ['ls-tree', '--name-only', `${rev}:grammar`], { cwd: ROOT, encoding: 'utf8' });
  for (const file of listing.split('\n').filter((f) => f !== '')) {
    const text = execFileSync('git', ['show', `${rev}:grammar/${file}`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
    writeFileSync(join(dir, file), text);
  }
  // ESM like the working tree, so both parsers run the same build of ohm.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return join(dir, 'parse.ts');
}

async function load(parsePath: string): Promise<Parse> {
  return ((await import(pathToFileURL(parsePath).href)) as { parse: Parse }).parse;
}

/** Milliseconds of the first parse of COLD_CELL in a fresh process, median of COLD_RUNS. */
function coldMs(parsePaths: readonly string[]): number[] {
  const samples: number[][] = parsePaths.map(() => []);
  const self = fileURLToPath(import.meta.url);
  for (let run = 0; run < COLD_RUNS; run++) {
    parsePaths.forEach((path, i) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--first', path], { cwd: ROOT, encoding: 'utf8' });
      samples[i].push(Number(out.trim()));
    });
  }
  return samples.map(median);
}

/** Child process of `coldMs`: print the milliseconds of one first parse. */
async function firstParse(parsePath: string): Promise<void> {
  const parse = await load(parsePath);
  const source = readFileSync(COLD_CELL, 'utf8');
  const t0 = performance.now();
  const result = parse(source);
  const ms = performance.now() - t0;
  if (!result.ok) throw new Error('the cold benchmark cell does not parse');
  console.log(ms.toFixed(2));
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const first = flag('--first');
  if (first !== undefined) return firstParse(first);
  const rev = flag('--baseline');
  const baselinePath = rev === undefined ? null : checkout(rev);
  const parsers = [await load(CURRENT), ...(baselinePath === null ? [] : [await load(baselinePath)])];
  const rows = inputs().map((input) => {
    const [now, before = null] = time(parsers, input.source);
    return { label: input.label, chars: String(input.source.length), now, before };
  });
  const width = Math.max(...rows.map((r) => r.label.length));
  const num = (x: number) => x.toFixed(2).padStart(8);
  const line = (label: string, chars: string, now: number, before: number | null) =>
    `${label.padEnd(width)}  ${chars.padStart(6)}  ${before === null ? num(now) : `${num(before)} ${num(now)}  ${(before / now).toFixed(1).padStart(6)}×`}`;
  console.log(`${'input'.padEnd(width)}   chars  ${rev === undefined ? '    µs/char' : `${rev.slice(0, 8).padStart(8)}      now  speed-up`}`);
  for (const r of rows) console.log(line(r.label, r.chars, r.now, r.before));
  console.log('(µs per character, median)');
  if (process.argv.includes('--cold')) {
    const [now, before = null] = coldMs(baselinePath === null ? [CURRENT] : [CURRENT, baselinePath]);
    console.log(line('first parse, fresh process: lstm.celda', '', now, before));
    console.log('(ms, median of 7 processes)');
  }
}

await main();
