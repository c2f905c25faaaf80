// The class "compile hangs": compile time must grow about linearly with the
// number of equations. A chain of 1,000 tanh equations (test/support/chain-cell.ts)
// took minutes to emit in float32 while `check` handled 10,000 in seconds: a RegExp
// per row offset over the whole loop body, buffer names joining every value's
// name, the SIMD activation passes and lockstepSafe each quadratic. The bound is
// generous (a shared machine): this is not a speed measurement. Also: lockstepSafe,
// now a sort instead of every pair, agrees with the pairwise definition.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compile } from '../../../../compiler/compile.ts';
import { emitJs } from '../../../../compiler/emit/js/emit.ts';
import type { Access } from '../../../../compiler/emit/js/loops.ts';
import { lockstepSafe } from '../../../../compiler/emit/js/loops.ts';
import { byRow } from '../../../../compiler/emit/wasm/loops-wat.ts';
import type { Dim } from '../../../../compiler/ir/dims.ts';
import { dimAdd, dimKey, dimNum, dimScale, dimSub, dimVar } from '../../../../compiler/ir/dims.ts';
import type { Expr, View } from '../../../../compiler/lower/loop-ir.ts';
import { GROUP_NAME_CAP, groupName } from '../../../../compiler/lower/storage.ts';
import { chainCell } from '../../../support/chain-cell.ts';

describe('a chain of 1,000 equations', () => {
  it('compiles and emits in float64 and float32 well inside a generous bound', () => {
    const t0 = performance.now();
    const r = compile(chainCell(1000));
    expect(r.diagnostics).toEqual([]);
    const cell = r.cells[0]!;
    const f64 = emitJs(cell, { precision: 'f64' });
    const f32 = emitJs(cell, { precision: 'f32' });
    const seconds = (performance.now() - t0) / 1000;
    // About 5 s on the shared 2-core machine after the fix; minutes before it.
    expect(seconds).toBeLessThan(45);
    // No identifier grows with the number of equations (the saved values' buffer was `$h_0_h_1_…_h_998`).
    for (const m of [f64.module, f32.module]) {
      const longest = (m.match(/\$[\w$]*/g) ?? []).reduce((l, w) => Math.max(l, w.length), 0);
      expect(longest).toBeLessThan(GROUP_NAME_CAP + 16);
    }
    // No expression inlined thousands deep (δ₀ was one product of 1,000 factors): every pass over it recursed as deep.
    const depth = (e: Expr): number => (e.e === 'op' ? 1 + Math.max(0, ...e.args.map(depth)) : 0);
    for (const plan of [f64.plan, f32.plan]) {
      const stmts = [plan.forward, plan.backward].flatMap((p) => Object.values(p.phases).flat()).flatMap((k) => (k.k === 'fused' ? k.stmts : []));
      expect(Math.max(...stmts.map((st) => depth(st.expr)))).toBeLessThanOrEqual(70);
    }
  }, 180_000);

  it('at 4,000 equations the module\'s header comments stop at a depth instead of overflowing the stack', () => {
    // The notation printed above the backward step recursed once per factor of δ: 4,000 deep overflowed the stack.
    const cell = compile(chainCell(4000)).cells[0]!;
    const f64 = emitJs(cell, { precision: 'f64' });
    expect(f64.module).toContain('…');
    expect(f64.module).toContain('createChain');
  }, 180_000);

  it('names a saved group after its values, up to a cap', () => {
    expect(groupName(['i', 'f', 'g', 'o'])).toBe('i_f_g_o');
    const long = groupName(Array.from({ length: 1000 }, (_, i) => `h_${i}`));
    expect(long.length).toBeLessThanOrEqual(GROUP_NAME_CAP);
    expect(long).toMatch(/^h_0_h_1_.*_and_\d+_more$/);
  });
});

/** lockstepSafe as it was defined: every pair of accesses of a stored buffer. */
function pairwise(access: readonly Access[]): boolean {
  const ge = (a: Dim, b: Dim) => {
    const d = dimSub(a, b);
    return d.terms.every(([, c]) => c >= 0) && d.terms.reduce((s, [, c]) => s + c, d.k) >= 0;
  };
  const apartRows = (a: View['rows'], b: View['rows']) => {
    if (a.at === 't' && b.at === 't') return a.shift !== b.shift;
    if (a.at === 'block' && b.at === 'block') return a.block !== b.block;
    if (a.at === 'all' && b.at === 'all') return a.shift !== b.shift;
    return false;
  };
  const stored = new Set(access.filter((a) => a.store).map((a) => a.view.buf));
  const rowsKey = (v: View) => JSON.stringify(v.rows);
  for (const buf of stored) {
    const on = access.filter((a) => a.view.buf === buf);
    for (const x of on) {
      for (const y of on) {
        if (x === y || (!x.store && !y.store)) continue;
        const same = x.mode === y.mode && rowsKey(x.view) === rowsKey(y.view) && dimKey(x.view.col) === dimKey(y.view.col);
        if (same && x.mode === 'elem') continue;
        if (byRow(x.mode) && byRow(y.mode) && apartRows(x.view.rows, y.view.rows)) continue;
        const apart = x.mode === 'elem' && y.mode === 'elem' && rowsKey(x.view) === rowsKey(y.view)
          && (ge(y.view.col, dimAdd(x.view.col, x.view.width)) || ge(x.view.col, dimAdd(y.view.col, y.view.width)));
        if (!apart) return false;
      }
    }
  }
  return true;
}

describe('lockstepSafe', () => {
  const n = dimVar('n'), m = dimVar('m');
  const dims = [dimNum(0), dimNum(1), dimNum(2), n, dimScale(n, 2), dimAdd(n, dimNum(1)), m, dimAdd(n, m), dimScale(n, 3)];
  const widths = [dimNum(1), dimNum(2), n, m, dimAdd(n, dimNum(1))];
  const rows: View['rows'][] = [{ at: 'zero' }, { at: 't', shift: 0 }, { at: 't', shift: 1 }, { at: 'block', block: 0 }, { at: 'block', block: 1 }, { at: 'all', shift: 0 }, { at: 'all', shift: 1 }];
  const access = fc.record({
    buf: fc.integer({ min: 0, max: 2 }),
    rows: fc.constantFrom(...rows),
    col: fc.constantFrom(...dims),
    width: fc.constantFrom(...widths),
    mode: fc.constantFrom<Access['mode']>('elem', 'elem', 'elem', 'row', 'feat', 'one'),
    store: fc.boolean(),
  }).map(({ buf, rows: r, col, width, mode, store }): Access => ({ view: { buf, rows: r, col, width }, mode, store }));

  it('agrees with the pairwise definition on random accesses', () => {
    fc.assert(fc.property(fc.array(access, { maxLength: 9 }), (as) => {
      expect(lockstepSafe(as)).toBe(pairwise(as));
    }), { seed: 17, numRuns: 3000 });
  });

  it("is linear for N values stored side by side (the chain's saved values)", () => {
    const as: Access[] = Array.from({ length: 20000 }, (_, i) => ({ view: { buf: 0, rows: { at: 't', shift: 1 }, col: dimScale(n, i), width: n }, mode: 'elem', store: true }));
    const t0 = performance.now();
    expect(lockstepSafe(as)).toBe(true);
    // Pairwise: 4·10⁸ comparisons.
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
