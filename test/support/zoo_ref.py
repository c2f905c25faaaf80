"""Independent PyTorch float64 references for the cells of examples/zoo/.

Each cell is written here from its paper (the equations quoted in the header of
its .celda file), not from celda's graph: one step function per cell, unrolled
over T steps, and autograd for the vector-Jacobian product. It reads a JSON
list of cases on stdin — {"cell", "params", "x" [T][B][n], "init" {name: [B]…},
"cot" {"states": {…}, "outputs": {…}}} with celda's canonical names — and
prints, per case, what `celda eval` prints: states and outputs over the steps
and the gradients w.r.t. the parameters, the input at every step and the
initial states. Parameters are looked up by their letters and digits only
(`W^{yx}`, canonically `W_sup_yx`, and `W_yx` are one name here), so the
reference does not depend on how a superscript label is spelled canonically.

For PyTorch's GRU the case may ask for torch.nn.GRUCell too ("gru_cell"): the
ecosystem's own implementation, run on the same weights.
"""
import json
import re
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
sig, tanh, exp, relu, softplus = torch.sigmoid, torch.tanh, torch.exp, torch.relu, F.softplus


def key(name):
    """Letters and digits only; a superscript label's canonical `_sup_` (W^{cx} → W_sup_cx) is dropped too."""
    return re.sub(r"[^A-Za-z0-9]", "", name.replace("_sup_", "_"))


class Params:
    def __init__(self, given):
        self.t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in given.items()}
        self.by = {}
        for k in given:
            if key(k) in self.by:
                raise SystemExit(f"two parameters read as {key(k)}: {self.by[key(k)]}, {k}")
            self.by[key(k)] = k
        self.used = set()

    def __call__(self, name):
        k = self.by.get(key(name))
        if k is None:
            raise SystemExit(f"the cell has no parameter {name} (it has {sorted(self.t)})")
        self.used.add(k)
        return self.t[k]


def lin(W, v):
    """W v for a batch of vectors v [B, n]."""
    return v @ W.T


# ------------------------------------------------------------------ the cells
# Each: step(p, x, s) -> (states, outputs), s and states by name.

def indrnn(p, x, s):  # Li et al. 2018, eq. (2)
    return {"h": relu(lin(p("W"), x) + p("u") * s["h"] + p("b"))}, {}


def ugrnn(p, x, s):  # Collins et al. 2017
    h = s["h"]
    c = tanh(lin(p("W^cx"), x) + lin(p("W^ch"), h) + p("b_c"))
    g = sig(lin(p("W^gx"), x) + lin(p("W^gh"), h) + p("b_g"))
    return {"h": g * h + (1 - g) * c}, {}


def intersection(p, x, s):  # Collins et al. 2017, the +RNN
    h = s["h"]
    y_in = relu(lin(p("W^yx"), x) + lin(p("W^yh"), h) + p("b_y"))
    h_in = tanh(lin(p("W^hx"), x) + lin(p("W^hh"), h) + p("b_h"))
    gy = sig(lin(p("W^gyx"), x) + lin(p("W^gyh"), h) + p("b_gy"))
    gh = sig(lin(p("W^ghx"), x) + lin(p("W^ghh"), h) + p("b_gh"))
    return {"h": gh * h + (1 - gh) * h_in}, {"y": gy * x + (1 - gy) * y_in}


def janet(p, x, s):  # van der Westhuizen & Lasenby 2018, β = 1
    h, c = s["h"], s["c"]
    st = lin(p("U_f"), h) + lin(p("W_f"), x) + p("b_f")
    ct = tanh(lin(p("U_c"), h) + lin(p("W_c"), x) + p("b_c"))
    c = sig(st) * c + (1 - sig(st - 1.0)) * ct
    return {"c": c, "h": c}, {}


def sru(p, x, s):  # Lei et al. 2018, eqs. (3)-(6)
    c0 = s["c"]
    f = sig(lin(p("W_f"), x) + p("v_f") * c0 + p("b_f"))
    c = f * c0 + (1 - f) * lin(p("W"), x)
    r = sig(lin(p("W_r"), x) + p("v_r") * c0 + p("b_r"))
    return {"c": c}, {"h": r * c + (1 - r) * x}


