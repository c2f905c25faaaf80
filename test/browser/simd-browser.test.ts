// Emitted float32 modules in a real browser: headless Chromium (Debian's
// package, driven by playwright-core) loads the LSTM's and the GRU's module as
// served text (no imports) on a crossOriginIsolated page, and checks that the
// matrix products and the fused loops run as WebAssembly SIMD (the loops on the
// pool's shared memory too), agree with the same module as plain
// JavaScript, and are bit for bit the same on a two-thread createBrowserPool —
// on the page's main thread (which spins while the workers finish) and in a
// Web Worker (which blocks in Atomics.wait). Without COOP/COEP the pool must
// refuse with its reason. Without /usr/bin/chromium the suite prints one line
// and skips — unless CELDA_REQUIRE_BROWSER=1 (CI), where a missing browser fails.

import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitJs } from '../../compiler/emit/js/emit.ts';
import { browserMissing, browserRequired, openServedPage } from './browser.ts';
import type { CaseData } from './cases.ts';
import { examplesDir, loadCell, makeCase, relativeErrors } from './cases.ts';
import type { Comparison, Probe, SimdPageApi } from './simd-page.ts';
import { serveSimdPage } from './simd-server.ts';

const TOLERANCE = 1e-5;
const missing = browserMissing();
const skip = missing !== null && !browserRequired();
if (skip) console.log(`SKIP SIMD browser tests: ${missing}; set CELDA_REQUIRE_BROWSER=1 to make this a failure`);

/** The cells, at sizes where a two-thread pool (splitting every product of 6 or more columns or rows) splits most of them. */
const CELLS = ['lstm', 'gru'].map((name) => {
  const source = readFileSync(`${examplesDir}${name}.celda`, 'utf8');
  return {
    name,
    module: emitJs(loadCell(source), { precision: 'f32' }).module,
    data: makeCase(`${name}.celda`, source, { dims: { n_x: 20, n_a: 36 }, batch: 8, steps: 6, seed: 7 }),
  };
});

type Api = { celdaSimd: SimdPageApi };
const call = <K extends keyof SimdPageApi>(page: Page, fn: K, ...args: Parameters<SimdPageApi[K]>) =>
  page.evaluate(([f, a]) => ((globalThis as unknown as Api).celdaSimd[f] as (...x: unknown[]) => unknown)(...a), [fn, args] as const) as Promise<Awaited<ReturnType<SimdPageApi[K]>>>;

function check(got: Comparison): void {
  // (d) the page (or its worker) may share memory; (a) the module's own heap is WebAssembly SIMD.
  expect(got.probe.crossOriginIsolated).toBe(true);
  expect(got.runs.simd).toEqual({ simd: true, threads: 1, wasmLoops: true });
  expect(got.runs.js).toEqual({ simd: false, threads: 1, wasmLoops: false });
  expect(got.runs.pool).toEqual({ simd: true, threads: 2, wasmLoops: true });
  // (b) SIMD agrees with plain JavaScript (float32 either way; only the order of the sums differs).
  const errors = relativeErrors(got.results.simd, got.results.js);
  expect(Object.keys(errors).length).toBeGreaterThan(3);
  expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
  // (c) two threads give the single-thread SIMD bits, and did split products (both ways where the shapes allow).
  expect(Object.entries(got.bitsDiffer).filter(([, n]) => n !== 0)).toEqual([]);
  expect(Object.keys(got.bitsDiffer).length).toBe(Object.keys(errors).length);
  expect(got.split.cols).toBeGreaterThan(0);
}

describe.skipIf(skip)('emitted SIMD modules in headless Chromium', () => {
  let page: Page;
  let url = '';
  let stop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (missing) throw new Error(`CELDA_REQUIRE_BROWSER=1 but ${missing}`);
    const server = await serveSimdPage(Object.fromEntries(CELLS.map((c) => [c.name, c.module])));
    url = server.url;
    ({ page, close: stop } = await openServedPage(server));
  }, 120_000);
  afterAll(async () => stop());

  it('the page is crossOriginIsolated and has WebAssembly SIMD; its main thread may not block', async () => {
    const probe: Probe = await call(page, 'probe');
    expect(probe).toMatchObject({ crossOriginIsolated: true, sharedArrayBuffer: true, simd: true, canBlock: false, worker: false });
  });

  for (const c of CELLS) {
    it(`${c.name}: SIMD, plain JS and a two-thread pool on the main thread`, async () => {
      const got = await call(page, 'compare', c.data as CaseData, `/cells/${c.name}.js`);
      expect(got.probe.canBlock).toBe(false);
      check(got);
    }, 60_000);

    it(`${c.name}: the same in a Web Worker`, async () => {
      const got = await call(page, 'inWorker', c.data as CaseData, `/cells/${c.name}.js`);
      expect(got.probe).toMatchObject({ worker: true, canBlock: true });
      check(got);
    }, 60_000);
  }

  it('without COOP/COEP the pool refuses with its reason, and the module runs on one thread', async () => {
    await page.goto(`${url}plain/`);
    await page.waitForFunction(() => document.title === 'celda gpu.js ready', undefined, { timeout: 60_000 });
    const probe: Probe = await call(page, 'probe');
    expect(probe.crossOriginIsolated).toBe(false);
    const pool = await call(page, 'tryPool');
    expect(pool.ok).toBe(false);
    expect(pool.message).toMatch(/crossOriginIsolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
    const run = await call(page, 'single', CELLS[0]!.data as CaseData, `/cells/${CELLS[0]!.name}.js`);
    expect(run).toEqual({ simd: true, threads: 1, wasmLoops: true });
  }, 60_000);
});
