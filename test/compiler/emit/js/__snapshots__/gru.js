// celda: the cell `GRU`, compiled to JavaScript (float64).
// Generated from the cell's graph; do not edit. Standalone: no imports.
// Exports createGRU(dims, batch) → { forward, backward, step, stepBackward }.
//
// cell GRU {
//   input x : n_x
//   state c : n_a
//   param W_r : n_a × (n_a + n_x)
//   param b_r : n_a
//   param W_c : n_a × (n_a + n_x)
//   param b_c : n_a
//   param W_u : n_a × (n_a + n_x)
//   param b_u : n_a
//   Γ_r = σ(W_r[c^⟨t−1⟩, x^⟨t⟩] + b_r)
//   c̃^⟨t⟩ = tanh(W_c[Γ_r * c^⟨t−1⟩, x^⟨t⟩] + b_c)
//   Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)
//   c^⟨t⟩ = Γ_u * c̃^⟨t⟩ + (1 − Γ_u) * c^⟨t−1⟩
//   a^⟨t⟩ = c^⟨t⟩
// }
//
// Backward step (∂v is ∂ℒ/∂v; parameter gradients summed over the batch and time):
// δ₁ = ∂c^⟨t⟩ + ∂a^⟨t⟩
// δ₂ = (-(δ₁ * c^⟨t−1⟩) + δ₁ * c̃^⟨t⟩) * (Γ_u * (1 − Γ_u))
// δ₃ = (∂c̃^⟨t⟩ + δ₁ * Γ_u) * (1 − c̃^⟨t⟩²)
// δ₄ = W_cᵀ · δ₃
// δ₅ = δ₄[0 : n_a]
// δ₆ = δ₅ * c^⟨t−1⟩ * (Γ_r * (1 − Γ_r))
// δ₇ = W_uᵀ · δ₂ + W_rᵀ · δ₆
// ∂W_r = Σ_batch δ₆ · [c^⟨t−1⟩, x^⟨t⟩]ᵀ
// ∂b_r = Σ_batch δ₆
// ∂W_c = Σ_batch δ₃ · [Γ_r * c^⟨t−1⟩, x^⟨t⟩]ᵀ
// ∂b_c = Σ_batch δ₃
// ∂W_u = Σ_batch δ₂ · [c^⟨t−1⟩, x^⟨t⟩]ᵀ
// ∂b_u = Σ_batch δ₂
// ∂x^⟨t⟩ = δ₄[n_a : n_a + n_x] + δ₇[n_a : n_a + n_x]
// ∂c^⟨t−1⟩ = δ₁ * (1 − Γ_u) + δ₅ * Γ_r + δ₇[0 : n_a]

const $F = Float64Array;
const $exp = Math.exp, $tanh = Math.tanh;

/** σ(x) in its stable form: exp of a negative number only. */
function $sigmoid(x) {
  if (x >= 0) return 1 / (1 + $exp(-x));
  const e = $exp(x);
  return e / (1 + e);
}

/**
 * C[i·ldc + j] (+)= Σ_p A[i·lda + p] · B[j·ldb + p] for i < M, j < N, p < K: both
 * operands are read along p, contiguously. Blocks of 3 × 3 outputs keep nine sums
 * in registers (with the six operands, what x64's sixteen registers hold without
 * spilling; 4 × 4 spills and is slower); single rows (a matrix–vector product)
 * go 8 outputs at a time.
 */
