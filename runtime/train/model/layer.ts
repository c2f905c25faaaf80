// One recurrent layer: a planned cell run through a CellBackend. `scan` is the
// one loop every topology is built from — (carry, x^<t>) → (carry', y^<t>) over
// T steps — and `backward` its VJP. Parameters live in the shared table under
// `prefix + name` (`enc.0.W_u`); the backend sees the cell's own names.

import type { BackendFactory, CellBackend, Vec } from '../../backend.ts';
import type { CellPlan } from './fit.ts';
import type { Table } from '../tensor.ts';
import { addInto } from '../tensor.ts';
import { byName, entry } from '../../backend.ts';

export interface ScanResult {
  readonly T: number;
  readonly B: number;
  /** The readout at every step, [T][B][H]. */
  readonly readout: Vec;
  /** The cell's own head ŷ at every step, [T][B][C], when it is the head. */
  readonly head: Vec | null;
  /** Every state at every step, [T][B][n]. */
  readonly states: Readonly<Record<string, Vec>>;
}

export interface LayerCotangents {
  readonly readout?: Float64Array | null;
  readonly head?: Float64Array | null;
  /** Extra cotangents on states, [T][B][n] (a final state handed to a decoder). */
  readonly states?: Readonly<Record<string, Float64Array>>;
}

export class CellLayer {
  private readonly backends = new Map<number, CellBackend>();

  constructor(readonly plan: CellPlan, readonly prefix: string, private readonly factory: BackendFactory) {}

  /** Full names and shapes of this layer's parameters, in the cell's order. */
  paramShapes(): { name: string; local: string; shape: readonly number[] }[] {
    return this.plan.params.map((p) => ({ name: this.prefix + p.name, local: p.name, shape: p.shape }));
  }

  /** Build (and keep) the backend for batch B now: a backend that refuses the cell says so before anything trains. */
  prepare(B: number): void {
    this.backend(B);
  }

  /** Backends hold the last forward for their backward, and are built per batch size. */
  private backend(B: number): CellBackend {
    let b = this.backends.get(B);
    if (!b) {
      b = this.factory(this.plan.cell, { dims: this.plan.dims, batch: B });
      this.backends.set(B, b);
    }
    return b;
  }

  private localParams(params: Table): Record<string, Vec> {
    return byName(this.plan.params.map((p) => [p.name, params.get(this.prefix + p.name)!.data]));
  }

  scan(params: Table, xs: Vec, T: number, B: number, init?: Readonly<Record<string, Vec>>): ScanResult {
    const r = this.backend(B).forward(T, this.localParams(params), byName([[this.plan.input.name, xs]]), init);
    const { readout, head } = this.plan;
    return {
      T, B,
      readout: entry(readout.role === 'state' ? r.states : r.outputs, readout.name)!,
      head: head ? entry(r.outputs, head.name)! : null,
      states: r.states,
    };
  }

  /**
   * The VJP of the last `scan` at batch size B: adds parameter gradients into `grads`; returns ∂/∂init, and
   * ∂/∂x when `inputs` asks for it (null otherwise: the backend is told, and gpu.js then runs none of the
   * kernels only ∂x needs).
   */
  backward(B: number, cot: LayerCotangents, grads: Table, inputs = true): { dx: Vec | null; dInit: Readonly<Record<string, Vec>> } {
    const states: Record<string, Vec> = byName(Object.entries(cot.states ?? {}));
    const outputs: Record<string, Vec> = byName();
    const put = (bucket: Record<string, Vec>, name: string, v: Float64Array) => {
      const have = entry(bucket, name);
      if (!have) { bucket[name] = v; return; }
      const sum = Float64Array.from(have);
      addInto(sum, v);
      bucket[name] = sum;
    };
    const { readout, head } = this.plan;
    if (cot.readout) put(readout.role === 'state' ? states : outputs, readout.name, cot.readout);
    if (cot.head && head) put(outputs, head.name, cot.head);
    const g = this.backend(B).backward({ states, outputs }, { inputs });
    for (const p of this.plan.params) addInto(grads.get(this.prefix + p.name)!.data, entry(g.params, p.name)!);
    return { dx: inputs ? entry(g.inputs, this.plan.input.name)! : null, dInit: g.init };
  }
}
