// What the page shows of a compiled cell: its forward and backward step as
// typeset math (KaTeX, from the compiler's LaTeX printer — what `celda print
// --format latex` and `celda grad --format latex` write), its graphs as SVG
// (Graphviz's layout through @viz-js/viz, from the same DOT as `celda graph`),
// and the shapes of its parameters, inputs, states and outputs.

import katex from 'katex';
import type { CompiledCell } from '../compiler/compile.ts';
import { evalDim } from '../compiler/ir/dims.ts';
import type { Dim } from '../compiler/ir/dims.ts';
import { toDot } from '../compiler/print/graphviz.ts';
import { printCell, printGrad, shapeText } from '../compiler/print/notation.ts';
import { spell } from '../grammar/names.ts';

/** `x^{<t-1>}` as the notes typeset it, `x^{\langle t-1\rangle}`. */
const angles = (s: string) => s.replace(/\^\{<([^>{}]*)>\}/g, (_, t: string) => `^{\\langle ${t}\\rangle}`);

/** Equations `lhs = rhs` as rows: the two sides apart, so each is typeset (and cached) on its own. */
export interface MathRow { readonly lhs: string; readonly rhs: string | null }

function rows(lines: readonly string[]): MathRow[] {
  return lines.map((l) => {
    const i = l.indexOf(' = ');
    return i < 0 ? { lhs: angles(l), rhs: null } : { lhs: angles(l.slice(0, i)), rhs: angles(l.slice(i + 3)) };
  });
}

/** What each element shows now (LaTeX, DOT), to skip redrawing the same. */
const shown = new WeakMap<HTMLElement, string>();

/** KaTeX's HTML for each side typeset so far: a keystroke changes one equation or two, the rest are taken from here. */
const typesetCache = new Map<string, string>();
const TYPESET_CACHE = 2000;

function katexHtml(tex: string): string {
  let html = typesetCache.get(tex);
  if (html === undefined) {
    // trust: false (KaTeX's default) — no \href, \htmlClass … from anything a cell contains.
    html = katex.renderToString(`\\displaystyle ${tex}`, { displayMode: false, throwOnError: true, trust: false, strict: 'ignore', maxExpand: 1000 });
    if (typesetCache.size >= TYPESET_CACHE) typesetCache.delete(typesetCache.keys().next().value!);
    typesetCache.set(tex, html);
  }
  return html;
}

/** Each equation's element (display: contents: its sides stay items of the grid) and the LaTeX it shows. */
const rowKeys = new WeakMap<Element, string>();
const rowKey = (r: MathRow) => (r.rhs === null ? r.lhs : `${r.lhs}\u0000${r.rhs}`);

function rowElement(r: MathRow): HTMLElement {
  const e = document.createElement('div');
  e.className = 'eq';
  // KaTeX's output is markup it made from LaTeX the compiler printed (never the cell's text as such).
  e.innerHTML = r.rhs === null
    ? `<div class="eq-full">${katexHtml(r.lhs)}</div>`
    : `<div class="eq-lhs">${katexHtml(r.lhs)}</div><div class="eq-rhs">${katexHtml(`= ${r.rhs}`)}</div>`;
  rowKeys.set(e, rowKey(r));
  return e;
}

/**
 * For each new row, the old row it keeps (its index), or -1 for a new one: the
 * longest run of keys common to both in order (after the common head and
 * tail), so that an edit touches only the equations it changed — the browser
 * then styles and lays out those alone, not the whole backward step again.
 */
export function matchRows(old: readonly string[], next: readonly string[]): Int32Array {
  const match = new Int32Array(next.length).fill(-1);
  let head = 0;
  while (head < old.length && head < next.length && old[head] === next[head]) { match[head] = head; head++; }
  let tail = 0;
  while (tail < old.length - head && tail < next.length - head && old[old.length - 1 - tail] === next[next.length - 1 - tail]) { match[next.length - 1 - tail] = old.length - 1 - tail; tail++; }
  const a = old.slice(head, old.length - tail), b = next.slice(head, next.length - tail);
  if (a.length === 0 || b.length === 0 || a.length * b.length > 1_000_000) return match;
  // lcs[i * w + j]: the length of the longest common subsequence of a[i..] and b[j..]
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
  }
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] === b[j]) { match[head + j] = head + i; i++; j++; } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) i++; else j++;
  }
  return match;
}

