// Downloads of the compiled cell, made in the page by the same compiler as the
// CLI: `celda compile`'s JavaScript module (float32 with WebAssembly SIMD, or
// float64), and `celda export`'s PyTorch module and ONNX model.

import type { CompiledCell } from '../compiler/compile.ts';
import type { Diagnostic } from '../compiler/diagnostics.ts';
import { render } from '../compiler/diagnostics.ts';
import { evalDim } from '../compiler/ir/dims.ts';

export function download(name: string, data: string | Uint8Array, type: string): void {
  const blob = new Blob([data as BlobPart], { type });
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** A cell's name as a file name. */
export const fileName = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, '_') || 'cell';

/** Make and download one export; resolves to a line for the page (what was written, or the diagnostics). */
export async function exportCell(kind: string, cell: CompiledCell, source: string, dims: Readonly<Record<string, number>>): Promise<string> {
  const failed = (ds: readonly Diagnostic[]) => ds.map((d) => render(d, 'cell.celda', source)).join('\n');
  const base = fileName(cell.name);
  if (kind === 'js-f32' || kind === 'js-f64') {
    const { emitJs } = await import('../compiler/emit/js/emit.ts');
    const precision = kind === 'js-f32' ? 'f32' : 'f64';
    const out = emitJs(cell, { precision });
    download(`${base}.${precision}.js`, out.module, 'text/javascript');
    return `${base}.${precision}.js: ${cell.name} as a standalone ES module (${precision === 'f32' ? 'float32, WebAssembly SIMD' : 'float64'}), as celda compile writes it`;
  }
  if (kind === 'pytorch') {
    const r = (await import('../compiler/export/pytorch.ts')).exportPytorch(cell);
    if (!r.ok) return failed(r.diagnostics);
    download(`${base}.py`, r.code, 'text/x-python');
    return `${base}.py: ${cell.name} as a PyTorch module (docs/export.md)`;
  }
  if (kind === 'onnx') {
    // The dimensions the training panel would use; the parameters are inputs of the model (--params-as-inputs).
    const used: Record<string, number> = {};
    for (const d of cell.typed.dims) { const v = dims[d] ?? cell.typed.dimDefaults[d]; if (v !== undefined) used[d] = v; }
    const missing = cell.typed.dims.filter((d) => evalDim({ terms: [[d, 1]], k: 0 }, used) === undefined);
    if (missing.length) return `ONNX needs every dimension as a number; ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} none (declare ${missing.length === 1 ? 'it' : 'them'} in the cell)`;
    const r = (await import('../compiler/export/onnx.ts')).exportOnnx(cell, { dims: used, paramsAsInputs: true });
    if (!r.ok) return failed(r.diagnostics);
    download(`${base}.onnx`, r.bytes, 'application/octet-stream');
    return `${base}.onnx: ${cell.name} as an ONNX model (opset 17; parameters as inputs; ${Object.entries(used).map(([k, v]) => `${k} = ${v}`).join(', ')})`;
  }
  return `unknown export ${kind}`;
}
