// The scan section of `npm run bench` (issue 14): one training step (forward over
// T steps, BPTT, every parameter's gradient, loss Σₜ⟨h⁽ᵗ⁾, rₜ⟩) of minGRU and an
// RG-LRU at n = 256, batch 8 and 1, T = 256, 1024, 4096:
//   - celda's float32 SIMD module with the scan (compiler/lower/scan.ts) and with
//     `--no-scan` (the sequential lowering), on one thread and on two;
//   - gpu.js in Node (webasm) with and without the scan, and its kernel launches
//     per training step (deterministic: counted as the passes call kernels);
//   - PyTorch on one thread (bench/torch_scan.py, when /usr/bin/python3 has torch)
//     as a per-step loop and in the papers' parallel log-space cumsum form.
// Written to BENCHMARKS.md as its own section (replaced on each run), with the
// machine and the date.
//
//   npm run bench -- --section scan                 the full section (long: minutes to hours)
//   npm run bench -- --section scan --quick         tiny sizes, to check that it runs
//   npm run bench -- --section scan --launches-only the launch counts alone (n = 4: they do not depend on n)
//   … --browser                                      also gpu.js in headless Chromium (WebGL2, WebGPU on SwiftShader, software)
// Further filters: --scan-cells mingru,rglru --scan-batches 8,1 --scan-steps 256,1024 --scan-peers celda,gpujs,torch

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { measure, randomWorkload } from '../cli/bench.ts';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { gpujsSyncBackend, releaseDevices } from '../runtime/backends/gpujs.ts';
import { loadJsFactory } from '../runtime/backends/js.ts';
import { sharedPool } from '../runtime/wasm/pool.ts';

export const SCAN_CELLS: Record<string, string> = {
  mingru: `cell MinGRU {
  input x : n
  state h : n
  z = σ(W_z x^<t> + b_z)
  h̃ = W_h x^<t> + b_h
  h^<t> = (1 - z) * h^<t-1> + z * h̃
}
`,
  // Griffin's RG-LRU, a^{c r_t} written exp(c r ⊙ log σ(Λ)), c = 8
  rglru: `cell RGLRU {
  input x : n
  state h : n
  param Λ : n
  r = σ(W_a x^<t> + b_a)
  i = σ(W_x x^<t> + b_x)
  α = exp(8 * r * log(σ(Λ)))
  h^<t> = α * h^<t-1> + sqrt(1 - α * α) * (i * x^<t>)
}
`,
};

export interface ScanRow {
  readonly cell: string;
  readonly batch: number;
  readonly steps: number;
  readonly peer: string;
  readonly ms: number | null;
  /** gpu.js: kernel launches of one training step (forward + backward). */
  readonly launches?: number;
  readonly note?: string;
}

export interface ScanOptions {
  readonly n: number;
  readonly cells: readonly string[];
  readonly batches: readonly number[];
  readonly steps: readonly number[];
  readonly peers: readonly string[];
  readonly launchesOnly: boolean;
  readonly log: (line: string) => void;
  /** Rows of gpu.js in headless Chromium (WebGL2, WebGPU), when asked for (`--browser`). */
  readonly browser?: (cell: string, n: number, batch: number, steps: number) => Promise<ScanRow[]>;
}

/** gpu.js in headless Chromium (SwiftShader: a software GPU) through the test page (test/browser/page.ts), with and without scans. */
async function chromium(log: (l: string) => void): Promise<{ rows: NonNullable<ScanOptions['browser']>; close: () => Promise<void> }> {
  const { servePage } = await import('../test/browser/server.ts');
  const { openPage, browserMissing } = await import('../test/browser/browser.ts');
  const missing = browserMissing();
  if (missing) throw new Error(`--browser needs Chromium: ${missing}`);
  const server = await servePage();
  const { page, close } = await openPage(server.url);
  type TimeScan = (source: string, dims: Record<string, number>, batch: number, steps: number, mode: string, repeats: number, scan: boolean) => Promise<{ ms: number; launches: number; scanned: boolean }>;
  const rows = async (cell: string, n: number, batch: number, steps: number): Promise<ScanRow[]> => {
    const out: ScanRow[] = [];
    for (const mode of ['webgl2', 'webgpu']) {
      for (const scan of [true, false]) {
        const peer = `gpujs ${mode} (SwiftShader, software)${scan ? ', scan' : ', --no-scan'}`;
        try {
          const r = await page.evaluate(([src, d, b, t, m, rep, sc]) => (globalThis as unknown as { celda: { timeScan: TimeScan } }).celda.timeScan(src, d, b, t, m, rep, sc),
            [SCAN_CELLS[cell]!, { n }, batch, steps, mode, steps * batch * n > 2e5 ? 1 : 3, scan] as const);
          out.push({ cell, batch, steps, peer, ms: r.ms, launches: r.launches, ...(scan && !r.scanned ? { note: 'not a scan here' } : {}) });
        } catch (e) {
          log(`bench scan: ${peer} failed: ${(e as Error).message.split('\n')[0]}`);
          out.push({ cell, batch, steps, peer, ms: null, note: `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 120)}` });
        }
      }
    }
    return out;
  };
  return { rows, close: async () => { await close(); await server.close(); } };
}