function $gemm(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc) {
  let i = 0;
  for (; i + 2 < M; i += 3) {
    const a0 = aOff + i * lda, a1 = a0 + lda, a2 = a1 + lda;
    const c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc;
    let j = 0;
    for (; j + 2 < N; j += 3) {
      const b0 = bOff + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0, s20 = 0, s21 = 0, s22 = 0;
      for (let p = 0; p < K; p++) {
        const y0 = B[b0 + p], y1 = B[b1 + p], y2 = B[b2 + p];
        let x = A[a0 + p];
        s00 += x * y0; s01 += x * y1; s02 += x * y2;
        x = A[a1 + p];
        s10 += x * y0; s11 += x * y1; s12 += x * y2;
        x = A[a2 + p];
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
        const y = B[b0 + p];
        s0 += A[a0 + p] * y; s1 += A[a1 + p] * y; s2 += A[a2 + p] * y;
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
        const x = A[a0 + p];
        s0 += x * B[b0 + p]; s1 += x * B[b1 + p]; s2 += x * B[b2 + p]; s3 += x * B[b3 + p];
        s4 += x * B[b4 + p]; s5 += x * B[b5 + p]; s6 += x * B[b6 + p]; s7 += x * B[b7 + p];
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
      for (let p = 0; p < K; p++) s += A[a0 + p] * B[b0 + p];
      C[c0 + j] = acc ? C[c0 + j] + s : s;
    }
  }
}

/** dst[j·R + r] = src[off + r·ld + j]: the rows of a buffer become its columns (in tiles, for the cache). */
function $transpose(R, W, src, off, ld, dst) {
  for (let r0 = 0; r0 < R; r0 += 32) {
    const r1 = r0 + 32 < R ? r0 + 32 : R;
    for (let j0 = 0; j0 < W; j0 += 32) {
      const j1 = j0 + 32 < W ? j0 + 32 : W;
      for (let r = r0; r < r1; r++) {
        const o = off + r * ld;
        for (let j = j0; j < j1; j++) dst[j * R + r] = src[o + j];
      }
    }
  }
}

/** dst[(dstRow + r)·ld + dstCol + c] (+)= E[srcRow + r][srcCol + c], where E is src (lds columns) or its transpose. */
function $pack(dst, ld, dstRow, dstCol, src, lds, trans, srcRow, srcCol, rows, cols, acc) {
  for (let r = 0; r < rows; r++) {
    const d = (dstRow + r) * ld + dstCol;
    if (trans) {
      if (acc) for (let c = 0; c < cols; c++) dst[d + c] += src[(srcCol + c) * lds + srcRow + r];
      else for (let c = 0; c < cols; c++) dst[d + c] = src[(srcCol + c) * lds + srcRow + r];
    } else {
      const s = (srcRow + r) * lds + srcCol;
      if (acc) for (let c = 0; c < cols; c++) dst[d + c] += src[s + c];
      else for (let c = 0; c < cols; c++) dst[d + c] = src[s + c];
    }
  }
}

/** Σ over rows (the batch, and after the loop also time): dst[i] (+)= Σ_r src[r·lds + i]. */
function $sumRows(R, n, src, so, lds, dst, dO, acc) {
  if (!acc) for (let i = 0; i < n; i++) dst[dO + i] = 0;
  for (let r = 0; r < R; r++) {
    const s0 = so + r * lds;
    for (let i = 0; i < n; i++) dst[dO + i] += src[s0 + i];
  }
}

/** Copy n columns of each row (src repeated on every row when lds is 0). */
function $copy(R, n, src, so, lds, dst, dO, ldd) {
  for (let r = 0; r < R; r++) {
    const s0 = so + r * lds, d0 = dO + r * ldd;
    for (let i = 0; i < n; i++) dst[d0 + i] = src[s0 + i];
  }
}

/** Copy a caller's array into the module's own, after checking its kind, length and (plain arrays) that every element is a number. */
function $load(dst, src, what, n) {
  if (src === undefined || src === null) $fail(`${what}: missing (expected ${n} numbers)`, TypeError);
  const view = ArrayBuffer.isView(src) && !(src instanceof DataView) && !(typeof BigInt64Array === 'function' && (src instanceof BigInt64Array || src instanceof BigUint64Array));
  if (!view && !Array.isArray(src)) $fail(`${what}: expected an array or Float32Array/Float64Array of ${n} numbers, got ${$what(src)}`, TypeError);
  if (src.length !== n) $fail(`${what}: expected ${n} numbers, got ${src.length}`, RangeError);
  if (view) dst.set(src);
  else for (let i = 0; i < n; i++) {
    const v = src[i];
    if (typeof v !== 'number') $fail(`${what}[${i}]: expected a number, got ${$what(v)}`, TypeError);
    dst[i] = v;
  }
}

/** Parameters must be finite: one pass over n loaded numbers (x · 0 is 0 for every finite x, NaN otherwise). */
function $finite(a, what, n) {
  let z = 0;
  for (let i = 0; i < n; i++) z += a[i] * 0;
  if (z === 0) return;
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) $fail(`${what}[${i}] is ${a[i]}: parameters must be finite`, RangeError);
}

/** A dimension or batch size: a whole number ≥ 1. */
function $size(value, what) {
  if (typeof value !== 'number') $fail(`${what} must be a whole number ≥ 1, got ${$what(value)}`, TypeError);
  if (!Number.isInteger(value) || value < 1) $fail(`${what} must be a whole number ≥ 1, got ${value}`, RangeError);
  return value;
}

