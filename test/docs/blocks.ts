// The shell blocks of the docs, as the doc-runner test (docs.test.ts) runs them.
//
// A shell block is a fenced block at the start of a line whose info string
// starts with `sh`, `bash` or `shell`. Words after the language say how it runs:
//
//   ```sh                 run, in order, in the file's own temporary directory
//   ```sh no-run          shown only (`npm install`, a command for another machine)
//   ```sh needs-python    run where a python3 with torch is found; skipped with
//                         a notice otherwise, and a failure under CI
//   ```sh needs-browser   the same, for Chromium
//
// `# …` lines inside a block are comments to the shell: the docs show a
// command's output that way.

/** How a block runs. */
export type Mark = 'run' | 'no-run' | 'needs-python' | 'needs-browser';

export interface ShellBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly mark: Mark;
  readonly code: string;
}

const SHELLS = new Set(['sh', 'bash', 'shell']);
const MARKS = new Set<string>(['no-run', 'needs-python', 'needs-browser']);

/** Every shell block of a Markdown text, in order; an unknown mark is an error (a typo would silently skip a block). */
export function shellBlocks(markdown: string, file = 'markdown'): ShellBlock[] {
  const lines = markdown.split('\n');
  const out: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!, info = open[2]!.trim().split(/\s+/).filter(Boolean);
    // closed by a line of the same character, at least as long, and nothing else
    const close = new RegExp(`^${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end]!)) end++;
    if (end >= lines.length) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    if (info.length > 0 && SHELLS.has(info[0]!)) {
      const extra = info.slice(1);
      for (const w of extra) if (!MARKS.has(w)) throw new Error(`${file}:${i + 1}: unknown mark \`${w}\` on a shell block (marks: ${[...MARKS].join(', ')})`);
      if (extra.length > 1) throw new Error(`${file}:${i + 1}: one mark per shell block, not ${extra.join(' ')}`);
      out.push({ line: i + 1, mark: (extra[0] as Mark | undefined) ?? 'run', code: lines.slice(i + 1, end).join('\n') + '\n' });
    }
    i = end;
  }
  return out;
}

/** The files CELDA_DOCS names (README.md, docs/export.md, …), else all of them. */
export function chosenFiles(env: string | undefined, all: readonly string[]): string[] {
  if (env === undefined || env.trim() === '') return [...all];
  const want = env.split(',').map((f) => f.trim().replace(/^\.\//, '')).filter(Boolean);
  const unknown = want.filter((f) => !all.includes(f));
  if (unknown.length) throw new Error(`CELDA_DOCS names ${unknown.join(', ')}, not a file the doc runner runs (${all.join(', ')})`);
  return all.filter((f) => want.includes(f));
}
