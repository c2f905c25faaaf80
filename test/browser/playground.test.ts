// The playground in a real browser: headless Chromium (Debian's package, driven
// by playwright-core) on the app as `npm run build:web` builds it, served by
// `celda playground`'s server. The page loads without console errors; a typo
// typed into the editor gets the CLI's diagnostic on its line; fixing it shows
// the typeset cell (Γ) and the SVG graph; a further edit leaves the equations
// it did not change in place; 100 steps of names train with falling
// loss on gpu.js WebGL2, gpu.js WebGPU and WebAssembly SIMD; Stop stops and
// Resume resumes; the trained model downloads as PyTorch + safetensors and as
// ONNX (run in onnxruntime-node against the page's own answer), names' ONNX
// refusal is the CLI's E050 text; Ctrl-Enter trains and Escape stops; the
// theme follows the system; a Chromium with no WebGPU adapter, and a page
// whose canvases give no WebGL2 context, say so and train on WebAssembly; a
// shared link restores a cell as text. Leaves a screenshot and the
// keystroke-to-update timings in artifactsDir(). Without
// /usr/bin/chromium the suite prints one line and skips — unless
// CELDA_REQUIRE_BROWSER=1 (CI), where a missing browser fails.

import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.ts';
import { compile } from '../../compiler/compile.ts';
import { emitJs } from '../../compiler/emit/js/emit.ts';
import { exportOnnx } from '../../compiler/export/onnx.ts';
import { exportPytorch } from '../../compiler/export/pytorch.ts';
import { render } from '../../compiler/diagnostics.ts';
import { interpBackend } from '../../runtime/backends/interp.ts';
import { getTask } from '../../runtime/train/data/tasks/index.ts';
import { modelFiles } from '../../runtime/train/io/model-export.ts';
import { decodeSafetensors } from '../../runtime/train/io/safetensors.ts';
import { TrainCore } from '../../runtime/train/run/core.ts';
import { pageConfig } from '../../web/train/trainer.ts';
import { browserMissing, browserRequired, CHROMIUM_ARGS } from './browser.ts';
import type { Playground } from './playground-page.ts';
import { artifactsDir, editorText, runs, select, setText, startPlayground, updates } from './playground-page.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const missing = browserMissing();
const skip = missing !== null && !browserRequired();
if (skip) console.log(`SKIP playground browser tests: ${missing}; set CELDA_REQUIRE_BROWSER=1 to make this a failure`);

const GRU = readFileSync(join(ROOT, 'examples/cells/gru.celda'), 'utf8');
const TYPO = GRU.replace('tanh(', 'tahn(');
const TYPO_LINE = TYPO.slice(0, TYPO.indexOf('tahn(')).split('\n').length;

/** What `celda check` prints to stderr for this source, as if the file were named cell.celda. */
async function cliDiagnostics(source: string): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'celda-pg-')), 'cell.celda');
  writeFileSync(file, source);
  let err = '';
  const e = process.stderr.write.bind(process.stderr), o = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await run(['check', file]);
  } finally {
    process.stderr.write = e;
    process.stdout.write = o;
  }
  return err.split(file).join('cell.celda').trimEnd();
}

/**
 * A new update shown (after `after` of them) for the editor's text as it is now: each keystroke gets its own update,
 * so one typed word shows its prefixes first (`t(` compiles: t times …), and only the last is the one to check.
 */
const waitUpdate = (page: Page, after: number) => page.waitForFunction((n) => {
  const p = (globalThis as unknown as { celdaPlayground: { shownSource: string; editor: { text(): string } } }).celdaPlayground;
  return Number(document.body.dataset.updates ?? 0) > n && document.body.dataset.compiled === 'ok' && p.shownSource === p.editor.text();
}, after, { timeout: 30_000 });

async function train(page: Page, backend: string, steps: number, hidden: number): Promise<void> {
  await page.selectOption('#task', 'names');
  await page.selectOption('#backend', backend);
  await page.fill('#hidden', String(hidden));
  await page.fill('#steps', String(steps));
  await page.click('#train-btn');
}

const waitRun = (page: Page, states: string[], timeout: number) =>
  page.waitForFunction((s) => {
    const r = (globalThis as unknown as { celdaPlayground: { panel: { runs: { state: string }[] } } }).celdaPlayground.panel.runs[0];
    return r !== undefined && (s.includes(r.state) || r.state === 'failed');
  }, states, { timeout });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A run asked for a GPU the browser does not give: it trained `steps` on WebAssembly SIMD, and the page says why (`note`) above it. */
