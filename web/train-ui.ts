// The training panel: start a run in a Web Worker (train-worker.ts) on the
// backend chosen — gpu.js WebGL2 or WebGPU in a second worker behind the bridge
// (train/bridge.ts), or WebAssembly SIMD with threads — and show its loss and
// validation metric live (uPlot), steps/s, the backend in use (with the reason
// when it is not the one asked for), and samples or predictions. Stop pauses,
// Resume continues; "side by side" trains another run onto the same chart.

import uPlot from 'uplot';
import { tickLabel } from '../runtime/train/io/curves.ts';
import type { BackendChoice, Exported, FromDevice, FromTrainer, StartRun } from './train/protocol.ts';
import { growableBuffer } from './train/bridge.ts';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706'];
const LABEL: Record<BackendChoice, string> = { webgl2: 'gpu.js WebGL2', webgpu: 'gpu.js WebGPU', wasm: 'WebAssembly SIMD' };

export interface RunView {
  readonly id: number;
  readonly label: string;
  readonly asked: BackendChoice;
  backend: string;
  note: string;
  /** The settings the run trains with (the task's defaults and the page's choices). */
  settings: string;
  state: 'starting' | 'training' | 'paused' | 'done' | 'failed';
  step: number;
  steps: number;
  stepsPerSec: number;
  readonly losses: [number, number][];
  readonly metrics: [number, number][];
  watch: string;
  samples: readonly string[];
  error: string;
  readonly worker: Worker;
  device: Worker | null;
}

export interface TrainSettings {
  readonly source: string;
  readonly cellName: string;
  readonly task: StartRun['task'];
  readonly hidden: number;
  readonly layers: number;
  readonly optimizer: StartRun['optimizer'];
  readonly schedule: string;
  readonly steps: number;
  readonly backend: BackendChoice;
}

const workerUrl = () => new URL('train-worker.js', document.baseURI);

/** A device worker for a gpu.js mode, ready — or the reason it cannot be. */
async function startDevice(mode: 'webgl2' | 'webgpu', s: TrainSettings): Promise<{ worker: Worker; port: MessagePort; reply: SharedArrayBuffer } | { reason: string }> {
  if (!crossOriginIsolated) return { reason: 'the gpu.js worker bridge shares memory, which needs a crossOriginIsolated page (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, as celda playground does)' };
  const worker = new Worker(workerUrl(), { type: 'module', name: `celda ${mode}` });
  const channel = new MessageChannel();
  const reply = growableBuffer(1 << 16);
  const answer = await new Promise<FromDevice>((ok) => {
    const timer = setTimeout(() => ok({ type: 'unavailable', reason: 'the device worker did not start within 60 s' }), 60_000);
    worker.onmessage = (e) => { clearTimeout(timer); ok(e.data as FromDevice); };
    worker.onerror = (e) => { clearTimeout(timer); ok({ type: 'unavailable', reason: `the device worker failed: ${e.message}` }); };
    worker.postMessage({ type: 'device', mode, source: s.source, cellName: s.cellName, port: channel.port2, reply }, [channel.port2]);
  });
  if (answer.type === 'unavailable') { worker.terminate(); return { reason: answer.reason }; }
  return { worker, port: channel.port1, reply };
}

export class TrainPanel {
  readonly runs: RunView[] = [];
  private plot: uPlot | null = null;
  private plotKey = '';
  private dirty = false;
  private nextId = 1;
  /** Per run, the exports asked for and not yet answered, in order (two clicks before an answer are two waiters). */
  private readonly exportWaiters = new Map<RunView, { to: Exported['to']; ok: (r: Exported) => void }[]>();

