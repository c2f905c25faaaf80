// gpu.js's scans (runtime/backends/gpujs-scan.ts) in headless Chromium on SwiftShader,
// WebGL2 and WebGPU: minGRU, an RG-LRU and mLSTM (a staged forward) against the float64 interpreter, values
// and every gradient, plain and in log space. Skips with one line without
// /usr/bin/chromium, unless CELDA_REQUIRE_BROWSER=1.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SCAN_CELLS } from '../../bench/scan.ts';
import { browserMissing, browserRequired, openServedPage } from './browser.ts';
import type { CaseData, CaseResult } from './cases.ts';
import { makeCase, reference, relativeErrors } from './cases.ts';
import { servePage } from './server.ts';

const TOLERANCE = 1e-4;
const missing = browserMissing();
const skip = missing !== null && !browserRequired();
if (skip) console.log(`SKIP gpu.js scan browser tests: ${missing}; set CELDA_REQUIRE_BROWSER=1 to make this a failure`);

type Celda = {
  run(c: CaseData, m: string, maxExtent?: number, quad?: boolean): Promise<CaseResult>;
  timeScan(source: string, dims: Record<string, number>, batch: number, steps: number, mode: string, repeats: number, scan: boolean | 'log'): Promise<{ launches: number; scanned: boolean }>;
  softwareRenderer(mode: string): Promise<boolean>;
};

describe.skipIf(skip)('gpu.js scans in headless Chromium', () => {
  let page: Page;
  let stop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    if (missing) throw new Error(`CELDA_REQUIRE_BROWSER=1 but ${missing}`);
    ({ page, close: stop } = await openServedPage(await servePage()));
  }, 120_000);
  afterAll(async () => stop());

  it('SwiftShader is recognised as a software renderer on WebGL2 and WebGPU (the scan kernels then get the CPU layout, PlanOptions.cpu)', async () => {
    const got = await page.evaluate(async () => {
      const c = (globalThis as unknown as { celda: Celda }).celda;
      return [await c.softwareRenderer('webgl2'), await c.softwareRenderer('webgpu'), await c.softwareRenderer('webasm')];
    });
    expect(got).toEqual([true, true, false]);
  });

  for (const mode of ['webgl2', 'webgpu'] as const) {
    for (const [name, source] of Object.entries(SCAN_CELLS)) {
      it(`${mode}: ${name} as a scan agrees with the interpreter`, async () => {
        // n = 4, 18 rows: WebGL2's products read x and W packed by four, the weight gradients not; n = 8, 16 rows: both packed (PlanOptions.pack)
        for (const [n, steps] of [[4, 9], [8, 8]] as const) {
          const c = makeCase(name, source.replace(/^cell \w+/, 'cell cell'), { steps, batch: 2, dims: { n } });
          const got = await page.evaluate(([data, m]) => (globalThis as unknown as { celda: Celda }).celda.run(data, m), [c, mode] as const);
          const errors = relativeErrors(got, reference(c));
          expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
        }
        const on = await page.evaluate(([s, m]) => (globalThis as unknown as { celda: Celda }).celda.timeScan(s, { n: 4 }, 2, 9, m, 1, true), [source, mode] as const);
        const off = await page.evaluate(([s, m]) => (globalThis as unknown as { celda: Celda }).celda.timeScan(s, { n: 4 }, 2, 9, m, 1, false), [source, mode] as const);
        expect(on.scanned).toBe(true);
        expect(on.launches).toBeLessThan(off.launches);
      });
    }
    it(`${mode}: minGRU's and RG-LRU's products over all rows as kernels of four outputs per thread (PlanOptions.quad, on by default on WebGPU in software) agree with the interpreter`, async () => {
      for (const name of ['mingru', 'rglru']) {
        // n = 8, 16 rows: the input products and the weight-gradient sums; n = 4, 18 rows: the products only
        for (const [n, steps] of [[8, 8], [4, 9]] as const) {
          const c = makeCase(name, SCAN_CELLS[name]!.replace(/^cell \w+/, 'cell cell'), { steps, batch: 2, dims: { n } });
          const [on, off, byDefault] = await page.evaluate(async ([data, m]) => {
            const celda = (globalThis as unknown as { celda: Celda }).celda;
            return [await celda.run(data, m, undefined, true), await celda.run(data, m, undefined, false), await celda.run(data, m)];
          }, [c, mode] as const);
          for (const got of [on, off]) {
            expect(got.scanned).toEqual([true, true]);
            const errors = relativeErrors(got, reference(c));
            expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
          }
          // the four-output kernels and their packed operands are launches of their own
          expect(on.launches![0]).toBeGreaterThan(off.launches![0]!);
          expect(on.launches![1]).toBeGreaterThan(off.launches![1]!);
          expect(byDefault.launches).toEqual(mode === 'webgpu' ? on.launches : off.launches);
        }
      }
    });
    it(`${mode}: mLSTM's forward in stages (m stepped into an all-steps array, then C and n scanned) agrees with the interpreter`, async () => {
      const c = makeCase('mlstm', readFileSync(new URL('../../examples/zoo/mlstm.celda', import.meta.url), 'utf8').replace(/^cell \w+/m, 'cell cell'), { steps: 7, batch: 2, dims: { d: 3, n_x: 3 } });
      const got = await page.evaluate(([data, m]) => (globalThis as unknown as { celda: Celda }).celda.run(data, m), [c, mode] as const);
      expect(got.scanned).toEqual([true, true]);
      const errors = relativeErrors(got, reference(c));
      expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
    });
    it(`${mode}: rglru over more T·B rows than a kernel may output (forced to 16): segments`, async () => {
      const c = makeCase('rglru', SCAN_CELLS.rglru!.replace(/^cell \w+/, 'cell cell'), { steps: 23, batch: 3, dims: { n: 4 } });
      const got = await page.evaluate(([data, m]) => (globalThis as unknown as { celda: Celda }).celda.run(data, m, 16), [c, mode] as const);
      expect(got.scanned).toEqual([true, true]);
      const errors = relativeErrors(got, reference(c));
      expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
    });
  }
});
