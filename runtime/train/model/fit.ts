// Fitting a user's cell to a task: which input the data feeds, which value the
// runtime reads (`a^<t>` when the cell defines it, its only state otherwise, or
// `--readout NAME`), whether its own ŷ^<t> is the head, and every dimension bound
// to a number (`n_a` = --hidden, `n_x` = the embedding width, `n_y` = classes).

import type { CompiledCell } from '../../../compiler/compile.ts';
import { stateDims } from '../../../compiler/check/typed-cell.ts';
import type { Dim } from '../../../compiler/ir/dims.ts';
import { bindDims, dimToString, evalDim } from '../../../compiler/ir/dims.ts';
import { TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';
import type { ScoreKind } from './heads.ts';
import { CELL_HEAD, cellHeadKind, headSize } from './heads.ts';

export interface CellPlan {
  readonly cell: CompiledCell;
  readonly dims: Readonly<Record<string, number>>;
  readonly input: { readonly name: string; readonly size: number };
  readonly states: readonly { readonly name: string; readonly size: number }[];
  readonly readout: { readonly role: 'state' | 'output'; readonly name: string; readonly size: number };
  /** The cell's own ŷ^<t> when it is this layer's head. */
  readonly head: { readonly name: string; readonly kind: ScoreKind; readonly size: number } | null;
  readonly params: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

export interface PlanOptions {
  readonly inputSize: number;
  readonly hidden: number;
  /** Classes of the task, to size ŷ when the cell has one. */
  readonly classes: number;
  /** Use the cell's ŷ^<t> as the head (the caller checked that it exists). */
  readonly useHead: boolean;
  readonly readout?: string;
  /** `--dim NAME=N` bindings for dimensions nothing else fixes. */
  readonly dims?: Readonly<Record<string, number>>;
}

/** The value the runtime reads as the layer's activation. */
export function chooseReadout(cell: CompiledCell, wanted?: string): { role: 'state' | 'output'; name: string; dim: Dim } {
  const t = cell.typed;
  const find = (name: string) => {
    const s = t.states.find((x) => x.name === name);
    // the head reads a vector per example: not a scalar (`state m : 1`) nor a matrix (`state C : d × d`)
    if (s) return s.scalar || s.cols ? null : { role: 'state' as const, name, dim: s.dim };
    const o = t.outputs.find((x) => x.name === name);
    if (o && o.shape.dims.length === 1) return { role: 'output' as const, name, dim: o.shape.dims[0]! };
    return null;
  };
  const names = [...t.states.map((s) => s.name), ...t.outputs.map((o) => o.name)];
  if (wanted !== undefined) {
    const r = find(wanted);
    if (!r) {
      const s = t.states.find((x) => x.name === wanted), o = t.outputs.find((x) => x.name === wanted);
      if (s || o) throw new UsageError(`--readout ${wanted}: \`${wanted}\` of cell ${cell.name} is ${s?.scalar || (o && o.shape.dims.length === 0) ? 'a scalar' : 'a matrix'} per example; the output head reads a vector (one of ${names.filter((n) => find(n)).join(', ') || 'none'})`);
      throw new UsageError(`--readout ${wanted}: cell ${cell.name} has no state or output \`${wanted}\` (it has ${names.join(', ')})`);
    }
    return r;
  }
  const a = find('a');
  if (a) return a;
  if (t.states.length === 1 && find(t.states[0]!.name)) return find(t.states[0]!.name)!;
  throw new TrainError(`cell ${cell.name} has ${t.states.length === 0 ? 'no state' : `states ${t.states.map((s) => s.name).join(', ')}`} and no a^<t>; choose the value the output head reads with --readout NAME (one of ${names.join(', ')})`);
}

export function planCell(cell: CompiledCell, o: PlanOptions): CellPlan {
  const t = cell.typed;
  if (t.mode === 'unrolled') throw new TrainError(`cell ${cell.name} is written out over ${t.steps} fixed steps; training runs sequences of any length, so write it as a step cell (states read at <t-1>)`);
  if (t.inputs.length !== 1) throw new TrainError(`cell ${cell.name} has ${t.inputs.length} inputs${t.inputs.length ? ` (${t.inputs.map((i) => i.name).join(', ')})` : ''}; a task feeds one sequence, so the cell needs exactly one \`input\``);
  const input = t.inputs[0]!;
  const readout = chooseReadout(cell, o.readout);
  const given = new Map<string, number>(Object.entries({ ...t.dimDefaults, ...o.dims }));
  const eqs: { dim: Dim; value: number; what: string }[] = [
    { dim: input.dim, value: o.inputSize, what: `input ${input.name} (the task's input width)` },
    ...t.states.filter((s) => s.dim.terms.length > 0).map((s) => ({ dim: s.dim, value: o.hidden, what: `state ${s.name} (--hidden)` })),
  ];
  if (readout.dim.terms.length > 0 && !t.states.some((s) => s.name === readout.name)) eqs.push({ dim: readout.dim, value: o.hidden, what: `readout ${readout.name} (--hidden)` });
  let { env, error } = bindDims(given, eqs);
  // A readout output may legitimately be wider than the state (say [a, c]): drop that guess if it conflicts.
  if (error && eqs.length > 1 + t.states.filter((s) => s.dim.terms.length > 0).length) ({ env, error } = bindDims(given, eqs.slice(0, -1)));
  if (error) throw new TrainError(`cannot fit cell ${cell.name} to the task: ${error}`);

  const kind = cellHeadKind(cell);
  const yhat = t.outputs.find((x) => x.name === CELL_HEAD);
  let head: CellPlan['head'] = null;
  if (yhat && kind) {
    const want = headSize(kind, o.classes);
    const dim = yhat.shape.dims[0];
    if (dim && evalDim(dim, env) === undefined) {
      const r = bindDims(env, [{ dim, value: want, what: 'ŷ' }]);
      if (!r.error) env = r.env;
    }
    const have = dim ? evalDim(dim, env) : 1;
    if (o.useHead) {
      if (!dim || yhat.shape.dims.length !== 1) throw new TrainError(`cell ${cell.name}: ŷ must be a vector to be an output head`);
      if (have !== want) throw new TrainError(`cell ${cell.name}: its ŷ^<t> has size ${dimToString(dim)} = ${have}, but this task needs ${want} ${kind} score${want === 1 ? '' : 's'}${o.classes === 2 && want === 2 ? '' : ` for ${o.classes} classes`}; pass --head runtime to read ${readout.name}^<t> with a runtime head instead`);
      head = { name: CELL_HEAD, kind, size: want };
    }
  } else if (o.useHead) throw new TrainError(`cell ${cell.name} has no ŷ^<t> to use as its head`);

  const size = (d: Dim, what: string) => {
    const v = evalDim(d, env);
    if (v === undefined) {
      const free = d.terms.map(([v]) => v).filter((v) => !env.has(v));
      throw new TrainError(`cannot size ${what} of cell ${cell.name}: nothing fixes ${free.join(', ')}; give it with --dim ${free[0]}=N`);
    }
    if (v <= 0) throw new TrainError(`${what} of cell ${cell.name} has size ${dimToString(d)} = ${v}`);
    return v;
  };
  const params = t.params.map((p) => ({ name: p.name, shape: p.shape.map((d, i) => size(d, `parameter ${p.name} (axis ${i + 1}: ${dimToString(d)})`)) }));
  // A matrix state per example (`state C : d × d`) carries rows × cols numbers per example.
  const states = t.states.map((s) => ({ name: s.name, size: stateDims(s).reduce((n, d) => n * size(d, `state ${s.name}`), 1) }));
  for (const out of t.outputs) out.shape.dims.forEach((d) => size(d, `output ${out.name}`));
  return {
    cell,
    dims: Object.fromEntries(env),
    input: { name: input.name, size: size(input.dim, `input ${input.name}`) },
    states,
    readout: { role: readout.role, name: readout.name, size: size(readout.dim, `readout ${readout.name}`) },
    head,
    params,
  };
}