  constructor(private readonly chartHost: HTMLElement, private readonly infoHost: HTMLElement, private readonly samplesHost: HTMLElement, private readonly changed: () => void) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(chartHost);
    // The chart's colours are read from the theme when it is made: a change of the system's theme makes it again.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { this.plotKey = ''; this.update(); });
  }

  get active(): boolean { return this.runs.some((r) => r.state === 'training' || r.state === 'starting'); }
  get paused(): boolean { return this.runs.some((r) => r.state === 'paused'); }

  /** A new run; unless `beside`, the runs before it are ended and cleared. */
  async train(s: TrainSettings, beside: boolean): Promise<void> {
    if (!beside) this.clear();
    const id = this.nextId++;
    const worker = new Worker(workerUrl(), { type: 'module', name: `celda training ${id}` });
    const run: RunView = {
      id, label: `#${id} ${s.cellName}`, asked: s.backend, backend: `starting ${LABEL[s.backend]} …`, note: '', settings: '', state: 'starting', step: 0, steps: s.steps, stepsPerSec: 0,
      losses: [], metrics: [], watch: '', samples: [], error: '', worker, device: null,
    };
    this.runs.push(run);
    worker.onmessage = (e) => this.onMessage(run, e.data as FromTrainer);
    worker.onerror = (e) => this.onMessage(run, { type: 'error', message: `the training worker failed: ${e.message || 'a script error'}` });
    this.update();
    let device: StartRun['device'];
    let fallback: string | undefined;
    if (s.backend !== 'wasm') {
      const d = await startDevice(s.backend, s);
      if ('reason' in d) fallback = `${LABEL[s.backend]} is unavailable: ${d.reason}; training on WebAssembly SIMD instead`;
      else { run.device = d.worker; device = { port: d.port, reply: d.reply, label: LABEL[s.backend] }; }
    }
    const msg: StartRun = {
      type: 'start', source: s.source, cellName: s.cellName, task: s.task, hidden: s.hidden, layers: s.layers, optimizer: s.optimizer, schedule: s.schedule, steps: s.steps, backend: device ? s.backend : 'wasm',
      dataUrl: new URL('data/', document.baseURI).href, seed: id, ...(device ? { device } : {}), ...(fallback ? { fallback } : {}),
    };
    worker.postMessage(msg, device ? [device.port] : []);
  }

  /** The latest run's trained model as files (`celda export runs/DIR`'s), or why not. */
  exportTrained(to: 'pytorch' | 'onnx'): Promise<Exported> {
    const run = [...this.runs].reverse().find((r) => r.state !== 'starting' && r.state !== 'failed');
    if (!run) return Promise.resolve({ ok: false, to, message: 'train the cell first (Train, or Ctrl-Enter): there is no trained model yet' });
    return new Promise((ok) => {
      const waiting = this.exportWaiters.get(run) ?? [];
      this.exportWaiters.set(run, [...waiting, { to, ok }]);
      run.worker.postMessage({ type: 'export', to });
    });
  }

  stop(): void { for (const r of this.runs) if (r.state === 'training') r.worker.postMessage({ type: 'stop' }); }

  resume(steps?: number): void {
    for (const r of this.runs) if (r.state === 'paused' || r.state === 'done') { r.state = 'training'; r.worker.postMessage({ type: 'resume', ...(steps ? { steps } : {}) }); }
    this.update();
  }

  clear(): void {
    for (const r of this.runs) { r.worker.terminate(); r.device?.terminate(); }
    this.runs.length = 0;
    this.update();
  }

  private onMessage(run: RunView, m: FromTrainer): void {
    switch (m.type) {
      case 'started': run.backend = m.backend; run.note = m.note ?? ''; run.settings = m.settings; run.state = 'training'; run.watch = m.watch.name; break;
      case 'progress': run.step = m.step; run.steps = m.steps; run.stepsPerSec = m.stepsPerSec; run.losses.push(...(m.losses as [number, number][])); break;
      case 'eval': {
        const v = m.metrics[run.watch];
        if (v !== undefined) run.metrics.push([m.step, v]);
        run.samples = m.samples;
        break;
      }
      case 'paused': run.state = 'paused'; run.step = m.step; break;
      case 'done': run.state = 'done'; run.step = m.step; break;
      case 'error':
        run.state = 'failed'; run.error = m.message;
        // an export asked for before the run failed gets that answer, not none
        for (const w of this.exportWaiters.get(run) ?? []) w.ok({ ok: false, to: w.to, message: m.message });
        this.exportWaiters.delete(run);
        break;
      case 'exported': {
        // the first waiter for that kind of export (the answers to two kinds may cross)
        const waiting = this.exportWaiters.get(run) ?? [];
        const i = waiting.findIndex((w) => w.to === m.result.to);
        if (i >= 0) { waiting[i]!.ok(m.result); waiting.splice(i, 1); }
        return;
      }
    }
    this.update();
  }

  private size() { return { width: Math.max(300, this.chartHost.clientWidth), height: 260 }; }

  private update(): void {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => { this.dirty = false; this.render(); });
  }

  private render(): void {
    this.renderInfo();
    this.renderChart();
    const last = [...this.runs].reverse().find((r) => r.samples.length);
    this.samplesHost.replaceChildren(...(last?.samples ?? []).map((s) => Object.assign(document.createElement('li'), { textContent: s })));
    this.changed();
  }

  private renderInfo(): void {
    const rows = this.runs.map((r) => {
      const p = document.createElement('div');
      p.className = `run run-${r.state}`;
      p.dataset.run = String(r.id);
      const loss = r.losses.length ? r.losses[r.losses.length - 1]![1] : undefined;
      const metric = r.metrics.length ? r.metrics[r.metrics.length - 1]![1] : undefined;
      const parts = [
        r.label, r.backend, ...(r.settings ? [r.settings] : []), `step ${r.step}/${r.steps}`, `${r.stepsPerSec.toFixed(r.stepsPerSec < 10 ? 1 : 0)} steps/s`,
        ...(loss !== undefined ? [`loss ${loss.toFixed(3)}`] : []), ...(metric !== undefined ? [`${r.watch} ${metric.toFixed(3)}`] : []), r.state,
      ];
      const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
      swatch.style.background = COLORS[(r.id - 1) % COLORS.length]!;
      p.append(swatch, document.createTextNode(parts.join(' · ')));
      if (r.note) p.append(Object.assign(document.createElement('div'), { className: 'warn', textContent: r.note }));
      if (r.error) p.append(Object.assign(document.createElement('div'), { className: 'error', textContent: r.error }));
      return p;
    });
    this.infoHost.replaceChildren(...rows);
  }

  private renderChart(): void {
    if (!this.runs.length) { this.plot?.destroy(); this.plot = null; this.plotKey = ''; this.chartHost.replaceChildren(); return; }
    const steps = [...new Set(this.runs.flatMap((r) => [...r.losses.map((p) => p[0]), ...r.metrics.map((p) => p[0])]))].sort((a, b) => a - b);
    const at = new Map(steps.map((s, i) => [s, i]));
    const column = (pts: readonly [number, number][]) => {
      const out: (number | null)[] = new Array(steps.length).fill(null);
      for (const [s, v] of pts) out[at.get(s)!] = v;
      return out;
    };
    const data: uPlot.AlignedData = [steps, ...this.runs.flatMap((r) => [column(r.losses), column(r.metrics)])];
    const key = this.runs.map((r) => `${r.id}:${r.watch}`).join(',');
    if (key !== this.plotKey || !this.plot) {
      this.plot?.destroy();
      this.plotKey = key;
      const ticks = (_u: uPlot, splits: number[]) => splits.map((v) => tickLabel(v, splits.length > 1 ? Math.abs(splits[1]! - splits[0]!) : undefined));
      const cs = getComputedStyle(document.documentElement);
      const fg = cs.getPropertyValue('--fg').trim() || '#222', grid = cs.getPropertyValue('--grid').trim() || '#ddd';
      const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: ticks };
      this.plot = new uPlot({
        ...this.size(),
        scales: { x: { time: false }, loss: {}, metric: {} },
        axes: [{ ...axis, label: 'step' }, { ...axis, scale: 'loss', label: 'training loss' }, { ...axis, scale: 'metric', side: 1, grid: { show: false }, label: 'validation' }],
        series: [
          { label: 'step', value: (_u, v) => (v == null ? '' : String(v)) },
          ...this.runs.flatMap((r) => {
            const color = COLORS[(r.id - 1) % COLORS.length]!;
            return [
              { label: `${r.label} loss`, scale: 'loss', stroke: color, width: 1.5, spanGaps: true, points: { show: false } },
              { label: `${r.label} ${r.watch || 'metric'}`, scale: 'metric', stroke: color, dash: [6, 4], width: 2, spanGaps: true, points: { show: true, size: 6 } },
            ] satisfies uPlot.Series[];
          }),
        ],
        legend: { show: true },
        cursor: { drag: { x: true, y: false } },
      }, data, this.chartHost);
    } else this.plot.setData(data);
  }
}
