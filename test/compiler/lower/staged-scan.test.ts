// Staged scans (compiler/lower/scan.ts, lower.ts `lowerStaged`): a pass runs the
// strongly connected components of its states in stages, so a state whose
// coefficients read an earlier state's whole sequence is still a scan — mLSTM's C
// and n after its stabiliser m. Pinned: the stages, what each stage's loop keeps,
// agreement with the float64 interpreter (values and every gradient) on mLSTM and
// on random staged cells (fast-check) in JS float64, float32 SIMD and gpu.js
// (its first stage a max-plus scan, as mLSTM's m, or else stepped into an
// all-steps array; then the scans), gpu.js's launch counts, and exactly the one-stage
// plan for every cell without stages.
import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../../compiler/compile.ts';
import type { Kernel } from '../../../compiler/lower/loop-ir.ts';
import { lowerCell } from '../../../compiler/lower/lower.ts';
import { scanForms, stateGraph } from '../../../compiler/lower/scan.ts';
import { maxPlusRecurrence } from '../../../compiler/emit/gpujs/scan.ts';
import { gpujsSyncBackend, releaseDevices } from '../../../runtime/backends/gpujs.ts';
import type { BackendOptions } from '../../../runtime/backend.ts';
import { agreement, expectJsAgrees, jsAt as js } from '../../support/emit-js.ts';
import { compileOk, example, exampleFiles } from '../../support/cells.ts';
import { linearCellSource, randomLinearCell } from '../../support/random-linear-cell.ts';
import { randomStagedCell, stagedCellSource } from '../../support/random-staged-cell.ts';
import { randomCellSource, randomCellSpec } from '../../support/random-cell-source.ts';
import { compile } from '../../../compiler/compile.ts';
import { hasErrors } from '../../../compiler/diagnostics.ts';

const ZOO = new URL('../../../examples/zoo/', import.meta.url);
const zoo = (f: string) => compileOk(readFileSync(new URL(f, ZOO), 'utf8'))[0]!;
const MLSTM = zoo('mlstm.celda');
let made: ReturnType<typeof gpujsSyncBackend> | null = null;
const gpu = (c: CompiledCell, o: BackendOptions) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', webasmThreads: false }));
afterAll(releaseDevices);

const kinds = (ks: readonly Kernel[]) => ks.map((k) => k.k);

