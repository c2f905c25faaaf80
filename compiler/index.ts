// celda as a library (`import { compile, emitJs } from 'celda'`): the compiler's
// public API, the part that runs anywhere — Node, a browser, a bundler — since
// nothing here imports gpu.js or `node:*`. Running a compiled cell in-process
// (backends, the `celda eval` JSON contract) is `celda/runtime`, Node only.

export type { CompileResult, CompiledCell } from './compile.ts';
export { compile } from './compile.ts';
export type { Diagnostic, Note, Span } from './diagnostics.ts';
export { hasErrors, lineCol, render } from './diagnostics.ts';
export type { EmittedJs, JsOptions } from './emit/js/emit.ts';
export { emitJs } from './emit/js/emit.ts';
export type { Dim } from './ir/dims.ts';
export type { Graph, Node } from './ir/graph.ts';
export type { TypedCell } from './check/typed-cell.ts';
export { trainingStepFlops } from './lower/cost.ts';
export type { GradPrintOptions, Spelling } from './print/notation.ts';
export { printCell, printGrad } from './print/notation.ts';
export { toDot } from './print/graphviz.ts';
