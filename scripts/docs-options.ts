// Rewrites the option tables of the docs from the one declaration of each
// command's options (cli/commands.ts): every `<!-- options: NAME -->` …
// `<!-- /options -->` block of README.md and docs/*.md. Run it after changing an
// option: `npx tsx scripts/docs-options.ts`; test/cli/options.test.ts fails
// while a table is out of date.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../cli/commands.ts';
import { fillTables } from '../cli/options.ts';

const ROOT = join(import.meta.dirname, '..');
export const DOC_FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

if (process.argv[1] === import.meta.filename) {
  for (const f of DOC_FILES) {
    const path = join(ROOT, f);
    const text = readFileSync(path, 'utf8');
    const filled = fillTables(text, COMMANDS);
    if (filled !== text) {
      writeFileSync(path, filled);
      process.stdout.write(`updated ${f}\n`);
    }
  }
}
