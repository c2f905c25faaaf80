"""PyTorch peers of the scan section of `npm run bench` (bench/scan.ts runs it).

One training step of minGRU or an RG-LRU (the cells of bench/scan.ts, n = n_x = n_a,
float32, CPU, one thread): forward over T steps, loss sum_t <h^<t>, r^<t>> with a
fixed random r, gradients of every parameter and of x (torch.autograd.grad), in two
forms:

  loop      the recurrence step by step, h = a_t * h + b_t in a Python loop over t;
  parallel  the papers' form: a_t and b_t for all steps as whole-tensor ops, then the
            scan in log space with cumulative sums (minGRU's "Were RNNs All We
            Needed?", Heinsen's parallel scan): log h_t = A_t + logcumsumexp(log b_k
            − A_k), A_t = Σ_{k≤t} log a_k. a > 0 for both cells; b of either sign is
            scanned as its positive and negative parts, b = b⁺ − b⁻, so the form
            computes the same function as the loop.

Timed with bench/torch.py's `measure`. Prints one JSON line:
{"torch", "ms": {"loop": ms, "parallel": ms}, "runs": {...}, "agree": max |h_loop − h_parallel| / max |h|}.

    /usr/bin/python3 bench/torch_scan.py --cell mingru --n 256 --batch 8 --steps 1024
"""

import argparse
import importlib.util
import json
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

_spec = importlib.util.spec_from_file_location('bench_torch', os.path.join(_here, 'torch.py'))
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
measure = _bench.measure


def coefficients(cell, p, x):
    """a_t and b_t for all steps at once: [T, B, n] each."""
    if cell == 'mingru':
        z = torch.sigmoid(x @ p['W_z'].T + p['b_z'])
        return 1 - z, z * (x @ p['W_h'].T + p['b_h'])
    r = torch.sigmoid(x @ p['W_a'].T + p['b_a'])
    i = torch.sigmoid(x @ p['W_x'].T + p['b_x'])
    a = torch.exp(8 * r * F.logsigmoid(p['Lambda']))
    return a, torch.sqrt(1 - a * a) * (i * x)


def loop(cell, p, x):
    a, b = coefficients(cell, p, x)
    h = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out)


def log_scan(log_a, log_b):
    a_star = torch.cumsum(log_a, dim=0)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=0))


def parallel(cell, p, x):
    a, b = coefficients(cell, p, x)
    log_a = torch.log(a)
    tiny = torch.finfo(x.dtype).tiny
    return log_scan(log_a, torch.log(torch.clamp(b, min=tiny))) - log_scan(log_a, torch.log(torch.clamp(-b, min=tiny)))


def params(cell, n, gen):
    w = lambda *s: (torch.randn(*s, generator=gen) / n ** 0.5).requires_grad_()  # noqa: E731
    if cell == 'mingru':
        return {'W_z': w(n, n), 'b_z': w(n), 'W_h': w(n, n), 'b_h': w(n)}
    return {'W_a': w(n, n), 'b_a': w(n), 'W_x': w(n, n), 'b_x': w(n), 'Lambda': (torch.randn(n, generator=gen) + 2).requires_grad_()}


def main():
    ap = argparse.ArgumentParser(description='time one training step of minGRU / RG-LRU in PyTorch, as a loop and as a parallel log-space scan')
    ap.add_argument('--cell', choices=['mingru', 'rglru'], default='mingru')
    ap.add_argument('--n', type=int, default=256)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--steps', type=int, default=256)
    ap.add_argument('--forms', default='loop,parallel')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--warmup-ms', type=float, default=0)
    ap.add_argument('--min-runs', type=int, default=3)
    ap.add_argument('--min-ms', type=float, default=0)
    ap.add_argument('--max-runs', type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    p = params(a.cell, a.n, gen)
    x = torch.randn(a.steps, a.batch, a.n, generator=gen).requires_grad_()
    r = torch.randn(a.steps, a.batch, a.n, generator=gen)
    leaves = list(p.values()) + [x]
    forms = {'loop': loop, 'parallel': parallel}
    ms, runs = {}, {}
    for name in a.forms.split(','):
        f = forms[name]

        def step():
            loss = (f(a.cell, p, x) * r).sum()
            torch.autograd.grad(loss, leaves)

        ms[name], runs[name] = measure(step, a.warmup, a.warmup_ms, a.min_runs, a.min_ms, a.max_runs)
    with torch.no_grad():
        h1, h2 = loop(a.cell, p, x), parallel(a.cell, p, x)
        agree = float((h1 - h2).abs().max() / h1.abs().max())
    print(json.dumps({'torch': torch.__version__, 'cell': a.cell, 'ms': ms, 'runs': runs, 'agree': agree}))


if __name__ == '__main__':
    main()
