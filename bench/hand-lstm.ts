// A hand-fused plain-JS LSTM training step: the "hand-fused loop" peer of the
// benchmark. Written the way one would by hand for speed: the four gates as one
// stacked weight; the input projections for all steps as one product before the
// loop; one fused loop over the gates per step; only the states' cotangents
// carried through time; dW, db and dx after the loop as single products over all
// T·B rows with every operand read contiguously; Float64Array only; buffers
// allocated once. Same equations as examples/cells/lstm.celda:
//   c̃ = tanh(W_c[a, x] + b_c)  Γ_u = σ(W_u[a, x] + b_u)  Γ_f = σ(…)  Γ_o = σ(…)
//   c = Γ_u c̃ + Γ_f c_prev     a = Γ_o tanh(c)

const exp = Math.exp, tanh = Math.tanh;
/** σ in its stable form, one exp. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + exp(-x));
  const e = exp(x);
  return e / (1 + e);
}

/** C[i·ldc + j] (+)= Σ_p A[i·lda + p] B[j·ldb + p], in 3 × 3 register blocks (single rows: 1 × 8), the same kernel as celda's. */
function gemmNT(M: number, N: number, K: number, A: Float64Array, aOff: number, lda: number, B: Float64Array, bOff: number, ldb: number, C: Float64Array, cOff: number, ldc: number, acc: boolean): void {
  let i = 0;
  for (; i + 2 < M; i += 3) {
    const a0 = aOff + i * lda, a1 = a0 + lda, a2 = a1 + lda;
    const c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc;
    let j = 0;
    for (; j + 2 < N; j += 3) {
      const b0 = bOff + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0, s20 = 0, s21 = 0, s22 = 0;
      for (let p = 0; p < K; p++) {
        const y0 = B[b0 + p]!, y1 = B[b1 + p]!, y2 = B[b2 + p]!;
        let x = A[a0 + p]!;
        s00 += x * y0; s01 += x * y1; s02 += x * y2;
        x = A[a1 + p]!;
        s10 += x * y0; s11 += x * y1; s12 += x * y2;
        x = A[a2 + p]!;
        s20 += x * y0; s21 += x * y1; s22 += x * y2;
      }
      if (acc) {
        C[c0 + j] += s00; C[c0 + j + 1] += s01; C[c0 + j + 2] += s02;
        C[c1 + j] += s10; C[c1 + j + 1] += s11; C[c1 + j + 2] += s12;
        C[c2 + j] += s20; C[c2 + j + 1] += s21; C[c2 + j + 2] += s22;
      } else {
        C[c0 + j] = s00; C[c0 + j + 1] = s01; C[c0 + j + 2] = s02;
        C[c1 + j] = s10; C[c1 + j + 1] = s11; C[c1 + j + 2] = s12;
        C[c2 + j] = s20; C[c2 + j + 1] = s21; C[c2 + j + 2] = s22;
      }
    }
    for (; j < N; j++) {
      const b0 = bOff + j * ldb;
      let s0 = 0, s1 = 0, s2 = 0;
      for (let p = 0; p < K; p++) {
        const y = B[b0 + p]!;
        s0 += A[a0 + p]! * y; s1 += A[a1 + p]! * y; s2 += A[a2 + p]! * y;
      }
      if (acc) { C[c0 + j] += s0; C[c1 + j] += s1; C[c2 + j] += s2; }
      else { C[c0 + j] = s0; C[c1 + j] = s1; C[c2 + j] = s2; }
    }
  }
  for (; i < M; i++) {
    const a0 = aOff + i * lda, c0 = cOff + i * ldc;
    let j = 0;
    for (; j + 7 < N; j += 8) {
      const b0 = bOff + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb, b4 = b3 + ldb, b5 = b4 + ldb, b6 = b5 + ldb, b7 = b6 + ldb;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let p = 0; p < K; p++) {
        const x = A[a0 + p]!;
        s0 += x * B[b0 + p]!; s1 += x * B[b1 + p]!; s2 += x * B[b2 + p]!; s3 += x * B[b3 + p]!;
        s4 += x * B[b4 + p]!; s5 += x * B[b5 + p]!; s6 += x * B[b6 + p]!; s7 += x * B[b7 + p]!;
      }
      if (acc) {
        C[c0 + j] += s0; C[c0 + j + 1] += s1; C[c0 + j + 2] += s2; C[c0 + j + 3] += s3;
        C[c0 + j + 4] += s4; C[c0 + j + 5] += s5; C[c0 + j + 6] += s6; C[c0 + j + 7] += s7;
      } else {
        C[c0 + j] = s0; C[c0 + j + 1] = s1; C[c0 + j + 2] = s2; C[c0 + j + 3] = s3;
        C[c0 + j + 4] = s4; C[c0 + j + 5] = s5; C[c0 + j + 6] = s6; C[c0 + j + 7] = s7;
      }
    }
    for (; j < N; j++) {
      const b0 = bOff + j * ldb;
      let s = 0;
      for (let p = 0; p < K; p++) s += A[a0 + p]! * B[b0 + p]!;
      C[c0 + j] = acc ? C[c0 + j]! + s : s;
    }
  }
}

/** dst[j·R + r] = src[r·W + j], in 32 × 32 tiles. */
function transpose(R: number, W: number, src: Float64Array, off: number, dst: Float64Array): void {
  for (let r0 = 0; r0 < R; r0 += 32) {
    const r1 = Math.min(R, r0 + 32);
    for (let j0 = 0; j0 < W; j0 += 32) {
      const j1 = Math.min(W, j0 + 32);
      for (let r = r0; r < r1; r++) for (let j = j0; j < j1; j++) dst[j * R + r] = src[off + r * W + j]!;
    }
  }
}

