// Each task's default settings (what `celda train TASK` uses for every option
// not given), apart from the tasks themselves: building a task reads its data,
// and the playground's page shows these before any data is loaded.

import type { Settings } from './task.ts';

/** What every task shares, in the order the settings are written (a checkpoint's config keeps it). */
const OPTIMIZER = { optimizer: 'adamw', weightDecay: 0.01, momentum: 0.9, schedule: 'cosine' } as const;
const CELL = { clip: 1, init: 'orthogonal', forgetBias: 1, bptt: 0 } as const;
const RUN = { threads: 2, bucket: true } as const;

export const DEFAULTS = {
  names: {
    hidden: 128, layers: 1, embed: 16, bidirectional: false, steps: 1500, batch: 32, lr: 0.005,
    ...OPTIMIZER, warmup: 100, decaySteps: 1500, ...CELL, evalEvery: 250, evalSize: 1000, ...RUN,
  },
  gender: {
    hidden: 64, layers: 1, embed: 16, bidirectional: false, steps: 2000, batch: 32, lr: 0.005,
    ...OPTIMIZER, warmup: 50, decaySteps: 2000, ...CELL, evalEvery: 200, evalSize: 1000, ...RUN,
  },
  entities: {
    hidden: 32, layers: 1, embed: 16, bidirectional: true, steps: 600, batch: 32, lr: 0.01,
    ...OPTIMIZER, warmup: 50, decaySteps: 600, ...CELL, evalEvery: 200, evalSize: 2000, ...RUN,
  },
  g2p: {
    hidden: 128, layers: 1, embed: 32, bidirectional: false, steps: 1200, batch: 64, lr: 0.005,
    ...OPTIMIZER, warmup: 100, decaySteps: 1200, ...CELL, evalEvery: 200, evalSize: 500, ...RUN,
  },
} as const satisfies Readonly<Record<string, Settings>>;
