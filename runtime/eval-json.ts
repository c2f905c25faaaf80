// The `celda eval` contract (docs/eval-json.md): JSON parameters and inputs in, states,
// outputs and the VJP out. Every array is checked against the cell's shapes and
// refused with a message that names where it went wrong.

import type { CompiledCell } from '../compiler/compile.ts';
import type { TypedCell } from '../compiler/check/typed-cell.ts';
import { stateDims, stateShapeDims } from '../compiler/check/typed-cell.ts';
import { lineCol } from '../compiler/diagnostics.ts';
import type { Dim } from '../compiler/ir/dims.ts';
import { bindDims, dimToString, evalDim } from '../compiler/ir/dims.ts';
import type { Tensor } from '../compiler/ir/ops.ts';
import type { BackendFactory, CellBackend, Vec } from './backend.ts';
import { byName, entry } from './backend.ts';
import { interpBackend } from './backends/interp.ts';
import { jsBackend } from './backends/js.ts';
import { cellRunBytes, checkMemory, maxBytes, printable, suggestion } from './limits.ts';
import { Rng } from './random.ts';
import { holes } from './unroll.ts';

export class InputError extends Error {}

/** A JSON key as a message echoes it (no control or line-separator characters). */
const key = printable;
/** A value as a message echoes it: short, on one line, without walking a large value. */
const brief = (x: Json): string =>
  Array.isArray(x) ? `an array of ${x.length}` : isObj(x) ? 'an object' : typeof x === 'string' ? printable(JSON.stringify(x.slice(0, 40))) : String(x);

type Json = unknown;
const isObj = (x: Json): x is Record<string, Json> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Shape of a nested array of numbers, or an error naming the path. */
/** The deepest nesting any value of the contract has: [T][B][rows][cols]. */
const MAX_NESTING = 4;

/** The shape of a nested array of numbers, visiting each element once; refused past MAX_NESTING levels. */
function shapeOf(x: Json, path: string, depth = 0): number[] {
  if (typeof x === 'number') return [];
  if (!Array.isArray(x)) throw new InputError(`${path}: expected a number or an array, got ${brief(x)}`);
  if (depth === MAX_NESTING) throw new InputError(`${path}: arrays nested more than ${MAX_NESTING} deep; no value of a cell has more than ${MAX_NESTING} levels ([T][B][rows][cols])`);
  if (x.length === 0) return [0];
  const inner = shapeOf(x[0], `${path}[0]`, depth + 1);
  for (let i = 1; i < x.length; i++) {
    const s = shapeOf(x[i]!, `${path}[${i}]`, depth + 1);
    if (s.length !== inner.length || s.some((d, k) => d !== inner[k])) throw new InputError(`${path}[${i}]: expected shape [${inner.join(', ')}], got [${s.join(', ')}]`);
  }
  return [x.length, ...inner];
}

function flatten(x: Json, path: string): Float64Array {
  const out: number[] = [];
  const walk = (y: Json, p: string) => {
    if (typeof y === 'number') {
      if (!Number.isFinite(y)) throw new InputError(`${p}: not a finite number`);
      out.push(y);
    } else (y as Json[]).forEach((z, i) => walk(z, `${p}[${i}]`));
  };
  walk(x, path);
  return Float64Array.from(out);
}

export const toNested = (t: Tensor, batch: number): Json => {
  const shape = [...(t.batched ? [batch] : []), ...t.dims];
  let i = 0;
  const build = (d: number): Json => (d === shape.length ? t.data[i++]! : Array.from({ length: shape[d]! }, () => build(d + 1)));
  return build(0);
};

/** Find the parameter a JSON key names: exactly, else case-insensitively if unambiguous (`W_aa` for `w_aa`). */
function matchKeys(names: readonly string[], keys: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const n of names) {
    if (keys.includes(n)) { map.set(n, n); continue; }
    const loose = keys.filter((k) => k.toLowerCase() === n.toLowerCase() && !names.includes(k));
    if (loose.length === 1 && names.filter((m) => m.toLowerCase() === n.toLowerCase()).length === 1) map.set(n, loose[0]!);
  }
  return map;
}

