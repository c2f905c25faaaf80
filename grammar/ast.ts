// The AST of a .celda file: plain objects, produced by grammar/parse.ts, consumed
// by the checker. Every node carries the span of source text it came from
// (UTF-16 offsets into the original source, end exclusive). All names are
// canonical ASCII (`w_{aa}` → `w_aa`, `Γ_u` → `Gamma_u`, `c̃` → `c_tilde`,
// `\hat{y}` → `y_hat`); the spelling the user chose is not kept.

export interface Span {
  readonly start: number;
  readonly end: number;
}

/** A time superscript as written. The parser does not judge it; the checker does. */
export type Time =
  | { readonly kind: 'rel'; readonly offset: number } // <t> → 0, <t-1> → -1, <t+1> → +1
  | { readonly kind: 'abs'; readonly step: number } // <0>, <1>, …
  | { readonly kind: 'empty' } // ^{} — the notes lost some indices in extraction
  | { readonly kind: 'other'; readonly text: string }; // <s>, <t-k>, anything else

export type BinaryOp = '+' | '-' | '*' | '/' | '@';

/** `≥ > ≤ <` (`>=`, `\geq` …): 1 where true, 0 where false. */
export type CompareOp = '>=' | '>' | '<=' | '<';

/** One arm of `cases(…)`: its value, and its condition (null: `otherwise`). */
export interface CaseArm {
  readonly value: Expr;
  readonly cond: Expr | null;
}

export type Expr =
  | { readonly kind: 'num'; readonly value: number; readonly span: Span }
  /** A name, optionally time-indexed: `a^<t-1>`, `Gamma_u`, `W_aa`, `tanh` (as a value). */
  | { readonly kind: 'var'; readonly name: string; readonly time: Time | null; readonly span: Span }
  /**
   * `f(e)`, `f \left( e \right)`, `f \, (e)`, `max(a, b)`, `\max\{a, b\}`: a bare
   * name directly followed by parenthesised arguments. Whether it is a call or a
   * product `W (v)` is the checker's decision.
   */
  | { readonly kind: 'apply'; readonly fn: string; readonly fnSpan: Span; readonly args: readonly Expr[]; readonly span: Span; readonly semi?: number }
  /** `a ≥ b`, `a > b`, `a \leq b`, `a < b`: a condition of `cases`. */
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr; readonly span: Span }
  /** `cases(v if v ≥ 0, σ(v) otherwise)`, `\begin{cases} … \end{cases}`: the last arm's condition is null (otherwise). */
  | { readonly kind: 'cases'; readonly arms: readonly CaseArm[]; readonly span: Span }
  /** Slice `index` of `count` equal consecutive slices of `arg`: what a split left-hand side `[f, i, o, g] = e` reads (made by the checker, never parsed). */
  | { readonly kind: 'part'; readonly arg: Expr; readonly index: number; readonly count: number; readonly span: Span }
  /** `+ - * / @`: `*`, `⊙`, `\odot`, `∘` are `*`; `·`, `\cdot`, `@` are `@`. */
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly span: Span }
  /** Juxtaposition `W_aa a^<t-1>`, `W_c[u, v]`, `2 x`. */
  | { readonly kind: 'juxt'; readonly left: Expr; readonly right: Expr; readonly span: Span }
  | { readonly kind: 'neg'; readonly arg: Expr; readonly span: Span }
  /** `(…)^2`, `x^{0.5}`, `x²`; the exponent is a literal number. */
  | { readonly kind: 'pow'; readonly base: Expr; readonly exponent: number; readonly span: Span }
  /** `W^T`, `W^{T}`, `W^\top`, `Wᵀ`. */
  | { readonly kind: 'transpose'; readonly arg: Expr; readonly span: Span }
  /** `a^{c r_t}`, `x^{y}`: a power whose exponent is an expression (a number exponent is `pow`). */
  | { readonly kind: 'power'; readonly base: Expr; readonly exponent: Expr; readonly span: Span }
  /** `[u, v]`: concatenation along the feature axis. */
  | { readonly kind: 'concat'; readonly items: readonly Expr[]; readonly span: Span }
  /** `[0 … 0]`, `[0 \dots 0]`, `[0, …, 0]`: a zero vector of the shape its context needs. */
  | { readonly kind: 'zeros'; readonly span: Span }
  /** `\frac{a}{b}` is parsed to `binary /`; `\sqrt{a}` to `apply sqrt`. A LaTeX
   *  command the grammar does not know lands here, so the checker can name it. */
  | { readonly kind: 'latex'; readonly command: string; readonly span: Span };

/** Dimension expressions in declarations: `n_a`, `n_a + n_x`, `2 n_a`, `32`. */
export type DimExpr =
  | { readonly kind: 'dim'; readonly name: string; readonly span: Span }
  | { readonly kind: 'dimnum'; readonly value: number; readonly span: Span }
  | { readonly kind: 'dimadd'; readonly op: '+' | '-'; readonly left: DimExpr; readonly right: DimExpr; readonly span: Span }
  | { readonly kind: 'dimscale'; readonly factor: number; readonly arg: DimExpr; readonly span: Span };

export type DeclKind = 'input' | 'state' | 'param' | 'output' | 'dim';

export interface Decl {
  readonly kind: DeclKind;
  readonly name: string;
  readonly nameSpan: Span;
  /** `: n_a` → one entry (a vector); `: n_a × (n_a + n_x)` → two (a matrix); `: 1` a scalar. Null when omitted. */
  readonly shape: readonly DimExpr[] | null;
  /** `state c : n_a = 0` / `= [0 \dots 0]`; `dim n_a = 32` (a default value, as a num). */
  readonly init: Expr | null;
  readonly span: Span;
}

export interface Equation {
  readonly lhs: { readonly name: string; readonly time: Time | null; readonly span: Span };
  readonly rhs: Expr;
  readonly span: Span;
}

/** `g(v) = …`, `LN(z; α, β) = …`: a function defined in a cell, inlined where it is applied. */
export interface FunctionDef {
  readonly name: string;
  readonly nameSpan: Span;
  readonly params: readonly { readonly name: string; readonly span: Span }[];
  /** How many parameters come before `;` (null: no `;`). */
  readonly semi: number | null;
  readonly body: Expr;
  readonly span: Span;
}

/** `[f, i, o, g] = e`: e split into equal consecutive slices, one per name. */
export interface SplitEquation {
  readonly targets: readonly { readonly name: string; readonly time: Time | null; readonly span: Span }[];
  readonly rhs: Expr;
  readonly span: Span;
}

export interface CellAst {
  readonly name: string;
  readonly nameSpan: Span;
  readonly decls: readonly Decl[];
  readonly equations: readonly Equation[];
  /** Functions defined in the cell (absent: none). */
  readonly functions?: readonly FunctionDef[];
  /** Split left-hand sides (absent: none). */
  readonly splits?: readonly SplitEquation[];
  readonly span: Span;
}

export interface FileAst {
  readonly cells: readonly CellAst[];
  readonly span: Span;
}

/** A parse failure, as data: the compiler turns it into a diagnostic. */
export interface SyntaxProblem {
  readonly span: Span;
  /** What the grammar expected at that point, in words: `"=" or an equation`. */
  readonly expected: string;
  /** What was found there, as source text (possibly empty at end of input). */
  readonly found: string;
}

export type ParseResult =
  | { readonly ok: true; readonly ast: FileAst }
  | { readonly ok: false; readonly problem: SyntaxProblem };
