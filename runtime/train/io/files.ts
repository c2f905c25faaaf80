// File-system failures in terms of what the user asked for: `--out` under a
// file, on a read-only disk, on a full one. A TrainError naming the path and
// the reason, never a stack trace.

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TrainError } from '../errors.ts';

const REASONS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'it exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory',
  ENAMETOOLONG: 'the name is too long',
};

/** Whether this is a failure of the file system (an error with an errno code), which the user's path or disk explains. */
export const isFileError = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';

/** `what` (`cannot write … in DIR`) and the reason, as a TrainError. */
export function fileError(e: NodeJS.ErrnoException, what: string): TrainError {
  const code = e.code ?? '';
  return new TrainError(`${what}: ${Object.hasOwn(REASONS, code) ? `${REASONS[code]} (${code})` : e.message}`);
}

/** Run `f`, turning a file-system failure into fileError(what). */
export function withFiles<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFileError(e)) throw fileError(e, what);
    throw e;
  }
}

/**
 * `mkdir -p`, one level at a time from the deepest existing ancestor. (Node's
 * own recursive mkdir retries forever where the kernel answers ENOENT for a
 * directory that exists, as under /proc.) Throws the file system's error.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); ; ) {
    try {
      if (statSync(p).isDirectory()) break;
      throw Object.assign(new Error(`${p} is not a directory`), { code: p === resolve(dir) ? 'EEXIST' : 'ENOTDIR', syscall: 'mkdir', path: p });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(p).isDirectory()) throw e;
    }
  }
}

/** Make an output directory (and its parents), or say why it cannot be made. */
export function ensureDir(dir: string, what = 'the output directory'): void {
  withFiles(`cannot create ${what} ${dir}`, () => makeDirs(dir));
}
