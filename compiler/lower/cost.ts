// The arithmetic of a training step: floating-point operations of the matrix
// products (matrix–vector, matrix–matrix, outer) in the forward pass and in the
// backward pass proper, counted from the graphs. Elementwise work is not counted,
// as is usual for GFLOP/s figures; the backward's reuse of saved forward values is
// not counted twice. Backend-neutral: the benchmark divides it by time.

import type { CompiledCell } from '../compile.ts';
import type { Dim } from '../ir/dims.ts';
import { evalDim } from '../ir/dims.ts';
import type { Graph } from '../ir/graph.ts';

function productFlops(g: Graph, dims: Readonly<Record<string, number>>, batch: number, only: (id: number) => boolean): number {
  const d = (x: Dim) => {
    const v = evalDim(x, dims);
    if (v === undefined) throw new Error(`dimension ${JSON.stringify(x)} is not bound`);
    return v;
  };
  let total = 0;
  for (const n of g.nodes) {
    if (!only(n.id)) continue;
    const ins = n.inputs.map((x) => g.nodes[x]!.shape);
    if (n.op === 'matvec') total += 2 * d(ins[0]!.dims[0]!) * d(ins[0]!.dims[1]!) * (ins[1]!.batch ? batch : 1);
    else if (n.op === 'matmul') total += 2 * d(ins[0]!.dims[0]!) * d(ins[0]!.dims[1]!) * d(ins[1]!.dims[1]!);
    else if (n.op === 'outer') total += 2 * d(ins[0]!.dims[0]!) * d(ins[1]!.dims[0]!) * (ins[0]!.batch ? batch : 1);
  }
  return total;
}

/** Nodes of the backward graph that depend on a cotangent: the backward pass proper. */
function cotangentCone(g: Graph): Set<number> {
  const cone = new Set<number>();
  for (const n of g.nodes) if (n.op === 'cot' || n.inputs.some((x) => cone.has(x))) cone.add(n.id);
  return cone;
}

/** FLOPs of one training step over `steps` steps (forward, then BPTT with parameter gradients). */
export function trainingStepFlops(cell: CompiledCell, dims: Readonly<Record<string, number>>, batch: number, steps: number): number {
  const cone = cotangentCone(cell.backward);
  const perPass = productFlops(cell.forward, dims, batch, () => true) + productFlops(cell.backward, dims, batch, (id) => cone.has(id));
  return cell.typed.mode === 'unrolled' ? perPass : perPass * steps;
}
