// celda: the cell `RNN5`, compiled to JavaScript (float64).
// Generated from the cell's graph; do not edit. Standalone: no imports.
// Exports createRNN5(dims, batch) → { forward, backward }.
//
// cell RNN5 {
//   input x : n_x
//   state a : n_a
//   param w_aa : n_a × n_a
//   param w_ax : n_a × n_x
//   param b_a : n_a
//   param w_ya : n_y × n_a
//   param b_y : n_y
//   a^⟨0⟩ = [0 … 0]
//   a^⟨1⟩ = tanh(w_aa a^⟨0⟩ + w_ax x^⟨1⟩ + b_a)
//   a^⟨2⟩ = tanh(w_aa a^⟨1⟩ + w_ax x^⟨2⟩ + b_a)
//   a^⟨3⟩ = tanh(w_aa a^⟨2⟩ + w_ax x^⟨3⟩ + b_a)
//   a^⟨4⟩ = tanh(w_aa a^⟨3⟩ + w_ax x^⟨4⟩ + b_a)
//   a^⟨5⟩ = tanh(w_aa a^⟨4⟩ + w_ax x^⟨5⟩ + b_a)
//   ŷ^⟨1⟩ = σ(w_ya a^⟨1⟩ + b_y)
//   ŷ^⟨3⟩ = σ(w_ya a^⟨3⟩ + b_y)
//   ŷ^⟨5⟩ = σ(w_ya a^⟨5⟩ + b_y)
//   ŷ^⟨2⟩ = σ(w_ya a^⟨2⟩ + b_y)
//   ŷ^⟨4⟩ = σ(w_ya a^⟨4⟩ + b_y)
// }
//
// Backward step (∂v is ∂ℒ/∂v; parameter gradients summed over the batch and time):
// δ₁ = ∂ŷ^⟨4⟩ * (ŷ^⟨4⟩ * (1 − ŷ^⟨4⟩))
// δ₂ = ∂ŷ^⟨2⟩ * (ŷ^⟨2⟩ * (1 − ŷ^⟨2⟩))
// δ₃ = ∂ŷ^⟨5⟩ * (ŷ^⟨5⟩ * (1 − ŷ^⟨5⟩))
// δ₄ = ∂ŷ^⟨3⟩ * (ŷ^⟨3⟩ * (1 − ŷ^⟨3⟩))
// δ₅ = ∂ŷ^⟨1⟩ * (ŷ^⟨1⟩ * (1 − ŷ^⟨1⟩))
// δ₆ = (∂a^⟨5⟩ + w_yaᵀ · δ₃) * (1 − a^⟨5⟩²)
// δ₇ = (∂a^⟨4⟩ + w_yaᵀ · δ₁ + w_aaᵀ · δ₆) * (1 − a^⟨4⟩²)
// δ₈ = (∂a^⟨3⟩ + w_yaᵀ · δ₄ + w_aaᵀ · δ₇) * (1 − a^⟨3⟩²)
// δ₉ = (∂a^⟨2⟩ + w_yaᵀ · δ₂ + w_aaᵀ · δ₈) * (1 − a^⟨2⟩²)
// δ₁₀ = (∂a^⟨1⟩ + w_yaᵀ · δ₅ + w_aaᵀ · δ₉) * (1 − a^⟨1⟩²)
// ∂w_aa = Σ_batch δ₆ · a^⟨4⟩ᵀ + Σ_batch δ₇ · a^⟨3⟩ᵀ + Σ_batch δ₈ · a^⟨2⟩ᵀ + Σ_batch δ₉ · a^⟨1⟩ᵀ + Σ_batch δ₁₀ · a^⟨0⟩ᵀ
// ∂w_ax = Σ_batch δ₆ · x^⟨5⟩ᵀ + Σ_batch δ₇ · x^⟨4⟩ᵀ + Σ_batch δ₈ · x^⟨3⟩ᵀ + Σ_batch δ₉ · x^⟨2⟩ᵀ + Σ_batch δ₁₀ · x^⟨1⟩ᵀ
// ∂b_a = Σ_batch δ₆ + Σ_batch δ₇ + Σ_batch δ₈ + Σ_batch δ₉ + Σ_batch δ₁₀
// ∂w_ya = Σ_batch δ₁ · a^⟨4⟩ᵀ + Σ_batch δ₂ · a^⟨2⟩ᵀ + Σ_batch δ₃ · a^⟨5⟩ᵀ + Σ_batch δ₄ · a^⟨3⟩ᵀ + Σ_batch δ₅ · a^⟨1⟩ᵀ
// ∂b_y = Σ_batch δ₁ + Σ_batch δ₂ + Σ_batch δ₃ + Σ_batch δ₄ + Σ_batch δ₅
// ∂x^⟨1⟩ = w_axᵀ · δ₁₀
// ∂x^⟨2⟩ = w_axᵀ · δ₉
// ∂x^⟨3⟩ = w_axᵀ · δ₈
// ∂x^⟨4⟩ = w_axᵀ · δ₇
// ∂x^⟨5⟩ = w_axᵀ · δ₆
// ∂a^⟨0⟩ = w_aaᵀ · δ₁₀

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

