// A WebAssembly text (WAT) assembler for the subset celda writes: kernels-wat.ts's
// kernels and the per-cell kernels the compiler assembles at compile time. It is
// synchronous and depends on nothing, because the compiler runs in a browser and
// imports no node:* (wabt, the usual assembler, initialises asynchronously and
// stays a development dependency). Its output is byte for byte what wabt writes
// (`parseWat(…).toBinary({})`: canonical LEB128, no name section), so it does not
// matter which of the two assembled a module; test/wasm-assemble.test.ts holds it
// to that, instruction by instruction — except for two kinds of float literal
// that wabt's JavaScript build misrounds and this one rounds correctly: negative
// decimals a step or two above −0 among the smallest subnormals (−2⁻¹⁵⁰ to +0),
// and hex literals with more significant digits than the float holds (truncated).
// celda writes neither (loops-wat.ts writes float32 constants as short decimals).
//
// text → read (atoms, strings and nested lists, comments dropped) → moduleOf
// (imports and functions, types deduplicated in order of first use, names of
// functions known before any body is encoded, so a call may precede its callee)
// → encode (one pass per body with the stack of labels; folded and plain
// instructions alike). The subset: a module of imports (a memory, functions)
// and functions with inline exports; numeric, memory, bulk-memory, SIMD and
// relaxed-SIMD instructions; block, loop and if with at most one result.
// Anything else is a WatError at the line:col of the offending token.

// ---------------------------------------------------------------- errors

/** Malformed or unsupported text. The message starts with `line:col` (1-based; columns count graphemes). */
export class WatError extends Error {
  override readonly name = 'WatError';
  constructor(message: string, readonly line: number, readonly col: number, readonly offset: number) {
    super(message);
  }
}

/** Thrown with a string offset while assembling; assembleWat renders it as a WatError (lines and columns only then). */
class Bad {
  constructor(readonly at: number, readonly what: string) {}
}
const bad = (at: number, what: string): never => {
  throw new Bad(at, what);
};

function watError(text: string, { at, what }: Bad): WatError {
  const lineStart = at === 0 ? 0 : text.lastIndexOf('\n', at - 1) + 1;
  const line = text.slice(0, lineStart).split('\n').length;
  const col = [...new Intl.Segmenter().segment(text.slice(lineStart, at))].length + 1;
  return new WatError(`${line}:${col}: ${what}`, line, col, at);
}

// ---------------------------------------------------------------- reading

interface Atom { readonly kind: 'atom'; readonly text: string; readonly at: number }
interface Str { readonly kind: 'string'; readonly bytes: readonly number[]; readonly at: number }
interface List { readonly kind: 'list'; readonly items: Sexp[]; readonly at: number; end: number }
type Sexp = Atom | Str | List;

/** The characters of a WAT keyword, number or $name. */
const ATOM = /[0-9A-Za-z!#$%&'*+\-./:<=>?@\\^_`|~]+/y;
const ESCAPES: Readonly<Record<string, number>> = { n: 10, t: 9, r: 13, '"': 34, "'": 39, '\\': 92 };
const utf8 = new TextEncoder();

/** The top-level S-expressions of `text`. */
function read(text: string): Sexp[] {
  const top: Sexp[] = [], open: List[] = [];
  const add = (s: Sexp) => (open.length ? open[open.length - 1]!.items : top).push(s);
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (text.startsWith(';;', i)) i = text.includes('\n', i) ? text.indexOf('\n', i) : text.length;
    else if (text.startsWith('(;', i)) i = blockComment(text, i);
    else if (c === '(') {
      const l: List = { kind: 'list', items: [], at: i, end: i };
      add(l);
      open.push(l);
      i++;
    } else if (c === ')') {
      (open.pop() ?? bad(i, 'unexpected `)`')).end = i++;
    } else if (c === '"') {
      const [s, next] = readString(text, i);
      add(s);
      i = next;
    } else {
      ATOM.lastIndex = i;
      const m = ATOM.exec(text) ?? bad(i, `unexpected character \`${String.fromCodePoint(text.codePointAt(i)!)}\``);
      add({ kind: 'atom', text: m[0], at: i });
      i += m[0].length;
    }
  }
  if (open.length) bad(open[open.length - 1]!.at, 'unclosed `(`');
  return top;
}

/** The offset after a (possibly nested) `(; … ;)` comment. */
function blockComment(text: string, start: number): number {
  let depth = 0, i = start;
  do {
    if (i >= text.length) bad(start, 'unclosed `(;` comment');
    if (text.startsWith('(;', i)) depth++, i += 2;
    else if (text.startsWith(';)', i)) depth--, i += 2;
    else i++;
  } while (depth);
  return i;
}

