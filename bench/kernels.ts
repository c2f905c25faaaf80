// `npm run bench:kernels [-- --shapes 4x2,2x4,3x3u2]` (rows × columns, `uN` the depth unrolled N times): the SIMD matrix-product kernel
// alone (compiler/emit/wasm/kernels-wat.ts) on the products of the L training step, for
// register-block shapes to choose from, against TF.js-wasm's matMul (XNNPACK, one
// thread) in the same run, taking turns. GFLOP/s from CPU time (process.cpuUsage), which a
// shared machine disturbs less than wall time. Not a test: it measures.

import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import wabtInit from 'wabt';
import { DEFAULT_GEMM, gemmWat } from '../compiler/emit/wasm/kernels-wat.ts';

/** The products of one L step (LSTM, n_x 256, n_a 512, batch 32, T 32) as C[M×N] += A[M×K]·B[N×K]ᵀ. */
const PRODUCTS: readonly (readonly [string, number, number, number])[] = [
  ['x projections (before the loop)', 1024, 2048, 256],
  ['gates, one step', 32, 2048, 512],
  ['∂a, one step back', 32, 512, 2048],
  ['∂x (after the loop)', 1024, 256, 2048],
  ['∂W of one gate', 512, 768, 1024],
];

type Gemm = (M: number, N: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, acc: number) => void;

/** CPU ms per call of each of `fs`, the best of five rounds; within a round they take turns, so a change of load hits all alike. */
function cpuMsEach(fs: readonly (() => void)[], flops: number): number[] {
  const reps = Math.max(1, Math.round(2e9 / flops));
  for (const f of fs) f();
  const best = fs.map(() => Infinity);
  for (let r = 0; r < 5; r++) {
    fs.forEach((f, i) => {
      const t0 = process.cpuUsage().user;
      for (let k = 0; k < reps; k++) f();
      best[i] = Math.min(best[i]!, (process.cpuUsage().user - t0) / 1000 / reps);
    });
  }
  return best;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { shapes: { type: 'string' } } });
  const shapes = (values.shapes ?? '4x2,2x4,3x2,3x3u2').split(',').map((s) => {
    const m = /^(\d+)x(\d+)(?:u(\d+))?$/.exec(s.trim());
    if (!m) throw new Error(`--shapes: expected shapes like 4x2 or 3x3u2, got ${JSON.stringify(s)}`);
    return [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)] as const;
  });
  const wabt = await wabtInit();
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 65536 });
  const F = new Float32Array(memory.buffer);
  const kernels: [string, Gemm][] = [];
  for (const [mr, nr, unroll] of shapes) {
    const m = wabt.parseWat('k.wat', gemmWat(false, { ...DEFAULT_GEMM, mr, nr, unroll }), { simd: true, threads: true });
    const bytes = Uint8Array.from(m.toBinary({}).buffer);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    const isDefault = mr === DEFAULT_GEMM.mr && nr === DEFAULT_GEMM.nr && unroll === DEFAULT_GEMM.unroll;
    kernels.push([`celda ${mr}×${nr}${unroll > 1 ? ` unrolled ×${unroll}` : ''}${isDefault ? ' (default)' : ''}`, inst.exports.gemm as Gemm]);
  }
  setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  process.stdout.write(`product (M × N × K) | ${[...kernels.map(([n]) => n), 'TF.js wasm matMul (XNNPACK)'].join(' | ')}   [GFLOP/s, CPU time]\n`);
  for (const [what, M, N, K] of PRODUCTS) {
    const flops = 2 * M * N * K;
    const a = 0, b = M * K, c = b + N * K;
    for (let i = 0; i < c; i++) F[i] = Math.sin(i * 0.37);
    // TF.js gets B as K × N (its untransposed layout: transposeB takes a slower path in tfjs-backend-wasm).
    const ta = tf.randomNormal([M, K]), tb = tf.randomNormal([K, N]);
    const calls = [
      ...kernels.map(([, g]) => () => g(M, N, K, 4 * a, K, 4 * b, K, 4 * c, N, 0)),
      () => {
        const t = tf.matMul(ta, tb);
        t.dataSync();
        t.dispose();
      },
    ];
    const row = cpuMsEach(calls, flops).map((ms) => (flops / ms / 1e6).toFixed(1));
    tf.dispose([ta, tb]);
    process.stdout.write(`${what} (${M} × ${N} × ${K}) | ${row.join(' | ')}\n`);
  }
}

await main();
