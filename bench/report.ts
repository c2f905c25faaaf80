// BENCHMARKS.md from the measured rows: the machine and date, one table per cell,
// ratios of celda (SIMD on one and two threads, plain JS float64) to each peer,
// and the targets of the JavaScript and SIMD work, met or missed, with numbers.

import type { Size } from './tfjs.ts';

export interface Row {
  readonly cell: string;
  readonly size: string;
  readonly peer: string;
  readonly ms: number;
  readonly tokensPerS: number;
  readonly gflops: number;
}

export interface ReportInput {
  readonly rows: readonly Row[];
  readonly sizes: Readonly<Record<string, Size>>;
  readonly machine: readonly string[];
  readonly started: Date;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly command: string;
  /** Paragraphs added after the tables (what the numbers mean), kept across re-renders. */
  readonly notes?: readonly string[];
}

/** celda-js needs to be this many times faster than the best TF.js variant at each size. */
const TF_TARGET: Record<string, number> = { S: 25, M: 1.5, L: 2 };
/** …and at most this many times slower than the hand-fused loop. */
const HAND_TARGET = 1.2;
/** The SIMD module: GFLOP/s of the L step on one thread; speed-up over the best TF.js at M and L; ratio to PyTorch (one thread) at M and L. */
const SIMD_GFLOPS = 20, SIMD_TF = 10, SIMD_TORCH = 3;
const SIMD1 = 'celda-simd f32', SIMD2 = 'celda-simd f32, 2 threads';
/** The same with relaxed SIMD's multiply-add (a V8 flag in Node 20, so not what celda runs there by default). */
const FMA1 = 'celda-simd f32, FMA', FMA2 = 'celda-simd f32, FMA, 2 threads';

