// The WebAssembly text of celda's SIMD kernels, generated here and assembled by
// wabt at build time (scripts/build-wasm.ts → kernels-bytes.ts). Pure: the same
// options give the same text. The matrix product `gemm`; `act`, the tanh and σ
// of a step's fused loop, four lanes at a time; and the data movement around the
// products — `transpose` (the operands of ∂W, transposed weights), `sumRows` (∂b)
// and `copyRows` (biases into the rows a product then adds to) — below; and the
// scans of linear recurrences, `scan` and `scanFix` (scan-wat.ts).
//
// One product serves every matrix product a lowered cell makes (lower.ts puts
// both operands of each one contiguous along the summed index):
//
//   gemm(M, N, K, a, lda, b, ldb, c, ldc, acc):
//     C[i·ldc + j] (+)= Σ_p A[i·lda + p] · B[j·ldb + p]   for i < M, j < N, p < K
//
// a, b, c are byte addresses in the imported memory; lda, ldb, ldc are counted
// in floats. The kernel works in f32x4: each output keeps four partial sums
// (lanes p ≡ 0, 1, 2, 3 mod 4 of the first 4·⌊K/4⌋ terms), folded as
// (s₀ + s₁) + (s₂ + s₃), then the last K mod 4 terms one by one, then added to C.
// (The `fma` variant adds each product to its lane's sum with relaxed SIMD's
// multiply-add, in the same order: fused, so rounded once, on CPUs with FMA.)
// Every output is computed in exactly that order whichever register block,
// column block or thread computes it — so splitting the columns N between
// threads gives bit-identical results.
//
// Blocking: MR × NR outputs per register block (MR rows of A and NR rows of B
// read once per four terms, MR·NR accumulators); blocks of columns sized so
// that their rows of B (NC·K floats) stay in the L2 cache while every row of A
// passes over them. The default, 4 × 2 with the depth not unrolled, is a block
// whose accumulators and operands V8's TurboFan keeps wholly in the x64 vector
// registers; larger or unrolled blocks spill to the stack and run slower
// (BENCHMARKS.md, "Measurements behind the code"; `npm run bench:kernels`
// compares shapes).

import { scanWat } from './scan-wat.ts';
import { add, c32, func, get, mul, set, whileLoop } from './wat-text.ts';

export interface GemmShape {
  /** Rows of A per register block. */
  readonly mr: number;
  /** Rows of B (columns of C) per register block. */
  readonly nr: number;
  /** Columns of C per register block when A has a single row left (a matrix–vector product). */
  readonly nr1: number;
  /** Floats of B per column block (its L2 budget). */
  readonly l2Floats: number;
  /** Groups of four terms per trip of the inner loop. */
  readonly unroll: number;
  /**
   * Accumulate with relaxed SIMD's f32x4.relaxed_madd (one fused multiply-add where
   * the CPU has one, as x64 with FMA3 and arm64 do) instead of f32x4.mul then add.
   * A separate module: runtimes without relaxed SIMD refuse it, and use the other.
   */
  readonly fma: boolean;
}

export const DEFAULT_GEMM: GemmShape = { mr: 4, nr: 2, nr1: 4, l2Floats: 48 * 1024, unroll: 1, fma: false };

