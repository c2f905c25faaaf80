// Names in their three spellings. The canonical name is ASCII:
//   base [_accent]* [_subscript]*      c_tilde_u, Gamma_u, W_aa, y_hat, sigma
// `canonicalName` builds it from the pieces the parser finds; `spell` is the
// inverse, for display. Printing a canonical name in any spelling and parsing
// it back gives the same canonical name (test/grammar/names.test.ts).

export type Spelling = 'ascii' | 'unicode' | 'latex';

/** The pieces of a name as written: `\tilde{c}_u` → base c, accents [tilde], subscripts [u]. */
export interface NameParts {
  readonly base: string;
  readonly accents: readonly string[];
  readonly subscripts: readonly string[];
  /** `W^{hx}`: a superscript label (canonical `W_sup_hx`). */
  readonly label?: string;
}

/** The canonical piece that marks a superscript label: `W^{hx}` is `W_sup_hx`. */
export const LABEL_MARK = 'sup';

/** Greek letters: canonical name, the Unicode letter `spell` prints, the LaTeX command (if any). */
export const GREEK: readonly { readonly name: string; readonly unicode: string; readonly latex: string | null }[] = [
  ['alpha', 'α'], ['beta', 'β'], ['gamma', 'γ'], ['delta', 'δ'], ['epsilon', 'ε'], ['zeta', 'ζ'],
  ['eta', 'η'], ['theta', 'θ'], ['iota', 'ι'], ['kappa', 'κ'], ['lambda', 'λ'], ['mu', 'μ'],
  ['nu', 'ν'], ['xi', 'ξ'], ['omicron', 'ο'], ['pi', 'π'], ['rho', 'ρ'], ['sigma', 'σ'],
  ['tau', 'τ'], ['upsilon', 'υ'], ['phi', 'φ'], ['chi', 'χ'], ['psi', 'ψ'], ['omega', 'ω'],
  ['Alpha', 'Α'], ['Beta', 'Β'], ['Gamma', 'Γ'], ['Delta', 'Δ'], ['Epsilon', 'Ε'], ['Zeta', 'Ζ'],
  ['Eta', 'Η'], ['Theta', 'Θ'], ['Iota', 'Ι'], ['Kappa', 'Κ'], ['Lambda', 'Λ'], ['Mu', 'Μ'],
  ['Nu', 'Ν'], ['Xi', 'Ξ'], ['Omicron', 'Ο'], ['Pi', 'Π'], ['Rho', 'Ρ'], ['Sigma', 'Σ'],
  ['Tau', 'Τ'], ['Upsilon', 'Υ'], ['Phi', 'Φ'], ['Chi', 'Χ'], ['Psi', 'Ψ'], ['Omega', 'Ω'],
].map(([name, unicode]) => ({ name, unicode, latex: hasLatexCommand(name) ? `\\${name}` : null }));

function hasLatexCommand(name: string): boolean {
  // LaTeX has no command for Greek capitals that look like Latin ones, nor \omicron.
  return /^[a-z]/.test(name) ? name !== 'omicron' : ['Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega'].includes(name);
}

/** Variant letters, which name the same thing as their plain form. */
const GREEK_VARIANTS: readonly (readonly [string, string])[] = [
  ['ϕ', 'phi'], ['ϵ', 'epsilon'], ['ϑ', 'theta'], ['ς', 'sigma'], ['ϱ', 'rho'], ['ϖ', 'pi'], ['ϰ', 'kappa'], ['ϴ', 'Theta'],
];

const GREEK_BY_UNICODE: ReadonlyMap<string, string> = new Map([
  ...GREEK.map((g) => [g.unicode, g.name] as const),
  ...GREEK_VARIANTS,
]);
const GREEK_BY_NAME: ReadonlyMap<string, string> = new Map(GREEK.map((g) => [g.name, g.unicode]));

