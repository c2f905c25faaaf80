// `celda eval CELL --template`: a minimal inputs file for a cell — its
// dimensions (the cell's defaults, else 2), one example over two steps, every
// input and every state's initial value as zeros of the right shape — for the
// user to fill in (docs/eval-json.md). The shapes are said in a note on stderr,
// since JSON has no comments and eval refuses unknown keys.

import type { TypedCell } from '../compiler/check/typed-cell.ts';
import { dimToString, evalDim } from '../compiler/ir/dims.ts';

/** The size a template gives a dimension the cell leaves open. */
const OPEN_DIM = 2;

export function evalTemplate(t: TypedCell): { json: string; note: string } {
  const dims = Object.fromEntries(t.dims.map((d) => [d, t.dimDefaults[d] ?? OPEN_DIM]));
  const steps = t.mode === 'unrolled' ? t.steps : 2, batch = 1;
  const size = (d: Parameters<typeof evalDim>[0]) => evalDim(d, dims) ?? OPEN_DIM;
  const zeros = (n: number) => new Array<number>(n).fill(0);
  const inputs = Object.fromEntries(t.inputs.map((i) => [i.name, Array.from({ length: steps }, () => Array.from({ length: batch }, () => zeros(size(i.dim))))]));
  const init = Object.fromEntries(t.states.map((s) => [s.name, Array.from({ length: batch }, () => zeros(size(s.dim)))]));
  const fields: [string, unknown][] = [['dims', dims], ['batch', batch], ['steps', steps], ['inputs', inputs]];
  if (t.states.length) fields.push(['init', init]);
  const json = `{\n${fields.map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n}\n`;
  const shapes = [
    ...t.inputs.map((i) => `inputs.${i.name} is [T][B][${dimToString(i.dim)}]`),
    ...t.states.map((s) => `init.${s.name} is [B][${dimToString(s.dim)}] (optional, default ${s.init})`),
  ];
  const note = `an inputs file for ${t.name}: T = steps, B = batch; ${shapes.join(', ')}; add "cotangents" (each state and output [T][B][n]) for the gradients (docs/eval-json.md)`;
  return { json, note };
}
