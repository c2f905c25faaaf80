// compiler/emit/wasm/assemble.ts, the compiler's own WAT assembler, against wabt (the
// assembler scripts/build-wasm.ts uses, with its features): the same bytes for
// every kernels-wat.ts variant (and kernels.ts's), for every instruction in its
// table, for a hand-written module using the whole subset (which also validates),
// for random expression trees over f32x4, f32 and i32 in folded and plain form,
// and for random float literals, ties included (one rounding, not two). Then the
// errors: malformed or unsupported text is a WatError at the line:col of the
// token, never another exception, also on randomly damaged kernel text.

import fc from 'fast-check';
import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleWat, INSTRUCTIONS, WatError } from '../../../../compiler/emit/wasm/assemble.ts';
import type { Immediate } from '../../../../compiler/emit/wasm/assemble.ts';
import { DEFAULT_GEMM, gemmWat } from '../../../../compiler/emit/wasm/kernels-wat.ts';
import { GEMM_FMA_WASM_BASE64, GEMM_WASM_BASE64 } from '../../../../compiler/emit/wasm/kernels-bytes.ts';
import { fmaAvailable } from '../../../../runtime/wasm/pool-common.ts';

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
const FEATURES = { simd: true, threads: true, bulk_memory: true, relaxed_simd: true };
let wabt: Wabt;
beforeAll(async () => {
  wabt = await wabtInit();
});

