// `npm run build` (and `prepare`, which npm runs on `npm install` / `npm ci` in this
// checkout): the command line and the library as plain JavaScript in dist/, so
// `celda` starts without compiling TypeScript on the fly, and `import … from 'celda'`
// works from Node and bundlers. Plain JavaScript itself, so that it needs only
// esbuild and typescript (devDependencies) to run.
//
//   dist/cli.js      the command line (bin/celda.js runs it)
//   dist/index.js    'celda': the compiler (browser-safe)
//   dist/runtime.js  'celda/runtime': backends and `evaluate` (Node)
//   dist/worker.js   a data-parallel training thread (runtime/train/run/parallel.ts starts it)
//   dist/*-HASH.js   code the entries share, and what they import lazily (the emitter,
//                    the training runtime, gpu.js's backend) in chunks of its own
//   dist/meta.json   esbuild's metafile: which sources each output holds, what it imports
//   dist/types/      declarations of the two library entries
//
// `--no-types` skips the declarations (tsc, most of the build's time): the test suite
// builds the JavaScript so that its runs of bin/celda.js run the current sources.
// `--types-only` builds only the declarations.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const types = !process.argv.includes('--no-types');
const js = !process.argv.includes('--types-only');

async function buildJs() {
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: {
      cli: 'cli/main.ts',
      index: 'compiler/index.ts',
      runtime: 'runtime/index.ts',
      worker: 'runtime/train/run/worker.ts',
    },
    outdir: 'dist',
    // One folder: parallel.ts, in whichever chunk it lands, finds ./worker.js beside it.
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The parser's and the passes' packages (ohm-js, immer, fastest-levenshtein) are bundled: loaded
    // as the dozens of small modules ohm-js ships, `celda check` took about a tenth more CPU. The
    // others stay imports, resolved by Node or the bundler: those loaded only when used, and Node's own.
    external: ['gpu.js', '@viz-js/viz', 'cli-progress', '@stdlib/*', '@tensorflow/*'],
    // Minified: a fifth less CPU at each start (stack traces name the sources through the source maps).
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  writeFileSync(join(dist, 'meta.json'), JSON.stringify(metafile));
}

/** Declarations of the library entries; their relative imports name the .js files (whose .d.ts TypeScript finds). */
function buildTypes() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  const rewrite = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) rewrite(path);
      else if (name.endsWith('.d.ts')) writeFileSync(path, readFileSync(path, 'utf8').replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2'));
    }
  };
  rewrite(join(dist, 'types'));
}

// Chunk names change with their content: clear the old ones (keeping what is not rebuilt).
for (const name of existsSync(dist) ? readdirSync(dist) : []) if (name === 'types' ? types : js) rmSync(join(dist, name), { recursive: true, force: true });
if (js) await buildJs();
if (types) buildTypes();
