// The celda playground: write a cell, see its math, graph and shapes as you
// type, train it in a Web Worker, export it. Everything runs in this page: the
// compiler is the CLI's, bundled (it imports no `node:*`).

import 'katex/dist/katex.min.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import examples from 'celda:examples';
import type { CompiledCell } from '../compiler/compile.ts';
import { compile } from '../compiler/compile.ts';
import { hasErrors, render } from '../compiler/diagnostics.ts';
import { DEFAULTS } from '../runtime/train/data/tasks/defaults.ts';
import { createEditor } from './editor.ts';
import { download, exportCell } from './export.ts';
import type { Exported } from './train/protocol.ts';
import { decodeCell, shareUrl } from './share.ts';
import { TrainPanel } from './train-ui.ts';
import type { TrainSettings } from './train-ui.ts';
import { gradientNames, graphTimes, parameterCount, renderGraph, renderMath, renderShapes } from './views.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const STORE = 'celda.playground.cell';
/** The embedding width of every task (runtime/train/data/tasks: embed 16): the n_x the panel's sizes assume. */
const EMBED = 16;

const fallbackExample = examples.find((e) => e.name === 'gru') ?? examples[0];
const stored = (() => { try { return localStorage.getItem(STORE); } catch { return null; } })();
const shared = decodeCell(location.hash);
const initial = shared ?? stored ?? fallbackExample?.source ?? 'cell RNN {\n  input x : n_x\n  state a : n_a\n  a^<t> = tanh(W_aa a^<t-1> + W_ax x^<t> + b_a)\n}\n';

// ---------------------------------------------------------------- state

let cells: readonly CompiledCell[] = [];
let current: CompiledCell | null = null;
let source = initial;
let editStarted: number | null = null;
/** Keystroke → math, shapes and graph on screen, in ms, one per update (read by the browser test). */
const timings: number[] = [];
/** Where each update's time went, in ms (same order as timings). */
const breakdown: { queued: number; compile: number; math: number; shapes: number; graph: number; layout: number; layoutWait: number }[] = [];
/** The latest update shown: an older one whose graph arrives late records nothing. */
let shownSeq = 0;
let updates = 0;
/** The text whose diagnostics are shown, and the one whose math, shapes and graph are (the editor's may be newer: its update is still to come). */
let checkedSource = '';
let shownSource = '';
let lastCompileMs = 0;
/** Keystroke → compile start: the input's own handling, and however long the update waited for its turn. */
let lastQueuedMs = 0;

const status = $('status');
const problems = $('problems');
const cellSelect = $<HTMLSelectElement>('cells');
const wrtSelect = $<HTMLSelectElement>('wrt');

const sizes = (): Record<string, number> => ({ n_a: Number($<HTMLInputElement>('hidden').value) || 32, n_x: EMBED });
const sizesText = () => { const s = sizes(); return `n_a = ${s.n_a}, n_x = ${s.n_x}`; };

/**
 * An edit's update runs as the next task (a message to itself: no timer's
 * clamping or lateness), after the input events already queued — Chromium
 * runs those first — so the edits that arrive before it (keys held down, a
 * burst of typing, a paste) are one update, and a single keystroke waits for
 * none (the 12 ms timer this replaces added 12 ms or more to every keystroke).
 */
const tick = new MessageChannel();
let pending = false;
tick.port1.onmessage = () => { pending = false; update(); };

const editor = createEditor($('editor'), initial, (text) => {
  source = text;
  editStarted ??= performance.now();
  if (!pending) { pending = true; tick.port2.postMessage(null); }
}, [
  { key: 'Mod-Enter', run: () => { void startTraining(false); return true; }, preventDefault: true },
  { key: 'Mod-s', run: () => { void share(); return true; }, preventDefault: true },
  { key: 'Escape', run: () => { if (!panel.active) return false; panel.stop(); return true; } },
]);

// ---------------------------------------------------------------- compile and show

function setStatus(text: string, kind: 'ok' | 'error' | 'info'): void {
  if (status.textContent === text && status.className === kind) return;
  status.textContent = text;
  status.className = kind;
}

function update(): void {
  const t0 = editStarted ?? performance.now();
  editStarted = null;
  try { localStorage.setItem(STORE, source); } catch { /* private mode: not kept */ }
  syncExample();
  const tc = performance.now();
  const r = compile(source, { defaultCellName: 'cell' });
  lastCompileMs = performance.now() - tc;
  lastQueuedMs = tc - t0;
  editor.showDiagnostics(r.diagnostics);
  checkedSource = source;
  problems.hidden = r.diagnostics.length === 0;
  problems.textContent = r.diagnostics.map((d) => render(d, 'cell.celda', source)).join('\n\n');
  cells = r.cells;
  if (hasErrors(r.diagnostics) || cells.length === 0) {
    const errs = r.diagnostics.filter((d) => d.severity === 'error').length;
    setStatus(errs ? `${errs} error${errs === 1 ? '' : 's'}` : 'no cell', 'error');
    document.body.dataset.compiled = 'error';
    $('stale').hidden = current === null;
    return;
  }
  const names = cells.map((c) => c.name);
  const keep = current && names.includes(current.name) ? current.name : cellSelect.value && names.includes(cellSelect.value) ? cellSelect.value : names[0]!;
  setOptions(cellSelect, names.map((n) => [n, n] as const), keep);
  if ($('cell-pick').hidden !== cells.length < 2) $('cell-pick').hidden = cells.length < 2;
  current = cells.find((c) => c.name === keep)!;
  $('stale').hidden = true;
  showCell(current, t0);
}

