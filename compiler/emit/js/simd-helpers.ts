// The helpers a float32 module carries to run its matrix products as WebAssembly
// SIMD (compiler/emit/wasm/kernels-wat.ts) on one memory that its own JavaScript also
// reads and writes: every buffer of an instance is a view of that memory, so the
// kernels work in place — no copy in or out per product.
//
// A heap is { memory, alloc(bytes), free(at, bytes), gemm(M, N, K, a, lda, b,
// ldb, c, ldc, acc), act(kind, p, n), transpose, sumRows, copyRows, fma } with
// byte addresses (act: tanh or σ in place, four lanes at a time; the next three
// move data around the products, see kernels-wat.ts; fma: its kernels are the
// relaxed-SIMD build). All but the allocator and gemm are optional: a module runs
// its plain-JS helpers where a heap lacks one. An instance makes its own (one
// unshared WebAssembly memory with the relaxed-SIMD kernels where the runtime
// validates them, else the plain ones; or, where WebAssembly SIMD is missing or
// `simd: false` is asked, an ArrayBuffer with the plain-JS product); celda's thread pool
// (runtime/wasm/pool.ts) makes one over a shared memory whose `gemm` splits the
// columns of a product between worker threads. Fixed text, like the other
// helpers; $makeHeap is also evaluated by the pool, so both allocate alike.
// Last, wasmLoopsHelper: a module's own fused loops as WebAssembly (compiler/emit/wasm/loops-wat.ts),
// instantiated per instance on its heap's memory (shared or not), or null.

import type { WasmLoopsModule } from '../wasm/loops-wat.ts';
import { GEMM_FMA_WASM_BASE64, GEMM_FMA_WASM_SHARED_FLAG_AT, GEMM_WASM_BASE64, GEMM_WASM_SHARED_FLAG_AT } from '../wasm/kernels-bytes.ts';