/** A register block of mr × nr outputs at (i, j), over the whole of K. */
function block(mr: number, nr: number, tag: string, { unroll, fma }: GemmShape): string[] {
  const L: string[] = [];
  const rows = [...Array(mr).keys()], cols = [...Array(nr).keys()];
  // Row addresses: ra_r = a + (i + r)·lda·4, rb_q = b + (j + q)·ldb·4.
  for (const r of rows) L.push(set(`ra${r}`, add(get('a'), mul(add(get('i'), c32(r)), get('lda4')))));
  for (const q of cols) L.push(set(`rb${q}`, add(get('b'), mul(add(get('j'), c32(q)), get('ldb4')))));
  for (const r of rows) for (const q of cols) L.push(set(`s${r}${q}`, '(v128.const i32x4 0 0 0 0)'));
  // Four terms at a time, unrolled `unroll` times (the same accumulators, so the same order as once).
  const body = (off: number) => {
    const B: string[] = [];
    for (const q of cols) B.push(set(`y${q}`, `(v128.load offset=${off} ${add(get(`rb${q}`), get('p'))})`));
    for (const r of rows) {
      B.push(set('x', `(v128.load offset=${off} ${add(get(`ra${r}`), get('p'))})`));
      for (const q of cols) {
        B.push(set(`s${r}${q}`, fma
          ? `(f32x4.relaxed_madd ${get('x')} ${get(`y${q}`)} ${get(`s${r}${q}`)})`
          : `(f32x4.add ${get(`s${r}${q}`)} (f32x4.mul ${get('x')} ${get(`y${q}`)}))`));
      }
    }
    return B;
  };
  L.push(set('p', c32(0)));
  const unrolled = [...Array(unroll).keys()].flatMap((u) => body(16 * u));
  L.push(...whileLoop(`8${tag}`, `(i32.gt_u ${add(get('p'), c32(16 * unroll))} ${get('k4b')})`, [...unrolled, set('p', add(get('p'), c32(16 * unroll)))]));
  if (unroll > 1) L.push(...whileLoop(`4${tag}`, `(i32.ge_u ${get('p')} ${get('k4b')})`, [...body(0), set('p', add(get('p'), c32(16)))]));
  // Fold, add the tail, store.
  for (const r of rows) {
    for (const q of cols) {
      const s = get(`s${r}${q}`);
      L.push(set('t', `(f32.add (f32.add (f32x4.extract_lane 0 ${s}) (f32x4.extract_lane 1 ${s})) (f32.add (f32x4.extract_lane 2 ${s}) (f32x4.extract_lane 3 ${s})))`));
      L.push(set('q', get('k4b')));
      L.push(...whileLoop(`t${tag}${r}${q}`, `(i32.ge_u ${get('q')} ${get('kb')})`, [
        set('t', `(f32.add ${get('t')} (f32.mul (f32.load ${add(get(`ra${r}`), get('q'))}) (f32.load ${add(get(`rb${q}`), get('q'))})))`),
        set('q', add(get('q'), c32(4))),
      ]));
      L.push(set('o', add(get('c'), `(i32.shl ${add(mul(add(get('i'), c32(r)), get('ldc')), add(get('j'), c32(q)))} (i32.const 2))`)));
      L.push(`(if ${get('acc')} (then (f32.store ${get('o')} (f32.add (f32.load ${get('o')}) ${get('t')}))) (else (f32.store ${get('o')} ${get('t')})))`);
    }
  }
  return L;
}

/** Columns j0 ≤ j < j1 of rows i… in blocks of mr × nr, then the columns left one at a time. */
function rowBlock(mr: number, nr: number, tag: string, shape: GemmShape): string[] {
  return [
    set('j', get('j0')),
    ...whileLoop(`j${tag}`, `(i32.gt_u ${add(get('j'), c32(nr))} ${get('j1')})`, [...block(mr, nr, `${tag}m`, shape), set('j', add(get('j'), c32(nr)))]),
    ...whileLoop(`k${tag}`, `(i32.ge_u ${get('j')} ${get('j1')})`, [...block(mr, 1, `${tag}r`, shape), set('j', add(get('j'), c32(1)))]),
  ];
}

// ---------------------------------------------------------------- activations

/** What `act` computes, by its kind argument (0, 1, …): the emitter maps ops through this list. */
export const ACT_KINDS = ['tanh', 'sigmoid'] as const;
export type ActKind = (typeof ACT_KINDS)[number];

const f4 = (x: number) => `(f32x4.splat (f32.const ${x}))`;

/**
 * exp of the four lanes of local $e into $e (Cephes' expf: x clamped to
 * [−87.34, 88], x = k·ln 2 + r with ln 2 in two parts, a degree-7 polynomial in r,
 * 2^k from the exponent bits; about 1 ulp). The upper clamp keeps 2^k finite: the
 * activations below need no more, and `exp` in a cell stays Math.exp.
 */
