// Line charts as standalone SVG: training curves of one run, or several runs
// overlaid by `celda compare`. Hand-written so no plotting library is needed.

export interface Series {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** About `n` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * A tick label as a person writes it: `1000`, `2500`, `0.25`, `0.001` — as many
 * decimals as the spacing of the ticks needs, and no exponent between 10⁻⁶ and 10⁹.
 * `step` is the distance between ticks (default: the label alone decides).
 */
export function tickLabel(v: number, step?: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0 || Object.is(v, -0)) return '0';
  const a = Math.abs(v);
  if (a >= 1e9 || a < 1e-6) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
  const s = step !== undefined && Number.isFinite(step) && step > 0 ? step : a;
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(s) + 1e-9)));
  // Decimals the value itself needs beyond the spacing's (2.5 on ticks 1 apart is still 2.5).
  const own = Math.min(6, (String(Number(v.toPrecision(6))).split('.')[1] ?? '').length);
  return v.toFixed(Math.max(step === undefined ? own : decimals, Math.min(own, decimals + 1)));
}

const fmt = (v: number, all: readonly number[]) => tickLabel(v, all.length > 1 ? Math.abs(all[1]! - all[0]!) : undefined);

export function lineChart(title: string, xLabel: string, series: readonly Series[], width = 720, height = 400): string {
  const m = { l: 64, r: 170, t: 36, b: 48 };
  const W = width - m.l - m.r, H = height - m.t - m.b;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1] = pts.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = pts.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * W;
  const Y = (y: number) => m.t + H - ((y - y0) / (y1 - y0)) * H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.l + W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${W}" height="${H}" fill="none" stroke="#888"/>`,
  ];
  const xt = ticks(x0, x1), yt = ticks(y0, y1);
  for (const t of xt) out.push(`<line x1="${X(t).toFixed(1)}" y1="${m.t + H}" x2="${X(t).toFixed(1)}" y2="${m.t + H + 4}" stroke="#888"/><text x="${X(t).toFixed(1)}" y="${m.t + H + 17}" text-anchor="middle">${fmt(t, xt)}</text>`);
  for (const t of yt) out.push(`<line x1="${m.l}" y1="${Y(t).toFixed(1)}" x2="${m.l + W}" y2="${Y(t).toFixed(1)}" stroke="#eee"/><text x="${m.l - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t, yt)}</text>`);
  out.push(`<text x="${m.l + W / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    if (p.length === 1) out.push(`<circle cx="${p[0]!.split(',')[0]}" cy="${p[0]!.split(',')[1]}" r="3" fill="${color}"/>`);
    else if (p.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${p.join(' ')}"/>`);
    const ly = m.t + 10 + i * 18;
    out.push(`<line x1="${m.l + W + 12}" y1="${ly}" x2="${m.l + W + 32}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${m.l + W + 38}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