/** A string literal's bytes (UTF-8, with \n \t \r \" \' \\ \hh and \u{…} escapes) and the offset after it. */
function readString(text: string, start: number): [Str, number] {
  const bytes: number[] = [];
  let i = start + 1;
  for (;;) {
    if (i >= text.length || text[i] === '\n') bad(start, 'unterminated string');
    const c = text[i]!;
    if (c === '"') return [{ kind: 'string', bytes, at: start }, i + 1];
    if (c !== '\\') {
      const cp = text.codePointAt(i)!;
      bytes.push(...utf8.encode(String.fromCodePoint(cp)));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1] ?? '', hex = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 1, i + 3)), u = /^u\{([0-9a-fA-F]+)\}/.exec(text.slice(i + 1, i + 12));
    if (Object.hasOwn(ESCAPES, e)) bytes.push(ESCAPES[e]), i += 2;
    else if (hex) bytes.push(parseInt(hex[0], 16)), i += 3;
    else if (u && parseInt(u[1]!, 16) <= 0x10ffff) bytes.push(...utf8.encode(String.fromCodePoint(parseInt(u[1]!, 16)))), i += 1 + u[0].length;
    else bad(i, `invalid escape \`\\${e}\``);
  }
}

const show = (s: Sexp) => (s.kind === 'list' ? '`(`' : s.kind === 'atom' ? `\`${s.text}\`` : 'a string');
const headOf = (s: Sexp | undefined) => (s?.kind === 'list' && s.items[0]?.kind === 'atom' ? s.items[0].text : undefined);

/** Items read one by one; `end` is where a missing item is reported (a list's `)`). */
class Cursor {
  i = 0;
  constructor(readonly items: readonly Sexp[], readonly end: number) {}
  static of(l: List, skip = 1) {
    const c = new Cursor(l.items, l.end);
    c.i = skip;
    return c;
  }
  get done() {
    return this.i >= this.items.length;
  }
  peek(): Sexp | undefined {
    return this.items[this.i];
  }
  next(what: string): Sexp {
    return this.items[this.i++] ?? bad(this.end, `expected ${what}`);
  }
  atom(what: string): Atom {
    const s = this.next(what);
    return s.kind === 'atom' ? s : bad(s.at, `expected ${what}, found ${show(s)}`);
  }
  string(what: string): Str {
    const s = this.next(what);
    return s.kind === 'string' ? s : bad(s.at, `expected ${what}, found ${show(s)}`);
  }
  /** The next item if it is an atom matching `re`. */
  maybe(re: RegExp): Atom | undefined {
    const s = this.peek();
    if (s?.kind === 'atom' && re.test(s.text)) return this.i++, s;
    return undefined;
  }
  /** The next item if it is a list headed by `head`. */
  list(head: string): List | undefined {
    const s = this.peek();
    if (headOf(s) === head) return this.i++, s as List;
    return undefined;
  }
  /** Nothing may follow. */
  close() {
    const s = this.peek();
    if (s) bad(s.at, `unexpected ${show(s)}`);
  }
}

// ---------------------------------------------------------------- numbers

const DIGITS = '\\d(?:_?\\d)*', HEX = '[0-9a-fA-F](?:_?[0-9a-fA-F])*';
const NAT = new RegExp(`^(?:${DIGITS}|0x${HEX})$`);
const DEC_FLOAT = new RegExp(`^(${DIGITS})(?:\\.(${DIGITS})?)?(?:[eE]([+-]?${DIGITS}))?$`);
const HEX_FLOAT = new RegExp(`^0x(${HEX})(?:\\.(${HEX})?)?(?:[pP]([+-]?${DIGITS}))?$`);
const NAN = new RegExp(`^nan(?::0x(${HEX}))?$`);
/** Digits without their `_` separators. */
const digitsOf = (text: string) => text.replace(/_/g, '');

/** An unsigned 32-bit number (an offset, a lane, an index). */
function nat(a: Atom, what: string): number {
  const v = NAT.test(a.text) ? Number(digitsOf(a.text)) : bad(a.at, `expected ${what}, found \`${a.text}\``);
  return v <= 0xffffffff ? v : bad(a.at, `${what} out of range: \`${a.text}\``);
}

/** An integer of `bits` bits, written signed or unsigned (wabt accepts −2^(bits−1) … 2^bits − 1), as its unsigned bits. */
function int(a: Atom, bits: number): bigint {
  const sign = /^[+-]/.test(a.text) ? a.text[0] : '', digits = a.text.slice(sign.length);
  if (!NAT.test(digits)) bad(a.at, `invalid integer \`${a.text}\``);
  const v = (sign === '-' ? -1n : 1n) * BigInt(digitsOf(digits));
  if (v < -(1n << BigInt(bits - 1)) || v >= 1n << BigInt(bits)) bad(a.at, `integer out of range for i${bits}: \`${a.text}\``);
  return BigInt.asUintN(bits, v);
}

/** An IEEE binary format: significand bits p (with the hidden one); x = q·2^E with E in minE … maxE when q has p bits. */
interface FloatFormat { readonly bits: number; readonly p: number; readonly minE: number; readonly maxE: number }
const F32: FloatFormat = { bits: 32, p: 24, minE: -149, maxE: 104 };
const F64: FloatFormat = { bits: 64, p: 53, minE: -1074, maxE: 971 };

/**
 * A float literal's bits: decimal or hex, inf, nan and nan:0x… . The value is
 * rounded once, exactly, to the nearest float (ties to even), as wabt does (its
 * strtof, and its own hex reader): not parseFloat then Math.fround, which rounds
 * twice and is off by one ulp for decimals near the midpoint of two floats.
 * Finite literals that round to infinity are refused, as wabt refuses them.
 */
