// Random and mutated programs never crash celda: whatever the text,
// `compile()` returns values — diagnostics with spans inside the source, or
// cells — and a cell that compiles also evaluates (or refuses its inputs with a
// message). A handful go through the real command line, which must answer with
// exit code 1 and positioned messages, never a stack trace.
//
// Fixed seeds keep the runs reproducible; a failure prints the shrunk program.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell, CompileResult } from '../../compiler/compile.ts';
import { compile } from '../../compiler/compile.ts';
import { evalDim } from '../../compiler/ir/dims.ts';
import { hasErrors, render } from '../../compiler/diagnostics.ts';
import { evaluate, InputError } from '../../runtime/eval-json.ts';
import { EXAMPLES, exampleFiles } from '../support/cells.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCES = exampleFiles().map((f) => ({ file: f, text: readFileSync(join(EXAMPLES, f), 'utf8') }));

// No timed assertions: a compile that hangs is caught by the test's timeout;
// the slowest case is recorded for FUZZ_REPORT=1 only.
let slowest = { ms: 0, source: '' };

// ---------------------------------------------------------------- the property

/** compile() as a total function: no throw, values only, spans inside the source. */
function compileTotal(source: string): CompileResult {
  const t0 = performance.now();
  const r = compile(source, { defaultCellName: 'cell' });
  const ms = performance.now() - t0;
  if (ms > slowest.ms) slowest = { ms, source };

  if (!hasErrors(r.diagnostics)) expect(r.cells.length, 'no error and no cell').toBeGreaterThan(0);
  for (const d of r.diagnostics) {
    expect(d.code).toMatch(/^E\d{3}$/);
    expect(d.code, d.message).not.toBe('E999');
    expect(d.message.length).toBeGreaterThan(0);
    for (const span of [d.span, ...(d.notes ?? []).map((n) => n.span)]) {
      expect(Number.isInteger(span.start) && Number.isInteger(span.end)).toBe(true);
      expect(span.start).toBeGreaterThanOrEqual(0);
      expect(span.start).toBeLessThanOrEqual(span.end);
      expect(span.end).toBeLessThanOrEqual(source.length);
    }
    const text = render(d, 'f.celda', source);
    expect(text).toMatch(/^f\.celda:\d+:\d+: error\[E\d{3}\]: /);
    // Rendering never lets a control character through to the terminal.
    expect(text).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]/u);
  }
  for (const c of r.cells) evaluatesOrRefuses(c);
  return r;
}

/** A compiled cell runs forward and backward on small inputs, or refuses them with an InputError. */
function evaluatesOrRefuses(cell: CompiledCell): void {
  const t = cell.typed;
  const dims = Object.fromEntries(t.dims.map((d) => [d, 2]));
  const size = (d: Parameters<typeof evalDim>[0]) => Math.max(1, evalDim(d, dims) ?? 1);
  const steps = t.mode === 'unrolled' ? t.steps : 2;
  const seq = (n: number) => Array.from({ length: steps }, (_, i) => [Array.from({ length: n }, (_, j) => Math.sin(1 + i + j))]);
  const inputs = Object.fromEntries(t.inputs.map((i) => [i.name, seq(size(i.dim))]));
  const cotangents = Object.fromEntries([
    ...t.states.map((s) => [s.name, seq(size(s.dim))] as const),
    ...t.outputs.filter((o) => o.shape.dims.length === 1).map((o) => [o.name, seq(size(o.shape.dims[0]!))] as const),
  ]);
  try {
    evaluate(cell, { inputs: { dims, batch: 1, steps, inputs, cotangents } });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  }
}

// ---------------------------------------------------------------- generators

/** Pieces of the notation in all three spellings, and pieces of broken notation. */
const TOKENS = [
  'cell R {', '}', '{', '(', ')', '[', ']', ',', '=', '+', '-', '*', '/', '·', '@', '⊙', '^T', 'ᵀ', '^2', '²',
  'input x : n_x', 'state a : n_a', 'state c : n_a = 0', 'param W : n_a × n_x', 'output y : n_y', 'dim n_a = 3',
  'x^<t>', 'a^<t-1>', 'a^<t>', 'c^<t+1>', 'a^<t-2>', 'x^<s>', 'a^{}', 'a^<0>', 'x^<1>', 'a^{< t-1>}', 'x^⟨t⟩',
  'W_aa', 'w_{aa}', 'Γ_u', '\\Gamma_u', 'Gamma_u', 'c̃', '\\tilde{c}', 'c~', 'ŷ', '\\hat{y}', 'y_hat', 'b_a',
  'tanh', '\\tanh', 'σ', 'sigmoid', 'softmax', 'relu', 'exp', 'tahn', '\\tanhh', '\\partial', '\\sum_{batch}',
  '\\frac{1}{2}', '\\sqrt{x}', '\\left(', '\\right)', '\\cdot', '\\odot', '\\,', '\\qquad', '\\\\', '&=', '&',
  '$$', '$', '\\begin{split}', '\\end{split}', '[0 \\dots 0]', '[0 … 0]', 'g_1 = tanh', '1', '0.5', '-',
  '#', '%', '\n', ' ', '\t', '\r\n', '\u00A0', '\u0303', '\u202E', '\u0000',
];

