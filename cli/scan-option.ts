// `--no-scan` and `--scan plain|log`, for eval, bench, train and compare: whether the
// js and gpujs backends run diagonal linear recurrences as scans (compiler/lower/scan.ts).

import { UsageError } from './common.ts';

/** `--no-scan` and `--scan plain|log`: the backends' scan option (log: gpu.js's parallel scan in log space). */
export function scanOption(scanText: string | undefined, noScan: boolean | undefined, backend: string): boolean | 'log' {
  if (noScan && scanText !== undefined) throw new UsageError('--scan and --no-scan do not go together');
  if (noScan && backend === 'interp') throw new UsageError('--no-scan is for --backend js or gpujs (the interpreter always steps through time)');
  if (noScan) return false;
  if (scanText === undefined || scanText === 'plain') return true;
  // any other value was refused by the declaration's choices (cli/commands.ts)
  if (backend !== 'gpujs') throw new UsageError('--scan log is for --backend gpujs (its parallel scan; the js backend\'s sequential scan needs no log space)');
  return 'log';
}
