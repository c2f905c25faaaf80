// Optimizer updates against values computed by hand, clipping, schedules and initialisers.

import { describe, expect, it } from 'vitest';
import { Rng } from '../../../../runtime/random.ts';
import { glorot, initParam, orthogonal } from '../../../../runtime/train/model/init.ts';
import { clipByGlobalNorm, defaultOptimizer, optimizerState, optimizerStep } from '../../../../runtime/train/optim/optimizers.ts';
import { lrAt, parseSchedule } from '../../../../runtime/train/optim/schedule.ts';
import type { Table } from '../../../../runtime/train/tensor.ts';

const table = (...xs: number[]): Table => new Map([['w', { shape: [xs.length], data: Float64Array.from(xs) }]]);

describe('optimizers', () => {
  it('SGD with momentum: v ← μv + g, x ← x − ηv', () => {
    const cfg = { ...defaultOptimizer('sgd'), momentum: 0.9 };
    const p = table(1, -2), s = optimizerState(cfg, p);
    optimizerStep(cfg, s, p, table(0.5, 1), 0.1);
    expect([...p.get('w')!.data]).toEqual([1 - 0.05, -2 - 0.1]);
    optimizerStep(cfg, s, p, table(0.5, 1), 0.1);
    // v = 0.9·0.5 + 0.5 = 0.95, 0.9·1 + 1 = 1.9
    expect(p.get('w')!.data[0]).toBeCloseTo(0.95 - 0.095, 15);
    expect(p.get('w')!.data[1]).toBeCloseTo(-2.1 - 0.19, 15);
  });

  it('SGD weight decay adds λx to the gradient', () => {
    const cfg = { ...defaultOptimizer('sgd'), momentum: 0, weightDecay: 0.1 };
    const p = table(2), s = optimizerState(cfg, p);
    optimizerStep(cfg, s, p, table(1), 0.5);
    expect(p.get('w')!.data[0]).toBeCloseTo(2 - 0.5 * (1 + 0.2), 15);
  });

  it('Adam: the first step moves each weight by about η, the second by the bias-corrected ratio', () => {
    const cfg = defaultOptimizer('adam');
    const p = table(1, 1), s = optimizerState(cfg, p);
    optimizerStep(cfg, s, p, table(0.2, -3), 0.01);
    // m̂ = g, v̂ = g²: step = η g/(|g| + ε)
    expect(p.get('w')!.data[0]).toBeCloseTo(1 - 0.01 * 0.2 / (0.2 + 1e-8), 14);
    expect(p.get('w')!.data[1]).toBeCloseTo(1 + 0.01 * 3 / (3 + 1e-8), 14);
    optimizerStep(cfg, s, p, table(0.4, -3), 0.01);
    const m = 0.9 * 0.1 * 0.2 + 0.1 * 0.4, v = 0.999 * 0.001 * 0.04 + 0.001 * 0.16;
    const mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    expect(p.get('w')!.data[0]).toBeCloseTo(1 - 0.01 * 0.2 / (0.2 + 1e-8) - 0.01 * mh / (Math.sqrt(vh) + 1e-8), 14);
    expect(s.t).toBe(2);
  });

  it('AdamW decays the weights apart from the adaptive step', () => {
    const cfg = { ...defaultOptimizer('adamw'), weightDecay: 0.1 };
    const p = table(2), s = optimizerState(cfg, p);
    optimizerStep(cfg, s, p, table(0.5), 0.01);
    expect(p.get('w')!.data[0]).toBeCloseTo(2 - 0.01 * 0.1 * 2 - 0.01 * 0.5 / (0.5 + 1e-8), 14);
  });
});

describe('clipping by global norm', () => {
  it('scales all gradients together to the limit and reports the norm before', () => {
    const g: Table = new Map([['a', { shape: [2], data: Float64Array.of(3, 0) }], ['b', { shape: [1], data: Float64Array.of(4) }]]);
    expect(clipByGlobalNorm(g, 1)).toBe(5);
    [0.6, 0, 0.8].forEach((v, i) => expect([...g.get('a')!.data, ...g.get('b')!.data][i]).toBeCloseTo(v, 15));
    expect(clipByGlobalNorm(g, 10)).toBeCloseTo(1, 15);
    expect(g.get('b')!.data[0]).toBeCloseTo(0.8, 15);
  });
});

describe('learning-rate schedules', () => {
  it('warm up linearly, then follow the cosine down to the floor and stay there', () => {
    const s = parseSchedule('cosine:100:0.1', 999, 10);
    if (typeof s === 'string') throw new Error(s);
    expect(lrAt(1, s, 0)).toBeCloseTo(0.1, 12);
    expect(lrAt(1, s, 50)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(lrAt(1, s, 100)).toBeCloseTo(0.1, 12);
    expect(lrAt(1, s, 5000)).toBeCloseTo(0.1, 12);
  });

  it('step decay and clear errors for bad text', () => {
    const s = parseSchedule('step:10:0.5', 1, 0);
    if (typeof s === 'string') throw new Error(s);
    expect(lrAt(2, s, 25)).toBe(0.5);
    expect(parseSchedule('linear', 1, 0)).toMatch(/unknown --schedule/);
    expect(parseSchedule('step:0:0.5', 1, 0)).toMatch(/EVERY/);
  });
});

describe('initialisers', () => {
  it('orthogonal matrices have orthonormal rows (or columns)', () => {
    for (const [r, c] of [[4, 7], [7, 4], [5, 5]] as const) {
      const w = orthogonal(r, c, new Rng(3));
      const n = Math.min(r, c);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let d = 0;
        for (let k = 0; k < Math.max(r, c); k++) d += r <= c ? w[i * c + k]! * w[j * c + k]! : w[k * c + i]! * w[k * c + j]!;
        expect(d).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
  });

  it('Glorot stays within its bound; biases start at zero, b_f at the forget bias; one seed, one result', () => {
    const w = glorot(10, 20, new Rng(1));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 30));
    expect([...initParam('b_u', [3], 'glorot', new Rng(1), 1)]).toEqual([0, 0, 0]);
    expect([...initParam('b_f', [3], 'glorot', new Rng(1), 1)]).toEqual([1, 1, 1]);
    expect([...glorot(3, 3, new Rng(9))]).toEqual([...glorot(3, 3, new Rng(9))]);
  });
});