function showCell(cell: CompiledCell, t0: number): void {
  const grads = gradientNames(cell);
  const wrt = grads.includes(wrtSelect.value) ? wrtSelect.value : '';
  setOptions(wrtSelect, [['all', ''], ...grads.map((g) => [`∂${g}`, g] as const)], wrt);
  // The graph first: Graphviz lays it out in its worker while this thread typesets the math and the browser lays that out.
  const seq = ++shownSeq;
  const text = source;
  const graph = drawGraph();
  const t1 = performance.now();
  renderMath($('math-forward'), $('math-backward'), cell, wrt);
  const t2 = performance.now();
  renderShapes($('shapes'), cell, sizes(), sizesText());
  const t3 = performance.now();
  const n = parameterCount(cell, sizes());
  const t = cell.typed;
  setStatus(`✓ ${cell.name}: ${t.states.length} state${t.states.length === 1 ? '' : 's'}, ${t.params.length} parameter tensors${n === undefined ? '' : ` (${n.toLocaleString('en-US')} at ${sizesText()})`}`, 'ok');
  void graph.then(() => {
    if (seq !== shownSeq) return;
    const t4 = performance.now();
    timings.push(t4 - t0);
    breakdown.push({ queued: lastQueuedMs, compile: lastCompileMs, math: t2 - t1, shapes: t3 - t2, graph: t4 - t3, layout: graphTimes.layout, layoutWait: graphTimes.wait });
    updates++;
    shownSource = text;
    document.body.dataset.compiled = 'ok';
    document.body.dataset.updates = String(updates);
  });
}

/** A menu's options as [label, value] pairs, `value` chosen; left as they are when they are the same (most keystrokes). */
function setOptions(menu: HTMLSelectElement, options: readonly (readonly [string, string])[], value: string): void {
  const same = menu.options.length === options.length && options.every(([l, v], i) => menu.options[i]!.value === v && menu.options[i]!.text === l);
  if (!same) menu.replaceChildren(...options.map(([l, v]) => new Option(l, v, false, v === value)));
  if (menu.value !== value) menu.value = value;
}

let graphSeq = 0;
async function drawGraph(): Promise<void> {
  if (!current) return;
  const seq = ++graphSeq;
  const backward = (document.querySelector('input[name="graph"]:checked') as HTMLInputElement | null)?.value === 'backward';
  try {
    const cell = current;
    await renderGraph($('graph'), cell, backward);
  } catch (e) {
    if (seq === graphSeq) $('graph').textContent = `Graphviz could not lay the graph out: ${(e as Error).message}`;
  }
}

// ---------------------------------------------------------------- controls

const exampleSelect = $<HTMLSelectElement>('examples');
/** Shown when the editor holds no example as it is: the menu says what is in the editor, never a bare placeholder. */
exampleSelect.append(new Option('(your cell)', ''));
for (const group of [...new Set(examples.map((e) => e.group))]) {
  const og = document.createElement('optgroup');
  og.label = group === 'cells' ? 'examples/cells' : `examples/${group}`;
  for (const e of examples.filter((x) => x.group === group)) og.append(new Option(e.name, `${e.group}/${e.name}`));
  exampleSelect.append(og);
}
/** The menu shows the example the editor holds, if it holds one unchanged. */
function syncExample(): void {
  const e = examples.find((x) => x.source === source);
  const value = e ? `${e.group}/${e.name}` : '';
  if (exampleSelect.value !== value) exampleSelect.value = value;
}
exampleSelect.addEventListener('change', () => {
  const e = examples.find((x) => `${x.group}/${x.name}` === exampleSelect.value);
  if (e) { current = null; editor.setText(e.source); }
});
cellSelect.addEventListener('change', () => { current = cells.find((c) => c.name === cellSelect.value) ?? current; if (current) showCell(current, performance.now()); });
wrtSelect.addEventListener('change', () => { if (current) renderMath($('math-forward'), $('math-backward'), current, wrtSelect.value); });
for (const r of document.querySelectorAll<HTMLInputElement>('input[name="graph"]')) r.addEventListener('change', () => void drawGraph());
$('graph-fit').addEventListener('click', () => (document.querySelector('#graph svg') as unknown as { fit?: () => void } | null)?.fit?.());
$('hidden').addEventListener('change', () => { if (current) showCell(current, performance.now()); });

