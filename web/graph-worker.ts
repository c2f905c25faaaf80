// Graphviz (@viz-js/viz, WebAssembly) in a Web Worker: laying out a large graph
// takes long enough to stall typing, so the page sends DOT here and gets SVG
// text back. Only DOT made by compiler/print/graphviz.ts is ever sent. The
// page starts a spare worker (`warm`: Graphviz instantiated before it is needed).

import { instance } from '@viz-js/viz';

type Viz = Awaited<ReturnType<typeof instance>>;
let viz: Promise<Viz> | null = null;

/**
 * Fewer passes of dot's network simplex and crossing minimisation than its
 * defaults (the page lays a graph out on every keystroke that changes it;
 * `celda graph` keeps Graphviz's defaults): a layout a few times faster, of
 * about the same look for graphs of a cell's size.
 */
const QUICK = { nslimit: 2, nslimit1: 2, mclimit: 0.5, searchsize: 10 };

self.onmessage = async (e: MessageEvent<{ dot: string } | { warm: true }>) => {
  if ('warm' in e.data) { void (viz ??= instance()); return; }
  const { dot } = e.data;
  try {
    const v = await (viz ??= instance());
    const t0 = performance.now();
    const svg = v.renderString(dot, { format: 'svg', graphAttributes: QUICK });
    (self as unknown as Worker).postMessage({ svg, ms: performance.now() - t0 });
  } catch (err) {
    (self as unknown as Worker).postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
