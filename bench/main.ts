// `npm run bench [-- --sizes S,M,L] [--cells lstm,gru] [--no-tfjs] [--no-torch] [--out BENCHMARKS.md] [--section all|main|scan]`
// (`--section scan`: only the scan section of bench/scan.ts, with its own options there.)
//
// One training step (forward over T steps, BPTT, parameter gradients) of an LSTM
// and a GRU at three sizes, for celda's generated JavaScript and, in the same run,
// its peers: a hand-fused plain-JS LSTM, and TF.js 4.22 on its cpu and wasm
// backends, as a custom cell under tf.variableGrads and as tf.layers.lstm/gru, and
// PyTorch (bench/torch.ts) when installed. celda runs as plain JavaScript (float64,
// float32) and with its WebAssembly SIMD products on one thread and on two — with
// the plain kernels (what Node 20 runs by default) and with relaxed SIMD's fused
// multiply-add (Chrome ≥ 114 and Node ≥ 21 by default; enabled here with V8's
// --experimental-wasm-relaxed-simd so that both are measured in the same run).
// Medians of repeated runs after warm-up, celda's modules and TF.js's wasm backend
// taking turns; ms/step, tokens/s (T·B per second),
// GFLOP/s (the products of the step, the same count for every peer); ratios to
// each peer; everything written to BENCHMARKS.md with the machine and the date.
// Not a test: nothing here asserts, it measures.

import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { measure, randomWorkload } from '../cli/bench.ts';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { trainingStepFlops } from '../compiler/lower/cost.ts';
import { jsBackend, loadJsFactory } from '../runtime/backends/js.ts';
import { fmaAvailable, sharedPool } from '../runtime/wasm/pool.ts';
import { handLstm } from './hand-lstm.ts';
import type { CellKind, Size, TfPeer } from './tfjs.ts';
import { tfPeer, useBackend } from './tfjs.ts';
import { torchMachine, torchRows } from './torch.ts';
import { mergeReport, readReport, renderReport, type Row } from './report.ts';
import { NOTES } from './notes.ts';
import { scanSection } from './scan.ts';

const SIZES: Record<string, Size> = {
  S: { nx: 16, na: 32, batch: 1, steps: 32 },
  M: { nx: 64, na: 128, batch: 32, steps: 32 },
  L: { nx: 256, na: 512, batch: 32, steps: 32 },
};

/** How long to measure: small steps many times, large ones a few. */
const BUDGET: Record<string, Parameters<typeof measure>[1]> = {
  S: { warmup: 20, warmupMs: 3000, minRuns: 31, minMs: 4000 },
  M: { warmup: 3, warmupMs: 3000, minRuns: 9, minMs: 5000 },
  L: { warmup: 1, warmupMs: 0, minRuns: 3, minMs: 0 },
};

const ROOT = join(import.meta.dirname, '..');
const CELL_FILES: Record<CellKind, string> = { lstm: 'lstm.celda', gru: 'gru.celda' };

function loadCell(kind: CellKind): CompiledCell {
  const r = compile(readFileSync(join(ROOT, 'examples', 'cells', CELL_FILES[kind]), 'utf8'));
  return r.cells[0]!;
}

const stateOf: Record<CellKind, string> = { lstm: 'a', gru: 'c' };

/**
 * celda's step: the generated module (what `celda compile` writes, loaded in-process), cotangent on
 * the hidden state at every step (as the peers' loss). With `backend`, through the runtime's
 * CellBackend instead, which copies every result so that it outlives the next call.
 */
function celdaStep(cell: CompiledCell, kind: CellKind, z: Size, precision: 'f64' | 'f32', backend = false, simd = false, threads = 1, fma = false, wasmLoops = true) {
  const dims = { n_x: z.nx, n_a: z.na };
  const w = randomWorkload(cell, dims, z.batch, z.steps, 1);
  const cot = { states: { [stateOf[kind]]: w.cot.states[stateOf[kind]]! } };
  if (backend) {
    const b = jsBackend(cell, { dims, batch: z.batch, precision, simd, threads });
    return () => {
      b.forward(z.steps, w.params, w.inputs);
      b.backward(cot);
    };
  }
  const m = loadJsFactory(cell, precision, simd)(dims, z.batch, precision === 'f32' ? { simd, fma, wasmLoops, heap: threads > 1 ? sharedPool(threads, fma).heap : undefined } : undefined);
  if (simd && m.simd !== true) throw new Error('WebAssembly SIMD is not available in this Node');
  if (simd && m.fma !== fma) throw new Error(`asked for the ${fma ? 'relaxed-SIMD multiply-add' : 'plain'} kernels, got the other`);
  if (simd && m.wasmLoops !== wasmLoops) throw new Error(`asked for the fused loops in ${wasmLoops ? 'WebAssembly' : 'JavaScript'}, got the other`);
  return () => {
    m.forward(w.params, w.inputs, {}, z.steps);
    m.backward(cot);
  };
}

