// What every `celda` command shares: the two ways a command fails without a
// stack trace, strict option parsing, reading a file with a plain message, and
// compiling a cell file down to the one cell asked for. Light on purpose (no
// emitter, no runtime), so that `celda check` starts fast.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { hasErrors, render } from '../compiler/diagnostics.ts';
import { formatBytes, LimitError, parseBytes, printable, suggestion } from '../runtime/limits.ts';
import { UsageError } from '../runtime/usage.ts';

/** A user mistake on the command line (runtime/usage.ts): printed as `error: …`, exit 2. */
export { UsageError };

/** A failure already reported on stderr (diagnostics): exit 1. */
export class Reported extends Error {}

/** What the command line names is wrong (a JSON file that does not parse, a checkpoint): `error: …`, exit 1. */
export class BadInput extends Error {}

/** The largest file a command reads unless told otherwise: cells and JSON are far smaller. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 ** 2;

let maxFileBytes: number | undefined;

/** `--max-file-size SIZE` (any command; main.ts takes it off the command line before the command parses its own). */
export function setMaxFileSize(text: string): void {
  const v = parseBytes(text);
  if (v === null) throw new UsageError(`--max-file-size must be a size such as 50M or 1G, not \`${printable(text)}\``);
  maxFileBytes = v;
}

/** The file size limit in force: --max-file-size, else CELDA_MAX_FILE_SIZE, else 10 MiB. */
export function fileLimit(): number {
  if (maxFileBytes !== undefined) return maxFileBytes;
  const env = process.env.CELDA_MAX_FILE_SIZE;
  if (env === undefined) return DEFAULT_MAX_FILE_BYTES;
  const v = parseBytes(env);
  if (v === null) throw new UsageError(`CELDA_MAX_FILE_SIZE=${JSON.stringify(env)} is not a size (write e.g. 50M)`);
  return v;
}

/** A file's bytes, read in chunks and never more than `limit` + 1 of them: a device (`/dev/zero`) or a huge file ends promptly. */
function readBounded(fd: number, limit: number): Buffer | null {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      // standard input in non-blocking mode: wait for more
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; }
      throw e;
    }
    if (n === 0) return Buffer.concat(chunks, total);
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > limit) return null;
  }
}

/** A file's text (`-`: standard input), at most the file size limit, or a UsageError that says why not. */
export function readTextFile(path: string, what: string): string {
  const limit = fileLimit();
  const tooBig = () => new LimitError(`${what} ${printable(path)} is larger than ${formatBytes(limit)}, the limit for a file; raise it with --max-file-size SIZE (or CELDA_MAX_FILE_SIZE), e.g. --max-file-size 100M`);
  let fd: number | undefined;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (st.isFile() && st.size > limit) throw tooBig();
    const bytes = readBounded(fd, limit);
    if (bytes === null) throw tooBig();
    return bytes.toString('utf8');
  } catch (e) {
    if (e instanceof UsageError || e instanceof LimitError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${printable(path)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
}

/** `--seed N`: a whole number 0 … 2³² − 1 (the generator's state is 32 bits; a larger seed would wrap to another). */
export function parseSeed(text: string | undefined, flag = '--seed'): number {
  if (text === undefined) return 0;
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(n) && n < 2 ** 32)) throw new UsageError(`${flag} must be a whole number from 0 to ${2 ** 32 - 1}, not \`${printable(text)}\``);
  return n;
}

export { suggestion };

/** `--max-memory SIZE`: bytes, or undefined for the default (CELDA_MAX_MEMORY, else 4 GiB: runtime/limits.ts). */
export function maxMemoryOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = parseBytes(text);
  if (v === null) throw new UsageError(`--max-memory must be a size such as 8G or 512M, not \`${printable(text)}\``);
  return v;
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
  if (r.cells.length === 0) throw new BadInput(`${printable(file)}: no cell`);
  if (name === undefined) {
    if (r.cells.length > 1) throw new UsageError(`${file} holds ${r.cells.length} cells (${r.cells.map((c) => c.name).join(', ')}); choose one with ${flag} NAME`);
    return r.cells[0]!;
  }
  const c = r.cells.find((x) => x.name === name);
  if (!c) throw new UsageError(`${file}: no cell named \`${printable(name)}\` (cells: ${r.cells.map((x) => x.name).join(', ')})${suggestion(name, r.cells.map((x) => x.name))}`);
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

/** Runs a command: a BadInput becomes `error: …` and exit 1, a Reported failure exit 1; a UsageError goes on to cli/main.ts (exit 2). */
export async function reporting(run: () => Promise<number> | number): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Reported) return 1;
    if (e instanceof BadInput) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * What a command does when its standard output goes away: a reader that closed the
 * pipe (`celda eval … | head -c 10`, EPIPE) ends the command quietly with the
 * status it has; a full disk (`> /dev/full`, ENOSPC) or another write error is one
 * line `error: …` and exit 1. Installed once, before any command writes.
 */
export function guardOutput(): void {
  let done = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (done) return;
    done = true;
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    const why = e.code === 'ENOSPC' ? 'no space left on the device' : e.code === 'EDQUOT' ? 'disk quota exceeded' : e.code === 'EIO' ? 'input/output error' : printable(e.message);
    try {
      process.stderr.write(`error: cannot write the output: ${why}\n`);
    } finally {
      process.exit(1);
    }
  });
  // Standard error gone too: nothing left to tell; keep the status.
  process.stderr.on('error', () => process.exit(typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : 1));
}
