import wabtInit from 'wabt';
import { DEFAULT_GEMM, gemmWat } from '/work/main/compiler/wasm/gemm-wat.ts';
const PRODUCTS = [[1024, 2048, 256], [32, 2048, 512], [32, 512, 2048], [1024, 256, 2048], [512, 768, 1024], [32, 512, 128], [32, 128, 512]];
const wabt = await wabtInit();
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536 });
const F = new Float32Array(memory.buffer);
for (let i = 0; i < F.length; i++) F[i] = Math.sin(i * 0.37);
function cpuMs(f: () => void, flops: number): number {
  const reps = Math.max(1, Math.round(1e9 / flops));
  f(); let best = Infinity;
  for (let r = 0; r < 5; r++) { const t0 = process.cpuUsage().user; for (let k = 0; k < reps; k++) f(); best = Math.min(best, (process.cpuUsage().user - t0) / 1000 / reps); }
  return best;
}
const configs = process.argv.slice(2).map((s) => { const [mr, nr, u, l2] = s.split(',').map(Number); return { ...DEFAULT_GEMM, mr, nr, unroll: u, ...(l2 ? { l2Floats: l2 * 1024 } : {}) }; });
for (const cfg of configs) {
  const m = wabt.parseWat('k.wat', gemmWat(false, cfg), { simd: true, threads: true });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.from(m.toBinary({}).buffer)), { env: { memory } });
  const g = inst.exports.gemm as any;
  const row: string[] = [];
  for (const [M, N, K] of PRODUCTS) {
    const flops = 2 * M * N * K; const b = M * K, c = b + N * K;
    row.push((flops / cpuMs(() => g(M, N, K, 0, K, 4 * b, K, 4 * c, N, 0), flops) / 1e6).toFixed(1));
  }
  console.log(`${cfg.mr}x${cfg.nr} u${cfg.unroll} l2=${cfg.l2Floats / 1024}K`, row.join(' '));
}