function float(a: Atom, f: FloatFormat): bigint {
  const neg = a.text[0] === '-', t = a.text.replace(/^[+-]/, '');
  const sign = neg ? 1n << BigInt(f.bits - 1) : 0n, fraction = BigInt(f.p - 1);
  const inf = ((1n << BigInt(f.bits - f.p)) - 1n) << fraction;
  if (t === 'inf') return sign | inf;
  const nan = NAN.exec(t);
  if (nan) {
    const payload = nan[1] ? BigInt('0x' + digitsOf(nan[1])) : 1n << (fraction - 1n);
    return payload > 0n && payload < 1n << fraction ? sign | inf | payload : bad(a.at, `NaN payload out of range: \`${a.text}\``);
  }
  const dec = DEC_FLOAT.exec(t), hex = dec ? null : HEX_FLOAT.exec(t);
  const [, whole = '', frac = '', exp = '0'] = dec ?? hex ?? bad(a.at, `invalid float literal \`${a.text}\``);
  const n = BigInt((hex ? '0x' : '') + digitsOf(whole + frac)), e = Number(digitsOf(exp)) - digitsOf(frac).length * (hex ? 4 : 1);
  const bits = hex ? nearest(n, e, 0, f) : nearest(n, 0, e, f);
  return bits === undefined ? bad(a.at, `float literal out of range: \`${a.text}\``) : sign | bits;
}

/** The bits of the float nearest n·2^e2·10^e10 (ties to even), undefined past the largest finite one. */
function nearest(n: bigint, e2: number, e10: number, f: FloatFormat): bigint | undefined {
  if (n === 0n) return 0n;
  // Far outside the format: settled without building huge powers of ten.
  const size = n.toString(2).length + e2 + e10 * Math.log2(10);
  if (size > f.maxE + f.p + 2) return undefined;
  if (size < f.minE - 2) return 0n;
  let num = n, den = 1n;
  if (e10 > 0) num *= 10n ** BigInt(e10);
  else den *= 10n ** BigInt(-e10);
  if (e2 > 0) num <<= BigInt(e2);
  else den <<= BigInt(-e2);
  // x = num/den = q·2^E with 2^(p−1) ≤ q < 2^p, or E = minE and q smaller (subnormal).
  const scaled = (E: number): [bigint, bigint] => (E >= 0 ? [num, den << BigInt(E)] : [num << BigInt(-E), den]);
  let E = Math.max(num.toString(2).length - den.toString(2).length - f.p, f.minE);
  let [a, b] = scaled(E);
  if (a / b >= 1n << BigInt(f.p)) [a, b] = scaled(++E);
  let q = a / b;
  const twice = 2n * (a - q * b);
  if (twice > b || (twice === b && q & 1n)) q++;
  if (q === 1n << BigInt(f.p)) (q >>= 1n), E++;
  if (E > f.maxE) return undefined;
  const hidden = 1n << BigInt(f.p - 1);
  return q < hidden ? q : (BigInt(E - f.minE + 1) << BigInt(f.p - 1)) | (q - hidden);
}

// ---------------------------------------------------------------- bytes

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
};
const sleb = (v: bigint): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const last = (v === 0n && !(b & 0x40)) || (v === -1n && (b & 0x40) !== 0);
    out.push(last ? b : b | 0x80);
    if (last) return out;
  }
};
/** `bits` as n little-endian bytes. */
const le = (bits: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((bits >> BigInt(8 * i)) & 0xffn));
const sized = (bytes: readonly number[]) => [...uleb(bytes.length), ...bytes];
const vec = (items: readonly (readonly number[])[]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, items: readonly (readonly number[])[]) => (items.length ? [id, ...sized(vec(items))] : []);

const VALTYPES: Readonly<Record<string, number>> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };
const valtype = (a: Atom) => (Object.hasOwn(VALTYPES, a.text) ? VALTYPES[a.text]! : bad(a.at, `unknown value type \`${a.text}\``));

// ---------------------------------------------------------------- instructions

/** What follows an instruction's name in the text (and its opcode in the binary). */
export type Immediate =
  | 'none' | 'memarg' | 'memlane' | 'lane' | 'shuffle' | 'v128' | 'i32' | 'i64' | 'f32' | 'f64' | 'local' | 'label' | 'br_table' | 'func';

const NAMED_IMMEDIATES: Readonly<Record<string, Immediate>> = {
  'i32.const': 'i32', 'i64.const': 'i64', 'f32.const': 'f32', 'f64.const': 'f64', 'v128.const': 'v128', 'i8x16.shuffle': 'shuffle',
  'local.get': 'local', 'local.set': 'local', 'local.tee': 'local', br: 'label', br_if: 'label', br_table: 'br_table', call: 'func',
};
/** The rest follow from the name: loads and stores take offset= and align=, lane accesses a lane index, both the lane loads. */
function immediateOf(name: string): Immediate {
  if (Object.hasOwn(NAMED_IMMEDIATES, name)) return NAMED_IMMEDIATES[name]!;
  const memory = /\.(load|store)/.test(name), lane = /_lane(_[su])?$/.test(name);
  return memory && lane ? 'memlane' : memory ? 'memarg' : lane ? 'lane' : 'none';
}

