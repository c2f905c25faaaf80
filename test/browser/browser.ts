// Headless Chromium for the gpu.js tests: Debian's /usr/bin/chromium driven by
// playwright-core (never a downloaded browser), SwiftShader for WebGL2 and
// WebGPU, a fresh profile per launch.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

/** Debian's Chromium; CELDA_CHROMIUM points elsewhere (a test of the skip path, another distribution). */
export const CHROMIUM = process.env.CELDA_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null. With CELDA_REQUIRE_BROWSER=1 a missing browser is a failure, not a skip. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;
}
export const browserRequired = () => process.env.CELDA_REQUIRE_BROWSER === '1';

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu-sandbox',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function openPage(url: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'celda-chromium-'));
  let context: BrowserContext | undefined;
  try {
    // headless: false keeps playwright from adding its own --headless; ours is --headless=new
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: false, args: CHROMIUM_ARGS, timeout: 60_000 });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'celda gpu.js ready', undefined, { timeout: 60_000 }).catch(() => {
      throw new Error(`the test page did not load${errors.length ? `: ${errors.join('; ')}` : ''}`);
    });
    const ctx = context;
    return { page, close: async () => { await ctx.close(); rmSync(profile, { recursive: true, force: true }); } };
  } catch (e) {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}

/** A page on a test server: the browser and the server closed together (the server also when the browser fails to open). */
export async function openServedPage(server: { url: string; close: () => Promise<void> }): Promise<{ page: Page; close: () => Promise<void> }> {
  try {
    const browser = await openPage(server.url);
    return { page: browser.page, close: async () => { await browser.close(); await server.close(); } };
  } catch (e) {
    await server.close();
    throw e;
  }
}
