// Names that are also properties of every JavaScript object (`constructor`,
// `toString`, `__proto__` …) are names like any other. As variables they
// compile; as LaTeX commands or functions they get the usual diagnostic at their
// place. No table lookup may land on Object.prototype, and nothing prints a
// stack trace: through compile() and through the real binary.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accentFromCommand, GREEK_COMMANDS, greekFromCommand, spell } from '../../grammar/names.ts';
import { compile } from '../../compiler/compile.ts';
import type { TypedCell } from '../../compiler/check/typed-cell.ts';
import { render } from '../../compiler/diagnostics.ts';
import { FUNCTIONS } from '../../compiler/ir/ops.ts';
import { evaluate } from '../../runtime/eval-json.ts';
import { UsageError } from '../../runtime/usage.ts';
import { getTask } from '../../runtime/train/data/tasks/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Properties every object inherits, which a careless `table[name]` finds. */
const NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'] as const;
const PROTO = '__proto__';

describe('name tables have no prototype', () => {
  it('Greek commands and functions are null-prototype tables', () => {
    expect(Object.getPrototypeOf(GREEK_COMMANDS)).toBeNull();
    expect(Object.getPrototypeOf(FUNCTIONS)).toBeNull();
  });

  it('finds no Greek letter or accent for an inherited property', () => {
    for (const n of [...NAMES, PROTO, 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString']) {
      expect(greekFromCommand(n)).toBeNull();
      expect(greekFromCommand(`\\${n}`)).toBeNull();
      expect(accentFromCommand(n)).toBeNull();
      expect(accentFromCommand(`\\${n}`)).toBeNull();
      expect(FUNCTIONS[n]).toBeUndefined();
    }
    expect(greekFromCommand('\\varphi')).toBe('phi');
  });

  it('spells such a name as itself', () => {
    for (const n of NAMES) {
      expect(spell(n, 'ascii')).toBe(n);
      expect(spell(n, 'unicode')).toBe(n);
      expect(spell(n, 'latex')).toBe(n);
      expect(spell(`${n}_hat_1`, 'latex')).toBe(`\\hat{${n}}_{1}`);
    }
  });
});

/** A cell, its declarations and its equations, one to a line. */
const cell = (lines: readonly string[], name = 'C') => `cell ${name} {\n${lines.map((l) => `  ${l}\n`).join('')}}\n`;
const RNN_DECLS = ['input x : n', 'state a : n'];

interface Case {
  readonly what: string;
  readonly source: string;
  /** The diagnostic code expected, or null for a clean compile. */
  readonly code: string | null;
  /** With a code: the source text the diagnostic's span starts with (at its first occurrence). */
  readonly at?: string;
  /** With a code: the whole text the span covers, when it is a single token. */
  readonly under?: string;
  /** Without a code: what the typed cell must show. */
  readonly typed?: (t: TypedCell) => void;
}

const names = (xs: readonly { readonly name: string }[]) => xs.map((x) => x.name);

function casesFor(n: string): Case[] {
  const cmd = `\\${n}`;
  return [
    { what: `${n} as a parameter`, source: cell([...RNN_DECLS, `a^<t> = tanh(${n} x^<t> + a^<t-1>)`]), code: null, typed: (t) => expect(names(t.params)).toEqual([n]) },
    { what: `${n} as a declared parameter`, source: cell([...RNN_DECLS, `param ${n} : n × n`, `a^<t> = tanh(${n} x^<t> + a^<t-1>)`]), code: null, typed: (t) => {
      expect(names(t.params)).toEqual([n]);
      expect(t.params[0]!.shape).toHaveLength(2);
    } },
    { what: `${n} in a subscript and under an accent`, source: cell([...RNN_DECLS, `a^<t> = tanh(W_{${n}} x^<t> + \\hat{${n}} * a^<t-1>)`]), code: null, typed: (t) => expect(names(t.params)).toEqual([`W_${n}`, `${n}_hat`]) },
    { what: `${n} as an input`, source: cell([`input ${n} : n`, 'state a : n', `a^<t> = tanh(W ${n}^<t> + a^<t-1>)`]), code: null, typed: (t) => expect(names(t.inputs)).toEqual([n]) },
    { what: `${n} as a state`, source: cell(['input x : n', `state ${n} : n`, `${n}^<t> = tanh(W x^<t> + ${n}^<t-1>)`]), code: null, typed: (t) => expect(names(t.states)).toEqual([n]) },
    { what: `${n} as an intermediate`, source: cell([...RNN_DECLS, `${n} = tanh(W x^<t> + a^<t-1>)`, `a^<t> = ${n}`]), code: null, typed: (t) => expect(names(t.states)).toEqual(['a']) },
    { what: `${n} as an output`, source: cell([...RNN_DECLS, 'a^<t> = tanh(W x^<t> + a^<t-1>)', `${n}^<t> = 2 * a^<t>`]), code: null, typed: (t) => {
      expect(names(t.outputs)).toEqual([n]);
      expect(t.shapes[n]).toEqual(t.outputs[0]!.shape);
    } },
    { what: `${n} as a dimension`, source: cell([`input x : ${n}`, `state a : ${n}`, `dim ${n} = 3`, 'a^<t> = tanh(W x^<t> + a^<t-1>)']), code: null, typed: (t) => {
      expect(t.dims).toEqual([n]);
      expect(t.dimDefaults[n]).toBe(3);
    } },
    { what: `${n} as a cell name`, source: cell([...RNN_DECLS, 'a^<t> = tanh(W x^<t> + a^<t-1>)'], n), code: null, typed: (t) => expect(t.name).toBe(n) },
    { what: `${n} as a function alias`, source: cell([...RNN_DECLS, `${n} = tanh`, `a^<t> = ${n}(W x^<t> + a^<t-1>)`]), code: null, typed: (t) => expect(t.equations[0]!.expr).toMatchObject({ k: 'op', op: 'tanh' }) },
    { what: `${cmd} as a variable`, source: cell([...RNN_DECLS, `a^<t> = tanh(${cmd} * x^<t> + a^<t-1>)`]), code: 'E002', at: cmd, under: cmd },
    { what: `${cmd} as a function`, source: cell([...RNN_DECLS, `a^<t> = ${cmd}(x^<t> + a^<t-1>)`]), code: 'E002', at: cmd, under: cmd },
    { what: `${n} as a function`, source: cell([...RNN_DECLS, `a^<t> = ${n}(x^<t> + a^<t-1>)`]), code: 'E003', at: `${n}(`, under: n },
    { what: `\\operatorname{${n}} as a function`, source: cell([...RNN_DECLS, `a^<t> = \\operatorname{${n}}(x^<t> + a^<t-1>)`]), code: 'E003', at: '\\operatorname', under: `\\operatorname{${n}}` },
    { what: `${n} as a time index`, source: cell([...RNN_DECLS, `a^<${n}> = tanh(x^<t>)`]), code: 'E005', at: `a^<${n}>`, under: `a^<${n}>` },
  ];
}

/** `__proto__` cannot be written as a name (`_` starts a subscript): a syntax error, at the name. */
const PROTO_CASES: Case[] = [
  { what: `${PROTO} as a variable`, source: cell([...RNN_DECLS, `a^<t> = tanh(${PROTO} * x^<t> + a^<t-1>)`]), code: 'E001', at: PROTO },
  { what: `\\${PROTO} as a LaTeX command`, source: cell([...RNN_DECLS, `a^<t> = tanh(\\${PROTO} * x^<t> + a^<t-1>)`]), code: 'E001', at: `\\${PROTO}` },
  { what: `${PROTO} as a function`, source: cell([...RNN_DECLS, `a^<t> = ${PROTO}(x^<t> + a^<t-1>)`]), code: 'E001', at: PROTO },
  { what: `${PROTO} in a subscript`, source: cell([...RNN_DECLS, `a^<t> = tanh(W_{${PROTO}} x^<t> + a^<t-1>)`]), code: 'E001', at: `_{${PROTO}` },
  { what: `${PROTO} as an input`, source: cell([`input ${PROTO} : n`, 'state a : n', 'a^<t> = tanh(W x^<t> + a^<t-1>)']), code: 'E001', at: PROTO },
  { what: `${PROTO} as a cell name`, source: cell([...RNN_DECLS, 'a^<t> = tanh(W x^<t> + a^<t-1>)'], PROTO), code: 'E001', at: PROTO },
];

const CASES: Case[] = [...NAMES.flatMap(casesFor), ...PROTO_CASES];

/** Where a case's diagnostic must start: the first occurrence of `at`. */
function expectedStart(c: Case): number {
  const i = c.source.indexOf(c.at!);
  expect(i).toBeGreaterThanOrEqual(0);
  return i;
}

/** 1-based line and column of an offset (the sources here are ASCII). */
function lineCol(source: string, offset: number): string {
  const before = source.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const NO_CRASH = /internal error|\.ts:\d+|\bat \S+ \(|TypeError|RangeError/;

describe('compile() with names JavaScript objects already have', () => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    const r = compile(c.source);
    if (c.code === null) {
      expect(r.diagnostics).toEqual([]);
      expect(r.cells).toHaveLength(1);
      c.typed?.(r.cells[0]!.typed);
      return;
    }
    expect(r.cells).toEqual([]);
    expect(r.diagnostics.map((d) => d.code)).toEqual([c.code]);
    const d = r.diagnostics[0]!;
    expect(d.span.start).toBe(expectedStart(c));
    if (c.under !== undefined) expect(c.source.slice(d.span.start, d.span.end)).toBe(c.under);
    const text = render(d, 'c.celda', c.source);
    expect(text.split('\n')[0]).toMatch(new RegExp(`^c\\.celda:${lineCol(c.source, d.span.start)}: error\\[${c.code}\\]: \\S`));
    expect(text).not.toMatch(NO_CRASH);
  });

  it('finds no inherited entry in the typed cell\'s own name tables', () => {
    const r = compile(cell([...RNN_DECLS, 'a^<t> = tanh(W x^<t> + a^<t-1>)', 'y^<t> = a^<t>']));
    const t = r.cells[0]!.typed;
    for (const n of [...NAMES, PROTO]) {
      // What `dims[d] ?? t.dimDefaults[d] ?? 32` in a caller relies on.
      expect(t.dimDefaults[n]).toBeUndefined();
      expect(t.shapes[n]).toBeUndefined();
    }
    expect(Object.keys(t.shapes).sort()).toEqual(['a', 'y']);
  });
});