/** log2 of an access's natural alignment in bytes, from its name: v128.load8x8_s 8 bytes, i64.load32_u 4, f32.store 4. */
function naturalAlign(name: string): number {
  const lanes = /(\d+)x(\d+)/.exec(name), narrow = /(?:load|store)(\d+)/.exec(name);
  const bits = lanes ? +lanes[1]! * +lanes[2]! : narrow ? +narrow[1]! : name.startsWith('v128') ? 128 : name.slice(1, 3) === '64' ? 64 : 32;
  return Math.log2(bits / 8);
}

export interface Instruction { readonly code: readonly number[]; readonly immediate: Immediate }
const table = new Map<string, Instruction>();
/** Names at consecutive opcodes from `first` after `prefix` (`-` marks an unused opcode); `suffix`: fixed bytes after. */
function opcodes(first: number, names: string, prefix: number[] = [], suffix: number[] = []) {
  names.split(/\s+/).filter(Boolean).forEach((name, i) => {
    const code = prefix.length ? [...prefix, ...uleb(first + i)] : [first + i];
    if (name !== '-') table.set(name, { code: [...code, ...suffix], immediate: immediateOf(name) });
  });
}
const each = (type: string, ops: string) => ops.split(' ').map((op) => `${type}.${op}`).join(' ');
const ICMP = 'eqz eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u', FCMP = 'eq ne lt gt le ge';
const IARITH = 'clz ctz popcnt add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr';
const FARITH = 'abs neg ceil floor trunc nearest sqrt add sub mul div min max copysign';
const VICMP = ICMP.slice('eqz '.length);

opcodes(0x00, 'unreachable nop');
opcodes(0x0c, 'br br_if br_table return call');
opcodes(0x1a, 'drop select');
opcodes(0x20, 'local.get local.set local.tee');
opcodes(0x28, `i32.load i64.load f32.load f64.load i32.load8_s i32.load8_u i32.load16_s i32.load16_u
  i64.load8_s i64.load8_u i64.load16_s i64.load16_u i64.load32_s i64.load32_u
  i32.store i64.store f32.store f64.store i32.store8 i32.store16 i64.store8 i64.store16 i64.store32`);
opcodes(0x3f, 'memory.size memory.grow', [], [0x00]);
opcodes(0x41, 'i32.const i64.const f32.const f64.const');
opcodes(0x45, [each('i32', ICMP), each('i64', ICMP), each('f32', FCMP), each('f64', FCMP),
  each('i32', IARITH), each('i64', IARITH), each('f32', FARITH), each('f64', FARITH),
  `i32.wrap_i64 i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u i64.extend_i32_s i64.extend_i32_u
   i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u f32.convert_i32_s f32.convert_i32_u
   f32.convert_i64_s f32.convert_i64_u f32.demote_f64 f64.convert_i32_s f64.convert_i32_u f64.convert_i64_s
   f64.convert_i64_u f64.promote_f32 i32.reinterpret_f32 i64.reinterpret_f64 f32.reinterpret_i32 f64.reinterpret_i64
   i32.extend8_s i32.extend16_s i64.extend8_s i64.extend16_s i64.extend32_s`].join(' '));
opcodes(0x00, `i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u
  i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u`, [0xfc]);
