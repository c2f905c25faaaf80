// `celda check --explain` on every zoo cell (examples/zoo/): each state by its
// own name, whether it runs as a scan (and after which states: mLSTM's C and n
// after m), or why it is not linear — the op, the value it applies to, the place.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lineCol } from '../../../compiler/diagnostics.ts';
import { scanForms, scanNote } from '../../../compiler/lower/scan.ts';
import { explainLinearity, linearity } from '../../../compiler/passes/linearity.ts';
import { compileOk } from '../../support/cells.ts';

const ZOO = new URL('../../../examples/zoo/', import.meta.url);

const EXPECTED: Record<string, string[]> = {
  'indrnn.celda': [
    "h: not linear, but each feature reads only its own previous value (its backward through time is a diagonal linear recurrence): relu of a value that depends on h^<t-1> (W x^⟨t⟩ + u * h^⟨t−1⟩ + b) at 10:11; scanned back",
  ],
  'intersection-rnn.celda': [
    "h: not linear: tanh of a value that depends on h^<t-1> (W^{hx} x^⟨t⟩ + W^{hh} h^⟨t−1⟩ + b_h) at 17:12",
  ],
  'janet.celda': [
    "c (with h): not linear: tanh of a value that depends on c^<t-1>, h^<t-1> (U_c h^⟨t−1⟩ + W_c x^⟨t⟩ + b_c) at 15:7",
    "h (with c): not linear: tanh of a value that depends on c^<t-1>, h^<t-1> (U_c h^⟨t−1⟩ + W_c x^⟨t⟩ + b_c) at 15:7",
  ],
  'li-gru.celda': [
    "h: not linear: sigmoid of a value that depends on h^<t-1> (W_z x^⟨t⟩ + b_z + U_z h^⟨t−1⟩) at 15:7",
  ],
  'ln-lstm.celda': [
    "c (with h): not linear: a power of a value that depends on c^<t-1>, h^<t-1> (W_h h^⟨t−1⟩ − mean(W_h h^⟨t−1⟩)) at 15:47",
    "h (with c): not linear: a power of a value that depends on c^<t-1>, h^<t-1> (W_h h^⟨t−1⟩ − mean(W_h h^⟨t−1⟩)) at 15:47",
  ],
  'mamba-s6.celda': [
    "h: linear, diagonal: h^<t> = a^<t> ⊙ h^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward and back",
  ],
  'mingru.celda': [
    "h: linear, diagonal: h^<t> = a^<t> ⊙ h^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward and back",
  ],
  'minlstm.celda': [
    "h: linear, diagonal: h^<t> = a^<t> ⊙ h^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward and back",
  ],
  'mlstm.celda': [
    "m: not linear, but each feature reads only its own previous value (its backward through time is a diagonal linear recurrence): max of a value that depends on m^<t-1> (f̃ + m^⟨t−1⟩) at 33:11; scanned back",
    "C: linear, diagonal: C^<t> = a^<t> ⊙ C^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward after m and back (a stage of its own: its coefficients read the whole sequence of m)",
    "n: linear, diagonal: n^<t> = a^<t> ⊙ n^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward after m and back (a stage of its own: its coefficients read the whole sequence of m)",
  ],
  'pytorch-gru.celda': [
    "h: not linear: sigmoid of a value that depends on h^<t-1> (W_ir x^⟨t⟩ + b_ir + W_hr h^⟨t−1⟩ + b_hr) at 14:7",
  ],
  'rg-lru.celda': [
    "h: linear, diagonal: h^<t> = a^<t> ⊙ h^<t-1> + b^<t> feature by feature (a scan per feature); scanned forward and back",
  ],
  'slstm-unstabilised.celda': [
    "c (with n, h): not linear: tanh of a value that depends on c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 16:7",
    "n (with c, h): not linear: tanh of a value that depends on c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 16:7",
    "h (with c, n): not linear: tanh of a value that depends on c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 16:7",
  ],
  'slstm.celda': [
    "m (with c, n, h): not linear: tanh of a value that depends on m^<t-1>, c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 33:7",
    "c (with m, n, h): not linear: tanh of a value that depends on m^<t-1>, c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 33:7",
    "n (with m, c, h): not linear: tanh of a value that depends on m^<t-1>, c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 33:7",
    "h (with m, c, n): not linear: tanh of a value that depends on m^<t-1>, c^<t-1>, n^<t-1>, h^<t-1> (W_z x^⟨t⟩ + R_z h^⟨t−1⟩ + b_z) at 33:7",
  ],
  'sru.celda': [
    "c: not linear, but each feature reads only its own previous value (its backward through time is a diagonal linear recurrence): sigmoid of a value that depends on c^<t-1> (W_f x^⟨t⟩ + v_f * c^⟨t−1⟩ + b_f) at 13:7; scanned back",
  ],
  'ugrnn.celda': [
    "h: not linear: tanh of a value that depends on h^<t-1> (W^{cx} x^⟨t⟩ + W^{ch} h^⟨t−1⟩ + b_c) at 11:7",
  ],
};

describe('--explain on the zoo', () => {
  it('covers every zoo cell', () => {
    expect(readdirSync(ZOO).filter((f) => f.endsWith('.celda')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });
  for (const [file, want] of Object.entries(EXPECTED)) {
    it(file, () => {
      const source = readFileSync(new URL(file, ZOO), 'utf8');
      const c = compileOk(source)[0]!;
      const where = (s: { start: number }) => { const { line, col } = lineCol(source, s.start); return `${line}:${col}`; };
      expect(explainLinearity(linearity(c.forward), where, scanNote(scanForms(c, { staged: true })))).toEqual(want);
    });
  }
});
