// The typed cell: what check produces and build consumes. Every expression of
// every equation carries its symbolic shape; names are canonical ASCII. The
// checker's stages build on these types (check.ts runs them; context.ts holds
// what they share while they run).

import type { Span } from '../../grammar/ast.ts';
import type { Dim } from '../ir/dims.ts';
import type { Attrs, OpName, Shape } from '../ir/ops.ts';

export type LeafKind = 'param' | 'input' | 'prev' | 'ref' | 'const';

export type TExpr =
  | { readonly k: 'leaf'; readonly leaf: LeafKind; readonly name: string; readonly step?: number; readonly value?: number; readonly span: Span; shape: Shape | null }
  | { readonly k: 'op'; readonly op: OpName; readonly args: readonly TExpr[]; readonly attrs: Attrs; readonly span: Span; shape: Shape | null };

export interface TypedEq {
  /** The value defined: `Gamma_u` (intermediate), `c` at <t>, or `a` at a concrete step. */
  readonly name: string;
  readonly step?: number;
  readonly expr: TExpr;
  readonly span: Span;
}

/** The feature dims of a state: [n] for a vector per example, [m, n] for a matrix per example. */
export const stateDims = (s: { readonly dim: Dim; readonly cols?: Dim }): Dim[] => (s.cols ? [s.dim, s.cols] : [s.dim]);

/** A state's sizes after the batch as values, JSON and exports show it: none for a scalar per example (`state m : 1`), else its feature dims. */
export const stateShapeDims = (s: { readonly dim: Dim; readonly cols?: Dim; readonly scalar?: true }): Dim[] => (s.scalar ? [] : stateDims(s));

export interface TypedCell {
  readonly name: string;
  readonly span: Span;
  /** `step`: one step t-1 → t; `unrolled`: a fixed number of concrete steps. */
  readonly mode: 'step' | 'unrolled';
  readonly steps: number;
  readonly inputs: readonly { name: string; dim: Dim }[];
  /** A state is a vector per example of `dim`; with `scalar` a scalar per example (`state m : 1`, stored as one number per example, its dim is 1); with `cols` a matrix per example `dim × cols`. */
  readonly states: readonly { name: string; dim: Dim; init: number; scalar?: true; cols?: Dim }[];
  readonly outputs: readonly { name: string; shape: Shape }[];
  readonly params: readonly { name: string; shape: readonly Dim[] }[];
  /** Every dimension variable: declared ones first, then inferred ones (named `n_y` …). */
  readonly dims: readonly string[];
  readonly dimDefaults: Readonly<Record<string, number>>;
  readonly equations: readonly TypedEq[];
  /** Shapes of every defined value (`Gamma_u`, `c`), for printing. */
  readonly shapes: Readonly<Record<string, Shape>>;
}
