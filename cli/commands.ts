// Every command of `celda` and its options, declared once. The parser, the
// help (`celda --help`, `celda CMD --help`) and the docs' option tables
// (docs/cli.md, docs/training.md; `npx tsx scripts/docs-options.ts` rewrites
// them) are all made from these tables (cli/options.ts).
//
// Adding an option: one row in its command's table; the command reads it as
// `values['the-name']`, typed from the row. Adding a command: a table below,
// listed in COMMANDS (the order of `celda --help`), a `case` in cli/main.ts that
// calls its function with the arguments after the command's name, and
// `<!-- options: NAME --><!-- /options -->` in docs/cli.md, filled by the script.
// Light on purpose: `celda --help` and `celda check` load no runtime.

import { SETTINGS } from '../runtime/train/run/settings.ts';
import type { Command, Opt } from './options.ts';

// ------------------------------------------------------------ shared options

const CELL_NAME = { name: 'cell', type: 'string', arg: 'NAME', doc: 'the cell to use when the file holds several' } as const satisfies Opt;
const PRECISION = { name: 'precision', type: 'string', choices: ['f32', 'f64'], doc: 'float32 (WebAssembly SIMD products) or float64 (plain JavaScript)' } as const satisfies Opt;
const MAX_MEMORY = { name: 'max-memory', type: 'string', arg: 'SIZE', default: '4G', doc: 'the memory limit of the run (or CELDA_MAX_MEMORY), e.g. 8G, 512M' } as const satisfies Opt;
const NO_SIMD = { name: 'no-simd', type: 'boolean', doc: 'float32 products in plain JavaScript instead of WebAssembly SIMD (--backend js)' } as const satisfies Opt;
const NO_SCAN = { name: 'no-scan', type: 'boolean', doc: 'step linear recurrences through time as other cells do, instead of running them as scans (--backend js or gpujs)' } as const satisfies Opt;
const SCAN = { name: 'scan', type: 'string', choices: ['plain', 'log'], default: 'plain', doc: 'how gpu.js runs a linear recurrence\'s parallel scan: log keeps it in log space where its decay is positive (--backend gpujs)' } as const satisfies Opt;
const THREADS = { name: 'threads', type: 'string', arg: 'N', doc: 'threads for the float32 SIMD products, scans, transposes and row sums (--backend js; default: by size)' } as const satisfies Opt;
const SPELLING = { name: 'format', type: 'string', choices: ['unicode', 'latex', 'ascii'], default: 'unicode', doc: 'the spelling of the notation' } as const satisfies Opt;
const OUT_FILE = { name: 'out', short: 'o', type: 'string', arg: 'FILE', doc: 'the file to write' } as const satisfies Opt;

/** The backends a training command runs (runtime/train/run/backends.ts BACKEND_NAMES). */
export const TRAIN_BACKENDS = ['js', 'js-f32', 'interp', 'gpujs'] as const;
/** gpu.js's modes (runtime/backends/gpujs.ts GPU_MODES; Node runs webasm and cpu). */
export const GPU_MODES = ['webasm', 'webgl2', 'webgpu', 'cpu'] as const;

// ------------------------------------------------------------ the compiler's commands

export const CHECK = {
  name: 'check', args: 'FILE…', summary: 'compile files, print diagnostics on stderr',
  options: [
    { name: 'explain', type: 'boolean', doc: 'say which states are linear recurrences, whether they run as scans (and after which states), and why the others are not' },
  ],
} as const satisfies Command;

export const EVAL = {
  name: 'eval', args: 'CELL (--inputs I.json | --template)', summary: 'run a cell on inputs: states, outputs and (given cotangents) the VJP, as JSON', more: 'docs/eval-json.md',
  options: [
    { name: 'inputs', type: 'string', arg: 'I.json', doc: 'the inputs (dims, batch, steps, inputs, init, cotangents); `-` reads stdin' },
    { name: 'template', type: 'boolean', doc: 'print a minimal inputs file for the cell (its dims, inputs and states, with their shapes) instead of running it' },
    { name: 'params', type: 'string', arg: 'P.json', doc: 'the parameters (default: drawn from --seed and echoed under "params")' },
    { name: 'seed', type: 'string', arg: 'N', default: '0', doc: 'the seed of the drawn parameters' },
    CELL_NAME,
    { name: 'backend', type: 'string', choices: ['interp', 'js', 'gpujs'], default: 'interp', doc: 'the float64 interpreter (the reference), the generated JavaScript, or gpu.js kernels' },
    { ...PRECISION, default: 'f64 (gpujs: f32)' },
    { name: 'gpu-mode', type: 'string', choices: GPU_MODES, default: 'webasm', doc: 'gpu.js\'s mode (--backend gpujs; webgl2 and webgpu need a browser)' },
    NO_SIMD, THREADS, NO_SCAN, SCAN, MAX_MEMORY,
    { name: 'allow-nonfinite', type: 'boolean', doc: 'exit 0 even when a value is NaN or ±Infinity (printed as null)' },
  ],
} as const satisfies Command;

