// The TypeScript declarations of an emitted module (emit/js/emit.ts): the factory, its
// dimensions, and the named arrays its instance takes and returns. Pure; names
// reach the output only as identifiers from `identifier` and as JSON strings.

import type { CompiledCell } from '../../compile.ts';
import { commentText, identifier, jsString } from './identifiers.ts';

export function emitDts(cell: CompiledCell, factory: string, precision: 'f64' | 'f32' = 'f64', dims: readonly string[] = cell.typed.dims, simd = false): string {
  const t = cell.typed;
  const T = identifier(cell.name);
  const arr = precision === 'f32' ? 'Float32Array' : 'Float64Array';
  const fields = (keys: readonly string[], type: string, optional = false) =>
    keys.length ? `{\n${keys.map((k) => `  readonly ${jsString(k)}${optional ? '?' : ''}: ${type};`).join('\n')}\n}` : '{}';
  const inline = (keys: readonly string[], type: string, optional = false) =>
    keys.length ? `{ ${keys.map((k) => `readonly ${jsString(k)}${optional ? '?' : ''}: ${type}`).join('; ')} }` : '{}';
  const params = t.params.map((p) => p.name), inputs = t.inputs.map((i) => i.name);
  const states = t.states.map((s) => s.name), outputs = t.outputs.map((o) => o.name);
  const lines = [
    `// celda: types of the module compiled from the cell \`${commentText(cell.name)}\` (${precision === 'f32' ? 'float32' : 'float64'}).`,
    '// Arrays are flat and row-major: per-step values [T][B][n], initial states [B][n],',
    '// matrices by rows. Results are views of the instance\'s buffers, valid until its next call.',
    ...(t.states.some((s) => s.cols) ? [`// A matrix state per example (${t.states.filter((s) => s.cols).map((s) => commentText(s.name)).join(', ')}) is [B][rows][cols] where a state is [B][n], flat by rows.`] : []),
    '',
    `/** Sizes of the cell's dimensions. */`,
    `export interface ${T}Dims ${fields(dims, 'number')}`,
    '',
    `export interface ${T}Params ${fields(params, 'ArrayLike<number>')}`,
    '',
    `/** Each input for all steps: [T][B][n]. */`,
    `export interface ${T}Inputs ${fields(inputs, 'ArrayLike<number>')}`,
    '',
    `/** Initial states [B][n]; a state not given starts at its declared constant. */`,
    `export interface ${T}Init ${fields(states, 'ArrayLike<number>', true)}`,
    '',
    `export interface ${T}Trajectory {`,
    `  /** Each state after every step: [T][B][n]. */`,
    `  readonly states: ${inline(states, arr)};`,
    `  readonly outputs: ${inline(outputs, arr)};`,
    '}',
    '',
    `/** Cotangents ∂ℒ/∂v of states and outputs at every step, [T][B][n]; missing ones are zero. */`,
    `export interface ${T}Cotangents {`,
    `  readonly states?: ${inline(states, 'ArrayLike<number>', true)};`,
    `  readonly outputs?: ${inline(outputs, 'ArrayLike<number>', true)};`,
    '}',
    '',
    `/** Gradients: parameters summed over the batch and time; inputs per step; initial states. */`,
    `export interface ${T}Gradients {`,
    `  readonly params: ${inline(params, arr)};`,
    `  readonly inputs: ${inline(inputs, arr)};`,
    `  readonly init: ${inline(states, arr)};`,
    '}',
    '',
    `export interface ${T}Instance {`,
    `  /** Run T steps (T from the inputs' length, or \`steps\`), saving what backward needs. */`,
    `  forward(params: ${T}Params, inputs: ${T}Inputs, init?: ${T}Init, steps?: number): ${T}Trajectory;`,
    `  /** BPTT over the last forward, from step T down to 1. */`,
    `  backward(cotangents: ${T}Cotangents): ${T}Gradients;`,
    ...(t.mode === 'step'
      ? [
        `  /** One step (T = 1) on a separate instance: the last forward's trajectory is kept. */`,
        `  step(params: ${T}Params, inputs: ${T}Inputs, init?: ${T}Init): ${T}Trajectory;`,
        `  /** The VJP of the last \`step\`. */`,
        `  stepBackward(cotangents: ${T}Cotangents): ${T}Gradients;`,
      ]
      : []),
    `  readonly cell: ${jsString(cell.name)};`,
    `  readonly precision: ${jsString(precision)};`,
    '  readonly batch: number;',
    ...(simd
      ? ['  /** Whether the products run as WebAssembly SIMD (false: plain JavaScript). */', '  readonly simd: boolean;',
        '  /** Threads the products are split between (1 without a thread pool\'s heap). */', '  readonly threads: number;',
        '  /** Whether the product runs the relaxed-SIMD kernels (f32x4.relaxed_madd: fused on CPUs with FMA), as runtimes that have relaxed SIMD do unless options.fma is false. */', '  readonly fma: boolean;',
        '  /** Whether the fused elementwise loops (gate arithmetic, tanh, σ) run as WebAssembly SIMD too (false: JavaScript). */', '  readonly wasmLoops: boolean;']
      : []),
    '}',
    '',
    ...(simd
      ? [
        '/** Where an instance keeps its buffers: one memory, and the matrix product over byte addresses in it. */',
        'export interface CeldaHeap {',
        '  readonly memory: { readonly buffer: ArrayBufferLike };',
        '  alloc(bytes: number): number;',
        '  free(at: number, bytes: number): void;',
        '  gemm(M: number, N: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, acc: number): void;',
        '  /** tanh (kind 0) or σ (kind 1) in place on n floats at byte address p; without it, plain JavaScript. */',
        '  act?(kind: number, p: number, n: number): void;',
        '  /** dst[j·ldd + r] = src[r·lds + j] for r < R, j < W (strides in floats); without it, plain JavaScript. */',
        '  transpose?(R: number, W: number, src: number, lds: number, dst: number, ldd: number): void;',
        '  /** dst[i] (+)= Σ_r src[r·lds + i] for i < n, rows in order; without it, plain JavaScript. */',
        '  sumRows?(R: number, n: number, src: number, lds: number, dst: number, acc: number): void;',
        '  /** n floats of each of R rows (lds 0: one row repeated); without it, plain JavaScript. */',
        '  copyRows?(R: number, n: number, src: number, lds: number, dst: number, ldd: number): void;',
        '  readonly threads: number;',
        '  /** Its product uses relaxed SIMD\'s multiply-add. */',
        '  readonly fma?: boolean;',
        '}',
        '',
        'export interface CeldaOptions {',
        '  /** false: plain-JavaScript products (default: WebAssembly SIMD where the runtime has it). */',
        '  readonly simd?: boolean;',
        '  /** false: the plain kernels (multiply, then add) even where the relaxed-SIMD ones are available (default: use them). With a heap, the heap\'s kernels run: false with an fma heap is refused. */',
        '  readonly fma?: boolean;',
        '  /** false: the fused elementwise loops run as JavaScript (default: as WebAssembly SIMD on the same memory, where the runtime and heap allow). */',
        '  readonly wasmLoops?: boolean;',
        '  /** A heap from celda\'s thread pool, to split the products between worker threads. */',
        '  readonly heap?: CeldaHeap;',
        '}',
        '',
        `export declare function ${factory}(dims: ${T}Dims, batch: number, options?: CeldaOptions): ${T}Instance;`,
      ]
      : [`export declare function ${factory}(dims: ${T}Dims, batch: number): ${T}Instance;`]),
    `export default ${factory};`,
    '',
  ];
  return lines.join('\n');
}
