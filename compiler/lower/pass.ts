// Lowering one pass (the forward or the backward step graph) to kernels, in three
// stages, each in its own file, over what they share (context.ts):
//
//   analysis: leaves, linear forms, gradient terms, phases, products, levels
//   storage:  where every value lives (buffers, columns, which rows)
//   kernels:  fused loop nests, products with packed weights, other kernels
//
// Every value gets a home or is fused: elementwise values computed in the same
// loop nest are locals of that loop.

import { analysePass } from './analysis.ts';
import type { BufferTable, PassResult, PassSpec } from './context.ts';
import { buildKernels } from './kernels.ts';
import { assignHomes } from './storage.ts';

export function lowerPass(spec: PassSpec, bufs: BufferTable): PassResult {
  const analysis = analysePass(spec);
  const homes = assignHomes(analysis, bufs);
  return buildKernels(analysis, homes, bufs);
}