def g_log_space(v):  # Feng et al. 2024, Appendix B
    return torch.where(v >= 0, v + 0.5, sig(v))


def mingru(p, x, s):
    z = sig(lin(p("W_z"), x) + p("b_z"))
    ht = g_log_space(lin(p("W_h"), x) + p("b_h"))
    return {"h": (1 - z) * s["h"] + z * ht}, {}


def minlstm(p, x, s):
    f = sig(lin(p("W_f"), x) + p("b_f"))
    i = sig(lin(p("W_i"), x) + p("b_i"))
    ht = g_log_space(lin(p("W_h"), x) + p("b_h"))
    return {"h": f / (f + i) * s["h"] + i / (f + i) * ht}, {}


def slstm_pre(p, x, h):
    return [lin(p(f"W_{g}"), x) + lin(p(f"R_{g}"), h) + p(f"b_{g}") for g in "zifo"]


def slstm(p, x, s):  # Beck et al. 2024, eqs. (8)-(17), exponential forget gate
    zt, it, ft, ot = slstm_pre(p, x, s["h"])
    m = torch.maximum(ft + s["m"], it)                      # (15)
    i = exp(it - m.detach())                                # (16)
    f = exp(ft + s["m"].detach() - m.detach())              # (17)
    c = f * s["c"] + i * tanh(zt)                           # (8)
    n = f * s["n"] + i                                      # (9)
    return {"c": c, "n": n, "m": m, "h": sig(ot) * (c / n)}, {}   # (10)


def slstm_unstabilised(p, x, s):  # eqs. (8)-(14) only
    zt, it, ft, ot = slstm_pre(p, x, s["h"])
    i, f = exp(it), exp(ft)
    c = f * s["c"] + i * tanh(zt)
    n = f * s["n"] + i
    return {"c": c, "n": n, "h": sig(ot) * (c / n)}, {}


def mlstm(p, x, s):  # Beck et al. 2024, eqs. (19)-(27), stabilised
    d = s["n"].shape[-1]
    q = lin(p("W_q"), x) + p("b_q")
    k = lin(p("W_k"), x) / d ** 0.5 + p("b_k")
    v = lin(p("W_v"), x) + p("b_v")
    it = x @ p("w_i") + p("b_i")                             # scalars per example [B]
    ft = x @ p("w_f") + p("b_f")
    o = sig(lin(p("W_o"), x) + p("b_o"))
    m = torch.maximum(ft + s["m"], it)
    i = exp(it - m.detach())
    f = exp(ft + s["m"].detach() - m.detach())
    C = f[:, None, None] * s["C"] + i[:, None, None] * (v[:, :, None] * k[:, None, :])   # v k^T
    n = f[:, None] * s["n"] + i[:, None] * k
    num = torch.einsum("bij,bj->bi", C, q)
    den = torch.maximum((n * q).sum(-1).abs(), exp(-m.detach()))
    return {"C": C, "n": n, "m": m}, {"h": o * num / den[:, None]}


def rglru(p, x, s):  # De et al. 2024, eqs. (1)-(4), c = 8
    r = sig(lin(p("W_a"), x) + p("b_a"))
    i = sig(lin(p("W_x"), x) + p("b_x"))
    a = sig(p("Lambda"))
    at = a ** (8 * r)
    return {"h": at * s["h"] + torch.sqrt(1 - at ** 2) * (i * x)}, {}


def ln_lstm(p, x, s):  # Ba et al. 2016, eqs. (20)-(22); LN = torch's layer_norm, ε = 1e-5
    ln = lambda z, a, b: F.layer_norm(z, (z.shape[-1],), a, b, eps=1e-5)
    pre = ln(lin(p("W_h"), s["h"]), p("alpha_1"), p("beta_1")) + ln(lin(p("W_x"), x), p("alpha_2"), p("beta_2")) + p("b")
    f, i, o, g = pre.chunk(4, dim=-1)
    c = sig(f) * s["c"] + sig(i) * tanh(g)
    return {"c": c, "h": sig(o) * tanh(ln(c, p("alpha_3"), p("beta_3")))}, {}


def ligru(p, x, s):  # Ravanelli et al. 2018, without batch normalisation
    h = s["h"]
    z = sig(lin(p("W_z"), x) + p("b_z") + lin(p("U_z"), h))
    ht = relu(lin(p("W_h"), x) + p("b_h") + lin(p("U_h"), h))
    return {"h": z * h + (1 - z) * ht}, {}


