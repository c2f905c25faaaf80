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
// A save is atomic as a whole. The new files are written beside the old ones
// as `*.new` and flushed to disk (fsync, then the directory), and only then
// renamed over them. A crash at any point leaves a complete pair somewhere: the
// old one, the new one, or — between the renames — the new state beside
// `model.safetensors.new`. Loading takes the newest pair whose step and
// checksum agree, whatever the names (also the `*.tmp-PID` files older
// versions left), and the next save first puts that pair in place and clears
// the leftovers. Nothing non-finite is ever written.

import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { NonFiniteError, TrainError } from '../errors.ts';
import type { NamedTensor } from './safetensors.ts';
import { ensureDir, fileError, isFileError, makeDirs, withFiles } from './files.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import type { Table } from '../tensor.ts';
import { firstNonFinite } from '../tensor.ts';

import { FORMAT } from './model-export.ts';

export { FORMAT };

/**
 * Why a file's format metadata is not this version's: a checkpoint of an older
 * or a newer celda (`celda-checkpoint-N`), or not a celda checkpoint at all.
 */
export function formatProblem(file: string, format: string | undefined): string {
  const version = (f: string | undefined) => Number(/^celda-checkpoint-([0-9]{1,6})$/.exec(f ?? '')?.[1] ?? NaN);
  const v = version(format), ours = version(FORMAT);
  if (v < ours) return `${file}: a checkpoint in an older format (${format}); this celda reads ${FORMAT}. Use it with the celda version that wrote it, or train the run again with this one`;
  if (v > ours) return `${file}: a checkpoint in a newer format (${format}) than this celda reads (${FORMAT}); update celda to use it`;
  return `${file}: not a celda checkpoint (format ${JSON.stringify(format ?? null)}, expected ${FORMAT})`;
}

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
  /** Set when the pair was found under other names, left by a save a crash interrupted. */
  readonly recovered?: string;
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

/** The points of a save, in order; a test's hook may stop the process at any of them. */
export const SAVE_POINTS = [
  'settled', 'model half-written', 'model written', 'state half-written', 'state written', 'cell written',
  'synced', 'state renamed', 'model renamed', 'cell renamed',
] as const;
export type SavePoint = (typeof SAVE_POINTS)[number];

const FILES = { model: 'model.safetensors', state: 'state.safetensors', cell: 'cell.celda' } as const;
const NEW = '.new';
/** What a save leaves behind when it is interrupted: ours (`.new`) and older versions' (`.tmp-PID`). */
const isLeftover = (name: string) => Object.values(FILES).some((f) => name === f + NEW || name.startsWith(`${f}.tmp-`));