export interface HandLstm {
  /** Parameters, stacked by gate [c̃; u; f; o]: Wh 4n_a × n_a, Wx 4n_a × n_x, b 4n_a. */
  readonly Wh: Float64Array;
  readonly Wx: Float64Array;
  readonly b: Float64Array;
  readonly dWh: Float64Array;
  readonly dWx: Float64Array;
  readonly db: Float64Array;
  /** x: [T][B][n_x]; returns a: [T+1][B][n_a] (slot 0 the initial zeros). */
  forward(x: Float64Array): Float64Array;
  /** da: [T][B][n_a], the cotangent of every a^<t>; returns dx [T][B][n_x]. */
  backward(da: Float64Array): Float64Array;
}

export function handLstm(nx: number, na: number, B: number, T: number): HandLstm {
  const G = 4 * na, TB = T * B;
  const Wh = new Float64Array(G * na), Wx = new Float64Array(G * nx), b = new Float64Array(G);
  const dWh = new Float64Array(G * na), dWx = new Float64Array(G * nx), db = new Float64Array(G);
  const X = new Float64Array(TB * nx);
  const XP = new Float64Array(TB * G); // input projections + bias, all steps
  const Z = new Float64Array(B * G); // recurrent projections, one step
  const gates = new Float64Array(TB * G); // c̃, u, f, o per step
  const A = new Float64Array((T + 1) * B * na), C = new Float64Array((T + 1) * B * na), TC = new Float64Array(TB * na);
  const dZ = new Float64Array(TB * G), dA = new Float64Array(B * na), dC = new Float64Array(B * na), dAin = new Float64Array(TB * na);
  const WhT = new Float64Array(na * G), WxT = new Float64Array(nx * G);
  const dZt = new Float64Array(G * TB), At = new Float64Array(na * TB), Xt = new Float64Array(nx * TB), dX = new Float64Array(TB * nx);

  function forward(x: Float64Array): Float64Array {
    X.set(x);
    gemmNT(TB, G, nx, X, 0, nx, Wx, 0, nx, XP, 0, G, false);
    for (let r = 0; r < TB; r++) for (let j = 0; j < G; j++) XP[r * G + j] += b[j]!;
    for (let t = 0; t < T; t++) {
      gemmNT(B, G, na, A, t * B * na, na, Wh, 0, na, Z, 0, G, false);
      for (let bb = 0; bb < B; bb++) {
        const z = bb * G, xp = (t * B + bb) * G, s = t * B * na + bb * na, s1 = s + B * na, tc = (t * B + bb) * na;
        for (let i = 0; i < na; i++) {
          const ct = tanh(Z[z + i]! + XP[xp + i]!);
          const u = sigmoid(Z[z + na + i]! + XP[xp + na + i]!);
          const f = sigmoid(Z[z + 2 * na + i]! + XP[xp + 2 * na + i]!);
          const o = sigmoid(Z[z + 3 * na + i]! + XP[xp + 3 * na + i]!);
          gates[xp + i] = ct; gates[xp + na + i] = u; gates[xp + 2 * na + i] = f; gates[xp + 3 * na + i] = o;
          const c = u * ct + f * C[s + i]!;
          C[s1 + i] = c;
          const th = tanh(c);
          TC[tc + i] = th;
          A[s1 + i] = o * th;
        }
      }
    }
    return A;
  }

  function backward(da: Float64Array): Float64Array {
    dAin.set(da);
    transpose(G, na, Wh, 0, WhT);
    transpose(G, nx, Wx, 0, WxT);
    dA.fill(0);
    dC.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      for (let bb = 0; bb < B; bb++) {
        const g = (t * B + bb) * G, s = t * B * na + bb * na, k = bb * na;
        for (let i = 0; i < na; i++) {
          const ct = gates[g + i]!, u = gates[g + na + i]!, f = gates[g + 2 * na + i]!, o = gates[g + 3 * na + i]!;
          const th = TC[s + i]!;
          const a = dAin[s + i]! + dA[k + i]!;
          const c = dC[k + i]! + a * o * (1 - th * th);
          dZ[g + i] = c * u * (1 - ct * ct);
          dZ[g + na + i] = c * ct * u * (1 - u);
          dZ[g + 2 * na + i] = c * C[s + i]! * f * (1 - f);
          dZ[g + 3 * na + i] = a * th * o * (1 - o);
          dC[k + i] = c * f;
        }
      }
      gemmNT(B, na, G, dZ, t * B * G, G, WhT, 0, G, dA, 0, na, false);
    }
    gemmNT(TB, nx, G, dZ, 0, G, WxT, 0, G, dX, 0, nx, false);
    db.fill(0);
    for (let r = 0; r < TB; r++) for (let j = 0; j < G; j++) db[j] += dZ[r * G + j]!;
    transpose(TB, G, dZ, 0, dZt);
    transpose(TB, na, A, 0, At);
    transpose(TB, nx, X, 0, Xt);
    gemmNT(G, na, TB, dZt, 0, TB, At, 0, TB, dWh, 0, na, false);
    gemmNT(G, nx, TB, dZt, 0, TB, Xt, 0, TB, dWx, 0, nx, false);
    return dX;
  }

  return { Wh, Wx, b, dWh, dWx, db, forward, backward };
}