/** wabt's bytes for `text`, validated first with `validate`; undefined where wabt refuses the text. */
function wabtBytes(text: string, validate = false): Uint8Array | undefined {
  let m;
  try {
    m = wabt.parseWat('test.wat', text, FEATURES);
  } catch {
    return undefined;
  }
  try {
    // wabt's typings omit validate's features argument (as in scripts/build-wasm.ts).
    if (validate) (m as unknown as { validate(f: typeof FEATURES): void }).validate(FEATURES);
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Where our bytes and wabt's differ, briefly (a few bytes either side); undefined if they are the same. */
function difference(text: string, validate = false): string | undefined {
  const theirs = wabtBytes(text, validate);
  if (!theirs) return 'wabt refuses the text';
  const ours = assembleWat(text);
  let i = 0;
  while (i < ours.length && i < theirs.length && ours[i] === theirs[i]) i++;
  if (i === ours.length && i === theirs.length) return undefined;
  const around = (b: Uint8Array) => hex(b.subarray(Math.max(0, i - 8), i + 8));
  return `at byte ${i} of ${ours.length} (wabt: ${theirs.length}): ours …${around(ours)}…, wabt …${around(theirs)}…`;
}

/** The WatError message of assembling `text` (any other exception escapes). */
function errorOf(text: string): string {
  try {
    assembleWat(text);
  } catch (e) {
    if (e instanceof WatError) return e.message;
    throw e;
  }
  return 'no error';
}

describe('the kernels', () => {
  for (const shared of [true, false]) {
    for (const fma of [false, true]) {
      it(`gemmWat(shared: ${shared}, fma: ${fma}): wabt's bytes${shared ? ", and kernels.ts's" : ''}`, () => {
        const text = gemmWat(shared, { ...DEFAULT_GEMM, fma });
        expect(difference(text, true)).toBeUndefined();
        if (shared) expect(Buffer.from(assembleWat(text)).toString('base64')).toBe(fma ? GEMM_FMA_WASM_BASE64 : GEMM_WASM_BASE64);
      });
    }
  }
  it('other register blocks and unrolling: the same bytes as wabt', () => {
    for (const shape of [{ mr: 3, nr: 3, nr1: 2, unroll: 2 }, { mr: 1, nr: 1, nr1: 1, unroll: 3, fma: true }]) {
      expect(difference(gemmWat(false, { ...DEFAULT_GEMM, ...shape }), true)).toBeUndefined();
    }
  });
});

// ---------------------------------------------------------------- instructions

/** Immediates to write after an instruction of each kind (lane and local 0 exist in the test function). */
const EXAMPLE_IMMEDIATES: Record<Immediate, readonly string[]> = {
  none: [''],
  memarg: ['', 'offset=8', 'offset=0x10 align=1', 'align=2'],
  memlane: ['1', 'offset=300 align=1 0'],
  lane: ['1'],
  shuffle: ['0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31'],
  v128: ['i32x4 1 -2 0x80000000 4294967295', 'f32x4 1.5 -0 inf nan', 'i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1', 'i16x8 0 -1 2 3 4 5 6 65535', 'i64x2 -1 0x7fffffffffffffff', 'f64x2 1e-300 -nan'],
  i32: ['-5', '0x80000000', '2147483647', '-2147483648', '64', '-65'],
  i64: ['-5', '0xffffffffffffffff', '9223372036854775807', '-9223372036854775808'],
  f32: ['1.5', '-0', '1.3981999507e-3', '0x1.8p-3'],
  f64: ['1.5', '-0', '2.2250738585072014e-308', '0x1.8p-3'],
  local: ['0', '$p'],
  label: ['0'],
  br_table: ['0', '0 0 0'],
  func: ['0', '$f'],
};

describe('the instruction table', () => {
  it('every instruction, with each kind of immediate, plain: wabt\'s bytes', () => {
    const failures: string[] = [];
    for (const [name, { immediate }] of INSTRUCTIONS) {
      for (const imm of EXAMPLE_IMMEDIATES[immediate]) {
        const text = `(module (import "env" "memory" (memory 1)) (func $f (param $p i32) ${name} ${imm}))`;
        const d = difference(text);
        if (d) failures.push(`${name} ${imm}: ${d}`);
      }
    }
    expect(failures).toEqual([]);
    expect(INSTRUCTIONS.size).toBeGreaterThan(400);
  });

  it('the spec\'s opcodes for the bulk-memory and relaxed-SIMD instructions the kernels use', () => {
    const code = (name: string) => INSTRUCTIONS.get(name)?.code;
    expect(code('memory.copy')).toEqual([0xfc, 10, 0, 0]);
    expect(code('memory.fill')).toEqual([0xfc, 11, 0]);
    expect(code('f32x4.relaxed_madd')).toEqual([0xfd, 0x85, 0x02]); // 0x105 as LEB128
    expect(code('f32x4.relaxed_nmadd')).toEqual([0xfd, 0x86, 0x02]);
    expect(code('f32x4.mul')).toEqual([0xfd, 0xe6, 0x01]);
    expect(code('v128.load')).toEqual([0xfd, 0x00]);
  });
});

// ---------------------------------------------------------------- a module of the whole subset

const I32_BINARY = 'add sub mul div_u div_s rem_u and or xor shl shr_u shr_s eq ne lt_u lt_s gt_u gt_s le_u le_s ge_u ge_s'.split(' ');
const F32_BINARY = 'add sub mul div min max'.split(' '), F32_UNARY = 'abs neg sqrt'.split(' '), F32_COMPARE = 'eq ne lt gt le ge'.split(' ');
const F32X4_BINARY = 'add sub mul div min max pmin pmax eq ne lt gt le ge'.split(' ');
const F32X4_UNARY = 'abs neg sqrt nearest ceil floor trunc'.split(' ');
const I32X4_BINARY = 'add sub mul eq gt_s'.split(' '), I32X4_SHIFT = 'shl shr_s shr_u'.split(' ');

/**
 * Every instruction of the subset, unexported functions with v128 parameters and
 * results, a call to a later function, if with a result, labels by name several
 * blocks out and by number, plain instructions among folded ones.
 */
const WHOLE = [
  ';; The subset celda assembles (a comment; and (; a block comment ;) too).',
  '(module',
  '  (import "env" "memory" (memory 1 100 shared))',
  '  (func $main (export "main") (param $p i32) (param $n i32) (result f32)',
  '    (local $i i32) (local $t i32) (local $x f32) (local $v v128) (local $w v128) (local i32 f32)',
  '    (local.set $v (call $mix (v128.const f32x4 1.5 -2 3e-3 0x1.8p1) (v128.const i32x4 0 -1 0x80000000 4294967295) (local.get 0)))',
  '    (local.set $t (i32.const 7))',
  ...I32_BINARY.map((op) => `    (local.set $t (i32.${op} (local.get $t) (i32.add (local.get $i) (i32.const -3))))`),
  '    (local.set $t (i32.eqz (local.get $t)))',
  '    (local.set $x (f32.const 1.3981999507e-3))',
  ...F32_BINARY.map((op) => `    (local.set $x (f32.${op} (local.get $x) (f32.load offset=4 (local.get $p))))`),
  ...F32_UNARY.map((op) => `    (local.set $x (f32.${op} (local.get $x)))`),
  ...F32_COMPARE.map((op) => `    (local.set $t (i32.or (local.get $t) (f32.${op} (local.get $x) (f32.const -inf))))`),
  '    (f32.store align=1 (local.get $p) (local.get $x))',
  '    (i32.store offset=8 (local.get $p) (i32.load align=2 (local.get $p)))',
  '    (v128.store offset=16 align=16 (local.get $p) (v128.load offset=32 align=4 (local.get $p)))',
  '    (memory.copy (local.get $p) (i32.const 64) (local.get $n))',
  '    (memory.fill (local.get $p) (i32.const 0) (i32.const 16))',
  '    ;; Labels by name, one, two and three blocks out, and by number.',
  '    (block $done',
  '      (loop $next',
  '        (block $skip',
  '          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))',
  '          (br_if $skip (i32.rem_u (local.get $i) (i32.const 3)))',
  '          (if $odd (i32.and (local.get $i) (i32.const 1))',
  '            (then (br_if $done (i32.gt_u (local.get $i) (i32.const 100))) (br $skip))',
  '            (else (br_if $odd (local.get $t)) (br 1)))',
  '          (local.set $w (local.get $v))',
  '          (br_table $skip $done $done (local.get $i)))',
  '        (local.set $i (i32.add (local.get $i) (i32.const 1)))',
  '        (br 0)))',
  '    ;; Plain instructions, and a plain block.',
  '    local.get $x',
  '    f32.const 2',
  '    f32.mul',
  '    local.set $x',
  '    block $plain (result i32)',
  '      i32.const 1',
  '      local.get $n',
  '      br_if $plain',
  '      drop',
  '      i32.const 2',
  '    end $plain',
  '    (local.set $t (i32.add (local.get $t)))',
  '    (nop)',
  '    (drop (select (local.get $t) (local.get $i) (local.get $n)))',
  '    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (unreachable)))',
  '    (if (i32.eq (local.get $n) (i32.const 1)) (then (return (f32.const nan))))',
  '    (if (result f32) (local.get $n)',
  '      (then (f32x4.extract_lane 3 (local.get $v)))',
  '      (else (f32.add (local.get $x) (f32x4.extract_lane 0 (call $lanes (local.get $w) (local.get $x)))))))',
  '  (func $mix (param $a v128) (param $b v128) (param $k i32) (result v128)',
  '    (local $s v128)',
  ...F32X4_BINARY.map((op) => `    (local.set $a (f32x4.${op} (local.get $a) (local.get $b)))`),
  ...F32X4_UNARY.map((op) => `    (local.set $a (f32x4.${op} (local.get $a)))`),
  ...I32X4_BINARY.map((op) => `    (local.set $b (i32x4.${op} (local.get $b) (local.get $a)))`),
  ...I32X4_SHIFT.map((op) => `    (local.set $b (i32x4.${op} (local.get $b) (local.get $k)))`),
  '    (local.set $s (v128.and (local.get $a) (v128.or (local.get $b) (v128.xor (local.get $a) (v128.not (local.get $b))))))',
  '    (local.set $s (v128.andnot (local.get $s) (v128.bitselect (local.get $a) (local.get $b) (local.get $s))))',
  '    (local.set $s (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s) (local.get $a)))',
  '    (local.set $s (f32x4.replace_lane 2 (local.get $s) (f32.const -0.5)))',
  '    (local.set $s (f32x4.add (local.get $s) (f32x4.splat (f32.const 0.693359375))))',
  '    (local.set $s (i32x4.add (local.get $s) (i32x4.splat (i32.const 127))))',
  '    (local.set $s (f32x4.convert_i32x4_s (i32x4.trunc_sat_f32x4_s (local.get $s))))',
  '    (local.get $s))',
  '  (func $lanes (param $v v128) (param $x f32) (result v128)',
  '    (f32x4.replace_lane 1 (local.get $v) (local.get $x))))',
].join('\n');

/** Relaxed SIMD (Node 20 refuses it without a V8 flag, so apart). */
const RELAXED = `(module
  (func $fma (export "fma") (param $a v128) (param $b v128) (param $c v128) (result v128)
    (f32x4.relaxed_nmadd (f32x4.relaxed_madd (local.get $a) (local.get $b) (local.get $c)) (local.get $b) (local.get $c))))`;

describe('a module of the whole subset', () => {
  it("is wabt's bytes, valid for wabt and for this runtime", () => {
    expect(difference(WHOLE, true)).toBeUndefined();
    expect(WebAssembly.validate(assembleWat(WHOLE))).toBe(true);
  });
  it('relaxed SIMD: wabt\'s bytes, valid wherever the fma kernels are', () => {
    expect(difference(RELAXED, true)).toBeUndefined();
    expect(WebAssembly.validate(assembleWat(RELAXED))).toBe(fmaAvailable());
  });
  it('runs: its loop ends, its calls and memory accesses do not trap, the early return returns', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 100, shared: true });
    const { instance } = await WebAssembly.instantiate(assembleWat(WHOLE), { env: { memory } });
    const main = instance.exports.main as (p: number, n: number) => number;
    expect(main(1024, 1)).toBeNaN();
    for (const n of [0, 2, 7]) expect(typeof main(1024, n)).toBe('number');
  });
  it('folded and plain spellings of one body give the same bytes, as do names and indices', () => {
    const folded = '(module (func (param $a i32) (result i32) (block $b (result i32) (i32.add (local.get $a) (br_if $b (i32.const 1) (local.get $a))))))';
    const plain = '(module (func (param i32) (result i32) block (result i32) local.get 0 i32.const 1 local.get 0 br_if 0 i32.add end))';
    expect(hex(assembleWat(plain))).toBe(hex(assembleWat(folded)));
    expect(difference(plain, true)).toBeUndefined();
  });
  it('writes function types in order of first definition, whatever calls first', () => {
    const text = `(module
      (import "env" "g" (func $g (param f64) (result i64)))
      (func $a (param i32) (drop (call $b (f32.const 1))) (drop (call $g (f64.const 2))))
      (func $b (param f32) (result i32) (call $c (i32.const 0)) (i32.const 0))
      (func $c (param i32)))`;
    expect(difference(text, true)).toBeUndefined();
  });
  it('an empty module, and a module with nothing exported', () => {
    expect(hex(assembleWat('(module)'))).toBe('0061736d01000000');
    expect(difference('(module (func $f (nop)))')).toBeUndefined();
  });
});

