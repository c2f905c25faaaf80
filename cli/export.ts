// `celda export CELL --to pytorch|onnx -o OUT [--cell NAME] [--force]`, for
// PyTorch `[--vjp celda|autograd]`, and for
// ONNX `[--dims n_x=4,n_a=3] [--params P.json | --seed N] [--params-as-inputs]`:
// the cell as a PyTorch module or an ONNX model (docs/export.md). A run
// directory of `celda train` in place of CELL exports the trained model
// (export-run.ts). The compiler
// makes the text or bytes; this file reads the options and writes the result,
// never over an existing file unless --force.

import { statSync, writeFileSync } from 'node:fs';
import type { CompiledCell } from '../compiler/compile.ts';
import type { Diagnostic } from '../compiler/diagnostics.ts';
import { render } from '../compiler/diagnostics.ts';
import type { Dim } from '../compiler/ir/dims.ts';
import { bindDims, dimToString, evalDim } from '../compiler/ir/dims.ts';
import { Rng } from '../runtime/random.ts';
import { cellFromFile, readTextFile, Reported, suggestion, UsageError } from './common.ts';
import { EXPORT } from './commands.ts';
import { parseOptions } from './options.ts';

const TARGETS = ['pytorch', 'onnx'] as const;

type Made = { ok: true; data: string | Uint8Array } | { ok: false; diagnostics: readonly Diagnostic[] };

interface OnnxFlags {
  readonly paramsAsInputs: boolean;
  readonly dims?: string;
  readonly params?: string;
  readonly seed?: string;
}

async function make(cell: CompiledCell, to: (typeof TARGETS)[number], o: OnnxFlags, vjp: string | undefined): Promise<Made> {
  if (vjp !== undefined && vjp !== 'celda' && vjp !== 'autograd') throw new UsageError(`--vjp must be celda or autograd, not \`${vjp}\``);
  if (vjp !== undefined && to !== 'pytorch') throw new UsageError('--vjp is for --to pytorch (the backward of an ONNX model is the runtime\'s business)');
  if (to === 'pytorch') {
    for (const [flag, v] of [['--params-as-inputs', o.paramsAsInputs || undefined], ['--dims', o.dims], ['--params', o.params], ['--seed', o.seed]] as const)
      if (v !== undefined) throw new UsageError(`${flag} is for --to onnx (the PyTorch module takes its dimensions as keyword arguments and initialises its own parameters)`);
    const r = (await import('../compiler/export/pytorch.ts')).exportPytorch(cell, { vjp: vjp as 'celda' | 'autograd' | undefined });
    return r.ok ? { ok: true, data: r.code } : r;
  }
  if (o.params !== undefined && o.seed !== undefined) throw new UsageError('--params and --seed: give one (--seed draws celda\'s default parameters)');
  if (o.params !== undefined && o.paramsAsInputs) throw new UsageError('--params and --params-as-inputs: with the flag the parameters are inputs of the model');
  const { dims, params } = onnxValues(cell, o);
  const r = (await import('../compiler/export/onnx.ts')).exportOnnx(cell, { dims, paramsAsInputs: o.paramsAsInputs, ...(params ? { params } : {}) });
  return r.ok ? { ok: true, data: r.bytes } : r;
}

/** `--dims n_x=4,n_a=3`. */
function parseDims(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (text ?? '').split(',').filter((p) => p.trim() !== '')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--dims: expected NAME=SIZE pairs like n_x=4,n_a=3, got \`${part}\``);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const flatten = (x: unknown, path: string): number[] => {
  if (typeof x === 'number' && Number.isFinite(x)) return [x];
  if (Array.isArray(x)) return x.flatMap((y, i) => flatten(y, `${path}[${i}]`));
  throw new UsageError(`${path}: expected finite numbers`);
};
const shapeOf = (x: unknown): number[] => (Array.isArray(x) ? [x.length, ...shapeOf(x[0])] : []);

/**
 * The dimensions (given, read from --params, or the cell's defaults) and the
 * parameter values: from --params (`celda eval`'s JSON), else celda's default
 * initialisation drawn as `celda eval --seed N` draws it.
 */