/** A caller's named array: own properties only (a cell may name a parameter `constructor`). */
function $own(o, key) {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/** An argument that names arrays: an object whose keys are among names (a misspelled key would be silently ignored). */
function $keys(o, names, what) {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) $fail(`${what}: expected an object { ${names.join(', ')} }, got ${$what(o)}`, TypeError);
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k) || names.includes(k)) continue;
    const near = $near(k, names);
    $fail(`${what}: unknown key ${JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k)}${near !== undefined ? ` (did you mean ${near}?)` : ''}; expected ${names.length ? names.join(', ') : 'no keys'}`, TypeError);
  }
}

/** The name closest to a misspelled key by edit distance (at most 1 + a third of its length), or undefined. */
function $near(key, names) {
  let best, bound = 2 + Math.floor(key.length / 3);
  for (const n of names) {
    if (Math.abs(n.length - key.length) >= bound) continue;
    let prev = Array.from({ length: n.length + 1 }, (_, j) => j);
    for (let i = 1; i <= key.length; i++) {
      const cur = [i];
      for (let j = 1; j <= n.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (key[i - 1] === n[j - 1] ? 0 : 1));
      prev = cur;
    }
    if (prev[n.length] < bound) { bound = prev[n.length]; best = n; }
  }
  return best;
}

/** What a caller passed, for a message. */
function $what(v) {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : ArrayBuffer.isView(v) ? v.constructor.name : typeof v === 'string' ? `a string` : typeof v === 'number' ? String(v) : typeof v;
}

/** Memory an instance needs, checked before allocating: at most 4 GiB (also the most a SIMD module's memory can hold). */
function $room(bytes, what) {
  if (!(bytes <= 4294967296)) $fail(`${what} would need ${bytes} bytes (${(bytes / 1073741824).toPrecision(3)} GiB), more than the 4 GiB an instance may use`, RangeError);
}

function $fail(message, Kind = Error) {
  throw new Kind(message);
}

/**
 * An instance of GRU for the given dimensions and batch size. Buffers are
 * allocated here and grown with T; nothing is allocated inside the time loop.
 */