describe('mLSTM in stages', () => {
  it('forward: m first, then C and n as scans after m; backward: one stage, all three scanned', () => {
    const s = scanForms(MLSTM, { staged: true })!;
    expect(s.stages).toEqual({ forward: [['m'], ['C', 'n']], backward: [['m', 'C', 'n']] });
    expect(s.fwd.map((r) => [r.state, r.after])).toEqual([['C', ['m']], ['n', ['m']]]);
    expect(s.bwd.map((r) => [r.state, r.after])).toEqual([['m', []], ['C', []], ['n', []]]);
    // unstaged (gpu.js): C and n are not scans forward, their coefficients read m^<t-1>
    expect(scanForms(MLSTM)!.fwd).toEqual([]);
  });

  it('the plan: the first stage loops over m alone, the second keeps only the two scans in its loop', () => {
    const p = lowerCell(MLSTM, 'f64');
    expect(p.scans).toEqual({ forward: ['C', 'n'], backward: ['m', 'C', 'n'], stages: scanForms(MLSTM, { staged: true })!.stages });
    expect(p.forward.stages).toHaveLength(1);
    const first = p.forward.stages![0]!;
    expect(kinds(first.phases.loop)).toEqual(['fused']);
    expect(kinds(first.phases.post)).toEqual([]); // the outputs wait for the last stage
    expect(kinds(p.forward.phases.loop)).toEqual(['scan', 'scan']); // n and C: a ⊙ h + b, nothing else, so one scan call each for all T
    expect(p.forward.phases.pre.some((k) => k.k === 'each')).toBe(true); // i′ v kᵀ for all T·B rows before the loop
    expect(p.backward.stages).toBeUndefined();
    // without the scan: one stage, everything in one loop
    const off = lowerCell(MLSTM, 'f64', { scan: false });
    expect(off.forward.stages).toBeUndefined();
    expect(off.forward.phases.loop.length).toBeGreaterThan(2);
  });

  const dims = { n_x: 3, d: 4 };
  it('JS float64 agrees with the interpreter (values and every gradient), staged and with --no-scan', () => {
    for (const scan of [true, false]) {
      const a = agreement(MLSTM, js('f64', scan), { dims, batch: 2, steps: 7, seed: 3 });
      expect(a.worst, a.where).toBeLessThan(1e-12);
    }
  });
  it('JS float32, SIMD and plain', () => {
    for (const simd of [true, false]) {
      const a = agreement(MLSTM, js('f32', true, simd), { dims, batch: 3, steps: 9, seed: 4, precision: 'f32' });
      expect(a.worstScaled, a.where).toBeLessThan(Math.max(1e-5, 50 * a.conditioning));
    }
  });
  it('gpu.js (webasm): correct, its forward staged (m a max-plus scan, then C and n scanned), its backward a scan; T over several chunks', () => {
    for (const steps of [1, 6, 40]) {
      const a = agreement(MLSTM, gpu, { dims, batch: 2, steps, seed: 5, precision: 'f32' });
      expect(a.worstScaled, `T = ${steps}: ${a.where}`).toBeLessThan(1e-4);
      expect([made!.launches().forward!.scan, made!.launches().backward!.scan]).toEqual([true, true]);
    }
  });
  it('gpu.js: m^<t> = max(f̃ + m^<t-1>, ĩ) is a max-plus recurrence (a = f̃, b = ĩ); a tanh is not', () => {
    const g = stateGraph(scanForms(MLSTM, { staged: true })!.forward, ['m']);
    const r = maxPlusRecurrence(g, 'm')!;
    expect([g.labels[r.a!], g.labels[r.b!]]).toEqual(['f_tilde', 'i_tilde']);
    const dense = compileOk(stagedCellSource({ m: 'dense', a: 'gatePrev', b: 'proj', sg: true, output: false }))[0]!;
    expect(maxPlusRecurrence(stateGraph(scanForms(dense, { staged: true })!.forward, ['m']), 'm')).toBeNull();
  });
  it('gpu.js launches: mLSTM\'s forward and backward as many at every T', () => {
    const at = (steps: number) => {
      agreement(MLSTM, gpu, { dims, batch: 2, steps, seed: 5, precision: 'f32' });
      return [made!.launches().forward!.launches, made!.launches().backward!.launches];
    };
    // (over all T·B rows each product is a kernel of its own, transposed weights and the operands of gradients summed over rows are copied once: 33 and 75, not 32 and 62;
    // the forward's h reads C and n at t from their scans: no kernels computing them again, no shifts to t−1 — 29, not 33)
    expect([at(6), at(12), at(24)]).toEqual([[29, 75], [29, 75], [29, 75]]);
  });
  it('gpu.js launches: a first stage that is no max-plus recurrence (tanh) steps, two launches a step (its step kernel and its placing)', () => {
    const c = compileOk(stagedCellSource({ m: 'dense', a: 'gatePrev', b: 'proj', sg: true, output: true }))[0]!;
    const at = (steps: number) => {
      const a = agreement(c, gpu, { dims: { n: 3 }, batch: 2, steps, seed: steps, precision: 'f32' });
      expect(a.worstScaled, a.where).toBeLessThan(1e-4);
      expect(made!.launches().forward!.scan).toBe(true);
      return made!.launches().forward!.launches;
    };
    const [six, twelve] = [at(6), at(12)];
    expect(twelve - six).toBe(12);
  });
  it('gpu.js in segments (scanRows 4 at B = 2): the first stage spans all steps, the scans hand over; values and gradients agree', () => {
    const seg = (c: CompiledCell, o: BackendOptions) => (made = gpujsSyncBackend(c, { ...o, precision: 'f32', webasmThreads: false, scanRows: 4 }));
    const a = agreement(MLSTM, seg, { dims, batch: 2, steps: 7, seed: 6, precision: 'f32' });
    expect(a.worstScaled, a.where).toBeLessThan(1e-4);
    expect(made!.launches().forward!.scan).toBe(true);
  });
});

