// The compiler assembles WebAssembly text with watr (a pinned npm package): here,
// its bytes against wabt's (the reference assembler and validator scripts/build-wasm.ts
// uses) on everything celda assembles — every kernels-wat.ts build, plain and FMA,
// for a shared and an unshared memory, also kernels-bytes.ts's committed bytes; and
// every example cell's fused loops (loops-wat.ts) with both memories — so a watr
// upgrade that changes one byte of a module fails here. And memoryFlagAt: the one
// byte that turns a module's unshared memory import into a shared one.

import compileWat from 'watr/compile';
import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import { GEMM_FMA_WASM_BASE64, GEMM_FMA_WASM_SHARED_FLAG_AT, GEMM_WASM_BASE64, GEMM_WASM_SHARED_FLAG_AT } from '../../../../compiler/emit/wasm/kernels-bytes.ts';
import { DEFAULT_GEMM, gemmWat } from '../../../../compiler/emit/wasm/kernels-wat.ts';
import { memoryFlagAt } from '../../../../compiler/emit/wasm/memory-flag.ts';
import { compileOk, example, exampleFiles, WASM_EXP_CELL, WASM_OPS_CELL } from '../../../support/cells.ts';

/** watr's bytes for `text` (its typings say any). */
const watr = (text: string): Uint8Array<ArrayBuffer> => compileWat(text);

const FEATURES = { simd: true, threads: true, bulk_memory: true, relaxed_simd: true };
let wabt: Awaited<ReturnType<typeof wabtInit>>;
beforeAll(async () => {
  wabt = await wabtInit();
});

/** wabt's bytes for `text`, validated with celda's features. */
function wabtBytes(text: string): Buffer {
  const m = wabt.parseWat('test.wat', text, FEATURES);
  try {
    // wabt's typings omit validate's features argument (as in scripts/build-wasm.ts).
    (m as unknown as { validate(f: typeof FEATURES): void }).validate(FEATURES);
    return Buffer.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

/** Where watr's bytes and wabt's differ, briefly; undefined if they are the same. */
function difference(text: string): string | undefined {
  const ours = Buffer.from(watr(text)), theirs = wabtBytes(text);
  if (ours.equals(theirs)) return undefined;
  let i = 0;
  while (ours[i] === theirs[i]) i++;
  const around = (b: Buffer) => b.subarray(Math.max(0, i - 8), i + 8).toString('hex');
  return `at byte ${i} of ${ours.length} (wabt: ${theirs.length}): watr …${around(ours)}…, wabt …${around(theirs)}…`;
}

/** The module with its memory's limits flag set to `flag` at `at`. */
const withFlag = (b: Uint8Array, at: number, flag: number) => Buffer.from(b.map((x, i) => (i === at ? flag : x)));

describe('the kernels', () => {
  for (const fma of [false, true]) {
    it(`gemmWat(fma: ${fma}): wabt's bytes, shared and unshared, and kernels-bytes.ts's`, () => {
      const shape = { ...DEFAULT_GEMM, fma };
      for (const shared of [true, false]) expect(difference(gemmWat(shared, shape)), `shared: ${shared}`).toBeUndefined();
      const shared = watr(gemmWat(true, shape));
      expect(Buffer.from(shared).toString('base64')).toBe(fma ? GEMM_FMA_WASM_BASE64 : GEMM_WASM_BASE64);
      const at = memoryFlagAt(shared);
      expect(at).toBe(fma ? GEMM_FMA_WASM_SHARED_FLAG_AT : GEMM_WASM_SHARED_FLAG_AT);
      expect(withFlag(shared, at, 1).equals(Buffer.from(watr(gemmWat(false, shape))))).toBe(true);
    });
  }

  it('other register blocks and unrolling: wabt\'s bytes', () => {
    for (const shape of [{ mr: 3, nr: 3, nr1: 2, unroll: 2 }, { mr: 1, nr: 1, nr1: 1, unroll: 3, fma: true }]) {
      expect(difference(gemmWat(false, { ...DEFAULT_GEMM, ...shape }))).toBeUndefined();
    }
  });
});

describe('the loops of every example cell, a cell with every op they have, and one with exp', () => {
  const cells = () => [...exampleFiles().map(example), compileOk(WASM_OPS_CELL)[0]!, compileOk(WASM_EXP_CELL)[0]!];

  it('wabt\'s bytes for the unshared memory, and with the flag byte set, for the shared one; valid for this runtime', () => {
    for (const cell of cells()) {
      const text = emitJs(cell, { precision: 'f32' }).wasmLoopsWat!;
      expect(difference(text), cell.name).toBeUndefined();
      const local = watr(text);
      const at = memoryFlagAt(local);
      expect(local[at], cell.name).toBe(1);
      const sharedText = text.replace('(memory 1 65536)', '(memory 1 65536 shared)');
      expect(sharedText, cell.name).not.toBe(text);
      expect(withFlag(local, at, 3).equals(wabtBytes(sharedText)), cell.name).toBe(true);
      expect(WebAssembly.validate(local), cell.name).toBe(true);
    }
  });

  it('the module carries watr\'s bytes and the flag\'s offset', () => {
    const e = emitJs(example('gru.celda'), { precision: 'f32' });
    const local = watr(e.wasmLoopsWat!);
    expect(e.module).toContain(Buffer.from(local).toString('base64'));
    expect(e.module).toContain(`$decode($EW_WASM, ${memoryFlagAt(local)}, shared)`);
  });
});

describe('memoryFlagAt', () => {
  it('finds the flag after imported functions, and refuses a module without a memory import', () => {
    const text = (memory: string) => `(module (import "env" "f" (func $f (param i32))) (import "env" "g" (func $g)) ${memory} (func (call $g)))`;
    const local = watr(text('(import "env" "memory" (memory 1 65536))'));
    const at = memoryFlagAt(local);
    expect(withFlag(local, at, 3).equals(wabtBytes(text('(import "env" "memory" (memory 1 65536 shared))')))).toBe(true);
    expect(() => memoryFlagAt(watr(text('(memory 1)')))).toThrow('imports no memory');
    expect(() => memoryFlagAt(watr('(module (import "env" "memory" (memory 1)))'))).toThrow('limits flag is 0');
  });
});