/** The rows as a two-column grid, aligned at `=` as the notes' `aligned` blocks are. */
function typeset(el: HTMLElement, math: readonly MathRow[]): void {
  const key = JSON.stringify(math);
  // Most keystrokes (comments, spacing, a name half typed) leave the math as it was: keep what is on screen.
  if (shown.get(el) === key) return;
  shown.set(el, key);
  const raw = el.classList.contains('raw');
  const children = raw ? [] : [...el.children];
  const match = matchRows(children.map((c) => rowKeys.get(c) ?? ''), math.map(rowKey));
  try {
    // Only the new equations are typeset (and parsed, styled and laid out); the rest stay where they are.
    const made = math.map((r, j) => (match[j]! >= 0 ? children[match[j]!]! : rowElement(r)));
    if (raw) { el.classList.remove('raw'); el.replaceChildren(); }
    const kept = new Set(match);
    for (const [i, c] of children.entries()) if (!kept.has(i)) c.remove();
    let prev: Element | null = null;
    for (const [j, m] of made.entries()) {
      if (match[j]! < 0) el.insertBefore(m, prev ? prev.nextSibling : el.firstChild);
      prev = m;
    }
  } catch (e) {
    el.textContent = `KaTeX could not typeset this (${(e as Error).message}); the LaTeX:\n${math.map((r) => (r.rhs === null ? r.lhs : `${r.lhs} = ${r.rhs}`)).join('\n')}`;
    el.classList.add('raw');
  }
}

/** The forward equations (declarations left to the Shapes tab). */
export function forwardLatex(cell: CompiledCell): MathRow[] {
  const text = printCell(cell.typed, cell.forward, 'latex');
  const body = text.split('\n').slice(1, -2).map((l) => l.trim()).filter((l) => l !== '' && !/^(input|state|param)\s/.test(l));
  return rows(body);
}

export function backwardLatex(cell: CompiledCell, wrt?: string): MathRow[] {
  const text = printGrad(cell.typed, cell.forward, cell.backward, { spelling: 'latex', ...(wrt ? { wrt } : {}) });
  return rows(text.split('\n').filter((l) => l.trim() !== ''));
}

/** The names the backward step has a gradient for, in its order. */
export const gradientNames = (cell: CompiledCell): string[] => [...new Set(cell.backward.roots.map((r) => r.name))];

export function renderMath(fwd: HTMLElement, bwd: HTMLElement, cell: CompiledCell, wrt: string): void {
  typeset(fwd, forwardLatex(cell));
  typeset(bwd, backwardLatex(cell, wrt || undefined));
}

// ---------------------------------------------------------------- graphs

/**
 * Graphviz, in its own worker (graph-worker.ts), and a spare one already
 * started: when a newer graph is asked for while a layout is under way, that
 * layout is for text no longer in the editor — its worker is ended and the
 * spare takes the new graph at once, instead of it waiting its turn.
 */
let worker: Worker | null = null;
let spare: Worker | null = null;
/** The layout being made, and the latest one asked for meanwhile (older ones are dropped: their text is gone). */
let busy: { readonly ok: (svg: string) => void; readonly fail: (e: Error) => void } | null = null;
let waiting: { readonly dot: string; readonly ok: (svg: string | null) => void; readonly fail: (e: Error) => void } | null = null;
/** SVG by DOT: undo, switching cells or graphs, and a keystroke that leaves the graph as it was need no new layout. */
const layouts = new Map<string, string>();
const LAYOUT_CACHE = 64;

/** Where the last graph's time went, in ms: Graphviz's layout in the worker, and waiting for the worker. */
export const graphTimes = { layout: 0, wait: 0 };

