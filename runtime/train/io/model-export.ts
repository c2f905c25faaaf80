// A trained model made into files: the description the compiler's exporters
// (compiler/export/model-*.ts) take, and the PyTorch module with its
// safetensors weights, or the ONNX model with the weights as initializers.
// `celda export runs/DIR` (cli/export-run.ts) and the playground's trainer
// (web/train/trainer.ts) both make their files here; no `node:*`.

import type { CompiledCell } from '../../../compiler/compile.ts';
import type { Diagnostic } from '../../../compiler/diagnostics.ts';
import type { TrainedBlock, TrainedModel, TrainedStack } from '../../../compiler/export/model-pytorch.ts';
import type { Task } from '../data/tasks/task.ts';
import type { Block } from '../model/stack.ts';
import type { Model, SeqModule } from '../model/model.ts';
import type { Table } from '../tensor.ts';
import type { NamedTensor } from './safetensors.ts';
import { encodeSafetensors } from './safetensors.ts';

/** The format of celda's checkpoints and of the weights files its exports write. */
export const FORMAT = 'celda-checkpoint-1';

const blockOf = (b: Block): TrainedBlock => {
  const plan = b.kind === 'uni' ? b.layer.plan : b.fwd.plan;
  return { kind: b.kind, dims: plan.dims, readout: plan.readout };
};

function stackOf(model: Model, prefix: TrainedStack['prefix'], mod: SeqModule): TrainedStack {
  const vocab = mod.code.param === null ? mod.code.size : model.shapes.get(mod.code.param)![0]!;
  return { prefix, vocab, embed: mod.code.param === null ? 0 : mod.code.size, blocks: mod.stack.blocks.map(blockOf) };
}

/** What the exporters need to know of a model trained `step` steps; `weights` names the weights file beside the module. */
export function describeModel(model: Model, task: Task, cell: CompiledCell, step: number, weights: string): TrainedModel {
  const encDec = model.decoder !== null;
  return {
    cell,
    task: task.name,
    topology: model.spec.topology,
    classes: task.classes,
    ...(task.eos !== undefined ? { eos: task.eos } : {}),
    step,
    encoder: stackOf(model, encDec ? 'encoder.' : '', model.encoder),
    decoder: model.decoder ? stackOf(model, 'decoder.', model.decoder) : null,
    head: { source: model.head.source, kind: model.head.kind, size: model.head.size, inSize: model.head.inSize },
    tensors: [...model.shapes.keys()],
    weights,
  };
}

/** What the weights file says of the run, beside the tensors. */
export interface WeightsMeta {
  readonly step: number;
  readonly task: string;
  readonly cellName: string;
  readonly cellSource: string;
  readonly config: unknown;
}

/** The trained parameters as a safetensors file (float64, the checkpoint's names and order). */
export function weightsFile(params: Table, m: WeightsMeta): Uint8Array {
  const tensors = new Map<string, NamedTensor>([...params].map(([k, v]) => [k, { dtype: 'F64', shape: v.shape, data: v.data }]));
  return encodeSafetensors(tensors, { format: FORMAT, step: String(m.step), task: m.task, cell_name: m.cellName, cell: m.cellSource, config: JSON.stringify(m.config) });
}

export type ModelFiles =
  | { readonly ok: true; readonly files: readonly { readonly name: string; readonly data: string | Uint8Array }[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/**
 * The trained model as PyTorch (`BASE.py` and `BASE.safetensors`) or ONNX
 * (`BASE.onnx`, weights as initializers), or the exporter's diagnostics
 * (E050: a topology ONNX cannot hold as one forward pass).
 */
export async function modelFiles(to: 'pytorch' | 'onnx', base: string, model: Model, task: Task, cell: CompiledCell, params: Table, meta: WeightsMeta): Promise<ModelFiles> {
  if (to === 'onnx') {
    const made = (await import('../../../compiler/export/model-onnx.ts')).exportTrainedOnnx(describeModel(model, task, cell, meta.step, ''), Object.fromEntries(params));
    return made.ok ? { ok: true, files: [{ name: `${base}.onnx`, data: made.bytes }] } : made;
  }
  const made = (await import('../../../compiler/export/model-pytorch.ts')).exportTrainedPytorch(describeModel(model, task, cell, meta.step, `${base}.safetensors`));
  return made.ok ? { ok: true, files: [{ name: `${base}.py`, data: made.code }, { name: `${base}.safetensors`, data: weightsFile(params, meta) }] } : made;
}