function expInPlace(): string[] {
  const poly = [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  return [
    set('e', `(f32x4.min (f32x4.max ${get('e')} ${f4(-87.33654)}) ${f4(88)})`),
    set('k', `(f32x4.nearest (f32x4.mul ${get('e')} ${f4(1.44269504088896341)}))`),
    set('r', `(f32x4.sub (f32x4.sub ${get('e')} (f32x4.mul ${get('k')} ${f4(0.693359375)})) (f32x4.mul ${get('k')} ${f4(-2.12194440e-4)}))`),
    set('y', f4(1.9875691500e-4)),
    ...poly.map((c) => set('y', `(f32x4.add (f32x4.mul ${get('y')} ${get('r')}) ${f4(c)})`)),
    set('y', `(f32x4.add (f32x4.add (f32x4.mul ${get('y')} (f32x4.mul ${get('r')} ${get('r')})) ${get('r')}) ${f4(1)})`),
    set('e', `(f32x4.mul ${get('y')} (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${get('k')}) (i32x4.splat (i32.const 127))) (i32.const 23)))`),
  ];
}

/**
 * An activation of the four lanes of local $x into local $v, using the v128
 * locals ACT_LOCALS. tanh: Cephes' tanhf — an odd polynomial below |x| = 0.625,
 * 1 − 2/(e^{2|x|} + 1) above, with x's sign; σ: 1/(1 + e^{−x}). Both within 3 ulp
 * of float32, NaN in, NaN out. `act` below and the elementwise loops that
 * compiler/emit/wasm/loops-wat.ts generates run this same text, so they give the same floats.
 */
export function actBody(kind: ActKind): string[] {
  if (kind === 'sigmoid') {
    return [
      set('e', `(f32x4.neg ${get('x')})`),
      ...expInPlace(),
      set('v', `(f32x4.div ${f4(1)} (f32x4.add ${f4(1)} ${get('e')}))`),
    ];
  }
  const tanhPoly = [2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
  return [
    set('a', `(f32x4.abs ${get('x')})`),
    set('z', `(f32x4.mul ${get('x')} ${get('x')})`),
    set('y', f4(-5.70498872745e-3)),
    ...tanhPoly.map((c) => set('y', `(f32x4.add (f32x4.mul ${get('y')} ${get('z')}) ${f4(c)})`)),
    set('v', `(f32x4.add (f32x4.mul (f32x4.mul ${get('y')} ${get('z')}) ${get('x')}) ${get('x')})`),
    set('e', `(f32x4.add ${get('a')} ${get('a')})`),
    ...expInPlace(),
    set('e', `(f32x4.sub ${f4(1)} (f32x4.div ${f4(2)} (f32x4.add ${get('e')} ${f4(1)})))`),
    set('e', `(v128.or ${get('e')} (v128.and ${get('x')} (i32x4.splat (i32.const 0x80000000))))`),
    set('v', `(v128.bitselect ${get('v')} ${get('e')} (f32x4.lt ${get('a')} ${f4(0.625)}))`),
  ];
}

/** The v128 locals actBody uses besides $x. */
export const ACT_LOCALS = ['v', 'a', 'z', 'e', 'k', 'r', 'y'] as const;

/**
 * act(kind, p, n): an activation (actBody) in place on n floats from byte address
 * p (16-byte aligned; whole groups of four, so up to three floats past n are
 * computed too).
 */
function actFunc(): string[] {
  const loop = (tag: string, body: string[]) => whileLoop(tag, `(i32.ge_u ${get('p')} ${get('end')})`, [
    set('x', `(v128.load ${get('p')})`),
    ...body,
    `(v128.store ${get('p')} ${get('v')})`,
    set('p', add(get('p'), c32(16))),
  ]);
  return [
    '  ;; Activations in place, four lanes at a time (kinds: 0 tanh, 1 σ).',
    '  (func $act (export "act") (param $kind i32) (param $p i32) (param $n i32)',
    `    (local $end i32) ${['x', ...ACT_LOCALS].map((l) => `(local $${l} v128)`).join(' ')}`,
    `    ${set('end', add(get('p'), `(i32.shl (i32.shr_u ${add(get('n'), c32(3))} (i32.const 2)) (i32.const 4))`))}`,
    `    (if (i32.eq ${get('kind')} (i32.const ${ACT_KINDS.indexOf('tanh')})) (then`,
    ...loop('t', actBody('tanh')).map((l) => '      ' + l),
    '    ) (else',
    ...loop('s', actBody('sigmoid')).map((l) => '      ' + l),
    '    ))',
    '  )',
  ];
}

// ---------------------------------------------------------------- moving data

/** Byte address base + row·ld4 + col·4. */
const at = (base: string, row: string, ld4: string, col: string) => add(get(base), add(mul(row, get(ld4)), `(i32.shl ${col} (i32.const 2))`));

/** i8x16.shuffle lanes taking 32-bit lanes l₀…l₃ of (x, y) (0–3: x, 4–7: y). */
const lanes = (l: number[]) => l.flatMap((k) => [0, 1, 2, 3].map((b) => 4 * k + b)).join(' ');

/**
 * transpose(R, W, src, lds, dst, ldd): dst[j·ldd + r] = src[r·lds + j] for r < R,
 * j < W (byte addresses, strides in floats, any 4-byte alignment). 4 × 4 tiles in
 * registers (four loads, eight shuffles, four stores), panels of 64 columns so
 * that the rows of dst a tile row writes stay in the cache; edges one float at a time.
 */
function transposeFunc(): string[] {
  const tile = [
    set('s', at('src', get('r'), 'lds4', get('j'))),
    set('x0', `(v128.load ${get('s')})`),
    set('x1', `(v128.load ${add(get('s'), get('lds4'))})`),
    set('x2', `(v128.load ${add(get('s'), `(i32.shl ${get('lds4')} (i32.const 1))`)})`),
    set('x3', `(v128.load ${add(get('s'), mul(get('lds4'), c32(3)))})`),
    set('t0', `(i8x16.shuffle ${lanes([0, 4, 1, 5])} ${get('x0')} ${get('x1')})`),
    set('t1', `(i8x16.shuffle ${lanes([0, 4, 1, 5])} ${get('x2')} ${get('x3')})`),
    set('t2', `(i8x16.shuffle ${lanes([2, 6, 3, 7])} ${get('x0')} ${get('x1')})`),
    set('t3', `(i8x16.shuffle ${lanes([2, 6, 3, 7])} ${get('x2')} ${get('x3')})`),
    set('d', at('dst', get('j'), 'ldd4', get('r'))),
    `(v128.store ${get('d')} (i8x16.shuffle ${lanes([0, 1, 4, 5])} ${get('t0')} ${get('t1')}))`,
    `(v128.store ${add(get('d'), get('ldd4'))} (i8x16.shuffle ${lanes([2, 3, 6, 7])} ${get('t0')} ${get('t1')}))`,
    `(v128.store ${add(get('d'), `(i32.shl ${get('ldd4')} (i32.const 1))`)} (i8x16.shuffle ${lanes([0, 1, 4, 5])} ${get('t2')} ${get('t3')}))`,
    `(v128.store ${add(get('d'), mul(get('ldd4'), c32(3)))} (i8x16.shuffle ${lanes([2, 3, 6, 7])} ${get('t2')} ${get('t3')}))`,
    set('j', add(get('j'), c32(4))),
  ];
  const one = (row: string) => `(f32.store ${at('dst', get('j'), 'ldd4', row)} (f32.load ${at('src', row, 'lds4', get('j'))}))`;
  const rest4 = [one(get('r')), one(add(get('r'), c32(1))), one(add(get('r'), c32(2))), one(add(get('r'), c32(3))), set('j', add(get('j'), c32(1)))];
  const body = [
    set('lds4', `(i32.shl ${get('lds')} (i32.const 2))`),
    set('ldd4', `(i32.shl ${get('ldd')} (i32.const 2))`),
    set('j0', c32(0)),
    ...whileLoop('p', `(i32.ge_u ${get('j0')} ${get('W')})`, [
      set('j1', add(get('j0'), c32(64))),
      `(if (i32.gt_u ${get('j1')} ${get('W')}) (then ${set('j1', get('W'))}))`,
      set('r', c32(0)),
      ...whileLoop('r', `(i32.gt_u ${add(get('r'), c32(4))} ${get('R')})`, [
        set('j', get('j0')),
        ...whileLoop('t', `(i32.gt_u ${add(get('j'), c32(4))} ${get('j1')})`, tile),
        ...whileLoop('c', `(i32.ge_u ${get('j')} ${get('j1')})`, rest4),
        set('r', add(get('r'), c32(4))),
      ]),
      ...whileLoop('e', `(i32.ge_u ${get('r')} ${get('R')})`, [
        set('j', get('j0')),
        ...whileLoop('f', `(i32.ge_u ${get('j')} ${get('j1')})`, [one(get('r')), set('j', add(get('j'), c32(1)))]),
        set('r', add(get('r'), c32(1))),
      ]),
      set('j0', get('j1')),
    ]),
  ];
  return func('transpose', 'dst[j·ldd + r] = src[r·lds + j]: 4 × 4 tiles, panels of 64 columns.', ['R', 'W', 'src', 'lds', 'dst', 'ldd'], [
    '(local $r i32) (local $j i32) (local $j0 i32) (local $j1 i32) (local $s i32) (local $d i32) (local $lds4 i32) (local $ldd4 i32)',
    '(local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)',
  ], body);
}

/**
 * sumRows(R, n, src, lds, dst, acc): dst[i] (+)= Σ_r src[r·lds + i] for i < n, the
 * rows added in order r = 0, 1, … to 0 (or to dst[i] with acc) — the order of the
 * plain-JS helper, so both give the same floats. Sixteen columns at a time in four
 * accumulators, then four, then one.
 */
function sumRowsFunc(): string[] {
  const chunk = (w: number, tag: string): string[] => {
    const vs = [...Array(w / 4).keys()];
    const accs = vs.map((v) => `v${v}`);
    return whileLoop(tag, `(i32.gt_u ${add(get('i'), c32(w))} ${get('n')})`, [
      set('o', add(get('dst'), `(i32.shl ${get('i')} (i32.const 2))`)),
      ...accs.map((a, v) => set(a, `(if (result v128) ${get('acc')} (then (v128.load offset=${16 * v} ${get('o')})) (else (v128.const i32x4 0 0 0 0)))`)),
      set('s', add(get('src'), `(i32.shl ${get('i')} (i32.const 2))`)),
      set('r', c32(0)),
      ...whileLoop(`${tag}r`, `(i32.ge_u ${get('r')} ${get('R')})`, [
        ...accs.map((a, v) => set(a, `(f32x4.add ${get(a)} (v128.load offset=${16 * v} ${get('s')}))`)),
        set('s', add(get('s'), get('lds4'))),
        set('r', add(get('r'), c32(1))),
      ]),
      ...accs.map((a, v) => `(v128.store offset=${16 * v} ${get('o')} ${get(a)})`),
      set('i', add(get('i'), c32(w))),
    ]);
  };
  const body = [
    set('lds4', `(i32.shl ${get('lds')} (i32.const 2))`),
    set('i', c32(0)),
    ...chunk(16, 'a'),
    ...chunk(4, 'b'),
    ...whileLoop('c', `(i32.ge_u ${get('i')} ${get('n')})`, [
      set('o', add(get('dst'), `(i32.shl ${get('i')} (i32.const 2))`)),
      set('t', `(if (result f32) ${get('acc')} (then (f32.load ${get('o')})) (else (f32.const 0)))`),
      set('s', add(get('src'), `(i32.shl ${get('i')} (i32.const 2))`)),
      set('r', c32(0)),
      ...whileLoop('cr', `(i32.ge_u ${get('r')} ${get('R')})`, [
        set('t', `(f32.add ${get('t')} (f32.load ${get('s')}))`),
        set('s', add(get('s'), get('lds4'))),
        set('r', add(get('r'), c32(1))),
      ]),
      `(f32.store ${get('o')} ${get('t')})`,
      set('i', add(get('i'), c32(1))),
    ]),
  ];
  return func('sumRows', 'dst[i] (+)= Σ_r src[r·lds + i], rows in order.', ['R', 'n', 'src', 'lds', 'dst', 'acc'], [
    '(local $r i32) (local $i i32) (local $s i32) (local $o i32) (local $lds4 i32) (local $t f32) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)',
  ], body);
}

/** copyRows(R, n, src, lds, dst, ldd): n floats of each row (lds 0: the same row of src for every row of dst). */
function copyRowsFunc(): string[] {
  const body = [
    set('nb', `(i32.shl ${get('n')} (i32.const 2))`),
    set('lds4', `(i32.shl ${get('lds')} (i32.const 2))`),
    set('ldd4', `(i32.shl ${get('ldd')} (i32.const 2))`),
    set('r', c32(0)),
    ...whileLoop('r', `(i32.ge_u ${get('r')} ${get('R')})`, [
      `(memory.copy ${get('dst')} ${get('src')} ${get('nb')})`,
      set('src', add(get('src'), get('lds4'))),
      set('dst', add(get('dst'), get('ldd4'))),
      set('r', add(get('r'), c32(1))),
    ]),
  ];
  return func('copyRows', 'Rows of n floats copied (lds 0: one row repeated).', ['R', 'n', 'src', 'lds', 'dst', 'ldd'], ['(local $r i32) (local $nb i32) (local $lds4 i32) (local $ldd4 i32)'], body);
}

/** The text of the kernel module; `shared` imports a shared memory (for threads). */
export function gemmWat(shared: boolean, shape: GemmShape = DEFAULT_GEMM): string {
  const { mr, nr, nr1, l2Floats, fma } = shape;
  const locals: string[] = ['i', 'j', 'j0', 'j1', 'nc', 'p', 'q', 'o', 'k4b', 'kb', 'lda4', 'ldb4'];
  for (let r = 0; r < mr; r++) locals.push(`ra${r}`);
  for (let q = 0; q < Math.max(nr, nr1); q++) locals.push(`rb${q}`);
  const vlocals: string[] = ['x'];
  for (let q = 0; q < Math.max(nr, nr1); q++) vlocals.push(`y${q}`);
  for (let r = 0; r < mr; r++) for (let q = 0; q < Math.max(nr, nr1); q++) vlocals.push(`s${r}${q}`);
  const body: string[] = [
    // Byte counts and strides.
    set('kb', `(i32.shl ${get('K')} (i32.const 2))`),
    set('k4b', `(i32.and ${get('kb')} (i32.const -16))`),
    set('lda4', `(i32.shl ${get('lda')} (i32.const 2))`),
    set('ldb4', `(i32.shl ${get('ldb')} (i32.const 2))`),
    // Columns per block: the rows of B that fit the L2 budget, a multiple of nr, at least nr.
    set('nc', `(i32.div_u (i32.const ${l2Floats}) (select ${get('K')} (i32.const 1) ${get('K')}))`),
    set('nc', `(i32.mul (i32.div_u ${get('nc')} (i32.const ${nr})) (i32.const ${nr}))`),
    `(if (i32.lt_u ${get('nc')} (i32.const ${nr})) (then ${set('nc', c32(nr))}))`,
    set('j0', c32(0)),
    ...whileLoop('c', `(i32.ge_u ${get('j0')} ${get('N')})`, [
      set('j1', add(get('j0'), get('nc'))),
      `(if (i32.gt_u ${get('j1')} ${get('N')}) (then ${set('j1', get('N'))}))`,
      set('i', c32(0)),
      ...whileLoop('i', `(i32.gt_u ${add(get('i'), c32(mr))} ${get('M')})`, [...rowBlock(mr, nr, 'a', shape), set('i', add(get('i'), c32(mr)))]),
      ...whileLoop('i1', `(i32.ge_u ${get('i')} ${get('M')})`, [...rowBlock(1, nr1, 'b', shape), set('i', add(get('i'), c32(1)))]),
      set('j0', get('j1')),
    ]),
  ];
  return [
    ';; celda SIMD kernels: generated by compiler/emit/wasm/kernels-wat.ts; assembled by scripts/build-wasm.ts.',
    '(module',
    `  (import "env" "memory" (memory 1 65536${shared ? " shared" : ""}))`,
    `  ;; C (+)= A · Bᵀ, f32x4${fma ? ' (relaxed_madd)' : ''}, register blocks ${mr} × ${nr} (single rows: 1 × ${nr1}), column blocks of ${l2Floats} floats of B.`,
    '  (func $gemm (export "gemm")',
    '    (param $M i32) (param $N i32) (param $K i32) (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $acc i32)',
    `    ${locals.map((l) => `(local $${l} i32)`).join(' ')}`,
    `    (local $t f32) ${vlocals.map((l) => `(local $${l} v128)`).join(' ')}`,
    ...body.map((s) => '    ' + s),
    '  )',
    ...actFunc(),
    ...transposeFunc(),
    ...sumRowsFunc(),
    ...copyRowsFunc(),
    ...scanWat(),
    ')',
    '',
  ].join('\n');
}
