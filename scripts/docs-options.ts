// Rewrites the option tables of the docs from the one declaration of each
// command's options (cli/commands.ts): every `<!-- options: NAME -->` …
// `<!-- /options -->` block of README.md and docs/*.md. Run it after changing an
// option: `npx tsx scripts/docs-options.ts`; test/cli/options.test.ts fails
// while a table is out of date.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../cli/commands.ts';
import { fillTables } from '../cli/options.ts';
import { TASKS } from '../runtime/train/data/tasks/index.ts';
import { SETTINGS, STEPS } from '../runtime/train/run/settings.ts';

const ROOT = join(import.meta.dirname, '..');
export const DOC_FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** Each task's default settings, one column per task (the tasks' `defaults`, runtime/train/data/tasks/*.ts). */
export function taskDefaultsTable(): string {
  const tasks = Object.entries(TASKS).map(([name, make]) => [name, make().defaults as unknown as Record<string, unknown>] as const);
  const rows = [STEPS, ...SETTINGS].filter((s) => tasks.some(([, d]) => d[s.key] !== undefined))
    .map((s) => `| \`--${s.opt}\` | ${tasks.map(([, d]) => String(d[s.key])).join(' | ')} |`);
  const bi = `| \`--bidirectional\` | ${tasks.map(([, d]) => (d.bidirectional ? 'yes' : 'no')).join(' | ')} |`;
  return `| option | ${tasks.map(([n]) => n).join(' | ')} |\n|---|${tasks.map(() => '---|').join('')}\n${[...rows, bi].join('\n')}\n`;
}

/** A text with its `<!-- task-defaults -->` table rewritten. */
export const fillTaskDefaults = (text: string): string =>
  text.replace(/<!-- task-defaults -->\n[\s\S]*?<!-- \/task-defaults -->/g, () => `<!-- task-defaults -->\n${taskDefaultsTable()}<!-- /task-defaults -->`);

if (process.argv[1] === import.meta.filename) {
  for (const f of DOC_FILES) {
    const path = join(ROOT, f);
    const text = readFileSync(path, 'utf8');
    const filled = fillTaskDefaults(fillTables(text, COMMANDS));
    if (filled !== text) {
      writeFileSync(path, filled);
      process.stdout.write(`updated ${f}\n`);
    }
  }
}
