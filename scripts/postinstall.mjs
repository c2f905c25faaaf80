// npm's postinstall: applies patches/ with patch-package when celda itself is
// installed for development (npm install, npm ci in this repository). A package
// that depends on celda has neither patches/ (not published) nor patch-package
// (a development dependency), so there this does nothing; celda's runtime then
// finds gpu.js unpatched and plans without what the patch adds.
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
