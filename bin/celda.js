#!/usr/bin/env node
// celda's command line. The sources are TypeScript; tsx compiles them on the fly
// (cached), so `npx celda` works right after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