// ---------------------------------------------------------------- random expressions

/** An expression tree node: an op with its immediates, or if/block; `plain`: written unfolded where its parent allows. */
interface Expr { readonly op: string; readonly imm: string; readonly args: readonly Expr[]; readonly plain: boolean }

const pick = (ops: string[]) => fc.constantFrom(...ops);
const node = (op: fc.Arbitrary<string>, imm: fc.Arbitrary<string>, ...args: fc.Arbitrary<Expr>[]) =>
  fc.record({ op, imm, args: fc.tuple(...args), plain: fc.boolean() }) as fc.Arbitrary<Expr>;
const none = fc.constant('');
const laneOf = fc.integer({ min: 0, max: 3 }).map(String);

/** A float literal in one of the spellings a generator might use. */
const floatText = fc.oneof(
  fc.float().map((x) => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : Object.is(x, -0) ? '-0' : String(x))),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => x.toExponential(10)),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => x.toPrecision(9)),
);
const intText = fc.oneof(fc.integer().map(String), fc.nat({ max: 0xffffffff }).map((n) => '0x' + n.toString(16)));

const { v128, f32, i32 } = fc.letrec<{ v128: Expr; f32: Expr; i32: Expr }>((tie) => {
  const v = tie('v128'), f = tie('f32'), i = tie('i32');
  const block = (type: string, body: fc.Arbitrary<Expr>) => node(fc.constant('block'), fc.constant(type), body, body, i);
  const choose = (type: string, branch: fc.Arbitrary<Expr>) => node(fc.constant('if'), fc.constant(type), i, branch, branch);
  return {
    v128: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      node(fc.constant('local.get'), fc.constant('$v')),
      node(fc.constant('v128.const'), fc.oneof(
        fc.array(intText, { minLength: 4, maxLength: 4 }).map((l) => `i32x4 ${l.join(' ')}`),
        fc.array(floatText, { minLength: 4, maxLength: 4 }).map((l) => `f32x4 ${l.join(' ')}`),
      )),
      node(fc.constant('v128.load'), fc.constantFrom('', 'offset=16', 'offset=4 align=4'), i),
      node(pick([...F32X4_BINARY.map((o) => `f32x4.${o}`), ...I32X4_BINARY.map((o) => `i32x4.${o}`), 'v128.and', 'v128.or', 'v128.xor', 'v128.andnot']), none, v, v),
      node(pick([...F32X4_UNARY.map((o) => `f32x4.${o}`), 'v128.not', 'i32x4.trunc_sat_f32x4_s', 'f32x4.convert_i32x4_s']), none, v),
      node(pick(['v128.bitselect', 'f32x4.relaxed_madd', 'f32x4.relaxed_nmadd']), none, v, v, v),
      node(pick(I32X4_SHIFT.map((o) => `i32x4.${o}`)), none, v, i),
      node(fc.constant('f32x4.splat'), none, f),
      node(fc.constant('i32x4.splat'), none, i),
      node(fc.constant('f32x4.replace_lane'), laneOf, v, f),
      node(fc.constant('i8x16.shuffle'), fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 16, maxLength: 16 }).map((l) => l.join(' ')), v, v),
      block('v128', v),
      choose('v128', v),
    ),
    f32: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      node(fc.constant('local.get'), fc.constant('$x')),
      node(fc.constant('f32.const'), floatText),
      node(fc.constant('f32.load'), fc.constantFrom('', 'offset=8', 'align=1'), i),
      node(pick(F32_BINARY.map((o) => `f32.${o}`)), none, f, f),
      node(pick(F32_UNARY.map((o) => `f32.${o}`)), none, f),
      node(fc.constant('f32x4.extract_lane'), laneOf, v),
      block('f32', f),
      choose('f32', f),
    ),
    i32: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      node(fc.constant('local.get'), fc.constantFrom('$n', '0')),
      node(fc.constant('i32.const'), intText),
      node(pick(I32_BINARY.map((o) => `i32.${o}`)), none, i, i),
      node(pick(F32_COMPARE.map((o) => `f32.${o}`)), none, f, f),
      node(fc.constant('i32.eqz'), none, i),
      node(fc.constant('select'), none, i, i, i),
      block('i32', i),
      choose('i32', i),
    ),
  };
});

