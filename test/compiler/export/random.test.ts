// Both exporters on random cells (fast-check, the generator the backends'
// property tests use: products of concatenations, transposed and multiplied
// parameter matrices, + − *, powers, negation, σ/tanh/softmax/softplus/relu,
// exp, several inputs, states, intermediates and outputs): PyTorch in float64
// matches the interpreter's values and all gradients to 1e-10, and the ONNX
// model runs in onnxruntime-node within float32 tolerance and passes the
// checker. The PyTorch part skips with the other engine tests when torch is
// missing (and fails under CELDA_REQUIRE_TORCH=1).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../compiler/export/onnx.ts';
import { randomCellSource, randomCellSpec } from '../../support/random-cell-source.ts';
import { pythonWith, relativeError, runPythonJson, torchRequired } from '../../support/python.ts';
import type { ExportCase } from './cases.ts';
import { makeCase, runTorch, torchErrors } from './cases.ts';

const N = 24;
const spec = randomCellSpec({ maxDepth: 4, extended: true, maxInters: 2, maxOutputs: 2, maxSize: 4 });
const cases: ExportCase[] = fc.sample(spec, { seed: 20261207, numRuns: N }).map((s, i) => {
  const { text, dims } = randomCellSource(s);
  return makeCase(`random-${i}.celda`, { source: text, sizes: dims, batch: 2, steps: 3, seed: i });
});

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
const shape = (x: unknown): number[] => (Array.isArray(x) ? [x.length, ...shape(x[0])] : []);
const tensor = (x: unknown) => new ort.Tensor('float32', Float32Array.from(flat(x)), shape(x));
const onnxModel = (c: ExportCase) => {
  const r = exportOnnx(c.cell, { dims: c.dims, params: Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, flat(v)])) });
  if (!r.ok) throw new Error(`${c.cell.source}\n${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.bytes;
};

const torchPy = pythonWith(['torch']);
const onnxPy = pythonWith(['onnx']);
const skipTorch = torchPy === null && !torchRequired();
const skipChecker = onnxPy === null && !torchRequired();

describe('exporters on random cells', () => {
  it(`${N} random cells: the ONNX model runs in onnxruntime-node within float32 tolerance of the interpreter`, async () => {
    for (const c of cases) {
      const session = await ort.InferenceSession.create(onnxModel(c));
      const t = c.cell.typed;
      const out = await session.run(Object.fromEntries([...t.inputs.map((i) => [i.name, tensor(c.inputs[i.name])]), ...t.states.map((s) => [`init_${s.name}`, tensor(c.init[s.name])])]));
      const want = c.expected as Record<'states' | 'outputs', Record<string, unknown>>;
      for (const k of ['states', 'outputs'] as const) for (const [name, v] of Object.entries(want[k])) {
        const got = out[name]!;
        const data = Array.from(got.data as Float32Array);
        expect(flat(v).length, `${c.cell.source}\n${name}`).toBe(data.length);
        expect(relativeError(flat(v), data), `${c.cell.source}\n${name}`).toBeLessThanOrEqual(1e-4);
      }
    }
  }, 120_000);

  it.skipIf(skipChecker)(`${N} random cells: onnx.checker.check_model(full_check=True) accepts every model`, () => {
    if (onnxPy === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports onnx');
    const dir = mkdtempSync(join(tmpdir(), 'celda-onnx-random-'));
    const paths = cases.map((c, i) => {
      const p = join(dir, `random-${i}.onnx`);
      writeFileSync(p, onnxModel(c));
      return p;
    });
    const verdicts = runPythonJson(onnxPy, join(import.meta.dirname, '..', '..', 'support', 'onnx_check.py'), paths) as (string | null)[];
    expect(verdicts.flatMap((v, i) => (v === null ? [] : [`${cases[i]!.cell.source}\n${v}`]))).toEqual([]);
  }, 120_000);

  it.skipIf(skipTorch)(`${N} random cells: PyTorch (float64, autograd) gives the interpreter's values and all gradients to 1e-10`, () => {
    if (torchPy === null) throw new Error('CELDA_REQUIRE_TORCH=1 but no python3 imports torch');
    const out = runTorch(torchPy, cases);
    const bad = cases.flatMap((c, i) => {
      const errors = Object.entries(torchErrors(c, out[i]!)).filter(([, e]) => !(e <= 1e-10));
      const scripted = (out[i] as { scripted_diff?: number }).scripted_diff;
      return errors.length || !(scripted! <= 1e-12) ? [`${c.cell.source}\n${JSON.stringify(errors)} scripted ${scripted}`] : [];
    });
    expect(bad).toEqual([]);
  }, 300_000);
});
