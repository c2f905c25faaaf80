// Parser speed in microseconds per character, on every example cell and on a
// 6 KB file of concatenated cells. Run: `npx tsx bench/parse.ts`.
//
// `--baseline <git-rev>` also times the parser of that revision (its grammar/
// folder, read with `git show` into node_modules/.cache so `ohm-js` resolves)
// and prints the speed-up. Timings are medians of repeated runs after a warm-up,
// alternating between the two parsers.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as currentParse } from '../grammar/parse.ts';

type Parse = typeof currentParse;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
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

/** The parser of an older revision, copied out of git (git state is untouched). */
async function parserAt(rev: string): Promise<Parse> {
  const dir = join(ROOT, 'node_modules', '.cache', 'celda-bench', rev.replace(/[^\w.-]/g, '_'), 'grammar');
  mkdirSync(dir, { recursive: true });
  const listing = execFileSync('git', ['ls-tree', '--name-only', `${rev}:grammar`], { cwd: ROOT, encoding: 'utf8' });
  for (const file of listing.split('\n').filter((f) => f !== '')) {
    const text = execFileSync('git', ['show', `${rev}:grammar/${file}`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
    writeFileSync(join(dir, file), text);
  }
  // ESM like the working tree, so both parsers run the same build of ohm.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const module = (await import(pathToFileURL(join(dir, 'parse.ts')).href)) as { parse: Parse };
  return module.parse;
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const rev = flag('--baseline');
  const baseline = rev === undefined ? null : await parserAt(rev);
  const rows = inputs().map((input) => {
    const [now, before = null] = time(baseline === null ? [currentParse] : [currentParse, baseline], input.source);
    return { input, now, before };
  });
  const width = Math.max(...rows.map((r) => r.input.label.length));
  const us = (x: number) => x.toFixed(2).padStart(8);
  console.log(`${'input'.padEnd(width)}   chars  ${baseline ? `${rev!.slice(0, 8).padStart(8)}      now  speed-up` : '    µs/char'}`);
  for (const { input, now, before } of rows) {
    const cols = before === null ? us(now) : `${us(before)} ${us(now)}  ${(before / now).toFixed(1).padStart(6)}×`;
    console.log(`${input.label.padEnd(width)}  ${String(input.source.length).padStart(6)}  ${cols}`);
  }
  console.log('(µs per character, median)');
}

await main();
