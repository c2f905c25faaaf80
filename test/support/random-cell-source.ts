// Random cells written as celda source, for the property tests of the backends
// (test/compiler/emit/js/random.test.ts, test/compiler/emit/js/simd.test.ts).
// fast-check builds expression trees (fc.letrec); they are typed against random
// dimensions and written as ASCII celda source: products with concatenated
// operands (some parameters shared between uses), transposed and multiplied
// parameter matrices, elementwise arithmetic, σ/tanh/softmax/softplus/relu,
// several states, intermediates and outputs. Each suite picks its own options;
// the options only leave branches, fields and lengths out, so a suite's cells
// for a given fast-check seed stay the cells it had before the generator was
// shared.

import fc from 'fast-check';

export type Tree =
  | { k: 'leaf'; pick: number }
  | { k: 'lin'; share: boolean; args: { dim: number; e: Tree }[] }
  | { k: 'bin'; op: '+' | '-' | '*'; l: Tree; r: Tree }
  | { k: 'fn'; fn: 'tanh' | 'sigmoid' | 'softmax' | 'softplus' | 'relu' | 'exptanh'; e: Tree }
  | { k: 'with'; form: 'bias' | 'oneMinus' | 'twice' | 'half'; share: boolean; e: Tree }
  | { k: 'pow'; e: Tree }
  | { k: 'neg'; e: Tree }
  | { k: 'mat'; form: 'transpose' | 'matmul'; dim: number; e: Tree }
  | { k: 'cases'; cmp: '>=' | '>'; c: Tree; a: Tree; b: Tree }
  | { k: 'scalar'; dim: number; s: Tree; e: Tree }
  | { k: 'power'; base: Tree; p: Tree }
  | { k: 'each'; dim: number; gate: Tree; u: Tree; pick: number; w: Tree };

export interface TreeOptions {
  /** fc.oneof's maxDepth for the trees. */
  readonly maxDepth: number;
  /**
   * Also exp(tanh(e)), 1 − e, 2·e, e / 2, e², −e. Without them a tree is a leaf, a
   * product, + − *, one of the five activations, a bias, or a parameter matrix.
   */
  readonly extended: boolean;
  /**
   * Also the forms a cell writes beyond those (issue 13): `cases(a if c >= 0, b
   * otherwise)`, a scalar per example `sum(s) * e`, a tensor exponent
   * `(1 + σ(b))^{tanh(p)}`, and matrices per example `(diag(σ(g)) (u kᵀ)) w`
   * (k a value by name).
   */
  readonly cellForms?: boolean;
}

/** Expression trees; a single-valued fc.constantFrom draws nothing, so leaving choices out keeps the other draws. */
export function randomTree({ maxDepth, extended, cellForms }: TreeOptions): fc.Arbitrary<Tree> {
  const fns: Extract<Tree, { k: 'fn' }>['fn'][] = ['tanh', 'sigmoid', 'softmax', 'softplus', 'relu', ...(extended ? ['exptanh' as const] : [])];
  const forms: Extract<Tree, { k: 'with' }>['form'][] = extended ? ['bias', 'oneMinus', 'twice', 'half'] : ['bias'];
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => {
    const branches: fc.Arbitrary<Tree>[] = [
      fc.record({ k: fc.constant('leaf' as const), pick: fc.nat(7) }),
      fc.record({ k: fc.constant('lin' as const), share: fc.boolean(), args: fc.array(fc.record({ dim: fc.nat(3), e: tie('tree') }), { minLength: 1, maxLength: 3 }) }),
      fc.record({ k: fc.constant('bin' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const), l: tie('tree'), r: tie('tree') }),
      fc.record({ k: fc.constant('fn' as const), fn: fc.constantFrom(...fns), e: tie('tree') }),
      fc.record({ k: fc.constant('with' as const), form: fc.constantFrom(...forms), share: fc.boolean(), e: tie('tree') }),
      ...(extended ? [
        fc.record({ k: fc.constant('pow' as const), e: tie('tree') }),
        fc.record({ k: fc.constant('neg' as const), e: tie('tree') }),
      ] : []),
      fc.record({ k: fc.constant('mat' as const), form: fc.constantFrom('transpose' as const, 'matmul' as const), dim: fc.nat(3), e: tie('tree') }),
      ...(cellForms ? [
        fc.record({ k: fc.constant('cases' as const), cmp: fc.constantFrom('>=' as const, '>' as const), c: tie('tree'), a: tie('tree'), b: tie('tree') }),
        fc.record({ k: fc.constant('scalar' as const), dim: fc.nat(3), s: tie('tree'), e: tie('tree') }),
        fc.record({ k: fc.constant('power' as const), base: tie('tree'), p: tie('tree') }),
        fc.record({ k: fc.constant('each' as const), dim: fc.nat(3), gate: tie('tree'), u: tie('tree'), pick: fc.nat(7), w: tie('tree') }),
      ] : []),
    ];
    return { tree: fc.oneof({ maxDepth, depthIdentifier: 'tree', depthSize: 'small' }, ...branches) };
  });
  return tree;
}

