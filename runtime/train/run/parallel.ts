// Data parallelism over threads: each step's batch is cut into contiguous
// shards, the first computed here and the others by worker threads running the
// same model, and the shard gradients are summed in shard order. A fixed number
// of threads therefore gives the same bits every time (and a checkpoint records
// it), while two threads use both cores of a small machine.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendOptions } from '../../backend.ts';
import type { Example } from '../data/batch.ts';
import { TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';
import type { Model, ModelSpec } from '../model/model.ts';
import type { Table } from '../tensor.ts';
import { makeBatch, runBatch, targetCount } from '../model/topology.ts';

/** What a worker needs to build the same model (it compiles the cell itself). */
export interface WorkerSetup {
  readonly cellSource: string;
  readonly cellName: string;
  readonly spec: ModelSpec;
  readonly backend: string;
  /** The backends' scan option, as the main thread's factory passes it (TrainInput.scan); absent: the backend's default. */
  readonly scan?: BackendOptions['scan'];
}

export interface SharedLayout {
  readonly buffer: SharedArrayBuffer;
  /** Name, offset (in numbers) and shape of each parameter in the shared buffer. */
  readonly entries: readonly (readonly [string, number, readonly number[]])[];
}

export interface StepRequest { readonly examples: readonly Example[]; readonly count: number; readonly bptt: number }
/**
 * A worker's failure as it crosses the thread boundary (an Error loses its class there): its message,
 * and `usage` when it was a UsageError — a setting refused for this cell, such as gpu.js's refusals
 * (runtime/backends/gpujs-refusals.ts) — which the main thread raises again as its own: exit 2, the same one line.
 */
export interface ThreadFailure { readonly error: string; readonly usage?: true }
export type StepReply = { readonly loss: number; readonly grads: Float64Array } | ThreadFailure;

/** The main thread's error for a worker's failure: its UsageError as it was, anything else a TrainError naming the thread. */
const failed = (f: ThreadFailure): Error => (f.usage ? new UsageError(f.error) : new TrainError(`a training thread failed: ${f.error}`));

/**
 * What a worker thread runs: the built worker (dist/worker.js, beside the chunk
 * this code is bundled into) when this is the built JavaScript; from the
 * TypeScript sources (tests, `npm run` scripts), worker.ts under the same loader
 * as the main thread (tsx).
 */
function bootCode(): string {
  if (!import.meta.url.endsWith('.ts')) return `import(${JSON.stringify(new URL('./worker.js', import.meta.url).href)})`;
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
  const worker = new URL('./worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); })`;
}

/** Contiguous, nearly equal shards, the larger ones first. */
export function shards<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(items.length / n) + (i < items.length % n ? 1 : 0);
    out.push(items.slice(at, at + size));
    at += size;
  }
  return out;
}

export class GradWorkers {
  private constructor(private readonly workers: Worker[], private readonly shared: Float64Array, private readonly layout: SharedLayout) {}

  /** Start `threads − 1` workers (the calling thread is the first). */
  static async start(threads: number, setup: WorkerSetup, params: Table): Promise<GradWorkers> {
    let total = 0;
    const entries = [...params].map(([name, t]) => { const e = [name, total, t.shape] as const; total += t.data.length; return e; });
    const layout: SharedLayout = { buffer: new SharedArrayBuffer(total * 8), entries };
    const code = bootCode();
    const workers = Array.from({ length: threads - 1 }, () => new Worker(code, { eval: true, workerData: { setup, layout } }));
    try {
      await Promise.all(workers.map((w) => reply(w)));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new GradWorkers(workers, new Float64Array(layout.buffer), layout);
  }

  /** The mean loss's gradient over all shards, added into `grads`; returns the summed loss and the count. */
  async step(model: Model, params: Table, examples: readonly Example[], grads: Table, bptt: number): Promise<{ loss: number; count: number }> {
    for (const [name, off] of this.layout.entries) this.shared.set(params.get(name)!.data, off);
    const count = targetCount(model, examples);
    const parts = shards(examples, this.workers.length + 1);
    const pending = this.workers.map((w, i) => {
      w.postMessage({ examples: parts[i + 1], count, bptt } satisfies StepRequest);
      return reply(w) as Promise<{ loss: number; grads: Float64Array }>;
    });
    // when this thread's shard throws, the workers' replies are never awaited: their failure (or their end, once
    // close() stops them) must not become an unhandled rejection, which would end the process with a stack trace
    for (const p of pending) p.catch(() => {});
    let loss = parts[0]!.length ? runBatch(model, params, makeBatch(model, parts[0]!), grads, { bptt, count }).loss : 0;
    for (const p of pending) {
      const r = await p;
      loss += r.loss;
      for (const [name, off] of this.layout.entries) {
        const g = grads.get(name)!.data;
        for (let i = 0; i < g.length; i++) g[i] += r.grads[off + i]!;
      }
    }
    return { loss, count };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The next message from a worker, or its failure: an error it reports (as `failed` says), a crash, or its end (TrainErrors). */
function reply(w: Worker): Promise<StepReply & { ready?: true }> {
  return new Promise((resolve, reject) => {
    const done = () => { w.off('message', onMessage); w.off('error', onError); w.off('exit', onExit); w.off('messageerror', onError); };
    const onMessage = (m: StepReply & { ready?: true }) => { done(); if ('error' in m) reject(failed(m)); else resolve(m); };
    const onError = (e: unknown) => { done(); reject(new TrainError(`a training thread failed: ${e instanceof Error ? e.message : String(e)}`)); };
    const onExit = (code: number) => { done(); reject(new TrainError(`a training thread stopped (exit code ${code}) before it answered`)); };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.on('messageerror', onError);
  });
}