def pytorch_gru(p, x, s):  # the equations of torch.nn.GRU's documentation
    h = s["h"]
    r = sig(lin(p("W_ir"), x) + p("b_ir") + lin(p("W_hr"), h) + p("b_hr"))
    z = sig(lin(p("W_iz"), x) + p("b_iz") + lin(p("W_hz"), h) + p("b_hz"))
    n = tanh(lin(p("W_in"), x) + p("b_in") + r * (lin(p("W_hn"), h) + p("b_hn")))
    return {"h": (1 - z) * n + z * h}, {}


def gru_cell_step(p):
    """torch.nn.GRUCell on the same weights: the ecosystem's GRU, not written from the equations."""
    n_h, n_x = p("W_ir").shape
    cell = torch.nn.GRUCell(n_x, n_h)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.cat([p("W_ir"), p("W_iz"), p("W_in")]))
        cell.weight_hh.copy_(torch.cat([p("W_hr"), p("W_hz"), p("W_hn")]))
        cell.bias_ih.copy_(torch.cat([p("b_ir"), p("b_iz"), p("b_in")]))
        cell.bias_hh.copy_(torch.cat([p("b_hr"), p("b_hz"), p("b_hn")]))
    return lambda _p, x, s: ({"h": cell(x, s["h"])}, {})


def s6(p, x, s):  # Gu & Dao 2023, Algorithm 2 with eqs. (2a), (2b), (4)
    delta = softplus(lin(p("W_Delta"), x) + p("b_Delta"))   # [B, D]
    B = lin(p("W_B"), x)                                     # [B, N]
    C = lin(p("W_C"), x)
    A = -exp(p("A_log"))                                     # [D, N]
    A_bar = exp(delta[:, :, None] * A[None])                 # [B, D, N]
    h = A_bar * s["h"] + (delta * x)[:, :, None] * B[:, None, :]
    return {"h": h}, {"y": torch.einsum("bdn,bn->bd", h, C)}


CELLS = {
    "indrnn": indrnn, "ugrnn": ugrnn, "intersection-rnn": intersection, "janet": janet, "sru": sru,
    "mingru": mingru, "minlstm": minlstm, "slstm": slstm, "slstm-unstabilised": slstm_unstabilised,
    "mlstm": mlstm, "rg-lru": rglru, "ln-lstm": ln_lstm, "li-gru": ligru, "pytorch-gru": pytorch_gru, "mamba-s6": s6,
}


def run(case):
    p = Params(case["params"])
    step = CELLS[case["cell"]]
    if case.get("gru_cell"):
        step = gru_cell_step(p)
    x = torch.tensor(case["x"], dtype=torch.float64, requires_grad=True)
    init = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in case["init"].items()}
    s = dict(init)
    states, outputs = {}, {}
    for t in range(x.shape[0]):
        new, out = step(p, x[t], s)
        s = {**s, **new}
        for k, v in new.items():
            states.setdefault(k, []).append(v)
        for k, v in out.items():
            outputs.setdefault(k, []).append(v)
    states = {k: torch.stack(v) for k, v in states.items()}
    outputs = {k: torch.stack(v) for k, v in outputs.items()}
    loss = 0
    for bucket, cots in ((states, case["cot"].get("states", {})), (outputs, case["cot"].get("outputs", {}))):
        for k, c in cots.items():
            loss = loss + (bucket[k] * torch.tensor(c, dtype=torch.float64)).sum()
    wrt = [*p.t.values(), x, *init.values()]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    g = [torch.zeros_like(w) if d is None else d for w, d in zip(wrt, grads)]
    names = list(p.t)
    return {
        "states": {k: v.tolist() for k, v in states.items()},
        "outputs": {k: v.tolist() for k, v in outputs.items()},
        "grads": {
            "params": {k: g[i].tolist() for i, k in enumerate(names)},
            "inputs": {"x": g[len(names)].tolist()},
            "init": {k: g[len(names) + 1 + i].tolist() for i, k in enumerate(init)},
        },
        "unused_params": sorted(set(names) - p.used),
    }


if __name__ == "__main__":
    print(json.dumps([run(c) for c in json.load(sys.stdin)]))
