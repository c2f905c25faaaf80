// `celda compile CELL -o out.js [--precision f64|f32] [--no-simd] [--cell NAME]`: the cell as
// one standalone JavaScript module (no imports), plus its TypeScript declarations
// (out.d.ts). Without -o the module goes to stdout.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { hasErrors, render } from '../compiler/diagnostics.ts';
import { emitJs } from '../compiler/emit-js.ts';

/** A user mistake on the command line: printed as `error: …`, exit 2. */
export class CommandError extends Error {}

export function parseCommand<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CommandError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
}

const defaultName = (file: string) => (file.split('/').pop() ?? 'cell').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_]/g, '_') || 'cell';

/** Compile a file and pick one cell; diagnostics go to stderr. Null when the file has errors. */
export function cellFromFile(file: string, cellName: string | undefined): CompiledCell | null {
  const source = readTextFile(file, 'cell file');
  const r = compile(source, { defaultCellName: defaultName(file) });
  for (const d of r.diagnostics) process.stderr.write(render(d, file, source) + '\n');
  if (hasErrors(r.diagnostics)) return null;
  if (r.cells.length === 0) throw new CommandError(`${file}: no cell`);
  if (cellName === undefined) {
    if (r.cells.length > 1) throw new CommandError(`${file} holds ${r.cells.length} cells (${r.cells.map((c) => c.name).join(', ')}); choose one with --cell NAME`);
    return r.cells[0]!;
  }
  const c = r.cells.find((x) => x.name === cellName);
  if (!c) throw new CommandError(`${file}: no cell named \`${cellName}\` (cells: ${r.cells.map((x) => x.name).join(', ')})`);
  return c;
}

export function precisionOption(v: string | undefined): 'f64' | 'f32' {
  const p = v ?? 'f64';
  if (p !== 'f64' && p !== 'f32') throw new CommandError(`--precision must be f64 or f32, not \`${p}\``);
  return p;
}

/** out.js → out.d.ts, out.mjs → out.d.mts, anything else → anything.d.ts */
export const declarationPath = (out: string) => (/\.mjs$/.test(out) ? out.replace(/\.mjs$/, '.d.mts') : /\.js$/.test(out) ? out.replace(/\.js$/, '.d.ts') : `${out}.d.ts`);

/** Runs a command, turning a CommandError into `error: …` on stderr and exit code 2. */
export async function reporting(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof CommandError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

export async function compileCommand(argv: string[]): Promise<number> {
  return reporting(async () => {
    const { values, positionals } = parseCommand(argv, { out: { type: 'string', short: 'o' }, precision: { type: 'string' }, cell: { type: 'string' }, 'no-simd': { type: 'boolean' } });
    if (positionals.length !== 1) throw new CommandError(`celda compile needs one cell file, got ${positionals.length}\nusage: celda compile CELL -o out.js [--precision f64|f32] [--no-simd] [--cell NAME]`);
    const precision = precisionOption(values.precision);
    const cell = cellFromFile(positionals[0]!, values.cell);
    if (!cell) return 1;
    const js = emitJs(cell, { precision, simd: values['no-simd'] !== true });
    if (values.out === undefined) {
      process.stdout.write(js.module);
      return 0;
    }
    const dts = declarationPath(values.out);
    try {
      writeFileSync(values.out, js.module);
      writeFileSync(dts, js.dts);
    } catch (e) {
      throw new CommandError(`cannot write ${values.out}: ${(e as Error).message}`);
    }
    process.stderr.write(`wrote ${values.out} and ${dts} (${js.factory}, ${precision === 'f32' ? 'float32' : 'float64'}${js.simd ? ', products in WebAssembly SIMD' : ''}; dims: ${js.dims.join(', ') || 'none'})\n`);
    return 0;
  });
}