opcodes(0x0a, 'memory.copy', [0xfc], [0x00, 0x00]);
opcodes(0x0b, 'memory.fill', [0xfc], [0x00]);
// SIMD and relaxed SIMD: every opcode from 0xfd 0x00 to 0xfd 0x113, in order.
opcodes(0x00, `v128.load v128.load8x8_s v128.load8x8_u v128.load16x4_s v128.load16x4_u v128.load32x2_s v128.load32x2_u
  v128.load8_splat v128.load16_splat v128.load32_splat v128.load64_splat v128.store v128.const i8x16.shuffle i8x16.swizzle
  i8x16.splat i16x8.splat i32x4.splat i64x2.splat f32x4.splat f64x2.splat
  i8x16.extract_lane_s i8x16.extract_lane_u i8x16.replace_lane i16x8.extract_lane_s i16x8.extract_lane_u i16x8.replace_lane
  i32x4.extract_lane i32x4.replace_lane i64x2.extract_lane i64x2.replace_lane
  f32x4.extract_lane f32x4.replace_lane f64x2.extract_lane f64x2.replace_lane
  ${each('i8x16', VICMP)} ${each('i16x8', VICMP)} ${each('i32x4', VICMP)} ${each('f32x4', FCMP)} ${each('f64x2', FCMP)}
  v128.not v128.and v128.andnot v128.or v128.xor v128.bitselect v128.any_true
  v128.load8_lane v128.load16_lane v128.load32_lane v128.load64_lane v128.store8_lane v128.store16_lane v128.store32_lane v128.store64_lane
  v128.load32_zero v128.load64_zero f32x4.demote_f64x2_zero f64x2.promote_low_f32x4
  i8x16.abs i8x16.neg i8x16.popcnt i8x16.all_true i8x16.bitmask i8x16.narrow_i16x8_s i8x16.narrow_i16x8_u
  f32x4.ceil f32x4.floor f32x4.trunc f32x4.nearest i8x16.shl i8x16.shr_s i8x16.shr_u
  i8x16.add i8x16.add_sat_s i8x16.add_sat_u i8x16.sub i8x16.sub_sat_s i8x16.sub_sat_u f64x2.ceil f64x2.floor
  i8x16.min_s i8x16.min_u i8x16.max_s i8x16.max_u f64x2.trunc i8x16.avgr_u
  i16x8.extadd_pairwise_i8x16_s i16x8.extadd_pairwise_i8x16_u i32x4.extadd_pairwise_i16x8_s i32x4.extadd_pairwise_i16x8_u
  i16x8.abs i16x8.neg i16x8.q15mulr_sat_s i16x8.all_true i16x8.bitmask i16x8.narrow_i32x4_s i16x8.narrow_i32x4_u
  i16x8.extend_low_i8x16_s i16x8.extend_high_i8x16_s i16x8.extend_low_i8x16_u i16x8.extend_high_i8x16_u
  i16x8.shl i16x8.shr_s i16x8.shr_u i16x8.add i16x8.add_sat_s i16x8.add_sat_u i16x8.sub i16x8.sub_sat_s i16x8.sub_sat_u
  f64x2.nearest i16x8.mul i16x8.min_s i16x8.min_u i16x8.max_s i16x8.max_u - i16x8.avgr_u
  i16x8.extmul_low_i8x16_s i16x8.extmul_high_i8x16_s i16x8.extmul_low_i8x16_u i16x8.extmul_high_i8x16_u
  i32x4.abs i32x4.neg - i32x4.all_true i32x4.bitmask - -
  i32x4.extend_low_i16x8_s i32x4.extend_high_i16x8_s i32x4.extend_low_i16x8_u i32x4.extend_high_i16x8_u
  i32x4.shl i32x4.shr_s i32x4.shr_u i32x4.add - - i32x4.sub - - - i32x4.mul i32x4.min_s i32x4.min_u i32x4.max_s i32x4.max_u
  i32x4.dot_i16x8_s - i32x4.extmul_low_i16x8_s i32x4.extmul_high_i16x8_s i32x4.extmul_low_i16x8_u i32x4.extmul_high_i16x8_u
  i64x2.abs i64x2.neg - i64x2.all_true i64x2.bitmask - -
  i64x2.extend_low_i32x4_s i64x2.extend_high_i32x4_s i64x2.extend_low_i32x4_u i64x2.extend_high_i32x4_u
  i64x2.shl i64x2.shr_s i64x2.shr_u i64x2.add - - i64x2.sub - - - i64x2.mul
  i64x2.eq i64x2.ne i64x2.lt_s i64x2.gt_s i64x2.le_s i64x2.ge_s
  i64x2.extmul_low_i32x4_s i64x2.extmul_high_i32x4_s i64x2.extmul_low_i32x4_u i64x2.extmul_high_i32x4_u
  f32x4.abs f32x4.neg - f32x4.sqrt f32x4.add f32x4.sub f32x4.mul f32x4.div f32x4.min f32x4.max f32x4.pmin f32x4.pmax
  f64x2.abs f64x2.neg - f64x2.sqrt f64x2.add f64x2.sub f64x2.mul f64x2.div f64x2.min f64x2.max f64x2.pmin f64x2.pmax
  i32x4.trunc_sat_f32x4_s i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_s f32x4.convert_i32x4_u
  i32x4.trunc_sat_f64x2_s_zero i32x4.trunc_sat_f64x2_u_zero f64x2.convert_low_i32x4_s f64x2.convert_low_i32x4_u
  i8x16.relaxed_swizzle i32x4.relaxed_trunc_f32x4_s i32x4.relaxed_trunc_f32x4_u
  i32x4.relaxed_trunc_f64x2_s_zero i32x4.relaxed_trunc_f64x2_u_zero
  f32x4.relaxed_madd f32x4.relaxed_nmadd f64x2.relaxed_madd f64x2.relaxed_nmadd
  i8x16.relaxed_laneselect i16x8.relaxed_laneselect i32x4.relaxed_laneselect i64x2.relaxed_laneselect
  f32x4.relaxed_min f32x4.relaxed_max f64x2.relaxed_min f64x2.relaxed_max
  i16x8.relaxed_q15mulr_s i16x8.relaxed_dot_i8x16_i7x16_s i32x4.relaxed_dot_i8x16_i7x16_add_s`, [0xfd]);

/** Every plain instruction by name (block, loop, if, else and end are structure, handled by the encoder). */
export const INSTRUCTIONS: ReadonlyMap<string, Instruction> = table;

/** v128.const's shapes: lanes, and how one lane is read. */
const SHAPES: Readonly<Record<string, { lanes: number; bits: number; lane(a: Atom): bigint }>> = {
  i8x16: { lanes: 16, bits: 8, lane: (a) => int(a, 8) },
  i16x8: { lanes: 8, bits: 16, lane: (a) => int(a, 16) },
  i32x4: { lanes: 4, bits: 32, lane: (a) => int(a, 32) },
  i64x2: { lanes: 2, bits: 64, lane: (a) => int(a, 64) },
  f32x4: { lanes: 4, bits: 32, lane: (a) => float(a, F32) },
  f64x2: { lanes: 2, bits: 64, lane: (a) => float(a, F64) },
};

