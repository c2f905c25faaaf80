// celda: the cell `RNN`, compiled to JavaScript (float64).
// Generated from the cell's graph; do not edit. Standalone: no imports.
// Exports createRNN(dims, batch) → { forward, backward, step, stepBackward }.
//
// cell RNN {
//   input x : n_x
//   state a : n_a
//   param W_aa : n_a × n_a
//   param W_ax : n_a × n_x
//   param b_a : n_a
//   param W_ya : n_y × n_a
//   param b_y : n_y
//   a^⟨t⟩ = tanh(W_aa a^⟨t−1⟩ + W_ax x^⟨t⟩ + b_a)
//   ŷ^⟨t⟩ = softmax(W_ya a^⟨t⟩ + b_y)
// }
//
// Backward step (∂v is ∂ℒ/∂v; parameter gradients summed over the batch and time):
// δ₁ = ŷ^⟨t⟩ * (∂ŷ^⟨t⟩ − Σ_i (∂ŷ^⟨t⟩ * ŷ^⟨t⟩))
// δ₂ = (∂a^⟨t⟩ + W_yaᵀ · δ₁) * (1 − a^⟨t⟩²)
// ∂W_aa = Σ_batch δ₂ · a^⟨t−1⟩ᵀ
// ∂W_ax = Σ_batch δ₂ · x^⟨t⟩ᵀ
// ∂b_a = Σ_batch δ₂
// ∂W_ya = Σ_batch δ₁ · a^⟨t⟩ᵀ
// ∂b_y = Σ_batch δ₁
// ∂x^⟨t⟩ = W_axᵀ · δ₂
// ∂a^⟨t−1⟩ = W_aaᵀ · δ₂

const $F = Float64Array;
const $exp = Math.exp, $tanh = Math.tanh;

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

/** softmax of each row, in its stable form (the row's maximum subtracted first). */
function $softmax(R, n, src, so, lds, dst, dO, ldd) {
  for (let r = 0; r < R; r++) {
    const s0 = so + r * lds, d0 = dO + r * ldd;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (src[s0 + i] > m) m = src[s0 + i];
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = $exp(src[s0 + i] - m);
      dst[d0 + i] = e;
      s += e;
    }
    for (let i = 0; i < n; i++) dst[d0 + i] /= s;
  }
}