const tokenSoup = fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 3 }) }), { maxLength: 40 }).map((ts) => ts.join(' '));

/** The soup inside a cell with declarations, so it reaches the checker more often. */
const soupInCell = fc.tuple(tokenSoup, tokenSoup).map(([a, b]) => `cell R {\n  input x : n_x\n  state a : n_a\n  a^<t> = ${a}\n  ${b}\n}\n`);

const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 120 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  // Lone surrogates and control characters: not UTF-8 from a file, but compile() takes any string.
  fc.string({ unit: fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0x1f })).map((c) => String.fromCharCode(c)), maxLength: 20 }),
);

type Mutation =
  | { kind: 'deleteChars' | 'duplicateChars' | 'deleteToken' | 'duplicateToken' | 'swapTokens' | 'swapChars' | 'dropLine' | 'duplicateLine' | 'swapLines'; at: number; len: number }
  | { kind: 'insertChar'; at: number; char: string }
  | { kind: 'insertToken'; at: number; token: string }
  | { kind: 'time'; at: number; index: string };

const TIMES = ['<t+1>', '<t-2>', '<s>', '{}', '<t>', '<t-1>', '<0>', '<1>', '<3>', '{< t+1>}', '<>', '<t-1', '', '^<t>', '<T>'];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('deleteChars', 'duplicateChars', 'deleteToken', 'duplicateToken', 'swapTokens', 'swapChars', 'dropLine', 'duplicateLine', 'swapLines'), at: fc.nat(), len: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('insertChar'), at: fc.nat(), char: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) }),
  fc.record({ kind: fc.constant('insertToken'), at: fc.nat(), token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('time'), at: fc.nat(), index: fc.constantFrom(...TIMES) }),
) as fc.Arbitrary<Mutation>;

/** Tokens as an editor sees words: LaTeX commands, words, runs of space, single characters. */
const tokensOf = (s: string) => s.match(/\\[A-Za-z]+|[A-Za-z0-9_]+|\s+|./gsu) ?? [];
const TIME_INDEX = /\^\s*(\{[^{}\n]*\}|<[^<>\n]*>|⟨[^⟨⟩\n]*⟩)/gu;

