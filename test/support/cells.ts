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
