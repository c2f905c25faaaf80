// The real engines for the export tests: a python3 that imports torch (and
// onnx). Debian's python3-torch lives in /usr/bin/python3's dist-packages, which
// a pyenv or venv `python3` on PATH does not see, so both are tried (CELDA_PYTHON
// first). Without one, the tests skip with one notice line — unless
// CELDA_REQUIRE_TORCH=1 (CI), where a missing engine is a failure.

import { spawnSync } from 'node:child_process';

const candidates = () => [process.env.CELDA_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);

const found = new Map<string, string | null>();

/** A python3 that can import the given modules, or null. */
export function pythonWith(modules: readonly string[]): string | null {
  const key = modules.join(',');
  if (found.has(key)) return found.get(key)!;
  let hit: string | null = null;
  for (const py of candidates()) {
    const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) { hit = py; break; }
  }
  found.set(key, hit);
  return hit;
}

export const torchRequired = () => process.env.CELDA_REQUIRE_TORCH === '1';

/** Run a Python script with JSON on stdin; its JSON stdout, or an error with its stderr. */
export function runPythonJson(py: string, script: string, input: unknown, timeout = 600_000): unknown {
  const r = spawnSync(py, [script], { input: JSON.stringify(input), encoding: 'utf8', timeout, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${py} ${script} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Largest |a − b| over two nested arrays of the same shape, relative to the largest |a| (an error on a shape mismatch). */
export function relativeError(a: unknown, b: unknown, path = ''): number {
  let diff = 0, scale = 0;
  const walk = (x: unknown, y: unknown, p: string) => {
    if (typeof x === 'number') {
      if (typeof y !== 'number') throw new Error(`${p}: number vs ${JSON.stringify(y)?.slice(0, 30)}`);
      diff = Math.max(diff, Number.isNaN(x - y) ? Infinity : Math.abs(x - y));
      scale = Math.max(scale, Math.abs(x));
      return;
    }
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) throw new Error(`${p}: shapes differ`);
    x.forEach((xi, i) => walk(xi, y[i], `${p}[${i}]`));
  };
  walk(a, b, path);
  return scale === 0 ? diff : diff / scale;
}
