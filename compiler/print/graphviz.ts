// A graph as Graphviz DOT: one box per node, labelled with its op (or its
// notation name) and shape; leaves and roots coloured by role.

import type { Graph } from '../ir/graph.ts';
import { leafText } from './notation.ts';
import { shapeToString } from '../ir/ops.ts';

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const LEAF_COLOR: Record<string, string> = { param: '#fde68a', input: '#bfdbfe', prev: '#c7d2fe', cot: '#fecaca', const: '#e5e7eb', zeros: '#e5e7eb' };

export function toDot(g: Graph, title: string): string {
  const lines = [`digraph "${esc(title)}" {`, '  rankdir=BT;', '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];', '  edge [arrowsize=0.6];'];
  for (const n of g.nodes) {
    const leaf = leafText(n, 'unicode', false);
    const head = leaf ?? n.op + (n.attrs.p !== undefined ? ` ^${n.attrs.p}` : '');
    const label = g.labels[n.id] !== undefined ? `${g.labels[n.id]} = ${head}` : head;
    const color = LEAF_COLOR[n.op] ?? '#ffffff';
    lines.push(`  n${n.id} [label="${esc(`${label}\n${shapeToString(n.shape)}`)}", fillcolor="${color}"];`);
    n.inputs.forEach((x, i) => lines.push(`  n${x} -> n${n.id}${n.inputs.length > 1 ? ` [taillabel="", headlabel="${i}", labelfontsize=8]` : ''};`));
  }
  g.roots.forEach((r, i) => {
    const name = r.role === 'grad' ? `∂${r.name}${r.step !== undefined ? `<${r.step}>` : ''}` : `${r.name}${r.step !== undefined ? `<${r.step}>` : '<t>'}`;
    lines.push(`  r${i} [label="${esc(`${r.role} ${name}`)}", shape=ellipse, fillcolor="${r.role === 'grad' ? '#fca5a5' : '#86efac'}"];`);
    lines.push(`  n${r.id} -> r${i};`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}
