// Optimizers as update rules over a parameter table: SGD with momentum, Adam and
// AdamW (decoupled weight decay), plus clipping by global norm. Their state is
// plain tensors and one step counter, so a checkpoint holds it exactly.

import type { Table } from '../tensor.ts';
import { globalNorm, zerosLike } from '../tensor.ts';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['sgd', 'adam', 'adamw'];

export interface OptimizerConfig {
  readonly kind: OptimizerKind;
  /** SGD momentum μ (0 = plain SGD). */
  readonly momentum: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** L2 penalty added to the gradient (sgd, adam) or decoupled decay (adamw). */
  readonly weightDecay: number;
}

export const defaultOptimizer = (kind: OptimizerKind): OptimizerConfig => ({
  kind, momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: kind === 'adamw' ? 0.01 : 0,
});

/** Moments by name (`m.W_u`, `v.W_u`) and the number of updates taken. */
export interface OptimizerState {
  readonly tensors: Table;
  t: number;
}

export function optimizerState(cfg: OptimizerConfig, params: Table): OptimizerState {
  const tensors: Table = new Map();
  const slots = cfg.kind === 'sgd' ? (cfg.momentum > 0 ? ['velocity'] : []) : ['m', 'v'];
  for (const slot of slots) for (const [k, v] of zerosLike(params)) tensors.set(`${slot}.${k}`, v);
  return { tensors, t: 0 };
}

/** One update of every parameter in place. */
export function optimizerStep(cfg: OptimizerConfig, state: OptimizerState, params: Table, grads: Table, lr: number): void {
  state.t += 1;
  const { weightDecay: wd } = cfg;
  for (const [name, p] of params) {
    const g = grads.get(name)!.data;
    const x = p.data;
    if (cfg.kind === 'sgd') {
      // PyTorch's form: v ← μ v + (g + λx); x ← x − η v.
      const v = state.tensors.get(`velocity.${name}`)?.data;
      for (let i = 0; i < x.length; i++) {
        const gi = g[i]! + wd * x[i]!;
        if (v) { v[i] = cfg.momentum * v[i]! + gi; x[i] -= lr * v[i]!; } else x[i] -= lr * gi;
      }
      continue;
    }
    const m = state.tensors.get(`m.${name}`)!.data, v = state.tensors.get(`v.${name}`)!.data;
    const { beta1: b1, beta2: b2, eps } = cfg;
    const c1 = 1 - Math.pow(b1, state.t), c2 = 1 - Math.pow(b2, state.t);
    for (let i = 0; i < x.length; i++) {
      let gi = g[i]!;
      if (cfg.kind === 'adam') gi += wd * x[i]!;
      else x[i] -= lr * wd * x[i]!; // AdamW: decay decoupled from the adaptive step
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      x[i] -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}

/** Scale all gradients so their global norm is at most `maxNorm` (0 = no clipping); returns the norm before. */
export function clipByGlobalNorm(grads: Table, maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / norm;
    for (const g of grads.values()) for (let i = 0; i < g.data.length; i++) g.data[i] *= s;
  }
  return norm;
}
