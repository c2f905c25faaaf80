# Independent float64 references for two research cells, written from the
# papers' equations in PyTorch (not from celda's graph): RG-LRU (De et al. 2024,
# Griffin, eqs. 1-4) and xLSTM's mLSTM scalar gates with the stabiliser (Beck
# et al. 2024). Reads a JSON list of requests on stdin; writes, for each, the
# states over the steps and the gradients of sum(cotangents * states) with
# respect to every parameter, input and initial state (autograd).
import json
import sys

import torch

torch.set_default_dtype(torch.float64)


def tensor(v):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def rglru(p, x, init, c=8.0):
    # r_t = σ(W_a x_t + b_a); i_t = σ(W_x x_t + b_x); a_t = a^{c r_t}, a = σ(Λ);
    # h_t = a_t ⊙ h_{t-1} + sqrt(1 - a_t²) ⊙ (i_t ⊙ x_t)
    a = torch.sigmoid(p["Lambda"])
    h = init["h"]
    hs = []
    for t in range(x.shape[0]):
        xt = x[t]
        r = torch.sigmoid(xt @ p["W_a"].T + p["b_a"])
        i = torch.sigmoid(xt @ p["W_x"].T + p["b_x"])
        at = a ** (c * r)
        h = at * h + torch.sqrt(1 - at ** 2) * (i * xt)
        hs.append(h)
    return {"h": torch.stack(hs)}


def mlstm_gates(p, x, init):
    # ĩ_t = w_iᵀ x_t + b_i; f̃_t = w_fᵀ x_t + b_f; m_t = max(f̃_t + m_{t-1}, ĩ_t);
    # n_t = exp(f̃_t + m_{t-1} - m_t) n_{t-1} + exp(ĩ_t - m_t) W_k x_t
    m, n = init["m"], init["n"]
    ms, ns = [], []
    for t in range(x.shape[0]):
        xt = x[t]
        ig = xt @ p["w_i"] + p["b_i"]
        fg = xt @ p["w_f"] + p["b_f"]
        m_new = torch.maximum(fg + m, ig)
        n = torch.exp(fg + m - m_new).unsqueeze(-1) * n + torch.exp(ig - m_new).unsqueeze(-1) * (xt @ p["W_k"].T)
        m = m_new
        ms.append(m)
        ns.append(n)
    return {"m": torch.stack(ms), "n": torch.stack(ns)}


CELLS = {"rglru": rglru, "mlstm_gates": mlstm_gates}

out = []
for req in json.load(sys.stdin):
    p = {k: tensor(v) for k, v in req["params"].items()}
    x = tensor(req["x"])
    init = {k: tensor(v) for k, v in req["init"].items()}
    states = CELLS[req["cell"]](p, x, init)
    loss = sum((states[k] * torch.tensor(v)).sum() for k, v in req["cot"].items())
    loss.backward()
    out.append({
        "states": {k: v.tolist() for k, v in states.items()},
        "grads": {
            "params": {k: v.grad.tolist() for k, v in p.items()},
            "inputs": {"x": x.grad.tolist()},
            "init": {k: v.grad.tolist() for k, v in init.items()},
        },
    })
json.dump(out, sys.stdout)
