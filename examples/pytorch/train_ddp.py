"""Train a cell exported from celda with PyTorch's DistributedDataParallel.

From prototype to cluster, with a cell and a task of celda:

    celda export examples/cells/gru.celda --to pytorch -o gru.py
    celda data gender --split train > train.jsonl

    # a current PyTorch: torchrun starts the processes
    torchrun --nproc_per_node 2 examples/pytorch/train_ddp.py --cell gru.py --data train.jsonl
    # anywhere torchrun is unusable (Debian's torch 1.13 on Python 3.11): the script starts them
    python3 examples/pytorch/train_ddp.py --cell gru.py --data train.jsonl --procs 2

The model is an embedding of the tokens, the exported cell over the sequence,
and a linear head reading the cell's `a` (or its only state) at each
sequence's last step (many-to-one, like `celda train gender`) or at every step
(many-to-many). Backend gloo on CPU; `--backend nccl` on GPUs (one per process).
Each process trains on its own shard of the examples; DDP averages the
gradients, so every process ends with the same parameters. The last line on
stdout (and --out) is one JSON object: the loss on a fixed batch before and
after training, and whether every process ended with identical parameters.
"""

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def load_cell(path):
    """The exported module's cell class and its interface (the module's CELL table)."""
    spec = importlib.util.spec_from_file_location("celda_cell", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, mod.CELL["class"]), mod.CELL


def read_examples(path):
    with open(path, encoding="utf8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Model(nn.Module):
    """Embedding → the exported cell → a linear head on its readout."""

    def __init__(self, cell_cls, meta, in_vocab, classes, hidden, embed, per_step):
        super().__init__()
        if len(meta["inputs"]) != 1:
            raise SystemExit("the cell needs exactly one input (a task feeds one sequence)")
        (self.input, input_dim), = meta["inputs"].items()
        if input_dim not in meta["dims"]:
            raise SystemExit("the cell's input size is %s; it must be one dimension" % input_dim)
        dims = {d: hidden for d in meta["dims"]}
        dims[input_dim] = embed
        self.embedding = nn.Embedding(in_vocab, embed)
        self.cell = cell_cls(**dims)
        values = dict(meta["states"])
        values.update({k: v[0] for k, v in meta["outputs"].items() if len(v) == 1})
        self.readout = "a" if "a" in values else next(iter(meta["states"]))
        self.from_states = self.readout in meta["states"]
        size = eval(values[self.readout], {"__builtins__": {}}, dims)  # a sum of dimension names
        self.head = nn.Linear(size, classes)
        self.per_step = per_step

    def forward(self, ids, lengths):
        states, outputs = self.cell({self.input: self.embedding(ids)})
        seq = (states if self.from_states else outputs)[self.readout]  # [T, B, n]
        if self.per_step:
            return self.head(seq)  # [T, B, classes]
        last = seq[lengths - 1, torch.arange(seq.shape[1], device=seq.device)]
        return self.head(last)  # [B, classes]


def batch_of(examples, per_step, device):
    """Pad to [T, B] (id 0 after the end; per-step targets -100 there, ignored by the loss)."""
    T = max(len(e["x"]) for e in examples)
    ids = torch.zeros(T, len(examples), dtype=torch.long)
    lengths = torch.tensor([len(e["x"]) for e in examples])
    if per_step:
        y = torch.full((T, len(examples)), -100, dtype=torch.long)
    else:
        y = torch.tensor([e["y"][0] for e in examples])
    for b, e in enumerate(examples):
        ids[: len(e["x"]), b] = torch.tensor(e["x"])
        if per_step:
            y[: len(e["y"]), b] = torch.tensor(e["y"])
    return ids.to(device), lengths.to(device), y.to(device)


def loss_of(model, batch, per_step):
    ids, lengths, y = batch
    scores = model(ids, lengths)
    if per_step:
        return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), y.reshape(-1), ignore_index=-100)
    return F.cross_entropy(scores, y)


def worker(rank, world, init_method, args):
    # A bounded wait: a rank that never arrives (or dies) fails the others within --timeout instead of hanging them.
    dist.init_process_group(args.backend, init_method=init_method, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=args.timeout))
    device = torch.device("cuda", rank % torch.cuda.device_count()) if args.backend == "nccl" else torch.device("cpu")
    torch.set_num_threads(1)
    examples = read_examples(args.data)
    first = examples[0]
    if first["topology"] not in ("many-to-one", "many-to-many"):
        raise SystemExit("this example trains many-to-one and many-to-many tasks (gender, entities), not %s" % first["topology"])
    per_step = first["topology"] == "many-to-many"
    cell_cls, meta = load_cell(args.cell)
    torch.manual_seed(args.seed)  # the same start everywhere (DDP also broadcasts rank 0's parameters)
    model = Model(cell_cls, meta, first["in_vocab"], first["classes"], args.hidden, args.embed, per_step).to(device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)

    shard = examples[rank::world]
    fixed = batch_of(examples[: args.eval_size], per_step, device)
    with torch.no_grad():
        before = float(loss_of(model, fixed, per_step))
    g = torch.Generator().manual_seed(args.seed * 1000 + rank)
    for step in range(args.steps):
        pick = torch.randint(len(shard), (args.batch,), generator=g).tolist()
        loss = loss_of(ddp, batch_of([shard[i] for i in pick], per_step, device), per_step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if rank == 0 and (step + 1) % max(1, args.steps // 10) == 0:
            print("step %d loss %.4f" % (step + 1, float(loss)), file=sys.stderr)
    with torch.no_grad():
        after = float(loss_of(model, fixed, per_step))

    digest = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(repr(p.detach().cpu().flatten().tolist()).encode())  # exact: repr round-trips floats
    hashes = [None] * world
    dist.all_gather_object(hashes, digest.hexdigest())
    if rank == 0:
        result = {"world_size": world, "backend": args.backend, "steps": args.steps,
                  "loss_before": before, "loss_after": after,
                  "identical_parameters": len(set(hashes)) == 1, "parameter_hashes": hashes}
        if args.save:
            torch.save(model.cell.state_dict(), args.save)
        line = json.dumps(result)
        print(line)
        if args.out:
            with open(args.out, "w", encoding="utf8") as f:
                f.write(line + "\n")
    dist.barrier()
    # Every rank has passed the barrier and the result is written. torch 1.13's gloo teardown
    # (destroy_process_group, then the spawned process's exit) hung twice in many runs here after
    # all the work was done, so the process leaves at once instead of tearing the group down.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cell", required=True, help="the module `celda export --to pytorch` wrote")
    ap.add_argument("--data", required=True, help="JSON lines from `celda data TASK --split train`")
    ap.add_argument("--procs", type=int, default=0, help="start this many processes here (without torchrun)")
    ap.add_argument("--backend", default="gloo", choices=["gloo", "nccl"])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32, help="examples per process and step")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--embed", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-size", type=int, default=256, help="examples of the fixed batch the loss is measured on")
    ap.add_argument("--save", help="rank 0 saves the trained cell's state_dict here")
    ap.add_argument("--out", help="also write the result line here")
    ap.add_argument("--timeout", type=float, default=120, help="seconds a process waits for the others (rendezvous and each collective)")
    args = ap.parse_args()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), "env://", args)
    elif args.procs > 0:
        init = "tcp://127.0.0.1:%d" % free_port()
        torch.multiprocessing.spawn(worker, args=(args.procs, init, args), nprocs=args.procs, join=True)
    else:
        sys.exit("start it with torchrun --nproc_per_node N, or give --procs N")


if __name__ == "__main__":
    main()
