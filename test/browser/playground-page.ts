// The playground in headless Chromium for its browser test: the app built by
// scripts/build-web.mjs into a fresh folder, served by `celda playground`'s own
// server (cli/playground.ts), and a page that records its console errors.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { PlaygroundServer } from '../../cli/playground.ts';
import { fileTable, requestKey, servePlayground } from '../../cli/playground.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Where the test leaves its screenshot and timings: CELDA_ARTIFACTS, else a folder in the system's temp. */
export const artifactsDir = (): string => process.env.CELDA_ARTIFACTS ?? join(tmpdir(), 'celda-artifacts');

export interface Playground {
  readonly server: PlaygroundServer;
  /** The same files without COOP/COEP (a web host that does not send them): the page is not crossOriginIsolated. */
  readonly plainUrl: string;
  readonly context: BrowserContext;
  /** Console errors and uncaught exceptions of every page so far. */
  readonly errors: string[];
  open(path?: string, base?: string): Promise<Page>;
  close(): Promise<void>;
}

/** `args`: Chromium's command line instead of CHROMIUM_ARGS (a test that takes the GPU away). */
export async function startPlayground(args: readonly string[] = CHROMIUM_ARGS): Promise<Playground> {
  const dir = mkdtempSync(join(tmpdir(), 'celda-web-'));
  const profile = mkdtempSync(join(tmpdir(), 'celda-chromium-'));
  let server: PlaygroundServer | undefined;
  let context: BrowserContext | undefined;
  let plain: { url: string; close: () => Promise<void> } | undefined;
  try {
    const { buildWeb } = (await import(pathToFileURL(join(ROOT, 'scripts', 'build-web.mjs')).href)) as { buildWeb: (o: { quiet: boolean; dir: string }) => Promise<unknown> };
    await buildWeb({ quiet: true, dir });
    server = await servePlayground(dir, { port: 0 });
    plain = await servePlain(dir);
    // headless: false keeps playwright from adding its own --headless; ours is --headless=new
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: false, args: [...args], timeout: 60_000, viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    const s = server, ctx = context, p = plain;
    const open = async (path = '', base = s.url) => {
      const page = ctx.pages().find((p) => p.url() === 'about:blank') ?? (await ctx.newPage());
      page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
      page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
      await page.goto(`${base}${path}`);
      await page.waitForFunction(() => document.title === 'celda playground' && document.body.dataset.compiled !== undefined, undefined, { timeout: 60_000 });
      return page;
    };
    return {
      server: s, plainUrl: p.url, context: ctx, errors, open,
      close: async () => { await ctx.close(); await s.close(); await p.close(); rmSync(profile, { recursive: true, force: true }); rmSync(dir, { recursive: true, force: true }); },
    };
  } catch (e) {
    await context?.close().catch(() => {});
    await server?.close();
    await plain?.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The built files as a host without COOP/COEP would serve them (only for the test: no checks but the table's). */
async function servePlain(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const files = fileTable(dir);
  const server = createServer((req, res) => {
    const file = files.get(requestKey(req.url) ?? '');
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : file.endsWith('.html') ? 'text/html' : 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

/** The page's hook (web/main.ts): timings, the training panel's runs, the editor. */
export interface RunState { state: string; backend: string; note: string; error: string; step: number; losses: [number, number][]; metrics: [number, number][]; samples: string[] }

export const runs = (page: Page): Promise<RunState[]> =>
  page.evaluate(() => (globalThis as unknown as { celdaPlayground: { panel: { runs: RunState[] } } }).celdaPlayground.panel.runs.map((r) => ({
    state: r.state, backend: r.backend, note: r.note, error: r.error, step: r.step, losses: r.losses, metrics: r.metrics, samples: [...r.samples],
  })));

/** Replace the editor's text as a paste would (one transaction through the same listener as typing). */
export const setText = (page: Page, text: string) =>
  page.evaluate((t) => (globalThis as unknown as { celdaPlayground: { editor: { setText(s: string): void } } }).celdaPlayground.editor.setText(t), text);

export const editorText = (page: Page) => page.evaluate(() => (globalThis as unknown as { celdaPlayground: { editor: { text(): string } } }).celdaPlayground.editor.text());

/** Select `from`–`to` (UTF-16 offsets) in the editor and focus it, so that keyboard typing replaces them. */
export const select = (page: Page, from: number, to: number) =>
  page.evaluate(([a, b]) => {
    const v = (globalThis as unknown as { celdaPlayground: { editor: { view: { dispatch(s: object): void; focus(): void } } } }).celdaPlayground.editor.view;
    v.dispatch({ selection: { anchor: a, head: b } });
    v.focus();
  }, [from, to] as const);

export const updates = (page: Page) => page.evaluate(() => Number(document.body.dataset.updates ?? 0));
