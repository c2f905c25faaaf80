// The `celda` command line. Every user error is a message with its position;
// a stack trace is printed only for a bug, and only with CELDA_DEBUG=1.

import { readFileSync } from 'node:fs';
import { compile } from '../compiler/compile.ts';
import { closest, hasErrors, lineCol, render } from '../compiler/diagnostics.ts';
import { toDot } from '../compiler/print/graphviz.ts';
import { printCell, printGrad } from '../compiler/print/notation.ts';
import type { Spelling } from '../compiler/print/notation.ts';
import { explainLinearity, linearity } from '../compiler/passes/linearity.ts';
import type { Span } from '../grammar/ast.ts';
import type { BackendFactory } from '../runtime/backend.ts';
import { LimitError, printable, suggestion } from '../runtime/limits.ts';
import { BadInput, cellFromFile, defaultName, enableRelaxedSimd, guardOutput, maxMemoryOption, parseSeed, readTextFile, Reported, setMaxFileSize, UsageError } from './common.ts';
import { CHECK, commandNamed, COMMANDS, EVAL, GRAD, GRAPH, PRINT } from './commands.ts';
import { commandHelp, overview, parseOptions } from './options.ts';
import { evalTemplate } from './template.ts';
import { scanOption } from './scan-option.ts';


function readJson(path: string, what: string): unknown {
  const text = readTextFile(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const at = m ? lineCol(text, Number(m[1])) : { line: 1, col: 1 };
    throw new BadInput(`${printable(path)}:${at.line}:${at.col}: invalid JSON in ${what}: ${(e as Error).message.replace(/ in JSON at position \d+.*$/, '')}`);
  }
}

/** `--format`, already one of its choices (cli/commands.ts). */
const spelling = (v: string | undefined): Spelling => (v ?? 'unicode') as Spelling;

/** The one positional argument of a command, or a UsageError that says what it takes. */
const one = (positionals: string[], what: string, cmd: string): string => {
  if (positionals.length !== 1) throw new UsageError(`celda ${cmd} needs one ${what}${positionals.length ? `, not ${positionals.length} (${positionals.map(printable).join(' ')})` : ''}: celda ${cmd} CELL [options] (celda ${cmd} --help lists them)`);
  return positionals[0]!;
};

/** `--no-simd`, `--threads N` for `--backend js --precision f32`: the js backend so configured (null: its defaults). */
async function jsSimdFactory(noSimd: boolean | undefined, threadsText: string | undefined, backend: string, precision: 'f64' | 'f32'): Promise<BackendFactory | null> {
  if (noSimd === undefined && threadsText === undefined) return null;
  const o = (await import('./bench.ts')).simdOptions(noSimd, threadsText, backend, precision);
  const { jsBackend } = await import('../runtime/backends/js.ts');
  return (cell, opts) => jsBackend(cell, { ...opts, ...o });
}

/** `--no-scan`: the backend with the sequential lowering of linear recurrences. */
const noScan = (f: BackendFactory): BackendFactory => (cell, opts) => f(cell, { ...opts, scan: false });

/** `--backend gpujs`: gpu.js kernels called synchronously (Node has webasm and cpu; WebGL2 and WebGPU need a browser). */
async function gpujsFactory(mode: string | undefined, scan: boolean | 'log' = true): Promise<BackendFactory> {
  const { GPU_MODES } = await import('../runtime/backends/gpujs.ts');
  const { gpujsSyncRefusing } = await import('../runtime/backends/gpujs-refusals.ts');
  if (mode !== undefined && !(GPU_MODES as readonly string[]).includes(mode)) throw new UsageError(`--gpu-mode must be one of ${GPU_MODES.join(', ')}, not \`${mode}\``);
  const make = gpujsSyncRefusing('--backend js runs the cell without gpu.js');
  return (cell, opts) => make(cell, { ...opts, mode: (mode ?? 'webasm') as (typeof GPU_MODES)[number], scan });
}

/** `celda CMD --help`, or null for an unknown command. */
export function commandUsage(cmd: string): string | null {
  const c = commandNamed(cmd);
  return c ? commandHelp(c) : null;
}

