// Benchmark of the gpu.js backend: forward + backward (BPTT) of the example
// LSTM and GRU at three sizes, gpu.js's WebAssembly mode in Node against the
// JavaScript backend (or the float64 interpreter when this build has no JS
// backend), and — with --browser — WebGL2 and WebGPU in headless Chromium on
// SwiftShader, a software GPU: recorded for completeness, not for tuning.
//
//   npx tsx bench/gpujs.ts [--browser] [--repeats N] [--sizes S,M,L]
//
// `benchGpujs` is what the project's bench main calls.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import type { BackendFactory, CellBackend, Vec } from '../runtime/backend.ts';
import { interpBackend } from '../runtime/backends/interp.ts';
import { gpujsBackend } from '../runtime/backends/gpujs.ts';
import { Rng } from '../runtime/random.ts';

export interface BenchSize {
  readonly name: string;
  readonly nx: number;
  readonly na: number;
  readonly batch: number;
  readonly steps: number;
}

/** The S/M/L sizes (input width, state width, batch, steps). */
export const SIZES: readonly BenchSize[] = [
  { name: 'S', nx: 16, na: 32, batch: 16, steps: 20 },
  { name: 'M', nx: 64, na: 128, batch: 32, steps: 50 },
  { name: 'L', nx: 128, na: 256, batch: 64, steps: 100 },
];

export interface BenchRow {
  readonly cell: string;
  readonly size: string;
  readonly backend: string;
  /** Milliseconds per call, the mean of the timed repeats after one warm-up call. */
  readonly forward: number;
  readonly backward: number;
  readonly note?: string;
}

const CELLS = ['lstm', 'gru'];
const cellFile = (name: string) => fileURLToPath(new URL(`../examples/cells/${name}.celda`, import.meta.url));
const loadCell = (name: string): CompiledCell => compile(readFileSync(cellFile(name), 'utf8'), { defaultCellName: name }).cells[0]!;

interface Data {
  readonly dims: Record<string, number>;
  readonly params: Record<string, Float64Array>;
  readonly inputs: Record<string, Float64Array>;
  readonly cot: { states: Record<string, Float64Array> };
}

function data(cell: CompiledCell, size: BenchSize): Data {
  const rng = new Rng(42);
  const dims = { n_x: size.nx, n_a: size.na };
  const n = (d: { terms: readonly (readonly [string, number])[]; k: number }) => d.terms.reduce((s, [v, c]) => s + c * dims[v as keyof typeof dims], d.k);
  const fill = (len: number, s: number) => Float64Array.from({ length: len }, () => rng.uniform(-s, s));
  return {
    dims,
    params: Object.fromEntries(cell.typed.params.map((p) => [p.name, fill(p.shape.reduce((a, d) => a * n(d), 1), 1 / Math.sqrt(size.na + size.nx))])),
    inputs: Object.fromEntries(cell.typed.inputs.map((x) => [x.name, fill(size.steps * size.batch * n(x.dim), 1)])),
    cot: { states: Object.fromEntries(cell.typed.states.map((s) => [s.name, fill(size.steps * size.batch * n(s.dim), 1)])) },
  };
}

interface Timed {
  forward(steps: number, p: Record<string, Vec>, x: Record<string, Vec>): unknown;
  backward(cot: { states: Record<string, Vec> }): unknown;
}

async function time(b: Timed, size: BenchSize, d: Data, repeats: number): Promise<{ forward: number; backward: number }> {
  await b.forward(size.steps, d.params, d.inputs);
  await b.backward(d.cot);
  let forward = 0, backward = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await b.forward(size.steps, d.params, d.inputs);
    const t1 = performance.now();
    await b.backward(d.cot);
    forward += t1 - t0;
    backward += performance.now() - t1;
  }
  return { forward: forward / repeats, backward: backward / repeats };
}

/** The JavaScript backend when this build has it (issue 4), else null. */
async function jsFactory(): Promise<BackendFactory | null> {
  const path = '../runtime/backends/js.ts';
  try {
    return ((await import(path)) as { jsBackend?: BackendFactory }).jsBackend ?? null;
  } catch {
    return null;
  }
}