/**
 * `(block $b (result T) (drop (br_if $b x c)) y)`: a branch to a named label, the
 * innermost of that name; `(if (result T) c (then x) (else y))`.
 */
function folded(e: Expr): string {
  const [a, b, c] = e.args;
  if (e.op === 'block') return `(block $b (result ${e.imm}) (drop (br_if $b ${folded(a!)} ${folded(c!)})) ${sequence(b!)})`;
  if (e.op === 'if') return `(if (result ${e.imm}) ${folded(a!)} (then ${sequence(b!)}) (else ${sequence(c!)}))`;
  return `(${[e.op, e.imm, ...e.args.map(folded)].filter(Boolean).join(' ')})`;
}

/** As a sequence of instructions, where plain (stack) form may be used. */
function sequence(e: Expr): string {
  if (!e.plain) return folded(e);
  const [a, b, c] = e.args;
  if (e.op === 'block') return `block $b (result ${e.imm}) ${sequence(a!)} ${sequence(c!)} br_if $b drop ${sequence(b!)} end`;
  if (e.op === 'if') return `${sequence(a!)} if (result ${e.imm}) ${sequence(b!)} else ${sequence(c!)} end`;
  return [...e.args.map(sequence), e.op, e.imm].filter(Boolean).join(' ');
}

