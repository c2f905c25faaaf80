// Safe text for emitted JavaScript. Everything a .celda file can name reaches the
// output only through these functions: identifiers are reduced to [A-Za-z0-9_]
// (never `$`, which is reserved for celda's own names), numbers are printed from
// their values, strings are JSON with the two JS-only line terminators escaped,
// and comments lose their line breaks. So no name, number or comment of a cell
// can end a comment, a string or a statement of the generated code.

const RESERVED = new Set(`
  break case catch class const continue debugger default delete do else enum export extends false finally for
  function if implements import in instanceof interface let new null package private protected public return
  static super switch this throw true try typeof var void while with yield await async of
  arguments eval undefined NaN Infinity globalThis
`.split(/\s+/).filter(Boolean));

/** A JS identifier for a name from the notation: `Gamma_u` stays, anything else becomes `_`-safe ASCII. */
export function identifier(name: string): string {
  let out = '';
  for (const ch of name) {
    if (/^[A-Za-z0-9_]$/.test(ch)) out += ch;
    else out += `_${ch.codePointAt(0)!.toString(16)}_`;
  }
  if (out === '' || /^[0-9]/.test(out)) out = `_${out}`;
  if (RESERVED.has(out)) out = `${out}_`;
  return out;
}

/** Hands out unique identifiers, deterministically (first come, first served). */
export class Names {
  private readonly taken = new Set<string>();
  /** Per stem, the suffix to try next: names are never given back, so every smaller one is still taken (asking for `h_at` N times is linear, not quadratic). */
  private readonly next = new Map<string, number>();
  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.taken.add(r);
  }
  /** A fresh identifier from `base`; `prefix` ('$' for celda's own) is prepended after sanitising. */
  fresh(base: string, prefix = ''): string {
    const stem = prefix + identifier(base);
    let name = stem;
    let k = this.next.get(stem) ?? 2;
    if (this.taken.has(name)) for (name = `${stem}_${k}`; this.taken.has(name); name = `${stem}_${++k}`);
    this.next.set(stem, k);
    this.taken.add(name);
    return name;
  }
}

/** A JS string literal (valid in every JS version: U+2028/2029 escaped too). */
export const jsString = (s: string): string => JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** A number literal from a value: never text from the source. */
export function jsNumber(v: number): string {
  if (Number.isNaN(v)) return '(0 / 0)';
  if (v === Infinity) return '(1 / 0)';
  if (v === -Infinity) return '(-1 / 0)';
  if (Object.is(v, -0)) return '(-0)';
  const s = String(v);
  return v < 0 ? `(${s})` : s;
}

/** One line of comment text: line terminators become spaces. */
export const commentText = (s: string): string => s.replace(/[\r\n\u2028\u2029]/g, ' ');
