// The scan kernels of the SIMD module (kernels-wat.ts adds them to its text): a
// diagonal linear recurrence over all T steps in one call, four lanes at a time,
// for the JavaScript module's scan kernels (lower/scan-kernels.ts).
//
// Rows r = 0 … R−1 are T steps of S = B rows each (row r at step ⌊r / S⌋); a lane is
// a column i < W of a row slot. Byte addresses; strides (ld, lda, ldb) in floats.
//
//   scan(flags, R, S, W, dst, src, ld, a, lda, b, ldb, prod)
//     forward (steps ascending):  dst[r, i]  = A · src[r, i] + B
//     reverse (steps descending): dst[r, i] += A · src[r, i] + B
//     A = a[r·lda + i] (flag 2; flag 16: a[r·lda] for every lane; else 1), B likewise (4, 32; else 0).
//     flag 8 (a chunk of a scan split over time, runtime/wasm/pool-common.ts): the first
//     step it runs reads src as 0, and prod[k·W + i] gets the product of A over the
//     chunk for lane (k, i), k < S.
//
//   scanFix(flags, R, S, W, dst, carry, ld, a, lda, prod)
//     the chunk's fix-up once the state entering it is known: in scan order, with
//     P the running product of A (prod holds it per lane), dst[r, i] += P · carry[k, i],
//     carry the S rows (stride ld) of the state entering the chunk.

import { add, c32, func, get, mul, set, whileLoop as loop } from './wat-text.ts';

const flag = (bit: number) => `(i32.and ${get('flags')} ${c32(bit)})`;

/** Four lanes (vec) or one: loads, arithmetic and stores of the kind. */
function lanes(vec: boolean) {
  const ty = vec ? 'v128' : 'f32';
  const load = (p: string) => (vec ? `(v128.load ${p})` : `(f32.load ${p})`);
  const splat = (p: string) => (vec ? `(v128.load32_splat ${p})` : `(f32.load ${p})`);
  const num = (x: number) => (vec ? `(f32x4.splat (f32.const ${x}))` : `(f32.const ${x})`);
  const op = (o: 'add' | 'mul', x: string, y: string) => `(${vec ? 'f32x4' : 'f32'}.${o} ${x} ${y})`;
  const store = (p: string, v: string) => `(${vec ? 'v128' : 'f32'}.store ${p} ${v})`;
  return { ty, load, splat, num, op, store, step: vec ? 4 : 1 };
}

/** Byte offset of lane i. */
const lane = (base: string) => add(get(base), `(i32.shl ${get('i')} (i32.const 2))`);

function scanLanes(vec: boolean, tag: string): string[] {
  const L = lanes(vec);
  const A = `(if (result ${L.ty}) ${flag(2)} (then (if (result ${L.ty}) ${flag(16)} (then ${L.splat(get('pa'))}) (else ${L.load(lane('pa'))}))) (else ${L.num(1)}))`;
  const B = `(if (result ${L.ty}) ${flag(4)} (then (if (result ${L.ty}) ${flag(32)} (then ${L.splat(get('pb'))}) (else ${L.load(lane('pb'))}))) (else ${L.num(0)}))`;
  const H = `(if (result ${L.ty}) ${get('first')} (then ${L.num(0)}) (else ${L.load(lane('s'))}))`;
  const x = vec ? 'vx' : 'fx', av = vec ? 'va' : 'fa';
  return loop(tag, `(i32.gt_u ${add(get('i'), c32(L.step))} ${get('W')})`, [
    set(av, A),
    set(x, L.op('add', L.op('mul', get(av), H), B)),
    `(if ${flag(1)} (then ${set(x, L.op('add', get(x), L.load(lane('d'))))}))`,
    L.store(lane('d'), get(x)),
    `(if ${flag(8)} (then ${L.store(lane('pp'), `(if (result ${L.ty}) ${get('first')} (then ${get(av)}) (else ${L.op('mul', L.load(lane('pp')), get(av))}))`)}))`,
    set('i', add(get('i'), c32(L.step))),
  ]);
}

