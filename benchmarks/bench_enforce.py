"""Overhead of symnn.enforce against the hand-built triangle model (the lecture's level 3).

Prints the ratio of forward+backward (and forward-only) times measured in this one run,
with interleaved repeats, of

- ``symnn.enforce(MLP(3, 1), Permutation(3) * Scaling(2))`` and
- ``symnn.ScaleNormalize(symnn.PermutationSort(MLP(3, 1)), degree=2)``, built by hand,

on the same weights at batch 4000 (target: ratio at most 1.0 within the noise: enforce
builds the same stack, so it runs the same code), plus the one-off cost of building the
model with ``enforce`` (choosing the layers and checking them) against building it by hand.

Run: ``python benchmarks/bench_enforce.py [--repeats N] [--threads T]``; use
``--threads 1`` on a busy machine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

import symnn

TRIANGLE = symnn.Permutation(3) * symnn.Scaling(degree=2)


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def forward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            model(x)

    return step


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=60)
    parser.add_argument("--batch", type=int, default=4000)
    args = parse_benchmark_args(parser)
    n = args.batch
    torch.manual_seed(0)
    backbone = symnn.MLP(3, 1)
    built = symnn.enforce(copy.deepcopy(backbone), TRIANGLE)
    hand = symnn.ScaleNormalize(symnn.PermutationSort(copy.deepcopy(backbone)), degree=2)
    x = torch.rand(n, 3) * 10
    assert repr(built) == repr(hand) and torch.equal(built(x), hand(x)), "enforce must build the same model"

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {n}, float32, CPU")
    print(f"median of {args.repeats} interleaved repeats; ratios from this run\n")
    print(f"{'step':34s} {'hand-built ms':>14s} {'enforce ms':>11s} {'ratio':>7s}  target")
    for label, make in (("forward+backward", forward_backward), ("forward (no grad)", forward)):
        t = interleaved_medians({"hand": make(hand, x), "enforce": make(built, x)}, args.repeats)
        ratio = t["enforce"] / t["hand"]
        print(f"{label:34s} {1e3 * t['hand']:14.3f} {1e3 * t['enforce']:11.3f} {ratio:7.3f}  <= 1.0 (noise)")

    build = interleaved_medians(
        {
            "hand": lambda: symnn.ScaleNormalize(symnn.PermutationSort(backbone), degree=2),
            "enforce": lambda: symnn.enforce(backbone, TRIANGLE),
        },
        args.repeats,
        min_sample_seconds=0.01,
    )
    print(
        f"{'building the model (once)':34s} {1e3 * build['hand']:14.3f} {1e3 * build['enforce']:11.3f} "
        f"{build['enforce'] / build['hand']:7.3f}  (one-off)"
    )


if __name__ == "__main__":
    main()