/**
 * The Greek LaTeX commands the grammar knows (`\varphi` → `phi`, `\varGamma` → `Gamma`).
 * A null-prototype table, so `\constructor` or `toString` is never mistaken for a letter.
 */
export const GREEK_COMMANDS: Readonly<Record<string, string>> = Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries([
  ...GREEK.filter((g) => g.latex !== null).map((g) => [g.latex as string, g.name]),
  ...['epsilon', 'theta', 'kappa', 'pi', 'rho', 'sigma', 'phi'].map((n) => [`\\var${n}`, n]),
  ...['Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega'].map((n) => [`\\var${n}`, n]),
]));

/** LaTeX's own operator names, printed upright by `\tanh`. */
export const LATEX_FUNCTIONS: readonly string[] = [
  'tanh', 'sinh', 'cosh', 'exp', 'log', 'ln', 'sin', 'cos', 'tan', 'arctan', 'max', 'min',
];

/** Words LaTeX has no command for but that read as functions: printed `\operatorname{…}`. */
const OPERATOR_WORDS: readonly string[] = ['sigmoid', 'softmax', 'relu', 'abs', 'sqrt', 'softplus'];

/** Accents: the canonical suffix, the combining mark, and the LaTeX commands that write it. */
export const ACCENTS: readonly { readonly name: string; readonly mark: string; readonly latex: readonly string[] }[] = [
  { name: 'tilde', mark: '\u0303', latex: ['\\tilde', '\\widetilde'] },
  { name: 'hat', mark: '\u0302', latex: ['\\hat', '\\widehat'] },
  { name: 'bar', mark: '\u0304', latex: ['\\bar', '\\overline'] },
  { name: 'dot', mark: '\u0307', latex: ['\\dot'] },
];

/** `f′`, `f'`: the canonical piece of a prime, after the accents (`c̃′` is `c_tilde_prime`). */
export const PRIME = 'prime';

const ACCENT_BY_MARK: ReadonlyMap<string, string> = new Map(ACCENTS.map((a) => [a.mark, a.name]));
const ACCENT_BY_COMMAND: ReadonlyMap<string, string> = new Map(
  ACCENTS.flatMap((a) => a.latex.map((cmd) => [cmd, a.name] as const)),
);
const ACCENT_BY_NAME: ReadonlyMap<string, (typeof ACCENTS)[number]> = new Map(ACCENTS.map((a) => [a.name, a]));

export function canonicalName(parts: NameParts): string {
  return [parts.base, ...parts.accents, ...parts.subscripts, ...(parts.label !== undefined ? [LABEL_MARK, parts.label] : [])].join('_');
}

/** `\Gamma` → `Gamma`; null if the command is not a Greek letter. */
export function greekFromCommand(command: string): string | null {
  return Object.hasOwn(GREEK_COMMANDS, command) ? GREEK_COMMANDS[command]! : null;
}

/** `\widetilde` → `tilde`; null if not an accent command. */
export function accentFromCommand(command: string): string | null {
  return ACCENT_BY_COMMAND.get(command) ?? null;
}

/** U+0303 → `tilde`; null if not a supported combining mark. */
export function accentFromMark(mark: string): string | null {
  return ACCENT_BY_MARK.get(mark) ?? null;
}

/**
 * A single letter as written in Unicode, with any combining marks: `ŷ` → y + [hat],
 * `Γ` → Gamma, `c̃` → c + [tilde], `𝑥` → x. Null when the letter is neither Latin nor
 * Greek, or carries an accent celda does not know.
 */
export function nameFromLetter(text: string): { base: string; accents: string[] } | null {
  const chars = [...text.normalize('NFD')];
  const first = chars[0];
  if (first === undefined) return null;
  let base = letterName(first);
  let rest = chars.slice(1);
  if (base === null) {
    // Mathematical alphanumerics (𝐖, 𝜎) and other compatibility forms.
    const compat = [...first.normalize('NFKD')];
    const head = compat[0];
    base = head === undefined || compat.length > 1 && !compat.slice(1).every((c) => ACCENT_BY_MARK.has(c)) ? null : letterName(head);
    rest = [...compat.slice(1), ...rest];
  }
  if (base === null) return null;
  const accents: string[] = [];
  for (const c of rest) {
    const a = ACCENT_BY_MARK.get(c);
    if (a === undefined) return null;
    accents.push(a);
  }
  return { base, accents };
}