describe('random expressions', () => {
  it('f32x4, f32 and i32 trees in a function, folded and plain: wabt\'s bytes', () => {
    const root = fc.oneof(v128.map((e) => ['v128', e] as const), f32.map((e) => ['f32', e] as const), i32.map((e) => ['i32', e] as const));
    fc.assert(
      fc.property(root, ([type, e]) => {
        const text = `(module (import "env" "memory" (memory 1))
  (func $f (export "f") (param $n i32) (param $x f32) (param $v v128) (result ${type})
    ${sequence(e)}))`;
        expect(difference(text, true)).toBeUndefined();
      }),
      { numRuns: 200, seed: 21 },
    );
  });
});

// ---------------------------------------------------------------- float literals

/** x = S·2^k exactly, for a finite positive float32 (single) or float64. */
function binaryParts(x: number, single: boolean): [bigint, number] {
  const bits = single ? BigInt(new Uint32Array(new Float32Array([x]).buffer)[0]!) : new BigUint64Array(new Float64Array([x]).buffer)[0]!;
  const p = single ? 23 : 52, bias = single ? 150 : 1075;
  const e = Number(bits >> BigInt(p)), f = bits & ((1n << BigInt(p)) - 1n);
  return e === 0 ? [f, 1 - bias] : [f | (1n << BigInt(p)), e - bias];
}