function startWorker(): Worker {
  const w = new Worker(new URL('graph-worker.js', document.baseURI), { type: 'module', name: 'celda graphviz' });
  w.postMessage({ warm: true });
  w.onmessage = (e: MessageEvent<{ svg?: string; error?: string; ms?: number }>) => {
    if (w !== worker) return;
    const p = busy;
    busy = null;
    if (e.data.svg !== undefined) { graphTimes.layout = e.data.ms ?? 0; p?.ok(e.data.svg); } else p?.fail(new Error(e.data.error ?? 'no answer'));
    pump();
  };
  w.onerror = (e) => {
    if (w !== worker) return;
    busy?.fail(new Error(e.message || 'the Graphviz worker failed'));
    busy = null; worker = null;
    pump();
  };
  return w;
}

function pump(): void {
  if (!waiting) return;
  if (busy) {
    // The layout under way is for older text: end it, and lay the newer one out on the spare.
    worker?.terminate();
    worker = null;
    busy = null;
  }
  const { dot, ok, fail } = waiting;
  waiting = null;
  const t0 = performance.now();
  busy = {
    ok: (svg) => {
      graphTimes.wait = performance.now() - t0 - graphTimes.layout;
      if (layouts.size >= LAYOUT_CACHE) layouts.delete(layouts.keys().next().value!);
      layouts.set(dot, svg);
      ok(svg);
    },
    fail,
  };
  if (!worker) { worker = spare ?? startWorker(); spare = null; }
  worker.postMessage({ dot });
  spare ??= startWorker();
}

/** The SVG of a DOT graph; null when a newer graph was asked for before this one's turn came. */
function layout(dot: string): Promise<string | null> {
  const hit = layouts.get(dot);
  if (hit !== undefined) {
    layouts.delete(dot);
    layouts.set(dot, hit);
    graphTimes.layout = 0; graphTimes.wait = 0;
    return Promise.resolve(hit);
  }
  return new Promise((ok, fail) => {
    waiting?.ok(null);
    waiting = { dot, ok, fail };
    pump();
  });
}

/** The latest DOT asked of each host: an older layout that arrives late is dropped. */
const asked = new WeakMap<HTMLElement, string>();

/** The most nodes laid out in the page (as `celda graph --format svg` by default). */
export const MAX_GRAPH_NODES = 2000;

export async function renderGraph(host: HTMLElement, cell: CompiledCell, backward: boolean): Promise<void> {
  const g = backward ? cell.backward : cell.forward;
  if (g.nodes.length > MAX_GRAPH_NODES) {
    shown.delete(host);
    host.replaceChildren(Object.assign(document.createElement('p'), { textContent: `The ${backward ? 'backward' : 'forward'} graph has ${g.nodes.length} nodes, more than the page lays out (${MAX_GRAPH_NODES}); celda graph writes its DOT.` }));
    return;
  }
  const dot = toDot(g, `${cell.name}${backward ? ' (backward)' : ''}`);
  if (shown.get(host) === dot) return;
  asked.set(host, dot);
  const text = await layout(dot);
  if (text === null || asked.get(host) !== dot) return;
  const svg = document.importNode(new DOMParser().parseFromString(text, 'image/svg+xml').documentElement, true) as unknown as SVGSVGElement;
  if (!(svg instanceof SVGSVGElement)) throw new Error('Graphviz gave no SVG');
  shown.set(host, dot);
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.classList.add('graph-svg');
  host.replaceChildren(svg);
  panZoom(svg);
}

