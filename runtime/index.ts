// `celda/runtime`: running a compiled cell in-process (Node). Every backend meets
// one contract (CellBackend: forward over T steps, then the VJP); `evaluate` is
// the `celda eval` JSON contract on any of them.

export type { AsyncCellBackend, BackendFactory, BackendOptions, CellBackend, GradValues, StepValues, Vec } from './backend.ts';
export { interpBackend } from './backends/interp.ts';
export type { JsCellFactory, JsCellInstance, JsInstanceOptions } from './backends/js.ts';
export { jsBackend, loadJsFactory } from './backends/js.ts';
export type { EvalOptions, EvalRequest } from './eval-json.ts';
export { evaluate, InputError } from './eval-json.ts';
export { fmaAvailable, simdAvailable } from './wasm/pool.ts';