/** C[i·ldc + j] += Σ_r U[r·ldu + i] · V[r·ldv + j] for a few rows r: rank-one updates. */
function $outer(R, m, n, U, uOff, ldu, V, vOff, ldv, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const u = uOff + r * ldu, v = vOff + r * ldv;
    for (let i = 0; i < m; i++) {
      const a = U[u + i];
      const c = cOff + i * ldc;
      for (let j = 0; j < n; j++) C[c + j] += a * V[v + j];
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
 * An instance of RNN5 for the given dimensions and batch size. Buffers are
 * allocated here and grown with T; nothing is allocated inside the time loop.
 */
function createRNN5($dims, $batch) {
  $keys($dims, ["n_x", "n_a", "n_y"], 'dims');
  const n_x = $size($own($dims, "n_x"), "dims.n_x");
  const n_a = $size($own($dims, "n_a"), "dims.n_a");
  const n_y = $size($own($dims, "n_y"), "dims.n_y");
  const $B = $size($batch, 'batch');

  // The bytes an instance needs for T steps: checked before allocating.
  const $bytes = ($T) => 8 * (n_a * n_a + n_a * n_x + n_a + n_y * n_a + n_y + $B * n_a + $B * n_a + $B * (n_a + n_y) + $B * n_a + $B * (n_a + n_y) + $B * n_a + $B * (n_a + n_y) + $B * n_a + $B * (n_a + n_y) + $B * n_a + $B * n_y + n_a * n_a + n_a * n_x + (n_a + n_y) * n_a + n_a * n_x + (n_a + n_y) * n_a + n_a * n_x + (n_a + n_y) * n_a + n_a * n_x + (n_a + n_y) * n_a + n_a * n_x + n_y * n_a + n_a * n_a + n_a * n_x + n_a + n_y * n_a + n_y + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * (n_a + n_x) + $B * (n_a + n_x) + $B * (n_a + n_x) + $B * (n_a + n_x) + $B * (n_a + n_x) + $B * n_y + $B * n_a + $B * n_y + $B * n_a + $B * n_y + $B * n_y + $B * n_a + $B * n_y + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + $B * n_a + n_a * n_y + n_a * n_y + n_a * n_y + n_a * n_y + n_a * n_y + (n_a + n_x) * n_a + (n_a + n_x) * n_a + (n_a + n_x) * n_a + (n_a + n_x) * n_a + (n_a + n_x) * n_a + $T * $B * n_x + ($T + 1) * $B * n_a + $T * $B * n_y + ($T + 1) * $B * n_a + $T * $B * n_y + $T * $B * n_x);
  $room($bytes(1), `batch and dims: batch ${$B} with dims ${JSON.stringify($dims)}`);
  // Buffers of a fixed size: parameters, packed weights, gradients, values of one step.
  const $w_aa = new $F(n_a * n_a);
  const $w_ax = new $F(n_a * n_x);
  const $b_a = new $F(n_a);
  const $w_ya = new $F(n_y * n_a);
  const $b_y = new $F(n_y);
  const $a_0_proj = new $F($B * n_a);
  const $x_1_proj = new $F($B * n_a);
  const $a_1_proj = new $F($B * (n_a + n_y));
  const $x_2_proj = new $F($B * n_a);
  const $a_2_proj = new $F($B * (n_a + n_y));
  const $x_3_proj = new $F($B * n_a);
  const $a_3_proj = new $F($B * (n_a + n_y));
  const $x_4_proj = new $F($B * n_a);
  const $a_4_proj = new $F($B * (n_a + n_y));
  const $x_5_proj = new $F($B * n_a);
  const $a_5_proj = new $F($B * n_y);
  const $pack_a_0_proj = new $F(n_a * n_a);
  const $pack_x_1_proj = new $F(n_a * n_x);
  const $pack_a_1_proj = new $F((n_a + n_y) * n_a);
  const $pack_x_2_proj = new $F(n_a * n_x);
  const $pack_a_2_proj = new $F((n_a + n_y) * n_a);
  const $pack_x_3_proj = new $F(n_a * n_x);
  const $pack_a_3_proj = new $F((n_a + n_y) * n_a);
  const $pack_x_4_proj = new $F(n_a * n_x);
  const $pack_a_4_proj = new $F((n_a + n_y) * n_a);
  const $pack_x_5_proj = new $F(n_a * n_x);
  const $pack_a_5_proj = new $F(n_y * n_a);
  const $dw_aa = new $F(n_a * n_a);
  const $dw_ax = new $F(n_a * n_x);
  const $db_a = new $F(n_a);
  const $dw_ya = new $F(n_y * n_a);
  const $db_y = new $F(n_y);
  const $delta_1_proj = new $F($B * n_a);
  const $delta_2_proj = new $F($B * n_a);
  const $delta_3_proj = new $F($B * n_a);
  const $delta_4_proj = new $F($B * n_a);
  const $delta_5_proj = new $F($B * n_a);
  const $delta_6_proj = new $F($B * (n_a + n_x));
  const $delta_7_proj = new $F($B * (n_a + n_x));
  const $delta_8_proj = new $F($B * (n_a + n_x));
  const $delta_9_proj = new $F($B * (n_a + n_x));
  const $delta_10_proj = new $F($B * (n_a + n_x));
  const $delta_1 = new $F($B * n_y);
  const $delta_11 = new $F($B * n_a);
  const $delta_2 = new $F($B * n_y);
  const $delta_12 = new $F($B * n_a);
  const $delta_3 = new $F($B * n_y);
  const $delta_4 = new $F($B * n_y);
  const $delta_13 = new $F($B * n_a);
  const $delta_5 = new $F($B * n_y);
  const $delta_14 = new $F($B * n_a);
  const $delta_15 = new $F($B * n_a);
  const $delta_6 = new $F($B * n_a);
  const $delta_16 = new $F($B * n_a);
  const $delta_7 = new $F($B * n_a);
  const $delta_17 = new $F($B * n_a);
  const $delta_8 = new $F($B * n_a);
  const $delta_18 = new $F($B * n_a);
  const $delta_9 = new $F($B * n_a);
  const $delta_19 = new $F($B * n_a);
  const $delta_10 = new $F($B * n_a);
  const $pack_delta_1_proj = new $F(n_a * n_y);
  const $pack_delta_2_proj = new $F(n_a * n_y);
  const $pack_delta_3_proj = new $F(n_a * n_y);
  const $pack_delta_4_proj = new $F(n_a * n_y);
  const $pack_delta_5_proj = new $F(n_a * n_y);
  const $pack_delta_6_proj = new $F((n_a + n_x) * n_a);
  const $pack_delta_7_proj = new $F((n_a + n_x) * n_a);
  const $pack_delta_8_proj = new $F((n_a + n_x) * n_a);
  const $pack_delta_9_proj = new $F((n_a + n_x) * n_a);
  const $pack_delta_10_proj = new $F((n_a + n_x) * n_a);

  // Buffers of T·B rows (states: (T+1)·B, slot 0 the initial state), grown to the longest T seen.
  let $cap = 0, $last = 0;
  const $mem = { $x: new $F(0), $a: new $F(0), $y_hat: new $F(0), $da: new $F(0), $dy_hat: new $F(0), $dx: new $F(0) };
  function $ensure($T) {
    if ($T <= $cap) return;
    $cap = $T;
    $mem.$x = new $F($T * $B * n_x);
    $mem.$a = new $F(($T + 1) * $B * n_a);
    $mem.$y_hat = new $F($T * $B * n_y);
    $mem.$da = new $F(($T + 1) * $B * n_a);
    $mem.$dy_hat = new $F($T * $B * n_y);
    $mem.$dx = new $F($T * $B * n_x);
  }

  /** forward: from the parameters (packed weights). */
  function $forwardStatic() {
    // pack_a_0_proj = w_aa[0:n_a, 0:n_a] a_0
    $pack($pack_a_0_proj, n_a, 0, 0, $w_aa, n_a, false, 0, 0, n_a, n_a, 0);
    // pack_x_1_proj = w_ax[0:n_a, 0:n_x] x_1
    $pack($pack_x_1_proj, n_x, 0, 0, $w_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_1_proj = w_aa[0:n_a, 0:n_a] a_1, w_ya[0:n_y, 0:n_a] a_1
    $pack($pack_a_1_proj, n_a, 0, 0, $w_aa, n_a, false, 0, 0, n_a, n_a, 0);
    $pack($pack_a_1_proj, n_a, n_a, 0, $w_ya, n_a, false, 0, 0, n_y, n_a, 0);
    // pack_x_2_proj = w_ax[0:n_a, 0:n_x] x_2
    $pack($pack_x_2_proj, n_x, 0, 0, $w_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_2_proj = w_aa[0:n_a, 0:n_a] a_2, w_ya[0:n_y, 0:n_a] a_2
    $pack($pack_a_2_proj, n_a, 0, 0, $w_aa, n_a, false, 0, 0, n_a, n_a, 0);
    $pack($pack_a_2_proj, n_a, n_a, 0, $w_ya, n_a, false, 0, 0, n_y, n_a, 0);
    // pack_x_3_proj = w_ax[0:n_a, 0:n_x] x_3
    $pack($pack_x_3_proj, n_x, 0, 0, $w_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_3_proj = w_aa[0:n_a, 0:n_a] a_3, w_ya[0:n_y, 0:n_a] a_3
    $pack($pack_a_3_proj, n_a, 0, 0, $w_aa, n_a, false, 0, 0, n_a, n_a, 0);
    $pack($pack_a_3_proj, n_a, n_a, 0, $w_ya, n_a, false, 0, 0, n_y, n_a, 0);
    // pack_x_4_proj = w_ax[0:n_a, 0:n_x] x_4
    $pack($pack_x_4_proj, n_x, 0, 0, $w_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_4_proj = w_aa[0:n_a, 0:n_a] a_4, w_ya[0:n_y, 0:n_a] a_4
    $pack($pack_a_4_proj, n_a, 0, 0, $w_aa, n_a, false, 0, 0, n_a, n_a, 0);
    $pack($pack_a_4_proj, n_a, n_a, 0, $w_ya, n_a, false, 0, 0, n_y, n_a, 0);
    // pack_x_5_proj = w_ax[0:n_a, 0:n_x] x_5
    $pack($pack_x_5_proj, n_x, 0, 0, $w_ax, n_x, false, 0, 0, n_a, n_x, 0);
    // pack_a_5_proj = w_ya[0:n_y, 0:n_a] a_5
    $pack($pack_a_5_proj, n_a, 0, 0, $w_ya, n_a, false, 0, 0, n_y, n_a, 0);
  }
  
  /** forward: the 5 unrolled steps, at once. */
  function $forwardLoop() {
    const { $x, $a, $y_hat } = $mem;
    const $t = 0;
    // w_aa[0:n_a, 0:n_a] a_0 (one product: $B × n_a, depth n_a)
    $gemm($B, n_a, n_a, $a, 0, n_a, $pack_a_0_proj, 0, n_a, $a_0_proj, 0, n_a, 0);
    // w_ax[0:n_a, 0:n_x] x_1 (one product: $B × n_a, depth n_x)
    $gemm($B, n_a, n_x, $x, 0, n_x, $pack_x_1_proj, 0, n_x, $x_1_proj, 0, n_a, 0);
    // w_ax[0:n_a, 0:n_x] x_2 (one product: $B × n_a, depth n_x)
    $gemm($B, n_a, n_x, $x, $B * n_x, n_x, $pack_x_2_proj, 0, n_x, $x_2_proj, 0, n_a, 0);
    // w_ax[0:n_a, 0:n_x] x_3 (one product: $B × n_a, depth n_x)
    $gemm($B, n_a, n_x, $x, 2 * $B * n_x, n_x, $pack_x_3_proj, 0, n_x, $x_3_proj, 0, n_a, 0);
    // w_ax[0:n_a, 0:n_x] x_4 (one product: $B × n_a, depth n_x)
    $gemm($B, n_a, n_x, $x, 3 * $B * n_x, n_x, $pack_x_4_proj, 0, n_x, $x_4_proj, 0, n_a, 0);
    // w_ax[0:n_a, 0:n_x] x_5 (one product: $B × n_a, depth n_x)
    $gemm($B, n_a, n_x, $x, 4 * $B * n_x, n_x, $pack_x_5_proj, 0, n_x, $x_5_proj, 0, n_a, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_0_proj_at = $b * n_a, $a_at = $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨1⟩ = tanh(w_aa a^⟨0⟩ + w_ax x^⟨1⟩ + b_a)
        const a_1 = $tanh($a_0_proj[$a_0_proj_at + $i] + $x_1_proj[$a_0_proj_at + $i] + $b_a[$i]);
        $a[$a_at + $i] = a_1;
      }
    }
    // w_aa[0:n_a, 0:n_a] a_1, w_ya[0:n_y, 0:n_a] a_1 (one product: $B × (n_a + n_y), depth n_a)
    $gemm($B, (n_a + n_y), n_a, $a, $B * n_a, n_a, $pack_a_1_proj, 0, n_a, $a_1_proj, 0, (n_a + n_y), 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_1_proj_at = $b * (n_a + n_y), $x_2_proj_at = $b * n_a, $a_at_2 = 2 * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨2⟩ = tanh(w_aa a^⟨1⟩ + w_ax x^⟨2⟩ + b_a)
        const a_2 = $tanh($a_1_proj[$a_1_proj_at + $i] + $x_2_proj[$x_2_proj_at + $i] + $b_a[$i]);
        $a[$a_at_2 + $i] = a_2;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $a_1_proj_at_2 = $b * (n_a + n_y) + n_a, $y_hat_at = $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // ŷ^⟨1⟩ = σ(w_ya a^⟨1⟩ + b_y)
        const y_hat_1 = $sigmoid($a_1_proj[$a_1_proj_at_2 + $i] + $b_y[$i]);
        $y_hat[$y_hat_at + $i] = y_hat_1;
      }
    }
    // w_aa[0:n_a, 0:n_a] a_2, w_ya[0:n_y, 0:n_a] a_2 (one product: $B × (n_a + n_y), depth n_a)
    $gemm($B, (n_a + n_y), n_a, $a, 2 * $B * n_a, n_a, $pack_a_2_proj, 0, n_a, $a_2_proj, 0, (n_a + n_y), 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_2_proj_at = $b * (n_a + n_y), $x_3_proj_at = $b * n_a, $a_at_3 = 3 * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨3⟩ = tanh(w_aa a^⟨2⟩ + w_ax x^⟨3⟩ + b_a)
        const a_3 = $tanh($a_2_proj[$a_2_proj_at + $i] + $x_3_proj[$x_3_proj_at + $i] + $b_a[$i]);
        $a[$a_at_3 + $i] = a_3;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $a_2_proj_at_2 = $b * (n_a + n_y) + n_a, $y_hat_at_2 = $B * n_y + $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // ŷ^⟨2⟩ = σ(w_ya a^⟨2⟩ + b_y)
        const y_hat_2 = $sigmoid($a_2_proj[$a_2_proj_at_2 + $i] + $b_y[$i]);
        $y_hat[$y_hat_at_2 + $i] = y_hat_2;
      }
    }
    // w_aa[0:n_a, 0:n_a] a_3, w_ya[0:n_y, 0:n_a] a_3 (one product: $B × (n_a + n_y), depth n_a)
    $gemm($B, (n_a + n_y), n_a, $a, 3 * $B * n_a, n_a, $pack_a_3_proj, 0, n_a, $a_3_proj, 0, (n_a + n_y), 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_3_proj_at = $b * (n_a + n_y), $x_4_proj_at = $b * n_a, $a_at_4 = 4 * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨4⟩ = tanh(w_aa a^⟨3⟩ + w_ax x^⟨4⟩ + b_a)
        const a_4 = $tanh($a_3_proj[$a_3_proj_at + $i] + $x_4_proj[$x_4_proj_at + $i] + $b_a[$i]);
        $a[$a_at_4 + $i] = a_4;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $a_3_proj_at_2 = $b * (n_a + n_y) + n_a, $y_hat_at_3 = 2 * $B * n_y + $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // ŷ^⟨3⟩ = σ(w_ya a^⟨3⟩ + b_y)
        const y_hat_3 = $sigmoid($a_3_proj[$a_3_proj_at_2 + $i] + $b_y[$i]);
        $y_hat[$y_hat_at_3 + $i] = y_hat_3;
      }
    }
    // w_aa[0:n_a, 0:n_a] a_4, w_ya[0:n_y, 0:n_a] a_4 (one product: $B × (n_a + n_y), depth n_a)
    $gemm($B, (n_a + n_y), n_a, $a, 4 * $B * n_a, n_a, $pack_a_4_proj, 0, n_a, $a_4_proj, 0, (n_a + n_y), 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_4_proj_at = $b * (n_a + n_y), $x_5_proj_at = $b * n_a, $a_at_5 = 5 * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // a^⟨5⟩ = tanh(w_aa a^⟨4⟩ + w_ax x^⟨5⟩ + b_a)
        const a_5 = $tanh($a_4_proj[$a_4_proj_at + $i] + $x_5_proj[$x_5_proj_at + $i] + $b_a[$i]);
        $a[$a_at_5 + $i] = a_5;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $a_4_proj_at_2 = $b * (n_a + n_y) + n_a, $y_hat_at_4 = 3 * $B * n_y + $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // ŷ^⟨4⟩ = σ(w_ya a^⟨4⟩ + b_y)
        const y_hat_4 = $sigmoid($a_4_proj[$a_4_proj_at_2 + $i] + $b_y[$i]);
        $y_hat[$y_hat_at_4 + $i] = y_hat_4;
      }
    }
    // w_ya[0:n_y, 0:n_a] a_5 (one product: $B × n_y, depth n_a)
    $gemm($B, n_y, n_a, $a, 5 * $B * n_a, n_a, $pack_a_5_proj, 0, n_a, $a_5_proj, 0, n_y, 0);
    for (let $b = 0; $b < $B; $b++) {
      const $a_5_proj_at = $b * n_y, $y_hat_at_5 = 4 * $B * n_y + $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // ŷ^⟨5⟩ = σ(w_ya a^⟨5⟩ + b_y)
        const y_hat_5 = $sigmoid($a_5_proj[$a_5_proj_at + $i] + $b_y[$i]);
        $y_hat[$y_hat_at_5 + $i] = y_hat_5;
      }
    }
  }
  
  /** Run T steps from the initial states (default: each state's declared constant), saving what backward needs. */
  function $forward($params, $inputs, $init, $steps) {
    $keys($params, ["w_aa", "w_ax", "b_a", "w_ya", "b_y"], 'params');
    if ($inputs === undefined || $inputs === null) $inputs = {};
    $keys($inputs, ["x"], 'inputs');
    if ($init === undefined || $init === null) $init = {};
    $keys($init, ["a"], 'init');
    const $T = $steps !== undefined ? $size($steps, 'steps') : $size(($own($inputs, "x") ?? []).length / ($B * n_x), "the number of steps (length of inputs.x / (batch × x's size))");
    if ($T !== 5) $fail("RNN5 is unrolled over 5 steps");
    if ($T > $cap) $room($bytes($T), `steps: ${$T} steps of batch ${$B}`);
    $ensure($T);
    $last = $T;
    const $TB = $T * $B;
    const { $x, $a, $y_hat } = $mem;
    $load($w_aa, $own($params, "w_aa"), "params.w_aa", n_a * n_a);
    $finite($w_aa, "params.w_aa", n_a * n_a);
    $load($w_ax, $own($params, "w_ax"), "params.w_ax", n_a * n_x);
    $finite($w_ax, "params.w_ax", n_a * n_x);
    $load($b_a, $own($params, "b_a"), "params.b_a", n_a);
    $finite($b_a, "params.b_a", n_a);
    $load($w_ya, $own($params, "w_ya"), "params.w_ya", n_y * n_a);
    $finite($w_ya, "params.w_ya", n_y * n_a);
    $load($b_y, $own($params, "b_y"), "params.b_y", n_y);
    $finite($b_y, "params.b_y", n_y);
    $load($x, $own($inputs, "x"), "inputs.x", $TB * n_x);
    if ($own($init, "a") !== undefined) $load($a, $own($init, "a"), "init.a", $B * n_a);
    else $a.fill(0, 0, $B * n_a);
    $forwardStatic();
    $forwardLoop();
    return { states: { ["a"]: $a.subarray($B * n_a, ($T + 1) * $B * n_a) }, outputs: { ["y_hat"]: $y_hat.subarray(0, $T * $B * n_y) } };
  }

  /** backward: from the parameters (packed weights). */
  function $backwardStatic() {
    // pack_delta_1_proj = w_yaᵀ[0:n_a, 0:n_y] delta_1
    $pack($pack_delta_1_proj, n_y, 0, 0, $w_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_2_proj = w_yaᵀ[0:n_a, 0:n_y] delta_2
    $pack($pack_delta_2_proj, n_y, 0, 0, $w_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_3_proj = w_yaᵀ[0:n_a, 0:n_y] delta_3
    $pack($pack_delta_3_proj, n_y, 0, 0, $w_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_4_proj = w_yaᵀ[0:n_a, 0:n_y] delta_4
    $pack($pack_delta_4_proj, n_y, 0, 0, $w_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_5_proj = w_yaᵀ[0:n_a, 0:n_y] delta_5
    $pack($pack_delta_5_proj, n_y, 0, 0, $w_ya, n_a, true, 0, 0, n_a, n_y, 0);
    // pack_delta_6_proj = w_axᵀ[0:n_x, 0:n_a] delta_6, w_aaᵀ[0:n_a, 0:n_a] delta_6
    $pack($pack_delta_6_proj, n_a, 0, 0, $w_ax, n_x, true, 0, 0, n_x, n_a, 0);
    $pack($pack_delta_6_proj, n_a, n_x, 0, $w_aa, n_a, true, 0, 0, n_a, n_a, 0);
    // pack_delta_7_proj = w_axᵀ[0:n_x, 0:n_a] delta_7, w_aaᵀ[0:n_a, 0:n_a] delta_7
    $pack($pack_delta_7_proj, n_a, 0, 0, $w_ax, n_x, true, 0, 0, n_x, n_a, 0);
    $pack($pack_delta_7_proj, n_a, n_x, 0, $w_aa, n_a, true, 0, 0, n_a, n_a, 0);
    // pack_delta_8_proj = w_axᵀ[0:n_x, 0:n_a] delta_8, w_aaᵀ[0:n_a, 0:n_a] delta_8
    $pack($pack_delta_8_proj, n_a, 0, 0, $w_ax, n_x, true, 0, 0, n_x, n_a, 0);
    $pack($pack_delta_8_proj, n_a, n_x, 0, $w_aa, n_a, true, 0, 0, n_a, n_a, 0);
    // pack_delta_9_proj = w_axᵀ[0:n_x, 0:n_a] delta_9, w_aaᵀ[0:n_a, 0:n_a] delta_9
    $pack($pack_delta_9_proj, n_a, 0, 0, $w_ax, n_x, true, 0, 0, n_x, n_a, 0);
    $pack($pack_delta_9_proj, n_a, n_x, 0, $w_aa, n_a, true, 0, 0, n_a, n_a, 0);
    // pack_delta_10_proj = w_axᵀ[0:n_x, 0:n_a] delta_10, w_aaᵀ[0:n_a, 0:n_a] delta_10
    $pack($pack_delta_10_proj, n_a, 0, 0, $w_ax, n_x, true, 0, 0, n_x, n_a, 0);
    $pack($pack_delta_10_proj, n_a, n_x, 0, $w_aa, n_a, true, 0, 0, n_a, n_a, 0);
  }
  
  /** backward: the 5 unrolled steps, at once. */
  function $backwardLoop() {
    const { $x, $a, $y_hat, $da, $dy_hat, $dx } = $mem;
    const $t = 0;
    for (let $b = 0; $b < $B; $b++) {
      const $dy_hat_at = 3 * $B * n_y + $b * n_y, $delta_1_at = $b * n_y, $dy_hat_at_2 = $B * n_y + $b * n_y, $dy_hat_at_3 = 4 * $B * n_y + $b * n_y, $dy_hat_at_4 = 2 * $B * n_y + $b * n_y;
      for (let $i = 0; $i < n_y; $i++) {
        // δ₁ = ∂ŷ^⟨4⟩ * (ŷ^⟨4⟩ * (1 − ŷ^⟨4⟩))
        const delta_1 = $dy_hat[$dy_hat_at + $i] * ($y_hat[$dy_hat_at + $i] * (1 - $y_hat[$dy_hat_at + $i]));
        $delta_1[$delta_1_at + $i] = delta_1;
        // δ₂ = ∂ŷ^⟨2⟩ * (ŷ^⟨2⟩ * (1 − ŷ^⟨2⟩))
        const delta_2 = $dy_hat[$dy_hat_at_2 + $i] * ($y_hat[$dy_hat_at_2 + $i] * (1 - $y_hat[$dy_hat_at_2 + $i]));
        $delta_2[$delta_1_at + $i] = delta_2;
        // δ₃ = ∂ŷ^⟨5⟩ * (ŷ^⟨5⟩ * (1 − ŷ^⟨5⟩))
        const delta_3 = $dy_hat[$dy_hat_at_3 + $i] * ($y_hat[$dy_hat_at_3 + $i] * (1 - $y_hat[$dy_hat_at_3 + $i]));
        $delta_3[$delta_1_at + $i] = delta_3;
        // δ₄ = ∂ŷ^⟨3⟩ * (ŷ^⟨3⟩ * (1 − ŷ^⟨3⟩))
        const delta_4 = $dy_hat[$dy_hat_at_4 + $i] * ($y_hat[$dy_hat_at_4 + $i] * (1 - $y_hat[$dy_hat_at_4 + $i]));
        $delta_4[$delta_1_at + $i] = delta_4;
        // δ₅ = ∂ŷ^⟨1⟩ * (ŷ^⟨1⟩ * (1 − ŷ^⟨1⟩))
        const delta_5 = $dy_hat[$delta_1_at + $i] * ($y_hat[$delta_1_at + $i] * (1 - $y_hat[$delta_1_at + $i]));
        $delta_5[$delta_1_at + $i] = delta_5;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $a_at_6 = 5 * $B * n_a + $b * n_a, $delta_15_at = $b * n_a, $a_at_7 = 4 * $B * n_a + $b * n_a, $a_at_8 = 3 * $B * n_a + $b * n_a, $a_at_9 = 2 * $B * n_a + $b * n_a, $a_at_10 = $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₁₅ = 1 − a^⟨5⟩²
        const delta_15 = 1 - $a[$a_at_6 + $i] * $a[$a_at_6 + $i];
        $delta_15[$delta_15_at + $i] = delta_15;
        // δ₁₆ = 1 − a^⟨4⟩²
        const delta_16 = 1 - $a[$a_at_7 + $i] * $a[$a_at_7 + $i];
        $delta_16[$delta_15_at + $i] = delta_16;
        // δ₁₇ = 1 − a^⟨3⟩²
        const delta_17 = 1 - $a[$a_at_8 + $i] * $a[$a_at_8 + $i];
        $delta_17[$delta_15_at + $i] = delta_17;
        // δ₁₈ = 1 − a^⟨2⟩²
        const delta_18 = 1 - $a[$a_at_9 + $i] * $a[$a_at_9 + $i];
        $delta_18[$delta_15_at + $i] = delta_18;
        // δ₁₉ = 1 − a^⟨1⟩²
        const delta_19 = 1 - $a[$a_at_10 + $i] * $a[$a_at_10 + $i];
        $delta_19[$delta_15_at + $i] = delta_19;
      }
    }
    // w_yaᵀ[0:n_a, 0:n_y] delta_1 (one product: $B × n_a, depth n_y)
    $gemm($B, n_a, n_y, $delta_1, 0, n_y, $pack_delta_1_proj, 0, n_y, $delta_1_proj, 0, n_a, 0);
    // w_yaᵀ[0:n_a, 0:n_y] delta_2 (one product: $B × n_a, depth n_y)
    $gemm($B, n_a, n_y, $delta_2, 0, n_y, $pack_delta_2_proj, 0, n_y, $delta_2_proj, 0, n_a, 0);
    // w_yaᵀ[0:n_a, 0:n_y] delta_3 (one product: $B × n_a, depth n_y)
    $gemm($B, n_a, n_y, $delta_3, 0, n_y, $pack_delta_3_proj, 0, n_y, $delta_3_proj, 0, n_a, 0);
    // w_yaᵀ[0:n_a, 0:n_y] delta_4 (one product: $B × n_a, depth n_y)
    $gemm($B, n_a, n_y, $delta_4, 0, n_y, $pack_delta_4_proj, 0, n_y, $delta_4_proj, 0, n_a, 0);
    // w_yaᵀ[0:n_a, 0:n_y] delta_5 (one product: $B × n_a, depth n_y)
    $gemm($B, n_a, n_y, $delta_5, 0, n_y, $pack_delta_5_proj, 0, n_y, $delta_5_proj, 0, n_a, 0);
    // sum_batch_delta_1: Σ over $B rows
    $sumRows($B, n_y, $delta_1, 0, n_y, $db_y, 0, 1);
    // delta_20: delta_1 ⊗ a_4
    $outer($B, n_y, n_a, $delta_1, 0, n_y, $a, 4 * $B * n_a, n_a, $dw_ya, 0, n_a);
    // sum_batch_delta_2: Σ over $B rows
    $sumRows($B, n_y, $delta_2, 0, n_y, $db_y, 0, 1);
    // delta_21: delta_2 ⊗ a_2
    $outer($B, n_y, n_a, $delta_2, 0, n_y, $a, 2 * $B * n_a, n_a, $dw_ya, 0, n_a);
    // sum_batch_delta_3: Σ over $B rows
    $sumRows($B, n_y, $delta_3, 0, n_y, $db_y, 0, 1);
    // delta_22: delta_3 ⊗ a_5
    $outer($B, n_y, n_a, $delta_3, 0, n_y, $a, 5 * $B * n_a, n_a, $dw_ya, 0, n_a);
    // sum_batch_delta_4: Σ over $B rows
    $sumRows($B, n_y, $delta_4, 0, n_y, $db_y, 0, 1);
    // delta_23: delta_4 ⊗ a_3
    $outer($B, n_y, n_a, $delta_4, 0, n_y, $a, 3 * $B * n_a, n_a, $dw_ya, 0, n_a);
    // sum_batch_delta_5: Σ over $B rows
    $sumRows($B, n_y, $delta_5, 0, n_y, $db_y, 0, 1);
    // delta_24: delta_5 ⊗ a_1
    $outer($B, n_y, n_a, $delta_5, 0, n_y, $a, $B * n_a, n_a, $dw_ya, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $da_at = 4 * $B * n_a + $b * n_a, $delta_1_proj_at = $b * n_a, $da_at_2 = 2 * $B * n_a + $b * n_a, $da_at_3 = 3 * $B * n_a + $b * n_a, $da_at_4 = $B * n_a + $b * n_a, $da_at_5 = 5 * $B * n_a + $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₁₁ = ∂a^⟨4⟩ + w_yaᵀ · δ₁
        const delta_11 = $da[$da_at + $i] + $delta_1_proj[$delta_1_proj_at + $i];
        $delta_11[$delta_1_proj_at + $i] = delta_11;
        // δ₁₂ = ∂a^⟨2⟩ + w_yaᵀ · δ₂
        const delta_12 = $da[$da_at_2 + $i] + $delta_2_proj[$delta_1_proj_at + $i];
        $delta_12[$delta_1_proj_at + $i] = delta_12;
        // δ₁₃ = ∂a^⟨3⟩ + w_yaᵀ · δ₄
        const delta_13 = $da[$da_at_3 + $i] + $delta_4_proj[$delta_1_proj_at + $i];
        $delta_13[$delta_1_proj_at + $i] = delta_13;
        // δ₁₄ = ∂a^⟨1⟩ + w_yaᵀ · δ₅
        const delta_14 = $da[$da_at_4 + $i] + $delta_5_proj[$delta_1_proj_at + $i];
        $delta_14[$delta_1_proj_at + $i] = delta_14;
        // δ₆ = (∂a^⟨5⟩ + w_yaᵀ · δ₃) * δ₁₅
        const delta_6 = ($da[$da_at_5 + $i] + $delta_3_proj[$delta_1_proj_at + $i]) * $delta_15[$delta_1_proj_at + $i];
        $delta_6[$delta_1_proj_at + $i] = delta_6;
      }
    }
    // w_axᵀ[0:n_x, 0:n_a] delta_6, w_aaᵀ[0:n_a, 0:n_a] delta_6 (one product: $B × (n_a + n_x), depth n_a)
    $gemm($B, (n_a + n_x), n_a, $delta_6, 0, n_a, $pack_delta_6_proj, 0, n_a, $delta_6_proj, 0, (n_a + n_x), 0);
    // sum_batch_delta_6: Σ over $B rows
    $sumRows($B, n_a, $delta_6, 0, n_a, $db_a, 0, 1);
    // delta_25: delta_6 ⊗ x_5
    $outer($B, n_a, n_x, $delta_6, 0, n_a, $x, 4 * $B * n_x, n_x, $dw_ax, 0, n_x);
    // delta_26: delta_6 ⊗ a_4
    $outer($B, n_a, n_a, $delta_6, 0, n_a, $a, 4 * $B * n_a, n_a, $dw_aa, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_6_proj_at = $b * (n_a + n_x), $dx_at = 4 * $B * n_x + $b * n_x;
      for (let $i = 0; $i < n_x; $i++) {
        // ∂x^⟨5⟩ = w_axᵀ · δ₆
        const dx_5 = $delta_6_proj[$delta_6_proj_at + $i];
        $dx[$dx_at + $i] = dx_5;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $delta_11_at = $b * n_a, $delta_6_proj_at_2 = $b * (n_a + n_x) + n_x;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₇ = (δ₁₁ + w_aaᵀ · δ₆) * δ₁₆
        const delta_7 = ($delta_11[$delta_11_at + $i] + $delta_6_proj[$delta_6_proj_at_2 + $i]) * $delta_16[$delta_11_at + $i];
        $delta_7[$delta_11_at + $i] = delta_7;
      }
    }
    // w_axᵀ[0:n_x, 0:n_a] delta_7, w_aaᵀ[0:n_a, 0:n_a] delta_7 (one product: $B × (n_a + n_x), depth n_a)
    $gemm($B, (n_a + n_x), n_a, $delta_7, 0, n_a, $pack_delta_7_proj, 0, n_a, $delta_7_proj, 0, (n_a + n_x), 0);
    // sum_batch_delta_7: Σ over $B rows
    $sumRows($B, n_a, $delta_7, 0, n_a, $db_a, 0, 1);
    // delta_27: delta_7 ⊗ x_4
    $outer($B, n_a, n_x, $delta_7, 0, n_a, $x, 3 * $B * n_x, n_x, $dw_ax, 0, n_x);
    // delta_28: delta_7 ⊗ a_3
    $outer($B, n_a, n_a, $delta_7, 0, n_a, $a, 3 * $B * n_a, n_a, $dw_aa, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_7_proj_at = $b * (n_a + n_x), $dx_at_2 = 3 * $B * n_x + $b * n_x;
      for (let $i = 0; $i < n_x; $i++) {
        // ∂x^⟨4⟩ = w_axᵀ · δ₇
        const dx_4 = $delta_7_proj[$delta_7_proj_at + $i];
        $dx[$dx_at_2 + $i] = dx_4;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $delta_13_at = $b * n_a, $delta_7_proj_at_2 = $b * (n_a + n_x) + n_x;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₈ = (δ₁₃ + w_aaᵀ · δ₇) * δ₁₇
        const delta_8 = ($delta_13[$delta_13_at + $i] + $delta_7_proj[$delta_7_proj_at_2 + $i]) * $delta_17[$delta_13_at + $i];
        $delta_8[$delta_13_at + $i] = delta_8;
      }
    }
    // w_axᵀ[0:n_x, 0:n_a] delta_8, w_aaᵀ[0:n_a, 0:n_a] delta_8 (one product: $B × (n_a + n_x), depth n_a)
    $gemm($B, (n_a + n_x), n_a, $delta_8, 0, n_a, $pack_delta_8_proj, 0, n_a, $delta_8_proj, 0, (n_a + n_x), 0);
    // sum_batch_delta_8: Σ over $B rows
    $sumRows($B, n_a, $delta_8, 0, n_a, $db_a, 0, 1);
    // delta_29: delta_8 ⊗ x_3
    $outer($B, n_a, n_x, $delta_8, 0, n_a, $x, 2 * $B * n_x, n_x, $dw_ax, 0, n_x);
    // delta_30: delta_8 ⊗ a_2
    $outer($B, n_a, n_a, $delta_8, 0, n_a, $a, 2 * $B * n_a, n_a, $dw_aa, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_8_proj_at = $b * (n_a + n_x), $dx_at_3 = 2 * $B * n_x + $b * n_x;
      for (let $i = 0; $i < n_x; $i++) {
        // ∂x^⟨3⟩ = w_axᵀ · δ₈
        const dx_3 = $delta_8_proj[$delta_8_proj_at + $i];
        $dx[$dx_at_3 + $i] = dx_3;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $delta_12_at = $b * n_a, $delta_8_proj_at_2 = $b * (n_a + n_x) + n_x;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₉ = (δ₁₂ + w_aaᵀ · δ₈) * δ₁₈
        const delta_9 = ($delta_12[$delta_12_at + $i] + $delta_8_proj[$delta_8_proj_at_2 + $i]) * $delta_18[$delta_12_at + $i];
        $delta_9[$delta_12_at + $i] = delta_9;
      }
    }
    // w_axᵀ[0:n_x, 0:n_a] delta_9, w_aaᵀ[0:n_a, 0:n_a] delta_9 (one product: $B × (n_a + n_x), depth n_a)
    $gemm($B, (n_a + n_x), n_a, $delta_9, 0, n_a, $pack_delta_9_proj, 0, n_a, $delta_9_proj, 0, (n_a + n_x), 0);
    // sum_batch_delta_9: Σ over $B rows
    $sumRows($B, n_a, $delta_9, 0, n_a, $db_a, 0, 1);
    // delta_31: delta_9 ⊗ x_2
    $outer($B, n_a, n_x, $delta_9, 0, n_a, $x, $B * n_x, n_x, $dw_ax, 0, n_x);
    // delta_32: delta_9 ⊗ a_1
    $outer($B, n_a, n_a, $delta_9, 0, n_a, $a, $B * n_a, n_a, $dw_aa, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_9_proj_at = $b * (n_a + n_x), $dx_at_4 = $B * n_x + $b * n_x;
      for (let $i = 0; $i < n_x; $i++) {
        // ∂x^⟨2⟩ = w_axᵀ · δ₉
        const dx_2 = $delta_9_proj[$delta_9_proj_at + $i];
        $dx[$dx_at_4 + $i] = dx_2;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $delta_14_at = $b * n_a, $delta_9_proj_at_2 = $b * (n_a + n_x) + n_x;
      for (let $i = 0; $i < n_a; $i++) {
        // δ₁₀ = (δ₁₄ + w_aaᵀ · δ₉) * δ₁₉
        const delta_10 = ($delta_14[$delta_14_at + $i] + $delta_9_proj[$delta_9_proj_at_2 + $i]) * $delta_19[$delta_14_at + $i];
        $delta_10[$delta_14_at + $i] = delta_10;
      }
    }
    // w_axᵀ[0:n_x, 0:n_a] delta_10, w_aaᵀ[0:n_a, 0:n_a] delta_10 (one product: $B × (n_a + n_x), depth n_a)
    $gemm($B, (n_a + n_x), n_a, $delta_10, 0, n_a, $pack_delta_10_proj, 0, n_a, $delta_10_proj, 0, (n_a + n_x), 0);
    // sum_batch_delta_10: Σ over $B rows
    $sumRows($B, n_a, $delta_10, 0, n_a, $db_a, 0, 1);
    // delta_33: delta_10 ⊗ x_1
    $outer($B, n_a, n_x, $delta_10, 0, n_a, $x, 0, n_x, $dw_ax, 0, n_x);
    // delta_34: delta_10 ⊗ a_0
    $outer($B, n_a, n_a, $delta_10, 0, n_a, $a, 0, n_a, $dw_aa, 0, n_a);
    for (let $b = 0; $b < $B; $b++) {
      const $delta_10_proj_at = $b * (n_a + n_x), $dx_at_5 = $b * n_x;
      for (let $i = 0; $i < n_x; $i++) {
        // ∂x^⟨1⟩ = w_axᵀ · δ₁₀
        const dx_1 = $delta_10_proj[$delta_10_proj_at + $i];
        $dx[$dx_at_5 + $i] = dx_1;
      }
    }
    for (let $b = 0; $b < $B; $b++) {
      const $delta_10_proj_at_2 = $b * (n_a + n_x) + n_x, $da_at_6 = $b * n_a;
      for (let $i = 0; $i < n_a; $i++) {
        // ∂a^⟨0⟩ += w_aaᵀ · δ₁₀
        const da_0 = $delta_10_proj[$delta_10_proj_at_2 + $i];
        $da[$da_at_6 + $i] += da_0;
      }
    }
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
    $dw_aa.fill(0);
    $dw_ax.fill(0);
    $db_a.fill(0);
    $dw_ya.fill(0);
    $db_y.fill(0);
    // A state's cotangent: slot t+1 holds ∂ℒ/∂state^<t+1> as given; step t adds what it carries to slot t.
    if ($own($cs, "a") !== undefined) $load($da.subarray($B * n_a), $own($cs, "a"), "cotangents.states.a", $TB * n_a);
    else $da.fill(0, $B * n_a, $B * n_a + $TB * n_a);
    $da.fill(0, 0, $B * n_a);
    if ($own($co, "y_hat") !== undefined) $load($dy_hat, $own($co, "y_hat"), "cotangents.outputs.y_hat", $TB * n_y);
    else $dy_hat.fill(0, 0, $TB * n_y);
    $backwardStatic();
    $backwardLoop();
    return { params: { ["w_aa"]: $dw_aa, ["w_ax"]: $dw_ax, ["b_a"]: $db_a, ["w_ya"]: $dw_ya, ["b_y"]: $db_y }, inputs: { ["x"]: $dx.subarray(0, $TB * n_x) }, init: { ["a"]: $da.subarray(0, $B * n_a) } };
  }

  return { forward: $forward, backward: $backward, cell: "RNN5", precision: "f64", batch: $B };
}

export { createRNN5, createRNN5 as default };
