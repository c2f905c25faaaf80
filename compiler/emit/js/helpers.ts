// The helper functions an emitted module carries: the stable forms of σ and
// softplus, and the few loop nests that are not elementwise (matrix products,
// transposes, reductions). Fixed text, not generated from the cell; a module
// includes only the helpers it calls. Every helper is called with one array
// type (the module's precision), so V8 keeps each one monomorphic.

import { SIMD_KERNEL_DEPS, SIMD_KERNELS } from './simd-helpers.ts';

const BASE_KERNELS: Readonly<Record<string, string>> = {
  $sigmoid: `/** σ(x) in its stable form: exp of a negative number only. */
function $sigmoid(x) {
  if (x >= 0) return 1 / (1 + $exp(-x));
  const e = $exp(x);
  return e / (1 + e);
}`,
  $softplus: `/** log(1 + eˣ) without overflow. */
function $softplus(x) {
  return x > 0 ? x + $log1p($exp(-x)) : $log1p($exp(x));
}`,
  $relu: `function $relu(x) {
  return x > 0 ? x : 0;
}`,
  $heaviside: `/** relu's derivative: 1 where x > 0. */
function $heaviside(x) {
  return x > 0 ? 1 : 0;
}`,
  $sq: `function $sq(x) {
  return x * x;
}`,
  $gemm: `/**
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
}`,
  $transpose: `/** dst[j·R + r] = src[off + r·ld + j]: the rows of a buffer become its columns (in tiles, for the cache). */
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
}`,
  $outer: `/** C[i·ldc + j] += Σ_r U[r·ldu + i] · V[r·ldv + j] for a few rows r: rank-one updates. */
function $outer(R, m, n, U, uOff, ldu, V, vOff, ldv, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const u = uOff + r * ldu, v = vOff + r * ldv;
    for (let i = 0; i < m; i++) {
      const a = U[u + i];
      const c = cOff + i * ldc;
      for (let j = 0; j < n; j++) C[c + j] += a * V[v + j];
    }
  }
}`,
  $pack: `/** dst[(dstRow + r)·ld + dstCol + c] (+)= E[srcRow + r][srcCol + c], where E is src (lds columns) or its transpose. */
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
}`,
  $softmax: `/** softmax of each row, in its stable form (the row's maximum subtracted first). */
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
}`,
  $sumFeat: `/** Σ over the features of each row. */
function $sumFeat(R, n, src, so, lds, dst, dO, ldd) {
  for (let r = 0; r < R; r++) {
    let s = 0;
    const s0 = so + r * lds;
    for (let i = 0; i < n; i++) s += src[s0 + i];
    dst[dO + r * ldd] = s;
  }
}`,
  $sumRows: `/** Σ over rows (the batch, and after the loop also time): dst[i] (+)= Σ_r src[r·lds + i]. */
function $sumRows(R, n, src, so, lds, dst, dO, acc) {
  if (!acc) for (let i = 0; i < n; i++) dst[dO + i] = 0;
  for (let r = 0; r < R; r++) {
    const s0 = so + r * lds;
    for (let i = 0; i < n; i++) dst[dO + i] += src[s0 + i];
  }
}`,
  $matmul: `/** C (+)= A · B for unbatched matrices (A: m × k, B: k × n). */
function $matmul(m, n, k, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc) {
  for (let i = 0; i < m; i++) {
    const c = cOff + i * ldc;
    if (!acc) for (let j = 0; j < n; j++) C[c + j] = 0;
    for (let p = 0; p < k; p++) {
      const x = A[aOff + i * lda + p], b = bOff + p * ldb;
      for (let j = 0; j < n; j++) C[c + j] += x * B[b + j];
    }
  }
}`,
  $matvec: `/** C[r] = W · v[r] for each row r (v repeated when it has no rows of its own). */
function $matvec(R, m, n, W, wOff, ldw, V, vOff, ldv, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const v = vOff + r * ldv, c = cOff + r * ldc;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const w = wOff + i * ldw;
      for (let j = 0; j < n; j++) s += W[w + j] * V[v + j];
      C[c + i] = s;
    }
  }
}`,
  $outerEach: `/** C[r] = u[r] v[r]ᵀ for each row r, an m × n matrix per row (an operand with ld 0 is shared). */
function $outerEach(R, m, n, U, uOff, ldu, V, vOff, ldv, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const u = uOff + r * ldu, v = vOff + r * ldv, c = cOff + r * ldc;
    for (let i = 0; i < m; i++) {
      const x = U[u + i], ci = c + i * n;
      for (let j = 0; j < n; j++) C[ci + j] = x * V[v + j];
    }
  }
}`,
  $matvecEach: `/** C[r] = W[r] v[r] for each row r, W[r] an m × n matrix of its own (an operand with ld 0 is shared). */
function $matvecEach(R, m, n, W, wOff, ldw, V, vOff, ldv, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const w0 = wOff + r * ldw, v = vOff + r * ldv, c = cOff + r * ldc;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const w = w0 + i * n;
      for (let j = 0; j < n; j++) s += W[w + j] * V[v + j];
      C[c + i] = s;
    }
  }
}`,
  $vecmatEach: `/** C[r] = u[r]ᵀ W[r] for each row r, W[r] an m × n matrix of its own (an operand with ld 0 is shared). */
function $vecmatEach(R, m, n, U, uOff, ldu, W, wOff, ldw, C, cOff, ldc) {
  for (let r = 0; r < R; r++) {
    const u = uOff + r * ldu, w = wOff + r * ldw, c = cOff + r * ldc;
    for (let j = 0; j < n; j++) C[c + j] = 0;
    for (let i = 0; i < m; i++) {
      const x = U[u + i], wi = w + i * n;
      for (let j = 0; j < n; j++) C[c + j] += x * W[wi + j];
    }
  }
}`,
  $copy: `/** Copy n columns of each row (src repeated on every row when lds is 0). */
function $copy(R, n, src, so, lds, dst, dO, ldd) {
  for (let r = 0; r < R; r++) {
    const s0 = so + r * lds, d0 = dO + r * ldd;
    for (let i = 0; i < n; i++) dst[d0 + i] = src[s0 + i];
  }
}`,
  $scan: `/**
 * A linear recurrence over all R = T·B rows at once (one call per pass, not one per step):
 * forward (rev 0, rows ascending) h[dOff + r·ld + i] = A · h[sOff + r·ld + i] + B, where
 * src is dst one step (B rows) earlier; reverse (rev 1, rows descending) the same added
 * to dst, src one step later. A = a[aOff + r·lda + i·sa] (a null: 1), B likewise (null: 0).
 */
function $scan(rev, R, W, h, dOff, sOff, ld, a, aOff, lda, sa, b, bOff, ldb, sb) {
  for (let k = 0; k < R; k++) {
    const r = rev ? R - 1 - k : k;
    const d = dOff + r * ld, s = sOff + r * ld, pa = aOff + r * lda, pb = bOff + r * ldb;
    if (rev) for (let i = 0; i < W; i++) h[d + i] += (a === null ? 1 : a[pa + i * sa]) * h[s + i] + (b === null ? 0 : b[pb + i * sb]);
    else for (let i = 0; i < W; i++) h[d + i] = (a === null ? 1 : a[pa + i * sa]) * h[s + i] + (b === null ? 0 : b[pb + i * sb]);
  }
}`,
  $fill: `/** Set n columns of each of R rows to a value. */
function $fill(R, n, dst, dO, ldd, value) {
  for (let r = 0; r < R; r++) {
    const d0 = dO + r * ldd;
    for (let i = 0; i < n; i++) dst[d0 + i] = value;
  }
}`,
  $load: `/** Copy a caller's array into the module's own, after checking its kind, length and (plain arrays) that every element is a number. */
function $load(dst, src, what, n) {
  if (src === undefined || src === null) $fail(\`\${what}: missing (expected \${n} numbers)\`, TypeError);
  const view = ArrayBuffer.isView(src) && !(src instanceof DataView) && !(typeof BigInt64Array === 'function' && (src instanceof BigInt64Array || src instanceof BigUint64Array));
  if (!view && !Array.isArray(src)) $fail(\`\${what}: expected an array or Float32Array/Float64Array of \${n} numbers, got \${$what(src)}\`, TypeError);
  if (src.length !== n) $fail(\`\${what}: expected \${n} numbers, got \${src.length}\`, RangeError);
  if (view) dst.set(src);
  else for (let i = 0; i < n; i++) {
    const v = src[i];
    if (typeof v !== 'number') $fail(\`\${what}[\${i}]: expected a number, got \${$what(v)}\`, TypeError);
    dst[i] = v;
  }
}`,
  $finite: `/** Parameters must be finite: one pass over n loaded numbers (x · 0 is 0 for every finite x, NaN otherwise). */
function $finite(a, what, n) {
  let z = 0;
  for (let i = 0; i < n; i++) z += a[i] * 0;
  if (z === 0) return;
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) $fail(\`\${what}[\${i}] is \${a[i]}: parameters must be finite\`, RangeError);
}`,
  $size: `/** A dimension or batch size: a whole number ≥ 1. */
function $size(value, what) {
  if (typeof value !== 'number') $fail(\`\${what} must be a whole number ≥ 1, got \${$what(value)}\`, TypeError);
  if (!Number.isInteger(value) || value < 1) $fail(\`\${what} must be a whole number ≥ 1, got \${value}\`, RangeError);
  return value;
}`,
  $own: `/** A caller's named array: own properties only (a cell may name a parameter \`constructor\`). */
function $own(o, key) {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}`,
  $keys: `/** An argument that names arrays: an object whose keys are among names (a misspelled key would be silently ignored). */
function $keys(o, names, what) {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) $fail(\`\${what}: expected an object { \${names.join(', ')} }, got \${$what(o)}\`, TypeError);
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k) || names.includes(k)) continue;
    const near = $near(k, names);
    $fail(\`\${what}: unknown key \${JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k)}\${near !== undefined ? \` (did you mean \${near}?)\` : ''}; expected \${names.length ? names.join(', ') : 'no keys'}\`, TypeError);
  }
}`,
  $near: `/** The name closest to a misspelled key by edit distance (at most 1 + a third of its length), or undefined. */
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
}`,
  $what: `/** What a caller passed, for a message. */
function $what(v) {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : ArrayBuffer.isView(v) ? v.constructor.name : typeof v === 'string' ? \`a string\` : typeof v === 'number' ? String(v) : typeof v;
}`,
  $room: `/** Memory an instance needs, checked before allocating: at most 4 GiB (also the most a SIMD module's memory can hold). */
function $room(bytes, what) {
  if (!(bytes <= 4294967296)) $fail(\`\${what} would need \${bytes} bytes (\${(bytes / 1073741824).toPrecision(3)} GiB), more than the 4 GiB an instance may use\`, RangeError);
}`,
  $fail: `function $fail(message, Kind = Error) {
  throw new Kind(message);
}`,
};

export const KERNELS: Readonly<Record<string, string>> = { ...BASE_KERNELS, ...SIMD_KERNELS };

/** Helpers that other helpers call. */
export const KERNEL_DEPS: Readonly<Record<string, readonly string[]>> = {
  $sigmoid: ['$exp'], $softplus: ['$exp', '$log1p'], $softmax: ['$exp'], $load: ['$fail', '$what'], $size: ['$fail', '$what'], $finite: ['$fail'], $keys: ['$fail', '$near', '$what'], $room: ['$fail'],
  ...SIMD_KERNEL_DEPS,
};

/** Math functions, bound once at the top of the module. */
export const MATH: Readonly<Record<string, string>> = {
  $exp: 'Math.exp', $log: 'Math.log', $log1p: 'Math.log1p', $tanh: 'Math.tanh', $sqrt: 'Math.sqrt',
  $abs: 'Math.abs', $pow: 'Math.pow', $sign: 'Math.sign', $ceil: 'Math.ceil', $max: 'Math.max',
};