// ---------------------------------------------------------------- the module

interface Func {
  readonly type: number;
  /** Declared locals' types, after the parameters. */
  readonly locals: readonly number[];
  /** Parameters then locals, by index; names where given. */
  readonly names: ReadonlyMap<string, number>;
  readonly count: number;
  readonly body: Cursor;
}

interface Module {
  readonly types: number[][];
  readonly imports: number[][];
  readonly funcs: Func[];
  readonly exports: number[][];
  /** Imported then defined functions, by name, and how many there are. */
  readonly funcNames: Map<string, number>;
  funcCount: number;
}

/** Reads `(module …)` (or its fields alone, as wabt allows). */
function moduleOf(top: readonly Sexp[], textEnd: number): Module {
  let fields = new Cursor(top, textEnd);
  if (headOf(top[0]) === 'module') {
    fields = Cursor.of(top[0] as List);
    fields.maybe(/^\$/);
    if (top[1]) bad(top[1].at, `unexpected ${show(top[1])} after the module`);
  }
  const m: Module = { types: [], imports: [], funcs: [], exports: [], funcNames: new Map(), funcCount: 0 };
  const typeKeys = new Map<string, number>();
  // wabt numbers function types in order of first use by an import or a function, calls aside.
  const typeOf = (params: number[], results: number[]) => {
    const t = [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))], key = t.join();
    if (!typeKeys.has(key)) typeKeys.set(key, m.types.push(t) - 1);
    return typeKeys.get(key)!;
  };
  const nameFunc = (id: Atom | undefined) => {
    if (id && m.funcNames.has(id.text)) bad(id.at, `duplicate function \`${id.text}\``);
    if (id) m.funcNames.set(id.text, m.funcCount);
    m.funcCount++;
  };
  while (!fields.done) {
    const field = fields.next('a module field');
    if (field.kind !== 'list') bad(field.at, `expected a module field, found ${show(field)}`);
    const c = Cursor.of(field as List, 0), head = c.atom('a module field');
    if (head.text === 'import') {
      if (m.funcs.length) bad(head.at, 'imports must come before the functions');
      const where = [...sized(c.string('a module name').bytes), ...sized(c.string('an import name').bytes)];
      const d = c.next('an import description');
      const dc = d.kind === 'list' ? Cursor.of(d, 0) : bad(d.at, `expected an import description, found ${show(d)}`);
      const kind = dc.atom('an import kind');
      if (kind.text === 'memory') {
        dc.maybe(/^\$/);
        const min = nat(dc.atom('a minimum size'), 'a minimum size'), maxAtom = dc.maybe(NAT), shared = dc.maybe(/^shared$/);
        dc.close();
        const limits = [(maxAtom ? 1 : 0) | (shared ? 2 : 0), ...uleb(min), ...(maxAtom ? uleb(nat(maxAtom, 'a maximum size')) : [])];
        m.imports.push([...where, 0x02, ...limits]);
      } else if (kind.text === 'func') {
        nameFunc(dc.maybe(/^\$/));
        const sig = signature(dc, new Map());
        dc.close();
        m.imports.push([...where, 0x00, ...uleb(typeOf(sig.params, sig.results))]);
      } else bad(kind.at, `unsupported import \`${kind.text}\` (memories and functions only)`);
      c.close();
    } else if (head.text === 'func') {
      const id = c.maybe(/^\$/), index = m.funcCount;
      nameFunc(id);
      for (let e; (e = c.list('export')); ) {
        const ec = Cursor.of(e);
        m.exports.push([...sized(ec.string('an export name').bytes), 0x00, ...uleb(index)]);
        ec.close();
      }
      const names = new Map<string, number>(), sig = signature(c, names), locals: number[] = [];
      for (let l; (l = c.list('local')); ) declare(Cursor.of(l), names, locals, sig.params.length);
      m.funcs.push({ type: typeOf(sig.params, sig.results), locals, names, count: sig.params.length + locals.length, body: c });
    } else bad(head.at, `unsupported module field \`${head.text}\` (imports and functions only)`);
  }
  return m;
}

/** `(param …)*` `(result …)*`: parameters named into `names`. */
function signature(c: Cursor, names: Map<string, number>) {
  const params: number[] = [], results: number[] = [];
  for (let p; (p = c.list('param')); ) declare(Cursor.of(p), names, params, 0);
  for (let r; (r = c.list('result')); ) for (const rc = Cursor.of(r); !rc.done; ) results.push(valtype(rc.atom('a value type')));
  return { params, results };
}

/** `(param $x T)`, `(param T*)` and the same of locals: types onto `into`, numbered from `base`. */
function declare(c: Cursor, names: Map<string, number>, into: number[], base: number) {
  const id = c.maybe(/^\$/);
  if (id) {
    if (names.has(id.text)) bad(id.at, `duplicate local \`${id.text}\``);
    names.set(id.text, base + into.length);
    into.push(valtype(c.atom('a value type')));
    c.close();
  } else while (!c.done) into.push(valtype(c.atom('a value type')));
}