export const GRAD = {
  name: 'grad', args: 'CELL', summary: 'the derivative equations of the backward step, in notation',
  options: [
    { name: 'wrt', type: 'string', arg: 'NAME', doc: 'only the gradient of this parameter, input or state' },
    SPELLING,
    { name: 'compact', type: 'boolean', doc: 'refer to forward values by name instead of spelling them out' },
    CELL_NAME,
  ],
} as const satisfies Command;

export const GRAPH = {
  name: 'graph', args: 'CELL', summary: 'the forward (or backward) graph for Graphviz',
  options: [
    { name: 'backward', type: 'boolean', doc: 'the backward step\'s graph' },
    { name: 'format', type: 'string', choices: ['dot', 'svg'], default: 'dot', doc: 'Graphviz source, or rendered to SVG' },
    { name: 'max-nodes', type: 'string', arg: 'N', default: '2000', doc: 'the most nodes --format svg lays out (and 4× as many edges)' },
    CELL_NAME,
  ],
} as const satisfies Command;

export const PRINT = {
  name: 'print', args: 'CELL', summary: 'the cell back as notation, in one spelling',
  options: [SPELLING, CELL_NAME],
} as const satisfies Command;

export const COMPILE = {
  name: 'compile', args: 'CELL', summary: 'a standalone fused JavaScript module (+ .d.ts) for the cell',
  options: [
    { ...OUT_FILE, arg: 'OUT.js', doc: 'write the module there and its declarations beside it (default: the module on stdout)' },
    { ...PRECISION, default: 'f32' },
    NO_SIMD, NO_SCAN,
    CELL_NAME,
  ],
} as const satisfies Command;

export const EXPORT = {
  name: 'export', args: 'CELL|runs/DIR --to pytorch|onnx -o OUT', summary: 'a cell, or a trained run\'s whole model, as a PyTorch module or an ONNX model', more: 'docs/export.md',
  options: [
    { name: 'to', type: 'string', choices: ['pytorch', 'onnx'], doc: 'the format (required)' },
    { ...OUT_FILE, arg: 'OUT', doc: 'the file to write (required): cell.py or cell.onnx' },
    CELL_NAME,
    { name: 'force', type: 'boolean', doc: 'overwrite OUT if it exists' },
    { name: 'dims', type: 'string', arg: 'n_x=…,n_a=…', doc: 'the dimensions (ONNX)' },
    { name: 'params', type: 'string', arg: 'P.json', doc: 'the parameters, as celda eval reads them (ONNX)' },
    { name: 'seed', type: 'string', arg: 'N', default: '0', doc: 'draw the parameters as celda eval --seed N does (ONNX)' },
    { name: 'params-as-inputs', type: 'boolean', doc: 'the parameters are inputs of the ONNX model, not constants' },
    { name: 'vjp', type: 'string', choices: ['autograd', 'celda'], default: 'autograd', doc: 'PyTorch: the backward by torch autograd, or celda\'s own symbolic derivative (a torch.autograd.Function)' },
  ],
} as const satisfies Command;

export const BENCH = {
  name: 'bench', args: 'CELL', summary: 'one training step\'s speed, as one JSON line',
  options: [
    { name: 'dims', type: 'string', arg: 'n_x=…,n_a=…', default: 'the cell\'s, else 32', doc: 'the dimensions' },
    { name: 'batch', type: 'string', arg: 'B', default: '1', doc: 'examples per step' },
    { name: 'steps', type: 'string', arg: 'T', default: '32', doc: 'time steps' },
    { name: 'backend', type: 'string', choices: ['js', 'interp', 'gpujs'], default: 'js', doc: 'the generated JavaScript, the interpreter, or gpu.js kernels' },
    { ...PRECISION, default: 'f32 (interp: f64)' },
    NO_SIMD, THREADS, NO_SCAN, SCAN, MAX_MEMORY,
    CELL_NAME,
  ],
} as const satisfies Command;

export const DATA = {
  name: 'data', args: 'TASK', summary: 'a task\'s examples as JSON lines (token ids, sizes, text)',
  options: [
    { name: 'split', type: 'string', choices: ['train', 'validation', 'test'], default: 'train', doc: 'which split' },
  ],
} as const satisfies Command;

