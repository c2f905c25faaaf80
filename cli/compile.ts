// `celda compile CELL -o out.js [--precision f32|f64] [--no-simd] [--cell NAME]`: the cell as
// one standalone JavaScript module (no imports), plus its TypeScript declarations
// (out.d.ts). Without -o the module goes to stdout. Float32 with its products and
// fused loops in WebAssembly SIMD by default; `--precision f64` the plain-JavaScript
// float64 module.

import { writeFileSync } from 'node:fs';
import { emitJs } from '../compiler/emit/js/emit.ts';
import { cellFromFile, parseCommand, precisionOption, reporting, UsageError } from './common.ts';

/** out.js → out.d.ts, out.mjs → out.d.mts, anything else → anything.d.ts */
export const declarationPath = (out: string) => (/\.mjs$/.test(out) ? out.replace(/\.mjs$/, '.d.mts') : /\.js$/.test(out) ? out.replace(/\.js$/, '.d.ts') : `${out}.d.ts`);

export async function compileCommand(argv: string[]): Promise<number> {
  return reporting(async () => {
    const { values, positionals } = parseCommand(argv, { out: { type: 'string', short: 'o' }, precision: { type: 'string' }, cell: { type: 'string' }, 'no-simd': { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError(`celda compile needs one cell file, got ${positionals.length}\nusage: celda compile CELL -o out.js [--precision f32|f64] [--no-simd] [--cell NAME]`);
    const precision = precisionOption(values.precision);
    const cell = cellFromFile(positionals[0]!, values.cell);
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
      throw new UsageError(`cannot write ${values.out}: ${(e as Error).message}`);
    }
    process.stderr.write(`wrote ${values.out} and ${dts} (${js.factory}, ${precision === 'f32' ? 'float32' : 'float64'}${js.simd ? `, products${js.wasmLoopsWat ? ' and fused loops' : ''} in WebAssembly SIMD` : ''}; dims: ${js.dims.join(', ') || 'none'})\n`);
    return 0;
  });
}
