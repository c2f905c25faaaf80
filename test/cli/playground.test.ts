// celda playground's server: only the built app's files, by exact name (so `..`,
// `%2e%2e`, absolute paths and symlinks are 404s), every response
// crossOriginIsolated (COOP/COEP), bound to 127.0.0.1, nothing but GET and HEAD;
// and the command itself, started as a user starts it.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestKey, servePlayground } from '../../cli/playground.ts';
import type { PlaygroundServer } from '../../cli/playground.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A raw request: the path is sent as written (fetch would resolve `..` before sending). */
function raw(url: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('the playground server', () => {
  let dir: string, secretDir: string, s: PlaygroundServer;
  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), 'celda-playground-'));
    dir = join(base, 'app');
    secretDir = join(base, 'secret');
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(secretDir);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'app.js'), 'export {};');
    writeFileSync(join(dir, 'data', 'names.json'), '["anna"]');
    writeFileSync(join(secretDir, 'key.txt'), 'SECRET');
    symlinkSync(join(secretDir, 'key.txt'), join(dir, 'link.txt'));
    symlinkSync(secretDir, join(dir, 'linkdir'));
    s = await servePlayground(dir, { port: 0 });
  });
  afterAll(async () => s.close());

  it('listens on 127.0.0.1 by default', () => {
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((s.server.address() as { address: string }).address).toBe('127.0.0.1');
  });

  it('serves the app and its data with COOP/COEP and a content type', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/index.html', 'text/html'], ['/app.js', 'text/javascript'], ['/data/names.json', 'application/json']] as const) {
      const r = await raw(s.url, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toContain(type);
      expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
    }
    expect((await raw(s.url, '/app.js?v=1')).body).toBe('export {};');
    expect((await raw(s.url, '/', 'HEAD')).body).toBe('');
  });

  it('answers 404 for anything outside it: .., encoded .., absolute paths, symlinks, missing files', async () => {
    const attempts = [
      '/../secret/key.txt', '/data/../../secret/key.txt', '/%2e%2e/secret/key.txt', '/%2E%2E%2Fsecret%2Fkey.txt', '/..%2fsecret%2fkey.txt',
      '/data/%2e%2e/%2e%2e/secret/key.txt', '//etc/passwd', `/${join(secretDir, 'key.txt')}`, `/%2F${encodeURIComponent(join(secretDir, 'key.txt').slice(1))}`,
      '/etc/passwd', '/link.txt', '/linkdir/key.txt', '/linkdir/', '/data', '/nope.js', '/%00', '/%zz', '/..\\secret\\key.txt', '/data\\names.json',
    ];
    for (const path of attempts) {
      const r = await raw(s.url, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('SECRET');
      expect(r.headers['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
    // A full URL as the request target (proxy form) names no file either.
    expect((await raw(s.url, `${s.url}index.html`)).status).toBe(404);
  });

  it('runs nothing a page sends: other methods are refused', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) expect((await raw(s.url, '/index.html', method)).status, method).toBe(405);
  });

  it('maps request paths to keys exactly', () => {
    expect(requestKey('/')).toBe('/index.html');
    expect(requestKey('/a/b.js?x#y')).toBe('/a/b.js');
    expect(requestKey('/%2e%2e/x')).toBe('/../x'); // a key no table holds
    expect(requestKey('/%E0%A4%A')).toBeNull();
    expect(requestKey('http://evil/')).toBeNull();
  });
});

describe('celda playground', () => {
  it('builds the app when needed, serves it on 127.0.0.1 with COOP/COEP, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'celda.js'), 'playground', '--port', '0'], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const exited = new Promise<number | null>((ok) => child.on('exit', ok));
    try {
      const url = await new Promise<string>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no URL within 90 s: ${out}${err}`)), 90_000);
        const poll = setInterval(() => {
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
          if (m) { clearTimeout(t); clearInterval(poll); ok(m[0]); }
        }, 50);
      });
      const page = await raw(url, '/');
      expect(page.status).toBe(200);
      expect(page.body).toContain('<div id="editor"');
      expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect((await raw(url, '/app.js')).status).toBe(200);
      expect((await raw(url, '/data/female-first-names-en.json')).status).toBe(200);
      expect((await raw(url, '/../package.json')).status).toBe(404);
      expect((await raw(url, '/%2e%2e/package.json')).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);

  it('refuses a bad port and file arguments with a usage error; --help prints its usage', async () => {
    const { run } = await import('../../cli/main.ts');
    const err: string[] = [], out: string[] = [];
    const e = process.stderr.write.bind(process.stderr), o = process.stdout.write.bind(process.stdout);
    process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      expect(await run(['playground', '--port', 'x'])).toBe(2);
      expect(await run(['playground', 'cell.celda'])).toBe(2);
      expect(await run(['playground', '--help'])).toBe(0);
    } finally {
      process.stderr.write = e;
      process.stdout.write = o;
    }
    expect(out.join('')).toMatch(/^usage: celda playground \[options\]\n/);
    expect(out.join('')).toMatch(/--port N .*--host H .*--open/s);
    expect(err.join('')).toMatch(/--port must be a whole number from 0 to 65535, not `x`/);
    expect(err.join('')).toMatch(/takes no files/);
  });
});