// ------------------------------------------------------------ training (docs/training.md)

/** What each setting of runtime/train/run/settings.ts means, for the help and the docs. */
const SETTING_DOCS: Record<string, { arg: string; doc: string }> = {
  hidden: { arg: 'N', doc: 'the size of every state (n_a, n_h, …)' },
  layers: { arg: 'N', doc: 'cells stacked' },
  embed: { arg: 'N', doc: 'the embedding width n_x (0: one-hot)' },
  batch: { arg: 'B', doc: 'examples per update' },
  lr: { arg: 'X', doc: 'the base learning rate' },
  optimizer: { arg: '', doc: 'the optimizer' },
  'weight-decay': { arg: 'X', doc: 'L2 for sgd and adam, decoupled for adamw' },
  momentum: { arg: 'X', doc: 'SGD\'s momentum' },
  schedule: { arg: 'S', doc: 'constant, cosine[:DECAY_STEPS[:FLOOR]] or step:EVERY:GAMMA, after a linear warm-up' },
  warmup: { arg: 'N', doc: 'steps of linear warm-up' },
  'decay-steps': { arg: 'N', doc: 'the cosine schedule\'s horizon (it does not follow --steps, so a resumed run continues the same curve)' },
  clip: { arg: 'X', doc: 'clip gradients by global norm (0: off)' },
  init: { arg: '', doc: 'the matrices\' initialisation' },
  'forget-bias': { arg: 'X', doc: 'the starting value of b_f (the forget gate)' },
  bptt: { arg: 'K', doc: 'truncate backpropagation to windows of K steps (0: off; unidirectional many-to-many and one-to-many)' },
  'eval-every': { arg: 'N', doc: 'validate every N steps (and save a checkpoint)' },
  'eval-size': { arg: 'N', doc: 'validation examples of the periodic evaluation (the final metrics use the whole split)' },
  seed: { arg: 'S', doc: 'fixes initialisation and data order: the same command gives the same bytes' },
  threads: { arg: 'N', doc: 'data parallelism: the batch cut into N shards, gradients summed in order (at most 256)' },
  head: { arg: '', doc: 'the output head: the cell\'s ŷ (cell), a dense layer on the readout (runtime), or cell when it has ŷ (auto)' },
  readout: { arg: 'NAME', doc: 'the state or output the runtime head reads (default: a, else the only state)' },
};

const choicesOf = (opt: string): readonly string[] | undefined => {
  const s = SETTINGS.find((x) => x.opt === opt)!;
  return 'oneOf' in s.kind && s.kind.oneOf.length ? s.kind.oneOf : undefined;
};

/** The run's settings, one option each (their rules: runtime/train/run/settings.ts). */
const SETTING_OPTIONS: readonly Opt[] = SETTINGS.map((s) => {
  const d = SETTING_DOCS[s.opt];
  if (!d) throw new Error(`setting --${s.opt} has no line in cli/commands.ts SETTING_DOCS`);
  const choices = choicesOf(s.opt);
  return { name: s.opt, type: 'string', ...(choices ? { choices } : { arg: d.arg }), default: s.opt === 'seed' ? '0' : s.opt === 'head' ? 'auto' : s.opt === 'readout' ? undefined : 'per task', doc: d.doc } satisfies Opt;
});

const TRAIN_BACKEND = { name: 'backend', type: 'string', choices: TRAIN_BACKENDS, default: 'js-f32', doc: 'the generated JavaScript (float32 with WebAssembly SIMD; float64 with --precision f64), the interpreter, or gpu.js' } as const satisfies Opt;
const TRAIN_PRECISION = { ...PRECISION, default: 'f32' } as const satisfies Opt;

/** Options of `train` and `compare` both. */
const RUN_OPTIONS = [
  { name: 'cell-name', type: 'string', arg: 'NAME', doc: 'the cell to train when the file holds several' },
  { name: 'steps', type: 'string', arg: 'N', default: 'per task', doc: 'total updates (a resumed run counts from 0, so --steps is the end)' },
  { name: 'epochs', type: 'string', arg: 'N', doc: 'instead of --steps: epochs of the training split' },
  ...SETTING_OPTIONS,
  { name: 'bidirectional', type: 'boolean', doc: 'a bidirectional layer (many-to-many and many-to-one; entities\' default)' },
  { name: 'unidirectional', type: 'boolean', doc: 'a one-way layer' },
  { name: 'no-bucket', type: 'boolean', doc: 'don\'t batch sequences of similar length together' },
  { name: 'dim', type: 'string', multiple: true, arg: 'NAME=N', doc: 'a dimension the cell leaves open (it must be one of the cell\'s)' },
  TRAIN_BACKEND, TRAIN_PRECISION, NO_SCAN, SCAN,
  { name: 'force', type: 'boolean', doc: 'start over in a directory that already holds a checkpoint' },
  { name: 'quiet', type: 'boolean', doc: 'no progress on stderr' },
  MAX_MEMORY,
] as const satisfies readonly Opt[];

