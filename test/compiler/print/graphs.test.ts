// Printed graphs and derivative equations of the notes' cells as file
// snapshots: a change to the pipeline that changes them shows up in review.
import { describe, expect, it } from 'vitest';
import { printGraph, verify } from '../../../compiler/ir/graph.ts';
import { printGrad } from '../../../compiler/print/notation.ts';
import { example, exampleFiles } from '../../support/cells.ts';

describe('graph snapshots', () => {
  for (const file of exampleFiles()) {
    const base = file.replace(/\.celda$/, '');
    it(file, async () => {
      const c = example(file);
      expect(verify(c.forward)).toEqual([]);
      expect(verify(c.backward)).toEqual([]);
      await expect(printGraph(c.forward)).toMatchFileSnapshot(`__snapshots__/graphs/${base}.forward.txt`);
      await expect(printGraph(c.backward)).toMatchFileSnapshot(`__snapshots__/graphs/${base}.backward.txt`);
      for (const sp of ['unicode', 'latex', 'ascii'] as const) {
        await expect(printGrad(c.typed, c.forward, c.backward, { spelling: sp })).toMatchFileSnapshot(`__snapshots__/grad/${base}.${sp}.txt`);
      }
    });
  }
});
