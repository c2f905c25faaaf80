// The messages between the page, the training worker and the device worker.

import type { RunConfig } from '../../runtime/train/run/settings.ts';

export type BackendChoice = 'webgl2' | 'webgpu' | 'wasm';

export interface StartRun {
  readonly type: 'start';
  readonly source: string;
  readonly cellName: string;
  readonly task: 'names' | 'gender' | 'entities';
  readonly hidden: number;
  readonly layers: number;
  readonly optimizer: 'sgd' | 'adam' | 'adamw';
  /** As `celda train --schedule`: constant, cosine[:N[:FLOOR]], step:N:GAMMA. */
  readonly schedule: string;
  readonly steps: number;
  readonly backend: BackendChoice;
  /** Where the task data lives (dist-web/data/). */
  readonly dataUrl: string;
  /** gpu.js backends: the device worker's port and the shared reply buffer (bridge.ts). */
  readonly device?: { readonly port: MessagePort; readonly reply: SharedArrayBuffer; readonly label: string };
  /** Said on screen with the backend: why it is not the one asked for. */
  readonly fallback?: string;
  readonly seed: number;
}

export type ToTrainer = StartRun | { readonly type: 'stop' } | { readonly type: 'resume'; readonly steps?: number } | { readonly type: 'weights' };

/** A run's trained parameters (float64, by the model's names) and its settings, for the page's exports. */
export interface TrainedModel {
  readonly task: string;
  readonly step: number;
  readonly config: RunConfig;
  readonly params: readonly { readonly name: string; readonly shape: readonly number[]; readonly data: Float64Array }[];
}

export type FromTrainer =
  | { readonly type: 'started'; readonly backend: string; readonly params: number; readonly examples: number; readonly watch: { name: string; better: 'lower' | 'higher' }; readonly settings: string; readonly note?: string }
  | { readonly type: 'progress'; readonly step: number; readonly steps: number; readonly losses: readonly (readonly [number, number])[]; readonly stepsPerSec: number }
  | { readonly type: 'eval'; readonly step: number; readonly metrics: Readonly<Record<string, number>>; readonly samples: readonly string[] }
  | { readonly type: 'paused'; readonly step: number }
  | { readonly type: 'done'; readonly step: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'weights'; readonly model: TrainedModel | null };

export interface StartDevice {
  readonly type: 'device';
  readonly mode: 'webgl2' | 'webgpu';
  readonly source: string;
  readonly cellName: string;
  readonly port: MessagePort;
  readonly reply: SharedArrayBuffer;
}

export type FromDevice = { readonly type: 'ready'; readonly info: string } | { readonly type: 'unavailable'; readonly reason: string };
