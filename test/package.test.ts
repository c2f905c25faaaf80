// The package as users get it: the JavaScript `npm install` builds into dist/
// (scripts/build.mjs; the suite's global setup builds it from the current
// sources), imported by its name `celda` through package.json's exports map
// (Node resolves a package's own name from inside it), the command line run
// from it, and the declarations that come with it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../compiler/compile.ts';
import { emitJs } from '../compiler/emit/js/emit.ts';
import { printGrad } from '../compiler/print/notation.ts';
import { EXAMPLES } from './support/cells.ts';

const ROOT = join(import.meta.dirname, '..');
// Scratch space inside the package (gitignored), where its own name resolves.
const SCRATCH = join(ROOT, '.scratch');
mkdirSync(SCRATCH, { recursive: true });
const GRU = join(EXAMPLES, 'gru.celda');
const node = (script: string, env: NodeJS.ProcessEnv = process.env) => execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env });

describe("import … from 'celda'", () => {
  it('resolves to the built library, and compiles and emits what the sources do', () => {
    const out = JSON.parse(node(`
      import { readFileSync } from 'node:fs';
      import { compile, emitJs, hasErrors, printGrad, render } from 'celda';
      const source = readFileSync(${JSON.stringify(GRU)}, 'utf8');
      const r = compile(source);
      const bad = compile('cell C {\\n  input x : n\\n  a^<t> = tahn(x^<t>)\\n}\\n');
      const c = r.cells[0];
      console.log(JSON.stringify({
        url: import.meta.resolve('celda'),
        errors: hasErrors(r.diagnostics),
        f32: emitJs(c, { precision: 'f32' }).module,
        f64: emitJs(c).module,
        grad: printGrad(c.typed, c.forward, c.backward, { spelling: 'ascii' }),
        bad: bad.diagnostics.map((d) => render(d, 'c.celda', 'cell C {\\n  input x : n\\n  a^<t> = tahn(x^<t>)\\n}\\n')),
      }));`)) as { url: string; errors: boolean; f32: string; f64: string; grad: string; bad: string[] };
    expect(out.url).toBe(new URL('../dist/index.js', import.meta.url).href);
    const cell = compile(readFileSync(GRU, 'utf8')).cells[0]!;
    expect(out.errors).toBe(false);
    expect(out.f32).toBe(emitJs(cell, { precision: 'f32' }).module);
    expect(out.f64).toBe(emitJs(cell).module);
    expect(out.grad).toBe(printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'ascii' }));
    expect(out.bad.join('\n')).toContain('error[E003]: unknown function `tahn`');
  });

  it("'celda/runtime' runs a cell", () => {
    const out = JSON.parse(node(`
      import { readFileSync } from 'node:fs';
      import { compile } from 'celda';
      import { evaluate, jsBackend } from 'celda/runtime';
      const cell = compile(readFileSync(${JSON.stringify(GRU)}, 'utf8')).cells[0];
      const inputs = { dims: { n_x: 2, n_a: 3 }, batch: 1, steps: 2, inputs: { x: [[[1, 2]], [[3, 4]]] } };
      const b = jsBackend(cell, { dims: { n_x: 2, n_a: 3 }, batch: 1 });
      console.log(JSON.stringify({ interp: evaluate(cell, { inputs }, { seed: 1 }).result, js: evaluate(cell, { inputs }, { seed: 1, backend: 'js' }).result, precision: b.precision }));`)) as { interp: { states: { c: number[][][] } }; js: { states: { c: number[][][] } }; precision: string };
    expect(out.precision).toBe('f64');
    const a = out.interp.states.c.flat(2), b = out.js.states.c.flat(2);
    expect(a).toHaveLength(6);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-12);
  });

  it("the library entry is browser-safe and `celda check` loads no emitter, runtime or gpu.js (esbuild's metafile)", () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as { outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }> };
    // What loading an entry loads before any dynamic import(): its static imports, transitively.
    const loaded = (entry: string) => {
      const seen = new Set<string>(), external = new Set<string>();
      const visit = (o: string) => {
        if (seen.has(o)) return;
        seen.add(o);
        for (const i of meta.outputs[o]!.imports) if (i.kind === 'import-statement') i.external ? external.add(i.path) : visit(i.path);
      };
      visit(entry);
      return { sources: [...seen].flatMap((o) => Object.keys(meta.outputs[o]!.inputs)), external: [...external] };
    };
    const lib = loaded('dist/index.js');
    expect(lib.sources).toContain('compiler/emit/js/emit.ts');
    expect(lib.external).toEqual([]);
    expect(lib.sources.filter((s) => !/^(compiler|grammar)\/|^node_modules\/(ohm-js|immer|fastest-levenshtein|watr)\//.test(s))).toEqual([]);
    const cli = loaded('dist/cli.js');
    expect(cli.sources).toContain('compiler/passes/grad.ts');
    // Of the runtime, only tables are loaded at start: runtime/limits.ts (the memory limit and its error, a few
    // lines), runtime/usage.ts (the error class of a wrong command line, exit 2) and the training settings with
    // their error class, which the one declaration of the options (cli/commands.ts) reads.
    expect(cli.sources.filter((s) => /^compiler\/(emit|lower)\/|^runtime\/(?!limits\.ts$|usage\.ts$|train\/run\/settings\.ts$|train\/errors\.ts$)|node_modules\/gpu\.js/.test(s))).toEqual([]);
    expect(cli.external.filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
});

describe('the built command line', () => {
  const celda = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CELDA_FROM_SOURCE: '', ...env } });

  it('checks a cell as the sources do', () => {
    const built = celda(['check', GRU]), source = celda(['check', GRU], { CELDA_FROM_SOURCE: '1' });
    expect([built.status, built.stderr]).toEqual([0, '']);
    expect(built.stdout).toBe(`${GRU}: ok (GRU: 1 state, 6 params)\n`);
    expect(source.stdout).toBe(built.stdout);
  });

  it('trains on two threads, the second one running the built worker', () => {
    const out = mkdtempSync(join(SCRATCH, 'package-train-'));
    const r = celda(['train', 'gender', '--cell', GRU, '--hidden', '4', '--embed', '4', '--batch', '8', '--steps', '2', '--eval-every', '2', '--eval-size', '16', '--threads', '2', '--out', out, '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { steps: number; backend: string };
    expect([summary.steps, summary.backend]).toEqual([2, 'js-f32']);
  });
});

describe('the declarations', () => {
  it('type-check a program that uses the library by its name', { timeout: 240_000 }, () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--types-only'], { cwd: ROOT, stdio: 'pipe' });
    const dir = mkdtempSync(join(SCRATCH, 'package-types-'));
    writeFileSync(join(dir, 'use.ts'), `import { compile, emitJs, type CompiledCell, type EmittedJs } from 'celda';
import { jsBackend, type CellBackend } from 'celda/runtime';
const cell: CompiledCell = compile('cell C {\\n  input x : n\\n  a^<t> = tanh(x^<t>)\\n}\\n').cells[0]!;
const js: EmittedJs = emitJs(cell, { precision: 'f32' });
const b: CellBackend = jsBackend(cell, { dims: { n: 2 }, batch: 1 });
export const n: number = js.dims.length + b.forward(1, {}, { x: new Float64Array(2) }).states['a']!.length;
// @ts-expect-error: emitJs takes no such precision
emitJs(cell, { precision: 'f16' });
`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] }, files: ['use.ts'] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
