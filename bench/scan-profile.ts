// Where one gpu.js training step goes in headless Chromium (SwiftShader): the
// time of every kernel launch of the forward and backward pipelines, each run
// alone and waited for (test/browser/profile.ts), grouped by kernel, with the
// uploads and readbacks, next to the step's time as it normally runs.
//
//   npx tsx bench/scan-profile.ts [--cell mingru] [--n 256] [--batch 8] [--steps 1024] [--modes webgl2,webgpu] [--no-scan] [--top 12]

import { parseArgs } from 'node:util';
import { SCAN_CELLS } from './scan.ts';
import type { Profile } from '../test/browser/profile.ts';

const { values: v } = parseArgs({ options: {
  cell: { type: 'string', default: 'mingru' }, n: { type: 'string', default: '256' }, batch: { type: 'string', default: '8' }, steps: { type: 'string', default: '1024' },
  modes: { type: 'string', default: 'webgl2,webgpu' }, 'no-scan': { type: 'boolean', default: false }, top: { type: 'string', default: '12' }, sources: { type: 'boolean', default: false },
} });
const source = SCAN_CELLS[v.cell!];
if (!source) { console.error(`scan-profile: unknown cell ${v.cell} (${Object.keys(SCAN_CELLS).join(', ')})`); process.exit(1); }

const { servePage } = await import('../test/browser/server.ts');
const { openServedPage, browserMissing } = await import('../test/browser/browser.ts');
const missing = browserMissing();
if (missing) { console.error(`scan-profile: needs Chromium: ${missing}`); process.exit(1); }
const { page, close } = await openServedPage(await servePage());
const f = (x: number) => x.toFixed(1).padStart(8);
try {
  for (const mode of v.modes!.split(',')) {
    const p = await page.evaluate(([s, n, b, t, m, sc]) => (globalThis as unknown as { celda: { profileScan(...a: unknown[]): Promise<Profile> } }).celda.profileScan(s, { n }, b, t, m, sc),
      [source, Number(v.n), Number(v.batch), Number(v.steps), mode, !v['no-scan']] as const);
    const sum = (pass: string) => p.kernels.filter((k) => k.pass === pass).reduce((a, k) => a + k.ms, 0);
    console.log(`\n${v.cell} n=${v.n} B=${v.batch} T=${v.steps} ${mode}${v['no-scan'] ? ' --no-scan' : ' scan'}: normal step forward ${f(p.normal.forward)} + backward ${f(p.normal.backward)} ms; profiled ${f(p.profiled.forward)} + ${f(p.profiled.backward)}`);
    for (const pass of ['forward', 'backward']) {
      const io = p.io.find((x) => x.pass === pass);
      console.log(`  ${pass}: ${p.kernels.filter((k) => k.pass === pass).length} launches, kernels ${f(sum(pass))} ms, uploads ${f(io?.upload ?? NaN)}, readback ${f(io?.readback ?? NaN)}`);
    }
    // by kernel source
    const by = new Map<string, { ms: number; count: number; output: string; pass: string; first: number }>();
    for (const k of p.kernels) {
      const key = `${k.pass}|${k.output.join('x')}|${k.source}`;
      const e = by.get(key) ?? { ms: 0, count: 0, output: k.output.join('×'), pass: k.pass, first: k.step };
      e.ms += k.ms; e.count++;
      by.set(key, e);
    }
    const top = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(v.top));
    for (const [key, e] of top) {
      const src = key.split('|').slice(2).join('|');
      const ret = src.split('\n').filter((l) => /for \(|return/.test(l)).map((l) => l.trim()).join(' ').slice(0, 110);
      console.log(`  ${f(e.ms)} ms ${String(e.count).padStart(5)}× ${e.pass.padEnd(8)} step ${String(e.first).padStart(3)} [${e.output}] ${ret}`);
      if (v.sources) console.log(src.split('\n').map((l) => `        ${l}`).join('\n'));
    }
  }
} finally {
  await close();
}