export interface CellSpec {
  readonly inputs: number;
  readonly states: readonly { dim: number; e: Tree }[];
  readonly inters: readonly { dim: number; e: Tree }[];
  readonly outputs: readonly { dim: number; e: Tree }[];
  readonly sizes: readonly number[];
}

export interface CellSpecOptions extends TreeOptions {
  /** Every dimension is bound to 1..maxSize. */
  readonly maxSize: number;
  /** At most this many intermediates; 0 draws none at all (a constant). */
  readonly maxInters: number;
  readonly maxOutputs: number;
}

/** Specs of random cells: 1–2 inputs, 1–2 states, intermediates, outputs, and the sizes of the four dimensions. */
export function randomCellSpec(o: CellSpecOptions): fc.Arbitrary<CellSpec> {
  const tree = randomTree(o);
  return fc.record({
    inputs: fc.integer({ min: 1, max: 2 }),
    states: fc.array(fc.record({ dim: fc.nat(3), e: tree }), { minLength: 1, maxLength: 2 }),
    inters: o.maxInters > 0 ? fc.array(fc.record({ dim: fc.nat(3), e: tree }), { maxLength: o.maxInters }) : fc.constant([]),
    outputs: fc.array(fc.record({ dim: fc.nat(3), e: tree }), { maxLength: o.maxOutputs }),
    sizes: fc.array(fc.integer({ min: 1, max: o.maxSize }), { minLength: 4, maxLength: 4 }),
  });
}

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
      case 'cases': return `cases(${this.vec(t.a, dim)} if ${this.vec(t.c, dim)} ${t.cmp} 0, ${this.vec(t.b, dim)} otherwise)`;
      case 'scalar': return `(sum(${this.vec(t.s, POOL[t.dim]!)}) * ${this.vec(t.e, dim)})`;
      case 'power': return `(1 + sigmoid(${this.vec(t.base, dim)}))^{tanh(${this.vec(t.p, dim)})}`;
      case 'each': {
        // k is a value by name (a transpose is written on a name); u kᵀ is a matrix per example, times w a vector again
        const from = POOL[t.dim]!;
        const here = this.values.filter((v) => v.dim === from);
        if (here.length === 0) return this.vec(t.u, dim);
        const k = here[t.pick % here.length]!.text;
        return `((diag(sigmoid(${this.vec(t.gate, dim)})) ((${this.vec(t.u, dim)}) ${k.includes('^') ? `(${k})` : k}^T)) (${this.vec(t.w, from)}))`;
      }
    }
    throw new Error('unreachable');
  }
}

/**
 * A spec as celda source and the dimensions it binds. With `tanhStates`, a tanh
 * around every state's equation keeps a random recurrence bounded over its few steps.
 */
export function randomCellSource(s: CellSpec, options: { tanhStates?: boolean } = {}): { text: string; dims: Record<string, number> } {
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
  for (const st of states) {
    const e = w.vec(st.e, st.dim);
    eqs.push(`${st.name}^<t> = ${options.tanhStates ? `tanh(${e})` : e}`);
  }
  s.outputs.forEach((o, i) => eqs.push(`y_${i + 1}^<t> = ${w.vec(o.e, POOL[o.dim]!)}`));
  const decls = [...inputs.map((i) => `input ${i.name} : ${i.dim}`), ...states.map((st) => `state ${st.name} : ${st.dim}`), ...w.params.values()];
  const dims = Object.fromEntries(POOL.map((d, i) => [d, s.sizes[i]!]));
  return { text: `cell R {\n${[...decls, ...eqs].map((l) => `  ${l}`).join('\n')}\n}\n`, dims };
}
