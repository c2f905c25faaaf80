// What an instance of the generated JavaScript (runtime/backends/js.ts) holds,
// and the hard limits it cannot pass whatever --max-memory says:
//
// - float32 with SIMD: every buffer of an instance is one block of a
//   WebAssembly memory, which holds at most 4 GiB (65 536 pages of 64 KiB). The
//   block is laid out for the longest T seen; a longer T allocates the new block
//   before the old one is freed, so growing needs both at once.
// - float64 (and float32 without SIMD): each buffer is a typed array, of at
//   most 2³² elements in V8 (Node 20: buffer.constants.MAX_LENGTH).
//
// Sizes come from the same plan the emitter lays out (compiler/lower/lower.ts),
// so a matrix state per example (the mLSTM's C, d × d) counts at its size, in
// the forward trajectory and in the backward's buffers alike. Browser-safe.

import type { CompiledCell } from '../../compiler/compile.ts';
import { evalDim } from '../../compiler/ir/dims.ts';
import type { BufferDecl } from '../../compiler/lower/loop-ir.ts';
import { lowerCell } from '../../compiler/lower/lower.ts';
import { formatBytes } from '../limits.ts';

/** The most a WebAssembly memory (32-bit) holds. */
export const WASM_MEMORY_BYTES = 65536 * 65536;
/** The most elements a typed array has in V8 (Node 20). */
export const TYPED_ARRAY_ELEMENTS = 2 ** 32;

export interface JsInstanceBytes {
  /** Bytes of all the instance's buffers for T steps. */
  readonly total: number;
  /** Elements of its largest buffer, and the buffer's name. */
  readonly largest: { readonly name: string; readonly elements: number };
}

const plans = new WeakMap<CompiledCell, Map<string, readonly BufferDecl[]>>();

function buffers(cell: CompiledCell, precision: 'f64' | 'f32', scan: boolean): readonly BufferDecl[] {
  let byKey = plans.get(cell);
  if (!byKey) plans.set(cell, (byKey = new Map()));
  const key = `${precision}:${scan}`;
  let b = byKey.get(key);
  if (!b) byKey.set(key, (b = lowerCell(cell, precision, scan ? {} : { scan: false }).buffers));
  return b;
}

/** What an instance of the cell for these dims and batch holds for T steps (the emitter's layout: 16-byte aligned for SIMD). */
export function jsInstanceBytes(cell: CompiledCell, dims: Readonly<Record<string, number>>, batch: number, steps: number, precision: 'f64' | 'f32', scan = true): JsInstanceBytes {
  const env = new Map(Object.entries(dims));
  const per = precision === 'f32' ? 4 : 8;
  let total = 0;
  let largest = { name: '', elements: 0 };
  for (const b of buffers(cell, precision, scan)) {
    const size = b.size.reduce((p, d) => p * (evalDim(d, env) ?? 1), 1);
    const rows = b.extent === 'one' ? 1 : b.extent === 'step' ? batch : b.extent === 'states' ? (steps + 1) * batch : steps * batch;
    const n = rows * size;
    total += Math.ceil((n * per) / 16) * 16;
    if (n > largest.elements) largest = { name: b.name, elements: n };
  }
  return { total, largest };
}

/**
 * The highest address the heap of a SIMD instance reaches while its block grows
 * to `steps`, at worst: one growth per length 1, 2, …, steps, each new block
 * allocated (first fit, 16-byte aligned, as the emitted heap does:
 * compiler/emit/js/simd-helpers.ts) before the old one is freed — so the holes
 * the old blocks leave seldom fit the next.
 */
export function growthPeak(blockBytes: (steps: number) => number, steps: number): number {
  const free: { at: number; n: number }[] = [];
  let top = 16, peak = 16, held: { at: number; n: number } | null = null;
  const alloc = (bytes: number) => {
    const n = Math.ceil(bytes / 16) * 16;
    const k = free.findIndex((f) => f.n >= n);
    if (k >= 0) {
      const at = free[k]!.at;
      if (free[k]!.n === n) free.splice(k, 1);
      else { free[k]!.at += n; free[k]!.n -= n; }
      return { at, n };
    }
    const at = top;
    top += n;
    peak = Math.max(peak, top);
    return { at, n };
  };
  const release = ({ at, n }: { at: number; n: number }) => {
    let k = 0;
    while (k < free.length && free[k]!.at < at) k++;
    free.splice(k, 0, { at, n });
    if (k + 1 < free.length && free[k]!.at + free[k]!.n === free[k + 1]!.at) { free[k]!.n += free[k + 1]!.n; free.splice(k + 1, 1); }
    if (k > 0 && free[k - 1]!.at + free[k - 1]!.n === free[k]!.at) { free[k - 1]!.n += free[k]!.n; free.splice(k, 1); k--; }
    if (free[k]!.at + free[k]!.n === top) { top = free[k]!.at; free.splice(k, 1); }
  };
  for (let T = 1; T <= steps; T++) {
    const block = alloc(blockBytes(T));
    if (held) release(held);
    held = block;
  }
  return peak;
}

/**
 * The hard limit an instance of the js backend would pass for T steps of
 * `batch` rows, as a message naming the limit, the figure and how to lower it;
 * null when it fits. `what` names the instance (`the evaluation batch of 256`).
 */
export function jsLimitProblem(cell: CompiledCell, dims: Readonly<Record<string, number>>, batch: number, steps: number, precision: 'f64' | 'f32', simd: boolean, what: string): string | null {
  const b = jsInstanceBytes(cell, dims, batch, steps, precision);
  const lower = 'lower --hidden or --dim (and --batch for a training batch), or choose another --backend (interp keeps no such block)';
  if (precision === 'f32' && simd) {
    // growing to the longest T holds the block for T and the one before it, and the holes older ones left
    const need = growthPeak((T) => jsInstanceBytes(cell, dims, batch, T, precision).total, steps);
    if (need > WASM_MEMORY_BYTES)
      return `${what} of cell ${cell.name} (${Object.entries(dims).map(([k, v]) => `${k} = ${v}`).join(', ')}) needs a block of ${formatBytes(b.total)} for ${steps} steps of ${batch} rows, and up to ${formatBytes(need)} of memory while the block grows to it, more than the ${formatBytes(WASM_MEMORY_BYTES)} a WebAssembly memory holds; ${lower}`;
    return null;
  }
  if (b.largest.elements > TYPED_ARRAY_ELEMENTS)
    return `${what} of cell ${cell.name} (${Object.entries(dims).map(([k, v]) => `${k} = ${v}`).join(', ')}) needs an array of ${b.largest.elements} numbers for \`${b.largest.name}\` over ${steps} steps of ${batch} rows, more than the ${TYPED_ARRAY_ELEMENTS} a typed array holds; ${lower}`;
  return null;
}
