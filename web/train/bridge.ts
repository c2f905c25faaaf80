// gpu.js on WebGL2 and WebGPU answers asynchronously, and the training loop
// (runtime/train: runBatch, the layers) calls its CellBackend synchronously. The
// bridge joins them across two Web Workers: the training worker's backend posts
// each forward or backward to a device worker and blocks in Atomics.wait (a
// worker may block) until the device worker, running the asynchronous gpu.js
// backend (runtime/backends/gpujs.ts), has written the result into a shared,
// growable buffer. The training code stays the one the CLI runs.
//
// The reply buffer: Int32 [0] state (0 waiting, 1 ready), [1] header bytes,
// [2] float count; the header (JSON: groups → [name, length] or an error) from
// byte 16, then the float32 values at the next multiple of 4.

import type { BackendFactory, CellBackend, GradValues, StepValues, Vec } from '../../runtime/backend.ts';

const HEADER_AT = 16;
const enc = new TextEncoder(), dec = new TextDecoder();

export interface Reply { readonly groups: Readonly<Record<string, readonly (readonly [string, number])[]>>; readonly error?: string }

/** A growable shared buffer (Chromium 111+, Firefox 119+, Safari 16.4+). */
export const growableBuffer = (bytes: number, max = 1 << 30): SharedArrayBuffer =>
  new (SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer)(bytes, { maxByteLength: max });

/** Device side: write a reply (grouped float arrays, or an error) and wake the waiting trainer. */
export function writeReply(buf: SharedArrayBuffer, groups: Readonly<Record<string, Readonly<Record<string, Vec>>>>, error?: string): void {
  const list: Record<string, [string, number][]> = {};
  let floats = 0;
  for (const [g, values] of Object.entries(groups)) {
    list[g] = Object.entries(values).map(([name, v]) => { floats += v.length; return [name, v.length]; });
  }
  const header = enc.encode(JSON.stringify(error === undefined ? { groups: list } : { groups: {}, error }));
  const at = (HEADER_AT + header.length + 3) & ~3;
  const need = at + 4 * (error === undefined ? floats : 0);
  if (need > buf.byteLength) (buf as unknown as { grow(n: number): void }).grow(Math.max(need, buf.byteLength * 2));
  new Uint8Array(buf, HEADER_AT, header.length).set(header);
  if (error === undefined) {
    const out = new Float32Array(buf, at, floats);
    let k = 0;
    for (const values of Object.values(groups)) for (const v of Object.values(values)) { out.set(v, k); k += v.length; }
  }
  const ctl = new Int32Array(buf, 0, 4);
  ctl[1] = header.length;
  ctl[2] = floats;
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

/** Trainer side: the reply's arrays (copies), or the device's error thrown. */
function readReply(buf: SharedArrayBuffer): Record<string, Record<string, Float32Array>> {
  const ctl = new Int32Array(buf, 0, 4);
  const header = JSON.parse(dec.decode(new Uint8Array(buf, HEADER_AT, ctl[1]!).slice())) as Reply;
  if (header.error !== undefined) throw new Error(header.error);
  const at = (HEADER_AT + ctl[1]! + 3) & ~3;
  const all = new Float32Array(buf, at, ctl[2]!).slice();
  const out: Record<string, Record<string, Float32Array>> = {};
  let k = 0;
  for (const [g, entries] of Object.entries(header.groups)) {
    const r: Record<string, Float32Array> = Object.create(null) as Record<string, Float32Array>;
    for (const [name, n] of entries) { r[name] = all.subarray(k, k + n); k += n; }
    out[g] = r;
  }
  return out;
}

/** How long a trainer waits for one pass before it calls the device lost. */
const DEVICE_TIMEOUT_MS = 120_000;

/** The trainer's end: a BackendFactory whose backends run on the device worker behind `port`. */
export function bridgeFactory(port: MessagePort, reply: SharedArrayBuffer, name: string): BackendFactory {
  let next = 0;
  const ctl = new Int32Array(reply, 0, 4);
  const call = (msg: Record<string, unknown>) => {
    Atomics.store(ctl, 0, 0);
    port.postMessage(msg);
    if (Atomics.wait(ctl, 0, 0, DEVICE_TIMEOUT_MS) === 'timed-out') throw new Error(`the ${name} device worker did not answer within ${DEVICE_TIMEOUT_MS / 1000} s`);
    return readReply(reply);
  };
  return (cell, opts): CellBackend => {
    const id = next++;
    const spec = { id, dims: opts.dims, batch: opts.batch };
    return {
      name,
      precision: 'f32',
      forward(steps, params, inputs, init): StepValues {
        const r = call({ op: 'forward', ...spec, steps, params, inputs, init: init ?? {} });
        return { states: r.states ?? {}, outputs: r.outputs ?? {} };
      },
      backward(cot, want): GradValues {
        // the device's gpu.js backend skips the kernels only ∂x needs when the trainer reads no ∂x
        const r = call({ op: 'backward', ...spec, cot: { states: cot.states ?? {}, outputs: cot.outputs ?? {} }, wantInputs: want?.inputs ?? true });
        return { params: r.params ?? {}, inputs: r.inputs ?? {}, init: r.init ?? {} };
      },
    };
  };
}
