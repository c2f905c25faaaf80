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
import type { TrainedBlock, TrainedModel, TrainedStack } from '../compiler/export/model-pytorch.ts';
import { interpBackend } from '../runtime/backends/interp.ts';
import { TrainError } from '../runtime/train/errors.ts';
import type { Checkpoint } from '../runtime/train/io/checkpoint.ts';
import { FORMAT, loadCheckpoint, validateTable } from '../runtime/train/io/checkpoint.ts';
import { encodeSafetensors } from '../runtime/train/io/safetensors.ts';
import type { NamedTensor } from '../runtime/train/io/safetensors.ts';
import { getTask } from '../runtime/train/data/tasks/index.ts';
import type { Task } from '../runtime/train/data/tasks/task.ts';
import type { Block } from '../runtime/train/model/stack.ts';
import type { Model, SeqModule } from '../runtime/train/model/model.ts';
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

const blockOf = (b: Block): TrainedBlock => {
  const plan = b.kind === 'uni' ? b.layer.plan : b.fwd.plan;
  return { kind: b.kind, dims: plan.dims, readout: plan.readout };
};

function stackOf(model: Model, prefix: TrainedStack['prefix'], mod: SeqModule): TrainedStack {
  const vocab = mod.code.param === null ? mod.code.size : model.shapes.get(mod.code.param)![0]!;
  return { prefix, vocab, embed: mod.code.param === null ? 0 : mod.code.size, blocks: mod.stack.blocks.map(blockOf) };
}

/** What the exporters need to know of a restored run. */
export function describeRun(r: Restored, weights: string): TrainedModel {
  const { model, task, ck } = r;
  const encDec = model.decoder !== null;
  return {
    cell: r.cell,
    task: task.name,
    topology: model.spec.topology,
    classes: task.classes,
    ...(task.eos !== undefined ? { eos: task.eos } : {}),
    step: ck.step,
    encoder: stackOf(model, encDec ? 'encoder.' : '', model.encoder),
    decoder: model.decoder ? stackOf(model, 'decoder.', model.decoder) : null,
    head: { source: model.head.source, kind: model.head.kind, size: model.head.size, inSize: model.head.inSize },
    tensors: [...model.shapes.keys()],
    weights,
  };
}

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
  const tensors = new Map<string, NamedTensor>([...r.ck.params].map(([k, v]) => [k, { dtype: 'F64', shape: v.shape, data: v.data }]));
  const bytes = encodeSafetensors(tensors, { format: FORMAT, step: String(r.ck.step), task: r.task.name, cell_name: r.cell.name, cell: r.ck.cellSource, config: JSON.stringify(r.ck.config) });
  writeNew(weights, bytes, force);
  writeNew(out, made.code, force);
  process.stderr.write(`${out}: the trained model ${what} as a PyTorch module; its weights in ${weights}\n`);
  return 0;
}

function reportDiagnostics(diagnostics: readonly Diagnostic[], r: Restored, dir: string): never {
  for (const d of diagnostics) process.stderr.write(render(d, join(dir, 'cell.celda'), r.ck.cellSource) + '\n');
  throw new Reported();
}
