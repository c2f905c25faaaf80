// Random cells through the generated JavaScript. fast-check builds expression
// trees (fc.letrec); they are typed against random dimensions and written as
// celda source: products with concatenated operands (some parameters shared
// between uses), transposed and multiplied parameter matrices, elementwise
// arithmetic, σ/tanh/softmax/softplus/relu, several states, intermediates and
// outputs. Every cell's forward values and gradients from the JS backend must
// agree with the float64 interpreter: 1e-12 relative in float64; 1e-5 in float32,
// relative to the cell's largest value (forward) or gradient (backward), since a
// random gradient may be a sum of nearly cancelling terms that float32 cannot
// resolve to 1e-5 of its own size — or, for a badly conditioned random cell, 20×
// what one float32 rounding of its inputs does to the float64 reference.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../compiler/compile.ts';
import { hasErrors, render } from '../compiler/diagnostics.ts';
import { jsBackend } from '../runtime/backends/js.ts';
import { agreement } from './emit-js-support.ts';

type Tree =
  | { k: 'leaf'; pick: number }
  | { k: 'lin'; share: boolean; args: { dim: number; e: Tree }[] }
  | { k: 'bin'; op: '+' | '-' | '*'; l: Tree; r: Tree }
  | { k: 'fn'; fn: 'tanh' | 'sigmoid' | 'softmax' | 'softplus' | 'relu' | 'exptanh'; e: Tree }
  | { k: 'with'; form: 'bias' | 'oneMinus' | 'twice' | 'half'; share: boolean; e: Tree }
  | { k: 'pow'; e: Tree }
  | { k: 'neg'; e: Tree }
  | { k: 'mat'; form: 'transpose' | 'matmul'; dim: number; e: Tree };

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'tree', depthSize: 'small' },
    fc.record({ k: fc.constant('leaf' as const), pick: fc.nat(7) }),
    fc.record({ k: fc.constant('lin' as const), share: fc.boolean(), args: fc.array(fc.record({ dim: fc.nat(3), e: tie('tree') }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ k: fc.constant('bin' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const), l: tie('tree'), r: tie('tree') }),
    fc.record({ k: fc.constant('fn' as const), fn: fc.constantFrom('tanh' as const, 'sigmoid' as const, 'softmax' as const, 'softplus' as const, 'relu' as const, 'exptanh' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('with' as const), form: fc.constantFrom('bias' as const, 'oneMinus' as const, 'twice' as const, 'half' as const), share: fc.boolean(), e: tie('tree') }),
    fc.record({ k: fc.constant('pow' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('neg' as const), e: tie('tree') }),
    fc.record({ k: fc.constant('mat' as const), form: fc.constantFrom('transpose' as const, 'matmul' as const), dim: fc.nat(3), e: tie('tree') }),
  ),
}));

interface Spec {
  readonly inputs: number;
  readonly states: readonly { dim: number; e: Tree }[];
  readonly inters: readonly { dim: number; e: Tree }[];
  readonly outputs: readonly { dim: number; e: Tree }[];
  readonly sizes: readonly number[];
}

const spec: fc.Arbitrary<Spec> = fc.record({
  inputs: fc.integer({ min: 1, max: 2 }),
  states: fc.array(fc.record({ dim: fc.nat(3), e: tree }), { minLength: 1, maxLength: 2 }),
  inters: fc.array(fc.record({ dim: fc.nat(3), e: tree }), { maxLength: 2 }),
  outputs: fc.array(fc.record({ dim: fc.nat(3), e: tree }), { maxLength: 2 }),
  sizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }),
});

const POOL = ['n_x', 'n_h', 'n_c', 'n_y'];
const INPUTS = [{ name: 'x', dim: 'n_x' }, { name: 'u', dim: 'n_c' }];
const STATES = [{ name: 'h', dim: 'n_h' }, { name: 'c', dim: 'n_c' }];

/** Writes a spec as ASCII celda source, typing each tree at the dimension its context needs. */
class Writer {
  readonly params = new Map<string, string>(); // declaration of each matrix parameter
  private readonly shared = new Map<string, string>(); // signature → parameter name
  private n = 0;
  readonly values: { text: string; dim: string }[] = [];

  private fresh(base: string, signature: string, share: boolean): string {
    const have = this.shared.get(signature);
    if (share && have) return have;
    const name = `${base}_${++this.n}`;
    this.shared.set(signature, name);
    return name;
  }

