// TF.js 4.22 peers of the benchmark, on tfjs-backend-cpu and tfjs-backend-wasm:
//  - "custom": the cell written with tf ops and differentiated by tf.variableGrads,
//    the way a researcher writes a new cell in TF.js (the gates of the LSTM as one
//    matMul of [h, x], which is TF.js's fastest way to write it);
//  - "layers": the built-in tf.layers.lstm / tf.layers.gru (sigmoid gates).
// One training step: forward over T steps, loss Σ_t ⟨h^<t>, r^<t>⟩, gradients of
// every weight. Inputs and targets are made once, outside the timed step.

import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type TfBackend = 'cpu' | 'wasm';
export type TfKind = 'custom' | 'layers';
export type CellKind = 'lstm' | 'gru';

let wasmReady = false;

export async function useBackend(b: TfBackend): Promise<void> {
  if (b === 'wasm' && !wasmReady) {
    // The .wasm files ship with the package; nothing is fetched.
    const dir = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/]*$/, '');
    setWasmPaths(dir);
    wasmReady = true;
  }
  if (!(await tf.setBackend(b))) throw new Error(`TF.js backend ${b} is not available`);
  await tf.ready();
}

export interface TfPeer {
  /** One training step, finished (results read back). */
  step(): void;
  /** The loss of the step, to check that the peers compute the same thing. */
  loss(): number;
  dispose(): void;
}

export interface Size {
  readonly nx: number;
  readonly na: number;
  readonly batch: number;
  readonly steps: number;
}

/** Seeded numbers, so every peer sees the same data. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

export function tfPeer(cell: CellKind, kind: TfKind, z: Size, seed = 1): TfPeer {
  const { nx, na, batch: B, steps: T } = z;
  const rnd = seeded(seed);
  const data = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rnd());
  const xData = data(T * B * nx, 2), rData = data(T * B * na, 0.2);
  return kind === 'custom' ? customPeer(cell, z, xData, rData, rnd) : layersPeer(cell, z, xData, rData);
}

function customPeer(cell: CellKind, z: Size, xData: Float32Array, rData: Float32Array, rnd: () => number): TfPeer {
  const { nx, na, batch: B, steps: T } = z;
  const xs = tf.unstack(tf.tensor3d(xData, [T, B, nx])) as tf.Tensor2D[];
  const rs = tf.unstack(tf.tensor3d(rData, [T, B, na])) as tf.Tensor2D[];
  const s = 2 / Math.sqrt(na + nx);
  const weight = (cols: number) => tf.variable(tf.tensor2d(Float32Array.from({ length: (na + nx) * cols }, () => s * rnd()), [na + nx, cols]));
  const vars: tf.Variable[] = [];
  let loss: () => tf.Scalar;
  if (cell === 'lstm') {
    const W = weight(4 * na), b = tf.variable(tf.zeros([4 * na]));
    vars.push(W, b);
    loss = () => {
      let h: tf.Tensor2D = tf.zeros([B, na]), c: tf.Tensor2D = tf.zeros([B, na]);
      let L: tf.Scalar = tf.scalar(0);
      for (let t = 0; t < T; t++) {
        const zt = tf.add(tf.matMul(tf.concat([h, xs[t]!], 1), W), b);
        const [zc, zu, zf, zo] = tf.split(zt, 4, 1) as tf.Tensor2D[];
        const ct = tf.tanh(zc!), u = tf.sigmoid(zu!), f = tf.sigmoid(zf!), o = tf.sigmoid(zo!);
        c = tf.add(tf.mul(u, ct), tf.mul(f, c));
        h = tf.mul(o, tf.tanh(c));
        L = tf.add(L, tf.sum(tf.mul(h, rs[t]!)));
      }
      return L;
    };
  } else {
    // The notes' GRU: Γ_r = σ(W_r[c, x] + b_r), c̃ = tanh(W_c[Γ_r * c, x] + b_c), Γ_u = σ(W_u[c, x] + b_u), c = Γ_u c̃ + (1 − Γ_u) c.
    const Wru = weight(2 * na), bru = tf.variable(tf.zeros([2 * na])), Wc = weight(na), bc = tf.variable(tf.zeros([na]));
    vars.push(Wru, bru, Wc, bc);
    loss = () => {
      let c: tf.Tensor2D = tf.zeros([B, na]);
      let L: tf.Scalar = tf.scalar(0);
      for (let t = 0; t < T; t++) {
        const ru = tf.sigmoid(tf.add(tf.matMul(tf.concat([c, xs[t]!], 1), Wru), bru));
        const [r, u] = tf.split(ru, 2, 1) as tf.Tensor2D[];
        const ct = tf.tanh(tf.add(tf.matMul(tf.concat([tf.mul(r!, c), xs[t]!], 1), Wc), bc));
        c = tf.add(tf.mul(u!, ct), tf.mul(tf.sub(1, u!), c));
        L = tf.add(L, tf.sum(tf.mul(c, rs[t]!)));
      }
      return L;
    };
  }
  return trainer(loss, vars, [...xs, ...rs]);
}

function layersPeer(cell: CellKind, z: Size, xData: Float32Array, rData: Float32Array): TfPeer {
  const { nx, na, batch: B, steps: T } = z;
  // Batch-major [B][T][n], as tf.layers wants.
  const x = tf.transpose(tf.tensor3d(xData, [T, B, nx]), [1, 0, 2]);
  const r = tf.transpose(tf.tensor3d(rData, [T, B, na]), [1, 0, 2]);
  const opts = { units: na, returnSequences: true, recurrentActivation: 'sigmoid' as const, recurrentInitializer: 'glorotNormal' as const, inputShape: [T, nx] };
  const layer = cell === 'lstm' ? tf.layers.lstm(opts) : tf.layers.gru(opts);
  tf.tidy(() => void layer.apply(x)); // builds the weights
  const vars = layer.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
  const loss = () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, r)) as tf.Scalar;
  const t = trainer(loss, vars, [x, r], false);
  return { ...t, dispose: () => { t.dispose(); layer.dispose(); } };
}

function trainer(loss: () => tf.Scalar, vars: tf.Variable[], keep: tf.Tensor[], ownVars = true): TfPeer {
  let last = NaN;
  return {
    step() {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(loss, vars);
        last = value.dataSync()[0]!;
        for (const g of Object.values(grads)) g.dataSync();
      });
    },
    loss: () => last,
    dispose() {
      tf.dispose(ownVars ? [...vars, ...keep] : keep);
    },
  };
}