/** Drag to pan, wheel (or pinch) to zoom around the pointer, double-click or `fit()` to see it whole. */
function panZoom(svg: SVGSVGElement): void {
  const base = svg.viewBox.baseVal;
  const home = { x: base.x, y: base.y, w: base.width, h: base.height };
  const set = (x: number, y: number, w: number, h: number) => svg.setAttribute('viewBox', `${x} ${y} ${w} ${h}`);
  const fit = () => set(home.x, home.y, home.w, home.h);
  (svg as unknown as { fit: () => void }).fit = fit;
  const toSvg = (cx: number, cy: number) => {
    const r = svg.getBoundingClientRect(), v = svg.viewBox.baseVal;
    // preserveAspectRatio xMidYMid meet: one scale, the slack split evenly.
    const s = Math.max(v.width / r.width, v.height / r.height);
    return { x: v.x + (cx - r.left - (r.width - v.width / s) / 2) * s, y: v.y + (cy - r.top - (r.height - v.height / s) / 2) * s, s };
  };
  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const v = svg.viewBox.baseVal, p = toSvg(e.clientX, e.clientY);
    const k = Math.exp(Math.max(-0.5, Math.min(0.5, e.deltaY * 0.002)));
    const w = Math.min(home.w * 20, Math.max(home.w / 50, v.width * k)), f = w / v.width;
    set(p.x - (p.x - v.x) * f, p.y - (p.y - v.y) * f, v.width * f, v.height * f);
  }, { passive: false });
  let drag: { x: number; y: number } | null = null;
  svg.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; svg.setPointerCapture(e.pointerId); svg.classList.add('dragging'); });
  svg.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const v = svg.viewBox.baseVal, { s } = toSvg(e.clientX, e.clientY);
    set(v.x - (e.clientX - drag.x) * s, v.y - (e.clientY - drag.y) * s, v.width, v.height);
    drag = { x: e.clientX, y: e.clientY };
  });
  const end = () => { drag = null; svg.classList.remove('dragging'); };
  svg.addEventListener('pointerup', end);
  svg.addEventListener('pointercancel', end);
  svg.addEventListener('dblclick', fit);
}

// ---------------------------------------------------------------- shapes

export interface SizeEnv { readonly [dim: string]: number }

const size = (dims: readonly Dim[], env: SizeEnv): number | undefined => {
  let n = 1;
  for (const d of dims) {
    const v = evalDim(d, env);
    if (v === undefined) return undefined;
    n *= v;
  }
  return n;
};

/** Parameters of the cell at these dimension sizes (undefined where a dimension has no size). */
export function parameterCount(cell: CompiledCell, env: SizeEnv): number | undefined {
  let n = 0;
  for (const p of cell.typed.params) {
    const s = size(p.shape, env);
    if (s === undefined) return undefined;
    n += s;
  }
  return n;
}

const cellEl = (tag: string, text: string, cls?: string) => {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

/** The table of every parameter, input, state and output with its inferred shape and, at `env`, its size. */
export function renderShapes(host: HTMLElement, cell: CompiledCell, env: SizeEnv, envText: string): void {
  const t = cell.typed;
  const table = document.createElement('table');
  table.className = 'shapes';
  const head = document.createElement('tr');
  for (const h of ['', 'name', 'shape', `size at ${envText}`]) head.append(cellEl('th', h));
  table.append(head);
  const row = (role: string, name: string, dims: readonly Dim[]) => {
    const tr = document.createElement('tr');
    const s = size(dims, env);
    tr.append(cellEl('td', role, 'role'), cellEl('td', spell(name, 'unicode'), 'name'), cellEl('td', shapeText(dims, 'unicode')), cellEl('td', s === undefined ? '—' : s.toLocaleString('en-US'), 'num'));
    table.append(tr);
  };
  for (const p of t.params) row('parameter', p.name, p.shape);
  for (const i of t.inputs) row('input', i.name, [i.dim]);
  for (const s of t.states) row('state', s.name, [s.dim]);
  for (const o of t.outputs) row('output', o.name, o.shape.dims);
  const count = parameterCount(cell, env);
  const dims = t.dims.length ? `dimensions: ${t.dims.join(', ')}` : 'no dimensions';
  host.replaceChildren(
    cellEl('p', `${cell.name}: ${t.params.length} parameter tensors, ${count === undefined ? 'a size not fixed by the task (bind it in the cell)' : `${count.toLocaleString('en-US')} parameters`} at ${envText}; ${dims}.`, 'param-count'),
    table,
  );
}
