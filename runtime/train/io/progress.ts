// Showing a run's progress: a live bar on a terminal (cli-progress), plain log
// lines otherwise (CI logs, pipes). Both show step, loss, the validation metric,
// tokens per second and the time left.

import cliProgress from 'cli-progress';
import type { Progress } from '../run/loop.ts';

export interface Reporter {
  step(p: Progress): void;
  eval(step: number, metrics: Readonly<Record<string, number>>): void;
  /** A line of its own (kept clear of the bar). */
  note(text: string): void;
  stop(): void;
}

export const formatDuration = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
};

const metricText = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));

export function reporter(o: { tty: boolean; watch: string; startStep: number; total: number; stream?: NodeJS.WriteStream; quiet?: boolean }): Reporter {
  const stream = o.stream ?? process.stderr;
  const t0 = performance.now();
  let metric: number | undefined;
  const rate = (p: Progress) => {
    const secs = (performance.now() - t0) / 1000;
    return { secs, tokS: p.tokens / Math.max(secs, 1e-9), eta: ((p.steps - p.step) * secs) / Math.max(1, p.step - o.startStep) };
  };
  if (o.quiet) return { step() {}, eval() {}, note() {}, stop() {} };

  if (o.tty) {
    const bar = new cliProgress.SingleBar({
      stream, hideCursor: true, clearOnComplete: false, etaBuffer: 50,
      format: `{bar} {value}/{total} | loss {loss} | ${o.watch} {metric} | {speed} tok/s | ETA {eta_formatted}`,
    }, cliProgress.Presets.shades_classic);
    bar.start(o.total, o.startStep, { loss: '–', metric: '–', speed: '–' });
    return {
      step(p) { bar.update(p.step, { loss: p.loss.toFixed(4), metric: metricText(metric), speed: rate(p).tokS.toFixed(0) }); },
      eval(_step, m) { metric = m[o.watch]; bar.update({ metric: metricText(metric) }); },
      note(text) { stream.write(`\r\x1b[2K${text}\n`); bar.render(); },
      stop() { bar.stop(); },
    };
  }

  const every = Math.max(1, Math.round(o.total / 20));
  const line = (p: Progress) => {
    const r = rate(p);
    stream.write(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${o.watch} ${metricText(metric)}  lr ${p.lr.toExponential(2)}  ${r.tokS.toFixed(0)} tok/s  eta ${formatDuration(r.eta)}\n`);
  };
  return {
    step(p) { if (p.step % every === 0 || p.step === p.steps) line(p); },
    eval(step, m) {
      metric = m[o.watch];
      stream.write(`eval @${step}  ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}\n`);
    },
    note(text) { stream.write(`${text}\n`); },
    stop() {},
  };
}
