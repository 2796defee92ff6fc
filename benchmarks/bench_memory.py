"""Extra memory of a full-orbit penalty and of Symmetrize training, with and without checkpointing.

The case of issue 10: ``symmetry_penalty(model, x, Permutation(5), elements="all")``
(119 copies of the batch) at N = 10,000 rows with the 3x128 MLP, forward and backward;
and one training step of ``Symmetrize(MLP, Permutation(5))`` (120 calls) on the same
batch.  Each case runs in a fresh subprocess (so one case's peak cannot hide
another's) and reports two measures:

- ``peak RSS``: the process's peak resident memory (``ru_maxrss``) during the step,
  minus its peak before the step (after building the model and the batch and a warm-up
  step on 100 rows): what the system sees, backward and recomputation included.  With
  glibc's default malloc this includes heap fragmentation: the activations of one call
  (5 MiB buffers at N = 10,000) come from the heap once a freed buffer has raised
  malloc's dynamic mmap threshold, and the small tensors and autograd nodes each call
  leaves behind pin holes the next call cannot always reuse.
- ``peak RSS, mmap``: the same with ``MALLOC_MMAP_THRESHOLD_=131072`` (a fixed
  threshold: every buffer of 128 KiB or more is its own mapping, returned to the system
  when freed), which makes the peak RSS the peak of live memory.
- ``saved``: the bytes autograd holds for backward when the forward pass ends, counted
  with :func:`torch.autograd.graph.saved_tensors_hooks` (each storage once, parameters
  not counted).  A checkpointed call saves through its own hooks, so for those cases
  this counts what is saved outside the checkpointed calls; the checkpointed calls
  themselves hold their inputs (counted in the RSS figure).

Cases: ``no_grad`` (the forward alone, the floor), ``checkpoint=False`` (every copy's
activations kept: before), ``checkpoint=None`` (the default, automatic: after) and
``checkpoint=True``.  The gradients of the three autograd cases are compared in the
same subprocess run against ``checkpoint=False`` (float32 here; the float64 equality is
a test).

Run: ``python benchmarks/bench_memory.py [--rows N] [--threads T] [--kinds ...] [--cases ...]``
(``--cases`` must include ``checkpoint=False``, the reference for the gradients).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

import symnn

SYM = "Permutation(5)"
CASES = ("no_grad", "checkpoint=False", "checkpoint=None", "checkpoint=True")
FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _step(kind: str, case: str, model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """One forward (and backward unless no_grad); the loss and the bytes saved for backward."""
    checkpoint = {"checkpoint=False": False, "checkpoint=None": None, "checkpoint=True": True}.get(case)
    sym = symnn.Permutation(5)
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not (t.requires_grad and t.grad_fn is None):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.set_grad_enabled(case != "no_grad"),
    ):
        if kind == "penalty":
            loss = symnn.symmetry_penalty(model, x, sym, elements="all", checkpoint=checkpoint)
        else:
            wrapped = symnn.Symmetrize(model, sym, checkpoint=checkpoint)
            loss = wrapped(x).square().mean()
    saved = sum(storages.values())
    if case != "no_grad":
        loss.backward()
    return loss.detach(), saved


def _child(kind: str, case: str, rows: int, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = symnn.MLP(5, 1)
    x = torch.randn(rows, 5)
    _step(kind, case, model, x[:100])  # warm-up: kernels, thread pool
    model.zero_grad(set_to_none=True)
    before = _peak_bytes()
    start = time.perf_counter()
    loss, saved = _step(kind, case, model, x)
    seconds = time.perf_counter() - start
    peak = _peak_bytes() - before
    grads = [] if case == "no_grad" else [p.grad.flatten().tolist() for p in model.parameters()]
    print(json.dumps({"peak": peak, "saved": saved, "seconds": seconds, "loss": loss.item(), "grads": grads}))


def _run(kind: str, case: str, rows: int, threads: int, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, case, "--rows", str(rows), "--threads", str(threads)],
        check=True,
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--kinds", nargs="+", default=["penalty", "Symmetrize"], choices=["penalty", "Symmetrize"]
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.rows, args.threads)
        return
    mib = 2**20
    print(
        f"{SYM}, every non-identity element, N = {args.rows}, MLP(5, 1) 3x128 silu, float32, {args.threads} thread(s)"
    )
    print("(MiB; wall seconds of the step, for information: one run, not interleaved)")
    header = f"{'what':<10} {'case':<18} {'peak RSS':>9} {'peak RSS, mmap':>15} {'saved':>8} {'wall':>6}"
    print(f"{header} {'max |grad - plain|':>19}")
    for kind in args.kinds:
        results = {case: _run(kind, case, args.rows, args.threads) for case in args.cases}
        fixed = {case: _run(kind, case, args.rows, args.threads, FIXED_MMAP) for case in args.cases}
        plain = torch.tensor([g for grads in results["checkpoint=False"]["grads"] for g in grads])
        for case, r in results.items():
            gap = "-"
            if r["grads"]:
                grad = torch.tensor([g for grads in r["grads"] for g in grads])
                gap = f"{(grad - plain).abs().max().item():.1e}"
            print(
                f"{kind:<10} {case:<18} {r['peak'] / mib:>9.0f} {fixed[case]['peak'] / mib:>15.0f} "
                f"{r['saved'] / mib:>8.1f} {r['seconds']:>6.1f} {gap:>19}",
                flush=True,
            )


if __name__ == "__main__":
    main()