const cellOf = (name: string): CompiledCell => {
  const src = SCAN_CELLS[name];
  if (!src) throw new Error(`unknown scan cell ${name} (${Object.keys(SCAN_CELLS).join(', ')})`);
  return compile(src).cells[0]!;
};

/** How long to time one configuration: large steps a few times. */
const budget = (work: number) => (work > 2e5 ? { warmup: 1, warmupMs: 0, minRuns: 3, minMs: 0 } : { warmup: 2, warmupMs: 500, minRuns: 5, minMs: 1500 });

function celdaStep(cell: CompiledCell, n: number, batch: number, steps: number, scan: boolean, threads: number) {
  const w = randomWorkload(cell, { n }, batch, steps, 1);
  const m = loadJsFactory(cell, 'f32', true, scan)({ n }, batch, { simd: true, fma: false, heap: threads > 1 ? sharedPool(threads, false).heap : undefined });
  const cot = { states: { h: w.cot.states.h! } };
  return () => {
    m.forward(w.params, w.inputs, {}, steps);
    m.backward(cot);
  };
}

async function gpujsRow(cell: CompiledCell, n: number, batch: number, steps: number, scan: boolean, time: boolean): Promise<{ ms: number | null; launches: number; note: string }> {
  const w = randomWorkload(cell, { n }, batch, steps, 1);
  // The synchronous backend, kernels called one by one, as training runs them (a recorded pipeline of
  // thousands of steps outgrows V8's WebAssembly code space).
  const g = gpujsSyncBackend(cell, { dims: { n }, batch, mode: 'webasm', scan });
  const cot = { states: { h: w.cot.states.h! } };
  // a training step: every parameter's gradient, not the inputs' (as the browser rows, test/browser/page.ts timeScan)
  const step = () => {
    g.forward(steps, w.params, w.inputs);
    g.backward(cot, { inputs: false });
  };
  step();
  const l = g.launches();
  const launches = (l.forward?.launches ?? 0) + (l.backward?.launches ?? 0);
  const note = `forward ${l.forward?.launches} + backward ${l.backward?.launches} launches${scan && !(l.forward?.scan && l.backward?.scan) ? ` (not a scan here: ${l.forward?.reason ?? l.backward?.reason ?? '?'})` : ''}`;
  if (!time) return { ms: null, launches, note };
  const reps = steps * batch * n > 2e5 ? 2 : 5;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  return { ms: (performance.now() - t0) / reps, launches, note };
}

