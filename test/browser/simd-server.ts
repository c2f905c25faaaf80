// Serves the browser side of the SIMD-module tests from 127.0.0.1: one HTML
// page, an esbuild bundle of test/browser/simd-page.ts (which also runs as the
// page's module worker), and emitted float32 modules as /cells/<name>.js. Every
// response carries COOP/COEP, so the page is crossOriginIsolated and may share
// memory between threads — except /plain/, the same page without them.

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

async function bundlePage(): Promise<string> {
  const r = await build({
    entryPoints: [fileURLToPath(new URL('./simd-page.ts', import.meta.url))],
    bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

const HTML = '<!doctype html><meta charset="utf-8"><title>celda simd</title><script type="module" src="/simd-page.js"></script>';

export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } as const;

/** Start the server on a free port with the given modules (name → ES module text); resolves to its URL and a stop function. */
export async function serveSimdPage(modules: Readonly<Record<string, string>>): Promise<{ url: string; close: () => Promise<void> }> {
  const js = await bundlePage();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const cell = /^\/cells\/([\w.-]+)\.js$/.exec(path)?.[1];
    const [body, type] =
      path === '/' || path === '/plain/' ? [HTML, 'text/html']
      : path === '/simd-page.js' ? [js, 'text/javascript']
      : cell !== undefined && Object.hasOwn(modules, cell) ? [modules[cell]!, 'text/javascript']
      : [null, ''];
    if (body === null) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...(path === '/plain/' ? {} : ISOLATION) }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}
