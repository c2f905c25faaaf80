// `celda compile CELL -o out.js [--precision f32|f64] [--no-simd] [--cell NAME]`: the cell as
// one standalone JavaScript module (no imports), plus its TypeScript declarations
// (out.d.ts). Without -o the module goes to stdout. Float32 with its products and
// fused loops in WebAssembly SIMD by default; `--precision f64` the plain-JavaScript
// float64 module.

import { realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { printable } from '../runtime/limits.ts';
import { emitJs } from '../compiler/emit/js/emit.ts';
import { cellFromFile, precisionOption, reporting, UsageError } from './common.ts';
import { COMPILE } from './commands.ts';
import { parseOptions } from './options.ts';

/** out.js → out.d.ts, out.mjs → out.d.mts, anything else → anything.d.ts */
export const declarationPath = (out: string) => (/\.mjs$/.test(out) ? out.replace(/\.mjs$/, '.d.mts') : /\.js$/.test(out) ? out.replace(/\.js$/, '.d.ts') : `${out}.d.ts`);

export async function compileCommand(argv: string[]): Promise<number> {
  return reporting(async () => {
    const { values, positionals } = parseOptions(argv, COMPILE);
    if (positionals.length !== 1) throw new UsageError(`celda compile needs one cell file, got ${positionals.length} (usage: celda compile CELL -o OUT.js [options]; celda compile --help lists them)`);
    const precision = precisionOption(values.precision);
    const cell = cellFromFile(positionals[0]!, values.cell);
    const js = emitJs(cell, { precision, simd: values['no-simd'] !== true, ...(values['no-scan'] ? { scan: false } : {}) });
    if (values.out === undefined) {
      process.stdout.write(js.module);
      return 0;
    }
    const dts = declarationPath(values.out);
    refuseOverwrite([values.out, dts], [positionals[0]!]);
    writeTogether([[values.out, js.module], [dts, js.dts]]);
    process.stderr.write(`wrote ${values.out} and ${dts} (${js.factory}, ${precision === 'f32' ? 'float32' : 'float64'}${js.simd ? `, products${js.wasmLoopsWat ? ' and fused loops' : ''} in WebAssembly SIMD` : ''}; dims: ${js.dims.join(', ') || 'none'})\n`);
    return 0;
  });
}

/** A path as the file system resolves it (symbolic links followed), for a file that may not exist yet. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** Refuse to write over a file the command reads (`celda compile self.celda -o self.celda`), compared by real path. */
export function refuseOverwrite(outputs: readonly string[], inputs: readonly string[]): void {
  const read = new Map(inputs.filter((i) => i !== '-').map((i) => [realPath(i), i]));
  for (const o of outputs) {
    const input = read.get(realPath(o));
    if (input !== undefined) throw new UsageError(`${printable(o)} is ${o === input ? 'the input file' : `the input file ${printable(input)}`}: celda compile does not write over its input; choose another output with -o`);
  }
}

/**
 * Write files together or not at all: each to a temporary beside it, then every
 * temporary renamed over its file. Every write comes before the first rename, so a
 * full disk or a bad path removes the temporaries and leaves the files as they were.
 */
export function writeTogether(files: readonly (readonly [path: string, text: string])[]): void {
  const tmps = files.map(([p]) => `${p}.tmp-${process.pid}`);
  let at = 0;
  try {
    for (; at < files.length; at++) {
      // a rename over a directory would fail after the renames before it: refused first
      if (statSync(files[at]![0], { throwIfNoEntry: false })?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      writeFileSync(tmps[at]!, files[at]![1]);
    }
    for (let i = 0; i < files.length; i++) renameSync(tmps[i]!, files[i]![0]);
  } catch (e) {
    for (const t of tmps) rmSync(t, { force: true });
    const failed = files[Math.min(at, files.length - 1)]![0];
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' ? 'read-only file system' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new UsageError(`cannot write ${printable(failed)}: ${printable(why)}${files.length > 1 ? ` (nothing written: ${files.map(([p]) => printable(p)).join(' and ')} are as they were)` : ''}`);
  }
}
