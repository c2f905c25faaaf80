// `celda export runs/DIR --to pytorch|onnx -o OUT [--force]`: the model a
// `celda train` run trained, with its weights. The checkpoint is read and
// checked as `celda predict` reads it (format version, checksum, settings,
// shapes); what it holds is described to the compiler's exporters
// (compiler/export/model-*.ts), which make the text or bytes. A damaged or
// incomplete directory is one `error:` line, never a stack trace.
//
// PyTorch writes two files: OUT (model.py) and the weights beside it
// (model.safetensors), neither over an existing file unless --force.

import { basename, dirname, join } from 'node:path';
import { writeFileSync, existsSync } from 'node:fs';
import type { CompiledCell } from '../compiler/compile.ts';
import type { Diagnostic } from '../compiler/diagnostics.ts';
import { render } from '../compiler/diagnostics.ts';
import type { TrainedModel } from '../compiler/export/model-pytorch.ts';
import { interpBackend } from '../runtime/backends/interp.ts';
import { TrainError } from '../runtime/train/errors.ts';
import type { Checkpoint } from '../runtime/train/io/checkpoint.ts';
import { loadCheckpoint, validateTable } from '../runtime/train/io/checkpoint.ts';
import { describeModel, weightsFile } from '../runtime/train/io/model-export.ts';
import { getTask } from '../runtime/train/data/tasks/index.ts';
import type { Task } from '../runtime/train/data/tasks/task.ts';
import type { Model } from '../runtime/train/model/model.ts';
import { modelFor } from '../runtime/train/run/loop.ts';
import { validateConfig } from '../runtime/train/run/settings.ts';
import { cellFrom, Reported, UsageError } from './common.ts';

export interface Restored {
  readonly ck: Checkpoint;
  readonly task: Task;
  readonly cell: CompiledCell;
  readonly model: Model;
}

/** A run directory read and checked as `celda predict` checks it; a problem is a TrainError. */
export function restoreRun(dir: string): Restored {
  const ck = loadCheckpoint(dir);
  const config = validateConfig(ck.config, join(dir, 'model.safetensors'));
  const task = getTask(config.task);
  const cell = cellFrom(ck.cellSource, join(dir, 'cell.celda'), ck.cellName || undefined, '--cell-name');
  // The model's structure only: no backend runs here.
  const model = modelFor(task, cell, config, interpBackend);
  validateTable(`the parameters in ${dir}`, ck.params, model.shapes);
  return { ck, task, cell, model };
}

/** What the exporters need to know of a restored run. */
export const describeRun = (r: Restored, weights: string): TrainedModel => describeModel(r.model, r.task, r.cell, r.ck.step, weights);

/** The weights file written beside OUT: `model.py` → `model.safetensors`. */
export const weightsPath = (out: string) => join(dirname(out), `${basename(out).replace(/\.py$/, '')}.safetensors`);

function writeNew(path: string, data: string | Uint8Array, force: boolean): void {
  try {
    writeFileSync(path, data, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${path} exists; pass --force to overwrite it`);
    throw new UsageError(`cannot write ${path}: ${code === 'ENOENT' ? 'no such directory' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
}

export async function exportRun(dir: string, to: 'pytorch' | 'onnx', out: string, force: boolean): Promise<number> {
  let r: Restored;
  try {
    r = restoreRun(dir);
  } catch (e) {
    if (!(e instanceof TrainError)) throw e;
    process.stderr.write(`error: cannot export ${dir}: ${e.message}\n`);
    throw new Reported();
  }
  if (r.ck.recovered) process.stderr.write(`note: ${r.ck.recovered}\n`);
  const what = `${r.task.name} (${r.model.spec.topology}) · ${r.cell.name}, step ${r.ck.step}`;
  if (to === 'onnx') {
    const made = (await import('../compiler/export/model-onnx.ts')).exportTrainedOnnx(describeRun(r, ''), Object.fromEntries(r.ck.params));
    if (!made.ok) return reportDiagnostics(made.diagnostics, r, dir);
    writeNew(out, made.bytes, force);
    process.stderr.write(`${out}: the trained model ${what} as an ONNX model\n`);
    return 0;
  }
  const weights = weightsPath(out);
  const made = (await import('../compiler/export/model-pytorch.ts')).exportTrainedPytorch(describeRun(r, basename(weights)));
  if (!made.ok) return reportDiagnostics(made.diagnostics, r, dir);
  if (!force) for (const p of [out, weights]) if (existsSync(p)) throw new UsageError(`${p} exists; pass --force to overwrite it`);
  const bytes = weightsFile(r.ck.params, { step: r.ck.step, task: r.task.name, cellName: r.cell.name, cellSource: r.ck.cellSource, config: r.ck.config });
  writeNew(weights, bytes, force);
  writeNew(out, made.code, force);
  process.stderr.write(`${out}: the trained model ${what} as a PyTorch module; its weights in ${weights}\n`);
  return 0;
}

function reportDiagnostics(diagnostics: readonly Diagnostic[], r: Restored, dir: string): never {
  for (const d of diagnostics) process.stderr.write(render(d, join(dir, 'cell.celda'), r.ck.cellSource) + '\n');
  throw new Reported();
}