function onnxValues(cell: CompiledCell, o: OnnxFlags): { dims: Record<string, number>; params?: Record<string, number[]> } {
  const t = cell.typed;
  const given = parseDims(o.dims);
  for (const k of given.keys()) if (!t.dims.includes(k)) throw new UsageError(`--dims: cell \`${t.name}\` has no dimension \`${k}\` (${t.dims.join(', ') || 'none'})${suggestion(k, t.dims)}`);
  let json: Record<string, unknown> | undefined;
  if (o.params !== undefined) {
    try {
      json = JSON.parse(readTextFile(o.params, 'params')) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${o.params}: invalid JSON: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`${o.params}: expected a JSON object of named arrays`);
  }
  const eqs: { dim: Dim; value: number; what: string }[] = [];
  // a key may differ from the name only in case (`W_aa` for the notes' `w_{aa}`), as `celda eval` accepts
  const keyOf = (name: string): string | undefined => {
    if (Object.hasOwn(json!, name)) return name;
    const loose = Object.keys(json!).filter((k) => k.toLowerCase() === name.toLowerCase());
    return loose.length === 1 ? loose[0] : undefined;
  };
  const value = (name: string) => json![keyOf(name)!];
  for (const p of t.params) {
    if (!json) break;
    if (keyOf(p.name) === undefined) throw new UsageError(`${o.params}: missing \`${p.name}\``);
    const s = shapeOf(value(p.name));
    if (s.length !== p.shape.length) throw new UsageError(`${o.params}: \`${p.name}\` should have ${p.shape.length} axes (${p.shape.map((d) => dimToString(d)).join(' × ') || 'a number'}), has ${s.length}`);
    p.shape.forEach((d, i) => eqs.push({ dim: d, value: s[i]!, what: `${p.name} axis ${i}` }));
  }
  for (const [k, v] of Object.entries(t.dimDefaults)) if (!given.has(k)) eqs.push({ dim: { terms: [[k, 1]], k: 0 }, value: v, what: `dim ${k}` });
  const { env, error } = bindDims(given, eqs);
  if (error) throw new UsageError(error);
  const dims = Object.fromEntries(env);
  if (o.paramsAsInputs) return { dims };
  const missing = t.params.flatMap((p) => p.shape).concat(t.inputs.map((i) => i.dim), t.states.map((s) => s.dim)).some((d) => evalDim(d, dims) === undefined);
  if (missing) return { dims }; // the exporter names the dimension that has no size
  if (json) return { dims, params: Object.fromEntries(t.params.map((p) => [p.name, flatten(value(p.name), `${o.params}: ${p.name}`)])) };
  const seed = o.seed === undefined ? 0 : Number(o.seed);
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be a whole number');
  const rng = new Rng(seed);
  const params: Record<string, number[]> = {};
  for (const p of t.params) {
    const sizes = p.shape.map((d) => evalDim(d, dims)!);
    const fanIn = sizes.length === 2 ? sizes[1]! : sizes[0] ?? 1;
    const s = 1 / Math.sqrt(Math.max(1, fanIn));
    params[p.name] = Array.from({ length: sizes.reduce((a, b) => a * b, 1) }, () => rng.uniform(-s, s));
  }
  return { dims, params };
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, EXPORT);
  if (positionals.length !== 1) throw new UsageError(`expected one cell file or run directory, got ${positionals.length}`);
  const file = positionals[0]!;
  const to = values.to;
  if (to === undefined) throw new UsageError('celda export needs --to pytorch or --to onnx');
  if (!(TARGETS as readonly string[]).includes(to)) throw new UsageError(`--to must be pytorch or onnx, not \`${to}\``);
  const run = isDirectory(file);
  if (values.out === undefined) throw new UsageError(`celda export needs -o OUT (${to === 'pytorch' ? (run ? 'model.py' : 'cell.py') : run ? 'model.onnx' : 'cell.onnx'})`);
  if (run) {
    for (const [flag, v] of [['--cell', values.cell], ['--params-as-inputs', values['params-as-inputs'] || undefined], ['--dims', values.dims], ['--params', values.params], ['--seed', values.seed], ['--vjp', values.vjp]] as const)
      if (v !== undefined) throw new UsageError(`${flag} is for exporting a cell file; a run directory holds its cell, sizes and trained weights`);
    return (await import('./export-run.ts')).exportRun(file, to as (typeof TARGETS)[number], values.out, !!values.force);
  }
  const cell = cellFromFile(file, values.cell);
  const made = await make(cell, to as (typeof TARGETS)[number], { paramsAsInputs: values['params-as-inputs'] ?? false, dims: values.dims, params: values.params, seed: values.seed }, values.vjp);
  if (!made.ok) {
    const source = readTextFile(file, 'cell file');
    for (const d of made.diagnostics) process.stderr.write(render(d, file, source) + '\n');
    throw new Reported();
  }
  try {
    writeFileSync(values.out, made.data, { flag: values.force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${values.out} exists; pass --force to overwrite it`);
    throw new UsageError(`cannot write ${values.out}: ${code === 'ENOENT' ? 'no such directory' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
  process.stderr.write(`${values.out}: ${cell.name} as ${to === 'pytorch' ? 'a PyTorch module' : 'an ONNX model'}\n`);
  return 0;
}
