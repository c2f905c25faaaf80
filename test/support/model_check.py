"""Runs an exported trained model for the export tests (test/cli/export-run.test.ts).

Reads one JSON request (or a list of them) on stdin: {"module": path, "dtype": "float64"|"float32",
"reader": "auto"|"safetensors"|"builtin", "sources": [[token ids]], "beam":
[[token ids]] (encoder-decoder), "samples": {"n", "seed"} (one-to-many), "script": true to
run it under torch.jit.script too}. Loads
the module's model with load(dtype=..., reader=...) and writes on stdout its
answers as celda predict gives them (predict), its log-probabilities, what
sample and beam search give, how far the scripted model's log-probabilities are
from the eager ones (script_diff), the state-dict keys, and whether the safetensors
package is installed. For a list, each answer, or {"error": ...} when it failed.
"""

import importlib.util
import json
import sys

import torch


def answer(req):
    spec = importlib.util.spec_from_file_location("exported_model", req["module"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    dtype = {"float64": torch.float64, "float32": torch.float32}[req["dtype"]]
    model = mod.load(dtype=dtype, reader=req.get("reader", "auto"))
    topology = mod.MODEL["topology"]
    sources = req.get("sources", [])
    out = {
        "keys": list(model.state_dict().keys()),
        "dtypes": sorted({str(p.dtype) for p in model.parameters()}),
        "safetensors": importlib.util.find_spec("safetensors") is not None,
    }
    if topology in ("many-to-one", "many-to-many"):
        out["predict"] = model.predict(sources)
        ids, lengths = mod.padded(sources)
        with torch.no_grad():
            lp = model.log_probs(ids, lengths).double()
        if req.get("script"):
            scripted = torch.jit.script(model)
            with torch.no_grad():
                out["script_diff"] = float((mod.class_log_probs(scripted(ids, lengths)).double() - lp).abs().max())
        if topology == "many-to-one":
            out["log_probs"] = lp.tolist()
        else:
            out["log_probs"] = [lp[: len(s), b].tolist() for b, s in enumerate(sources)]
    elif topology == "one-to-many":
        out["predict"] = model.predict(sources)
        s = req.get("samples", {"n": 3, "seed": 0})
        out["greedy"] = model.sample(n=s["n"], greedy=True)
        out["sampled"] = model.sample(n=s["n"], seed=s["seed"])
    if topology == "encoder-decoder":
        out["predict"] = model.predict(sources)
        out["beam"] = [model.predict([b], beam=3)[0] for b in req.get("beam", [])]
    if req.get("script") and topology in ("one-to-many", "encoder-decoder"):
        # teacher forcing, eager and scripted: the sources' own tokens (one-to-many), the predictions (encoder-decoder)
        scripted = torch.jit.script(model)
        if topology == "one-to-many":
            args = mod.padded([[-1] + s for s in sources])
        else:
            args = mod.padded(sources) + mod.padded([[-1] + p for p in out["predict"]])
        with torch.no_grad():
            out["script_diff"] = float((scripted(*args) - model(*args)).abs().max())
    return out


def guarded(req):
    try:
        return answer(req)
    except Exception as e:  # reported to the test, which checks it
        return {"error": "%s: %s" % (type(e).__name__, e)}


reqs = json.load(sys.stdin)
print(json.dumps([guarded(r) for r in reqs] if isinstance(reqs, list) else answer(reqs)))
