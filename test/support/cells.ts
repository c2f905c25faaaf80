// Shared helpers for tests that work on the example cells.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledCell } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir/graph.ts';

export const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'cells');

export function exampleFiles(): string[] {
  return readdirSync(EXAMPLES).filter((f) => f.endsWith('.celda')).sort();
}

export function compileOk(source: string): CompiledCell[] {
  const r = compile(source);
  if (r.diagnostics.length) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return [...r.cells];
}

export function example(file: string): CompiledCell {
  return compileOk(readFileSync(join(EXAMPLES, file), 'utf8'))[0]!;
}

/** A cell with every op the WebAssembly loops have (relu, abs and sign, sqrt, x², division, negation, tanh, σ, step, comparisons and select). */
export const WASM_OPS_CELL = `cell Ops {
  input x : n_x
  state h : n_h
  z^<t> = W[h^<t-1>, x^<t>] + b
  h^<t> = relu(z^<t>) * 0.5 - abs(z^<t>) / (2 + z^<t> ^ 2) + sqrt(σ(z^<t>)) * tanh(-z^<t>) + max(z^<t>, 0.25) - min(sg(z^<t>), -0.5) + cases(z^<t> if z^<t> >= 0.1, -0.5 * z^<t> if z^<t> < -0.3, h^<t-1> otherwise)
}`;

/**
 * The notation of research cells in one cell: a function defined in the cell and
 * the predefined LN, a split left-hand side, `cases` with comparisons, time
 * subscripts (for the backends' agreement tests: JavaScript, WebAssembly loops, gpu.js).
 */
export const RESEARCH_CELL = `cell Research {
  input x : n_x
  state h : n_h
  state c : n_h
  g(v) = cases(v + 0.5 if v >= 0, σ(v) otherwise)
  [f, i, o, u] = LN(W_h h_{t-1}; α_1, β_1) + W_x x_t + b
  c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ g(u)
  h_t = σ(o) ⊙ tanh(RMSNorm(c_t; γ)) + cases(0.1 * c_t if c_t > h_{t-1}, -0.2 * h_{t-1} otherwise)
}`;

/** A cell with an op the WebAssembly loops lack (exp), and loops without it. */
export const WASM_EXP_CELL = `cell Expo {
  input x : n_x
  state h : n_h
  g^<t> = σ(W_g[h^<t-1>, x^<t>] + b_g)
  h^<t> = g^<t> * tanh(W_h[h^<t-1>, x^<t>] + b_h) + (1 - g^<t>) * exp(-(h^<t-1>) ^ 2)
}`;

/**
 * A graph's structure independent of node numbering and spans: every root and
 * label as a canonical expression. Two graphs with equal canonical forms compute
 * the same values the same way.
 */
export function canonical(g: Graph): string {
  const memo: string[] = [];
  for (const n of g.nodes) {
    const a = n.attrs;
    const attrs = JSON.stringify([a.name, a.step, a.value, a.p, a.offset, a.len, a.total, a.shape]);
    memo.push(`${n.op}${attrs}(${n.inputs.map((x) => memo[x]).join(', ')})`);
  }
  const roots = g.roots.map((r) => `${r.role} ${r.name}@${r.step ?? 't'} = ${memo[r.id]}`).sort();
  const labels = Object.entries(g.labels).map(([id, name]) => `${name} := ${memo[Number(id)]}`).sort();
  return [...roots, ...labels].join('\n');
}

/**
 * Scalars per example and reductions (issue 13 items 3–5): a scalar state
 * (`state m : 1`, also stacked in a concatenation), mean, sum, the inner product
 * uᵀv, a dimension used as a number (1/sqrt(d)) and a power with a tensor
 * exponent (σ(Λ)^{c r}). Every backend is checked against the interpreter on it.
 */
export const SHAPES_CELL = `cell Shapes {
  dim d
  input x : d
  state h : d
  state m : 1
  param Λ : d
  param c : 1
  q = W_q [h^<t-1>, x^<t>, m^<t-1>]
  s = mean(q) + sum(x^<t>) / sqrt(d)
  ĩ = w_iᵀ x^<t> + b_i
  m^<t> = max(0.5 * m^<t-1> + s, ĩ)
  r^<t> = σ(W_r x^<t>)
  h^<t> = σ(Λ)^{c r^<t>} * h^<t-1> + tanh(q) * exp(ĩ - m^<t>) + uᵀq
}`;

/**
 * RG-LRU (De et al. 2024, Griffin, §2.4 eqs. 1–4) with ^<t> for the paper's
 * subscript t: r_t = σ(W_a x_t + b_a), i_t = σ(W_x x_t + b_x), a_t = a^{c r_t}
 * with a = σ(Λ) and c = 8, h_t = a_t ⊙ h_{t−1} + sqrt(1 − a_t²) ⊙ (i_t ⊙ x_t).
 * (α^<t> is the paper's a_t, which would clash with a = σ(Λ) here.)
 */
export const RG_LRU_CELL = String.raw`cell RGLRU {
  input x : d
  state h : d
  param \Lambda : d
  r^{<t>} = \sigma(W_a x^{<t>} + b_a)
  i^{<t>} = \sigma(W_x x^{<t>} + b_x)
  a = \sigma(\Lambda)
  \alpha^{<t>} = a^{c \, r^{<t>}}
  h^{<t>} = \alpha^{<t>} \odot h^{<t-1>} + \sqrt{1 - (\alpha^{<t>})^2} \odot (i^{<t>} \odot x^{<t>})
  c = 8
}`;

/** xLSTM's mLSTM scalar gates (Beck et al. 2024, eqs. 19–27 in part): ĩ, f̃ scalars per example, m a scalar state. */
export const MLSTM_GATES_CELL = `cell MGates {
  input x : d
  state m : 1
  state n : d
  ĩ = w_iᵀ x^⟨t⟩ + b_i
  f̃ = w_fᵀ x^⟨t⟩ + b_f
  m^⟨t⟩ = max(f̃ + m^⟨t−1⟩, ĩ)
  i_p = exp(ĩ − m^⟨t⟩)
  f_p = exp(f̃ + m^⟨t−1⟩ − m^⟨t⟩)
  n^⟨t⟩ = f_p * n^⟨t−1⟩ + i_p * W_k x^⟨t⟩
}`;

/** The notes' many-to-one written out over three steps: ŷ at the last step only, so ŷ^<1> and ŷ^<2> are holes. */
export const MANY_TO_ONE_CELL = String.raw`cell ManyToOne {
  input x : n_x
  state a : n_a
  a^<1> = tanh(W_aa a^<0> + W_ax x^<1> + b_a)
  a^<2> = tanh(W_aa a^<1> + W_ax x^<2> + b_a)
  a^<3> = tanh(W_aa a^<2> + W_ax x^<3> + b_a)
  ŷ^<3> = softmax(W_ya a^<3> + b_y)
}`;
