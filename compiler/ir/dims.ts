// Symbolic dimensions: integer linear forms over dimension variables
// (`n_a + n_x`, `2·n_a`, `4`). Declared names (`n_a`) are rigid; unknowns the
// checker invents start with `?` and are solved by unification.

export interface Dim {
  /** Sorted by variable name; coefficients are non-zero integers. */
  readonly terms: readonly (readonly [string, number])[];
  readonly k: number;
}

export const isUnknown = (v: string) => v.startsWith('?');

function make(map: Map<string, number>, k: number): Dim {
  const terms = [...map].filter(([, c]) => c !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { terms, k };
}

export const dimNum = (k: number): Dim => ({ terms: [], k });
export const dimVar = (name: string): Dim => ({ terms: [[name, 1]], k: 0 });

export function dimLin(a: Dim, ca: number, b: Dim, cb: number): Dim {
  const m = new Map<string, number>();
  for (const [v, c] of a.terms) m.set(v, (m.get(v) ?? 0) + ca * c);
  for (const [v, c] of b.terms) m.set(v, (m.get(v) ?? 0) + cb * c);
  return make(m, ca * a.k + cb * b.k);
}
export const dimAdd = (a: Dim, b: Dim) => dimLin(a, 1, b, 1);
export const dimSub = (a: Dim, b: Dim) => dimLin(a, 1, b, -1);
export const dimScale = (a: Dim, f: number) => dimLin(a, f, dimNum(0), 0);
export const dimSum = (ds: readonly Dim[]) => ds.reduce(dimAdd, dimNum(0));

export const dimKey = (d: Dim): string => d.terms.map(([v, c]) => `${c}${v}`).join('+') + `+${d.k}`;
export const dimEq = (a: Dim, b: Dim) => dimKey(a) === dimKey(b);
export const isZeroDim = (d: Dim) => d.terms.length === 0 && d.k === 0;

/** `n_a + n_x`, `2n_a - 1`, `4`. */
export function dimToString(d: Dim, name: (v: string) => string = (v) => v): string {
  const parts: string[] = [];
  for (const [v, c] of d.terms) {
    const mag = Math.abs(c) === 1 ? name(v) : `${Math.abs(c)}${name(v)}`;
    parts.push(parts.length === 0 ? (c < 0 ? `-${mag}` : mag) : `${c < 0 ? '-' : '+'} ${mag}`);
  }
  if (d.k !== 0 || parts.length === 0) parts.push(parts.length === 0 ? String(d.k) : `${d.k < 0 ? '-' : '+'} ${Math.abs(d.k)}`);
  return parts.join(' ');
}

export function substDim(d: Dim, f: (v: string) => Dim | undefined): Dim {
  let out = dimNum(d.k);
  for (const [v, c] of d.terms) out = dimLin(out, 1, f(v) ?? dimVar(v), c);
  return out;
}

export function evalDim(d: Dim, env: ReadonlyMap<string, number> | Record<string, number>): number | undefined {
  const get = (v: string) => (env instanceof Map ? env.get(v) : (env as Record<string, number>)[v]);
  let s = d.k;
  for (const [v, c] of d.terms) {
    const x = get(v);
    if (x === undefined) return undefined;
    s += c * x;
  }
  return s;
}

/** Unification of linear forms. Rigid variables never get a value. */
export class DimSolver {
  private readonly subst = new Map<string, Dim>();
  private counter = 0;
  /** Equations that could not be solved yet (e.g. `?1 + ?2 = n_a`). */
  private pending: [Dim, Dim][] = [];

  fresh(): Dim {
    return dimVar(`?${++this.counter}`);
  }

  resolve(d: Dim): Dim {
    let cur = d;
    for (let i = 0; i < 64; i++) {
      const next = substDim(cur, (v) => this.subst.get(v));
      if (dimEq(next, cur)) return cur;
      cur = next;
    }
    return cur;
  }

  /** true: equal (now); false: provably different; 'later': kept pending. */
  unify(a: Dim, b: Dim): boolean | 'later' {
    const r = this.solve(a, b);
    if (r === 'later') this.pending.push([a, b]);
    else if (r) this.retry();
    return r;
  }

  private solve(a: Dim, b: Dim): boolean | 'later' {
    const diff = this.resolve(dimSub(a, b));
    if (isZeroDim(diff)) return true;
    const unit = diff.terms.find(([v, c]) => isUnknown(v) && Math.abs(c) === 1);
    if (unit) {
      const [v, c] = unit;
      // c·v + rest = 0  →  v = -rest / c
      const rest = dimSub(diff, dimScale(dimVar(v), c));
      this.subst.set(v, dimScale(rest, -c));
      return true;
    }
    if (diff.terms.some(([v]) => isUnknown(v))) return 'later';
    return false;
  }

  private retry(): void {
    let progress = true;
    while (progress && this.pending.length > 0) {
      progress = false;
      const still: [Dim, Dim][] = [];
      for (const [a, b] of this.pending) {
        const r = this.solve(a, b);
        if (r === 'later') still.push([a, b]);
        else progress = true;
      }
      this.pending = still;
    }
  }

  /** Pending equations that are now provably false (checked at the end). */
  contradictions(): [Dim, Dim][] {
    return this.pending.filter(([a, b]) => this.solve(a, b) === false);
  }
}

/**
 * Bind dimension variables to numbers from equations `form = value` (parameter
 * and input shapes) and the values given. Returns the environment or the first
 * equation that contradicts it.
 */
export function bindDims(
  given: ReadonlyMap<string, number>,
  equations: readonly { dim: Dim; value: number; what: string }[],
): { env: Map<string, number>; error?: string } {
  const env = new Map(given);
  let progress = true;
  while (progress) {
    progress = false;
    for (const { dim, value } of equations) {
      const unknown = dim.terms.filter(([v]) => !env.has(v));
      if (unknown.length !== 1) continue;
      const [v, c] = unknown[0]!;
      let rest = dim.k;
      for (const [w, cw] of dim.terms) if (w !== v) rest += cw * env.get(w)!;
      const x = (value - rest) / c;
      if (Number.isInteger(x) && x >= 0) {
        env.set(v, x);
        progress = true;
      }
    }
  }
  for (const { dim, value, what } of equations) {
    const x = evalDim(dim, env);
    if (x !== undefined && x !== value) return { env, error: `${what} has size ${value}, but the cell needs ${dimToString(dim)} = ${x}` };
  }
  return { env };
}