/** The time indices of a source outside comments. */
function timeIndices(source: string): RegExpMatchArray[] {
  return [...source.matchAll(TIME_INDEX)].filter((m) => !/[#%]/.test(source.slice(source.lastIndexOf('\n', m.index) + 1, m.index)));
}

function swap<T>(xs: T[], i: number, j: number): T[] {
  const out = xs.slice();
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

function mutate(source: string, m: Mutation): string {
  const chars = Array.from(source);
  const tokens = tokensOf(source);
  const lines = source.split('\n');
  const c = chars.length === 0 ? 0 : m.at % chars.length;
  const t = tokens.length === 0 ? 0 : m.at % tokens.length;
  const l = m.at % lines.length;
  switch (m.kind) {
    case 'deleteChars': return [...chars.slice(0, c), ...chars.slice(c + m.len)].join('');
    case 'duplicateChars': return [...chars.slice(0, c + m.len), ...chars.slice(c)].join('');
    case 'swapChars': return swap(chars, c, Math.min(chars.length - 1, c + m.len)).join('');
    case 'insertChar': return [...chars.slice(0, c), m.char, ...chars.slice(c)].join('');
    case 'deleteToken': return [...tokens.slice(0, t), ...tokens.slice(t + 1)].join('');
    case 'duplicateToken': return [...tokens.slice(0, t + 1), ...tokens.slice(t)].join('');
    case 'swapTokens': return swap(tokens, t, Math.min(tokens.length - 1, t + 2 * m.len)).join('');
    case 'insertToken': return [...tokens.slice(0, t), m.token, ...tokens.slice(t)].join('');
    case 'dropLine': return [...lines.slice(0, l), ...lines.slice(l + 1)].join('\n');
    case 'duplicateLine': return [...lines.slice(0, l + 1), ...lines.slice(l)].join('\n');
    case 'swapLines': return swap(lines, l, (l + m.len) % lines.length).join('\n');
    case 'time': {
      const found = timeIndices(source);
      if (found.length === 0) return source;
      const hit = found[m.at % found.length]!;
      return source.slice(0, hit.index!) + `^${m.index}` + source.slice(hit.index! + hit[0].length);
    }
  }
}

const mutant = fc
  .tuple(fc.constantFrom(...SOURCES), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([s, ms]) => ({ file: s.file, text: ms.reduce(mutate, s.text), mutations: ms }));

// ---------------------------------------------------------------- in process

describe('compile() never fails a user', () => {
  it('on arbitrary Unicode text', () => {
    fc.assert(fc.property(anyText, (s) => void compileTotal(s)), { seed: 1101, numRuns: 400 });
  });

  it('on soups of notation tokens, bare and inside a cell', () => {
    fc.assert(fc.property(fc.oneof(tokenSoup, soupInCell), (s) => void compileTotal(s)), { seed: 1102, numRuns: 400 });
  });

  it('on every example cell with characters, tokens, lines and time indices mutated', () => {
    let broken = 0;
    fc.assert(
      fc.property(mutant, ({ text }) => {
        if (hasErrors(compileTotal(text).diagnostics)) broken++;
      }),
      { seed: 1103, numRuns: 400 },
    );
    // The mutations do break programs (the property is not vacuous).
    expect(broken).toBeGreaterThan(150);
  }, 120_000);

  it('every time index of every example, changed to each wrong index, gets diagnostics', () => {
    for (const { file, text } of SOURCES) {
      const count = timeIndices(text).length;
      for (let at = 0; at < count; at++) {
        for (const index of ['<t+1>', '<s>', '{}']) {
          const r = compileTotal(mutate(text, { kind: 'time', at, index }));
          expect(hasErrors(r.diagnostics), `${file}, index ${at} → ${index}`).toBe(true);
        }
      }
    }
  }, 120_000);

  it('on expressions far deeper than any cell', () => {
    const cell = (rhs: string) => `cell R {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W a^<t-1> + ${rhs})\n}\n`;
    // The parser gives up where its stack does (E001), or the checker refuses
    // the depth (E028); which one depends on the stack size of the process.
    for (const rhs of [
      '('.repeat(3000) + 'U x^<t>' + ')'.repeat(3000),
      Array.from({ length: 1500 }, () => 'U x^<t>').join(' + '),
      '-'.repeat(3000) + 'x^<t>',
      'tanh('.repeat(2000) + 'x^<t>' + ')'.repeat(2000),
      '['.repeat(2000) + 'x^<t>',
    ]) {
      const codes = compileTotal(cell(rhs)).diagnostics.map((d) => d.code);
      expect(codes).toHaveLength(1);
      expect(['E001', 'E028']).toContain(codes[0]);
    }
  }, 120_000);

  afterAll(() => {
    // For the record (no assertion on speed): the slowest case seen.
    if (process.env.FUZZ_REPORT) console.log(`slowest compile: ${slowest.ms.toFixed(0)} ms for ${JSON.stringify(slowest.source.slice(0, 80))}…`);
  });
});

// ---------------------------------------------------------------- the real CLI

describe('the command line on bad programs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celda-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A few broken mutants, chosen by a fixed seed, plus text that is not notation at all. */
  const bad = [
    ...fc.sample(mutant, { seed: 1104, numRuns: 200 }).filter((m) => hasErrors(compile(m.text, { defaultCellName: 'cell' }).diagnostics)).slice(0, 3).map((m) => m.text),
    '\u0000\u001b[31m ¤ \u202e ((',
  ];

  const celda = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  const noStackTrace = (stderr: string) => {
    expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/mu);
    expect(stderr).not.toMatch(/internal error|TypeError|RangeError|ReferenceError/);
  };

  it('`celda check` exits 1 with exactly the rendered diagnostics', () => {
    expect(bad).toHaveLength(4);
    bad.forEach((text, i) => {
      writeFileSync(join(dir, `bad${i}.celda`), text);
      const r = celda(['check', `bad${i}.celda`]);
      expect(r.status, r.stderr).toBe(1);
      noStackTrace(r.stderr);
      const want = compile(text, { defaultCellName: `bad${i}` }).diagnostics.map((d) => `${render(d, `bad${i}.celda`, text)}\n`).join('');
      expect(r.stderr).toBe(want);
    });
  }, 180_000);

  it('`celda eval` exits 1 with positioned messages and writes nothing to stdout', () => {
    writeFileSync(join(dir, 'inputs.json'), JSON.stringify({ dims: { n_x: 2, n_a: 2 }, batch: 1, steps: 2, inputs: { x: [[[0, 1]], [[1, 0]]] } }));
    bad.forEach((text, i) => {
      writeFileSync(join(dir, `bad${i}.celda`), text);
      const r = celda(['eval', `bad${i}.celda`, '--inputs', 'inputs.json']);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      noStackTrace(r.stderr);
      expect(r.stderr).toMatch(new RegExp(`^bad${i}\\.celda:\\d+:\\d+: error\\[E\\d{3}\\]: `));
    });
  }, 180_000);
});