/** The hand-fused LSTM on the same parameters, inputs and cotangents as celda's LSTM step. */
function handStep(cell: CompiledCell, z: Size) {
  const h = handLstm(z.nx, z.na, z.batch, z.steps);
  const w = randomWorkload(cell, { n_x: z.nx, n_a: z.na }, z.batch, z.steps, 1);
  const { nx, na } = z;
  ['c', 'u', 'f', 'o'].forEach((g, k) => {
    const W = w.params[`W_${g}`]!, b = w.params[`b_${g}`]!;
    for (let i = 0; i < na; i++) {
      for (let j = 0; j < na; j++) h.Wh[(k * na + i) * na + j] = W[i * (na + nx) + j]!;
      for (let j = 0; j < nx; j++) h.Wx[(k * na + i) * nx + j] = W[i * (na + nx) + na + j]!;
      h.b[k * na + i] = b[i]!;
    }
  });
  const x = Float64Array.from(w.inputs.x!), da = Float64Array.from(w.cot.states.a!);
  return () => {
    h.forward(x);
    h.backward(da);
  };
}

/**
 * Time fast peers in alternation (round after round, each run several times) so
 * that a change of load on a shared machine hits all of them alike.
 */
function interleaved(peers: Record<string, () => void>, budget: Parameters<typeof measure>[1]): Record<string, number> {
  const names = Object.keys(peers);
  const per: Record<string, number> = {};
  for (const n of names) per[n] = measure(peers[n]!, { ...budget, minRuns: 3, minMs: 0 }).ms; // warm-up and a first estimate
  const reps = Object.fromEntries(names.map((n) => [n, Math.max(1, Math.round(150 / Math.max(per[n]!, 0.01)))]));
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const rounds = Math.max(7, Math.min(31, Math.round((budget?.minMs ?? 3000) / 300)));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const t0 = performance.now();
      for (let i = 0; i < reps[n]!; i++) peers[n]!();
      samples[n]!.push((performance.now() - t0) / reps[n]!);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n]!)]));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function machine(): string[] {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /Model name:\s*(.+)/.exec(execSync('lscpu', { encoding: 'utf8' }));
    if (m) model = m[1]!.trim();
  } catch { /* lscpu missing: keep os.cpus() */ }
  // The wasm backend's flags can be read only once it has started (not with --no-tfjs).
  const flag = (f: string) => {
    try {
      return tf.env().getBool(f) ? 'on' : 'off';
    } catch {
      return 'not measured';
    }
  };
  return [`${model}, ${cpus().length} cores`, `Node ${process.version}, TF.js ${tf.version.tfjs} (tfjs-backend-cpu, tfjs-backend-wasm ${tf.version.tfjs}: SIMD ${flag('WASM_HAS_SIMD_SUPPORT')}, threads ${flag('WASM_HAS_MULTITHREAD_SUPPORT')})`];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    sizes: { type: 'string' }, cells: { type: 'string' }, 'no-tfjs': { type: 'boolean' }, 'no-torch': { type: 'boolean' }, out: { type: 'string' }, render: { type: 'boolean' },
    section: { type: 'string' }, quick: { type: 'boolean' }, browser: { type: 'boolean' }, 'launches-only': { type: 'boolean' }, 'scan-cells': { type: 'string' }, 'scan-batches': { type: 'string' }, 'scan-steps': { type: 'string' }, 'scan-peers': { type: 'string' },
  } });
  const sizes = (values.sizes ?? 'S,M,L').split(',');
  const cells = (values.cells ?? 'lstm,gru').split(',') as CellKind[];
  const out = values.out ?? join(ROOT, 'BENCHMARKS.md');
  const section = values.section ?? 'all';
  if (!['all', 'main', 'scan'].includes(section)) throw new Error(`--section must be all, main or scan, not ${section}`);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  if (section === 'scan') {
    await scanSection(values, out, values.out !== undefined, command);
    process.exit(0); // gpu.js keeps worker threads alive
  }
  if (values.render) {
    // Render the report again from the measurements it holds (after a change of the report's layout).
    const before = readReport(readFileSync(out, 'utf8'), SIZES);
    if (!before) throw new Error(`${out} holds no measurements to render`);
    writeFileSync(out, mergeReport(renderReport({ ...before, notes: NOTES }), readFileSync(out, 'utf8')));
    process.stdout.write(`rendered ${out}\n`);
    return;
  }
  // Relaxed SIMD (the multiply-add kernels) is behind a flag in Node 20: on for this process, so that
  // both kernels run in the same run; the plain rows ask for them with { fma: false }.
  if (!fmaAvailable()) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const fma = fmaAvailable();
  if (!fma) process.stdout.write('bench: no relaxed SIMD in this Node, even with --experimental-wasm-relaxed-simd; the FMA rows are left out\n');
  const started = new Date();
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const log = (r: Row) => {
    rows.push(r);
    process.stdout.write(`${r.cell.padEnd(5)} ${r.size} ${r.peer.padEnd(30)} ${r.ms.toFixed(3).padStart(11)} ms/step ${Math.round(r.tokensPerS).toString().padStart(9)} tok/s ${r.gflops.toFixed(2).padStart(6)} GFLOP/s\n`);
  };

  for (const size of sizes) {
    const z = SIZES[size];
    if (!z) throw new Error(`unknown size ${size} (S, M, L)`);
    for (const kind of cells) {
      const cell = loadCell(kind);
      const flops = trainingStepFlops(cell, { n_x: z.nx, n_a: z.na }, z.batch, z.steps);
      const row = (peer: string, ms: number): Row => ({ cell: kind.toUpperCase(), size, peer, ms, tokensPerS: (z.steps * z.batch) / (ms / 1000), gflops: flops / (ms * 1e6) });
      const fast: Record<string, () => void> = {
        'celda-js f64': celdaStep(cell, kind, z, 'f64'),
        'celda-js f32': celdaStep(cell, kind, z, 'f32'),
        'celda-simd f32': celdaStep(cell, kind, z, 'f32', false, true),
        'celda-simd f32, 2 threads': celdaStep(cell, kind, z, 'f32', false, true, 2),
        'celda-simd f32, loops in JS': celdaStep(cell, kind, z, 'f32', false, true, 1, false, false),
        ...(fma
          ? {
            'celda-simd f32, FMA': celdaStep(cell, kind, z, 'f32', false, true, 1, true),
            'celda-simd f32, FMA, 2 threads': celdaStep(cell, kind, z, 'f32', false, true, 2, true),
          }
          : {}),
        'celda-js f64 (CellBackend)': celdaStep(cell, kind, z, 'f64', true),
      };
      if (kind === 'lstm') fast['hand-fused JS f64'] = handStep(cell, z);
      // TF.js on its wasm backend (its fastest at M and L) takes its turns with celda's modules, so that
      // a change of the shared host's speed hits both alike; its cpu backend (slower) is timed after.
      const tfName = (backend: string, tfKind: 'custom' | 'layers') => `TF.js ${backend} ${tfKind === 'custom' ? 'custom cell' : `tf.layers.${kind}`}`;
      const tfWasm: TfPeer[] = [];
      if (!values['no-tfjs']) {
        await useBackend('wasm');
        for (const tfKind of ['custom', 'layers'] as const) {
          const peer = tfPeer(kind, tfKind, z);
          tfWasm.push(peer);
          fast[tfName('wasm', tfKind)] = () => peer.step();
        }
      }
      try {
        for (const [peer, ms] of Object.entries(interleaved(fast, BUDGET[size]))) log(row(peer, ms));
      } finally {
        for (const p of tfWasm) p.dispose();
      }
      if (!values['no-tfjs']) {
        await useBackend('cpu');
        for (const tfKind of ['custom', 'layers'] as const) {
          const peer = tfPeer(kind, tfKind, z);
          try {
            log(row(tfName('cpu', tfKind), measure(() => peer.step(), BUDGET[size]).ms));
          } finally {
            peer.dispose();
          }
        }
      }
      // PyTorch nn.LSTM / nn.GRU on one thread and on two, when Debian's python3-torch is installed (bench/torch.ts).
      if (!values['no-torch']) for (const [peer, ms] of torchRows(kind, z, BUDGET[size])) log(row(peer, ms));
    }
  }
  const report = renderReport({ rows, sizes: SIZES, machine: [...machine(), ...torchMachine()], started, loadBefore, loadAfter: loadavg(), command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, notes: NOTES });
  writeFileSync(out, mergeReport(report, existsSync(out) ? readFileSync(out, 'utf8') : null));
  process.stdout.write(`\nwrote ${out}\n`);
  if (section === 'all') {
    await scanSection(values, out, values.out !== undefined, command);
    process.exit(0); // gpu.js keeps worker threads alive
  }
}

await main();
