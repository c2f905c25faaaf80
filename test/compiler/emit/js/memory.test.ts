// A float32 SIMD module's instances each reserve a WebAssembly memory of their
// own. When the runtime cannot reserve another, the instance refuses with a
// message that says how many are alive and how to free or share memory, not
// V8's bare "could not allocate memory".
import { describe, expect, it } from 'vitest';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import { example } from '../../../support/cells.ts';

type Factory = (dims: Record<string, number>, batch: number, options?: unknown) => unknown;

describe('running out of WebAssembly memories', () => {
  it('names the instances alive and the ways out', () => {
    const create = new Function(emitJs(example('rnn.celda'), { precision: 'f32', simd: true }).body)() as Factory;
    const dims = { n_x: 2, n_a: 3, n_y: 2 };
    const kept = [create(dims, 1), create(dims, 1), create(dims, 1)];
    const Memory = WebAssembly.Memory;
    // What V8 throws when the address space for memories is used up.
    (WebAssembly as { Memory: unknown }).Memory = function () { throw new RangeError('WebAssembly.Memory(): could not allocate memory'); };
    try {
      let err: unknown;
      try { create(dims, 1); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(RangeError);
      const m = /^celda: cannot reserve another WebAssembly memory \((\d+) instances of this module hold one each\): pass options\.heap, a celda thread pool's heap that instances share, or let go of the instances you no longer use/.exec((err as Error).message);
      expect(m, (err as Error).message).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(kept.length);
    } finally {
      (WebAssembly as { Memory: unknown }).Memory = Memory;
    }
    expect(() => create(dims, 1)).not.toThrow();
  });
});