  vec(t: Tree, dim: string): string {
    switch (t.k) {
      case 'leaf': {
        const here = this.values.filter((v) => v.dim === dim);
        if (here.length) return here[t.pick % here.length]!.text;
        const any = this.values[t.pick % this.values.length]!;
        return `${this.fresh('W', `W:${dim}:${any.dim}`, true)}[${any.text}]`;
      }
      case 'lin': {
        const dims = t.args.map((a) => POOL[a.dim]!);
        const w = this.fresh('W', `W:${dim}:${dims.join(',')}`, t.share);
        return `${w}[${t.args.map((a, i) => this.vec(a.e, dims[i]!)).join(', ')}]`;
      }
      case 'bin': return `(${this.vec(t.l, dim)} ${t.op} ${this.vec(t.r, dim)})`;
      case 'fn':
        if (t.fn === 'exptanh') return `exp(tanh(${this.vec(t.e, dim)}))`;
        return `${t.fn}(${this.vec(t.e, dim)})`;
      case 'with':
        switch (t.form) {
          case 'bias': return `(${this.vec(t.e, dim)} + ${this.fresh('b', `b:${dim}`, t.share)})`;
          case 'oneMinus': return `(1 - ${this.vec(t.e, dim)})`;
          case 'twice': return `(2 * ${this.vec(t.e, dim)})`;
          case 'half': return `(${this.vec(t.e, dim)} / 2)`;
        }
        break;
      case 'pow': return `(${this.vec(t.e, dim)})^2`;
      case 'neg': return `(-${this.vec(t.e, dim)})`;
      case 'mat': {
        const from = POOL[t.dim]!;
        if (t.form === 'transpose') {
          const a = this.fresh('A', `A:${from}:${dim}`, false);
          this.params.set(a, `param ${a} : ${from} × ${dim}`);
          return `${a}^T (${this.vec(t.e, from)})`;
        }
        const a = this.fresh('A', '', false), b = this.fresh('B', '', false), mid = POOL[(t.dim + 1) % POOL.length]!;
        this.params.set(a, `param ${a} : ${dim} × ${mid}`);
        this.params.set(b, `param ${b} : ${mid} × ${from}`);
        return `(${a} @ ${b}) (${this.vec(t.e, from)})`;
      }
    }
    throw new Error('unreachable');
  }
}

function source(s: Spec): { text: string; dims: Record<string, number> } {
  const w = new Writer();
  const inputs = INPUTS.slice(0, s.inputs);
  const states = s.states.map((st, i) => ({ ...STATES[i]!, e: st.e }));
  for (const i of inputs) w.values.push({ text: `${i.name}^<t>`, dim: i.dim });
  for (const st of states) w.values.push({ text: `${st.name}^<t-1>`, dim: st.dim });
  const eqs: string[] = [];
  s.inters.forEach((x, i) => {
    const dim = POOL[x.dim]!;
    eqs.push(`g_${i + 1} = ${w.vec(x.e, dim)}`);
    w.values.push({ text: `g_${i + 1}`, dim });
  });
  for (const st of states) eqs.push(`${st.name}^<t> = ${w.vec(st.e, st.dim)}`);
  s.outputs.forEach((o, i) => eqs.push(`y_${i + 1}^<t> = ${w.vec(o.e, POOL[o.dim]!)}`));
  const decls = [...inputs.map((i) => `input ${i.name} : ${i.dim}`), ...states.map((st) => `state ${st.name} : ${st.dim}`), ...w.params.values()];
  const dims = Object.fromEntries(POOL.map((d, i) => [d, s.sizes[i]!]));
  return { text: `cell R {\n${[...decls, ...eqs].map((l) => `  ${l}`).join('\n')}\n}\n`, dims };
}

function check(s: Spec, precision: 'f64' | 'f32', seed: number): boolean {
  const { text, dims } = source(s);
  const r = compile(text);
  // A random cell may be refused (an intermediate nobody reads, say); that is the checker's business.
  if (hasErrors(r.diagnostics) || r.cells.length !== 1) return true;
  const cell = r.cells[0]!;
  const env = Object.fromEntries(cell.typed.dims.map((d) => [d, dims[d] ?? 2]));
  let a: ReturnType<typeof agreement>;
  try {
    a = agreement(cell, jsBackend, { dims: env, batch: 1 + (seed % 3), steps: 3, seed, precision });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${text}`, { cause: e });
  }
  // Values that float32 cannot hold (a recurrence that blows up) say nothing about the backend.
  if (precision === 'f32' && !(a.scale < 1e30)) return true;
  // float32 is judged against the cell's scale (a random gradient can be a sum of nearly cancelling
  // terms), and against the cell's conditioning (a recurrence like h ← 4h⁶ amplifies any rounding).
  const err = precision === 'f64' ? a.worst : a.worstScaled;
  const tol = precision === 'f64' ? 1e-12 : Math.max(1e-5, 20 * a.conditioning);
  if (!(err <= tol)) throw new Error(`${precision}: error ${err} at ${a.where}\n${text}${r.diagnostics.map((d) => render(d, 'cell.celda', text)).join('\n')}`);
  return true;
}

describe('random cells: the JS backend agrees with the interpreter', () => {
  it('compiles most random cells (the test is not vacuous)', () => {
    let ok = 0;
    fc.assert(fc.property(spec, (s) => { if (!hasErrors(compile(source(s).text).diagnostics)) ok++; }), { numRuns: 60, seed: 11 });
    expect(ok).toBeGreaterThan(30);
  });

  it('float64: 1e-12', () => {
    fc.assert(fc.property(spec, fc.nat(1000), (s, seed) => check(s, 'f64', seed)), { numRuns: 120, seed: 7 });
  });

  it('float32: 1e-5', () => {
    fc.assert(fc.property(spec, fc.nat(1000), (s, seed) => check(s, 'f32', seed)), { numRuns: 80, seed: 8 });
  });
});
