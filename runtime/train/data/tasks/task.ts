// The contract of a training task: its data, its topology and sizes, its
// default settings, and how it measures a model.

import type { Example } from '../batch.ts';
import type { Model, Topology } from '../../model/model.ts';
import type { Table } from '../../tensor.ts';

export interface TaskData {
  readonly train: readonly Example[];
  readonly val: readonly Example[];
  readonly test: readonly Example[];
}

/** Every training setting a task gives a default for (the CLI may override each). */
export interface Settings {
  readonly hidden: number;
  readonly layers: number;
  readonly embed: number;
  readonly bidirectional: boolean;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly optimizer: 'sgd' | 'adam' | 'adamw';
  readonly weightDecay: number;
  readonly momentum: number;
  /** `constant`, `cosine[:N[:FLOOR]]`, `step:N:GAMMA` (see schedule.ts). */
  readonly schedule: string;
  readonly warmup: number;
  /** Horizon of the cosine schedule when not given in `schedule`. */
  readonly decaySteps: number;
  readonly clip: number;
  readonly init: 'glorot' | 'orthogonal';
  readonly forgetBias: number;
  readonly bptt: number;
  readonly evalEvery: number;
  /** Examples of the validation split the periodic evaluation uses (the final one uses all). */
  readonly evalSize: number;
  /** Threads computing each step's gradient (data parallel; part of the run's definition). */
  readonly threads: number;
  /** Batch sequences of similar length together (less padding; see loop.ts `epochOrder`). */
  readonly bucket: boolean;
}

export interface Evaluation {
  readonly model: Model;
  readonly params: Table;
}

export interface Task {
  readonly name: string;
  readonly topology: Topology;
  readonly summary: string;
  readonly inVocab: number;
  readonly classes: number;
  /** Encoder–decoder and one-to-many: the end-of-sequence class. */
  readonly eos?: number;
  readonly defaults: Settings;
  load(): TaskData;
  /** The metric shown while training, and which way is better. */
  readonly watch: { readonly name: string; readonly better: 'lower' | 'higher' };
  /** The metrics of the final JSON line, on a split (the validation split in `celda train`). */
  metrics(ev: Evaluation, examples: readonly Example[], train: readonly Example[]): Record<string, number>;
  /** `celda predict`: parse one input line into a source sequence. */
  parseInput(text: string): Int32Array;
  /** Render a source sequence and the model's prediction for it. */
  show(source: Int32Array | null, prediction: Int32Array): string;
}