function letterName(ch: string): string | null {
  if (/^[A-Za-z]$/.test(ch)) return ch;
  return GREEK_BY_UNICODE.get(ch) ?? null;
}

/** A canonical name split back into its pieces (leading accent words are accents). */
export function splitCanonical(canonical: string): NameParts {
  const [base = '', ...rest] = canonical.split('_');
  let i = 0;
  while (i < rest.length && (ACCENT_BY_NAME.has(rest[i]) || rest[i] === PRIME)) i++;
  const subscripts = rest.slice(i);
  // `…_sup_hx`: a superscript label, the last piece (what the grammar reads as one: not `T` or `t`)
  if (subscripts.length >= 2 && subscripts[subscripts.length - 2] === LABEL_MARK && /^(?![Tt]$)[A-Za-z][A-Za-z0-9]*$/.test(subscripts[subscripts.length - 1]!)) {
    return { base, accents: rest.slice(0, i), subscripts: subscripts.slice(0, -2), label: subscripts[subscripts.length - 1]! };
  }
  return { base, accents: rest.slice(0, i), subscripts };
}

/**
 * A canonical name in the chosen spelling, for display:
 * `Gamma_u` → `Γ_u` / `\Gamma_{u}`, `c_tilde` → `c̃` / `\tilde{c}`, `W_aa` → `W_aa` / `W_{aa}`.
 */
export function spell(canonical: string, spelling: Spelling): string {
  if (spelling === 'ascii') return canonical;
  const { base, accents: all, subscripts, label } = splitCanonical(canonical);
  // Primes come after the other accents: `c̃′`, `\tilde{c}'`.
  const accents = all.filter((a) => a !== PRIME);
  const primes = all.length - accents.length;
  // one letter in parentheses, `W^{(f)}`, as the grammar reads it
  const sup = label === undefined ? '' : label.length === 1 ? `^{(${label})}` : `^{${label}}`;
  if (spelling === 'unicode') {
    const letter = GREEK_BY_NAME.get(base) ?? base;
    const marks = accents.map((a) => ACCENT_BY_NAME.get(a)?.mark ?? '').join('');
    // Compose (y + U+0302 → ŷ) only a single letter: a composed letter after
    // ASCII letters would read as a second name.
    const head = ([...letter].length === 1 ? (letter + marks).normalize('NFC') : letter + marks) + '′'.repeat(primes);
    // a subscript that is a Greek letter's name is that letter: `W_Δ`
    return [head, ...subscripts.map((sub) => GREEK_BY_NAME.get(sub) ?? sub)].join('_') + sup;
  }
  let head = latexBase(base);
  for (const a of accents) head = `${ACCENT_BY_NAME.get(a)?.latex[0] ?? ''}{${head}}`;
  return head + "'".repeat(primes) + latexSubscripts(subscripts) + sup;
}

function latexBase(base: string): string {
  const greek = GREEK.find((g) => g.name === base);
  if (greek?.latex) return greek.latex;
  if (LATEX_FUNCTIONS.includes(base)) return `\\${base}`;
  if (OPERATOR_WORDS.includes(base)) return `\\operatorname{${base}}`;
  return base;
}

/** [a, 1] → `_{a_{1}}`: LaTeX has no double subscript, so later ones nest; a Greek letter's name is its command (`_{\Delta}`). */
function latexSubscripts(subscripts: readonly string[]): string {
  return subscripts.reduceRight((inner, s) => `_{${GREEK.find((g) => g.name === s)?.latex ?? s}${inner}}`, '');
}
