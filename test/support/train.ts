// Shared pieces for the training tests: example cells, tiny models, finite differences.

import { readFileSync } from 'node:fs';
import { compile } from '../../compiler/compile.ts';
import type { CompiledCell } from '../../compiler/compile.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { Rng } from '../../runtime/random.ts';
import type { Example } from '../../runtime/train/data/batch.ts';
import type { Checkpoint } from '../../runtime/train/io/checkpoint.ts';
import type { Model, ModelSpec } from '../../runtime/train/model/model.ts';
import { buildModel, initParams } from '../../runtime/train/model/model.ts';
import type { Table } from '../../runtime/train/tensor.ts';
import { zerosLike } from '../../runtime/train/tensor.ts';
import { makeBatch, runBatch } from '../../runtime/train/model/topology.ts';

export function cellFrom(source: string): CompiledCell {
  const r = compile(source);
  if (r.cells.length !== 1) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.cells[0]!;
}

export const exampleCell = (file: string) => cellFrom(readFileSync(new URL(`../../examples/cells/${file}`, import.meta.url), 'utf8'));

export function tinyModel(cell: CompiledCell, spec: Partial<ModelSpec> & Pick<ModelSpec, 'topology'>, seed = 1): { model: Model; params: Table } {
  const model = buildModel(cell, { inVocab: 5, classes: 4, embed: 3, hidden: 3, layers: 1, bidirectional: false, head: 'auto', ...spec }, interpBackend);
  const params = initParams(model, new Rng(seed), { kind: 'glorot', forgetBias: 0 });
  // Non-zero biases, so their gradients are exercised too.
  const rng = new Rng(seed + 100);
  for (const p of params.values()) for (let i = 0; i < p.data.length; i++) p.data[i] += rng.uniform(-0.3, 0.3);
  return { model, params };
}

/** Random examples of the right form for a topology (variable lengths, so masks matter). */
export function tinyExamples(model: Model, n: number, seed = 2): Example[] {
  const rng = new Rng(seed);
  const { inVocab, classes, topology } = model.spec;
  const seq = (len: number, v: number) => Int32Array.from({ length: len }, () => Math.floor(rng.next() * v));
  return Array.from({ length: n }, (_, i) => {
    const len = 1 + ((i * 2 + 1) % 4);
    switch (topology) {
      case 'many-to-many': return { x: seq(len, inVocab), y: seq(len, classes) };
      case 'many-to-one': return { x: seq(len, inVocab), y: seq(1, classes) };
      case 'one-to-many': return { y: Int32Array.from([...seq(len - 1, classes - 1), classes - 1]) };
      case 'encoder-decoder': return { x: seq(len, inVocab), y: Int32Array.from([...seq(1 + (i % 3), classes - 1), classes - 1]) };
    }
  });
}

/** Max relative error between the analytic gradient and central differences, over the parameter elements. */
export function gradCheck(model: Model, params: Table, examples: Example[], opts: { bptt?: number; eps?: number; stride?: number } = {}): { worst: number; where: string; checked: number } {
  const batch = makeBatch(model, examples);
  const grads = zerosLike(params);
  runBatch(model, params, batch, grads, { bptt: opts.bptt });
  const f = () => { const r = runBatch(model, params, batch, null, { bptt: opts.bptt }); return r.loss / r.count; };
  const eps = opts.eps ?? 1e-6;
  let worst = 0, where = '', checked = 0;
  for (const [name, p] of params) {
    // A stride checks every k-th element (with an offset that varies by tensor) to keep big cases fast.
    const k = opts.stride ?? 1;
    for (let i = checked % k; i < p.data.length; i += k) {
      const x = p.data[i]!;
      p.data[i] = x + eps; const up = f();
      p.data[i] = x - eps; const down = f();
      p.data[i] = x;
      const fd = (up - down) / (2 * eps), an = grads.get(name)!.data[i]!;
      const err = Math.abs(fd - an) / Math.max(1e-4, Math.abs(fd) + Math.abs(an));
      checked++;
      if (err > worst) { worst = err; where = `${name}[${i}] fd=${fd} analytic=${an}`; }
    }
  }
  return { worst, where, checked };
}

import type { Task } from '../../runtime/train/data/tasks/task.ts';
import type { RunConfig } from '../../runtime/train/run/loop.ts';
import { predictClasses } from '../../runtime/train/run/evaluate.ts';
import { accuracy } from '../../runtime/train/data/metrics.ts';

/** A small many-to-one task (is there a 1 in the sequence?) for loop, resume and guard tests. */
export function toyTask(n = 48): Task {
  const rng = new Rng(7);
  const make = (): Example => {
    const x = Int32Array.from({ length: 2 + Math.floor(rng.next() * 4) }, () => Math.floor(rng.next() * 4));
    return { x, y: Int32Array.of(x.includes(1) ? 1 : 0) };
  };
  const data = { train: Array.from({ length: n }, make), val: Array.from({ length: 16 }, make), test: [] };
  return {
    name: 'toy', topology: 'many-to-one', summary: 'toy', inVocab: 4, classes: 2,
    defaults: toyConfig(),
    load: () => data,
    watch: { name: 'accuracy', better: 'higher' },
    metrics: (ev, examples) => ({ accuracy: accuracy(predictClasses(ev.model, ev.params, examples, 8), examples.map((e) => e.y)) }),
    parseInput: (t) => Int32Array.from(t, (c) => Number(c)),
    show: (_s, p) => String(p[0]),
  };
}

export function toyConfig(over: Partial<RunConfig> = {}): RunConfig {
  return {
    task: 'toy', seed: 5, head: 'auto',
    hidden: 4, layers: 1, embed: 3, bidirectional: false, steps: 40, batch: 8, lr: 0.05, optimizer: 'adam',
    weightDecay: 0, momentum: 0.9, schedule: 'cosine', warmup: 3, decaySteps: 60, clip: 1, init: 'orthogonal',
    forgetBias: 1, bptt: 0, evalEvery: 10, evalSize: 16, threads: 1, bucket: true, ...over,
  };
}

/** The checkpoint one step after `c`: every parameter and moment nudged, the RNG advanced (what a next save writes). */
export function nextCheckpoint(c: Checkpoint): Checkpoint {
  const nudge = (t: Table): Table => new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data.map((x) => x * 0.5 + 0.25) }]));
  const { recovered: _, ...rest } = c;
  return { ...rest, step: c.step + 1, params: nudge(c.params), optimizer: { tensors: nudge(c.optimizer.tensors), t: c.optimizer.t + 1 }, rngState: (c.rngState + 1) >>> 0 };
}
