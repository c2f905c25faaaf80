// The device worker: the cell's asynchronous gpu.js backend (WebGL2 through an
// OffscreenCanvas, or WebGPU) serving the training worker's passes (bridge.ts).

import { GPU } from 'gpu.js';
import { compile } from '../../compiler/compile.ts';
import type { CompiledCell } from '../../compiler/compile.ts';
import type { GpujsBackend } from '../../runtime/backends/gpujs.ts';
import { gpujsBackend } from '../../runtime/backends/gpujs.ts';
import { writeReply } from './bridge.ts';
import type { FromDevice, StartDevice } from './protocol.ts';

/** Why this mode cannot run in this worker, or null. */
async function unavailable(mode: 'webgl2' | 'webgpu'): Promise<string | null> {
  if (mode === 'webgl2') return GPU.isWebGL2Supported ? null : 'this browser gives Web Workers no WebGL2 (OffscreenCanvas with a webgl2 context)';
  if (!GPU.isWebGPUSupported) return 'this browser has no WebGPU (navigator.gpu is missing; Chromium needs a secure context, other browsers a flag)';
  return (await GPU.isWebGPUAvailable()) ? null : 'WebGPU gave no adapter here (no supported GPU, or it is blocked)';
}

export async function runDevice(msg: StartDevice, post: (m: FromDevice) => void): Promise<void> {
  const why = await unavailable(msg.mode).catch((e: unknown) => `probing it failed: ${(e as Error).message}`);
  if (why !== null) { post({ type: 'unavailable', reason: why }); return; }
  const cell: CompiledCell | undefined = compile(msg.source, { defaultCellName: 'cell' }).cells.find((c) => c.name === msg.cellName);
  if (!cell) { post({ type: 'unavailable', reason: `the cell ${msg.cellName} does not compile` }); return; }
  const backends = new Map<number, GpujsBackend>();
  let queue = Promise.resolve();
  msg.port.onmessage = (e: MessageEvent) => {
    const r = e.data as { op: 'forward' | 'backward'; id: number; dims: Record<string, number>; batch: number; steps: number; params: never; inputs: never; init: never; cot: never; wantInputs?: boolean };
    // One pass at a time, in order (the trainer waits for each anyway).
    queue = queue.then(async () => {
      try {
        let b = backends.get(r.id);
        if (!b) backends.set(r.id, (b = await gpujsBackend(cell, { dims: r.dims, batch: r.batch, mode: msg.mode })));
        if (r.op === 'forward') {
          const f = await b.forward(r.steps, r.params, r.inputs, r.init);
          writeReply(msg.reply, { states: f.states, outputs: f.outputs });
        } else {
          const g = await b.backward(r.cot, { inputs: r.wantInputs ?? true });
          writeReply(msg.reply, { params: g.params, inputs: g.inputs, init: g.init });
        }
      } catch (err) {
        writeReply(msg.reply, {}, err instanceof Error ? err.message : String(err));
      }
    });
  };
  post({ type: 'ready', info: msg.mode === 'webgl2' ? 'gpu.js WebGL2' : 'gpu.js WebGPU' });
}
