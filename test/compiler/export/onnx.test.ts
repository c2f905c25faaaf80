// `celda export --to onnx` against the reference semantics: every example cell
// (and the fixture with every op) exported as an ONNX model passes the ONNX
// checker with full_check (Debian's python3-onnx) and runs in onnxruntime-node
// with states and outputs within float32 tolerance of the interpreter — with
// the parameters as initializers and as graph inputs. The model's interface is
// the documented one. Without a python3 that imports onnx the checker test
// prints one line and skips — unless CELDA_REQUIRE_TORCH=1 (CI), where it fails.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx, ModelProto, OPSET } from '../../../compiler/export/onnx.ts';
import { compileOk } from '../../support/cells.ts';
import { pythonWith, relativeError, runPythonJson, torchRequired } from '../../support/python.ts';
import type { ExportCase } from './cases.ts';
import { cellFiles, makeCase } from './cases.ts';

/** float32 throughout, over a few steps: relative to each array's largest entry. */
const TOL = 2e-5;
const py = pythonWith(['onnx']);
const skipChecker = py === null && !torchRequired();
if (skipChecker) console.log('SKIP ONNX checker tests: no python3 imports onnx (Debian: python3-onnx); set CELDA_REQUIRE_TORCH=1 to make this a failure');

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
const shape = (x: unknown): number[] => (Array.isArray(x) ? [x.length, ...shape(x[0])] : []);
const tensor = (x: unknown) => new ort.Tensor('float32', Float32Array.from(flat(x)), shape(x));
/** An ORT result as nested arrays of the given shape. */
function nest(data: ArrayLike<number>, dims: readonly number[]): unknown {
  let i = 0;
  const build = (d: number): unknown => (d === dims.length ? data[i++] : Array.from({ length: dims[d]! }, () => build(d + 1)));
  return build(0);
}

function model(c: ExportCase, paramsAsInputs: boolean): Uint8Array {
  const r = exportOnnx(c.cell, { dims: c.dims, paramsAsInputs, params: Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, flat(v)])) });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.bytes;
}

async function run(c: ExportCase, paramsAsInputs: boolean) {
  const session = await ort.InferenceSession.create(model(c, paramsAsInputs));
  const t = c.cell.typed;
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of t.inputs) feeds[i.name] = tensor(c.inputs[i.name]);
  for (const s of t.states) feeds[`init_${s.name}`] = tensor(c.init[s.name]);
  if (paramsAsInputs) for (const p of t.params) feeds[p.name] = tensor(c.params[p.name]);
  const out = await session.run(feeds);
  return { session, out };
}

const files = cellFiles();
const cases = new Map(files.map((f) => [f, makeCase(f)]));

describe('ONNX export in onnxruntime-node', () => {
  it.each(files.map((f) => [basename(f), f]))('%s: the interface is the documented one, and the states and outputs match the interpreter in float32', async (_n, file) => {
    const c = cases.get(file)!;
    const t = c.cell.typed;
    for (const paramsAsInputs of [false, true]) {
      const { session, out } = await run(c, paramsAsInputs);
      expect(session.inputNames).toEqual([...t.inputs.map((i) => i.name), ...t.states.map((s) => `init_${s.name}`), ...(paramsAsInputs ? t.params.map((p) => p.name) : [])]);
      expect(session.outputNames).toEqual([...t.states.map((s) => s.name), ...t.outputs.map((o) => o.name)]);
      const want = c.expected as Record<'states' | 'outputs', Record<string, unknown>>;
      const errors: Record<string, number> = {};
      for (const k of ['states', 'outputs'] as const) for (const [name, v] of Object.entries(want[k])) {
        const got = out[name]!;
        expect(got.dims, name).toEqual(shape(v));
        errors[`${k}.${name}`] = relativeError(v, nest(got.data as Float32Array, got.dims));
      }
      expect(Object.keys(errors).length).toBe(t.states.length + t.outputs.length);
      expect(Object.entries(errors).filter(([, e]) => !(e <= TOL))).toEqual([]);
    }
  });

  it('T and B are free: the same model runs on another batch size and sequence length', async () => {
    const gru = files.find((f) => basename(f) === 'gru.celda')!;
    const first = cases.get(gru)!;
    const session = await ort.InferenceSession.create(model(first, false));
    const c = makeCase(gru, { batch: 5, steps: 9, seed: 3, params: first.params });
    const out = await session.run({ x: tensor(c.inputs.x), init_c: tensor(c.init.c) });
    expect(out.c!.dims).toEqual([9, 5, 4]);
    const want = (c.expected as { states: Record<string, unknown> }).states.c;
    expect(relativeError(want, nest(out.c!.data as Float32Array, out.c!.dims))).toBeLessThanOrEqual(TOL);
  });

  it('an unrolled cell\'s holes read one zeros value per name, not one per step (many-to-one: ŷ^<1>, ŷ^<2>)', () => {
    const c = cases.get(files.find((f) => basename(f) === 'many-to-one.celda')!)!;
    const graph = (ModelProto.toObject(ModelProto.decode(model(c, true))) as { graph: { node: { opType: string; input?: string[]; output: string[]; attribute?: { t?: { rawData?: Uint8Array } }[] }[] } }).graph;
    const zero = graph.node.filter((n) => n.opType === 'Constant' && n.attribute?.[0]?.t?.rawData?.length === 4 && new DataView(n.attribute[0].t.rawData.buffer, n.attribute[0].t.rawData.byteOffset).getFloat32(0, true) === 0).map((n) => n.output[0]);
    expect(zero.length).toBe(1);
    expect(graph.node.filter((n) => n.opType === 'Expand' && n.input?.[0] === zero[0]).length).toBe(1);
    const steps = graph.node.find((n) => n.opType === 'Concat' && n.output[0] === 'y_hat')!.input!;
    expect(steps.length).toBe(3);
    expect(steps[0]).toBe(steps[1]);
    expect(steps[2]).not.toBe(steps[0]);
  });

  it('opset and IR version, and a cell without numbers for its dimensions is a positioned error', () => {
    expect(OPSET).toBeGreaterThanOrEqual(17);
    const src = 'cell R {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W[a^<t-1>, x^<t>])\n}';
    const r = exportOnnx(compileOk(src)[0]!, { dims: { n_x: 2 }, paramsAsInputs: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).toContain('n_a');
  });
});

describe.skipIf(skipChecker)('ONNX export: onnx.checker.check_model(full_check=True)', () => {
  it('accepts every exported model, with initializers and with parameters as inputs', () => {
    if (py === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports onnx (install Debian\'s python3-onnx)');
    const dir = mkdtempSync(join(tmpdir(), 'celda-onnx-'));
    const paths = files.flatMap((f, i) => [false, true].map((asInputs) => {
      const p = join(dir, `${i}-${basename(f, '.celda')}${asInputs ? '-inputs' : ''}.onnx`);
      writeFileSync(p, model(cases.get(f)!, asInputs));
      return p;
    }));
    const verdicts = runPythonJson(py, join(import.meta.dirname, '..', '..', 'support', 'onnx_check.py'), paths) as (string | null)[];
    expect(verdicts.length).toBe(paths.length);
    expect(paths.map((p, i) => [basename(p), verdicts[i]]).filter(([, v]) => v !== null)).toEqual([]);
  });
});