function torchRows(cell: string, n: number, batch: number, steps: number, log: (l: string) => void): ScanRow[] {
  const py = process.env.CELDA_PYTHON ?? '/usr/bin/python3';
  if (!existsSync(py) && py === '/usr/bin/python3') return [];
  const b = budget(steps * batch * n);
  const r = spawnSync(py, [join(import.meta.dirname, 'torch_scan.py'), '--cell', cell, '--n', `${n}`, '--batch', `${batch}`, '--steps', `${steps}`,
    '--warmup', `${b.warmup}`, '--warmup-ms', `${b.warmupMs}`, '--min-runs', `${b.minRuns}`, '--min-ms', `${b.minMs}`], { encoding: 'utf8', timeout: 60 * 60_000 });
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; ms: Record<string, number>; agree: number };
    return [
      { cell, batch, steps, peer: 'PyTorch 1 thread, per-step loop', ms: j.ms.loop!, note: `torch ${j.torch}` },
      { cell, batch, steps, peer: 'PyTorch 1 thread, parallel log-space scan', ms: j.ms.parallel!, note: `agrees with the loop to ${j.agree.toExponential(1)}` },
    ];
  } catch {
    log(`bench scan: PyTorch run failed (${py} bench/torch_scan.py: ${r.error?.message ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`}); skipping`);
    return [];
  }
}

export async function benchScan(o: ScanOptions): Promise<ScanRow[]> {
  const rows: ScanRow[] = [];
  const add = (r: ScanRow) => {
    rows.push(r);
    o.log(`${r.cell.padEnd(6)} B=${String(r.batch).padEnd(2)} T=${String(r.steps).padEnd(5)} ${r.peer.padEnd(44)} ${r.ms === null ? '—'.padStart(10) : r.ms.toFixed(2).padStart(10)} ms/step${r.launches !== undefined ? ` ${r.launches} launches` : ''}`);
  };
  try {
    for (const name of o.cells) {
      const cell = cellOf(name);
      for (const batch of o.batches) {
        for (const steps of o.steps) {
          if (!o.launchesOnly && o.peers.includes('celda')) {
            for (const [peer, scan, threads] of [['celda-simd f32, scan', true, 1], ['celda-simd f32, --no-scan', false, 1], ['celda-simd f32, scan, 2 threads', true, 2], ['celda-simd f32, --no-scan, 2 threads', false, 2]] as const) {
              add({ cell: name, batch, steps, peer, ms: measure(celdaStep(cell, o.n, batch, steps, scan, threads), budget(steps * batch * o.n)).ms });
            }
          }
          if (o.peers.includes('gpujs') || o.launchesOnly) {
            for (const scan of [true, false]) {
              const r = await gpujsRow(cell, o.n, batch, steps, scan, !o.launchesOnly);
              add({ cell: name, batch, steps, peer: `gpujs webasm${scan ? ', scan' : ', --no-scan'}`, ms: r.ms, launches: r.launches, note: r.note });
            }
          }
          if (!o.launchesOnly && o.peers.includes('torch')) for (const r of torchRows(name, o.n, batch, steps, o.log)) add(r);
          if (!o.launchesOnly && o.browser) for (const r of await o.browser(name, o.n, batch, steps)) add(r);
        }
      }
    }
  } finally {
    await releaseDevices();
  }
  return rows;
}

const HEADING = '## Linear recurrences as scans (issue 14)';

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

/** The section: what was run, one table per cell, and the ratios the issue's targets are about. */
export function renderScan(rows: readonly ScanRow[], o: { n: number; started: Date; command: string; loadBefore: readonly number[]; loadAfter: readonly number[]; machine: string; launchesOnly?: boolean }): string {
  const L: string[] = [HEADING, ''];
  if (o.launchesOnly) L.push('Kernel launches only (`--launches-only`, at n = 4: a plan does not depend on n in Node\'s webasm mode, which sets no limit on arrays or extents); the timings come from a full run of `npm run bench -- --section scan`.', '');
  L.push(`Measured ${o.started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${o.command}\` (bench/scan.ts) on ${o.machine}; load average before ${o.loadBefore.map((x) => x.toFixed(2)).join(', ')}, after ${o.loadAfter.map((x) => x.toFixed(2)).join(', ')}.`, '');
  L.push(`One training step (forward over T steps, BPTT, every parameter's gradient; loss Σₜ⟨h⁽ᵗ⁾, rₜ⟩) of minGRU and an RG-LRU (bench/scan.ts), n = ${o.n}, float32. **scan**: the diagonal linear recurrence found by compiler/passes/linearity.ts and run as a scan (compiler/lower/scan.ts): its coefficients for all T·B rows before the time loop, then the recurrence alone as one call per pass (WebAssembly SIMD lanes; with two threads split over lanes, or over time in chunks when there are few lanes), backward the reverse scan and everything else after it; on gpu.js a chunked scan over time (chunks of ≈ (2T)^⅓ steps scanned locally, a scan over their ends, a fix-up: as many kernels at every T), in webasm mode over segments of at most 1024 T·B rows (the launches grow by a constant per segment). **--no-scan**: the sequential lowering. gpu.js: its WebAssembly mode in Node, kernels called one by one as training calls them (gpujsSyncBackend); launches: its kernel launches in one training step, forward + backward (deterministic). PyTorch: bench/torch_scan.py, one thread, a per-step loop and the papers' parallel log-space cumsum form.`, '');
  for (const cell of [...new Set(rows.map((r) => r.cell))]) {
    L.push(`### ${cell}`, '', '| B | T | peer | ms/step | launches/step | celda scan (1 thread) is | note |', '|---:|---:|---|---:|---:|---:|---|');
    for (const r of rows.filter((x) => x.cell === cell)) {
      const base = rows.find((x) => x.cell === cell && x.batch === r.batch && x.steps === r.steps && x.peer === 'celda-simd f32, scan');
      const ratio = base && r.ms !== null && base !== r ? (r.ms >= base.ms! ? `${fmt(r.ms / base.ms!)}× faster` : `${fmt(base.ms! / r.ms)}× slower`) : '';
      L.push(`| ${r.batch} | ${r.steps} | ${r.peer} | ${r.ms === null ? '—' : fmt(r.ms)} | ${r.launches ?? ''} | ${ratio} | ${r.note ?? ''} |`);
    }
    L.push('');
  }
  const ratio = (cell: string, batch: number, steps: number, a: string, b: string) => {
    const x = rows.find((r) => r.cell === cell && r.batch === batch && r.steps === steps && r.peer === a)?.ms;
    const y = rows.find((r) => r.cell === cell && r.batch === batch && r.steps === steps && r.peer === b)?.ms;
    return x != null && y != null ? y / x : null;
  };
  const targets: string[] = [];
  for (const cell of [...new Set(rows.map((r) => r.cell))]) {
    for (const batch of [...new Set(rows.map((r) => r.batch))]) {
      for (const steps of [...new Set(rows.map((r) => r.steps))]) {
        const t = ratio(cell, batch, steps, 'celda-simd f32, scan', 'PyTorch 1 thread, parallel log-space scan');
        const th = ratio(cell, batch, steps, 'celda-simd f32, scan, 2 threads', 'celda-simd f32, scan');
        // gpu.js in Node and each browser mode measured: '<mode>, scan' against '<mode>, --no-scan'
        const modes = [...new Set(rows.filter((r) => r.cell === cell && r.batch === batch && r.steps === steps && r.peer.startsWith('gpujs ') && r.peer.endsWith(', scan')).map((r) => r.peer.slice(0, -', scan'.length)))];
        const g = modes.map((m) => [m.slice('gpujs '.length), ratio(cell, batch, steps, `${m}, scan`, `${m}, --no-scan`)] as const).filter(([, x]) => x !== null);
        const parts = [
          g.length ? `gpu.js scan against --no-scan ${g.map(([m, x]) => `${fmt(x!)}× (${m})`).join(', ')} (target ≥ 3 at T = 1024)` : '',
          t !== null ? `celda scan, one thread, ${fmt(t)}× PyTorch's parallel form (target ≥ 2)` : '',
          th !== null ? `two threads ${fmt(th)}× one (target ≥ 1.4 at B = 1, T = 4096)` : '',
        ].filter(Boolean);
        if (parts.length) targets.push(`- ${cell}, B = ${batch}, T = ${steps}: ${parts.join('; ')}.`);
      }
    }
  }
  if (targets.length) L.push('Ratios in this run:', '', ...targets, '');
  return L.join('\n');
}