async function expectFellBack(page: Page, steps: number, note: string) {
  await waitRun(page, ['done'], 120_000);
  const [r] = await runs(page);
  expect(r!.error).toBe('');
  expect(r!.step).toBe(steps);
  expect(r!.backend).toMatch(/^WebAssembly SIMD, \d threads?$/);
  expect(r!.note).toBe(note);
  expect(await page.textContent('#run-info .warn')).toBe(r!.note);
  return r!;
}

describe.skipIf(skip)('the playground in headless Chromium', () => {
  let pg: Playground;
  let page: Page;

  beforeAll(async () => {
    if (missing) throw new Error(`CELDA_REQUIRE_BROWSER=1 but ${missing}`);
    pg = await startPlayground();
    page = await pg.open();
  }, 180_000);
  afterAll(async () => pg?.close());

  it('loads with the GRU compiled, crossOriginIsolated, and no console errors', async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.textContent('#status')).toMatch(/✓ GRU: 1 state, 6 parameter tensors/);
    expect(pg.errors).toEqual([]);
  });

  it('a misspelled function typed in the editor gets the CLI\'s diagnostic, marked on its line', async () => {
    await setText(page, GRU);
    const at = GRU.indexOf('tanh(');
    await select(page, at, at + 4);
    await page.keyboard.type('tahn');
    await page.waitForFunction(() => {
      const p = (globalThis as unknown as { celdaPlayground: { checkedSource: string; editor: { text(): string } } }).celdaPlayground;
      return document.body.dataset.compiled === 'error' && p.checkedSource === p.editor.text();
    }, undefined, { timeout: 30_000 });
    expect(await editorText(page)).toBe(TYPO);
    // The mark: on the line of the typo, under `tahn`.
    const mark = await page.$eval('.cm-lintRange-error', (el) => {
      const line = el.closest('.cm-line')!;
      return { text: el.textContent, line: [...line.parentElement!.children].filter((c) => c.classList.contains('cm-line')).indexOf(line) + 1 };
    });
    expect(mark).toEqual({ text: 'tahn', line: TYPO_LINE });
    expect(await page.$$('.cm-lint-marker-error')).toHaveLength(1);
    // The words: the CLI's rendering below the editor, and code + message + help in the mark's tooltip.
    const cli = await cliDiagnostics(TYPO);
    expect(cli).toMatch(/^cell\.celda:\d+:\d+: error\[E\d+\]: unknown function `tahn`/);
    expect((await page.textContent('#problems'))!.trimEnd()).toBe(cli);
    await page.hover('.cm-lintRange-error');
    await page.waitForSelector('.cm-tooltip-lint', { timeout: 10_000 });
    const tip = (await page.textContent('.cm-tooltip-lint'))!;
    const [, code, message] = /error\[(E\d+)\]: (.*)/.exec(cli)!;
    expect(tip).toContain(`error[${code}]: ${message}`);
    expect(tip).toContain(/help: .*/.exec(cli)![0]);
  });

  it('fixing it shows the typeset cell with Γ and its graph as SVG', async () => {
    const before = await updates(page);
    const at = TYPO.indexOf('tahn(');
    await select(page, at, at + 4);
    await page.keyboard.type('tanh');
    await waitUpdate(page, before);
    expect(await page.$$('.cm-lintRange-error')).toHaveLength(0);
    expect(await page.isHidden('#problems')).toBe(true);
    // each equation typeset side by side (lhs | = rhs), one KaTeX rendering per side
    const math = (await page.textContent('#math-forward'))!;
    expect(math).toContain('Γ');
    expect(math).toContain('tanh');
    const forwardRows = (await page.$$('#math-forward .eq-lhs .katex')).length;
    expect(forwardRows).toBeGreaterThanOrEqual(4);
    expect(await page.$$('#math-forward .eq-rhs .katex')).toHaveLength(forwardRows);
    expect((await page.$$('#math-backward .eq-rhs .katex')).length).toBeGreaterThan(forwardRows);
    await page.click('[data-tab="graph"]');
    expect(await page.$$eval('#graph svg g.node', (n) => n.length)).toBeGreaterThan(10);
    await page.check('input[name="graph"][value="backward"]');
    await page.waitForFunction(() => document.querySelector('#graph svg title')?.textContent?.includes('backward') === true, undefined, { timeout: 30_000 });
    await page.click('[data-tab="shapes"]');
    expect(await page.textContent('#shapes')).toMatch(/W_u.*n_a × \(n_a \+ n_x\)/s);
    await page.click('[data-tab="math"]');
  });

  it('an edit leaves the equations it did not change on the page as they were, and typesets only the new ones', async () => {
    await setText(page, GRU);
    await waitUpdate(page, await updates(page) - 1).catch(() => {});
    // every equation element on the page now, marked, with its text
    const rowsNow = (side: string) => page.$$eval(`${side} > .eq`, (es) => es.map((e) => ({ text: e.textContent!, old: (e as unknown as { seen?: boolean }).seen === true })));
    await page.$$eval('#math-forward > .eq, #math-backward > .eq', (es) => { for (const e of es) (e as unknown as { seen: boolean }).seen = true; });
    const before = [await rowsNow('#math-forward'), await rowsNow('#math-backward')];
    const end = GRU.lastIndexOf('}');
    await select(page, end, end);
    const n = await updates(page);
    await page.keyboard.insertText('  q_extra^<t> = tanh(2 * x^<t>)\n');
    await waitUpdate(page, n);
    const after = [await rowsNow('#math-forward'), await rowsNow('#math-backward')];
    const kept = after.flat().filter((r) => r.old), made = after.flat().filter((r) => !r.old);
    // kept: as many as the two lists have in common, in order (every equation the edit did not touch)
    const common = (a: string[], b: string[]) => {
      const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
      for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
      return t[a.length]![b.length]!;
    };
    const texts = (rs: { text: string }[]) => rs.map((r) => r.text);
    expect(kept.length).toBe(common(texts(before[0]!), texts(after[0]!)) + common(texts(before[1]!), texts(after[1]!)));
    expect(kept.length).toBeGreaterThan(before.flat().length / 2);
    // made: the new output's equation and the backward rows it changed, each new text
    expect(made.some((r) => r.text.includes('extra'))).toBe(true);
    for (const r of made) expect(texts(before.flat())).not.toContain(r.text);
    await setText(page, GRU);
  });

  it('measures keystroke → math, shapes and graph for every example cell (reported)', async () => {
    // the example cells of the notes and examples/cells (the zoo's are in the menu too, but not timed here)
    const names = await page.$$eval('#examples option', (os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v.startsWith('cells/')));
    expect(names.length).toBeGreaterThanOrEqual(readdirSync(join(ROOT, 'examples/cells')).filter((f) => f.endsWith('.celda')).length);
    // Three keystrokes per cell (the new output's constant 2, 3, 4: new math and a new graph each time), the one
    // with the median total reported with its breakdown, and all three totals: one run is at the mercy of the machine.
    const report: Record<string, Record<string, number | number[]>> = {};
    try {
    for (const name of names) {
      const rounds: Record<string, number>[] = [];
      for (const k of [2, 3, 4]) {
        await page.selectOption('#examples', name);
        await waitUpdate(page, await updates(page) - 1).catch(() => {});
        // A new output typed before the cell's closing brace; its last keystroke completes it, changing the math, the
        // shapes and the graph: the time from that keystroke until the page has redrawn all three.
        const text = await editorText(page);
        const input = /input\s+(\S+)/.exec(text)?.[1] ?? 'x';
        const t = /\^\{?<1>/.test(text) ? '1' : 't';
        const end = text.lastIndexOf('}');
        await select(page, end, end);
        await page.keyboard.type(`  q_extra^<${t}> = tanh(${k} * ${input}^<${t}>`);
        await page.waitForTimeout(100);
        const before = await updates(page);
        await page.keyboard.type(')');
        await waitUpdate(page, before);
        expect(await page.textContent('#math-forward')).toContain('extra');
        expect(await page.textContent('#shapes')).toContain('q_extra');
        rounds.push(await page.evaluate(() => {
          const p = (globalThis as unknown as { celdaPlayground: { timings: number[]; breakdown: Record<string, number>[] } }).celdaPlayground;
          return Object.fromEntries(Object.entries({ total: p.timings[p.timings.length - 1]!, ...p.breakdown[p.breakdown.length - 1]! }).map(([k, v]) => [k, Math.round(v)]));
        }));
      }
      const totals = rounds.map((r) => r.total!);
      report[name] = { ...[...rounds].sort((a, b) => a.total! - b.total!)[1]!, runs: totals };
    }
    } finally {
      // the tests after this one train the GRU, whatever happened here
      await page.selectOption('#examples', 'cells/gru');
    }
    mkdirSync(artifactsDir(), { recursive: true });
    writeFileSync(join(artifactsDir(), 'playground-timings.json'), JSON.stringify(report, null, 2) + '\n');
    console.log(`keystroke → math, shapes and graph (ms): ${JSON.stringify(report)}`);
  }, 120_000);

  for (const [backend, expected] of [['webgl2', 'gpu.js WebGL2'], ['webgpu', 'gpu.js WebGPU'], ['wasm', 'WebAssembly SIMD']] as const) {
    it(`100 steps of names on ${expected}: the loss falls, names appear`, async () => {
      const t0 = Date.now();
      await train(page, backend, 100, 16);
      await waitRun(page, ['done'], 240_000);
      const [r] = await runs(page);
      expect(r!.error).toBe('');
      expect(r!.state).toBe('done');
      expect(r!.backend).toContain(expected);
      expect(r!.note).toBe('');
      expect(r!.step).toBe(100);
      expect(r!.losses).toHaveLength(100);
      const first = mean(r!.losses.slice(0, 10).map((p) => p[1])), last = mean(r!.losses.slice(-10).map((p) => p[1]));
      expect(last).toBeLessThan(first - 0.3);
      expect(r!.metrics.length).toBeGreaterThanOrEqual(2);
      expect(r!.metrics[r!.metrics.length - 1]![1]).toBeLessThan(r!.metrics[0]![1]);
      expect(r!.samples.length).toBe(8);
      expect((await page.$$('#samples li')).length).toBe(8);
      console.log(`${expected}: 100 steps in ${((Date.now() - t0) / 1000).toFixed(1)} s, loss ${first.toFixed(3)} → ${last.toFixed(3)} (${r!.backend})`);
      if (backend === 'wasm') {
        mkdirSync(artifactsDir(), { recursive: true });
        await page.screenshot({ path: join(artifactsDir(), 'playground.png'), fullPage: true });
        if (process.env.CELDA_UPDATE_SCREENSHOT === '1') await page.screenshot({ path: join(ROOT, 'docs', 'playground.png'), fullPage: true });
      }
    }, 300_000);
  }

  /** Click an export button and collect the downloads it makes (`n` of them), by file name. */
  async function downloads(selector: string, n: number): Promise<Map<string, Buffer>> {
    const got: Download[] = [];
    const seen = (d: Download) => got.push(d);
    page.on('download', seen);
    try {
      await page.click(selector);
      await expect.poll(() => got.length, { timeout: 60_000 }).toBe(n);
    } finally {
      page.off('download', seen);
    }
    return new Map(await Promise.all(got.map(async (d) => [d.suggestedFilename(), readFileSync((await d.path())!)] as const)));
  }

  it('the trained names GRU downloads as a PyTorch module with its safetensors weights; ONNX is refused with the CLI\'s diagnostic', async () => {
    // the run the WebAssembly test just trained (names, hidden 16)
    expect((await runs(page))[0]).toMatchObject({ state: 'done', step: 100 });
    await page.click('[data-tab="export"]');
    const files = await downloads('[data-export-trained="pytorch"]', 2);
    expect([...files.keys()].sort()).toEqual(['GRU.py', 'GRU.safetensors']);
    const py = files.get('GRU.py')!.toString('utf8');
    expect(py).toContain('class Model(Stack):');
    expect(py).toContain('"weights": "GRU.safetensors"');
    const w = decodeSafetensors(new Uint8Array(files.get('GRU.safetensors')!), 'GRU.safetensors');
    const names = getTask('names');
    const cell = compile(GRU).cells[0]!;
    const core = new TrainCore({ task: names, cell, config: pageConfig({ task: 'names', seed: 1, hidden: 16, layers: 1, optimizer: 'adamw', schedule: 'cosine', steps: 100 }), factory: interpBackend });
    expect([...w.tensors.keys()]).toEqual([...core.model.shapes.keys()]);
    for (const [k, t] of w.tensors) expect(t.shape, k).toEqual(core.model.shapes.get(k));
    expect(w.metadata).toMatchObject({ step: '100', task: 'names', cell_name: 'GRU' });
    expect((await page.textContent('#export-status'))!).toMatch(/^GRU\.py and GRU\.safetensors: the trained model names \(one-to-many\) · GRU, step 100 as a PyTorch module/);
    // ONNX: the CLI's own diagnostic (E050) for a model that generates, rendered as `celda export runs/DIR` renders it
    const made = await modelFiles('onnx', 'GRU', core.init().model, names, cell, core.params, { step: 100, task: 'names', cellName: 'GRU', cellSource: GRU, config: core.config });
    expect(made.ok).toBe(false);
    const cli = made.ok ? '' : made.diagnostics.map((d) => render(d, 'cell.celda', GRU)).join('\n');
    expect(cli).toMatch(/error\[E050\]/);
    await page.click('[data-export-trained="onnx"]');
    await page.waitForFunction(() => document.getElementById('export-status')!.textContent!.includes('E050'), undefined, { timeout: 30_000 });
    expect(await page.textContent('#export-status')).toBe(cli);
    await page.click('[data-tab="math"]');
  }, 120_000);

  it('a trained gender GRU downloads as ONNX with its weights inside, and onnxruntime answers as the page does', async () => {
    await page.selectOption('#task', 'gender');
    expect(await page.inputValue('#layers')).toBe('1');
    expect(await page.inputValue('#optimizer')).toBe('adamw');
    expect(await page.inputValue('#schedule')).toBe('cosine');
    await page.selectOption('#backend', 'wasm');
    await page.fill('#hidden', '12');
    await page.fill('#steps', '40');
    await page.click('#train-btn');
    await waitRun(page, ['done'], 240_000);
    expect((await runs(page))[0]).toMatchObject({ state: 'done', step: 40, error: '' });
    await page.click('[data-tab="export"]');
    const files = await downloads('[data-export-trained="onnx"]', 1);
    const bytes = files.get('GRU.onnx')!;
    const session = await ort.InferenceSession.create(new Uint8Array(bytes));
    // the weights are initializers: the model's only inputs are the sequence and its lengths
    expect([...session.inputNames].sort()).toEqual(['ids', 'lengths']);
    const probe = await page.evaluate(() => (globalThis as unknown as { celdaPlayground: { lastExport: { probe: { ids: number[]; logProbs: number[] } | null } } }).celdaPlayground.lastExport.probe);
    expect(probe).not.toBeNull();
    const { ids, logProbs } = probe!;
    const out = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [ids.length, 1]), lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(ids.length)), [1]) });
    const got = Array.from(out.log_probs!.data as Float32Array);
    expect(got).toHaveLength(2);
    expect(Math.max(...got.map((v, i) => Math.abs(v - logProbs[i]!)))).toBeLessThan(1e-4);
    // and the page's shown prediction for that example is the class onnxruntime picks
    const shown = (await page.textContent('#samples li'))!;
    expect(shown).toContain(got[1]! > got[0]! ? 'male' : 'female');
    expect((await page.textContent('#export-status'))!).toMatch(/^GRU\.onnx: the trained model gender \(many-to-one\) · GRU, step 40 as an ONNX model/);
    // exports asked for before any is answered are each answered (a second used to replace the first's waiter, which then never resolved)
    const answers = await page.evaluate(async () => {
      const { panel } = (globalThis as unknown as { celdaPlayground: { panel: { exportTrained(to: 'onnx' | 'pytorch'): Promise<{ ok: boolean; to: string }> } } }).celdaPlayground;
      const rs = await Promise.all([panel.exportTrained('onnx'), panel.exportTrained('onnx'), panel.exportTrained('pytorch')]);
      return rs.map((r) => [r.ok, r.to]);
    });
    expect(answers).toEqual([[true, 'onnx'], [true, 'onnx'], [true, 'pytorch']]);
    await page.click('[data-tab="math"]');
    await page.selectOption('#task', 'names');
  }, 300_000);

  it('Stop stops a run between steps, Resume continues it', async () => {
    await train(page, 'wasm', 1_000_000, 16);
    await page.waitForFunction(() => ((globalThis as unknown as { celdaPlayground: { panel: { runs: { step: number }[] } } }).celdaPlayground.panel.runs[0]?.step ?? 0) > 5, undefined, { timeout: 60_000 });
    expect(await page.isEnabled('#stop-btn')).toBe(true);
    await page.click('#stop-btn');
    await waitRun(page, ['paused'], 30_000);
    const stopped = (await runs(page))[0]!.step;
    await page.waitForTimeout(1000);
    expect((await runs(page))[0]!).toMatchObject({ state: 'paused', step: stopped });
    expect(await page.isEnabled('#resume-btn')).toBe(true);
    await page.click('#resume-btn');
    await page.waitForFunction((s) => ((globalThis as unknown as { celdaPlayground: { panel: { runs: { step: number }[] } } }).celdaPlayground.panel.runs[0]?.step ?? 0) > s + 3, stopped, { timeout: 60_000 });
    // Escape (the keyboard's Stop) from the editor.
    await page.focus('.cm-content');
    await page.keyboard.press('Escape');
    await waitRun(page, ['paused'], 30_000);
  }, 120_000);

  it('downloads the compiled module (f32, f64), the PyTorch module and the ONNX model that the CLI makes', async () => {
    await setText(page, GRU);
    await page.fill('#hidden', '12');
    await page.click('[data-tab="export"]');
    const cell = compile(GRU).cells[0]!;
    const expected: Record<string, string | Uint8Array> = {
      'js-f32': emitJs(cell, { precision: 'f32' }).module,
      'js-f64': emitJs(cell, { precision: 'f64' }).module,
      pytorch: (() => { const r = exportPytorch(cell); if (!r.ok) throw new Error('no PyTorch export'); return r.code; })(),
      onnx: (() => { const r = exportOnnx(cell, { dims: { n_a: 12, n_x: 16 }, paramsAsInputs: true }); if (!r.ok) throw new Error('no ONNX export'); return r.bytes; })(),
    };
    const names = { 'js-f32': 'GRU.f32.js', 'js-f64': 'GRU.f64.js', pytorch: 'GRU.py', onnx: 'GRU.onnx' } as const;
    for (const kind of Object.keys(expected) as (keyof typeof names)[]) {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(`[data-export="${kind}"]`)]);
      expect(download.suggestedFilename()).toBe(names[kind]);
      const got = readFileSync((await download.path())!);
      const want = expected[kind]!;
      if (typeof want === 'string') expect(got.toString('utf8')).toBe(want);
      else expect(Buffer.compare(got, Buffer.from(want))).toBe(0);
    }
    const said = (await page.textContent('#export-status'))!;
    expect(said).toMatch(/^GRU\.onnx: GRU as an ONNX model \(opset 17; parameters as inputs; /);
    expect(said).toContain('n_a = 12');
    expect(said).toContain('n_x = 16');
    await page.click('[data-tab="math"]');
  }, 60_000);

  it('a shared link restores the cell as text (markup in it stays text)', async () => {
    const hostile = `# </textarea><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">\n${GRU}`;
    await setText(page, hostile);
    await page.click('#share');
    await page.waitForFunction(() => location.hash.startsWith('#cell='), undefined, { timeout: 10_000 });
    const url = await page.evaluate(() => location.href);
    // Something else in localStorage, so that only the link can bring the cell back.
    await setText(page, GRU);
    await page.waitForTimeout(400);
    const other = await pg.context.newPage();
    other.on('pageerror', (e) => pg.errors.push(`page: ${e.message}`));
    await other.goto(url);
    await other.waitForFunction(() => document.body.dataset.compiled === 'ok', undefined, { timeout: 60_000 });
    expect(await editorText(other)).toBe(hostile);
    expect(await other.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await other.$$('#editor script, #editor img, #editor textarea')).toHaveLength(0);
    expect(await other.textContent('#status')).toMatch(/✓ GRU/);
    await other.close();
  }, 60_000);

  it('without COOP/COEP, a gpu.js choice trains on WebAssembly on one thread and the page says why', async () => {
    const plain = await pg.open('', pg.plainUrl);
    expect(await plain.evaluate(() => crossOriginIsolated)).toBe(false);
    await train(plain, 'webgl2', 30, 8);
    await waitRun(plain, ['done'], 120_000);
    const [r] = await runs(plain);
    expect(r!.error).toBe('');
    expect(r!.backend).toBe('WebAssembly SIMD, 1 thread');
    expect(r!.note).toMatch(/^gpu\.js WebGL2 is unavailable: .*crossOriginIsolated.*Cross-Origin-Opener-Policy: same-origin.*; training on WebAssembly SIMD instead; one thread: threads need a shared memory/);
    expect(await plain.textContent('#run-info .warn')).toBe(r!.note);
    await plain.close();
  }, 150_000);

  it('WebGL2 taken away (getContext(\'webgl2\') answers null): the page says so and which backend it trains on instead, and trains', async () => {
    // Chromium here gives a webgl2 context even with --disable-webgl, so the page is served a training worker whose
    // canvases have none: a line before its script (routed for this page only), and the same for the page's canvases.
    const NO_WEBGL2 = `for (const C of [globalThis.OffscreenCanvas, globalThis.HTMLCanvasElement]) if (C) { const get = C.prototype.getContext; C.prototype.getContext = function (kind, ...rest) { return kind === 'webgl2' ? null : get.call(this, kind, ...rest); }; }\n`;
    const page = await pg.context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') pg.errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => pg.errors.push(`page: ${e.message}`));
    let served = 0;
    await page.addInitScript(NO_WEBGL2);
    await page.route(/\/train-worker\.js$/, async (route) => {
      const r = await route.fetch();
      served++;
      await route.fulfill({ response: r, body: NO_WEBGL2 + (await r.text()) });
    });
    await page.goto(pg.server.url);
    await page.waitForFunction(() => document.body.dataset.compiled === 'ok', undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.createElement('canvas').getContext('webgl2'))).toBeNull();
    await train(page, 'webgl2', 30, 8);
    // on screen: the reason and the fallback, the backend in use, and the loss
    const r = await expectFellBack(page, 30, 'gpu.js WebGL2 is unavailable: this browser gives Web Workers no WebGL2 (OffscreenCanvas with a webgl2 context); training on WebAssembly SIMD instead');
    // the training worker and the device worker that probed for WebGL2 both ran the altered script
    expect(served).toBeGreaterThanOrEqual(2);
    const info = (await page.textContent('#run-info .run'))!;
    expect(info).toContain(r.backend);
    expect(info).toMatch(/loss \d+\.\d{3}/);
    expect(r.losses).toHaveLength(30);
    await page.close();
  }, 150_000);

  it('Ctrl-Enter in the editor trains (the keys are said on the page), Escape stops', async () => {
    expect(await page.textContent('#keys')).toMatch(/Ctrl.*Enter.* trains, Esc stops, Ctrl.*S.* copies a share link/);
    await setText(page, GRU);
    await page.selectOption('#task', 'names');
    await page.selectOption('#backend', 'wasm');
    await page.fill('#hidden', '8');
    await page.fill('#steps', '1000000');
    await page.focus('.cm-content');
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction(() => ((globalThis as unknown as { celdaPlayground: { panel: { runs: { step: number }[] } } }).celdaPlayground.panel.runs[0]?.step ?? 0) > 2, undefined, { timeout: 60_000 });
    expect(await editorText(page)).toBe(GRU);
    await page.keyboard.press('Escape');
    await waitRun(page, ['paused'], 30_000);
    expect((await runs(page))[0]!.error).toBe('');
  }, 120_000);

  it('the theme follows the system\'s: dark, then light again', async () => {
    const colours = () => page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await colours()).toEqual(['rgb(13, 17, 23)', 'rgb(230, 237, 243)']);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await colours()).toEqual(['rgb(255, 255, 255)', 'rgb(31, 35, 40)']);
  });

  it('has logged no console errors in any of it', () => {
    expect(pg.errors).toEqual([]);
  });
});

describe.skipIf(skip)('the playground in a Chromium that gives no WebGPU adapter', () => {
  let pg: Playground;

  beforeAll(async () => {
    if (missing) throw new Error(`CELDA_REQUIRE_BROWSER=1 but ${missing}`);
    // without --enable-unsafe-webgpu, navigator.gpu is there but requestAdapter() answers null
    pg = await startPlayground(CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'));
  }, 180_000);
  afterAll(async () => pg?.close());

  it('WebGPU chosen: the page says why it is unavailable and that it trains on WebAssembly SIMD instead, and does', async () => {
    const page = await pg.open();
    await train(page, 'webgpu', 20, 8);
    await expectFellBack(page, 20, 'gpu.js WebGPU is unavailable: WebGPU gave no adapter here (no supported GPU, or it is blocked); training on WebAssembly SIMD instead');
    expect(pg.errors).toEqual([]);
  }, 150_000);
});
