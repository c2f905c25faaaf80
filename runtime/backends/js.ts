// The generated-JavaScript backend: the cell's module (compiler/emit-js.ts) loaded
// in-process with `new Function` — the same code `celda compile` writes to a file.
// The fast path for evaluation and training. Results are copies, so they stay
// valid when the backend runs again.

import type { CompiledCell } from '../../compiler/compile.ts';
import { emitJs } from '../../compiler/emit-js.ts';
import type { BackendOptions, CellBackend, GradValues, StepValues, Vec } from '../backend.ts';

/** What an emitted module's factory returns (see the .d.ts `celda compile` writes). */
export interface JsCellInstance {
  forward(params: Readonly<Record<string, ArrayLike<number>>>, inputs: Readonly<Record<string, ArrayLike<number>>>, init?: Readonly<Record<string, ArrayLike<number>>>, steps?: number): { states: Record<string, Vec>; outputs: Record<string, Vec> };
  backward(cot: { states?: Readonly<Record<string, ArrayLike<number>>>; outputs?: Readonly<Record<string, ArrayLike<number>>> }): { params: Record<string, Vec>; inputs: Record<string, Vec>; init: Record<string, Vec> };
}

export type JsCellFactory = (dims: Readonly<Record<string, number>>, batch: number) => JsCellInstance;

// One compiled factory per cell and precision: backends for other batch sizes share its code.
const factories = new WeakMap<CompiledCell, Map<string, JsCellFactory>>();

/** The emitted module of a cell, loaded: its factory. */
export function loadJsFactory(cell: CompiledCell, precision: 'f64' | 'f32' = 'f64'): JsCellFactory {
  let byPrecision = factories.get(cell);
  if (!byPrecision) factories.set(cell, (byPrecision = new Map()));
  let f = byPrecision.get(precision);
  if (!f) {
    const { body } = emitJs(cell, { precision });
    f = new Function(body)() as JsCellFactory;
    byPrecision.set(precision, f);
  }
  return f;
}

/** Copies of the module's views (which its next call overwrites), in one allocation. */
function copyAll<K extends string>(groups: Readonly<Record<K, Readonly<Record<string, Vec>>>>, f32: boolean): Record<K, Record<string, Vec>> {
  let n = 0;
  for (const g of Object.values<Readonly<Record<string, Vec>>>(groups)) for (const v of Object.values(g)) n += v.length;
  const all = f32 ? new Float32Array(n) : new Float64Array(n);
  let at = 0;
  const out = {} as Record<K, Record<string, Vec>>;
  for (const [k, g] of Object.entries<Readonly<Record<string, Vec>>>(groups)) {
    const r: Record<string, Vec> = {};
    for (const [name, v] of Object.entries(g)) {
      all.set(v, at);
      r[name] = all.subarray(at, at + v.length);
      at += v.length;
    }
    out[k as K] = r;
  }
  return out;
}

export function jsBackend(cell: CompiledCell, opts: BackendOptions): CellBackend {
  const precision = opts.precision ?? 'f64';
  const dims: Record<string, number> = {};
  for (const d of cell.typed.dims) {
    const v = opts.dims[d];
    if (v === undefined) throw new Error(`js backend: dimension ${d} of ${cell.name} is not bound`);
    dims[d] = v;
  }
  const instance = loadJsFactory(cell, precision)(dims, opts.batch);
  return {
    name: 'js',
    precision,
    forward(steps, params, inputs, init): StepValues {
      return copyAll(instance.forward(params, inputs, init ?? {}, steps), precision === 'f32');
    },
    backward(cot): GradValues {
      return copyAll(instance.backward({ states: cot.states ?? {}, outputs: cot.outputs ?? {} }), precision === 'f32');
    },
  };
}
