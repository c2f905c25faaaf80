// One declaration of each command's options (cli/commands.ts) and what is made
// from it: the parser (strict, with "did you mean" for options and values), the
// `celda CMD --help` text, `celda --help`, and the option tables of the docs
// (scripts/docs-options.ts writes them; test/cli/options.test.ts holds the docs
// to them). Nothing here knows a particular command.

import { closest } from '../compiler/diagnostics.ts';
import { printable } from '../runtime/limits.ts';
import { UsageError } from './common.ts';

/** One option of one command. */
export interface Opt {
  /** The long name, without `--`. */
  readonly name: string;
  readonly type: 'string' | 'boolean';
  /** A one-letter alias (`-o`). */
  readonly short?: string;
  /** May be given more than once (`--dim a=1 --dim b=2`): the values in order. */
  readonly multiple?: boolean;
  /** What the value looks like in the help (`N`, `FILE`); for `choices`, they are shown instead. */
  readonly arg?: string;
  /** The only values it takes: any other is refused, with "did you mean". */
  readonly choices?: readonly string[];
  /** The default, as the help and docs show it. */
  readonly default?: string;
  /** One line: what it does. */
  readonly doc: string;
}

/** A command: its name, its arguments, one line of what it does, and its options. */
export interface Command {
  readonly name: string;
  /** The positional arguments as the usage line shows them (`CELL`, `TASK`, `FILE…`). */
  readonly args: string;
  readonly summary: string;
  readonly options: readonly Opt[];
  /** Where the docs say more (shown under the help). */
  readonly more?: string;
}

type Text<O extends Opt> = O extends { readonly choices: readonly (infer C extends string)[] } ? C : string;
type ValueOf<O extends Opt> = O['type'] extends 'boolean' ? boolean : O extends { readonly multiple: true } ? Text<O>[] : Text<O>;

/** The parsed values of a command's options, typed from its declaration. */
export type Values<C extends Command> = { -readonly [O in C['options'][number] as O['name']]?: ValueOf<O> };

/** The option every command takes (cli/main.ts applies it before the command parses). */
export const GLOBAL_OPTIONS: readonly Opt[] = [
  { name: 'max-file-size', type: 'string', arg: 'SIZE', default: '10M', doc: 'the largest file a command reads (or CELDA_MAX_FILE_SIZE), e.g. 50M' },
  { name: 'help', type: 'boolean', short: 'h', doc: 'this command\'s usage and options, on stdout' },
];

const flag = (o: Opt) => `--${o.name}`;
const valueText = (o: Opt) => (o.type === 'boolean' ? '' : o.choices ? o.choices.join('|') : (o.arg ?? 'VALUE'));
const quote = (s: string) => `\`${printable(s)}\``;

/** "; did you mean `x`?" or nothing. */
function didYouMean(given: string, known: readonly string[]): string {
  const best = closest(given, known);
  return best === undefined ? '' : `; did you mean ${quote(best)}?`;
}

/** A value outside an option's choices: refused with what it may be and the closest. */
export function checkChoice(o: Pick<Opt, 'name' | 'choices'>, value: string): void {
  if (!o.choices || o.choices.includes(value)) return;
  const list = o.choices.length === 2 ? `${o.choices[0]} or ${o.choices[1]}` : `one of ${o.choices.join(', ')}`;
  throw new UsageError(`--${o.name} must be ${list}, not ${quote(value)}${didYouMean(value, o.choices)}`);
}

/**
 * Parse a command's arguments by its declaration: `--name value`, `--name=value`,
 * `-o value`, booleans, repeated options, `--` ending the options. An unknown
 * option, a missing value, a value for a switch or a value outside the choices
 * is a UsageError (exit 2) that says what to type instead. A value may start
 * with `-` (`--forget-bias -1`) unless it is itself one of the command's options.
 */
export function parseOptions<C extends Command>(argv: readonly string[], cmd: C): { values: Values<C>; positionals: string[] } {
  const values: Record<string, string | boolean | string[]> = Object.create(null);
  const positionals: string[] = [];
  const byName = new Map(cmd.options.map((o) => [o.name, o]));
  const byShort = new Map(cmd.options.filter((o) => o.short).map((o) => [o.short!, o]));
  const isOption = (a: string) => (a.startsWith('--') ? byName.has(a.slice(2).split('=')[0]!) : /^-[A-Za-z]$/.test(a) && byShort.has(a[1]!));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    let o: Opt | undefined, inline: string | undefined, shown: string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
      o = byName.get(name);
      shown = `--${name}`;
      if (!o) throw unknownOption(cmd, shown);
    } else if (a.startsWith('-') && a.length > 1 && !/^-[\d.]/.test(a)) {
      o = byShort.get(a[1]!);
      shown = a.slice(0, 2);
      if (!o) throw unknownOption(cmd, shown);
      if (a.length > 2) inline = a[2] === '=' ? a.slice(3) : a.slice(2);
    } else {
      positionals.push(a);
      continue;
    }
    if (o.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`${shown} is a switch and takes no value (give ${shown} alone)`);
      values[o.name] = true;
      continue;
    }
    let v = inline;
    if (v === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next === '--' || isOption(next)) throw new UsageError(`${shown} needs a value: ${shown} ${valueText(o)}`);
      v = next;
      i++;
    }
    checkChoice(o, v);
    if (o.multiple) ((values[o.name] ??= []) as string[]).push(v);
    else values[o.name] = v;
  }
  return { values: values as Values<C>, positionals };
}

