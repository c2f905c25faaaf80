// The renderers' tables of elementwise primitives against the op table: each
// covers exactly the ops of kind 'elementwise' (the WebAssembly loops a subset),
// so ElementwiseOp in ir/ops.ts and the kinds in OPS cannot drift apart.

import { describe, expect, it } from 'vitest';
import { GPUJS_ELEMENTWISE } from '../../../compiler/emit/gpujs/elementwise.ts';
import { JS_ELEMENTWISE } from '../../../compiler/emit/js/elementwise.ts';
import { WASM_LOOP_OPS, wasmLoopSupports } from '../../../compiler/emit/wasm/elementwise.ts';
import type { OpName } from '../../../compiler/ir/ops.ts';
import { OPS, isElementwiseOp } from '../../../compiler/ir/ops.ts';

const all = Object.keys(OPS) as OpName[];
const elementwise = all.filter((op) => OPS[op].kind === 'elementwise').sort();

describe('elementwise renderers', () => {
  it('JavaScript and gpu.js render exactly the ops of kind elementwise', () => {
    expect(Object.keys(JS_ELEMENTWISE).sort()).toEqual(elementwise);
    expect(Object.keys(GPUJS_ELEMENTWISE).sort()).toEqual(elementwise);
    expect(all.filter(isElementwiseOp).sort()).toEqual(elementwise);
  });

  it('the WebAssembly loops support a subset, and wasmLoopSupports is their table', () => {
    for (const op of Object.keys(WASM_LOOP_OPS)) expect(elementwise).toContain(op);
    expect(all.filter((op) => wasmLoopSupports(op, 2)).sort()).toEqual(Object.keys(WASM_LOOP_OPS).sort());
    expect(['exp', 'log', 'softplus', 'matvec', 'concat'].some((op) => wasmLoopSupports(op as OpName, undefined))).toBe(false);
    expect([1, 2, 3, 0.5, -1].map((p) => wasmLoopSupports('pow', p))).toEqual([true, true, false, false, false]);
    expect(wasmLoopSupports('tanh', undefined)).toBe(true);
  });
});
