// Training curves' axis labels read as a person writes them: 1000, not 1.0e+3.

import { describe, expect, it } from 'vitest';
import { lineChart, tickLabel, ticks } from '../../../../runtime/train/io/curves.ts';

const labels = (lo: number, hi: number) => { const t = ticks(lo, hi); return t.map((v) => tickLabel(v, t[1]! - t[0]!)); };

describe('tickLabel', () => {
  it('writes whole steps as whole numbers, without exponents', () => {
    expect(labels(0, 1500)).toEqual(['0', '500', '1000', '1500']);
    expect(labels(0, 100_000)).toEqual(['0', '20000', '40000', '60000', '80000', '100000']);
    expect(tickLabel(1000)).toBe('1000');
  });

  it('gives fractions the decimals their spacing needs', () => {
    expect(labels(0.001, 0.004)).toEqual(['0.001', '0.002', '0.003', '0.004']);
    expect(labels(2.05, 2.35)).toEqual(['2.1', '2.2', '2.3']);
    expect(labels(1.2, 3.4)).toEqual(['1.5', '2.0', '2.5', '3.0']);
    expect(tickLabel(0.25)).toBe('0.25');
    expect(tickLabel(0)).toBe('0');
  });

  it('keeps exponents for the very large and the very small only', () => {
    expect(tickLabel(2e9)).toBe('2e9');
    expect(tickLabel(2.5e-7)).toBe('2.5e-7');
    expect(tickLabel(999_999_999)).toBe('999999999');
  });
});

describe('lineChart', () => {
  it('labels a 2000-step axis 0 … 2000 and a loss axis in plain decimals', () => {
    const svg = lineChart('loss', 'step', [{ label: 'run', points: Array.from({ length: 21 }, (_, i) => [i * 100, 3 - i * 0.05] as const) }]);
    const texts = [...svg.matchAll(/>([^<>]+)<\/text>/g)].map((m) => m[1]!);
    expect(texts).toContain('1000');
    expect(texts).toContain('2000');
    expect(texts.some((t) => /e[+-]?\d/.test(t))).toBe(false);
    expect(texts).toContain('2.5');
  });
});
