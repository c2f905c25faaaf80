// The cells every exporter is tested on: every example cell (the folder is
// listed, so a cell added later is covered) and the fixture with every op, each
// with seeded parameters, inputs, initial states and cotangents in `celda eval`'s
// JSON, and the interpreter's answer to them.

import { stateShapeDims } from '../../../compiler/check/typed-cell.ts';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { exportPytorch } from '../../../compiler/export/pytorch.ts';
import { pyIdentifier } from '../../../compiler/export/python-text.ts';
import { relativeError, runPythonJson } from '../../support/python.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { evalDim } from '../../../compiler/ir/dims.ts';
import { evaluate } from '../../../runtime/eval-json.ts';
import { Rng } from '../../../runtime/random.ts';
import { compileOk, EXAMPLES } from '../../support/cells.ts';
import { cellDims } from '../../support/numeric.ts';

export const FIXTURES = join(import.meta.dirname, 'cells');

export interface ExportCase {
  readonly file: string;
  readonly cell: CompiledCell;
  readonly dims: Record<string, number>;
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, unknown>;
  readonly init: Record<string, unknown>;
  readonly cotangents: { states: Record<string, unknown>; outputs: Record<string, unknown> };
  /** The interpreter's states, outputs and grads for these. */
  readonly expected: Record<string, unknown>;
  /** Its states and outputs with every state at its declared initial value. */
  readonly expectedDefaultInit: Record<string, unknown>;
}

const SIZES: Record<string, number> = { n_x: 3, n_a: 4, n_h: 4, n_y: 3, d: 4, D: 3, N: 2 };
/** Research cells (examples/zoo/): exported and checked like the example cells. */
const ZOO = join(EXAMPLES, '..', 'zoo');

export function cellFiles(): string[] {
  return [
    ...readdirSync(EXAMPLES).filter((f) => f.endsWith('.celda')).sort().map((f) => join(EXAMPLES, f)),
    ...readdirSync(ZOO).filter((f) => f.endsWith('.celda')).sort().map((f) => join(ZOO, f)),
    ...readdirSync(FIXTURES).filter((f) => f.endsWith('.celda')).sort().map((f) => join(FIXTURES, f)),
  ];
}

/** celda eval's result with each hole (a step no equation defines: null) as the zeros an export gives there, shaped as a defined step. */
function holesAsZeros(result: Record<string, unknown>): Record<string, unknown> {
  const zeros = (x: unknown): unknown => (Array.isArray(x) ? x.map(zeros) : 0);
  const fill = (steps: unknown[]) => { const some = steps.find((v) => v !== null); return steps.map((v) => (v === null ? zeros(some) : v)); };
  const out = { ...result };
  for (const role of ['states', 'outputs'] as const) {
    const r = result[role] as Record<string, unknown[]> | undefined;
    if (r) out[role] = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fill(v)]));
  }
  return out;
}

/** A case for a cell file; `params` replaces the random parameters (same shapes). */
export function makeCase(file: string, opts: { batch?: number; steps?: number; seed?: number; params?: Record<string, unknown>; sizes?: Record<string, number>; source?: string } = {}): ExportCase {
  const cell = compileOk(opts.source ?? readFileSync(file, 'utf8'))[0]!;
  const t = cell.typed;
  const rng = new Rng(opts.seed ?? 11);
  const dims = Object.fromEntries(cellDims(cell).map((d) => [d, t.dimDefaults[d] ?? opts.sizes?.[d] ?? SIZES[d] ?? 2]));
  const num = (d: Parameters<typeof evalDim>[0]) => evalDim(d, dims)!;
  const B = opts.batch ?? 3, T = t.mode === 'unrolled' ? t.steps : opts.steps ?? 4;
  const arr = (shape: readonly number[], scale = 1): unknown => (shape.length === 0 ? scale * rng.normal() : Array.from({ length: shape[0]! }, () => arr(shape.slice(1), scale)));
  const random = Object.fromEntries(t.params.map((p) => [p.name, arr(p.shape.map(num), 0.5)]));
  const params = opts.params ?? random;
  const inputs = Object.fromEntries(t.inputs.map((i) => [i.name, arr([T, B, num(i.dim)])]));
  // a scalar state (`state m : 1`) is a bare number per example; a matrix per example is nested rows
  const stateFeat = (s: (typeof t.states)[number]) => stateShapeDims(s).map(num);
  const init = Object.fromEntries(t.states.map((s) => [s.name, arr([B, ...stateFeat(s)])]));
  const cotangents = {
    states: Object.fromEntries(t.states.map((s) => [s.name, arr([T, B, ...stateFeat(s)])])),
    outputs: Object.fromEntries(t.outputs.map((o) => [o.name, arr([T, B, ...o.shape.dims.map(num)])])),
  };
  const request = { dims, batch: B, steps: T, inputs };
  const expected = holesAsZeros(evaluate(cell, { params, inputs: { ...request, init, cotangents: { ...cotangents.states, ...cotangents.outputs } } }).result);
  const expectedDefaultInit = holesAsZeros(evaluate(cell, { params, inputs: request }).result);
  return { file, cell, dims: Object.fromEntries(t.dims.map((d) => [d, dims[d]!])), params, inputs, init, cotangents, expected, expectedDefaultInit };
}

// ---------------------------------------------------------------- running PyTorch

/** Export every case to PyTorch (with celda's own VJP as the step's backward, `vjp: 'celda'`) and run them all in one python3 process (its start-up takes seconds). */
export function runTorch(py: string, cs: readonly ExportCase[], opts: { vjp?: 'celda' } = {}): Record<string, unknown>[] {
  const dir = mkdtempSync(join(tmpdir(), 'celda-export-'));
  const req = cs.map((c, i) => {
    const r = exportPytorch(c.cell, opts);
    if (!r.ok) throw new Error(`${basename(c.file)}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    const module = join(dir, `cell_${i}.py`);
    writeFileSync(module, r.code);
    return {
      module, cls: pyIdentifier(c.cell.name), dims: c.dims,
      params: Object.fromEntries(Object.entries(c.params).map(([k, v]) => [pyIdentifier(k), v])),
      inputs: c.inputs, init: c.init, cotangents: c.cotangents,
      // a torch.autograd.Function is eager only: TorchScript does not compile one
      script: opts.vjp !== 'celda',
    };
  });
  return runPythonJson(py, join(import.meta.dirname, '..', '..', 'support', 'export_check.py'), req) as Record<string, unknown>[];
}

/** Relative errors of PyTorch's states, outputs and gradients against the interpreter's, by entry. */
export function torchErrors(c: ExportCase, got: Record<string, unknown>): Record<string, number> {
  if (got.error !== undefined) return { [`error: ${String(got.error)}`]: Infinity };
  type R = { states: Record<string, unknown>; outputs: Record<string, unknown>; grads: Record<string, Record<string, unknown>> };
  const want = c.expected as R, g = got as R;
  const errors: Record<string, number> = {};
  for (const k of ['states', 'outputs'] as const) for (const [name, v] of Object.entries(want[k])) errors[`${k}.${name}`] = relativeError(v, g[k][name]);
  for (const k of ['params', 'inputs', 'init']) for (const [name, v] of Object.entries(want.grads[k]!)) errors[`grads.${k}.${name}`] = relativeError(v, g.grads[k]![pyIdentifier(name)]);
  return errors;
}
