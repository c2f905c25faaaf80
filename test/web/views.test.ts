// The math view keeps the equations an edit did not change: matchRows pairs
// each new row with an old one of the same LaTeX, in order, as many as can be
// (a longest common subsequence), so the page typesets, styles and lays out
// only the rows that changed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchRows } from '../../web/views.ts';

/** The length of a longest common subsequence, by the textbook table. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
  return t[a.length]![b.length]!;
}

describe('matchRows', () => {
  it('keeps every row around an inserted, a removed and a changed one', () => {
    expect([...matchRows(['a', 'b', 'c', 'd'], ['a', 'b', 'x', 'c', 'd'])]).toEqual([0, 1, -1, 2, 3]);
    expect([...matchRows(['a', 'b', 'c', 'd'], ['a', 'c', 'd'])]).toEqual([0, 2, 3]);
    expect([...matchRows(['a', 'b', 'c', 'd'], ['a', 'B', 'c', 'd'])]).toEqual([0, -1, 2, 3]);
    // a new output adds rows in two places of the backward step
    expect([...matchRows(['d1', 'd2', 'd3', 'd4'], ['n1', 'd1', 'd2', 'n2', 'd3', 'd4'])]).toEqual([-1, 0, 1, -1, 2, 3]);
    expect([...matchRows([], ['a'])]).toEqual([-1]);
    expect([...matchRows(['a'], [])]).toEqual([]);
  });

  it('pairs equal rows, in order, as many as a longest common subsequence has', () => {
    const rows = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 24 });
    fc.assert(fc.property(rows, rows, (old, next) => {
      const m = [...matchRows(old, next)];
      expect(m).toHaveLength(next.length);
      const kept = m.map((i, j) => [i, j] as const).filter(([i]) => i >= 0);
      for (const [i, j] of kept) expect(old[i]).toBe(next[j]);
      for (let k = 1; k < kept.length; k++) expect(kept[k]![0]).toBeGreaterThan(kept[k - 1]![0]);
      expect(kept).toHaveLength(lcsLength(old, next));
    }), { numRuns: 500 });
  });
});