/**
 * Decimals exactly at the midpoint above x (S·2^k with S = 2·significand + 1), and
 * just either side of it. Not below −2 of the smallest subnormals: there wabt's
 * decimal reader (musl's strtof and strtod, compiled to WebAssembly) misrounds
 * negative numbers — −(2^−150) to +0, −(1.5·2^−149 + tiny) to −2^−149 — where we
 * round correctly ('a known difference' below).
 */
function midpointTexts(x: number, single: boolean): string[] {
  const [s, k] = binaryParts(Math.abs(x), single), S = 2n * s + 1n, K = k - 1;
  const [digits, exp] = K >= 0 ? [S << BigInt(K), 0] : [S * 5n ** BigInt(-K), K];
  const sign = x < 0 && s >= 2n ? '-' : '', far = 10n ** 20n;
  return [`${sign}${digits}e${exp}`, `${sign}${digits * far + 1n}e${exp - 20}`, `${sign}${digits * far - 1n}e${exp - 20}`];
}

const hexFloatText = fc.record({ whole: fc.bigInt({ min: 0n, max: (1n << 70n) - 1n }), fracDigits: fc.nat({ max: 8 }), exp: fc.integer({ min: -1200, max: 1100 }), neg: fc.boolean() })
  .map(({ whole, fracDigits, exp, neg }) => {
    const h = whole.toString(16), cut = Math.max(1, h.length - fracDigits);
    return `${neg ? '-' : ''}0x${h.slice(0, cut)}${cut < h.length ? '.' + h.slice(cut) : ''}p${exp}`;
  });
const decimalText = fc.record({ digits: fc.bigInt({ min: 0n, max: 10n ** 30n }), exp: fc.integer({ min: -360, max: 320 }) }).map(({ digits, exp }) => `${digits}e${exp}`);