function fixLanes(vec: boolean, tag: string): string[] {
  const L = lanes(vec);
  const A = `(if (result ${L.ty}) ${flag(16)} (then ${L.splat(get('pa'))}) (else ${L.load(lane('pa'))}))`;
  const p = vec ? 'va' : 'fa';
  return loop(tag, `(i32.gt_u ${add(get('i'), c32(L.step))} ${get('W')})`, [
    `(if ${flag(2)} (then ${set(p, `(if (result ${L.ty}) ${get('first')} (then ${A}) (else ${L.op('mul', L.load(lane('pp')), A)}))`)} ${L.store(lane('pp'), get(p))}) (else ${set(p, L.num(1))}))`,
    L.store(lane('d'), L.op('add', L.load(lane('d')), L.op('mul', get(p), L.load(lane('c'))))),
    set('i', add(get('i'), c32(L.step))),
  ]);
}

/** The rows of one step in scan order: `u` counts steps done, `row` the step's first row. */
function steps(body: string[]): string[] {
  return [
    set('ld4', `(i32.shl ${get('ld')} (i32.const 2))`),
    set('lda4', `(i32.shl ${get('lda')} (i32.const 2))`),
    set('n', `(i32.div_u ${get('R')} (select ${get('S')} (i32.const 1) ${get('S')}))`),
    set('u', c32(0)),
    ...loop('u', `(i32.ge_u ${get('u')} ${get('n')})`, [
      set('row', mul(`(if (result i32) ${flag(1)} (then (i32.sub (i32.sub ${get('n')} ${get('u')}) (i32.const 1))) (else ${get('u')}))`, get('S'))),
      set('first', `(i32.and (i32.eqz ${get('u')}) (i32.ne ${flag(8)} (i32.const 0)))`),
      set('k', c32(0)),
      ...loop('k', `(i32.ge_u ${get('k')} ${get('S')})`, [
        ...body,
        set('row', add(get('row'), c32(1))),
        set('k', add(get('k'), c32(1))),
      ]),
      set('u', add(get('u'), c32(1))),
    ]),
  ];
}

function scanFunc(): string[] {
  const body = steps([
    set('d', add(get('dst'), mul(get('row'), get('ld4')))),
    set('s', add(get('src'), mul(get('row'), get('ld4')))),
    set('pa', add(get('a'), mul(get('row'), get('lda4')))),
    set('pb', add(get('b'), mul(get('row'), `(i32.shl ${get('ldb')} (i32.const 2))`))),
    set('pp', add(get('prod'), `(i32.shl ${mul(get('k'), get('W'))} (i32.const 2))`)),
    set('i', c32(0)),
    ...scanLanes(true, 'v'),
    ...scanLanes(false, 'f'),
  ]);
  return func('scan', 'A diagonal linear recurrence over all steps (scan-wat.ts): forward dst = A·src + B, reverse dst += A·src + B.',
    ['flags', 'R', 'S', 'W', 'dst', 'src', 'ld', 'a', 'lda', 'b', 'ldb', 'prod'],
    [`${['n', 'u', 'k', 'i', 'row', 'first', 'd', 's', 'pa', 'pb', 'pp', 'ld4', 'lda4'].map((x) => `(local $${x} i32)`).join(' ')} (local $fa f32) (local $fx f32) (local $va v128) (local $vx v128)`],
    body);
}

function fixFunc(): string[] {
  const body = steps([
    set('d', add(get('dst'), mul(get('row'), get('ld4')))),
    set('c', add(get('carry'), mul(get('k'), get('ld4')))),
    set('pa', add(get('a'), mul(get('row'), get('lda4')))),
    set('pp', add(get('prod'), `(i32.shl ${mul(get('k'), get('W'))} (i32.const 2))`)),
    // `first` is the chunk's first step in scan order (flag 8 is set by the caller's flags below).
    set('i', c32(0)),
    ...fixLanes(true, 'v'),
    ...fixLanes(false, 'f'),
  ]);
  return func('scanFix', 'The fix-up of a chunk of a scan split over time: dst += P · carry, P the running product of A (scan-wat.ts).',
    ['flags', 'R', 'S', 'W', 'dst', 'carry', 'ld', 'a', 'lda', 'prod'],
    [`${['n', 'u', 'k', 'i', 'row', 'first', 'd', 'c', 'pa', 'pp', 'ld4', 'lda4'].map((x) => `(local $${x} i32)`).join(' ')} (local $fa f32) (local $va v128)`],
    [set('flags', `(i32.or ${get('flags')} (i32.const 8))`), ...body]);
}

/** The text of the scan kernels, functions of the SIMD kernels' module. */
export function scanWat(): string[] {
  return [...scanFunc(), ...fixFunc()];
}
