// What gpu.js refuses, as the command line shows it. A GpujsError — a cell its
// kernels cannot write (a constant that is not finite), a device limit, a
// kernel gpu.js moved to its CPU fallback — is raised when the backend is made
// or in either pass (gpu.js builds a kernel at its first call). Either way it
// becomes a UsageError (one `error:` line, exit 2: --backend gpujs is refused
// for this cell) that names the option and another backend that runs the cell.
// Every other error passes unchanged (a bug stays an internal error).

import type { CompiledCell } from '../../compiler/compile.ts';
import type { CellBackend } from '../backend.ts';
import { UsageError } from '../usage.ts';
import { GpujsError, gpujsSyncBackend } from './gpujs.ts';

/** `e` as a UsageError when gpu.js refused (`instead`: the way out, such as "--backend js runs it"), else `e` itself. */
export function gpujsRefusal(e: unknown, instead: string): unknown {
  return e instanceof GpujsError ? new UsageError(`--backend gpujs: ${e.message}; ${instead}`) : e;
}

/** `make` with gpu.js's refusals turned into UsageErrors, when the backend is made and in its passes. */
export function refusalsAsUsage<O, B extends CellBackend>(make: (cell: CompiledCell, opts: O) => B, instead: string): (cell: CompiledCell, opts: O) => B {
  const guard = <R>(f: () => R): R => {
    try {
      return f();
    } catch (e) {
      throw gpujsRefusal(e, instead);
    }
  };
  return (cell, opts) => {
    const b = guard(() => make(cell, opts));
    // everything else (name, precision, launches()) read through to the backend itself
    return Object.assign(Object.create(b) as B, {
      forward: (...a: Parameters<CellBackend['forward']>) => guard(() => b.forward(...a)),
      backward: (...a: Parameters<CellBackend['backward']>) => guard(() => b.backward(...a)),
    });
  };
}

/** The synchronous gpu.js backend (Node's webasm and cpu modes) with its refusals as UsageErrors: what the command line runs. */
export const gpujsSyncRefusing = (instead: string) => refusalsAsUsage(gpujsSyncBackend, instead);