describe('random staged cells (fast-check)', () => {
  it('the stages: h after m forward; back, m after h when its cotangent reads h\'s (no sg, m diagonal)', () => {
    fc.assert(fc.property(randomStagedCell, (spec) => {
      const c = compileOk(stagedCellSource(spec))[0]!;
      const s = scanForms(c, { staged: true })!;
      expect(s.fwd.map((r) => [r.state, r.after])).toEqual([['h', ['m']]]);
      const backStaged = !spec.sg && spec.m !== 'dense';
      expect(s.stages).toEqual({ forward: [['m'], ['h']], backward: backStaged ? [['h'], ['m']] : [['m', 'h']] });
      if (backStaged) expect(s.bwd.find((r) => r.state === 'm')?.after).toEqual(['h']);
      expect(lowerCell(c, 'f64').backward.stages?.length ?? 0).toBe(backStaged ? 1 : 0);
    }), { numRuns: 60, seed: 1408 });
  });

  it('JS float64 and float32 SIMD agree with the interpreter, values and every gradient', () => {
    fc.assert(fc.property(randomStagedCell, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), (spec, B, T) => {
      expectJsAgrees(compileOk(stagedCellSource(spec))[0]!, stagedCellSource(spec), B, T);
    }), { numRuns: 30, seed: 1409 });
  });

  it('gpu.js (webasm) agrees with the interpreter', () => {
    fc.assert(fc.property(randomStagedCell, fc.integer({ min: 1, max: 6 }), (spec, T) => {
      const c = compileOk(stagedCellSource(spec))[0]!;
      const a = agreement(c, gpu, { dims: { n: 3 }, batch: 2, steps: T, seed: T, precision: 'f32' });
      expect(a.worstScaled, `${a.where}\n${stagedCellSource(spec)}`).toBeLessThan(Math.max(1e-4, 50 * a.conditioning));
      expect(made!.launches().forward!.scan).toBe(true); // staged: m stepped, h scanned
    }), { numRuns: 8, seed: 1410 });
  });
});

describe('random cells of every form that the lowering stages (fast-check)', () => {
  it('JS float64 agrees with the interpreter, values and every gradient; some cells are staged', () => {
    let staged = 0;
    fc.assert(fc.property(randomCellSpec({ maxDepth: 3, extended: true, maxInters: 2, maxOutputs: 2, maxSize: 3 }), fc.integer({ min: 1, max: 5 }), (spec, T) => {
      const { text, dims } = randomCellSource(spec);
      const r = compile(text);
      if (hasErrors(r.diagnostics) || r.cells.length !== 1) return;
      const c = r.cells[0]!;
      if (scanForms(c, { staged: true })?.stages === undefined) return;
      staged++;
      const env = Object.fromEntries(c.typed.dims.map((d) => [d, dims[d] ?? 2]));
      const a = agreement(c, js('f64'), { dims: env, batch: 2, steps: T, seed: T });
      expect(a.worst, `${a.where}\n${text}`).toBeLessThan(1e-12);
    }), { numRuns: 300, seed: 1412 });
    expect(staged).toBeGreaterThan(5);
  });
});

describe('cells without stages: the one-stage plan, unchanged', () => {
  const same = (c: CompiledCell) => {
    if (scanForms(c, { staged: true })?.stages !== undefined) return;
    for (const precision of ['f64', 'f32'] as const) expect(JSON.stringify(lowerCell(c, precision))).toBe(JSON.stringify(lowerCell(c, precision, { staged: false })));
  };
  it('every example and zoo cell (mLSTM aside)', () => {
    for (const f of exampleFiles()) same(example(basename(f)));
    const staged = readdirSync(ZOO).filter((f) => f.endsWith('.celda')).filter((f) => scanForms(zoo(f), { staged: true })?.stages !== undefined);
    expect(staged).toEqual(['mlstm.celda']);
    for (const f of readdirSync(ZOO).filter((x) => x.endsWith('.celda'))) same(zoo(f));
  });
  it('random linear cells', () => {
    fc.assert(fc.property(randomLinearCell, (spec) => same(compileOk(linearCellSource(spec))[0]!)), { numRuns: 30, seed: 1411 });
  });
});
