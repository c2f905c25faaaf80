#!/usr/bin/env node
// celda's command line: the JavaScript that `npm install` builds into dist/ (the
// `prepare` script, scripts/build.mjs). Without a build (a checkout where
// `npm install --ignore-scripts` ran, or CELDA_FROM_SOURCE=1 while changing the
// sources), the TypeScript sources under tsx, a devDependency, which compiles them
// on the fly (about 1 s more per command).
import { existsSync } from 'node:fs';

// The built code is minified: a stack trace (CELDA_DEBUG=1) names the TypeScript sources through its source maps.
if (process.env.CELDA_DEBUG) process.setSourceMapsEnabled(true);

const built = new URL('../dist/cli.js', import.meta.url);
let run;
if (!process.env.CELDA_FROM_SOURCE && existsSync(built)) ({ run } = await import(built.href));
else {
  try {
    (await import('tsx/esm/api')).register();
  } catch {
    process.stderr.write('celda: dist/ is not built and tsx is not installed: run `npm run build` (or `npm install`) in the package\n');
    process.exit(70);
  }
  ({ run } = await import('../cli/main.ts'));
}
process.exitCode = await run(process.argv.slice(2));