export async function benchGpujs(opts: { sizes?: readonly BenchSize[]; repeats?: number; cells?: readonly string[]; log?: (line: string) => void } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const log = opts.log ?? (() => {});
  const js = await jsFactory();
  for (const name of opts.cells ?? CELLS) {
    const cell = loadCell(name);
    for (const size of opts.sizes ?? SIZES) {
      const d = data(cell, size);
      const repeats = opts.repeats ?? (size.name === 'L' ? 1 : 5);
      // without the JS backend the baseline is the float64 interpreter, which takes minutes a call at L
      if (js || size.name !== 'L') {
        const base: CellBackend = js ? js(cell, { dims: d.dims, batch: size.batch }) : interpBackend(cell, { dims: d.dims, batch: size.batch });
        const baseName = js ? 'js' : 'interp (no js backend in this build)';
        const b = await time(base, size, d, js ? repeats : 1);
        rows.push({ cell: name, size: size.name, backend: baseName, ...b });
        log(`${name} ${size.name} ${baseName}: ${b.forward.toFixed(1)} + ${b.backward.toFixed(1)} ms`);
      }
      for (const threads of [true, false]) {
        const g = await gpujsBackend(cell, { dims: d.dims, batch: size.batch, mode: 'webasm', webasmThreads: threads });
        const r = await time({ forward: (s, p, x) => g.forward(s, p, x), backward: (c) => g.backward(c, { inputs: false }) }, size, d, repeats);
        const run = g.lastRun();
        const label = `gpujs webasm${threads ? '' : ', one thread'}`;
        rows.push({ cell: name, size: size.name, backend: label, ...r, note: `${run?.executor}; ${g.plans.forward.kernels.length}+${g.plans.backward.kernels.length} kernels` });
        log(`${name} ${size.name} ${label}: ${r.forward.toFixed(1)} + ${r.backward.toFixed(1)} ms (${run?.executor})`);
      }
    }
  }
  return rows;
}

/** WebGL2 and WebGPU timings in headless Chromium (SwiftShader: a software GPU). */
export async function benchBrowser(opts: { sizes?: readonly BenchSize[]; repeats?: number; cells?: readonly string[]; log?: (line: string) => void } = {}): Promise<BenchRow[]> {
  const { servePage } = await import('../test/browser/server.ts');
  const { openPage, browserMissing } = await import('../test/browser/browser.ts');
  const missing = browserMissing();
  if (missing) throw new Error(`browser timings need Chromium: ${missing}`);
  const server = await servePage();
  const { page, close } = await openPage(server.url);
  const rows: BenchRow[] = [];
  try {
    for (const name of opts.cells ?? CELLS) {
      const cell = loadCell(name);
      const source = readFileSync(cellFile(name), 'utf8');
      for (const size of opts.sizes ?? SIZES) {
        const d = data(cell, size);
        const c = {
          name, source, dims: d.dims, batch: size.batch, steps: size.steps,
          params: Object.fromEntries(Object.entries(d.params).map(([k, v]) => [k, Array.from(v)])),
          inputs: Object.fromEntries(Object.entries(d.inputs).map(([k, v]) => [k, Array.from(v)])),
          init: {}, cot: { states: Object.fromEntries(Object.entries(d.cot.states).map(([k, v]) => [k, Array.from(v)])), outputs: {} },
        };
        for (const mode of ['webgl2', 'webgpu']) {
          const r = await page.evaluate(([data, m, n]) => (globalThis as unknown as { celda: { time(c: unknown, m: string, n: number): Promise<{ forward: number; backward: number }> } }).celda.time(data, m, n), [c, mode, opts.repeats ?? 2] as const);
          rows.push({ cell: name, size: size.name, backend: `gpujs ${mode} (SwiftShader, software)`, ...r });
          opts.log?.(`${name} ${size.name} ${mode}: ${r.forward.toFixed(1)} + ${r.backward.toFixed(1)} ms`);
        }
      }
    }
  } finally {
    await close();
    await server.close();
  }
  return rows;
}

export function table(rows: readonly BenchRow[]): string {
  const lines = ['| cell | size | backend | forward ms | backward ms | total ms | note |', '| --- | --- | --- | ---: | ---: | ---: | --- |'];
  for (const r of rows) lines.push(`| ${r.cell} | ${r.size} | ${r.backend} | ${r.forward.toFixed(1)} | ${r.backward.toFixed(1)} | ${(r.forward + r.backward).toFixed(1)} | ${r.note ?? ''} |`);
  return lines.join('\n');
}

async function main(argv: readonly string[]) {
  const flag = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const names = flag('--sizes')?.split(',');
  const sizes = names ? SIZES.filter((s) => names.includes(s.name)) : SIZES;
  const repeats = flag('--repeats') ? Number(flag('--repeats')) : undefined;
  const cells = flag('--cells')?.split(',');
  const log = (l: string) => process.stderr.write(l + '\n');
  const rows = await benchGpujs({ sizes, repeats, cells, log });
  if (argv.includes('--browser')) rows.push(...(await benchBrowser({ sizes, repeats, cells, log })));
  process.stdout.write(table(rows) + '\n');
  process.exit(0); // gpu.js keeps worker threads alive
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