// ---------------------------------------------------------------- bodies

/** An enclosing block: `plain` if opened by a plain block/loop/if (closed by `end`), else closed by its `)`. */
interface Label { readonly name?: string; readonly kind: 'func' | 'block' | 'loop' | 'if' | 'else'; readonly plain: boolean; readonly at: number }

interface Scope {
  readonly m: Module;
  readonly f: Func;
  readonly labels: Label[];
  readonly out: number[];
}

/** A function's code: its locals in runs of one type, its instructions, end. */
function code(m: Module, f: Func): number[] {
  const runs: [number, number][] = [];
  for (const t of f.locals) {
    const last = runs[runs.length - 1];
    if (last?.[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  const s: Scope = { m, f, labels: [{ kind: 'func', plain: false, at: 0 }], out: [] };
  instructions(f.body, s);
  unclosed(s, 1);
  return sized([...vec(runs.map(([n, t]) => [...uleb(n), t])), ...s.out, 0x0b]);
}

function unclosed(s: Scope, depth: number) {
  const l = s.labels[depth];
  if (l) bad(l.at, `\`${l.kind === 'else' ? 'if' : l.kind}\` without \`end\``);
}

function instructions(c: Cursor, s: Scope) {
  while (!c.done) {
    const x = c.next('an instruction');
    if (x.kind === 'list') folded(x, s);
    else if (x.kind === 'atom') plainInstruction(x, c, s);
    else bad(x.at, 'expected an instruction, found a string');
  }
}

interface BlockHeader { readonly op: Atom; readonly name?: string; readonly type: number }
const OPENERS: Readonly<Record<string, number>> = { block: 0x02, loop: 0x03, if: 0x04 };

/** What follows block, loop or if: `$label? (result T)?` (0x40: no result). */
function header(op: Atom, c: Cursor): BlockHeader {
  const name = c.maybe(/^\$/)?.text, results: number[] = [];
  for (let r; (r = c.list('result')); ) for (const rc = Cursor.of(r); !rc.done; ) results.push(valtype(rc.atom('a value type')));
  const p = c.list('param') ?? c.list('type');
  if (p || results.length > 1) bad(p?.at ?? op.at, 'unsupported block type (at most one result, no parameters)');
  return { op, name, type: results[0] ?? 0x40 };
}

/** Opens a block: its label pushed, its opcode and type written. */
function enter({ op, name, type }: BlockHeader, s: Scope, plain: boolean) {
  s.labels.push({ name, kind: op.text as Label['kind'], plain, at: op.at });
  s.out.push(OPENERS[op.text]!, type);
}

/** A plain `else` or `end` may name its block: it must be the one it closes. */
function matching(c: Cursor, l: Label) {
  const id = c.maybe(/^\$/);
  if (id && id.text !== l.name) bad(id.at, `\`${id.text}\` does not name the block it ends`);
}

function plainInstruction(op: Atom, c: Cursor, s: Scope) {
  const top = s.labels[s.labels.length - 1]!;
  switch (op.text) {
    case 'block': case 'loop': case 'if':
      enter(header(op, c), s, true);
      return;
    case 'else':
      if (!top.plain || top.kind !== 'if') bad(op.at, 'unexpected `else`');
      matching(c, top);
      s.labels[s.labels.length - 1] = { ...top, kind: 'else' };
      s.out.push(0x05);
      return;
    case 'end':
      if (!top.plain) bad(op.at, 'unexpected `end`');
      matching(c, top);
      s.labels.pop();
      s.out.push(0x0b);
      return;
  }
  const ins = instruction(op);
  s.out.push(...ins.code, ...immediates(op, ins, c, s));
}

/** `(op immediates… operands…)`: the operands (folded instructions) first, then the op. */
function folded(l: List, s: Scope) {
  const c = Cursor.of(l, 0), op = c.atom('an instruction'), depth = s.labels.length;
  if (op.text === 'block' || op.text === 'loop') {
    enter(header(op, c), s, false);
    instructions(c, s);
  } else if (op.text === 'if') {
    // `(if $l? (result T)? condition… (then …) (else …)?)`: the condition is computed outside the if.
    const h = header(op, c);
    while (!c.done && headOf(c.peek()) !== 'then' && headOf(c.peek()) !== 'else') {
      const x = c.next('');
      folded(x.kind === 'list' ? x : bad(x.at, `expected an operand or \`(then …)\`, found ${show(x)}`), s);
    }
    const then = c.list('then') ?? bad(c.peek()?.at ?? c.end, 'expected `(then …)`'), otherwise = c.list('else');
    c.close();
    enter(h, s, false);
    instructions(Cursor.of(then), s);
    if (otherwise) s.out.push(0x05), instructions(Cursor.of(otherwise), s);
  } else {
    const ins = instruction(op), imm = immediates(op, ins, c, s);
    while (!c.done) {
      const x = c.next('');
      folded(x.kind === 'list' ? x : bad(x.at, `expected an operand, found ${show(x)}`), s);
    }
    s.out.push(...ins.code, ...imm);
    return;
  }
  unclosed(s, depth + 1);
  s.labels.pop();
  s.out.push(0x0b);
}

const instruction = (op: Atom) => table.get(op.text) ?? bad(op.at, `unknown instruction \`${op.text}\``);

function immediates(op: Atom, ins: Instruction, c: Cursor, s: Scope): number[] {
  const lane = () => {
    const a = c.atom('a lane index'), n = nat(a, 'a lane index');
    return n < 256 ? n : bad(a.at, `lane index out of range: \`${a.text}\``);
  };
  switch (ins.immediate) {
    case 'none': return [];
    case 'local': return uleb(index(c.atom('a local'), s.f.names, s.f.count, 'local'));
    case 'func': return uleb(index(c.atom('a function'), s.m.funcNames, s.m.funcCount, 'function'));
    case 'label': return uleb(label(c.atom('a label'), s));
    case 'br_table': {
      const targets = [label(c.atom('a label'), s)];
      for (let a; (a = c.maybe(/^(\$|\d)/)); ) targets.push(label(a, s));
      return [...vec(targets.slice(0, -1).map(uleb)), ...uleb(targets[targets.length - 1]!)];
    }
    case 'memarg': return memarg(op, c);
    case 'memlane': return [...memarg(op, c), lane()];
    case 'lane': return [lane()];
    case 'shuffle': return Array.from({ length: 16 }, lane);
    case 'i32': return sleb(BigInt.asIntN(32, int(c.atom('an i32'), 32)));
    case 'i64': return sleb(BigInt.asIntN(64, int(c.atom('an i64'), 64)));
    case 'f32': return le(float(c.atom('an f32'), F32), 4);
    case 'f64': return le(float(c.atom('an f64'), F64), 8);
    case 'v128': {
      const a = c.atom('a shape'), shape = Object.hasOwn(SHAPES, a.text) ? SHAPES[a.text]! : bad(a.at, `unknown v128 shape \`${a.text}\``);
      return Array.from({ length: shape.lanes }, () => le(shape.lane(c.atom(`an ${a.text} lane`)), shape.bits / 8)).flat();
    }
  }
}

/** `offset=N? align=N?` (alignment in bytes, natural by default): log2 of the alignment, then the offset. */
function memarg(op: Atom, c: Cursor): number[] {
  const value = (a: Atom | undefined, what: string) => (a ? nat({ ...a, text: a.text.slice(a.text.indexOf('=') + 1) }, what) : undefined);
  const offsetAt = c.maybe(/^offset=/), alignAt = c.maybe(/^align=/);
  const offset = value(offsetAt, 'an offset') ?? 0, align = value(alignAt, 'an alignment');
  if (align !== undefined && (align === 0 || align & (align - 1))) bad(alignAt!.at, `alignment must be a power of two: \`${alignAt!.text}\``);
  return [...uleb(align === undefined ? naturalAlign(op.text) : Math.log2(align)), ...uleb(offset)];
}

/** A local or function by $name or number. */
function index(a: Atom, names: ReadonlyMap<string, number>, count: number, what: string): number {
  const i = a.text.startsWith('$') ? names.get(a.text) : NAT.test(a.text) ? nat(a, `a ${what}`) : bad(a.at, `expected a ${what}, found \`${a.text}\``);
  return i !== undefined && i < count ? i : bad(a.at, `undefined ${what} \`${a.text}\``);
}

/** A label by $name (the innermost block so named) or relative depth. */
function label(a: Atom, s: Scope): number {
  const n = s.labels.length;
  if (!a.text.startsWith('$')) {
    const depth = nat(a, 'a label');
    return depth < n ? depth : bad(a.at, `undefined label \`${a.text}\` (${n} enclosing blocks)`);
  }
  for (let d = 0; d < n; d++) if (s.labels[n - 1 - d]!.name === a.text) return d;
  return bad(a.at, `undefined label \`${a.text}\``);
}

// ---------------------------------------------------------------- assembling

/** The binary module of WAT `text`, as wabt would write it; a WatError where the text is malformed or outside the subset. */
/**
 * The one byte where a module importing an unshared memory (limits flag 1: with a
 * maximum) and the same module importing it shared (flag 3) differ: what celda's
 * modules carry, so that one build serves both. Throws if they differ anywhere else.
 */
export function memoryFlagAt(local: Uint8Array, shared: Uint8Array): number {
  const diff = [...local.keys()].filter((i) => local[i] !== shared[i]);
  if (local.length !== shared.length || diff.length !== 1 || local[diff[0]!] !== 1 || shared[diff[0]!] !== 3) {
    throw new Error(`the shared and unshared modules differ at ${diff.join(', ') || 'their lengths'}, not in the memory's flag only`);
  }
  return diff[0]!;
}

export function assembleWat(text: string): Uint8Array<ArrayBuffer> {
  try {
    const m = moduleOf(read(text), text.length);
    const codes = m.funcs.map((f) => code(m, f));
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, m.types),
      ...section(2, m.imports),
      ...section(3, m.funcs.map((f) => uleb(f.type))),
      ...section(7, m.exports),
      ...section(10, codes),
    ]);
  } catch (e) {
    throw e instanceof Bad ? watError(text, e) : e;
  }
}
