// PyTorch peers of the benchmark, when Debian's python3-torch is installed
// (`apt-get install -y python3-torch`): torch.nn.LSTM / nn.GRU, float32 on the CPU, on
// one thread and on two. bench/torch.py builds and times the step (forward over T steps,
// loss Σ_t ⟨h^<t>, r^<t>⟩, gradients of every parameter and of x) with the protocol of
// `measure` and the same budget; this file finds a Python that has torch and runs it,
// once per cell and size, inside the same `npm run bench`.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { measure } from '../cli/bench.ts';
import type { CellKind, Size } from './tfjs.ts';

const SCRIPT = join(import.meta.dirname, 'torch.py');
/** Debian's interpreter first: a pyenv or venv `python3` earlier on PATH usually lacks the system torch. */
const CANDIDATES = ['/usr/bin/python3', 'python3'];
const THREADS = [1, 2] as const;

let found: string | null | undefined;
/** What ran, for the report's machine lines: torch's version, the interpreter, the BLAS library. */
let used: string | undefined;

/** The first Python that imports torch, or null (with a one-line notice, once). */
function python(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const py of CANDIDATES) {
    const r = spawnSync(py, ['-c', 'import torch'], { cwd: '/', stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return (found = py);
  }
  process.stdout.write('bench: PyTorch not found (apt-get install -y python3-torch for the full comparison); skipping\n');
  return found;
}

/**
 * `[peer, ms/step]` of nn.lstm / nn.gru on one thread and on two (`PyTorch nn.lstm 1 thread`,
 * `… 2 threads`); none when PyTorch is missing or its run fails (said in one line).
 */
export function torchRows(cell: CellKind, z: Size, budget: Parameters<typeof measure>[1] = {}): [string, number][] {
  const py = python();
  if (!py) return [];
  const b = budget ?? {};
  const args = [SCRIPT, '--cell', cell, '--nx', `${z.nx}`, '--na', `${z.na}`, '--batch', `${z.batch}`, '--steps', `${z.steps}`, '--threads', THREADS.join(',')];
  const opt = { warmup: b.warmup, 'warmup-ms': b.warmupMs, 'min-runs': b.minRuns, 'min-ms': b.minMs, 'max-runs': b.maxRuns };
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) args.push(`--${k}`, `${v}`);
  const r = spawnSync(py, args, { encoding: 'utf8', timeout: 30 * 60_000 });
  let ms: Record<string, number> | undefined;
  try {
    const j = r.status === 0 ? (JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; blas: string; ms: Record<string, number> }) : undefined;
    ms = j?.ms;
    if (j && used === undefined) {
      used = `PyTorch ${j.torch} (${py}), BLAS: ${j.blas}`;
      process.stdout.write(`bench: ${used}\n`);
    }
  } catch { /* not JSON: reported below */ }
  if (!ms) {
    const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit status ${r.status}`);
    process.stdout.write(`bench: PyTorch ${cell} run failed (${py} bench/torch.py: ${why}); skipping\n`);
    return [];
  }
  return THREADS.filter((n) => typeof ms[n] === 'number').map((n) => [`PyTorch nn.${cell} ${n} thread${n > 1 ? 's' : ''}`, ms[n]!]);
}

/** A line for the report's machine list (torch's version and BLAS), once PyTorch has run; else none. */
export function torchMachine(): string[] {
  return used === undefined ? [] : [used];
}
