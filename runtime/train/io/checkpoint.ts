// Checkpoints that lose nothing. A checkpoint directory holds
//
//   model.safetensors   the parameters (F64), plus metadata: the cell's source,
//                       the run's settings and the step
//   state.safetensors   the optimizer's moments (F64) and the current epoch's
//                       example order (I32), plus metadata: step, RNG state,
//                       optimizer step count, the curves so far, and a checksum
//                       of the parameters, so a model file from another save
//                       is caught
//   cell.celda          the cell's source, for reading
//
// Each file is written to a temporary name and renamed into place, so a crash
// leaves the old file or the new one, never half of one; the checksum catches a
// crash between the two renames. Nothing non-finite is ever written.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NonFiniteError, TrainError } from '../errors.ts';
import type { NamedTensor } from './safetensors.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import type { Table } from '../tensor.ts';
import { firstNonFinite } from '../tensor.ts';

export const FORMAT = 'celda-checkpoint-1';

export interface HistoryPoint {
  readonly step: number;
  /** Mean training loss over the steps since the previous point. */
  readonly loss?: number;
  /** Validation metrics (periodic evaluation). */
  readonly metrics?: Readonly<Record<string, number>>;
}

export interface Checkpoint {
  readonly step: number;
  readonly cellSource: string;
  readonly cellName: string;
  /** The run's settings, as JSON (task, sizes, optimizer, seed …). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly params: Table;
  readonly optimizer: { readonly tensors: Table; readonly t: number };
  readonly rngState: number;
  readonly order: Int32Array;
  readonly history: readonly HistoryPoint[];
  /** Training losses summed since the last history point, and how many. */
  readonly pending: readonly [number, number];
}

/** FNV-1a over the parameters' bytes, in table order. */
export function checksum(params: Table): string {
  let h = 0x811c9dc5;
  for (const [name, t] of params) {
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const f64 = (t: Table): Map<string, NamedTensor> => new Map([...t].map(([k, v]) => [k, { dtype: 'F64', shape: v.shape, data: v.data }]));

export function saveCheckpoint(dir: string, c: Checkpoint): void {
  for (const [what, table] of [['parameter', c.params], ['optimizer state', c.optimizer.tensors]] as const) {
    const bad = firstNonFinite(table);
    if (bad) throw new NonFiniteError(`refusing to save a checkpoint at step ${c.step}: ${what} ${bad.name}[${bad.index.join(', ')}] is ${bad.value}`);
  }
  mkdirSync(dir, { recursive: true });
  const model = encodeSafetensors(f64(c.params), {
    format: FORMAT, step: String(c.step), cell_name: c.cellName, cell: c.cellSource, config: JSON.stringify(c.config),
  });
  const stateTensors = f64(c.optimizer.tensors);
  stateTensors.set('data.order', { dtype: 'I32', shape: [c.order.length], data: c.order });
  const state = encodeSafetensors(stateTensors, {
    format: FORMAT, step: String(c.step), rng: String(c.rngState), optimizer_t: String(c.optimizer.t),
    history: JSON.stringify(c.history), pending: JSON.stringify(c.pending), params_checksum: checksum(c.params),
  });
  writeAtomic(join(dir, 'state.safetensors'), state);
  writeAtomic(join(dir, 'model.safetensors'), model);
  writeAtomic(join(dir, 'cell.celda'), c.cellSource);
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrainError(`cannot read checkpoint file ${path}: ${code === 'ENOENT' ? 'no such file (is this a checkpoint directory written by celda train?)' : (e as Error).message}`);
  }
}

const toTable = (m: Map<string, NamedTensor>, what: string, skip: (k: string) => boolean = () => false): Table => {
  const out: Table = new Map();
  for (const [k, v] of m) {
    if (skip(k)) continue;
    if (v.dtype !== 'F64') throw new TrainError(`${what}: tensor ${k} has dtype ${v.dtype}, expected F64`);
    out.set(k, { shape: v.shape, data: v.data as Float64Array });
  }
  return out;
};

/** Read a checkpoint directory. Structure only; `validateParams` checks it against a model. */
export function loadCheckpoint(dir: string): Checkpoint {
  const mpath = join(dir, 'model.safetensors'), spath = join(dir, 'state.safetensors');
  const model = decodeSafetensors(readFile(mpath), mpath);
  const state = decodeSafetensors(readFile(spath), spath);
  for (const [p, m] of [[mpath, model.metadata], [spath, state.metadata]] as const) {
    if (m.format !== FORMAT) throw new TrainError(`${p}: not a celda checkpoint (format ${JSON.stringify(m.format ?? null)}, expected ${FORMAT})`);
  }
  const mm = model.metadata, sm = state.metadata;
  if (mm.step !== sm.step) throw new TrainError(`${dir}: model.safetensors is from step ${mm.step} but state.safetensors from step ${sm.step}; the checkpoint is inconsistent`);
  const params = toTable(model.tensors, mpath);
  if (checksum(params) !== sm.params_checksum) throw new TrainError(`${dir}: model.safetensors does not match state.safetensors (parameter checksum differs); the checkpoint is inconsistent`);
  const order = state.tensors.get('data.order');
  if (!order || order.dtype !== 'I32' || order.shape.length !== 1) throw new TrainError(`${spath}: missing or malformed data.order (I32 vector)`);
  let config: Record<string, unknown>, history: HistoryPoint[], pending: [number, number];
  try {
    config = JSON.parse(mm.config ?? 'null');
    history = JSON.parse(sm.history ?? '[]');
    pending = JSON.parse(sm.pending ?? '[0, 0]');
  } catch {
    throw new TrainError(`${dir}: checkpoint metadata is not valid JSON`);
  }
  const num = (s: string | undefined, what: string) => {
    const v = Number(s);
    if (s === undefined || !Number.isInteger(v) || v < 0) throw new TrainError(`${dir}: checkpoint ${what} is missing or not a whole number`);
    return v;
  };
  if (typeof config !== 'object' || config === null) throw new TrainError(`${mpath}: missing settings`);
  if (typeof mm.cell !== 'string') throw new TrainError(`${mpath}: missing the cell's source`);
  return {
    step: num(mm.step, 'step'),
    cellSource: mm.cell,
    cellName: mm.cell_name ?? '',
    config,
    params,
    optimizer: { tensors: toTable(state.tensors, spath, (k) => k === 'data.order'), t: num(sm.optimizer_t, 'optimizer step') },
    rngState: num(sm.rng, 'RNG state'),
    order: order.data as Int32Array,
    history,
    pending,
  };
}

/**
 * Check a table read from a file against the names and shapes a model expects:
 * every one present, none extra, every shape equal. Refuses (listing what
 * differs) rather than loading part of it.
 */
export function validateTable(what: string, got: Table, want: ReadonlyMap<string, readonly number[]>): void {
  const problems: string[] = [];
  for (const [name, shape] of want) {
    const t = got.get(name);
    if (!t) problems.push(`missing ${name} [${shape.join(', ')}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`${name} has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
  }
  for (const name of got.keys()) if (!want.has(name)) problems.push(`unexpected ${name} (not a parameter of this model)`);
  if (problems.length) {
    const shown = problems.slice(0, 6).map((p) => `  ${p}`).join('\n');
    throw new TrainError(`${what} does not match the model; nothing was loaded:\n${shown}${problems.length > 6 ? `\n  … and ${problems.length - 6} more` : ''}`);
  }
}
