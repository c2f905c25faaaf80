// Scans (compiler/lower/scan.ts): which recurrences are rewritten as
// h = a ⊙ h^<t-1> + b, what the lowering then keeps in the time loop (the
// recurrence alone), agreement of the generated JavaScript with the interpreter
// (states, outputs and every gradient) on minGRU, an RG-LRU-like cell, IndRNN and
// random linear cells, and exactly today's code for every cell with no scan.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import { emitJs } from '../../../compiler/emit/js/emit.ts';
import { verify } from '../../../compiler/ir/graph.ts';
import { lowerCell } from '../../../compiler/lower/lower.ts';
import { scanForms } from '../../../compiler/lower/scan.ts';
import { agreement, expectJsAgrees, jsAt as js } from '../../support/emit-js.ts';
import { compileOk, example, exampleFiles } from '../../support/cells.ts';
import { linearCellSource, randomLinearCell } from '../../support/random-linear-cell.ts';
import { randomCellSource, randomCellSpec } from '../../support/random-cell-source.ts';
import { compile } from '../../../compiler/compile.ts';
import { basename } from 'node:path';

const cell = (body: string, decls = 'input x : n\n  state h : n') => compileOk(`cell C {\n  ${decls}\n  ${body.split('\n').join('\n  ')}\n}`)[0]!;

export const MIN_GRU = cell('z = σ(W_z x^<t> + b_z)\nh̃ = W_h x^<t> + b_h\nh^<t> = (1 - z) * h^<t-1> + z * h̃');
// Griffin's RG-LRU with a^{c r_t} written exp(c r ⊙ log a), a = σ(Λ).
export const RG_LRU = cell(
  'r = σ(W_a x^<t> + b_a)\ni = σ(W_x x^<t> + b_x)\nα = exp(8 * r * log(σ(Λ)))\nh^<t> = α * h^<t-1> + sqrt(1 - α * α) * (i * x^<t>)\ny^<t> = W_y h^<t>',
  'input x : n\n  state h : n\n  param Λ : n\n  param W_y : n × n',
);
const IND_RNN = cell('h^<t> = relu(W x^<t> + u * h^<t-1> + b)');
// The 2017 SRU: c is the scan, h an output read from it.
const SRU = cell('f = σ(W_f x^<t> + b_f)\nr = σ(W_r x^<t> + b_r)\nc^<t> = f * c^<t-1> + (1 - f) * (W x^<t>)\nh^<t> = r * tanh(c^<t>) + (1 - r) * x^<t>', 'input x : n\n  state c : n');
// minLSTM: its gates normalised by their sum, a division by a coefficient.
const MIN_LSTM = cell('f = σ(W_f x^<t> + b_f)\ni = σ(W_i x^<t> + b_i)\nh^<t> = (f / (f + i)) * h^<t-1> + (i / (f + i)) * (W_h x^<t>)');

const loopKernels = (c: CompiledCell, scan: boolean) => {
  const p = lowerCell(c, 'f64', { scan });
  return { forward: p.forward.phases.loop, backward: p.backward.phases.loop, scans: p.scans };
};

describe('scan forms', () => {
  it('minGRU: the state is a scan forward and back; the rewritten graphs verify', () => {
    const s = scanForms(MIN_GRU)!;
    expect(s.fwd.map((r) => r.state)).toEqual(['h']);
    expect(s.bwd.map((r) => r.state)).toEqual(['h']);
    expect(verify(s.forward)).toEqual([]);
    expect(verify(s.backward)).toEqual([]);
    // a = 1 − z and b = z ⊙ h̃ read no state
    for (const r of s.fwd) for (const c of [r.a, r.b]) expect(c === null || !reads(s.forward, c, 'prev')).toBe(true);
    for (const r of s.bwd) for (const c of [r.a, r.b]) expect(c === null || !reads(s.backward, c, 'cot')).toBe(true);
  });

  it('IndRNN: not linear forward, but its backward through time is a scan', () => {
    const s = scanForms(IND_RNN)!;
    expect(s.fwd).toEqual([]);
    expect(s.bwd.map((r) => r.state)).toEqual(['h']);
  });

  it('no scan for cells whose recurrence mixes features', () => {
    for (const f of exampleFiles()) expect(scanForms(example(basename(f))), f).toBeNull();
    expect(scanForms(cell('h^<t> = W h^<t-1> + U x^<t>'))).toBeNull();
  });

  it('the loop keeps the recurrence alone: one scan kernel forward and back, in place of the loop', () => {
    for (const c of [MIN_GRU, RG_LRU]) {
      const on = loopKernels(c, true), off = loopKernels(c, false);
      expect(on.scans).toEqual({ forward: ['h'], backward: ['h'] });
      expect(on.forward.map((k) => k.k)).toEqual(['scan']);
      expect(on.backward.map((k) => k.k)).toEqual(['scan']);
      const [f, b] = [on.forward[0]!, on.backward[0]!];
      if (f.k !== 'scan' || b.k !== 'scan') throw new Error('not scans');
      // forward h^<t+1> = a h^<t> + b from slot t to t+1; backward λ^<t> += α λ^<t+1> (minGRU: no β), slot t+1 to t
      expect([f.reverse, f.dst.rows, f.src.rows, f.a !== null, f.b !== null]).toEqual([false, { at: 'all', shift: 1 }, { at: 'all', shift: 0 }, true, true]);
      expect([b.reverse, b.dst.rows, b.src.rows, b.a !== null]).toEqual([true, { at: 'all', shift: 0 }, { at: 'all', shift: 1 }, true]);
      expect(f.dst.buf).toBe(f.src.buf);
      // the sequential lowering computes the gates in the loop
      expect(off.forward.map((k) => k.k)).toEqual(['fused']);
      expect(off.scans).toBeUndefined();
    }
  });

  it('a loop with anything besides scanned recurrences stays a loop over t (a scan beside a nonlinear state)', () => {
    const mixed = cell('h^<t> = σ(W_z x^<t>) * h^<t-1> + x^<t>\ng^<t> = tanh(U g^<t-1> + h^<t-1>)', 'input x : n\n  state h : n\n  state g : n');
    const k = loopKernels(mixed, true);
    expect(k.scans?.forward).toEqual(['h']);
    expect(k.forward.map((x) => x.k)).toContain('fused');
    expect(k.forward.map((x) => x.k)).not.toContain('scan');
    expect(emitJs(mixed, {}).module).toMatch(/for \(let \$t = 0; \$t < \$T; \$t\+\+\) \$forwardLoop\(\$t\);/);
    const a = agreement(mixed, js('f64'), { dims: { n: 4 }, batch: 2, steps: 6, seed: 8 });
    expect(a.worst, a.where).toBeLessThan(1e-12);
  });

  it('the generated module calls each scan once per pass, not once per step', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const m = emitJs(MIN_GRU, { precision, simd: precision === 'f32' }).module;
      expect(m).not.toMatch(/for \(let \$t = /);
      expect(m.match(/^ +\$k?scan\(/gm)?.length).toBe(2);
      expect(m).toMatch(/\$forwardLoop\(\$T\);/);
    }
    // the sequential lowering keeps its loop over t
    expect(emitJs(MIN_GRU, { scan: false }).module).toMatch(/for \(let \$t = 0; \$t < \$T; \$t\+\+\) \$forwardLoop\(\$t\);/);
  });
});