/** Write a file and flush it to disk, in two halves so that a test can stop between them. */
function writeDurable(path: string, data: Uint8Array, half?: () => void): void {
  const fd = openSync(path, 'w');
  try {
    const mid = data.length >> 1;
    for (const [from, to] of [[0, mid], [mid, data.length]] as const) {
      for (let at = from; at < to; ) at += writeSync(fd, data, at, to - at);
      if (from === 0) half?.();
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flush a directory's entries (the renames); some file systems refuse, which costs only durability. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // A directory that cannot be opened for fsync (some platforms): the renames are still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const f64 = (t: Table): Map<string, NamedTensor> => new Map([...t].map(([k, v]) => [k, { dtype: 'F64', shape: v.shape, data: v.data }]));

/**
 * Save a checkpoint into `dir`, atomically as a whole (see the top of this
 * file). `at` is called at each of SAVE_POINTS (tests stop the process there).
 */
export function saveCheckpoint(dir: string, c: Checkpoint, at: (p: SavePoint) => void = () => {}): void {
  for (const [what, table] of [['parameter', c.params], ['optimizer state', c.optimizer.tensors]] as const) {
    const bad = firstNonFinite(table);
    if (bad) throw new NonFiniteError(`refusing to save a checkpoint at step ${c.step}: ${what} ${bad.name}[${bad.index.join(', ')}] is ${bad.value}`);
  }
  withFiles(`cannot write the checkpoint in ${dir}`, () => writeCheckpoint(dir, c, at));
}

function writeCheckpoint(dir: string, c: Checkpoint, at: (p: SavePoint) => void): void {
  makeDirs(dir);
  settle(dir);
  at('settled');
  const model = encodeSafetensors(f64(c.params), {
    format: FORMAT, step: String(c.step), cell_name: c.cellName, cell: c.cellSource, config: JSON.stringify(c.config),
  });
  const stateTensors = f64(c.optimizer.tensors);
  stateTensors.set('data.order', { dtype: 'I32', shape: [c.order.length], data: c.order });
  const state = encodeSafetensors(stateTensors, {
    format: FORMAT, step: String(c.step), rng: String(c.rngState), optimizer_t: String(c.optimizer.t),
    history: JSON.stringify(c.history), pending: JSON.stringify(c.pending), params_checksum: checksum(c.params),
  });
  const path = (f: keyof typeof FILES, suffix = '') => join(dir, FILES[f] + suffix);
  writeDurable(path('model', NEW), model, () => at('model half-written'));
  at('model written');
  writeDurable(path('state', NEW), state, () => at('state half-written'));
  at('state written');
  writeDurable(path('cell', NEW), new TextEncoder().encode(c.cellSource));
  at('cell written');
  syncDir(dir);
  at('synced');
  renameSync(path('state', NEW), path('state'));
  at('state renamed');
  renameSync(path('model', NEW), path('model'));
  at('model renamed');
  renameSync(path('cell', NEW), path('cell'));
  at('cell renamed');
  syncDir(dir);
}

/**
 * Put the newest complete pair of a directory under its proper names and remove
 * what interrupted saves left, before a new save writes its own `*.new` files.
 */
function settle(dir: string): void {
  const names = readdirSync(dir);
  if (!names.some(isLeftover)) return;
  const best = bestPair(dir, names);
  if (best !== null && (best.model !== FILES.model || best.state !== FILES.state)) {
    for (const [file, found] of [[FILES.model, best.model], [FILES.state, best.state]] as const) {
      if (found !== file) renameSync(join(dir, found), join(dir, file));
    }
    // The cell's text as that pair has it (the model's metadata holds it).
    const cell = decodeSafetensors(readFileSync(join(dir, FILES.model)), FILES.model).metadata.cell ?? '';
    writeDurable(join(dir, FILES.cell + NEW), new TextEncoder().encode(cell));
    renameSync(join(dir, FILES.cell + NEW), join(dir, FILES.cell));
  }
  for (const n of readdirSync(dir)) if (isLeftover(n)) rmSync(join(dir, n), { force: true });
  syncDir(dir);
}

interface Found { readonly model: string; readonly state: string; readonly step: number }

/** The newest model and state files of a directory whose steps and checksum agree (proper names first at equal steps). */
function bestPair(dir: string, names: readonly string[] = readdirSync(dir)): Found | null {
  const read = (base: string) => names.filter((n) => n === base || n === base + NEW || n.startsWith(`${base}.tmp-`)).flatMap((n) => {
    try {
      const f = decodeSafetensors(readFileSync(join(dir, n)), n);
      return f.metadata.format === FORMAT ? [{ name: n, file: f }] : [];
    } catch {
      return []; // half written
    }
  });
  let best: Found | null = null;
  for (const s of read(FILES.state)) {
    for (const m of read(FILES.model)) {
      if (m.file.metadata.step !== s.file.metadata.step) continue;
      let sum: string;
      try {
        sum = checksum(toTable(m.file.tensors, m.name));
      } catch {
        continue;
      }
      if (sum !== s.file.metadata.params_checksum) continue;
      const step = Number(s.file.metadata.step);
      const proper = m.name === FILES.model && s.name === FILES.state;
      if (best === null || step > best.step || (step === best.step && proper)) best = { model: m.name, state: s.name, step };
    }
  }
  return best;
}

const LOCK = 'train.lock';

/** Whether a process id is running (a lock whose owner is gone is stale). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claim a checkpoint directory for one training run: an exclusive lock file
 * holding this process's id (a lock whose process is gone is taken over), and,
 * unless `overwrite`, a refusal to start over where a checkpoint already is.
 * Returns the release, which the run calls when it ends.
 */
export function claimCheckpointDir(dir: string, o: { overwrite: boolean }): () => void {
  ensureDir(dir, 'the checkpoint directory');
  const lock = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw isFileError(e) ? fileError(e, `cannot write in the checkpoint directory ${dir}`) : e;
      const owner = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new TrainError(`${dir} is in use by another training run (process ${owner}); wait for it to finish or choose another --out`);
      }
      rmSync(lock, { force: true }); // stale: its run was killed
    }
  }
  const release = () => {
    try {
      if (Number.parseInt(readFileSync(lock, 'utf8'), 10) === process.pid) rmSync(lock, { force: true });
    } catch {
      // Already gone.
    }
  };
  const names = readdirSync(dir);
  if (!o.overwrite && names.some((n) => n === FILES.model || n === FILES.state || isLeftover(n))) {
    release();
    const step = bestPair(dir, names)?.step;
    throw new TrainError(`${dir} already holds a checkpoint${step === undefined ? '' : ` (step ${step})`}; continue it with --resume ${dir}, or pass --force to start over and overwrite it`);
  }
  return release;
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
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // Reported below as the missing model file.
  }
  // After an interrupted save the newest complete pair may stand under other names.
  const found = names.some(isLeftover) ? bestPair(dir, names) : null;
  const mname = found?.model ?? FILES.model, sname = found?.state ?? FILES.state;
  const mpath = join(dir, mname), spath = join(dir, sname);
  const model = decodeSafetensors(readFile(mpath), mpath);
  const state = decodeSafetensors(readFile(spath), spath);
  for (const [p, m] of [[mpath, model.metadata], [spath, state.metadata]] as const) {
    if (m.format !== FORMAT) throw new TrainError(formatProblem(p, m.format));
  }
  const mm = model.metadata, sm = state.metadata;
  if (mm.step !== sm.step) throw new TrainError(`${dir}: model.safetensors is from step ${mm.step} but state.safetensors from step ${sm.step}; the checkpoint is inconsistent`);
  const params = toTable(model.tensors, mpath);
  if (checksum(params) !== sm.params_checksum) throw new TrainError(`${dir}: model.safetensors does not match state.safetensors (parameter checksum differs); the checkpoint is inconsistent`);
  const order = state.tensors.get('data.order');
  if (!order || order.dtype !== 'I32' || order.shape.length !== 1) throw new TrainError(`${spath}: missing or malformed data.order (I32 vector)`);
  const json = (file: string, key: string, text: string | undefined, fallback: string): unknown => {
    try {
      return JSON.parse(text ?? fallback);
    } catch {
      throw new TrainError(`${file}: the checkpoint's ${key} metadata is not valid JSON; the file was edited or damaged`);
    }
  };
  const config = json(mpath, 'config', mm.config, 'null');
  const history = json(spath, 'history', sm.history, '[]');
  const pending = json(spath, 'pending', sm.pending, '[0, 0]');
  const num = (s: string | undefined, what: string, file: string) => {
    const v = Number(s);
    if (s === undefined || s.trim() === '' || !Number.isSafeInteger(v) || v < 0) throw new TrainError(`${file}: the checkpoint's ${what} is ${s === undefined ? 'missing' : JSON.stringify(s)}, not a whole number ≥ 0`);
    return v;
  };
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new TrainError(`${mpath}: the checkpoint's settings (config metadata) are ${JSON.stringify(config)}, not an object`);
  if (typeof mm.cell !== 'string') throw new TrainError(`${mpath}: missing the cell's source`);
  if (!isHistory(history)) throw new TrainError(`${spath}: the checkpoint's history metadata is malformed (expected a list of {step, loss?, metrics?} with finite numbers)`);
  if (!Array.isArray(pending) || pending.length !== 2 || !pending.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw new TrainError(`${spath}: the checkpoint's pending metadata is ${JSON.stringify(pending)}, not a pair of finite numbers`);
  const rngState = num(sm.rng, 'RNG state (rng)', spath);
  if (rngState > 0xffffffff) throw new TrainError(`${spath}: the checkpoint's RNG state (rng) is ${rngState}, more than 32 bits`);
  const optimizer = { tensors: toTable(state.tensors, spath, (k) => k === 'data.order'), t: num(sm.optimizer_t, 'optimizer step (optimizer_t)', spath) };
  for (const [file, what, table] of [[mpath, 'parameter', params], [spath, 'optimizer state', optimizer.tensors]] as const) {
    const bad = firstNonFinite(table);
    if (bad) throw new TrainError(`${file}: ${what} ${bad.name}[${bad.index.join(', ')}] is ${bad.value}; a checkpoint holds finite numbers only (the file was edited or damaged)`);
  }
  return {
    step: num(mm.step, 'step', mpath),
    cellSource: mm.cell,
    cellName: typeof mm.cell_name === 'string' ? mm.cell_name : '',
    config: config as Record<string, unknown>,
    params,
    optimizer,
    rngState,
    order: order.data as Int32Array,
    history,
    pending: pending as [number, number],
    ...(mname !== FILES.model || sname !== FILES.state
      ? { recovered: `${dir}: a save was interrupted; using the complete pair of step ${mm.step} (${mname}, ${sname}), which the next save puts in place` }
      : {}),
  };
}

const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

/** A list of history points: whole steps, finite losses and metrics. */
function isHistory(h: unknown): h is HistoryPoint[] {
  return Array.isArray(h) && h.every((p) => typeof p === 'object' && p !== null && Number.isSafeInteger(p.step) && p.step >= 0
    && (p.loss === undefined || finite(p.loss))
    && (p.metrics === undefined || (typeof p.metrics === 'object' && p.metrics !== null && Object.values(p.metrics).every((m) => m === null || finite(m)))));
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
