// Which CellBackend runs the cells. Training talks to the CellBackend interface
// only, so choosing a backend is this one lookup. `js-f32` (the generated, fused
// JavaScript in float32, its products and fused loops in WebAssembly SIMD: one SIMD
// thread per training thread, as `--threads` already splits the batch) is the
// default when it is available; `js` is the same module in float64, plain
// JavaScript (the reference precision, about 4× slower to train, to the same
// metrics); `interp` (the float64 reference interpreter) is the slow,
// always-present fallback.

import type { BackendFactory, BackendOptions } from '../../backend.ts';
import { interpBackend } from '../../backends/interp.ts';
import { TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';

export const BACKEND_NAMES = ['js', 'js-f32', 'interp', 'gpujs'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The generated-JS backend (a dynamic import: it compiles the emitter only when used). */
async function jsFactory(): Promise<BackendFactory | null> {
  try {
    return (await import('../../backends/js.ts')).jsBackend;
  } catch {
    return null;
  }
}

const jsF32 = (js: BackendFactory): BackendFactory => (cell, opts) => js(cell, { ...opts, precision: 'f32', threads: 1 });

/**
 * A backend whose factory passes `scan` (`--no-scan`, `--scan log`) to every
 * backend it makes, with `scan` kept beside it: the training threads load
 * their backends by name and make them with it (TrainInput.scan). Undefined:
 * the backend as it is.
 */
export function withScan<B extends { name: string; factory: BackendFactory }>(b: B, scan: BackendOptions['scan']): B & { scan?: BackendOptions['scan'] } {
  if (scan === undefined) return b;
  const f = b.factory;
  return { ...b, factory: (cell, opts) => f(cell, { ...opts, scan }), scan };
}

export async function loadBackend(name: string | undefined): Promise<{ name: BackendName; factory: BackendFactory }> {
  if (name === undefined) {
    const js = await jsFactory();
    return js ? { name: 'js-f32', factory: jsF32(js) } : { name: 'interp', factory: interpBackend };
  }
  if (name === 'interp') return { name, factory: interpBackend };
  if (name === 'js') {
    const js = await jsFactory();
    if (!js) throw new TrainError('the js backend is not available in this build; use --backend interp');
    return { name, factory: js };
  }
  if (name === 'js-f32') {
    const js = await jsFactory();
    if (!js) throw new TrainError('the js backend is not available in this build; use --backend interp');
    return { name, factory: jsF32(js) };
  }
  if (name === 'gpujs') {
    // gpu.js kernels run one by one (its synchronous WebAssembly/CPU modes) in the synchronous training loop.
    // What gpu.js refuses (a cell its kernels cannot write, a kernel moved to its CPU fallback) is one line with a way out, not an internal error.
    const { gpujsSyncRefusing } = await import('../../backends/gpujs-refusals.ts');
    return { name, factory: gpujsSyncRefusing('--backend js-f32 trains the cell without gpu.js') };
  }
  throw new UsageError(`unknown backend \`${name}\` (available: ${BACKEND_NAMES.join(', ')})`);
}
