// What the stages of lowering one pass share: the pass's specification (its
// graph, leaves and roots), where a value lives (Home, Dest), the table of
// buffers being declared, and the result. The bottom of lower/: analysis,
// storage and kernels build on it, and pass.ts runs them in that order.

import type { Dim } from '../ir/dims.ts';
import type { Graph, Node } from '../ir/graph.ts';
import type { LeafKind } from './phases.ts';
import type { BufferDecl, PassPlan } from './loop-ir.ts';

/** Where a value lives: columns of a buffer, at a row block relative to the step (or fixed). */
export interface Home {
  readonly buf: number;
  readonly col: Dim;
  readonly width: Dim;
  /** Block shift: 0 for step t itself, 1 for a state after step t (slot t+1), … */
  readonly shift: number;
  /** A fixed block (unrolled cells). */
  readonly block?: number;
}

/** A place a root must be written to; `acc`: added to (gradients summed over time). */
export interface Dest {
  readonly home: Home;
  readonly acc: boolean;
}

export interface PassSpec {
  readonly g: Graph;
  readonly unrolled: boolean;
  /** Leaves with a home (parameters, inputs, states, cotangents, saved forward values); null for computed nodes. */
  readonly leaf: (n: Node) => { kind: LeafKind; home: Home } | null;
  readonly roots: readonly { id: number; dest: Dest; role: 'carry' | 'param' | 'value' }[];
  /** Forward: values the backward pass reads (kept in T·B buffers). */
  readonly saved: ReadonlySet<number>;
  /** Coefficients of a scanned recurrence (scan.ts): computed before the loop, for all steps at once. */
  readonly pre?: ReadonlySet<number>;
  readonly name: (id: number) => string;
  readonly named: (id: number) => boolean;
}

export class BufferTable {
  readonly decls: BufferDecl[] = [];
  add(d: Omit<BufferDecl, 'id'>): number {
    const id = this.decls.length;
    this.decls.push({ id, ...d });
    return id;
  }
  get(id: number): BufferDecl {
    return this.decls[id]!;
  }
}

export interface PassResult {
  readonly plan: PassPlan;
  /** Where each value ended up (the backward reads the forward's saved values from here). */
  readonly homes: ReadonlyMap<number, Home>;
}