export const SIMD_KERNELS: Readonly<Record<string, string>> = {
  $decode: `/** A module's bytes from base64, its memory import made shared (flag 3) or not (1) at byte flagAt. */
function $decode(base64, flagAt, shared) {
  const s = atob(base64), b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  b[flagAt] = shared ? 3 : 1;
  return b;
}`,
  $compile: `/** A compiled module, or null where this runtime refuses it (no WebAssembly SIMD, or no relaxed SIMD). */
function $compile(bytes) {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    return null;
  }
}`,
  $wasmBytes: `/**
 * The SIMD kernels (celda's compiler/emit/wasm/kernels-wat.ts, assembled by wabt), for a shared memory
 * or an unshared one; fma: the variant whose product uses relaxed SIMD's multiply-add.
 */
const $WASM = ${JSON.stringify(GEMM_WASM_BASE64)};
const $WASM_FMA = ${JSON.stringify(GEMM_FMA_WASM_BASE64)};
function $wasmBytes(shared, fma) {
  return fma ? $decode($WASM_FMA, ${GEMM_FMA_WASM_SHARED_FLAG_AT}, shared) : $decode($WASM, ${GEMM_WASM_SHARED_FLAG_AT}, shared);
}`,
  $makeHeap: `/**
 * Blocks of one memory, 16-byte aligned, first fit; a freed block merges with its
 * neighbours. The memory grows (at least doubling) when no free block fits.
 */
function $makeHeap(memory, gemm, kernels) {
  const free = [];
  let top = 16;
  function alloc(bytes) {
    const n = Math.ceil(bytes / 16) * 16;
    for (let k = 0; k < free.length; k++) {
      const f = free[k];
      if (f.n < n) continue;
      const at = f.at;
      if (f.n === n) free.splice(k, 1);
      else { f.at += n; f.n -= n; }
      return at;
    }
    const at = top;
    const need = at + n - memory.buffer.byteLength;
    if (need > 0) {
      const pages = Math.max(Math.ceil(need / 65536), Math.ceil(memory.buffer.byteLength / 65536));
      try {
        memory.grow(pages);
      } catch {
        try { memory.grow(Math.ceil(need / 65536)); } catch { throw new Error(\`celda: out of memory (\${at + n} bytes asked of the heap)\`); }
      }
    }
    top = at + n;
    return at;
  }
  function release(at, bytes) {
    const n = Math.ceil(bytes / 16) * 16;
    if (n === 0) return;
    let k = 0;
    while (k < free.length && free[k].at < at) k++;
    free.splice(k, 0, { at, n });
    if (k + 1 < free.length && free[k].at + free[k].n === free[k + 1].at) { free[k].n += free[k + 1].n; free.splice(k + 1, 1); }
    if (k > 0 && free[k - 1].at + free[k - 1].n === free[k].at) { free[k - 1].n += free[k].n; free.splice(k, 1); k--; }
    if (free[k].at + free[k].n === top) { top = free[k].at; free.splice(k, 1); }
  }
  const k = kernels ?? {};
  return { memory, gemm, act: k.act, transpose: k.transpose, sumRows: k.sumRows, copyRows: k.copyRows, scan: k.scan, scanFix: k.scanFix, alloc, free: release, threads: 1, simd: true };
}`,
  $heapOf: `/**
 * The heap an instance allocates from: the one given (celda's thread pool, whose
 * shared memory grows in place), else a memory of the instance's own — so that
 * no other instance's growth detaches the views it returned.
 */
const $kernel = { plain: undefined, fma: undefined };
/** Instances of this module alive with a memory of their own (counted down as they are collected): for the message when no more memory can be reserved. */
let $ownHeaps = 0;
const $ownHeapsGone = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry(() => { $ownHeaps--; }) : null;
/** The kernels' module (fma: the relaxed-SIMD build), compiled on first use; null where this runtime refuses it. */
function $kernelModule(fma) {
  const key = fma ? 'fma' : 'plain';
  // Null without WebAssembly SIMD (or relaxed SIMD) here: the other kernels, or the plain JavaScript product below.
  if ($kernel[key] === undefined) $kernel[key] = $compile($wasmBytes(false, fma));
  return $kernel[key];
}
function $heapOf(options) {
  const simd = options.simd !== false;
  if (simd && options.heap !== undefined && options.heap !== null) {
    const h = options.heap;
    if (typeof h.alloc !== 'function' || typeof h.free !== 'function' || typeof h.gemm !== 'function' || !h.memory) $fail('options.heap: expected { memory, alloc, free, gemm } (a celda thread pool\\'s heap)');
    // The heap's kernels are the ones that run: refuse a heap with the fma kernels when asked for the plain ones.
    if (options.fma === false && h.fma === true) $fail('options.fma is false, but options.heap runs the fma kernels (make its pool with fma false)');
    return h;
  }
  // The multiply-add kernels where the runtime has relaxed SIMD, unless options.fma is false.
  const fmaModule = simd && options.fma !== false ? $kernelModule(true) : null;
  const module = fmaModule ?? (simd ? $kernelModule(false) : null);
  if (module !== null) {
    let memory;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    } catch (e) {
      throw new RangeError(\`celda: cannot reserve another WebAssembly memory (\${$ownHeaps} instance\${$ownHeaps === 1 ? '' : 's'} of this module hold one each): pass options.heap, a celda thread pool's heap that instances share, or let go of the instances you no longer use (their memory is freed when they are garbage-collected)\`);
    }
    const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
    const heap = $makeHeap(memory, kernels.gemm, kernels);
    heap.simd = true;
    heap.fma = module === fmaModule;
    $ownHeaps++;
    if ($ownHeapsGone !== null) $ownHeapsGone.register(heap, null);
    return heap;
  }
  const memory = {
    buffer: new ArrayBuffer(65536),
    grow(pages) {
      const b = new ArrayBuffer(this.buffer.byteLength + pages * 65536);
      new Uint8Array(b).set(new Uint8Array(this.buffer));
      this.buffer = b;
    },
  };
  let seen = null, F = null;
  const view = () => {
    if (memory.buffer !== seen) { seen = memory.buffer; F = new Float32Array(seen); }
    return F;
  };
  const heap = $makeHeap(memory, (M, N, K, a, lda, b, ldb, c, ldc, acc) => {
    const F = view();
    $gemm(M, N, K, F, a >> 2, lda, F, b >> 2, ldb, F, c >> 2, ldc, acc);
  }, { act: (kind, p, n) => $actJs(view(), kind, p >> 2, n) });
  heap.simd = false;
  return heap;
}`,
  $actJs: `/** The activations of the SIMD kernel's \`act\` in plain JavaScript (0: tanh, 1: σ), in place on n floats of F from index i. */
function $actJs(F, kind, i, n) {
  const end = i + Math.ceil(n / 4) * 4;
  if (kind === 0) for (let k = i; k < end; k++) F[k] = Math.tanh(F[k]);
  else for (let k = i; k < end; k++) { const x = F[k]; F[k] = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }
}`,
  $keep: `/** A caller's table of arrays, with copies of those that are views of \`buffer\` (null-prototype: any key is a plain name). */
function $keep(table, buffer) {
  if (table === null || typeof table !== 'object') return table;
  const out = Object.create(null);
  for (const key of Object.keys(table)) {
    const v = table[key];
    out[key] = ArrayBuffer.isView(v) && v.buffer === buffer ? v.slice() : v;
  }
  return out;
}`,
  $blocks: `/** An instance's block goes back to a shared heap when the instance (its buffer table, which every method holds) is collected. */
const $blocks = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((b) => { if (b.bytes > 0) b.heap.free(b.at, b.bytes); }) : null;`,
};

/** The plain-JS helpers a SIMD instance runs on its heap's kernels instead, where the heap has them. */
export type MoveHelper = '$transpose' | '$sumRows' | '$copy' | '$pack' | '$scan';