function reads(g: CompiledCell['forward'], id: number, op: string): boolean {
  const stack = [id];
  const seen = new Set<number>();
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    const n = g.nodes[x]!;
    if (n.op === op && (op !== 'cot' || n.attrs.name!.startsWith('state:'))) return true;
    stack.push(...n.inputs);
  }
  return false;
}

describe('today\'s code where there is no scan', () => {
  it('every example cell: the same bytes with and without --no-scan, float64 and float32', () => {
    for (const f of exampleFiles()) {
      const c = example(basename(f));
      expect(emitJs(c, {}).module).toBe(emitJs(c, { scan: false }).module);
      expect(emitJs(c, { precision: 'f32' }).module).toBe(emitJs(c, { precision: 'f32', scan: false }).module);
    }
  });

  it('random cells without a diagonal recurrence: the same bytes', () => {
    fc.assert(fc.property(randomCellSpec({ maxDepth: 3, extended: true, maxInters: 2, maxOutputs: 2, maxSize: 3 }), (spec) => {
      for (const c of compile(randomCellSource(spec).text).cells) {
        if (scanForms(c, { staged: true }) !== null) continue; // what the lowering asks for
        expect(emitJs(c, {}).module).toBe(emitJs(c, { scan: false }).module);
      }
    }), { numRuns: 25, seed: 14 });
  });
});


describe('the generated JavaScript with scans agrees with the interpreter', () => {
  const cases: [string, CompiledCell][] = [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU], ['IndRNN', IND_RNN], ['SRU', SRU], ['minLSTM', MIN_LSTM]];
  for (const [name, c] of cases) {
    it(`${name}: float64`, () => {
      expect(lowerCell(c, 'f64').scans).toEqual({ forward: c === IND_RNN ? [] : [c.typed.states[0]!.name], backward: [c.typed.states[0]!.name] });
      const a = agreement(c, js('f64'), { dims: { n: 5 }, batch: 3, steps: 7, seed: 3 });
      expect(a.worst, a.where).toBeLessThan(1e-12);
    });
    it(`${name}: float32 (SIMD)`, () => {
      const a = agreement(c, js('f32'), { dims: { n: 6 }, batch: 2, steps: 9, seed: 4, precision: 'f32' });
      expect(a.worstScaled, a.where).toBeLessThan(1e-5);
    });
  }

  it('random linear cells (fast-check): float64 and float32, forward and every gradient', () => {
    fc.assert(fc.property(randomLinearCell, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), (spec, B, T) => {
      const c = compileOk(linearCellSource(spec))[0]!;
      const s = scanForms(c);
      expect(s?.fwd.length ?? 0).toBe(spec.states.length);
      expectJsAgrees(c, linearCellSource(spec), B, T);
    }), { numRuns: 40, seed: 1414 });
  });
});

describe('long sequences (T = 4096)', () => {
  for (const [name, c] of [['minGRU', MIN_GRU], ['RG-LRU', RG_LRU]] as const) {
    it(`${name}: float32 with the scan, finite and within the interpreter's tolerance`, () => {
      const a = agreement(c, js('f32'), { dims: { n: 3 }, batch: 1, steps: 4096, seed: 11, precision: 'f32' });
      expect(a.worstScaled, a.where).toBeLessThan(1e-4);
    });
  }
});