/** The bits of `type`.const `text` as we and wabt write them: both the same bytes, or both refusing the literal. */
function sameLiteral(type: 'f32' | 'f64', text: string) {
  const module = `(module (func (result ${type}) (${type}.const ${text})))`;
  const theirs = wabtBytes(module);
  if (theirs) expect(hex(assembleWat(module)), text).toBe(hex(theirs));
  else expect(errorOf(module), text).toMatch(/^1:\d+: /);
}

describe('float literals', () => {
  it('f32: the nearest float32, rounded once, as wabt (decimal, hex, midpoints, overflow)', () => {
    const text = fc.oneof(
      floatText,
      decimalText,
      hexFloatText,
      fc.float({ noNaN: true, noDefaultInfinity: true }).chain((x) => fc.constantFrom(...midpointTexts(x, true))),
      fc.integer({ min: 1, max: 0x7fffff }).map((p) => `nan:0x${p.toString(16)}`),
    );
    fc.assert(fc.property(text, (t) => sameLiteral('f32', t)), { numRuns: 300, seed: 22 });
    for (const t of ['1.000000059604644775390625', '1.0000000596046447753906250000000001', '3.4028235677973366e38', '3.40282357e38', '0x1.ffffffp127', '7e-46', '1e-400', '-0', '1_000.5', '0x1_0.8p1_0', 'nan:0x0', '.5', '1e', '0X10', 'infinity']) {
      sameLiteral('f32', t);
    }
  });
  it('f64: the nearest float64, as wabt', () => {
    const text = fc.oneof(
      fc.double().map((x) => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : String(x))),
      decimalText,
      hexFloatText,
      fc.double({ noNaN: true, noDefaultInfinity: true }).chain((x) => fc.constantFrom(...midpointTexts(x, false))),
    );
    fc.assert(fc.property(text, (t) => sameLiteral('f64', t)), { numRuns: 300, seed: 23 });
    for (const t of ['1.7976931348623159e308', '5e-324', '2e-324', 'nan:0xfffffffffffff']) sameLiteral('f64', t);
  });
  it('a known difference: hex literals with more digits than the float holds are rounded, where wabt truncates them', () => {
    // 0x1b578362ad988a|9000: 69 bits, the 16 dropped are 0x9000 > half, so the nearest float64 ends in …8b.
    const text = '(module (func (result f64) (f64.const 0x1b578362ad988a9000p0)))';
    expect(hex(assembleWat(text)).slice(-18, -2)).toBe('8b98ad6283573b44');
    expect(hex(wabtBytes(text)!).slice(-18, -2)).toBe('8a98ad6283573b44');
  });
  it('a known difference: tiny negative decimals are rounded correctly, where wabt misrounds them', () => {
    const half = `-${5n ** 150n}e-150`; // −2^−150, halfway between −0 and −2^−149: to −0 (even)
    expect(hex(assembleWat(`(module (func (result f32) (f32.const ${half})))`)).slice(-10, -2)).toBe('00000080');
    expect(hex(wabtBytes(`(module (func (result f32) (f32.const ${half})))`)!).slice(-10, -2)).toBe('00000000');
  });
});

// ---------------------------------------------------------------- errors

