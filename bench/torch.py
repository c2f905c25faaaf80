"""PyTorch peer of `npm run bench` (bench/torch.ts runs it; needs Debian's python3-torch).

One training step of torch.nn.LSTM / torch.nn.GRU (one layer, float32, CPU), as the
other peers measure it: forward over T steps, loss sum_t <h^<t>, r^<t>> with a fixed
random r, and the gradients of every parameter and of x (torch.autograd.grad: no
accumulation into .grad, no optimizer update, like TF.js's variableGrads). Timed on
each requested number of threads (torch.set_num_threads) with the protocol of
`measure` in cli/bench.ts: warm up (at least `warmup` runs and `warmup_ms`), then
time runs until `min_runs` and `min_ms` (at most `max_runs`); the median.

Debian's torch calls whatever libblas.so.3 the alternatives system points at: OpenBLAS
when libopenblas0 is installed (apt-get install -y python3-torch libopenblas0), else the
reference BLAS (libblas3, which python3-torch alone brings), 10-20x slower at M and L. torch.set_num_threads
does not reach that library, so the thread count of OpenBLAS (or BLIS) is set here too.

Prints one JSON line: {"torch": version, "blas": what BLAS is loaded, "cell",
"ms": {threads: ms/step}, "runs": {threads: runs}, "loss"}.

    /usr/bin/python3 bench/torch.py --cell lstm --nx 256 --na 512 --batch 32 --steps 32
"""

import argparse
import ctypes
import json
import os
import sys
import time

# This file is named torch.py: keep its directory off sys.path so that `import torch` finds PyTorch.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

import torch  # noqa: E402


def measure(run, warmup=3, warmup_ms=500.0, min_runs=7, min_ms=1500.0, max_runs=500):
    """cli/bench.ts `measure`: the median of timed runs after warm-up, in ms."""
    now = lambda: time.perf_counter() * 1000.0  # noqa: E731
    w0 = now()
    i = 0
    while i < warmup or now() - w0 < warmup_ms:
        run()
        i += 1
    times = []
    t0 = now()
    while len(times) < max_runs and (len(times) < min_runs or now() - t0 < min_ms):
        s = now()
        run()
        times.append(now() - s)
    times.sort()
    mid = len(times) >> 1
    ms = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    return ms, len(times)


def blas():
    """The BLAS library this process loaded (from /proc/self/maps), and a setter of its own thread count, if it has one."""
    libs = []
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if path.startswith('/') and any(k in name for k in ('blas', 'blis', 'mkl')) and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    what, setter = ', '.join(libs) or 'unknown', None
    try:
        lib = ctypes.CDLL('libblas.so.3', mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except (OSError, AttributeError):
        return what, setter
    if hasattr(lib, 'openblas_get_config'):
        lib.openblas_get_config.restype = ctypes.c_char_p
        what = f"{lib.openblas_get_config().decode().strip()} ({what})"
    elif any(os.path.basename(p).startswith('libblas.so') and os.path.basename(os.path.dirname(p)) == 'blas' for p in libs):
        what = f'reference BLAS ({what})'
    for name in ('openblas_set_num_threads', 'bli_thread_set_num_threads'):
        if hasattr(lib, name):
            setter = getattr(lib, name)
            break
    return what, setter


def peer(cell, nx, na, batch, steps, seed=1):
    """The step of nn.LSTM / nn.GRU on fixed data; returns (step, last loss)."""
    torch.manual_seed(seed)
    layer = (torch.nn.LSTM if cell == 'lstm' else torch.nn.GRU)(nx, na)  # time-major [T][B][n], default init
    # The distributions of bench/tfjs.ts: x uniform in (-1, 1), r uniform in (-0.1, 0.1).
    x = (2 * torch.rand(steps, batch, nx) - 1).requires_grad_(True)
    r = 0.2 * torch.rand(steps, batch, na) - 0.1
    wrt = [*layer.parameters(), x]
    last = [float('nan')]

    def step():
        h, _ = layer(x)
        loss = (h * r).sum()
        grads = torch.autograd.grad(loss, wrt)
        last[0] = loss.item()
        assert len(grads) == len(wrt)

    return step, last


def main():
    p = argparse.ArgumentParser(description='time one training step of torch.nn.LSTM / nn.GRU')
    p.add_argument('--cell', choices=['lstm', 'gru'], default='lstm')
    p.add_argument('--nx', type=int, default=16)
    p.add_argument('--na', type=int, default=32)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--steps', type=int, default=32)
    p.add_argument('--threads', default='1,2', help='comma-separated thread counts, each timed in turn')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--warmup-ms', type=float, default=500)
    p.add_argument('--min-runs', type=int, default=7)
    p.add_argument('--min-ms', type=float, default=1500)
    p.add_argument('--max-runs', type=int, default=500)
    a = p.parse_args()
    threads = [int(t) for t in a.threads.split(',') if t]
    torch.set_num_interop_threads(1)
    step, last = peer(a.cell, a.nx, a.na, a.batch, a.steps)
    step()  # loads the BLAS library
    what, set_blas_threads = blas()
    ms, runs = {}, {}
    for n in threads:
        torch.set_num_threads(n)
        if set_blas_threads:
            set_blas_threads(n)
        ms[n], runs[n] = measure(step, a.warmup, a.warmup_ms, a.min_runs, a.min_ms, a.max_runs)
    print(json.dumps({'torch': torch.__version__, 'blas': what, 'cell': a.cell, 'ms': ms, 'runs': runs, 'loss': last[0]}))


if __name__ == '__main__':
    main()