export const TRAIN = {
  name: 'train', args: 'TASK --cell FILE', summary: 'train a cell on names, gender, entities or g2p', more: 'docs/training.md',
  options: [
    { name: 'cell', type: 'string', arg: 'FILE', doc: 'the cell file (required unless --resume)' },
    ...RUN_OPTIONS,
    { name: 'out', type: 'string', arg: 'DIR', default: 'runs/TASK-CELL', doc: 'the run\'s directory: checkpoint, curves, summary.json' },
    { name: 'resume', type: 'string', arg: 'DIR', doc: 'continue the checkpoint in DIR, bit for bit (its settings are kept)' },
    { name: 'save-every', type: 'string', arg: 'N', default: '--eval-every', doc: 'the checkpoint period in steps' },
    { name: 'samples', type: 'string', arg: 'N', default: '10', doc: 'names sampled after a names run (on stderr)' },
  ],
} as const satisfies Command;

export const SAMPLE = {
  name: 'sample', args: 'DIR', summary: 'generate from a one-to-many checkpoint (names), one per line',
  options: [
    { name: 'n', type: 'string', short: 'n', arg: 'N', default: '10', doc: 'how many' },
    { name: 'temperature', type: 'string', arg: 'T', default: '1', doc: 'sample from softmax(logits / T) (not with --greedy)' },
    { name: 'top-k', type: 'string', arg: 'K', default: '0 (all)', doc: 'sample among the K likeliest tokens (not with --greedy)' },
    { name: 'greedy', type: 'boolean', doc: 'always the likeliest token instead of sampling' },
    { name: 'seed', type: 'string', arg: 'S', default: '0', doc: 'the sampling seed' },
    { name: 'max-len', type: 'string', arg: 'N', default: '32', doc: 'the longest sequence' },
    TRAIN_BACKEND, TRAIN_PRECISION, MAX_MEMORY,
  ],
} as const satisfies Command;

export const PREDICT = {
  name: 'predict', args: 'DIR [INPUT…]', summary: 'run a checkpoint on inputs (or lines on stdin)',
  options: [
    { name: 'beam', type: 'string', arg: 'K', default: '1 (greedy)', doc: 'beam search of width K (encoder–decoder tasks)' },
    { name: 'max-len', type: 'string', arg: 'N', default: '32', doc: 'the longest output (encoder–decoder)' },
    TRAIN_BACKEND, TRAIN_PRECISION, MAX_MEMORY,
  ],
} as const satisfies Command;

export const COMPARE = {
  name: 'compare', args: 'TASK --cells A.celda B.celda …', summary: 'train each cell with the same seed and budget; a table and curves', more: 'docs/training.md',
  options: [
    { name: 'cells', type: 'string', multiple: true, arg: 'FILE…', doc: 'the cell files (the arguments after the task count too)' },
    ...RUN_OPTIONS,
    { name: 'out', type: 'string', arg: 'DIR', default: 'runs/compare-TASK', doc: 'the report\'s directory (report.md, report.json, curves, one directory per cell)' },
    { name: 'report', type: 'string', arg: 'FILE.md', doc: 'also write the comparison as this task\'s section of FILE.md, curves beside it (how docs/zoo.md is made)' },
  ],
} as const satisfies Command;

/** Every command, in the order `celda --help` lists them. */
export const PLAYGROUND = {
  name: 'playground', args: '', summary: 'the browser playground: edit a cell, see its math, graphs and shapes, train it, export it', more: 'README.md (Playground)',
  options: [
    { name: 'port', type: 'string', arg: 'N', default: '8520', doc: 'the port (0: any free one)' },
    { name: 'host', type: 'string', arg: 'H', default: '127.0.0.1', doc: 'the address to listen on (another than 127.0.0.1 makes the page reachable from other machines)' },
    { name: 'open', type: 'boolean', doc: 'open the page in the system\'s browser' },
  ],
} as const satisfies Command;

export const COMMANDS: readonly Command[] = [CHECK, EVAL, GRAD, GRAPH, PRINT, COMPILE, EXPORT, DATA, BENCH, TRAIN, SAMPLE, PREDICT, COMPARE, PLAYGROUND];

/** A command by name, or undefined. */
export const commandNamed = (name: string): Command | undefined => COMMANDS.find((c) => c.name === name);
