// What every `celda` command shares: the two ways a command fails without a
// stack trace, strict option parsing, reading a file with a plain message, and
// compiling a cell file down to the one cell asked for. Light on purpose (no
// emitter, no runtime), so that `celda check` starts fast.

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { hasErrors, render } from '../compiler/diagnostics.ts';

/** A user mistake on the command line: printed as `error: …`, exit 2. */
export class UsageError extends Error {}

/** A failure already reported on stderr (diagnostics): exit 1. */
export class Reported extends Error {}

export function parseCommand<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** A file's text (`-`: standard input), or a UsageError that says why not. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
}

/** The name a cell without `cell NAME { … }` gets: its file's, as an identifier. */
export const defaultName = (file: string) => (file.split('/').pop() ?? 'cell').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_]/g, '_') || 'cell';

/**
 * Compile a cell's source (diagnostics to stderr; Reported when it has errors)
 * and pick one cell: the only one, or the one named (`flag` is the option that
 * names it, for the message).
 */
export function cellFrom(source: string, file: string, name: string | undefined, flag = '--cell'): CompiledCell {
  const r = compile(source, { defaultCellName: defaultName(file) });
  for (const d of r.diagnostics) process.stderr.write(render(d, file, source) + '\n');
  if (hasErrors(r.diagnostics)) throw new Reported();
  if (r.cells.length === 0) throw new UsageError(`${file}: no cell`);
  if (name === undefined) {
    if (r.cells.length > 1) throw new UsageError(`${file} holds ${r.cells.length} cells (${r.cells.map((c) => c.name).join(', ')}); choose one with ${flag} NAME`);
    return r.cells[0]!;
  }
  const c = r.cells.find((x) => x.name === name);
  if (!c) throw new UsageError(`${file}: no cell named \`${name}\` (cells: ${r.cells.map((x) => x.name).join(', ')})`);
  return c;
}

/** cellFrom on a file's text. */
export const cellFromFile = (file: string, name: string | undefined, flag = '--cell'): CompiledCell => cellFrom(readTextFile(file, 'cell file'), file, name, flag);

/**
 * `--precision`: f32 or f64. Float32 (with WebAssembly SIMD) is the default where it
 * runs (`compile`, `bench`, `train`); float64, the reference, where it is asked for
 * or the only choice (`eval`, the interpreter).
 */
export function precisionOption(v: string | undefined, fallback: 'f64' | 'f32' = 'f32'): 'f64' | 'f32' {
  const p = v ?? fallback;
  if (p !== 'f64' && p !== 'f32') throw new UsageError(`--precision must be f64 or f32, not \`${p}\``);
  return p;
}

/**
 * Relaxed SIMD for this process, so that float32 modules run the multiply-add
 * kernels: Node ≥ 21 has it, Node 20 behind V8's --experimental-wasm-relaxed-simd,
 * which takes effect when set before a module that uses it is compiled (as
 * bench/main.ts does). Called before a command that may run WebAssembly.
 */
export async function enableRelaxedSimd(): Promise<void> {
  const { fmaAvailable } = await import('../runtime/wasm/pool.ts');
  if (!fmaAvailable()) setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** Runs a command: a UsageError becomes `error: …` and exit 2, a Reported failure exit 1. */
export async function reporting(run: () => Promise<number> | number): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Reported) return 1;
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