const bestOf = (rows: readonly Row[]): Row | undefined => (rows.length ? rows.reduce((a, b) => (a.ms <= b.ms ? a : b)) : undefined);

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${fmt(x)} ms`);

export function renderReport(r: ReportInput): string {
  const L: string[] = [];
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(', ');
  L.push('# Benchmarks', '');
  L.push(`Measured ${r.started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${r.command}\` (bench/main.ts).`, '');
  L.push(`- Machine: ${r.machine[0]}`, ...r.machine.slice(1).map((m) => `- ${m}`), `- Load average (1, 5, 15 min) before: ${load(r.loadBefore)}; after: ${load(r.loadAfter)} — the machine is shared, so absolute times vary between runs; ratios within one run are what the targets are about.`, '');
  L.push('One training step: the forward pass over T steps, backpropagation through time, and the gradients of all parameters, from a loss Σₜ⟨h⁽ᵗ⁾, rₜ⟩ on the hidden state at every step. celda-js, the hand-fused loop and PyTorch also return ∂x (TF.js’s `variableGrads` does not), so they do slightly more work. GFLOP/s counts the matrix products of the step (the same count for every peer of a cell); tokens/s is T·batch per second. Each figure is the median of repeated runs after warm-up; celda’s modules, the hand-fused loop and TF.js on its wasm backend are timed in alternation (so that a change in the shared host’s speed hits them alike), TF.js’s cpu backend and PyTorch after them.', '');
  L.push('Sizes: ' + Object.entries(r.sizes).map(([k, z]) => `${k} = (n_x ${z.nx}, n_a ${z.na}, batch ${z.batch}, T ${z.steps})`).join('; ') + '.', '');
  L.push('Peers: **celda-simd** (the same float32 module with its matrix products in WebAssembly SIMD, compiler/emit/wasm/kernels-wat.ts, and its fused elementwise loops too, compiler/emit/wasm/loops-wat.ts, on one memory with the module’s JavaScript; “loops in JS” keeps those loops in JavaScript (`wasmLoops: false`), as celda did before 2026-11-27; “2 threads” splits each large product between this thread and a worker thread, runtime/wasm/pool.ts; “FMA” rows use the kernels whose product accumulates with relaxed SIMD’s fused multiply-add, turned on for the benchmark’s process with V8’s \`--experimental-wasm-relaxed-simd\` where its Node needs that (Node 20 does), the others the plain kernels, which Node 20 runs by default); **celda-js** (examples/cells/lstm.celda, gru.celda compiled to one module each, the code `celda compile` writes, loaded in-process; float64 and float32 as plain JavaScript (`--no-simd`); “(CellBackend)” is the same module behind the runtime’s backend interface, which copies every result so it outlives the next call); **hand-fused JS** (bench/hand-lstm.ts: stacked gates, input projections hoisted, dW/dx as products over all T·B rows, Float64Array, same matrix kernel quality); **TF.js custom cell** (tf ops under `tf.variableGrads`, the LSTM gates as one `matMul` of [h, x]); **TF.js tf.layers.lstm / gru** (built-in layers, sigmoid gates); **PyTorch nn.lstm / nn.gru** (bench/torch.py, when Debian’s python3-torch is installed — `apt-get install -y python3-torch`; `torch.nn.LSTM` / `nn.GRU`, float32, gradients by `torch.autograd.grad`, no optimizer update, on `torch.set_num_threads(1)` and `(2)` (and as many BLAS threads), timed in Python by the same protocol; its speed at M and L is that of the BLAS behind Debian’s libblas.so.3, named above — OpenBLAS with `apt-get install -y python3-torch libopenblas0`, or else the reference BLAS that python3-torch alone brings, 10–20× slower).', '');

  const cells = [...new Set(r.rows.map((x) => x.cell))];
  const vs = (c: Row | undefined, x: Row) => (!c || c === x ? '' : `${fmt(x.ms / c.ms)}× faster`.replace(/^(0\.\d+)× faster$/, (_, v: string) => `${fmt(1 / Number(v))}× slower`));
  for (const cell of cells) {
    L.push(`## ${cell}`, '');
    L.push(`| size | peer | ms/step | tokens/s | GFLOP/s | ${SIMD1} is | ${SIMD2} is | celda-js f64 is |`, '|---|---|---:|---:|---:|---:|---:|---:|');
    for (const size of Object.keys(r.sizes)) {
      const rows = r.rows.filter((x) => x.cell === cell && x.size === size);
      if (!rows.length) continue;
      const s1 = rows.find((x) => x.peer === SIMD1), s2 = rows.find((x) => x.peer === SIMD2), c64 = rows.find((x) => x.peer === 'celda-js f64');
      for (const x of rows) L.push(`| ${size} | ${x.peer} | ${ms(x.ms)} | ${fmt(x.tokensPerS)} | ${fmt(x.gflops)} | ${vs(s1, x)} | ${vs(s2, x)} | ${vs(c64, x)} |`);
    }
    L.push('');
  }

  const met = (ok: boolean) => (ok ? 'met' : '**missed**');
  L.push('## Targets', '');
  L.push('### Generated JavaScript against TF.js and a hand-fused loop', '');
  L.push(`celda (the fastest of its modules on one thread: plain JavaScript in float64 or float32, or float32 with the WebAssembly SIMD products) against the best TF.js variant: S ≥ ${TF_TARGET.S}×, M ≥ ${TF_TARGET.M}×, L ≥ ${TF_TARGET.L}× faster; and celda-js float64 (plain JavaScript) against the hand-fused loop (float64): no slower than ${HAND_TARGET}×.`, '');
  L.push('| cell | size | best TF.js | celda | speed-up (target) | | hand-fused f64 | its speed-up over TF.js | celda-js f64 | ratio to hand-fused (target ≤ 1.2) | |', '|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|');
  for (const cell of cells) {
    for (const size of Object.keys(r.sizes)) {
      const rows = r.rows.filter((x) => x.cell === cell && x.size === size);
      if (!rows.length) continue;
      const best = bestOf(rows.filter((x) => x.peer.startsWith('TF.js')));
      const celda = bestOf(rows.filter((x) => ['celda-js f64', 'celda-js f32', SIMD1].includes(x.peer)))!;
      const c64 = rows.find((x) => x.peer === 'celda-js f64')!;
      const hand = rows.find((x) => x.peer.startsWith('hand-fused'));
      const up = best ? best.ms / celda.ms : NaN;
      const ratio = hand ? c64.ms / hand.ms : NaN;
      const handUp = hand && best ? `${fmt(best.ms / hand.ms)}×` : '—';
      L.push(`| ${cell} | ${size} | ${best ? `${ms(best.ms)} (${best.peer.replace('TF.js ', '')})` : '—'} | ${ms(celda.ms)} (${celda.peer.replace('celda-', '')}) | ${best ? `${fmt(up)}× (≥ ${TF_TARGET[size]}×)` : '—'} | ${best ? met(up >= TF_TARGET[size]!) : ''} | ${hand ? ms(hand.ms) : '—'} | ${handUp} | ${ms(c64.ms)} | ${hand ? `${ratio.toFixed(2)}×` : '—'} | ${hand ? met(ratio <= HAND_TARGET) : ''} |`);
    }
  }
  L.push('');
  L.push('### WebAssembly SIMD and threads', '');
  L.push(`${SIMD1} is the SIMD module on one thread, ${SIMD2} the same with its products split between two threads; “celda-simd” below is the faster of the two. Both use the plain kernels (f32x4.mul then add), which is what Node 20 runs by default. Rows marked “FMA” are the same with relaxed SIMD’s multiply-add (${FMA1}, ${FMA2}): what Chrome ≥ 114 and Node ≥ 21 run by default, and Node 20 only with \`--experimental-wasm-relaxed-simd\` (the benchmark turns it on to measure both in one run). Targets: the L step at ≥ ${SIMD_GFLOPS} GFLOP/s on one thread; M and L ≥ ${SIMD_TF}× faster than the best TF.js variant; M and L within ${SIMD_TORCH}× of PyTorch on one thread (the one-thread module against it); S no slower than the plain JavaScript module (the faster of celda-js f64 and f32).`, '');
  L.push('| cell | size | target | measured | |', '|---|---|---|---|---|');
  for (const cell of cells) {
    for (const size of Object.keys(r.sizes)) {
      const rows = r.rows.filter((x) => x.cell === cell && x.size === size);
      const tfBest = bestOf(rows.filter((x) => x.peer.startsWith('TF.js')));
      const torch1 = rows.find((x) => /^PyTorch .* 1 thread$/.test(x.peer));
      const plain = bestOf(rows.filter((x) => x.peer === 'celda-js f64' || x.peer === 'celda-js f32'));
      for (const [one, two, tag] of [[SIMD1, SIMD2, ''], [FMA1, FMA2, ' — FMA']] as const) {
        const s1 = rows.find((x) => x.peer === one);
        if (!s1) continue;
        const simd = bestOf(rows.filter((x) => x.peer === one || x.peer === two))!;
        if (size === 'L') L.push(`| ${cell} | L | ≥ ${SIMD_GFLOPS} GFLOP/s, one thread${tag} | ${fmt(s1.gflops)} GFLOP/s | ${met(s1.gflops >= SIMD_GFLOPS)} |`);
        if (size !== 'S') {
          L.push(`| ${cell} | ${size} | ≥ ${SIMD_TF}× the best TF.js${tag} | ${tfBest ? `${fmt(tfBest.ms / simd.ms)}× (${simd.peer.replace('celda-simd f32', 'simd')} ${ms(simd.ms)} vs ${tfBest.peer.replace('TF.js ', '')} ${ms(tfBest.ms)})` : 'TF.js not measured'} | ${tfBest ? met(tfBest.ms / simd.ms >= SIMD_TF) : ''} |`);
          L.push(`| ${cell} | ${size} | within ${SIMD_TORCH}× of PyTorch, one thread${tag} | ${torch1 ? `${fmt(s1.ms / torch1.ms)}× its time (${ms(s1.ms)} vs ${ms(torch1.ms)})` : 'PyTorch not installed'} | ${torch1 ? met(s1.ms / torch1.ms <= SIMD_TORCH) : ''} |`);
        } else if (plain) L.push(`| ${cell} | S | no slower than plain JavaScript${tag} | ${fmt(s1.ms / plain.ms)}× its time (${ms(s1.ms)} vs ${plain.peer} ${ms(plain.ms)}) | ${met(s1.ms <= plain.ms)} |`);
      }
    }
  }
  L.push('');
  if (r.notes?.length) L.push('## Notes', '', ...r.notes, '');
  // The measurements themselves, so that the report can be rendered again (`npm run bench -- --render`).
  L.push(`<!-- rows ${JSON.stringify({ started: r.started.toISOString(), machine: r.machine, loadBefore: r.loadBefore, loadAfter: r.loadAfter, command: r.command, rows: r.rows })} -->`, '');
  return L.join('\n');
}

/** Sections this report writes; any other section of BENCHMARKS.md (another backend's) is kept as it is. */
const OURS = /^## (LSTM|GRU|Targets|Notes)\s*$/;

/** The report, with the sections of `previous` that it does not write (other backends' results) kept after it. */
export function mergeReport(report: string, previous: string | null): string {
  if (!previous) return report;
  const kept: string[] = [];
  let keep = false;
  for (const line of previous.split('\n')) {
    if (line.startsWith('## ')) keep = !OURS.test(line);
    else if (line.startsWith('# ') || line.startsWith('<!-- rows ')) keep = false;
    if (keep) kept.push(line);
  }
  return kept.length ? `${report.trimEnd()}\n\n${kept.join('\n').trimEnd()}\n` : report;
}

/** The input of a report written before, read back from its last line. */
export function readReport(text: string, sizes: ReportInput['sizes']): ReportInput | null {
  const m = /<!-- rows (\{.*\}) -->/.exec(text);
  if (!m) return null;
  const j = JSON.parse(m[1]!) as Omit<ReportInput, 'started' | 'sizes'> & { started: string };
  return { ...j, started: new Date(j.started), sizes };
}