function unknownOption(cmd: Command, given: string): UsageError {
  // a one-letter option is a letter away from every other: only long names get a suggestion
  const hint = given.startsWith('--') ? didYouMean(given, cmd.options.map(flag)) : '';
  return new UsageError(`unknown option ${quote(given)} for celda ${cmd.name}${hint}${hint ? '' : ` (celda ${cmd.name} --help lists its options)`}`);
}

/** `--hidden N`, `-o, --out FILE`, `--precision f32|f64`. */
function synopsis(o: Opt): string {
  const v = valueText(o);
  return `${o.short ? `-${o.short}, ` : ''}${flag(o)}${v ? ` ${v}` : ''}`;
}

const line = (o: Opt) => `${o.doc}${o.default !== undefined ? ` (default: ${o.default})` : ''}${o.multiple ? ' (repeatable)' : ''}`;

/** `celda CMD --help`: the usage line, what it does, every option with its line. */
export function commandHelp(cmd: Command): string {
  const rows = cmd.options.map((o) => [synopsis(o), line(o)] as const);
  const global = GLOBAL_OPTIONS.map((o) => [synopsis(o), line(o)] as const);
  const width = Math.min(34, Math.max(...[...rows, ...global].map(([s]) => s.length)) + 2);
  const fmt = ([s, d]: readonly [string, string]) => `  ${s.padEnd(width)}${s.length >= width ? `\n  ${' '.repeat(width)}` : ''}${d}\n`;
  return `usage: celda ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}${cmd.options.length ? ' [options]' : ''}\n\n${cmd.summary}${cmd.more ? ` (${cmd.more})` : ''}\n\n`
    + (cmd.options.length ? `options:\n${rows.map(fmt).join('')}\n` : '')
    + `every command:\n${global.map(fmt).join('')}`;
}

/** `celda --help`: one line per command. */
export function overview(commands: readonly Command[]): string {
  const heads = commands.map((c) => `celda ${c.name}${c.args ? ` ${c.args}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return 'celda — recurrent cells from slide notation\n\nusage:\n'
    + commands.map((c, i) => `  ${heads[i]!.padEnd(width)}${c.summary}\n`).join('')
    + '\n`celda COMMAND --help` lists a command\'s options (docs/cli.md has them all); `celda --version` the version.\n'
    + 'Exit status: 0 success, 1 the input (a cell, a file, a checkpoint) is wrong, 2 the command line is wrong.\n';
}

const cellText = (s: string) => s.replace(/\|/g, '\\|');

/** A command's options as a Markdown table, as the docs hold it (between `<!-- options: NAME -->` and `<!-- /options -->`). */
export function optionsTable(cmd: Command): string {
  const head = `\`celda ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}\` — ${cmd.summary}`;
  if (cmd.options.length === 0) return `${head}; no options of its own.\n`;
  return `${cellText(head)}\n\n| option | meaning | default |\n|---|---|---|\n`
    + cmd.options.map((o) => `| ${cellText(`\`${synopsis(o)}\``)} | ${cellText(o.doc)}${o.multiple ? ' (repeatable)' : ''} | ${o.default === undefined ? '' : cellText(o.default)} |\n`).join('');
}

/** The marker pair around a generated table in a Markdown file. */
export const markers = (name: string) => [`<!-- options: ${name} -->`, '<!-- /options -->'] as const;

/** A Markdown text with every marked table rewritten from the declarations (unknown names are an error). */
export function fillTables(text: string, commands: readonly Command[]): string {
  return text.replace(/<!-- options: ([a-z-]+) -->\n[\s\S]*?<!-- \/options -->/g, (_, name: string) => {
    const c = commands.find((x) => x.name === name);
    if (!c) throw new Error(`<!-- options: ${name} -->: no command ${name}`);
    const [open, close] = markers(name);
    return `${open}\n${optionsTable(c)}${close}`;
  });
}
