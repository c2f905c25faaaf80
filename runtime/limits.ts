// Limits on what one request may allocate. A size that comes from input (steps,
// batch, dimensions) is checked against the memory the request needs before
// anything is allocated, with a message naming both figures and how to raise
// the limit: `--max-memory SIZE` on the command line, or CELDA_MAX_MEMORY.

import type { CompiledCell } from '../compiler/compile.ts';
import { didYouMean } from '../compiler/diagnostics.ts';
import { evalDim } from '../compiler/ir/dims.ts';
import type { Graph } from '../compiler/ir/graph.ts';

/** A request over a limit: the message says which figure, the limit, and how to raise it. */
export class LimitError extends Error {}

export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `512M`, `4G`, `1.5g`, `1048576`: a size in bytes, or null when the text is not one. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  const v = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  return Number.isFinite(v) && v > 0 ? Math.round(v) : null;
}

/** The limit in force: the one given, else CELDA_MAX_MEMORY, else 4 GiB. */
export function maxBytes(given?: number): number {
  if (given !== undefined) return given;
  const env = process.env.CELDA_MAX_MEMORY;
  const v = env === undefined ? null : parseBytes(env);
  if (env !== undefined && v === null) throw new LimitError(`CELDA_MAX_MEMORY=${JSON.stringify(env)} is not a size (write e.g. 8G or 512M)`);
  return v ?? DEFAULT_MAX_BYTES;
}

export const formatBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : n >= 1024 ? `${Math.ceil(n / 1024)} KiB` : `${n} bytes`;

/** Refuse a request that needs more than `limit` bytes; `what` names it and its sizes. */
export function checkMemory(what: string, bytes: number, limit: number): void {
  if (!(bytes <= limit)) {
    throw new LimitError(`${what} needs about ${formatBytes(bytes)}, more than the limit of ${formatBytes(limit)}; raise it with --max-memory SIZE (or CELDA_MAX_MEMORY), e.g. --max-memory ${Math.ceil(bytes / 1024 ** 3) + 1}G`);
  }
}

/** Numbers in the values of a graph's nodes: those per example (× batch) and the rest. */
function graphNumbers(g: Graph, env: ReadonlyMap<string, number>): { perRow: number; fixed: number } {
  let perRow = 0, fixed = 0;
  for (const n of g.nodes) {
    const size = n.shape.dims.reduce((p, d) => p * (evalDim(d, env) ?? 1), 1);
    if (n.shape.batch) perRow += size;
    else fixed += size;
  }
  return { perRow, fixed };
}

/**
 * Bytes a run of a cell over `steps` steps of `batch` examples needs at most,
 * forward and back: every value of both step graphs kept for every step (what
 * the reference interpreter holds), in float64. An upper bound for the compiled
 * backends, which keep less.
 */
export function cellRunBytes(cell: CompiledCell, env: ReadonlyMap<string, number>, batch: number, steps: number): number {
  const f = graphNumbers(cell.forward, env), b = graphNumbers(cell.backward, env);
  return 8 * ((f.perRow + b.perRow) * batch * steps + (f.fixed + b.fixed) * 2);
}

/**
 * Text from the user (a name, a path, a JSON key) as a one-line message may echo it:
 * control characters, line and paragraph separators and bidirectional controls
 * written as `\u` and four hex digits, so that no input can break a message's line or forge another.
 */
export const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** `; did you mean `x`?` after a name (an option's, a JSON key) that is not among `known`, or nothing. */
export const suggestion = (name: string, known: Iterable<string>): string => {
  const m = didYouMean(name, known, printable);
  return m === undefined ? '' : `; ${m}`;
};
