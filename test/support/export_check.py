"""Runs exported PyTorch modules for the export tests (test/compiler/export/).

Reads a JSON list of cases on stdin, writes a JSON list of results on stdout.
A case: {"module": path, "cls": name, "dims": {...}, "params": {attr: nested},
"inputs": {name: [T][B][n]}, "init": {name: [B][n]}, "cotangents":
{"states": {...}, "outputs": {...}}}. For each it builds the module in float64
with those parameters, runs forward with autograd and pairs every state and
output with its cotangent, so the gradients are the VJP `celda eval` computes;
runs the same module under torch.jit.script; runs it once more without init;
and builds a fresh float32 module (seeded) to report its default parameters.
"script": false skips TorchScript (a module whose step is a torch.autograd.Function).
"""

import importlib.util
import json
import sys

import torch

F64 = torch.float64


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tensors(d, grad):
    return {k: torch.tensor(v, dtype=F64, requires_grad=grad) for k, v in d.items()}


def nested(d):
    return {k: v.detach().tolist() for k, v in d.items()}


def max_diff(a, b):
    return max([0.0] + [float((a[k] - b[k]).abs().max()) for k in a])


def run(i, case):
    cls = getattr(load(case["module"], "celda_export_%d" % i), case["cls"])
    model = cls(**case["dims"], dtype=F64)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, v in case["params"].items():
            params[k].copy_(torch.tensor(v, dtype=F64))
    xs, init = tensors(case["inputs"], True), tensors(case["init"], True)
    states, outputs = model(xs, init)
    loss = torch.zeros([], dtype=F64)
    for bucket, cots in ((states, case["cotangents"]["states"]), (outputs, case["cotangents"]["outputs"])):
        for k, c in cots.items():
            loss = loss + (bucket[k] * torch.tensor(c, dtype=F64)).sum()
    loss.backward()
    zero = torch.zeros_like
    grads = {
        "params": {k: (p.grad if p.grad is not None else zero(p)).tolist() for k, p in params.items()},
        "inputs": {k: (x.grad if x.grad is not None else zero(x)).tolist() for k, x in xs.items()},
        "init": {k: (x.grad if x.grad is not None else zero(x)).tolist() for k, x in init.items()},
    }
    if case.get("script", True):
        scripted = torch.jit.script(model)
        s2, o2 = scripted(xs, init)
    else:
        s2, o2 = states, outputs
    s3, o3 = model({k: x.detach() for k, x in xs.items()})
    torch.manual_seed(0)
    fresh = cls(**case["dims"])
    return {
        "states": nested(states),
        "outputs": nested(outputs),
        "grads": grads,
        "scripted_diff": max(max_diff(states, s2), max_diff(outputs, o2)),
        "default_init": {"states": nested(s3), "outputs": nested(o3)},
        "fresh": {k: p.detach().tolist() for k, p in fresh.named_parameters()},
        "fresh_dtype": str(next(iter(fresh.parameters())).dtype) if len(list(fresh.parameters())) else "",
    }


def main():
    cases = json.load(sys.stdin)
    out = []
    for i, case in enumerate(cases):
        try:
            out.append(run(i, case))
        except Exception as e:  # reported to the test, which fails with the message
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
