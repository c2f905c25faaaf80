// `celda playground [--port N] [--host H] [--open]`: serves the browser playground
// (web/, built by scripts/build-web.mjs into dist-web/) on 127.0.0.1.
//
// The server is a static file server and nothing more: the compiler and the
// training run in the page. It answers only for the files of the built app
// (and the task data the build wrote beside them), found by exact name in a
// table made at start-up — so `..`, `%2e%2e`, absolute paths, and symlinks
// (never entered) are 404s — and runs nothing a page sends. Every response
// carries COOP/COEP, so the page is crossOriginIsolated and the WebAssembly
// thread pool may share memory.

import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { UsageError } from './common.ts';
import { PLAYGROUND } from './commands.ts';
import { parseOptions } from './options.ts';
import { printable } from '../runtime/limits.ts';

export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' } as const;

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', json: 'application/json',
  map: 'application/json', svg: 'image/svg+xml', png: 'image/png', woff2: 'font/woff2', woff: 'font/woff', ttf: 'font/ttf', wasm: 'application/wasm', txt: 'text/plain; charset=utf-8',
};

/** The package's root: the nearest folder above this module with celda's package.json (sources and dist/ alike). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'celda') return dir;
      } catch { /* not ours */ }
    }
    if (dirname(dir) === dir) throw new Error('celda playground: cannot find the celda package root');
  }
}

/** Every regular file under `dir` by its URL path (`/index.html`); symlinks are neither followed nor listed. */
export function fileTable(dir: string): Map<string, string> {
  const table = new Map<string, string>();
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = lstatSync(path);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) walk(path, `${prefix}${name}/`);
      else if (st.isFile()) table.set(`${prefix}${name}`, path);
    }
  };
  walk(dir, '/');
  return table;
}

/** The URL path of a request as a key of the table, or null when it cannot name one of its files. */
export function requestKey(url: string | undefined): string | null {
  const raw = (url ?? '/').split(/[?#]/)[0]!;
  if (!raw.startsWith('/') || raw.startsWith('//')) return null;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  return path.endsWith('/') ? `${path}index.html` : path;
}

export interface PlaygroundServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serve the built app in `dir` on host:port (port 0: any free port). */
export async function servePlayground(dir: string, opts: { port?: number; host?: string } = {}): Promise<PlaygroundServer> {
  const files = fileTable(dir);
  if (!files.has('/index.html')) throw new UsageError(`${printable(dir)} holds no built playground (index.html); run npm run build:web`);
  const cache = new Map<string, Buffer>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const key = req.method === 'GET' || req.method === 'HEAD' ? requestKey(req.url) : null;
    const file = key === null ? undefined : files.get(key);
    if (file === undefined) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain; charset=utf-8', ...ISOLATION }).end('not found\n');
      return;
    }
    let body = cache.get(file);
    if (!body) cache.set(file, (body = readFileSync(file)));
    const ext = file.slice(file.lastIndexOf('.') + 1);
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...ISOLATION,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer(handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => { server.off('error', fail); ok(); });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}/`, server, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

/** The newest modification time of the files under these folders (0 when there are none). */
function newest(dirs: readonly string[]): number {
  let t = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) t = Math.max(t, st.mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return t;
}

/**
 * The built app: dist-web/ of the package. In a checkout (scripts/build-web.mjs
 * and web/ present, esbuild a devDependency) it is built now when missing or
 * older than the sources; an installed package serves what it shipped.
 */
export async function playgroundDir(root = packageRoot()): Promise<string> {
  const dir = join(root, 'dist-web');
  const index = join(dir, 'index.html');
  const script = join(root, 'scripts', 'build-web.mjs');
  const checkout = existsSync(script) && existsSync(join(root, 'web'));
  if (existsSync(index) && (!checkout || lstatSync(index).mtimeMs >= newest(['web', 'compiler', 'grammar', 'runtime', 'examples'].map((d) => join(root, d))))) return dir;
  if (!checkout) throw new UsageError(`the playground is not built (${dir} is missing); run npm run build:web in the package`);
  process.stderr.write(`building the playground (${existsSync(index) ? 'its sources changed' : 'dist-web/ is missing'}) …\n`);
  const { buildWeb } = (await import(pathToFileURL(script).href)) as { buildWeb: (o?: { quiet?: boolean }) => Promise<unknown> };
  await buildWeb({ quiet: true });
  return dir;
}

function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`could not open a browser (${cmd}); open ${url} yourself\n`));
  child.unref();
}

export async function playgroundCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, PLAYGROUND);
  if (positionals.length) throw new UsageError(`celda playground takes no files (got ${printable(positionals[0]!)}); open a cell in the page`);
  const port = values.port === undefined ? 8520 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, not \`${printable(values.port!)}\``);
  const dir = await playgroundDir();
  let s: PlaygroundServer;
  try {
    s = await servePlayground(dir, { port, host: values.host });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${port} is in use; choose another with --port N (0: any free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${printable(values.host ?? '')}: ${code}`);
    throw e;
  }
  process.stdout.write(`celda playground: ${s.url}  (Ctrl-C stops it)\n`);
  if (values.host !== undefined && values.host !== '127.0.0.1' && values.host !== 'localhost' && values.host !== '::1')
    process.stderr.write(`warning: listening on ${printable(values.host)}, reachable from other machines; the server only serves the app's files\n`);
  if (values.open) openBrowser(s.url);
  await new Promise<void>((ok) => {
    const stop = () => { void s.close().then(ok); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