function createGRU($dims, $batch) {
  $keys($dims, ["n_x", "n_a"], 'dims');
  const n_x = $size($own($dims, "n_x"), "dims.n_x");
  const n_a = $size($own($dims, "n_a"), "dims.n_a");
  const $B = $size($batch, 'batch');

  // The bytes an instance needs for T steps: checked before allocating.
  const $bytes = ($T) => 8 * (n_a * (n_a + n_x) + n_a + n_a * (n_a + n_x) + n_a + n_a * (n_a + n_x) + n_a + $B * (2 * n_a) + $B * n_a + $B * n_a + $B * n_a + (2 * n_a) * n_a + (3 * n_a) * n_x + n_a * n_a + n_a * (n_a + n_x) + n_a + n_a * (n_a + n_x) + n_a + n_a * (n_a + n_x) + n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + n_a * n_a + n_a * (2 * n_a) + n_x * (3 * n_a) + $T * $B * n_x + ($T + 1) * $B * n_a + $T * $B * n_a + $T * $B * (3 * n_a) + $T * $B * (2 * n_a) + ($T + 1) * $B * n_a + $T * $B * n_a + $T * $B * n_a + $T * $B * n_x + $T * $B * (3 * n_a) + $T * $B * n_a + $T * $B * n_a + $T * $B * n_a + $T * $B * n_x + $T * $B * n_a + $T * $B * n_a + $T * $B * n_a);
  $room($bytes(1), `batch and dims: batch ${$B} with dims ${JSON.stringify($dims)}`);
  // Buffers of a fixed size: parameters, packed weights, gradients, values of one step.
  const $W_r = new $F(n_a * (n_a + n_x));
  const $b_r = new $F(n_a);
  const $W_c = new $F(n_a * (n_a + n_x));
  const $b_c = new $F(n_a);
  const $W_u = new $F(n_a * (n_a + n_x));
  const $b_u = new $F(n_a);
  const $c_prev_proj = new $F($B * (2 * n_a));
  const $v1_proj = new $F($B * n_a);
  const $v1 = new $F($B * n_a);
  const $v2 = new $F($B * n_a);
  const $pack_c_prev_proj = new $F((2 * n_a) * n_a);
  const $pack_x_proj = new $F((3 * n_a) * n_x);
  const $pack_v1_proj = new $F(n_a * n_a);
  const $dW_r = new $F(n_a * (n_a + n_x));
  const $db_r = new $F(n_a);
  const $dW_c = new $F(n_a * (n_a + n_x));
  const $db_c = new $F(n_a);
  const $dW_u = new $F(n_a * (n_a + n_x));
  const $db_u = new $F(n_a);
  const $delta_5_proj = new $F($B * n_a);
  const $stack0_proj = new $F($B * n_a);
  const $delta_11 = new $F($B * n_a);
  const $delta_12 = new $F($B * n_a);
  const $delta_13 = new $F($B * n_a);
  const $pack_delta_5_proj = new $F(n_a * n_a);
  const $pack_stack0_proj = new $F(n_a * (2 * n_a));
  const $pack_stack0_proj_2 = new $F(n_x * (3 * n_a));

  // Buffers of T·B rows (states: (T+1)·B, slot 0 the initial state), grown to the longest T seen.
  let $cap = 0, $last = 0;
  const $mem = { $x: new $F(0), $c: new $F(0), $c_tilde: new $F(0), $x_proj: new $F(0), $Gamma_r_Gamma_u: new $F(0), $dc: new $F(0), $dc_tilde: new $F(0), $da: new $F(0), $dx: new $F(0), $stack0: new $F(0), $delta_10: new $F(0), $delta_4_T: new $F(0), $c_prev_T: new $F(0), $x_T: new $F(0), $delta_5_T: new $F(0), $delta_10_T: new $F(0), $delta_8_T: new $F(0) };
  function $ensure($T) {
    if ($T <= $cap) return;
    $cap = $T;
    $mem.$x = new $F($T * $B * n_x);
    $mem.$c = new $F(($T + 1) * $B * n_a);
    $mem.$c_tilde = new $F($T * $B * n_a);
    $mem.$x_proj = new $F($T * $B * (3 * n_a));
    $mem.$Gamma_r_Gamma_u = new $F($T * $B * (2 * n_a));
    $mem.$dc = new $F(($T + 1) * $B * n_a);
    $mem.$dc_tilde = new $F($T * $B * n_a);
    $mem.$da = new $F($T * $B * n_a);
    $mem.$dx = new $F($T * $B * n_x);
    $mem.$stack0 = new $F($T * $B * (3 * n_a));
    $mem.$delta_10 = new $F($T * $B * n_a);
    $mem.$delta_4_T = new $F($T * $B * n_a);
    $mem.$c_prev_T = new $F($T * $B * n_a);
    $mem.$x_T = new $F($T * $B * n_x);
    $mem.$delta_5_T = new $F($T * $B * n_a);
    $mem.$delta_10_T = new $F($T * $B * n_a);
    $mem.$delta_8_T = new $F($T * $B * n_a);
  }

  /** forward: from the parameters (packed weights). */
  function $forwardStatic() {
    // pack_c_prev_proj = W_r[0:n_a, 0:n_a] c_prev, W_u[0:n_a, 0:n_a] c_prev
    $pack($pack_c_prev_proj, n_a, 0, 0, $W_r, (n_a + n_x), false, 0, 0, n_a, n_a, 0);
    $pack($pack_c_prev_proj, n_a, n_a, 0, $W_u, (n_a + n_x), false, 0, 0, n_a, n_a, 0);
    // pack_x_proj = W_r[0:n_a, n_a:n_a+n_x] x, W_c[0:n_a, n_a:n_a+n_x] x, W_u[0:n_a, n_a:n_a+n_x] x
    $pack($pack_x_proj, n_x, 0, 0, $W_r, (n_a + n_x), false, 0, n_a, n_a, n_x, 0);
    $pack($pack_x_proj, n_x, n_a, 0, $W_c, (n_a + n_x), false, 0, n_a, n_a, n_x, 0);
    $pack($pack_x_proj, n_x, (2 * n_a), 0, $W_u, (n_a + n_x), false, 0, n_a, n_a, n_x, 0);
    // pack_v1_proj = W_c[0:n_a, 0:n_a] v1
    $pack($pack_v1_proj, n_a, 0, 0, $W_c, (n_a + n_x), false, 0, 0, n_a, n_a, 0);
  }
  
  /** forward: before the loop, every step at once (T·B rows). */
  function $forwardPre($T) {
    const { $x, $x_proj } = $mem;
    const $TB = $T * $B;
    $copy($TB, n_a, $b_r, 0, 0, $x_proj, 0, (3 * n_a));
    $copy($TB, n_a, $b_c, 0, 0, $x_proj, n_a, (3 * n_a));
    $copy($TB, n_a, $b_u, 0, 0, $x_proj, (2 * n_a), (3 * n_a));
    // W_r[0:n_a, n_a:n_a+n_x] x, W_c[0:n_a, n_a:n_a+n_x] x, W_u[0:n_a, n_a:n_a+n_x] x, plus the biases (one product: $TB × (3 * n_a), depth n_x)
    $gemm($TB, (3 * n_a), n_x, $x, 0, n_x, $pack_x_proj, 0, n_x, $x_proj, 0, (3 * n_a), 1);
  }
  
  /** forward: step t+1 of the recurrence (t = 0 … T-1). */
  function $forwardLoop($t) {
    const { $c, $c_tilde, $x_proj, $Gamma_r_Gamma_u } = $mem;
    // W_r[0:n_a, 0:n_a] c_prev, W_u[0:n_a, 0:n_a] c_prev (one product: $B × (2 * n_a), depth n_a)
    $gemm($B, (2 * n_a), n_a, $c, $t * $B * n_a, n_a, $pack_c_prev_proj, 0, n_a, $c_prev_proj, 0, (2 * n_a), 0);
    for (let $b = 0; $b < $B; $b++) {
      const $c_prev_proj_at = $b * (2 * n_a), $x_proj_at = $t * $B * (3 * n_a) + $b * (3 * n_a), $Gamma_r_Gamma_u_at = $t * $B * (2 * n_a) + $b * (2 * n_a), $c_at = $t * $B * n_a + $b * n_a, $v1_at = $b * n_a, $c_prev_proj_at_2 = $b * (2 * n_a) + n_a, $x_proj_at_2 = $t * $B * (3 * n_a) + $b * (3 * n_a) + (2 * n_a), $Gamma_r_Gamma_u_at_2 = $t * $B * (2 * n_a) + $b * (2 * n_a) + n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // Γ_r = σ(W_r[c^⟨t−1⟩, x^⟨t⟩] + b_r)
        const Gamma_r = $sigmoid($c_prev_proj[$c_prev_proj_at + $i] + $x_proj[$x_proj_at + $i]);
        $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at + $i] = Gamma_r;
        const v1 = Gamma_r * $c[$c_at + $i];
        $v1[$v1_at + $i] = v1;
        // Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)
        const Gamma_u = $sigmoid($c_prev_proj[$c_prev_proj_at_2 + $i] + $x_proj[$x_proj_at_2 + $i]);
        $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_2 + $i] = Gamma_u;
        const v2 = (1 - Gamma_u) * $c[$c_at + $i];
        $v2[$v1_at + $i] = v2;
      }
    }
    // W_c[0:n_a, 0:n_a] v1 (one product: $B × n_a, depth n_a)
    $gemm($B, n_a, n_a, $v1, 0, n_a, $pack_v1_proj, 0, n_a, $v1_proj, 0, n_a, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $x_proj_at_3 = $t * $B * (3 * n_a) + $b * (3 * n_a) + n_a, $v1_proj_at = $b * n_a, $c_tilde_at = $t * $B * n_a + $b * n_a, $Gamma_r_Gamma_u_at_3 = $t * $B * (2 * n_a) + $b * (2 * n_a) + n_a, $c_at_2 = ($t + 1) * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // c̃^⟨t⟩ = tanh(W_c[Γ_r * c^⟨t−1⟩, x^⟨t⟩] + b_c)
        const c_tilde = $tanh($x_proj[$x_proj_at_3 + $i] + $v1_proj[$v1_proj_at + $i]);
        $c_tilde[$c_tilde_at + $i] = c_tilde;
        // c^⟨t⟩ = Γ_u * c̃^⟨t⟩ + (1 − Γ_u) * c^⟨t−1⟩
        const c = $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_3 + $i] * c_tilde + $v2[$v1_proj_at + $i];
        $c[$c_at_2 + $i] = c;
      }
    }
  }
  
  /** Run T steps from the initial states (default: each state's declared constant), saving what backward needs. */
  function $forward($params, $inputs, $init, $steps) {
    $keys($params, ["W_r", "b_r", "W_c", "b_c", "W_u", "b_u"], 'params');
    if ($inputs === undefined || $inputs === null) $inputs = {};
    $keys($inputs, ["x"], 'inputs');
    if ($init === undefined || $init === null) $init = {};
    $keys($init, ["c"], 'init');
    const $T = $steps !== undefined ? $size($steps, 'steps') : $size(($own($inputs, "x") ?? []).length / ($B * n_x), "the number of steps (length of inputs.x / (batch × x's size))");
    if ($T > $cap) $room($bytes($T), `steps: ${$T} steps of batch ${$B}`);
    $ensure($T);
    $last = $T;
    const $TB = $T * $B;
    const { $x, $c, $c_tilde } = $mem;
    $load($W_r, $own($params, "W_r"), "params.W_r", n_a * (n_a + n_x));
    $finite($W_r, "params.W_r", n_a * (n_a + n_x));
    $load($b_r, $own($params, "b_r"), "params.b_r", n_a);
    $finite($b_r, "params.b_r", n_a);
    $load($W_c, $own($params, "W_c"), "params.W_c", n_a * (n_a + n_x));
    $finite($W_c, "params.W_c", n_a * (n_a + n_x));
    $load($b_c, $own($params, "b_c"), "params.b_c", n_a);
    $finite($b_c, "params.b_c", n_a);
    $load($W_u, $own($params, "W_u"), "params.W_u", n_a * (n_a + n_x));
    $finite($W_u, "params.W_u", n_a * (n_a + n_x));
    $load($b_u, $own($params, "b_u"), "params.b_u", n_a);
    $finite($b_u, "params.b_u", n_a);
    $load($x, $own($inputs, "x"), "inputs.x", $TB * n_x);
    if ($own($init, "c") !== undefined) $load($c, $own($init, "c"), "init.c", $B * n_a);
    else $c.fill(0, 0, $B * n_a);
    $forwardStatic();
    $forwardPre($T);
    for (let $t = 0; $t < $T; $t++) $forwardLoop($t);
    return { states: { ["c"]: $c.subarray($B * n_a, ($T + 1) * $B * n_a) }, outputs: { ["c_tilde"]: $c_tilde.subarray(0, $T * $B * n_a), ["a"]: $c.subarray($B * n_a, ($T + 1) * $B * n_a) } };
  }

  /** backward: from the parameters (packed weights). */
  function $backwardStatic() {
    // pack_delta_5_proj = W_cᵀ[0:n_a, 0:n_a] delta_5
    $pack($pack_delta_5_proj, n_a, 0, 0, $W_c, (n_a + n_x), true, 0, 0, n_a, n_a, 0);
    // pack_stack0_proj = W_uᵀ[0:n_a, 0:n_a] delta_4 + W_rᵀ[0:n_a, 0:n_a] delta_8
    $pack($pack_stack0_proj, (2 * n_a), 0, 0, $W_u, (n_a + n_x), true, 0, 0, n_a, n_a, 0);
    $pack($pack_stack0_proj, (2 * n_a), 0, n_a, $W_r, (n_a + n_x), true, 0, 0, n_a, n_a, 0);
    // pack_stack0_proj = W_cᵀ[n_a:n_a+n_x, 0:n_a] delta_5 + W_uᵀ[n_a:n_a+n_x, 0:n_a] delta_4 + W_rᵀ[n_a:n_a+n_x, 0:n_a] delta_8
    $pack($pack_stack0_proj_2, (3 * n_a), 0, 0, $W_c, (n_a + n_x), true, n_a, 0, n_x, n_a, 0);
    $pack($pack_stack0_proj_2, (3 * n_a), 0, n_a, $W_u, (n_a + n_x), true, n_a, 0, n_x, n_a, 0);
    $pack($pack_stack0_proj_2, (3 * n_a), 0, (2 * n_a), $W_r, (n_a + n_x), true, n_a, 0, n_x, n_a, 0);
  }
  
  /** backward: step t+1 back through time (t = T-1 … 0); only the states' cotangents are carried. */
  function $backwardLoop($t) {
    const { $c, $c_tilde, $Gamma_r_Gamma_u, $dc, $dc_tilde, $da, $stack0 } = $mem;
    for (let $b = 0; $b < $B; $b++) {
      const $Gamma_r_Gamma_u_at_4 = $t * $B * (2 * n_a) + $b * (2 * n_a) + n_a, $dc_at = ($t + 1) * $B * n_a + $b * n_a, $da_at = $t * $B * n_a + $b * n_a, $delta_11_at = $b * n_a, $stack0_at = $t * $B * (3 * n_a) + $b * (3 * n_a) + n_a, $stack0_at_2 = $t * $B * (3 * n_a) + $b * (3 * n_a), $Gamma_r_Gamma_u_at_5 = $t * $B * (2 * n_a) + $b * (2 * n_a);
      for (let $i = 0; $i < n_a; $i++) {
        // δ₂ = 1 − Γ_u
        const delta_2 = 1 - $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_4 + $i];
        // δ₃ = ∂c^⟨t⟩ + ∂a^⟨t⟩
        const delta_3 = $dc[$dc_at + $i] + $da[$da_at + $i];
        // δ₁₁ = δ₃ * δ₂
        const delta_11 = delta_3 * delta_2;
        $delta_11[$delta_11_at + $i] = delta_11;
        // δ₄ = (-(δ₃ * c^⟨t−1⟩) + δ₃ * c̃^⟨t⟩) * (Γ_u * δ₂)
        const delta_4 = (-(delta_3 * $c[$da_at + $i]) + delta_3 * $c_tilde[$da_at + $i]) * ($Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_4 + $i] * delta_2);
        $stack0[$stack0_at + $i] = delta_4;
        // δ₅ = (∂c̃^⟨t⟩ + δ₃ * Γ_u) * (1 − c̃^⟨t⟩²)
        const delta_5 = ($dc_tilde[$da_at + $i] + delta_3 * $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_4 + $i]) * (1 - $c_tilde[$da_at + $i] * $c_tilde[$da_at + $i]);
        $stack0[$stack0_at_2 + $i] = delta_5;
        // δ₁₃ = Γ_r * (1 − Γ_r)
        const delta_13 = $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_5 + $i] * (1 - $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_5 + $i]);
        $delta_13[$delta_11_at + $i] = delta_13;
      }
    }
    // W_cᵀ[0:n_a, 0:n_a] delta_5 (one product: $B × n_a, depth n_a)
    $gemm($B, n_a, n_a, $stack0, $t * $B * (3 * n_a), (3 * n_a), $pack_delta_5_proj, 0, n_a, $delta_5_proj, 0, n_a, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_11_at_2 = $b * n_a, $Gamma_r_Gamma_u_at_6 = $t * $B * (2 * n_a) + $b * (2 * n_a), $c_at_3 = $t * $B * n_a + $b * n_a, $stack0_at_3 = $t * $B * (3 * n_a) + $b * (3 * n_a) + (2 * n_a);
      for (let $i = 0; $i < n_a; $i++) {
        // δ₁₂ = δ₁₁ + (W_cᵀ · δ₅)[0 : n_a] * Γ_r
        const delta_12 = $delta_11[$delta_11_at_2 + $i] + $delta_5_proj[$delta_11_at_2 + $i] * $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_6 + $i];
        $delta_12[$delta_11_at_2 + $i] = delta_12;
        // δ₈ = (W_cᵀ · δ₅)[0 : n_a] * c^⟨t−1⟩ * δ₁₃
        const delta_8 = $delta_5_proj[$delta_11_at_2 + $i] * $c[$c_at_3 + $i] * $delta_13[$delta_11_at_2 + $i];
        $stack0[$stack0_at_3 + $i] = delta_8;
      }
    }
    // W_uᵀ[0:n_a, 0:n_a] delta_4 + W_rᵀ[0:n_a, 0:n_a] delta_8 (one product: $B × n_a, depth (2 * n_a))
    $gemm($B, n_a, (2 * n_a), $stack0, $t * $B * (3 * n_a) + n_a, (3 * n_a), $pack_stack0_proj, 0, (2 * n_a), $stack0_proj, 0, n_a, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_12_at = $b * n_a, $dc_at_2 = $t * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // ∂c^⟨t−1⟩ += δ₁₂ + (W_uᵀ · δ₄ + W_rᵀ · δ₈)[0 : n_a]
        const dc_prev = $delta_12[$delta_12_at + $i] + $stack0_proj[$delta_12_at + $i];
        $dc[$dc_at_2 + $i] += dc_prev;
      }
    }
  }
  
  /** backward: after the loop, every step at once (T·B rows). */
  function $backwardPost($T) {
    const { $x, $c, $Gamma_r_Gamma_u, $dx, $stack0, $delta_10, $delta_4_T, $c_prev_T, $x_T, $delta_5_T, $delta_10_T, $delta_8_T } = $mem;
    const $TB = $T * $B;
    for (let $b = 0; $b < $TB; $b++) {
      const $Gamma_r_Gamma_u_at_7 = $b * (2 * n_a), $c_at_4 = $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₁₀ = Γ_r * c^⟨t−1⟩
        const delta_10 = $Gamma_r_Gamma_u[$Gamma_r_Gamma_u_at_7 + $i] * $c[$c_at_4 + $i];
        $delta_10[$c_at_4 + $i] = delta_10;
      }
    }
    $transpose($TB, n_a, $stack0, n_a, (3 * n_a), $delta_4_T);
    $transpose($TB, n_a, $c, 0, n_a, $c_prev_T);
    $transpose($TB, n_x, $x, 0, n_x, $x_T);
    $transpose($TB, n_a, $stack0, 0, (3 * n_a), $delta_5_T);
    $transpose($TB, n_a, $delta_10, 0, n_a, $delta_10_T);
    $transpose($TB, n_a, $stack0, (2 * n_a), (3 * n_a), $delta_8_T);
    // W_cᵀ[n_a:n_a+n_x, 0:n_a] delta_5 + W_uᵀ[n_a:n_a+n_x, 0:n_a] delta_4 + W_rᵀ[n_a:n_a+n_x, 0:n_a] delta_8 (one product: $TB × n_x, depth (3 * n_a))
    $gemm($TB, n_x, (3 * n_a), $stack0, 0, (3 * n_a), $pack_stack0_proj_2, 0, (3 * n_a), $dx, 0, n_x, 0);
    // db_u: Σ over $TB rows
    $sumRows($TB, n_a, $stack0, n_a, (3 * n_a), $db_u, 0, 1);
    // dW_u: delta_4 ⊗ c_prev: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_a, $TB, $delta_4_T, 0, $TB, $c_prev_T, 0, $TB, $dW_u, 0, (n_a + n_x), 1);
    // dW_u: delta_4 ⊗ x: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_x, $TB, $delta_4_T, 0, $TB, $x_T, 0, $TB, $dW_u, n_a, (n_a + n_x), 1);
    // db_c: Σ over $TB rows
    $sumRows($TB, n_a, $stack0, 0, (3 * n_a), $db_c, 0, 1);
    // dW_c: delta_5 ⊗ delta_10: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_a, $TB, $delta_5_T, 0, $TB, $delta_10_T, 0, $TB, $dW_c, 0, (n_a + n_x), 1);
    // dW_c: delta_5 ⊗ x: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_x, $TB, $delta_5_T, 0, $TB, $x_T, 0, $TB, $dW_c, n_a, (n_a + n_x), 1);
    // db_r: Σ over $TB rows
    $sumRows($TB, n_a, $stack0, (2 * n_a), (3 * n_a), $db_r, 0, 1);
    // dW_r: delta_8 ⊗ c_prev: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_a, $TB, $delta_8_T, 0, $TB, $c_prev_T, 0, $TB, $dW_r, 0, (n_a + n_x), 1);
    // dW_r: delta_8 ⊗ x: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_x, $TB, $delta_8_T, 0, $TB, $x_T, 0, $TB, $dW_r, n_a, (n_a + n_x), 1);
  }
  
  /** BPTT from step T down to 1 for the last forward: cotangents of states and outputs → gradients. */
  function $backward($cot) {
    if ($last === 0) $fail('backward before forward');
    const $T = $last, $TB = $T * $B;
    const { $dc, $dc_tilde, $da, $dx } = $mem;
    $keys($cot, ['states', 'outputs'], 'cotangents');
    const $cs = $own($cot, 'states') ?? {}, $co = $own($cot, 'outputs') ?? {};
    $keys($cs, ["c"], 'cotangents.states');
    $keys($co, ["c_tilde", "a"], 'cotangents.outputs');
    // Parameter gradients are sums over the batch and over time.
    $dW_r.fill(0);
    $db_r.fill(0);
    $dW_c.fill(0);
    $db_c.fill(0);
    $dW_u.fill(0);
    $db_u.fill(0);
    // A state's cotangent: slot t+1 holds ∂ℒ/∂state^<t+1> as given; step t adds what it carries to slot t.
    if ($own($cs, "c") !== undefined) $load($dc.subarray($B * n_a), $own($cs, "c"), "cotangents.states.c", $TB * n_a);
    else $dc.fill(0, $B * n_a, $B * n_a + $TB * n_a);
    $dc.fill(0, 0, $B * n_a);
    if ($own($co, "c_tilde") !== undefined) $load($dc_tilde, $own($co, "c_tilde"), "cotangents.outputs.c_tilde", $TB * n_a);
    else $dc_tilde.fill(0, 0, $TB * n_a);
    if ($own($co, "a") !== undefined) $load($da, $own($co, "a"), "cotangents.outputs.a", $TB * n_a);
    else $da.fill(0, 0, $TB * n_a);
    $backwardStatic();
    for (let $t = $T - 1; $t >= 0; $t--) $backwardLoop($t);
    $backwardPost($T);
    return { params: { ["W_r"]: $dW_r, ["b_r"]: $db_r, ["W_c"]: $dW_c, ["b_c"]: $db_c, ["W_u"]: $dW_u, ["b_u"]: $db_u }, inputs: { ["x"]: $dx.subarray(0, $TB * n_x) }, init: { ["c"]: $dc.subarray(0, $B * n_a) } };
  }

  // One step at a time (a second instance, so the saved trajectory of forward stays intact).
  let $single = null;
  function $step($params, $inputs, $init) {
    if ($single === null) $single = createGRU($dims, $batch);
    return $single.forward($params, $inputs, $init, 1);
  }
  function $stepBackward($cot) {
    if ($single === null) $fail('stepBackward before step');
    return $single.backward($cot);
  }
  return { forward: $forward, backward: $backward, step: $step, stepBackward: $stepBackward, cell: "GRU", precision: "f64", batch: $B };
}

export { createGRU, createGRU as default };