/** The commands that may run float32 WebAssembly: relaxed SIMD is turned on before them. */
const RUN_WASM = new Set(['eval', 'bench', 'train', 'sample', 'predict', 'compare']);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `celda CMD --help` (before `--`): that command's usage.
  const beforeDashes = rest.indexOf('--') < 0 ? rest : rest.slice(0, rest.indexOf('--'));
  if (cmd !== undefined && (beforeDashes.includes('--help') || beforeDashes.includes('-h'))) {
    const u = commandUsage(cmd);
    if (u !== null) {
      process.stdout.write(u);
      return 0;
    }
  }
  if (cmd !== undefined && RUN_WASM.has(cmd)) await enableRelaxedSimd();
  switch (cmd) {
    case '-h': case '--help': case 'help':
      // usage asked for: on stdout, exit 0 (`celda help train` is `celda train --help`)
      if (cmd === 'help' && rest[0] !== undefined) {
        const u = commandUsage(rest[0]);
        if (u === null) throw unknownCommand(rest[0]);
        process.stdout.write(u);
        return 0;
      }
      process.stdout.write(overview(COMMANDS));
      return 0;
    case '--version': case '-V': case 'version': {
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`celda ${version}\n`);
      return 0;
    }
    case undefined:
      // nothing asked: the usage is the answer to a mistake, so stderr and exit 2
      process.stderr.write(overview(COMMANDS));
      return 2;
    case 'check': {
      const { values, positionals } = parseOptions(rest, CHECK);
      if (positionals.length === 0) throw new UsageError('celda check needs at least one file');
      let failed = 0;
      for (const file of positionals) {
        let source: string;
        try {
          source = readTextFile(file, 'cell file');
        } catch (e) {
          if (!(e instanceof UsageError || e instanceof LimitError)) throw e;
          process.stderr.write(`error: ${oneLine(e.message)}\n`);
          failed++;
          continue;
        }
        const r = compile(source, { defaultCellName: defaultName(file) });
        for (const d of r.diagnostics) process.stderr.write(render(d, file, source) + '\n');
        if (hasErrors(r.diagnostics)) failed++;
        else process.stdout.write(`${file}: ok (${r.cells.map((c) => `${c.name}: ${c.typed.mode === 'unrolled' ? `${c.typed.steps} steps` : `${c.typed.states.length} state${c.typed.states.length === 1 ? '' : 's'}`}, ${c.typed.params.length} params`).join('; ')})\n`);
        if (values.explain && !hasErrors(r.diagnostics)) {
          // Which states are linear recurrences (a scan could run them) and why the others are not.
          const where = (span: Span) => { const { line, col } = lineCol(source, span.start); return `${file}:${line}:${col}`; };
          // The lowering's scan forms load on request: `celda check` alone starts with no lowering code.
          const { scanForms, scanNote } = await import('../compiler/lower/scan.ts');
          for (const c of r.cells) for (const l of explainLinearity(linearity(c.forward), where, scanNote(scanForms(c, { staged: true })))) process.stdout.write(`  ${c.name}: ${l}\n`);
        }
      }
      if (positionals.length > 1) process.stdout.write(`${positionals.length - failed} passed, ${failed} failed\n`);
      return failed ? 1 : 0;
    }
    case 'eval': {
      const { values, positionals } = parseOptions(rest, EVAL);
      const file = one(positionals, 'cell file', 'eval');
      if (values.template) {
        if (values.inputs !== undefined) throw new UsageError('--template writes an inputs file; it takes no --inputs');
        const t = evalTemplate(cellFromFile(file, values.cell).typed);
        process.stdout.write(t.json);
        process.stderr.write(`note: ${t.note}\n`);
        return 0;
      }
      const maxBytes = maxMemoryOption(values['max-memory']);
      const backend = values.backend ?? 'interp';
      if (values['gpu-mode'] !== undefined && backend !== 'gpujs') throw new UsageError('--gpu-mode is for --backend gpujs');
      // gpu.js computes in float32 only: that is its default, and asking it for f64 is a usage error
      const precision = (values.precision ?? (backend === 'gpujs' ? 'f32' : 'f64')) as 'f32' | 'f64';
      if (precision === 'f32' && backend === 'interp') throw new UsageError('--precision f32 needs --backend js (the interpreter is float64)');
      if (precision === 'f64' && backend === 'gpujs') throw new UsageError('the gpujs backend computes in float32 only (no gpu.js target has float64); use --backend interp for float64 results');
      if (!values.inputs) throw new UsageError(`celda eval needs --inputs I.json; \`celda eval ${printable(file)}${values.cell ? ` --cell ${printable(values.cell)}` : ''} --template > inputs.json\` writes a minimal one for this cell`);
      const seed = parseSeed(values.seed);
      const cell = cellFromFile(file, values.cell);
      const inputs = readJson(values.inputs, 'inputs');
      const params = values.params ? readJson(values.params, 'params') : undefined;
      const simd = await jsSimdFactory(values['no-simd'], values.threads, backend, precision);
      const scan = scanOption(values.scan, values['no-scan'], backend);
      const js: BackendFactory | 'js' | 'interp' = scan ? simd ?? backend as 'js' | 'interp' : noScan(simd ?? (await import('../runtime/backends/js.ts')).jsBackend);
      // Loaded here, not at start: it brings the emitter and the WebAssembly runtime, which `celda check` does without.
      const { InputError, evaluate } = await import('../runtime/eval-json.ts');
      try {
        const { result, warnings, nonfinite } = evaluate(cell, { inputs, params }, { seed, backend: backend === 'gpujs' ? await gpujsFactory(values['gpu-mode'], scan) : js, precision, maxBytes });
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        // JSON has no NaN or Infinity: they print as null, so they are reported, and fail the command unless allowed.
        if (nonfinite !== undefined) process.stderr.write(`warning: non-finite result, printed as null: ${nonfinite}\n`);
        process.stdout.write(JSON.stringify(result) + '\n');
        if (nonfinite === undefined || values['allow-nonfinite']) return 0;
        process.stderr.write('error: the result is not finite (exit 1); --allow-nonfinite accepts it\n');
        return 1;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        process.stderr.write(`error: ${e.message}\n`);
        return 1;
      }
    }
    case 'grad': {
      const { values, positionals } = parseOptions(rest, GRAD);
      const cell = cellFromFile(one(positionals, 'cell file', 'grad'), values.cell);
      const names = [...new Set(cell.backward.roots.map((r) => r.name))];
      if (values.wrt !== undefined && !names.includes(values.wrt)) throw new UsageError(`--wrt: \`${printable(values.wrt)}\` is not a parameter, input or state of ${cell.name} (${names.join(', ')})${suggestion(values.wrt, names)}`);
      const sp = spelling(values.format);
      const note = sp === 'latex' ? '%' : '#';
      process.stdout.write(`${note} backward step of ${cell.name}: ∂v is the cotangent ∂ℒ/∂v; parameter gradients are summed over the batch here and over t by BPTT\n`);
      process.stdout.write(printGrad(cell.typed, cell.forward, cell.backward, { spelling: sp, wrt: values.wrt, compact: values.compact }));
      return 0;
    }
    case 'graph': {
      const { values, positionals } = parseOptions(rest, GRAPH);
      const format = values.format ?? 'dot';
      const maxNodes = values['max-nodes'] === undefined ? MAX_SVG_NODES : Number(values['max-nodes']);
      if (!Number.isSafeInteger(maxNodes) || maxNodes < 1) throw new UsageError(`--max-nodes must be a whole number ≥ 1, not \`${printable(values['max-nodes']!)}\``);
      if (values['max-nodes'] !== undefined && format !== 'svg') throw new UsageError('--max-nodes is for --format svg (dot output has no limit)');
      const cell = cellFromFile(one(positionals, 'cell file', 'graph'), values.cell);
      const g = values.backward ? cell.backward : cell.forward;
      if (format === 'svg') {
        // Graphviz lays a graph out in time and memory that grow faster than its size.
        const edges = g.nodes.reduce((n, x) => n + x.inputs.length, 0);
        if (g.nodes.length > maxNodes || edges > 4 * maxNodes) throw new LimitError(`the ${values.backward ? 'backward' : 'forward'} graph of ${cell.name} has ${g.nodes.length} nodes and ${edges} edges, more than svg renders here (${maxNodes} nodes, ${4 * maxNodes} edges); raise it with --max-nodes ${Math.max(g.nodes.length, Math.ceil(edges / 4))}, or use --format dot`);
      }
      const dot = toDot(g, `${cell.name}${values.backward ? ' (backward)' : ''}`);
      if (format === 'dot') process.stdout.write(dot);
      else {
        const { instance } = await import('@viz-js/viz');
        const viz = await instance();
        process.stdout.write(viz.renderString(dot, { format: 'svg' }));
      }
      return 0;
    }
    case 'print': {
      const { values, positionals } = parseOptions(rest, PRINT);
      const cell = cellFromFile(one(positionals, 'cell file', 'print'), values.cell);
      process.stdout.write(printCell(cell.typed, cell.forward, spelling(values.format)));
      return 0;
    }
    case 'train': return (await import('./train.ts')).trainCommand(rest);
    case 'sample': return (await import('./train.ts')).sampleCommand(rest);
    case 'predict': return (await import('./train.ts')).predictCommand(rest);
    case 'compare': return (await import('./train.ts')).compareCommand(rest);
    case 'compile': return (await import('./compile.ts')).compileCommand(rest);
    case 'bench': return (await import('./bench.ts')).benchCommand(rest);
    case 'export': return (await import('./export.ts')).exportCommand(rest);
    case 'data': return (await import('./data.ts')).dataCommand(rest);
    case 'playground': return (await import('./playground.ts')).playgroundCommand(rest);
    default:
      throw unknownCommand(cmd);
  }
}