/** Σ over the features of each row. */
function $sumFeat(R, n, src, so, lds, dst, dO, ldd) {
  for (let r = 0; r < R; r++) {
    let s = 0;
    const s0 = so + r * lds;
    for (let i = 0; i < n; i++) s += src[s0 + i];
    dst[dO + r * ldd] = s;
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
 * An instance of RNN for the given dimensions and batch size. Buffers are
 * allocated here and grown with T; nothing is allocated inside the time loop.
 */
function createRNN($dims, $batch) {
  $keys($dims, ["n_x", "n_a", "n_y"], 'dims');
  const n_x = $size($own($dims, "n_x"), "dims.n_x");
  const n_a = $size($own($dims, "n_a"), "dims.n_a");
  const n_y = $size($own($dims, "n_y"), "dims.n_y");
  const $B = $size($batch, 'batch');

  // The bytes an instance needs for T steps: checked before allocating.
  const $bytes = ($T) => 8 * (n_a * n_a + n_a * n_x + n_a + n_y * n_a + n_y + $B * n_a + n_a * n_a + n_a * n_x + n_y * n_a + n_a * n_a + n_a * n_x + n_a + n_y * n_a + n_y + n_a * n_y + n_x * n_a + n_a * n_a + $T * $B * n_x + ($T + 1) * $B * n_a + $T * $B * n_y + $T * $B * n_a + $T * $B * n_y + $T * $B * n_y + ($T + 1) * $B * n_a + $T * $B * n_y + $T * $B * n_x + $T * $B * n_a + $T * $B * n_y + $T * $B + $T * $B * n_y + $T * $B * n_a + $T * $B * n_y + $T * $B * n_a + $T * $B * n_a + $T * $B * n_x + $T * $B * n_a);
  $room($bytes(1), `batch and dims: batch ${$B} with dims ${JSON.stringify($dims)}`);
  // Buffers of a fixed size: parameters, packed weights, gradients, values of one step.
  const $W_aa = new $F(n_a * n_a);
  const $W_ax = new $F(n_a * n_x);
  const $b_a = new $F(n_a);
  const $W_ya = new $F(n_y * n_a);
  const $b_y = new $F(n_y);
  const $a_prev_proj = new $F($B * n_a);
  const $pack_a_prev_proj = new $F(n_a * n_a);
  const $pack_x_proj = new $F(n_a * n_x);
  const $pack_a_proj = new $F(n_y * n_a);
  const $dW_aa = new $F(n_a * n_a);
  const $dW_ax = new $F(n_a * n_x);
  const $db_a = new $F(n_a);
  const $dW_ya = new $F(n_y * n_a);
  const $db_y = new $F(n_y);
  const $pack_delta_1_proj = new $F(n_a * n_y);
  const $pack_delta_2_proj = new $F(n_x * n_a);
  const $pack_delta_2_proj_2 = new $F(n_a * n_a);

  // Buffers of T·B rows (states: (T+1)·B, slot 0 the initial state), grown to the longest T seen.
  let $cap = 0, $last = 0;
  const $mem = { $x: new $F(0), $a: new $F(0), $y_hat: new $F(0), $x_proj: new $F(0), $a_proj: new $F(0), $v1: new $F(0), $da: new $F(0), $dy_hat: new $F(0), $dx: new $F(0), $delta_1_proj: new $F(0), $delta_3: new $F(0), $sum_feat_delta_3: new $F(0), $delta_1: new $F(0), $delta_2: new $F(0), $delta_1_T: new $F(0), $a_T: new $F(0), $delta_2_T: new $F(0), $x_T: new $F(0), $a_prev_T: new $F(0) };
  function $ensure($T) {
    if ($T <= $cap) return;
    $cap = $T;
    $mem.$x = new $F($T * $B * n_x);
    $mem.$a = new $F(($T + 1) * $B * n_a);
    $mem.$y_hat = new $F($T * $B * n_y);
    $mem.$x_proj = new $F($T * $B * n_a);
    $mem.$a_proj = new $F($T * $B * n_y);
    $mem.$v1 = new $F($T * $B * n_y);
    $mem.$da = new $F(($T + 1) * $B * n_a);
    $mem.$dy_hat = new $F($T * $B * n_y);
    $mem.$dx = new $F($T * $B * n_x);
    $mem.$delta_1_proj = new $F($T * $B * n_a);
    $mem.$delta_3 = new $F($T * $B * n_y);
    $mem.$sum_feat_delta_3 = new $F($T * $B);
    $mem.$delta_1 = new $F($T * $B * n_y);
    $mem.$delta_2 = new $F($T * $B * n_a);
    $mem.$delta_1_T = new $F($T * $B * n_y);
    $mem.$a_T = new $F($T * $B * n_a);
    $mem.$delta_2_T = new $F($T * $B * n_a);
    $mem.$x_T = new $F($T * $B * n_x);
    $mem.$a_prev_T = new $F($T * $B * n_a);
  }

  /** forward: from the parameters (packed weights). */
  function $forwardStatic() {
    // pack_a_prev_proj = W_aa[0:n_a, 0:n_a] a_prev
    $pack($pack_a_prev_proj, n_a, 0, 0, $W_aa, n_a, false, 0, 0, n_a, n_a, 0);
    // pack_x_proj = W_ax[0:n_a, 0:n_x] x
    $pack($pack_x_proj, n_x, 0, 0, $W_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_proj = W_ya[0:n_y, 0:n_a] a
    $pack($pack_a_proj, n_a, 0, 0, $W_ya, n_a, false, 0, 0, n_y, n_a, 0);
  }
  
  /** forward: before the loop, every step at once (T·B rows). */
  function $forwardPre($T) {
    const { $x, $x_proj } = $mem;
    const $TB = $T * $B;
    $copy($TB, n_a, $b_a, 0, 0, $x_proj, 0, n_a);
    // W_ax[0:n_a, 0:n_x] x, plus the biases (one product: $TB × n_a, depth n_x)
    $gemm($TB, n_a, n_x, $x, 0, n_x, $pack_x_proj, 0, n_x, $x_proj, 0, n_a, 1);
  }
  
  /** forward: step t+1 of the recurrence (t = 0 … T-1). */
  function $forwardLoop($t) {
    const { $a, $x_proj } = $mem;
    // W_aa[0:n_a, 0:n_a] a_prev (one product: $B × n_a, depth n_a)
    $gemm($B, n_a, n_a, $a, $t * $B * n_a, n_a, $pack_a_prev_proj, 0, n_a, $a_prev_proj, 0, n_a, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_prev_proj_at = $b * n_a, $x_proj_at = $t * $B * n_a + $b * n_a, $a_at = ($t + 1) * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨t⟩ = tanh(W_aa a^⟨t−1⟩ + W_ax x^⟨t⟩ + b_a)
        const a = $tanh($a_prev_proj[$a_prev_proj_at + $i] + $x_proj[$x_proj_at + $i]);
        $a[$a_at + $i] = a;
      }
    }
  }
  
  /** forward: after the loop, every step at once (T·B rows). */
  function $forwardPost($T) {
    const { $a, $y_hat, $a_proj, $v1 } = $mem;
    const $TB = $T * $B;
    // W_ya[0:n_y, 0:n_a] a (one product: $TB × n_y, depth n_a)
    $gemm($TB, n_y, n_a, $a, $B * n_a, n_a, $pack_a_proj, 0, n_a, $a_proj, 0, n_y, 0);
    for (let $b = 0; $b < $TB; $b++) {
      const $a_proj_at = $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        const v1 = $a_proj[$a_proj_at + $i] + $b_y[$i];
        $v1[$a_proj_at + $i] = v1;
      }
    }
    // y_hat = softmax (stable)
    $softmax($TB, n_y, $v1, 0, n_y, $y_hat, 0, n_y);
  }
  
  /** Run T steps from the initial states (default: each state's declared constant), saving what backward needs. */
  function $forward($params, $inputs, $init, $steps) {
    $keys($params, ["W_aa", "W_ax", "b_a", "W_ya", "b_y"], 'params');
    if ($inputs === undefined || $inputs === null) $inputs = {};
    $keys($inputs, ["x"], 'inputs');
    if ($init === undefined || $init === null) $init = {};
    $keys($init, ["a"], 'init');
    const $T = $steps !== undefined ? $size($steps, 'steps') : $size(($own($inputs, "x") ?? []).length / ($B * n_x), "the number of steps (length of inputs.x / (batch × x's size))");
    if ($T > $cap) $room($bytes($T), `steps: ${$T} steps of batch ${$B}`);
    $ensure($T);
    $last = $T;
    const $TB = $T * $B;
    const { $x, $a, $y_hat } = $mem;
    $load($W_aa, $own($params, "W_aa"), "params.W_aa", n_a * n_a);
    $finite($W_aa, "params.W_aa", n_a * n_a);
    $load($W_ax, $own($params, "W_ax"), "params.W_ax", n_a * n_x);
    $finite($W_ax, "params.W_ax", n_a * n_x);
    $load($b_a, $own($params, "b_a"), "params.b_a", n_a);
    $finite($b_a, "params.b_a", n_a);
    $load($W_ya, $own($params, "W_ya"), "params.W_ya", n_y * n_a);
    $finite($W_ya, "params.W_ya", n_y * n_a);
    $load($b_y, $own($params, "b_y"), "params.b_y", n_y);
    $finite($b_y, "params.b_y", n_y);
    $load($x, $own($inputs, "x"), "inputs.x", $TB * n_x);
    if ($own($init, "a") !== undefined) $load($a, $own($init, "a"), "init.a", $B * n_a);
    else $a.fill(0, 0, $B * n_a);
    $forwardStatic();
    $forwardPre($T);
    for (let $t = 0; $t < $T; $t++) $forwardLoop($t);
    $forwardPost($T);
    return { states: { ["a"]: $a.subarray($B * n_a, ($T + 1) * $B * n_a) }, outputs: { ["y_hat"]: $y_hat.subarray(0, $T * $B * n_y) } };
  }

  /** backward: from the parameters (packed weights). */
  function $backwardStatic() {
    // pack_delta_1_proj = W_yaᵀ[0:n_a, 0:n_y] delta_1
    $pack($pack_delta_1_proj, n_y, 0, 0, $W_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_2_proj = W_axᵀ[0:n_x, 0:n_a] delta_2
    $pack($pack_delta_2_proj, n_a, 0, 0, $W_ax, n_x, true, 0, 0, n_x, n_a, 0);
    // pack_delta_2_proj = W_aaᵀ[0:n_a, 0:n_a] delta_2
    $pack($pack_delta_2_proj_2, n_a, 0, 0, $W_aa, n_a, true, 0, 0, n_a, n_a, 0);
  }
  
  /** backward: before the loop, every step at once (T·B rows). */
  function $backwardPre($T) {
    const { $y_hat, $dy_hat, $delta_1_proj, $delta_3, $sum_feat_delta_3, $delta_1 } = $mem;
    const $TB = $T * $B;
    for (let $b = 0; $b < $TB; $b++) {
      const $dy_hat_at = $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // δ₃ = ∂ŷ^⟨t⟩ * ŷ^⟨t⟩
        const delta_3 = $dy_hat[$dy_hat_at + $i] * $y_hat[$dy_hat_at + $i];
        $delta_3[$dy_hat_at + $i] = delta_3;
      }
    }
    // sum_feat_delta_3 = Σ over features
    $sumFeat($TB, n_y, $delta_3, 0, n_y, $sum_feat_delta_3, 0, 1);
    for (let $b = 0; $b < $TB; $b++) {
      const $y_hat_at = $b * n_y, $sum_feat_delta_3_at = $b;
      for (let $i = 0; $i < n_y; $i++) {
        // δ₁ = ŷ^⟨t⟩ * (∂ŷ^⟨t⟩ − Σ_i δ₃)
        const delta_1 = $y_hat[$y_hat_at + $i] * ($dy_hat[$y_hat_at + $i] - $sum_feat_delta_3[$sum_feat_delta_3_at]);
        $delta_1[$y_hat_at + $i] = delta_1;
      }
    }
    // W_yaᵀ[0:n_a, 0:n_y] delta_1 (one product: $TB × n_a, depth n_y)
    $gemm($TB, n_a, n_y, $delta_1, 0, n_y, $pack_delta_1_proj, 0, n_y, $delta_1_proj, 0, n_a, 0);
  }
  
  /** backward: step t+1 back through time (t = T-1 … 0); only the states' cotangents are carried. */
  function $backwardLoop($t) {
    const { $a, $da, $delta_1_proj, $delta_2 } = $mem;
    for (let $b = 0; $b < $B; $b++) {
      const $da_at = ($t + 1) * $B * n_a + $b * n_a, $delta_1_proj_at = $t * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₂ = (∂a^⟨t⟩ + W_yaᵀ · δ₁) * (1 − a^⟨t⟩²)
        const delta_2 = ($da[$da_at + $i] + $delta_1_proj[$delta_1_proj_at + $i]) * (1 - $a[$da_at + $i] * $a[$da_at + $i]);
        $delta_2[$delta_1_proj_at + $i] = delta_2;
      }
    }
    // W_aaᵀ[0:n_a, 0:n_a] delta_2 (one product: $B × n_a, depth n_a)
    $gemm($B, n_a, n_a, $delta_2, $t * $B * n_a, n_a, $pack_delta_2_proj_2, 0, n_a, $da, $t * $B * n_a, n_a, 1);
  }
  
  /** backward: after the loop, every step at once (T·B rows). */
  function $backwardPost($T) {
    const { $x, $a, $dx, $delta_1, $delta_2, $delta_1_T, $a_T, $delta_2_T, $x_T, $a_prev_T } = $mem;
    const $TB = $T * $B;
    $transpose($TB, n_y, $delta_1, 0, n_y, $delta_1_T);
    $transpose($TB, n_a, $a, $B * n_a, n_a, $a_T);
    $transpose($TB, n_a, $delta_2, 0, n_a, $delta_2_T);
    $transpose($TB, n_x, $x, 0, n_x, $x_T);
    $transpose($TB, n_a, $a, 0, n_a, $a_prev_T);
    // W_axᵀ[0:n_x, 0:n_a] delta_2 (one product: $TB × n_x, depth n_a)
    $gemm($TB, n_x, n_a, $delta_2, 0, n_a, $pack_delta_2_proj, 0, n_a, $dx, 0, n_x, 0);
    // db_y: Σ over $TB rows
    $sumRows($TB, n_y, $delta_1, 0, n_y, $db_y, 0, 1);
    // dW_ya: delta_1 ⊗ a: Σ over $TB rows, as a product of transposes
    $gemm(n_y, n_a, $TB, $delta_1_T, 0, $TB, $a_T, 0, $TB, $dW_ya, 0, n_a, 1);
    // db_a: Σ over $TB rows
    $sumRows($TB, n_a, $delta_2, 0, n_a, $db_a, 0, 1);
    // dW_ax: delta_2 ⊗ x: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_x, $TB, $delta_2_T, 0, $TB, $x_T, 0, $TB, $dW_ax, 0, n_x, 1);
    // dW_aa: delta_2 ⊗ a_prev: Σ over $TB rows, as a product of transposes
    $gemm(n_a, n_a, $TB, $delta_2_T, 0, $TB, $a_prev_T, 0, $TB, $dW_aa, 0, n_a, 1);
  }
  
  /** BPTT from step T down to 1 for the last forward: cotangents of states and outputs → gradients. */
  function $backward($cot) {
    if ($last === 0) $fail('backward before forward');
    const $T = $last, $TB = $T * $B;
    const { $da, $dy_hat, $dx } = $mem;
    $keys($cot, ['states', 'outputs'], 'cotangents');
    const $cs = $own($cot, 'states') ?? {}, $co = $own($cot, 'outputs') ?? {};
    $keys($cs, ["a"], 'cotangents.states');
    $keys($co, ["y_hat"], 'cotangents.outputs');
    // Parameter gradients are sums over the batch and over time.
    $dW_aa.fill(0);
    $dW_ax.fill(0);
    $db_a.fill(0);
    $dW_ya.fill(0);
    $db_y.fill(0);
    // A state's cotangent: slot t+1 holds ∂ℒ/∂state^<t+1> as given; step t adds what it carries to slot t.
    if ($own($cs, "a") !== undefined) $load($da.subarray($B * n_a), $own($cs, "a"), "cotangents.states.a", $TB * n_a);
    else $da.fill(0, $B * n_a, $B * n_a + $TB * n_a);
    $da.fill(0, 0, $B * n_a);
    if ($own($co, "y_hat") !== undefined) $load($dy_hat, $own($co, "y_hat"), "cotangents.outputs.y_hat", $TB * n_y);
    else $dy_hat.fill(0, 0, $TB * n_y);
    $backwardStatic();
    $backwardPre($T);
    for (let $t = $T - 1; $t >= 0; $t--) $backwardLoop($t);
    $backwardPost($T);
    return { params: { ["W_aa"]: $dW_aa, ["W_ax"]: $dW_ax, ["b_a"]: $db_a, ["W_ya"]: $dW_ya, ["b_y"]: $db_y }, inputs: { ["x"]: $dx.subarray(0, $TB * n_x) }, init: { ["a"]: $da.subarray(0, $B * n_a) } };
  }

  // One step at a time (a second instance, so the saved trajectory of forward stays intact).
  let $single = null;
  function $step($params, $inputs, $init) {
    if ($single === null) $single = createRNN($dims, $batch);
    return $single.forward($params, $inputs, $init, 1);
  }
  function $stepBackward($cot) {
    if ($single === null) $fail('stepBackward before step');
    return $single.backward($cot);
  }
  return { forward: $forward, backward: $backward, step: $step, stepBackward: $stepBackward, cell: "RNN", precision: "f64", batch: $B };
}

export { createRNN, createRNN as default };
