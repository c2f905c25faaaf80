// The gpu.js backend in a real browser: headless Chromium (Debian's package,
// driven by playwright-core) on SwiftShader, WebGL2 and WebGPU, every example
// cell and the ops cell against the float64 interpreter, and a check that each
// run stayed on the mode it was asked for. Without /usr/bin/chromium the suite
// prints one line and skips — unless CELDA_REQUIRE_BROWSER=1 (CI), where a
// missing browser fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { browserMissing, browserRequired, openServedPage } from './browser.ts';
import type { CaseData, CaseResult } from './cases.ts';
import { allCases, reference, relativeErrors } from './cases.ts';
import { servePage } from './server.ts';

const TOLERANCE = 1e-4;
const missing = browserMissing();
const skip = missing !== null && !browserRequired();
if (skip) console.log(`SKIP gpu.js browser tests: ${missing}; set CELDA_REQUIRE_BROWSER=1 to make this a failure`);

/** What gpu.js must report for a run on each mode ('gpu' is its name for the GL kernels). */
const EXPECTED = { webgl2: { backend: 'gpu', executor: 'generic' }, webgpu: { backend: 'webgpu', executor: 'fused-encoder' } } as const;

describe.skipIf(skip)('gpu.js in headless Chromium', () => {
  let page: Page;
  let stop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (missing) throw new Error(`CELDA_REQUIRE_BROWSER=1 but ${missing}`);
    ({ page, close: stop } = await openServedPage(await servePage()));
  }, 120_000);
  afterAll(async () => stop());

  it('has WebGL2 and a WebGPU adapter (SwiftShader)', async () => {
    const probe = await page.evaluate(() => (globalThis as unknown as { celda: { probe(): Promise<{ webgl2: boolean; webgpu: boolean }> } }).celda.probe());
    expect(probe).toMatchObject({ webgl2: true, webgpu: true });
  });

  it('an Array(4) result passed to another kernel reads as four floats per element, called directly and in a recorded pipeline (WebGPU: patches/gpu.js+2.24.1.patch)', async () => {
    for (const mode of ['webgl2', 'webgpu'] as const) {
      const got = await page.evaluate((m) => (globalThis as unknown as { celda: { vec4Arguments(m: string): Promise<{ direct: number[][]; piped: number[][]; executor: string; declared: string }> } }).celda.vec4Arguments(m), mode);
      // element (y, x): v + 10v + 100v + 1000v + x with v = x + 3y
      const want = [0, 1].map((y) => [0, 1, 2].map((x) => 1111 * (x + 3 * y) + x));
      expect(got.direct, mode).toEqual(want);
      expect(got.piped, mode).toEqual(want);
      expect(got.executor, mode).toBe(EXPECTED[mode].executor);
      // WebGPU: a reader declared to take a plain Array is refused an Array(4) result (the fused encoder falls back to calling kernels, which says so)
      if (mode === 'webgpu') expect(got.declared).toMatch(/built for Array\(1\) pipeline results but received Array\(4\)/);
    }
  });

  for (const mode of ['webgl2', 'webgpu'] as const) {
    describe(mode, () => {
      for (const c of allCases()) {
        it(`${c.name} agrees with the interpreter`, async () => {
          const got = await page.evaluate(
            ([data, m]) => (globalThis as unknown as { celda: { run(c: CaseData, m: string): Promise<CaseResult> } }).celda.run(data, m),
            [c, mode] as const,
          );
          for (const r of got.runs) {
            expect(r.requested).toBe(mode);
            expect(r.backend).toBe(EXPECTED[mode].backend);
            expect(r.executor).toBe(EXPECTED[mode].executor);
            expect(r.backend).not.toBe('cpu');
          }
          const errors = relativeErrors(got, reference(c));
          expect(Object.keys(errors).length).toBeGreaterThan(3);
          expect(Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE))).toEqual([]);
        });
      }
    });
  }
});
