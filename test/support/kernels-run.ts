// Which gpu.js kernels a piece of code creates and never calls: createKernel is
// spied on for the duration of `body`, each kernel it returns wrapped to note a
// call. Pins that a pass plans (and compiles) only kernels it launches.
import { GPU } from 'gpu.js';
import { vi } from 'vitest';

/** The kernels `body` created and did not call (each by the first lines of its source), and how many it created; `body` may ask how many so far. */
export function createdNotRun(body: (createdSoFar: () => number) => void): { created: number; idle: string[] } {
  const created: { source: string; kernel: object }[] = [], ran = new Set<object>();
  const create = GPU.prototype.createKernel;
  const spy = vi.spyOn(GPU.prototype, 'createKernel').mockImplementation(function (this: GPU, ...args: Parameters<GPU['createKernel']>) {
    const kernel = create.apply(this, args) as unknown as (...a: unknown[]) => unknown;
    const counted = new Proxy(kernel, { apply: (f, self, a) => { ran.add(counted); return Reflect.apply(f, self, a); } });
    created.push({ source: String(args[0]), kernel: counted });
    return counted as unknown as ReturnType<GPU['createKernel']>;
  });
  try {
    body(() => created.length);
  } finally {
    spy.mockRestore();
  }
  return { created: created.length, idle: created.filter((k) => !ran.has(k.kernel)).map((k) => k.source.split('\n').slice(0, 3).join(' ')) };
}