/** An unknown command: one line, with the closest command, or where the list is. */
function unknownCommand(cmd: string): UsageError {
  const best = closest(cmd, [...COMMANDS.map((c) => c.name), 'help', '--help', '--version']);
  return new UsageError(`unknown ${cmd.startsWith('-') ? 'option' : 'command'} \`${printable(cmd)}\`${best ? `; did you mean \`celda ${best}\`?` : ''} (celda --help lists the commands)`);
}

/** The most nodes `graph --format svg` lays out unless --max-nodes says otherwise (and four times as many edges). */
const MAX_SVG_NODES = 2000;


/** `--max-file-size SIZE`, an option of every command: applied, and taken off the command's arguments. */
function takeFileSize(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { out.push(...argv.slice(i)); break; }
    if (a === '--max-file-size') {
      if (i + 1 >= argv.length) throw new UsageError('--max-file-size needs a size, such as 50M');
      setMaxFileSize(argv[++i]!);
    } else if (a.startsWith('--max-file-size=')) setMaxFileSize(a.slice('--max-file-size='.length));
    else out.push(a);
  }
  return out;
}

/** A message for one line: user text in it cannot add lines or control the terminal (its own line breaks stay). */
const oneLine = (m: string) => m.split('\n').map(printable).join('\n');

let guarded = false;

export async function run(argv: string[]): Promise<number> {
  if (!guarded) { guardOutput(); guarded = true; }
  try {
    return await main(takeFileSize(argv));
  } catch (e) {
    if (e instanceof Reported) return 1;
    if (e instanceof UsageError || e instanceof LimitError || e instanceof BadInput) {
      process.stderr.write(`error: ${oneLine(e.message)}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    process.stderr.write(`internal error: ${oneLine((e as Error)?.message ?? String(e))}\nthis is a bug in celda; please report it with the command and files that caused it${process.env.CELDA_DEBUG ? `\n${(e as Error)?.stack}` : ' (CELDA_DEBUG=1 shows details)'}\n`);
    return 70;
  }
}
