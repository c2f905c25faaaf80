// The playground's Web Worker (dist-web/train-worker.js). One script, two roles,
// chosen by the first message: the training worker (train/trainer.ts) or the
// device worker that runs gpu.js for it (train/device.ts).

import { runDevice } from './train/device.ts';
import type { StartDevice } from './train/protocol.ts';
import { trainerMessage } from './train/trainer.ts';

const post = (m: unknown) => (self as unknown as Worker).postMessage(m);

self.onmessage = (e: MessageEvent) => {
  const m = e.data as { type: string };
  if (m.type === 'device') {
    self.onmessage = null;
    runDevice(m as StartDevice, post).catch((err: unknown) => post({ type: 'unavailable', reason: err instanceof Error ? err.message : String(err) }));
    return;
  }
  self.onmessage = (ev: MessageEvent) => trainerMessage(ev.data as never, post);
  trainerMessage(m as never, post);
};
