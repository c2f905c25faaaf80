// The command line under hostile use (issue 17): files it must not read whole,
// graphs too large to lay out, output that goes away, outputs over inputs, runs
// too large for memory, results that are not numbers, text that would break a
// line. Each through the real binary: a clear one-line `error:`, the right exit
// status, promptly, never a stack trace.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../support/cells.ts';

const CELDA = join(import.meta.dirname, '..', '..', 'bin', 'celda.js');
const RNN = join(EXAMPLES, 'rnn.celda');
const dir = mkdtempSync(join(tmpdir(), 'celda-reliability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const celda = (args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CELDA, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
const put = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** No trace, no internal error, no unhandled event: what no input may cause. */
const CRASH = /internal error|Unhandled|    at |node:internal/;
const oneError = (stderr: string) => {
  expect(stderr).not.toMatch(CRASH);
  expect(stderr.trimEnd().split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
};

/** Inputs for the RNN whose output is a few hundred kilobytes: more than a pipe holds. */
const bigInputs = () => put('big.json', JSON.stringify({ dims: { n_a: 50, n_y: 3 }, inputs: { x: Array.from({ length: 300 }, () => Array.from({ length: 4 }, () => [0.1, 0.2])) } }));

describe('file size', () => {
  it('`celda check /dev/zero` ends promptly with the limit and how to raise it', () => {
    const t0 = Date.now();
    const r = celda(['check', '/dev/zero']);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.status).toBe(1);
    oneError(r.stderr);
    expect(r.stderr).toMatch(/^error: cell file \/dev\/zero is larger than 10\.0 MiB, the limit for a file; raise it with --max-file-size SIZE \(or CELDA_MAX_FILE_SIZE\)/);
  }, 30_000);

  it('refuses a file over the limit for every command that reads one, and reads it once raised', () => {
    const padded = put('padded.celda', `${readFileSync(RNN, 'utf8')}\n${'# padding\n'.repeat(300)}`);
    const inputs = put('in.json', JSON.stringify({ dims: { n_a: 2, n_y: 2 }, inputs: { x: [[[1, 2]]] } }));
    for (const args of [['check', padded], ['print', padded], ['grad', padded], ['graph', padded], ['compile', padded], ['bench', padded, '--steps', '1'], ['eval', padded, '--inputs', inputs]]) {
      const r = celda([...args, '--max-file-size', '2K']);
      expect(r.status, args.join(' ')).toBe(1);
      oneError(r.stderr);
      expect(r.stderr, args.join(' ')).toContain('is larger than 2 KiB, the limit for a file');
    }
    const padJson = put('pad.json', `${readFileSync(inputs, 'utf8')}${' '.repeat(5000)}`);
    const r = celda(['eval', RNN, '--inputs', padJson], { CELDA_MAX_FILE_SIZE: '4000' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: inputs .*pad\.json is larger than 4 KiB, the limit for a file/);
    expect(celda(['eval', RNN, '--inputs', padJson], { CELDA_MAX_FILE_SIZE: '300' }).stderr).toMatch(/^error: cell file .* is larger than 300 bytes/);
    expect(celda(['check', padded, '--max-file-size=1M']).status).toBe(0);
    expect(celda(['check', padded], { CELDA_MAX_FILE_SIZE: '1M' }).status).toBe(0);
    const bad = celda(['check', padded, '--max-file-size', 'lots']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('error: --max-file-size must be a size such as 50M or 1G, not `lots`\n');
  }, 60_000);

  it('caps the graph that `graph --format svg` lays out, and says how to raise the cap', () => {
    const r = celda(['graph', RNN, '--format', 'svg', '--max-nodes', '5']);
    expect(r.status).toBe(1);
    oneError(r.stderr);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: the forward graph of RNN has \d+ nodes and \d+ edges, more than svg renders here \(5 nodes, 20 edges\); raise it with --max-nodes \d+, or use --format dot\n$/);
    const n = Number(/--max-nodes (\d+)/.exec(r.stderr)![1]);
    expect(celda(['graph', RNN, '--format', 'svg', '--max-nodes', String(n)]).stdout).toMatch(/<svg/);
    // A long chain: more nodes than the default cap.
    const chain = put('chain.celda', `cell Chain {\n  input x : n\n  state a : n\n${Array.from({ length: 2100 }, (_, i) => `  h_${i + 1} = tanh(${i ? `h_${i}` : 'x^<t>'})\n`).join('')}  a^<t> = a^<t-1> + h_2100\n}\n`);
    const big = celda(['graph', chain, '--format', 'svg']);
    expect(big.status).toBe(1);
    expect(big.stderr).toMatch(/more than svg renders here \(2000 nodes, 8000 edges\)/);
    expect(celda(['graph', chain]).status).toBe(0);
  }, 120_000);
});

describe('output that goes away', () => {
  it('ends quietly when the reader closes the pipe (`celda eval … | head -c 10`)', async () => {
    const inputs = bigInputs();
    const child = spawn(process.execPath, [CELDA, 'eval', RNN, '--inputs', inputs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise<number | null>((ok) => child.on('close', (code) => ok(code)));
    expect(stderr).toBe('');
    expect(status).toBe(0);
  }, 30_000);

  it('says `error:` in one line and exits 1 on a full disk (`> /dev/full`), for every command that writes', () => {
    const inputs = bigInputs();
    for (const args of [['eval', RNN, '--inputs', inputs], ['print', RNN], ['graph', RNN], ['grad', RNN], ['compile', RNN], ['check', RNN]]) {
      const full = openSync('/dev/full', 'w');
      const r = spawnSync(process.execPath, [CELDA, ...args], { encoding: 'utf8', stdio: ['ignore', full, 'pipe'], timeout: 30_000 });
      closeSync(full);
      expect(r.stderr, args[0]).toBe('error: cannot write the output: no space left on the device\n');
      expect(r.status, args[0]).toBe(1);
    }
  }, 60_000);
});

describe('celda compile', () => {
  it('refuses to write over its input, however the path is spelled', () => {
    const cell = put('self.celda', readFileSync(RNN, 'utf8'));
    symlinkSync(cell, join(dir, 'link.js'));
    const mjs = put('self.d.mts', 'keep');
    for (const out of [cell, join(dir, '.', '..', dir.split('/').pop()!, 'self.celda'), join(dir, 'link.js')]) {
      const r = celda(['compile', cell, '-o', out]);
      expect(r.status, out).toBe(2);
      oneError(r.stderr);
      expect(r.stderr).toMatch(/is (the input file|the input file .*self\.celda): celda compile does not write over its input; choose another output with -o/);
      expect(readFileSync(cell, 'utf8')).toBe(readFileSync(RNN, 'utf8'));
    }
    // its declarations over the input: refused too
    const decl = put('m.d.mts', readFileSync(RNN, 'utf8'));
    const r = celda(['compile', decl, '-o', join(dir, 'm.mjs')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('m.d.mts is the input file');
    expect(existsSync(join(dir, 'm.mjs'))).toBe(false);
    expect(readFileSync(mjs, 'utf8')).toBe('keep');
  });

  it('writes the module and its declarations together or not at all', () => {
    const out = join(dir, 'pair.js');
    mkdirSync(join(dir, 'pair.d.ts'));
    const r = celda(['compile', RNN, '-o', out]);
    expect(r.status).toBe(2);
    oneError(r.stderr);
    expect(r.stderr).toContain('nothing written');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    rmSync(join(dir, 'pair.d.ts'), { recursive: true });
    expect(celda(['compile', RNN, '-o', out]).status).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(100);
    expect(readFileSync(join(dir, 'pair.d.ts'), 'utf8')).toMatch(/export/);
    const missing = celda(['compile', RNN, '-o', join(dir, 'no', 'such', 'x.js')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot write .*x\.js: no such directory/);
  }, 60_000);
});

describe('celda bench sizes', () => {
  it('checks the memory a run needs before allocating, naming it and the limit', () => {
    const t0 = Date.now();
    const r = celda(['bench', RNN, '--dims', 'n_x=2,n_a=100000,n_y=2', '--backend', 'interp']);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.status).toBe(1);
    oneError(r.stderr);
    expect(r.stderr).toMatch(/error: benchmarking RNN over 32 steps of 1 example \(n_x = 2, n_a = 100000, n_y = 2\) needs about [\d.]+ GiB, more than the limit of 4\.0 GiB; raise it with --max-memory SIZE/);
    const small = celda(['bench', RNN, '--dims', 'n_x=2,n_a=4,n_y=2', '--steps', '2', '--max-memory', '1K', '--backend', 'interp']);
    expect(small.status).toBe(1);
    expect(small.stderr).toMatch(/more than the limit of 1 KiB/);
    expect(celda(['bench', RNN, '--steps', '100000000', '--backend', 'interp']).stderr).toMatch(/over 100000000 steps .* needs about/);
  }, 60_000);

  it('refuses absurd and mistyped sizes with a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['--batch', '99999999999'], /^error: --batch must be at most 2147483647, not 99999999999\n$/],
      [['--steps', '1e9'], /^error: --steps must be a whole number ≥ 1, not `1e9`\n$/],
      [['--dims', 'n_a=0'], /^error: --dims: n_a must be from 1 to 2147483647, not 0\n$/],
      [['--dims', 'n_A=3'], /^error: --dims: RNN has no dimension `n_A` \(its dimensions: n_x, n_a, n_y\); did you mean `n_a`\?\n$/],
      [['--max-memory', 'plenty'], /^error: --max-memory must be a size such as 8G or 512M, not `plenty`\n$/],
    ];
    for (const [args, want] of cases) {
      const r = celda(['bench', RNN, ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(want);
    }
  }, 60_000);
});

describe('celda eval', () => {
  const LOG = `cell L {\n  input x : n\n  state a : n\n  a^<t> = a^<t-1> + log(x^<t>)\n}\n`;

  it('reports a non-finite result, where it arose, and fails unless --allow-nonfinite', () => {
    const cell = put('log.celda', LOG);
    const inputs = put('log.json', JSON.stringify({ inputs: { x: [[[1, 2]], [[-1, 2]], [[1, 0]]] } }));
    const r = celda(['eval', cell, '--inputs', inputs]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'warning: non-finite result, printed as null: states.a[1][0][0] is NaN (the first non-finite value: state `a` at step 2, batch row 0; its equation, line 4: a^<t> = a^<t-1> + log(x^<t>))\n'
      + 'error: the result is not finite (exit 1); --allow-nonfinite accepts it\n');
    expect(JSON.parse(r.stdout).states.a[1][0][0]).toBeNull();
    const ok = celda(['eval', cell, '--inputs', inputs, '--allow-nonfinite']);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/^warning: non-finite result/);
    const fine = put('fine.json', JSON.stringify({ inputs: { x: [[[1, 2]]] } }));
    expect(celda(['eval', cell, '--inputs', fine])).toMatchObject({ status: 0, stderr: '' });
  }, 60_000);

  it('refuses seeds a 32-bit generator would wrap or read as 0', () => {
    const inputs = put('seed.json', JSON.stringify({ dims: { n_a: 2, n_y: 2 }, inputs: { x: [[[1, 2]]] } }));
    for (const seed of ['4294967296', '', '1.5', '0x10', ' ']) {
      const r = celda(['eval', RNN, '--inputs', inputs, '--seed', seed]);
      expect(r.status, seed).toBe(2);
      expect(r.stderr).toBe(`error: --seed must be a whole number from 0 to 4294967295, not \`${seed}\`\n`);
    }
    const a = celda(['eval', RNN, '--inputs', inputs, '--seed', '4294967295']);
    expect(a.status).toBe(0);
    expect(JSON.parse(a.stdout).params).not.toEqual(JSON.parse(celda(['eval', RNN, '--inputs', inputs, '--seed', '0']).stdout).params);
  }, 60_000);

  it('escapes control and line-separator characters of user text in its messages', () => {
    const inputs = put('ctl.json', JSON.stringify({ inputs: { 'x\u2028error: forged\u001b[31m': [[[1, 2]]] } }));
    const r = celda(['eval', RNN, '--inputs', inputs]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: inputs.inputs.x\\u2028error: forged\\u001b[31m: the cell has no input `x\\u2028error: forged\\u001b[31m` (inputs: x)\n');
    const opt = celda(['check', RNN, '--co\nlor']);
    expect(opt.status).toBe(2);
    expect(opt.stderr).toContain('--co\\u000alor');
    expect(opt.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 30_000);
});
