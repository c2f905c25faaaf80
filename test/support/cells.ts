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
