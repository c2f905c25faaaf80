// The messages between the page, the training worker and the device worker.


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

export type ToTrainer = StartRun | { readonly type: 'stop' } | { readonly type: 'resume'; readonly steps?: number } | { readonly type: 'export'; readonly to: 'pytorch' | 'onnx' };

/** The trained model's files (`celda export runs/DIR`'s), or why there are none (the CLI's diagnostics, rendered). */
export type Exported =
  | {
    readonly ok: true; readonly to: 'pytorch' | 'onnx'; readonly step: number; readonly what: string;
    readonly files: readonly { readonly name: string; readonly data: string | Uint8Array }[];
    /** The page's own answer for its first shown example: its source ids and log-probabilities (class-minor; per step for many-to-many). */
    readonly probe: { readonly ids: readonly number[]; readonly logProbs: readonly number[] } | null;
  }
  | { readonly ok: false; readonly to: 'pytorch' | 'onnx'; readonly message: string };

export type FromTrainer =
  | { readonly type: 'started'; readonly backend: string; readonly params: number; readonly examples: number; readonly watch: { name: string; better: 'lower' | 'higher' }; readonly settings: string; readonly note?: string }
  | { readonly type: 'progress'; readonly step: number; readonly steps: number; readonly losses: readonly (readonly [number, number])[]; readonly stepsPerSec: number }
  | { readonly type: 'eval'; readonly step: number; readonly metrics: Readonly<Record<string, number>>; readonly samples: readonly string[] }
  | { readonly type: 'paused'; readonly step: number }
  | { readonly type: 'done'; readonly step: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'exported'; readonly result: Exported };

export interface StartDevice {
  readonly type: 'device';
  readonly mode: 'webgl2' | 'webgpu';
  readonly source: string;
  readonly cellName: string;
  readonly port: MessagePort;
  readonly reply: SharedArrayBuffer;
}

export type FromDevice = { readonly type: 'ready'; readonly info: string } | { readonly type: 'unavailable'; readonly reason: string };
