// mLSTM's training step (forward over T steps, BPTT, every gradient; loss on the
// output h) in celda's float32 SIMD module, one thread: staged scans (m's loop,
// then C and n as scans, compiler/lower/scan.ts) against `--no-scan`. Time (median
// of a few runs) and the bytes of the instance's buffers at T. Not part of
// `npm run bench`: a measurement for issue 14 (staged scans).
//
//   npx tsx bench/mlstm-staged.ts [d] [n_x] [batch] [T …]

import { readFileSync } from 'node:fs';
import { measure, randomWorkload } from '../cli/bench.ts';
import { compile } from '../compiler/compile.ts';
import { evalDim } from '../compiler/ir/dims.ts';
import { lowerCell } from '../compiler/lower/lower.ts';
import { loadJsFactory } from '../runtime/backends/js.ts';

const [d = 64, nx = 64, batch = 8, ...steps] = process.argv.slice(2).map(Number);
const cell = compile(readFileSync(new URL('../examples/zoo/mlstm.celda', import.meta.url), 'utf8')).cells[0]!;
const dims = { d: d!, n_x: nx! };

/** Bytes of the plan's buffers at T steps (float32). */
function bytes(scan: boolean, T: number): number {
  const p = lowerCell(cell, 'f32', { scan });
  const rows = { one: 1, step: batch!, seq: T * batch!, states: (T + 1) * batch! };
  return 4 * p.buffers.reduce((s, b) => s + rows[b.extent] * b.size.reduce((n, x) => n * evalDim(x, dims)!, 1), 0);
}

for (const T of steps.length ? steps : [64, 256]) {
  const w = randomWorkload(cell, dims, batch!, T, 1);
  const cot = { outputs: { h: w.cot.outputs.h! } };
  const row = (scan: boolean) => {
    const m = loadJsFactory(cell, 'f32', true, scan)(dims, batch!, { simd: true, fma: false });
    const t = measure(() => { m.forward(w.params, w.inputs, {}, T); m.backward(cot); }, { warmup: 2, warmupMs: 0, minRuns: 5, minMs: 1000 });
    return `${t.ms.toFixed(1)} ms (${t.runs} runs), ${(bytes(scan, T) / 2 ** 20).toFixed(1)} MiB`;
  };
  console.log(`mLSTM d=${d} n_x=${nx} B=${batch} T=${T}: staged ${row(true)}; --no-scan ${row(false)}`);
}
