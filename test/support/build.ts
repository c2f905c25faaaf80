// Vitest's global setup: the command line and the library built from the current
// sources (scripts/build.mjs, without the declarations: about 2 s), so that the
// tests that run bin/celda.js run what `npm install` builds, and never a stale dist/.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs'), '--no-types'], { stdio: 'inherit' });
}
