// Safe text for generated Python. Everything a .celda file can name reaches the
// output only through these functions: identifiers are reduced to [A-Za-z0-9_]
// and kept off Python's keywords and the module's own names, strings are ASCII
// with every other character escaped, numbers are printed from their values, and
// comments lose every character Python (or an editor) could take for a line end.

const KEYWORDS = new Set(`
  False None True and as assert async await break class continue def del elif else except finally for from
  global if import in is lambda nonlocal not or pass raise return try while with yield match case
`.split(/\s+/).filter(Boolean));

/** A Python identifier for a canonical name: `Gamma_u` stays; `lambda` becomes `lambda_`. */
export function pyIdentifier(name: string): string {
  let out = '';
  for (const ch of name) out += /^[A-Za-z0-9_]$/.test(ch) ? ch : `_${ch.codePointAt(0)!.toString(16)}_`;
  if (out === '' || /^[0-9]/.test(out)) out = `_${out}`;
  if (KEYWORDS.has(out)) out = `${out}_`;
  return out;
}

/** Hands out unique identifiers, deterministically (first come, first served). */
export class PyNames {
  private readonly taken = new Set<string>();
  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.taken.add(r);
  }
  fresh(base: string): string {
    const stem = pyIdentifier(base);
    let name = stem;
    for (let k = 2; this.taken.has(name); k++) name = `${stem}_${k}`;
    this.taken.add(name);
    return name;
  }
}

/** A Python string literal in printable ASCII. */
export function pyString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A float literal from a value (the shortest text that reads back as the same double). */
export function pyNumber(v: number): string {
  if (Number.isNaN(v)) return 'float("nan")';
  if (v === Infinity) return 'float("inf")';
  if (v === -Infinity) return 'float("-inf")';
  const s = Object.is(v, -0) ? '-0.0' : Number.isInteger(v) && Math.abs(v) < 1e16 ? `${v}.0` : String(v);
  return s;
}

/** One line of comment text. */
export const pyComment = (s: string): string => s.replace(/[\r\n\v\f\x00\x1c-\x1e\x85\u2028\u2029]/g, ' ');
