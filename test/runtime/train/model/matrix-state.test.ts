// Training a cell whose state is a matrix per example: the layer carries rows ×
// cols numbers per example for it (runtime/train/model/fit.ts), not its rows only.
import { describe, expect, it } from 'vitest';
import { planCell } from '../../../../runtime/train/model/fit.ts';
import { compileOk } from '../../../support/cells.ts';
import { MLSTM, S6 } from '../../../support/matrix-cells.ts';

describe('a matrix state in training', () => {
  it('mLSTM-like: C carries hidden × hidden numbers per example, n hidden', () => {
    const plan = planCell(compileOk(MLSTM.ascii)[0]!, { inputSize: 5, hidden: 6, classes: 2, useHead: false, readout: 'h' });
    expect(plan.states).toEqual([{ name: 'C', size: 36 }, { name: 'n', size: 6 }]);
    expect(plan.readout).toEqual({ role: 'output', name: 'h', size: 6 });
  });
  it('Mamba-S6-like: h carries d × N numbers per example, N from --dim', () => {
    const plan = planCell(compileOk(S6.ascii)[0]!, { inputSize: 4, hidden: 4, classes: 2, useHead: false, readout: 'y', dims: { N: 3 } });
    expect(plan.states).toEqual([{ name: 'h', size: 12 }]);
  });
});
