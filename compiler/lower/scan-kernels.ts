// Scan kernels: a pass whose time loop is nothing but scanned recurrences (scan.ts)
// gets its loop replaced by one `scan` kernel per recurrence (loop-ir.ts), which a
// backend runs as one call over all T steps — a sequential loop, SIMD lanes, or
// threads split over lanes or over time — instead of T calls of the loop body.
//
// The loop the lowering made for a scan is one fused statement per state:
//   forward  h^<t+1> = a ⊙ h^<t> + b       (stored at shift 1, read at shift 0)
//   backward λ^<t>  += α ⊙ λ^<t+1> + β     (accumulated at shift 0, read at shift 1)
// with a and b read from buffers of all T·B rows computed before the loop (or
// parameters). Anything else in the loop — another state, a statement that reads a
// local, a store elsewhere — leaves the loop as it is.

import { dimKey } from '../ir/dims.ts';
import type { BufferDecl, Expr, Kernel, PassPlan, ScanOperand, View } from './loop-ir.ts';

type Scan = Extract<Kernel, { k: 'scan' }>;

/** The plan with its loop phase as scan kernels, or the plan itself when its loop is not only scans. */
export function scanKernels(plan: PassPlan, buffers: readonly BufferDecl[], reverse: boolean): PassPlan {
  const loop = plan.phases.loop;
  if (loop.length === 0) return plan;
  const scans: Scan[] = [];
  const written = new Set<number>();
  for (const k of loop) {
    if (k.k !== 'fused' || k.rows !== 'B') return plan;
    for (const st of k.stmts) for (const s of st.stores) written.add(s.view.buf);
  }
  for (const k of loop) {
    if (k.k !== 'fused') return plan;
    for (const st of k.stmts) {
      const s = matchStmt(st.expr, st.stores, reverse, buffers, written, k.width.length === 0);
      if (s === null) return plan;
      scans.push({ ...s, width: k.width, note: plan.names[st.id] ?? k.note });
    }
  }
  return { ...plan, phases: { ...plan.phases, loop: scans } };
}

const sameCols = (x: View, y: View) => x.buf === y.buf && dimKey(x.col) === dimKey(y.col) && dimKey(x.width) === dimKey(y.width);
const all = (v: View, shift: number): View => ({ ...v, rows: { at: 'all', shift } });

/** One statement as a scan, or null; `scalar`: a loop over rows alone (a scalar per example reads its state by row). */
function matchStmt(expr: Expr, stores: readonly { view: View; accumulate: boolean }[], reverse: boolean, buffers: readonly BufferDecl[], written: ReadonlySet<number>, scalar: boolean): Omit<Scan, 'width' | 'note'> | null {
  if (stores.length !== 1) return null;
  const dst = stores[0]!;
  if (dst.view.rows.at !== 't' || dst.accumulate !== reverse) return null;
  const srcShift = dst.view.rows.shift + (reverse ? 1 : -1);
  const isCarried = (e: Expr) => e.e === 'read' && (e.mode === 'elem' || (scalar && e.mode === 'row')) && e.view.rows.at === 't' && e.view.rows.shift === srcShift && sameCols(e.view, dst.view);
  // A coefficient: read at step t from a buffer the loop does not write, or from a parameter.
  const coefficient = (e: Expr): ScanOperand | null => {
    if (e.e !== 'read' || written.has(e.view.buf)) return null;
    const r = e.view.rows;
    if (r.at === 't' && r.shift === 0 && (e.mode === 'elem' || e.mode === 'row')) return { view: all(e.view, 0), mode: e.mode };
    if (r.at === 'zero' && buffers[e.view.buf]!.extent === 'one' && (e.mode === 'feat' || e.mode === 'one')) return { view: e.view, mode: e.mode };
    return null;
  };
  // a ⊙ src, src ⊙ a or src alone.
  const product = (e: Expr): { a: ScanOperand | null } | null => {
    if (isCarried(e)) return { a: null };
    if (e.e !== 'op' || e.op !== 'mul' || e.args.length !== 2) return null;
    const [x, y] = e.args as [Expr, Expr];
    const a = isCarried(y) ? coefficient(x) : isCarried(x) ? coefficient(y) : null;
    return a === null ? null : { a };
  };
  let a: ScanOperand | null = null, b: ScanOperand | null = null;
  const p = product(expr);
  if (p !== null) a = p.a;
  else {
    if (expr.e !== 'op' || expr.op !== 'add' || expr.args.length !== 2) return null;
    const [x, y] = expr.args as [Expr, Expr];
    const px = product(x), py = px === null ? product(y) : null;
    if (px === null && py === null) return null;
    a = (px ?? py)!.a;
    b = coefficient(px !== null ? y : x);
    if (b === null) return null;
  }
  return { k: 'scan', reverse, dst: all(dst.view, dst.view.rows.shift), src: all(dst.view, srcShift), a, b };
}
