// Part of npm's `prepare` (package.json), before the build: applies patches/
// with patch-package when celda itself is installed for development (npm
// install, npm ci in this repository, or from git). A registry install of celda
// never runs `prepare`; it gets stock gpu.js, and celda's runtime, finding no
// marker of the patch, plans without what the patch adds. gpu.js is pinned to
// the version the patch is for: a patch that no longer applies fails the install.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (existsSync(new URL('../patches', import.meta.url))) {
  let bin;
  try {
    bin = createRequire(import.meta.url).resolve('patch-package/index.js');
  } catch {
    bin = null;
  }
  // a patch that no longer applies (gpu.js upgraded) fails the install, loudly
  if (bin) execFileSync(process.execPath, [bin, '--error-on-fail'], { stdio: 'inherit', cwd: root });
}