/**
 * The instance-level wrappers (inside the factory: they read the instance's $heap)
 * of the data-movement helpers: byte addresses into the heap's kernel, or the
 * plain-JS helper on a heap without it (no WebAssembly SIMD, `simd: false`).
 * Results are the same floats either way (kernels-wat.ts: sumRows adds rows in the
 * helper's order; the others only move floats).
 */
export const SIMD_MOVES: Readonly<Record<MoveHelper, string>> = {
  $transpose: `function $ktranspose(R, W, src, off, ld, dst) {
  if ($heap.transpose) $heap.transpose(R, W, src.byteOffset + 4 * off, ld, dst.byteOffset, R);
  else $transpose(R, W, src, off, ld, dst);
}`,
  $sumRows: `function $ksumRows(R, n, src, so, lds, dst, dO, acc) {
  if ($heap.sumRows) $heap.sumRows(R, n, src.byteOffset + 4 * so, lds, dst.byteOffset + 4 * dO, acc);
  else $sumRows(R, n, src, so, lds, dst, dO, acc);
}`,
  $copy: `function $kcopy(R, n, src, so, lds, dst, dO, ldd) {
  if ($heap.copyRows) $heap.copyRows(R, n, src.byteOffset + 4 * so, lds, dst.byteOffset + 4 * dO, ldd);
  else $copy(R, n, src, so, lds, dst, dO, ldd);
}`,
  $scan: `function $kscan(rev, R, W, h, dOff, sOff, ld, a, aOff, lda, sa, b, bOff, ldb, sb) {
  // The heap's kernel (SIMD lanes; a pool's splits it between threads) takes byte addresses and flags: 1 reverse, 2 a, 4 b, 16 a one per row, 32 b one per row.
  if ($heap.scan) $heap.scan(rev | (a === null ? 0 : 2) | (b === null ? 0 : 4) | (sa === 0 ? 16 : 0) | (sb === 0 ? 32 : 0), R, $B, W, h.byteOffset + 4 * dOff, h.byteOffset + 4 * sOff, ld, a === null ? 0 : a.byteOffset + 4 * aOff, lda, b === null ? 0 : b.byteOffset + 4 * bOff, ldb);
  else $scan(rev, R, W, h, dOff, sOff, ld, a, aOff, lda, sa, b, bOff, ldb, sb);
}`,
  $pack: `function $kpack(dst, ld, dstRow, dstCol, src, lds, trans, srcRow, srcCol, rows, cols, acc) {
  if (acc || !$heap.transpose || !$heap.copyRows) $pack(dst, ld, dstRow, dstCol, src, lds, trans, srcRow, srcCol, rows, cols, acc);
  else if (trans) $heap.transpose(cols, rows, src.byteOffset + 4 * (srcCol * lds + srcRow), lds, dst.byteOffset + 4 * (dstRow * ld + dstCol), ld);
  else $heap.copyRows(rows, cols, src.byteOffset + 4 * (srcRow * lds + srcCol), lds, dst.byteOffset + 4 * (dstRow * ld + dstCol), ld);
}`,
};

export const SIMD_KERNEL_DEPS: Readonly<Record<string, readonly string[]>> = {
  $wasmBytes: ['$decode'],
  $heapOf: ['$wasmBytes', '$compile', '$makeHeap', '$gemm', '$fail', '$blocks', '$actJs'],
};

/**
 * The module's elementwise loops as WebAssembly (compiler/emit/wasm/loops-wat.ts): its
 * bytes, compiled on first use for an unshared or a shared memory ($decode and
 * $compile, as the kernels'), and an instance of them on a heap's memory — null
 * where WebAssembly SIMD is missing or the heap's memory is not a WebAssembly
 * memory the module can import (the loops then run in JavaScript).
 */
export function wasmLoopsHelper(m: WasmLoopsModule, count: number): string {
  return `/** ${count} fused loop${count === 1 ? '' : 's'} of this cell as WebAssembly SIMD (${m.bytes} bytes, generated by celda's compiler/emit/wasm/loops-wat.ts). */
const $EW_WASM = ${JSON.stringify(m.base64)};
const $ewModule = { local: undefined, shared: undefined };
function $ewOf(heap) {
  if (heap.simd === false || typeof WebAssembly !== 'object' || !(heap.memory instanceof WebAssembly.Memory)) return null;
  const shared = typeof SharedArrayBuffer === 'function' && heap.memory.buffer instanceof SharedArrayBuffer;
  const key = shared ? 'shared' : 'local';
  if ($ewModule[key] === undefined) $ewModule[key] = $compile($decode($EW_WASM, ${m.sharedFlagAt}, shared));
  if ($ewModule[key] === null) return null;
  try {
    return new WebAssembly.Instance($ewModule[key], { env: { memory: heap.memory } }).exports;
  } catch {
    return null; // a memory whose limits the module's import does not accept
  }
}`;
}