for (const tab of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) t.setAttribute('aria-selected', String(t === tab));
    for (const p of document.querySelectorAll<HTMLElement>('.tab')) p.hidden = p.id !== `tab-${tab.dataset.tab}`;
  });
}

async function share(): Promise<void> {
  const url = shareUrl(source);
  history.replaceState(null, '', url);
  try {
    await navigator.clipboard.writeText(url);
    setStatus('link copied: it carries this cell', 'info');
  } catch {
    setStatus('link in the address bar: it carries this cell', 'info');
  }
}
$('share').addEventListener('click', () => void share());

for (const b of document.querySelectorAll<HTMLButtonElement>('[data-export]')) {
  b.addEventListener('click', async () => {
    const out = $('export-status');
    if (!current) { out.textContent = 'fix the cell first: nothing compiles yet'; return; }
    out.textContent = await exportCell(b.dataset.export!, current, source, sizes()).catch((e: unknown) => `export failed: ${(e as Error).message}`);
  });
}

let lastExport: Exported | null = null;
for (const b of document.querySelectorAll<HTMLButtonElement>('[data-export-trained]')) {
  b.addEventListener('click', async () => {
    const out = $('export-status');
    const to = b.dataset.exportTrained === 'onnx' ? 'onnx' : 'pytorch';
    out.textContent = `exporting the trained model (${to === 'onnx' ? 'ONNX' : 'PyTorch'}) …`;
    const r = await panel.exportTrained(to);
    lastExport = r;
    if (!r.ok) { out.textContent = r.message; return; }
    for (const f of r.files) download(f.name, f.data, f.name.endsWith('.py') ? 'text/x-python' : 'application/octet-stream');
    out.textContent = `${r.files.map((f) => f.name).join(' and ')}: the trained model ${r.what} as ${to === 'onnx' ? 'an ONNX model (float32, weights as initializers)' : 'a PyTorch module, its weights beside it'}, as celda export runs/DIR writes it`;
  });
}

// ---------------------------------------------------------------- training

const panel = new TrainPanel($('chart'), $('run-info'), $('samples'), () => {
  ($('stop-btn') as HTMLButtonElement).disabled = !panel.active;
  ($('resume-btn') as HTMLButtonElement).disabled = !panel.paused;
});

function settings(): TrainSettings | null {
  if (!current) { setStatus('fix the cell before training', 'error'); return null; }
  const num = (id: string, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(Number($<HTMLInputElement>(id).value) || lo)));
  return {
    source, cellName: current.name, task: $<HTMLSelectElement>('task').value as TrainSettings['task'],
    hidden: num('hidden', 1, 1024), layers: num('layers', 1, 8),
    optimizer: $<HTMLSelectElement>('optimizer').value as TrainSettings['optimizer'], schedule: $<HTMLSelectElement>('schedule').value, steps: num('steps', 1, 1_000_000), backend: $<HTMLSelectElement>('backend').value as TrainSettings['backend'],
  };
}

/** A task's default layers, optimizer and schedule (what `celda train TASK` uses) set in the controls. */
function taskDefaults(): void {
  const task = $<HTMLSelectElement>('task').value as TrainSettings['task'];
  const d = DEFAULTS[task];
  $<HTMLInputElement>('layers').value = String(d.layers);
  $<HTMLSelectElement>('optimizer').value = d.optimizer;
  const schedule = $<HTMLSelectElement>('schedule');
  if (![...schedule.options].some((o) => o.value === d.schedule)) schedule.append(new Option(d.schedule, d.schedule));
  schedule.value = d.schedule;
  for (const [id, v] of [['layers', d.layers], ['optimizer', d.optimizer], ['schedule', d.schedule]] as const) $(id).title = `${task}'s default (celda train ${task}): ${v}`;
}
$('task').addEventListener('change', taskDefaults);
taskDefaults();

async function startTraining(beside: boolean): Promise<void> {
  const s = settings();
  if (s) await panel.train(s, beside);
}
// The same shortcuts outside the editor (inside it, its keymap has them and marks the event handled).
document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented) return;
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); void startTraining(false); }
  else if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); void share(); }
  else if (e.key === 'Escape' && panel.active) panel.stop();
});
$('train-btn').addEventListener('click', () => void startTraining(false));
$('compare-btn').addEventListener('click', () => void startTraining(true));
$('stop-btn').addEventListener('click', () => panel.stop());
$('resume-btn').addEventListener('click', () => panel.resume());

// The browser test reads these (and drives the page only through its controls).
(globalThis as { celdaPlayground?: unknown }).celdaPlayground = { timings, breakdown, panel, editor, get source() { return source; }, get checkedSource() { return checkedSource; }, get shownSource() { return shownSource; }, get lastExport() { return lastExport; } };

update();
document.title = 'celda playground';