describe('`celda check` with names JavaScript objects already have', () => {
  it('reports each file as ok or with its diagnostic, never with a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'celda-hardening-'));
    const files = CASES.map((c, i) => {
      const path = join(dir, `case${String(i).padStart(2, '0')}.celda`);
      writeFileSync(path, c.source);
      return path;
    });
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), 'check', ...files], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(NO_CRASH);
    expect(r.stdout).not.toMatch(NO_CRASH);
    expect(r.status).toBe(1);
    const failing = CASES.filter((c) => c.code !== null).length;
    expect(r.stdout).toContain(`${CASES.length - failing} passed, ${failing} failed`);
    CASES.forEach((c, i) => {
      const file = files[i]!;
      if (c.code === null) expect(r.stdout, c.what).toContain(`${file}: ok`);
      else expect(r.stderr, c.what).toContain(`${file}:${lineCol(c.source, expectedStart(c))}: error[${c.code}]: `);
    });
  }, 60_000);
});

describe('running cells whose names JavaScript objects already have', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celda-hardening-run-'));
  const put = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const celda = (...argv: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'celda.js'), ...argv], { encoding: 'utf8' });
  const numbers = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(numbers) : [x as number]);
  const X = [[[1, 2]], [[0.5, -1]]]; // [T = 2][B = 1][n = 2]
  const COT = [[[1, 0.5]], [[-1, 2]]];

  it.each(NAMES)('`celda eval` reports a missing input named %s as missing', (n) => {
    const c = put(`input-${n}.celda`, cell([`input ${n} : n`, 'state a : n', `a^<t> = tanh(W ${n}^<t> + a^<t-1>)`]));
    const r = celda('eval', c, '--inputs', put(`input-${n}.json`, JSON.stringify({ dims: { n: 2 }, inputs: {} })));
    expect(r.stderr).not.toMatch(NO_CRASH);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: inputs.inputs: missing \`${n}\` ([T][B][n])`);
  }, 60_000);

  it.each(NAMES)('`celda eval` runs a state named %s without an init, forward and back, as if it were named `a`', (n) => {
    const source = (s: string) => cell(['input x : n', `state ${s} : n`, `${s}^<t> = tanh(W x^<t> + ${s}^<t-1>)`]);
    const c = put(`state-${n}.celda`, source(n));
    const inputs = put(`state-${n}.json`, JSON.stringify({ dims: { n: 2 }, inputs: { x: X }, cotangents: { [n]: COT } }));
    const want = evaluate(compile(source('a')).cells[0]!, { inputs: { dims: { n: 2 }, inputs: { x: X }, cotangents: { a: COT } } }).result as {
      states: { a: unknown }; grads: { params: { W: unknown }; inputs: { x: unknown }; init: { a: unknown } };
    };
    for (const backend of ['interp', 'js']) {
      const r = celda('eval', c, '--inputs', inputs, '--backend', backend);
      expect(r.stderr, backend).not.toMatch(NO_CRASH);
      expect(r.status, `${backend}: ${r.stderr}`).toBe(0);
      const got = JSON.parse(r.stdout) as typeof want & { states: Record<string, unknown>; grads: { init: Record<string, unknown> } };
      expect(Object.keys(got.states)).toEqual([n]);
      expect(Object.keys(got.grads.init)).toEqual([n]);
      const close = (a: unknown, b: unknown) => expect(numbers(a), backend).toEqual(numbers(b).map((v) => expect.closeTo(v, 12)));
      close(got.states[n], want.states.a);
      close(got.grads.params.W, want.grads.params.W);
      close(got.grads.inputs.x, want.grads.inputs.x);
      close(got.grads.init[n], want.grads.init.a);
    }
  }, 60_000);

  it.each(NAMES)('`celda bench` sizes a dimension named %s from the cell when --dims does not', (n) => {
    const c = put(`dim-${n}.celda`, cell([`input x : ${n}`, `state a : ${n}`, `dim ${n} = 2`, 'a^<t> = tanh(W x^<t> + a^<t-1>)']));
    const r = celda('bench', c, '--steps', '2', '--batch', '1');
    expect(r.stderr).not.toMatch(NO_CRASH);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['gflops', 'ms_per_step', 'tokens_per_s']);
    for (const v of Object.values(out)) expect(typeof v === 'number' && Number.isFinite(v)).toBe(true);
  }, 60_000);

  it('`celda bench` refuses --dims __proto__=… as a dimension the cell does not have', () => {
    const c = put('dim-proto.celda', cell(['input x : constructor', 'state a : constructor', 'a^<t> = tanh(W x^<t> + a^<t-1>)']));
    const r = celda('bench', c, '--steps', '2', '--batch', '1', `--dims=${PROTO}=2`);
    expect(r.stderr).not.toMatch(NO_CRASH);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--dims: C has no dimension \`${PROTO}\` (its dimensions: constructor)`);
  }, 60_000);

  // Training reads states, outputs and parameters from tables keyed by the cell's names, here and in its worker threads.
  it.each(NAMES)('`celda train` and `celda predict` run a cell whose state and a parameter are named %s', (n) => {
    const c = put(`train-${n}.celda`, cell(['input x : n_x', `state ${n} : n_a`, `${n}^<t> = tanh(${n}_W ${n}^<t-1> + U x^<t> + b)`]));
    const p = put(`train-param-${n}.celda`, cell(['input x : n_x', 'state a : n_a', `a^<t> = tanh(${n} a^<t-1> + U x^<t> + b)`]));
    for (const [file, backend, threads] of [[c, 'js', '2'], [c, 'js-f32', '2'], [c, 'interp', '1'], [p, 'js', '2']] as const) {
      const out = join(dir, `run-${n}-${backend}-${file === p ? 'param' : 'state'}`);
      const r = celda('train', 'gender', '--cell', file, '--hidden', '8', '--steps', '2', '--batch', '8', '--threads', threads, '--backend', backend, '--out', out);
      expect(r.stderr, backend).not.toMatch(NO_CRASH);
      expect(r.status, `${backend}: ${r.stderr}`).toBe(0);
      const pr = celda('predict', out, 'maria');
      expect(pr.stderr, backend).not.toMatch(NO_CRASH);
      expect(pr.status, `${backend}: ${pr.stderr}`).toBe(0);
    }
  }, 120_000);

  it('getTask knows no task by an inherited name', () => {
    for (const n of [...NAMES, PROTO]) {
      expect(() => getTask(n)).toThrow(UsageError);
      expect(() => getTask(n)).toThrow(`unknown task \`${n}\` (tasks: names, gender, entities, g2p)`);
    }
  });
});