describe('errors', () => {
  const cases: [string, string][] = [
    ['(module (func (f32x4.frob (local.get 0))))', '1:16: unknown instruction `f32x4.frob`'],
    ['(module\n  (func $f (param $a i32)\n    (drop (local.get $nope))))', '3:22: undefined local `$nope`'],
    ['(module (func (local.get 0)))', '1:26: undefined local `0`'],
    ['(module (func (block $a (br $b))))', '1:29: undefined label `$b`'],
    ['(module (func (br 1)))', '1:19: undefined label `1` (1 enclosing blocks)'],
    ['(module (func (call $g)))', '1:21: undefined function `$g`'],
    ['(module (func (drop (i32.const 0x1_0000_0000))))', '1:32: integer out of range for i32: `0x1_0000_0000`'],
    ['(module (func (drop (i32.const 1.5))))', '1:32: invalid integer `1.5`'],
    ['(module (func (drop (f32.const 1e39))))', '1:32: float literal out of range: `1e39`'],
    ['(module (func (drop (f32.const abc))))', '1:32: invalid float literal `abc`'],
    ['(module (func (drop (v128.load align=3 (i32.const 0)))))', '1:32: alignment must be a power of two: `align=3`'],
    ['(module (func (drop (f32x4.extract_lane x (local.get 0)))))', '1:41: expected a lane index, found `x`'],
    ['(module (func (drop (v128.const f32x8 0 0 0 0))))', '1:33: unknown v128 shape `f32x8`'],
    ['(module (func (drop (v128.const i32x4 0 0 0))))', '1:44: expected an i32x4 lane'],
    ['(module (func (drop (i32.add (i32.const 1) 2))))', '1:44: expected an operand, found `2`'],
    ['(module (func (param $x i33)))', '1:25: unknown value type `i33`'],
    ['(module (func (param $x i32) (local $x f32)))', '1:37: duplicate local `$x`'],
    ['(module (func $f) (func $f))', '1:25: duplicate function `$f`'],
    ['(module (memory 1))', '1:10: unsupported module field `memory` (imports and functions only)'],
    ['(module (func) (import "env" "memory" (memory 1)))', '1:17: imports must come before the functions'],
    ['(module (func (if (i32.const 1) (else))))', '1:33: expected `(then …)`'],
    ['(module (func (block (param i32))))', '1:22: unsupported block type (at most one result, no parameters)'],
    ['(module (func (nop))', '1:1: unclosed `(`'],
    ['(module (func (nop))))', '1:22: unexpected `)`'],
    ['(module (func [)))', '1:15: unexpected character `[`'],
    ['(module (func (export "f)))', '1:23: unterminated string'],
    ['(module (func end))', '1:15: unexpected `end`'],
    ['(module (func block nop))', '1:15: `block` without `end`'],
    ['(module (func (block loop nop)))', '1:22: `loop` without `end`'],
    ['(module (func (block if nop)))', '1:22: `if` without `end`'],
    ['(module (func block $a end $b))', '1:28: `$b` does not name the block it ends'],
    ['(module) (module)', '1:10: unexpected `(` after the module'],
    ['(module (func (export "c̃γ") (nope)))', '1:30: unknown instruction `nope`'],
  ];
  for (const [text, message] of cases) {
    it(message, () => expect(errorOf(text)).toBe(message));
  }

  it('carries line, column and offset', () => {
    const text = '(module\n  (func (bogus)))';
    const e = (() => {
      try {
        assembleWat(text);
      } catch (x) {
        return x;
      }
    })() as WatError;
    expect(e).toBeInstanceOf(WatError);
    expect([e.line, e.col, e.offset, e.name]).toEqual([2, 10, text.indexOf('bogus'), 'WatError']);
  });

  it('damaged kernel text: a WatError or wabt\'s bytes, never another exception', () => {
    const text = gemmWat(false, DEFAULT_GEMM).slice(0, 6000) + '))))))))';
    const edit = fc.record({ at: fc.nat({ max: 6000 }), cut: fc.nat({ max: 12 }), insert: fc.stringMatching(/^[()$ 0a;.=x"-]{0,3}$/) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const damaged = edits.reduce((t, { at, cut, insert }) => t.slice(0, at) + insert + t.slice(at + cut), text);
        let ours: Uint8Array | undefined;
        try {
          ours = assembleWat(damaged);
        } catch (e) {
          expect(e).toBeInstanceOf(WatError);
          expect((e as WatError).message).toMatch(/^\d+:\d+: /);
        }
        const theirs = ours && wabtBytes(damaged);
        if (ours && theirs) expect(hex(ours)).toBe(hex(theirs));
      }),
      { numRuns: 150, seed: 24 },
    );
  });
});