/** BENCHMARKS.md with the section replaced (or added at the end). */
export function mergeScan(section: string, previous: string | null): string {
  if (!previous) return section;
  const lines = previous.split('\n');
  const start = lines.indexOf(HEADING);
  if (start < 0) return `${previous.trimEnd()}\n\n${section}`;
  let end = start + 1;
  while (end < lines.length && !/^## /.test(lines[end]!)) end++;
  return [...lines.slice(0, start), ...section.trimEnd().split('\n'), '', ...lines.slice(end)].join('\n');
}

/** `npm run bench -- --section scan …`: options as bench/main.ts parsed them. */
export async function scanSection(v: { quick?: boolean; browser?: boolean; 'launches-only'?: boolean; 'scan-cells'?: string; 'scan-batches'?: string; 'scan-steps'?: string; 'scan-peers'?: string }, out: string, explicitOut: boolean, command: string): Promise<void> {
  const list = (s: string | undefined, d: string) => (s ?? d).split(',').filter(Boolean);
  const launchesOnly = v['launches-only'] === true;
  const n = v.quick ? 16 : launchesOnly ? 4 : 256;
  const o: ScanOptions = {
    n, launchesOnly,
    cells: list(v['scan-cells'], 'mingru,rglru'),
    batches: list(v['scan-batches'], v.quick ? '2' : '8,1').map(Number),
    steps: list(v['scan-steps'], v.quick ? '16,64' : '256,1024,4096').map(Number),
    peers: list(v['scan-peers'], 'celda,gpujs,torch'),
    log: (l) => process.stdout.write(l + '\n'),
  };
  const started = new Date(), loadBefore = loadavg();
  const browser = v.browser && !launchesOnly ? await chromium(o.log) : null;
  let rows: ScanRow[];
  try {
    rows = await benchScan(browser ? { ...o, browser: browser.rows } : o);
  } finally {
    await browser?.close();
  }
  const section = renderScan(rows, { n, started, command, loadBefore, loadAfter: loadavg(), launchesOnly, machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}` });
  // A quick or launch-count run is a check, not a measurement: printed, written only where --out says.
  if ((v.quick || launchesOnly) && !explicitOut) {
    process.stdout.write(`\n${section}\n(not written: --quick and --launches-only write only with --out)\n`);
    return;
  }
  writeFileSync(out, mergeScan(section, existsSync(out) ? readFileSync(out, 'utf8') : null));
  process.stdout.write(`\nwrote the scan section of ${out}\n`);
}
