// Graphviz (@viz-js/viz, WebAssembly) in a Web Worker: laying out a large graph
// takes long enough to stall typing, so the page sends DOT here and gets SVG
// text back. Only DOT made by compiler/print/graphviz.ts is ever sent.

import { instance } from '@viz-js/viz';

type Viz = Awaited<ReturnType<typeof instance>>;
let viz: Promise<Viz> | null = null;

self.onmessage = async (e: MessageEvent<{ id: number; dot: string }>) => {
  const { id, dot } = e.data;
  try {
    const svg = (await (viz ??= instance())).renderString(dot, { format: 'svg' });
    (self as unknown as Worker).postMessage({ id, svg });
  } catch (err) {
    (self as unknown as Worker).postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
