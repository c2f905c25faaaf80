// Serves the browser side of the gpu.js tests from 127.0.0.1: one HTML page
// and one esbuild bundle of test/browser/page.ts (gpu.js included; no CDN).

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function bundlePage(): Promise<string> {
  const r = await build({
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

const HTML = '<!doctype html><meta charset="utf-8"><title>celda gpu.js</title><script type="module" src="/page.js"></script>';

/** Start the server on a free port; resolves to its URL and a stop function. */
export async function servePage(): Promise<{ url: string; close: () => Promise<void> }> {
  const js = await bundlePage();
  const server: Server = createServer((req, res) => {
    const body = req.url === '/page.js' ? js : req.url === '/' ? HTML : null;
    if (body === null) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': req.url === '/page.js' ? 'text/javascript' : 'text/html', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}