export interface EvalOptions {
  readonly seed?: number;
  /** Which backend runs the cell: the float64 interpreter (default) or generated JavaScript. */
  readonly backend?: 'interp' | 'js' | BackendFactory;
  /** The JS backend's precision (the interpreter is float64 only). */
  readonly precision?: 'f64' | 'f32';
  /** The memory a request may need (runtime/limits.ts: default 4 GiB or CELDA_MAX_MEMORY). */
  readonly maxBytes?: number;
}

function backendFactory(b: EvalOptions['backend']): BackendFactory {
  if (b === undefined || b === 'interp') return interpBackend;
  if (b === 'js') return jsBackend;
  return b;
}

const concat = (parts: readonly ArrayLike<number>[]): Float64Array => {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

/** Backends may compute in float32; JSON output reads the same numbers as float64. */
const f64 = (v: Vec): Float64Array => (v instanceof Float64Array ? v : Float64Array.from(v));

/** A flat [T][B][dims…] array as nested JSON; a step in `holes` (1-based, defined by no equation) is null. */
function nestSteps(v: Vec, steps: number, batch: number, dims: readonly number[], holes: readonly number[] = []): Json {
  const n = batch * dims.reduce((a, b) => a * b, 1);
  const d = f64(v);
  return Array.from({ length: steps }, (_, t) => (holes.includes(t + 1) ? null : toNested({ batched: true, dims, data: d.subarray(t * n, (t + 1) * n) }, batch)));
}

export interface EvalRequest {
  readonly params?: Json;
  readonly inputs: Json;
}

/** An equation for the dimensions: an axis of a given array must have this length. */
interface DimEq {
  readonly dim: Dim;
  readonly value: number;
  readonly what: string;
}

/** The sizes of a call: steps and batch, and every dimension bound. */
interface Sizes {
  readonly steps: number;
  readonly batch: number;
  readonly env: Map<string, number>;
}

/** The arrays of a request as tensors; `used` holds the parameters drawn at random (none given), to report them. */
interface Tensors {
  readonly params: Record<string, Tensor>;
  readonly used: Record<string, Json>;
  readonly inputs: Record<string, Tensor[]>;
  readonly init: Record<string, Tensor>;
}

export interface EvalResult {
  readonly result: Record<string, Json>;
  readonly warnings: string[];
  /** When a state, output or gradient is NaN or ±Infinity (printed as null): the first one, where it arose. */
  readonly nonfinite?: string;
}

export function evaluate(cell: CompiledCell, req: EvalRequest, opts: EvalOptions = {}): EvalResult {
  const warnings: string[] = [];
  const t = cell.typed;
  if (!isObj(req.inputs)) throw new InputError('inputs: expected a JSON object with "inputs", "batch", "steps", "dims"');
  const I = req.inputs;
  for (const k of Object.keys(I)) if (!INPUT_KEYS.includes(k)) throw new InputError(`inputs: unknown key \`${key(k)}\` (the keys are ${INPUT_KEYS.join(', ')})${suggestion(k, INPUT_KEYS)}`);
  const P = req.params === undefined ? undefined : req.params;
  if (P !== undefined && !isObj(P)) throw new InputError('params: expected a JSON object of named arrays');
  const stepsGiven = count(I, 'steps'), batchGiven = count(I, 'batch');

  // --- dimensions: given, then read from parameter, input and init shapes
  const given = givenDims(t, I.dims);
  const eqs: DimEq[] = [];
  const paramKey = P ? paramShapes(t, P, eqs) : new Map<string, string>();
  const inputsObj = I.inputs === undefined ? {} : I.inputs;
  if (!isObj(inputsObj)) throw new InputError('inputs.inputs: expected an object of named [T][B][n] arrays');
  const initObj = I.init === undefined ? {} : I.init;
  if (!isObj(initObj)) throw new InputError('inputs.init: expected an object of named [B][n] arrays');
  const stateNames = t.states.map((s) => s.name), inputNames = t.inputs.map((i) => i.name);
  for (const k of Object.keys(initObj)) if (!stateNames.includes(k)) throw new InputError(`inputs.init.${key(k)}: the cell has no state \`${key(k)}\` (states: ${stateNames.join(', ') || 'none'})${suggestion(k, stateNames)}`);
  for (const k of Object.keys(inputsObj)) if (!inputNames.includes(k)) throw new InputError(`inputs.inputs.${key(k)}: the cell has no input \`${key(k)}\` (inputs: ${inputNames.join(', ') || 'none'})${suggestion(k, inputNames)}`);
  const fromInputs = inputShapes(t, inputsObj, stepsGiven, batchGiven, eqs);
  const batch = initShapes(t, initObj, fromInputs.batch, batchGiven !== undefined ? 'inputs.batch' : 'the inputs', eqs);
  const sizes = bindSizes(t, fromInputs.steps, batch, given, eqs);
  // Before anything is allocated: what the run needs, against the limit.
  const { steps: T, batch: B, env } = sizes;
  checkMemory(`evaluating ${t.name} over ${T} step${T === 1 ? '' : 's'} of ${B} example${B === 1 ? '' : 's'} (${[...env].map(([k, v]) => `${k} = ${v}`).join(', ') || 'no dimensions'})`,
    cellRunBytes(cell, env, B, T), maxBytes(opts.maxBytes));

  // --- tensors, run through a backend: flat row-major arrays in, flat arrays out
  const x = tensors(t, sizes, P, paramKey, inputsObj, initObj, opts.seed ?? 0);
  const backend = backendFactory(opts.backend)(cell, { dims: Object.fromEntries(sizes.env), batch: sizes.batch, precision: opts.precision ?? 'f64' });
  const result = runForward(cell, backend, sizes, x);
  if (I.cotangents !== undefined) result.grads = runBackward(t, backend, sizes, x, paramKey, I.cotangents);
  const nonfinite = firstNonFinite(cell, result);
  return nonfinite === undefined ? { result, warnings } : { result, warnings, nonfinite };
}

/** The top-level keys of an inputs file. */
const INPUT_KEYS: readonly string[] = ['inputs', 'dims', 'steps', 'batch', 'init', 'cotangents'];

/** `steps` or `batch` of the inputs file: absent, or a whole number ≥ 1. */
function count(I: Record<string, Json>, k: 'steps' | 'batch'): number | undefined {
  const v = I[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InputError(`inputs.${k}: expected a whole number ≥ 1, got ${brief(v)}`);
  return v;
}

function givenDims(t: TypedCell, dims: Json): Map<string, number> {
  const given = new Map<string, number>();
  if (dims === undefined) return given;
  if (!isObj(dims)) throw new InputError('inputs.dims: expected an object like {"n_x": 4}');
  for (const [k, v] of Object.entries(dims)) {
    if (!t.dims.includes(k)) throw new InputError(`inputs.dims.${key(k)}: the cell has no dimension \`${key(k)}\` (dimensions: ${t.dims.join(', ') || 'none'})${suggestion(k, t.dims)}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InputError(`inputs.dims.${k}: expected a whole number ≥ 1, got ${brief(v)}`);
    given.set(k, v);
  }
  return given;
}

/** The JSON key of each parameter (refusing keys that name none), and the equations of their shapes. */
function paramShapes(t: TypedCell, P: Record<string, Json>, eqs: DimEq[]): Map<string, string> {
  const names = t.params.map((p) => p.name);
  const paramKey = matchKeys(names, Object.keys(P));
  const used = new Set(paramKey.values());
  for (const k of Object.keys(P)) if (!used.has(k)) throw new InputError(`params.${key(k)}: the cell has no parameter \`${key(k)}\` (parameters: ${names.join(', ') || 'none'})${suggestion(k, names.filter((n) => !paramKey.has(n)).length ? names.filter((n) => !paramKey.has(n)) : names)}`);
  for (const p of t.params) {
    const k = paramKey.get(p.name);
    if (k === undefined) throw new InputError(`params: missing \`${p.name}\` (${p.shape.length === 2 ? 'a matrix' : p.shape.length === 1 ? 'a vector' : 'a number'})`);
    const s = shapeOf(P[k], `params.${k}`);
    if (s.length !== p.shape.length) throw new InputError(`params.${k}: expected ${p.shape.length === 2 ? 'a matrix (array of rows)' : p.shape.length === 1 ? 'a vector' : 'a number'} of shape ${p.shape.map((d) => dimToString(d)).join(' × ') || 'scalar'}, got an array of depth ${s.length}`);
    p.shape.forEach((d, i) => eqs.push({ dim: d, value: s[i]!, what: `params.${k} axis ${i}` }));
  }
  return paramKey;
}

/** Steps and batch as given or read from the inputs' [T][B][n] arrays, and the equations of their widths. */
function inputShapes(t: TypedCell, inputsObj: Record<string, Json>, steps: number | undefined, batch: number | undefined, eqs: DimEq[]): { steps: number | undefined; batch: number | undefined } {
  for (const inp of t.inputs) {
    const v = entry(inputsObj, inp.name);
    if (v === undefined) throw new InputError(`inputs.inputs: missing \`${inp.name}\` ([T][B][${dimToString(inp.dim)}])`);
    const s = shapeOf(v, `inputs.inputs.${inp.name}`);
    if (s.length !== 3) throw new InputError(`inputs.inputs.${inp.name}: expected [T][B][${dimToString(inp.dim)}], got depth ${s.length}`);
    steps ??= s[0];
    batch ??= s[1];
    if (s[0] !== steps) throw new InputError(`inputs.inputs.${inp.name}: ${s[0]} steps, but steps is ${steps}`);
    if (s[1] !== batch) throw new InputError(`inputs.inputs.${inp.name}: batch of ${s[1]}, but batch is ${batch}`);
    eqs.push({ dim: inp.dim, value: s[2]!, what: `inputs.inputs.${inp.name}` });
  }
  return { steps, batch };
}

/** The batch, if still unknown, read from the initial states' [B][n] arrays; the equations of their widths. */
function initShapes(t: TypedCell, initObj: Record<string, Json>, batch: number | undefined, from: string, eqs: DimEq[]): number | undefined {
  for (const s of t.states) {
    const v = entry(initObj, s.name);
    if (v === undefined) continue;
    const sh = shapeOf(v, `inputs.init.${s.name}`);
    // [n], [rows, cols] for a matrix per example (nested rows), none for a scalar state (a bare number per example: [B])
    const sd = stateShapeDims(s);
    if (s.scalar && sh.length !== 1) throw new InputError(`inputs.init.${s.name}: expected [B], a number per example (\`${s.name}\` is a scalar state), got an array of depth ${sh.length}`);
    if (sh.length !== 1 + sd.length) throw new InputError(`inputs.init.${s.name}: expected [B]${sd.map((d) => `[${dimToString(d)}]`).join('')}`);
    if (batch !== undefined && sh[0] !== batch) throw new InputError(`inputs.init.${s.name}: a batch of ${sh[0]}, but ${from} ${from === 'inputs.batch' ? 'is' : 'have a batch of'} ${batch}`);
    if (batch === undefined) from = `inputs.init.${s.name}`;
    batch ??= sh[0];
    sd.forEach((d, i) => eqs.push({ dim: d, value: sh[1 + i]!, what: `inputs.init.${s.name}` }));
  }
  return batch;
}

/** Steps and batch checked (defaults: the unrolled length or 1, and 1), and every dimension a value needs bound. */
function bindSizes(t: TypedCell, stepsRead: number | undefined, batchRead: number | undefined, given: Map<string, number>, eqs: DimEq[]): Sizes {
  const steps = stepsRead ?? (t.mode === 'unrolled' ? t.steps : 1);
  const batch = batchRead ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new InputError('inputs.steps: expected a whole number ≥ 1');
  if (!Number.isInteger(batch) || batch < 1) throw new InputError('inputs.batch: expected a whole number ≥ 1');
  if (t.mode === 'unrolled' && steps !== t.steps) throw new InputError(`inputs.steps: cell \`${t.name}\` is unrolled over ${t.steps} steps, got ${steps}`);

  for (const [k, v] of Object.entries(t.dimDefaults)) if (!given.has(k)) eqs.push({ dim: { terms: [[k, 1]], k: 0 }, value: v, what: `dim ${k}` });
  const { env, error } = bindDims(given, eqs);
  if (error) throw new InputError(error);
  for (const [d, v] of env) if (!(v >= 1)) throw new InputError(`dimension ${d} would be ${v}${sourceOf(d, eqs)}: every dimension is at least 1`);
  const unbound = t.dims.filter((d) => !env.has(d));
  const needed = (d: Dim) => evalDim(d, env) === undefined;
  if (unbound.length && (t.params.some((p) => p.shape.some(needed)) || t.states.some((s) => stateDims(s).some(needed)) || t.outputs.some((o) => o.shape.dims.some(needed))))
    throw new InputError(`unbound dimension${unbound.length > 1 ? 's' : ''} ${unbound.join(', ')}: give ${unbound.length > 1 ? 'them' : 'it'} in inputs.dims or pass --params`);
  return { steps, batch, env };
}

/** ` (from inputs.init.a)`: the array a dimension was read from, when one was. */
function sourceOf(d: string, eqs: readonly DimEq[]): string {
  const eq = eqs.find((e) => e.dim.terms.length === 1 && e.dim.terms[0]![0] === d && e.dim.terms[0]![1] === 1 && e.dim.k === 0);
  return eq ? ` (read from ${eq.what})` : '';
}

/** The request's arrays as tensors; parameters not given drawn uniformly in ±1/√fan-in from the seed. */
function tensors(t: TypedCell, { env, batch }: Sizes, P: Record<string, Json> | undefined, paramKey: Map<string, string>, inputsObj: Record<string, Json>, initObj: Record<string, Json>, seed: number): Tensors {
  const rng = new Rng(seed);
  const params: Record<string, Tensor> = {};
  const used: Record<string, Json> = {};
  for (const p of t.params) {
    const dims = p.shape.map((d) => evalDim(d, env)!);
    const k = paramKey.get(p.name);
    if (P && k !== undefined) params[p.name] = { batched: false, dims, data: flatten(P[k], `params.${k}`) };
    else {
      const fanIn = dims.length === 2 ? dims[1]! : dims[0] ?? 1;
      const s = 1 / Math.sqrt(Math.max(1, fanIn));
      params[p.name] = { batched: false, dims, data: Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.uniform(-s, s)) };
      used[p.name] = toNested(params[p.name]!, batch);
    }
  }
  const seq = (v: Json, n: number, path: string): Tensor[] => (v as Json[]).map((x, i) => ({ batched: true, dims: [n], data: flatten(x, `${path}[${i}]`) }));
  const inputs: Record<string, Tensor[]> = {};
  for (const i of t.inputs) inputs[i.name] = seq(entry(inputsObj, i.name), evalDim(i.dim, env)!, `inputs.inputs.${i.name}`);
  const init: Record<string, Tensor> = {};
  for (const s of t.states) {
    const v = entry(initObj, s.name);
    if (v !== undefined) init[s.name] = { batched: true, dims: stateDims(s).map((d) => evalDim(d, env)!), data: flatten(v, `inputs.init.${s.name}`) };
  }
  return { params, used, inputs, init };
}

const stateSizes = (t: TypedCell, env: Map<string, number>, name: string) => stateShapeDims(t.states.find((x) => x.name === name)!).map((d) => evalDim(d, env)!);

/** States and outputs of every step (and the parameters drawn, if any). */
function runForward(cell: CompiledCell, backend: CellBackend, { steps, batch: B, env }: Sizes, x: Tensors): Record<string, Json> {
  const t = cell.typed;
  const h = holes(cell);
  const flat = (ts: readonly Tensor[]) => concat(ts.map((v) => v.data));
  const traj = backend.forward(
    steps,
    byName(Object.entries(x.params).map(([k, v]) => [k, v.data])),
    byName(Object.entries(x.inputs).map(([k, ts]) => [k, flat(ts)])),
    byName(Object.entries(x.init).map(([k, v]) => [k, v.data])),
  );
  const outputDims = (name: string) => t.outputs.find((o) => o.name === name)!.shape.dims.map((d) => evalDim(d, env)!);
  const result: Record<string, Json> = {
    states: Object.fromEntries(Object.entries(traj.states).map(([k, v]) => [k, nestSteps(v, steps, B, stateSizes(t, env, k), entry(h.states, k))])),
    outputs: Object.fromEntries(Object.entries(traj.outputs).map(([k, v]) => [k, nestSteps(v, steps, B, outputDims(k), entry(h.outputs, k))])),
  };
  if (Object.keys(x.used).length) result.params = x.used;
  return result;
}

/** The VJP of the last forward for the given cotangents: gradients of the parameters, inputs and initial states. */
function runBackward(t: TypedCell, backend: CellBackend, { steps, batch: B, env }: Sizes, x: Tensors, paramKey: Map<string, string>, cotangents: Json): Json {
  if (!isObj(cotangents)) throw new InputError('inputs.cotangents: expected an object of named [T][B][n] arrays');
  const cs = byName<Float64Array>(), co = byName<Float64Array>();
  for (const [k, v] of Object.entries(cotangents)) {
    const st = t.states.find((s) => s.name === k);
    const out = t.outputs.find((o) => o.name === k);
    const names = [...t.states.map((s) => s.name), ...t.outputs.map((o) => o.name)];
    if (!st && !out) throw new InputError(`inputs.cotangents.${key(k)}: the cell has no state or output \`${key(k)}\` (${names.join(', ')})${suggestion(k, names)}`);
    const want = [steps, B, ...(st ? stateShapeDims(st) : out!.shape.dims).map((d) => evalDim(d, env)!)];
    const got = shapeOf(v, `inputs.cotangents.${k}`);
    if (got.join() !== want.join()) throw new InputError(`inputs.cotangents.${k}: expected shape [${want.join(', ')}], got [${got.join(', ')}]`);
    (st ? cs : co)[k] = flatten(v, `inputs.cotangents.${k}`);
  }
  const g = backend.backward({ states: cs, outputs: co });
  const paramsOut = Object.fromEntries(t.params.map((p) => [paramKey.get(p.name) ?? p.name, toNested({ batched: false, dims: x.params[p.name]!.dims, data: f64(g.params[p.name]!) }, B)]));
  return {
    params: paramsOut,
    inputs: Object.fromEntries(t.inputs.map((i) => [i.name, nestSteps(g.inputs[i.name]!, steps, B, [evalDim(i.dim, env)!])])),
    init: Object.fromEntries(t.states.map((s) => [s.name, toNested({ batched: true, dims: stateSizes(t, env, s.name), data: f64(g.init[s.name]!) }, B)])),
  };
}

/** The first non-finite number of a nested array, as its index path ([2, 0, 1]), or null. */
function firstBad(x: Json, at: number[] = []): number[] | null {
  if (typeof x === 'number') return Number.isFinite(x) ? null : at;
  if (!Array.isArray(x)) return null;
  for (let i = 0; i < x.length; i++) {
    const r = firstBad(x[i], [...at, i]);
    if (r) return r;
  }
  return null;
}

const valueAt = (x: Json, at: readonly number[]): number => at.reduce<Json>((y, i) => (y as Json[])[i], x) as number;

/**
 * The first NaN or ±Infinity of a run, and where it arose: the state or output at
 * the earliest step (among them, the one whose equation comes first) with its
 * equation and line; else the first gradient. Undefined when every number is finite.
 */
function firstNonFinite(cell: CompiledCell, result: Record<string, Json>): string | undefined {
  const t = cell.typed;
  const order = (name: string) => { const i = t.equations.findIndex((e) => e.name === name); return i < 0 ? Infinity : i; };
  let best: { role: string; name: string; at: number[] } | undefined;
  for (const role of ['states', 'outputs'] as const) {
    for (const [name, v] of Object.entries(result[role] as Record<string, Json>)) {
      const at = firstBad(v);
      if (at && (!best || at[0]! < best.at[0]! || (at[0] === best.at[0] && order(name) < order(best.name)))) best = { role, name, at };
    }
  }
  if (best) {
    const { role, name, at } = best;
    const step = at[0]! + 1;
    const eq = t.equations.find((e) => e.name === name && e.step === (t.mode === 'unrolled' ? step : undefined)) ?? t.equations.find((e) => e.name === name);
    const where = eq ? `; its equation, line ${lineCol(cell.source, eq.span.start).line}: ${printable(cell.source.slice(eq.span.start, eq.span.end)).slice(0, 200)}` : '';
    const v = valueAt((result[role] as Record<string, Json>)[name], at);
    return `${role}.${name}${at.map((i) => `[${i}]`).join('')} is ${v} (the first non-finite value: ${role === 'states' ? 'state' : 'output'} \`${name}\` at step ${step}, batch row ${at[1]}${where})`;
  }
  const grads = result.grads as Record<string, Record<string, Json>> | undefined;
  if (!grads) return undefined;
  for (const part of ['params', 'inputs', 'init'] as const) {
    for (const [name, v] of Object.entries(grads[part]!)) {
      const at = firstBad(v);
      if (at) return `grads.${part}.${key(name)}${at.map((i) => `[${i}]`).join('')} is ${valueAt(v, at)} (the first non-finite value: the gradient of ${part === 'params' ? 'parameter' : part === 'inputs' ? `input \`${name}\` at step ${at[0]! + 1}` : 'initial state'}${part === 'inputs' ? '' : ` \`${key(name)}\``}; the states and outputs are finite)`;
    }
  }
  return undefined;
}
