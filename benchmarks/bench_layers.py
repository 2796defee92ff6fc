"""Overhead of symnn's structural layers around the lecture's 3x128 MLP.

Prints ratios of forward+backward times measured in this one run (times alone are
noise on a shared machine; ratios taken from interleaved repeats are not):

- ``PermutationSort(MLP(3, 1))`` and ``ScaleNormalize(PermutationSort(MLP(3, 1)), 2)``
  against the bare ``MLP(3, 1)`` at batch 4000 (target: at most +10%), with each
  wrapper's own cost also measured alone, around a trivial ``Linear(3, 1)``;
- ``Odd(MLP(1, 1))`` at batch 4000 against one call of the bare ``MLP(1, 1)`` on the
  doubled batch, 8000 rows (target: at most 1.1x), together with the alternative of a
  single call on ``cat([x, -x])``, whose speed is shown next to whether its oddness
  is still exact (symnn keeps the two calls because it is exact; see ``odd_part``).

Run: ``python benchmarks/bench_layers.py [--repeats N] [--threads T]``.  On a busy 2-core
machine use ``--threads 1``: with two threads, OpenMP contention swamps every ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

import symnn


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One training-like step without the optimiser: forward, sum, backward."""
    x = x.detach().requires_grad_(False)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def odd_by_one_call(net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The cheaper-looking alternative to :class:`symnn.Odd`: one call on ``cat([x, -x])``."""

    def f(x: torch.Tensor) -> torch.Tensor:
        both = net(torch.cat([x, -x]))
        n = x.shape[0]
        return (both[:n] - both[n:]) / 2

    return f


class _Call(torch.nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], net: torch.nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def odd_exactness(f: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype) -> tuple[int, int]:
    """(batch sizes with f(-x) != -f(x) somewhere, batch sizes tried)."""
    gen = torch.Generator().manual_seed(1)
    sizes = [1, 7, 13, 100, 999, 1001, 4000, 4001]
    broken = 0
    with torch.no_grad():
        for n in sizes:
            x = torch.randn(n, 1, generator=gen, dtype=dtype)
            broken += not torch.equal(f(-x), -f(x))
    return broken, len(sizes)


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=60)
    parser.add_argument("--batch", type=int, default=4000)
    args = parse_benchmark_args(parser)
    torch.manual_seed(0)
    n = args.batch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {n}, float32, CPU")
    print(f"median of {args.repeats} interleaved forward+backward steps; ratios from this run\n")

    mlp3 = symnn.MLP(3, 1)
    tiny = torch.nn.Linear(3, 1)  # a net of negligible cost: what remains is the wrapper's own
    x3 = torch.rand(n, 3)
    wrappers = {
        "PermutationSort(MLP)": lambda net: symnn.PermutationSort(net),
        "ScaleNormalize(PermutationSort(MLP), 2)": lambda net: symnn.ScaleNormalize(
            symnn.PermutationSort(net), degree=2
        ),
    }
    steps = {"MLP(3,1) 3x128": forward_backward(mlp3, x3), "Linear(3,1)": forward_backward(tiny, x3)}
    for name, wrap in wrappers.items():
        steps[name] = forward_backward(wrap(mlp3), x3)
        steps[name + " around Linear"] = forward_backward(wrap(tiny), x3)
    t = interleaved_medians(steps, args.repeats)
    base = t["MLP(3,1) 3x128"]
    print(f"{'model (batch ' + str(n) + ')':44s} {'ms':>8s} {'ratio':>7s}  {'overhead alone':>14s}  target")
    print(f"{'MLP(3,1) 3x128':44s} {1e3 * base:8.2f} {1.0:7.3f}")
    for name in wrappers:
        # The wrapper's own cost, measured around a trivial net, as a fraction of the MLP's
        # step: steadier than the ratio above, whose noise is a few per cent of the MLP.
        alone = (t[name + " around Linear"] - t["Linear(3,1)"]) / base
        print(
            f"{name:44s} {1e3 * t[name]:8.2f} {t[name] / base:7.3f}  {'+' + format(alone, '.1%'):>14s}  <= 1.10"
        )

    mlp1 = symnn.MLP(1, 1)
    x1 = torch.randn(n, 1)
    one_call = odd_by_one_call(mlp1)
    steps = {
        f"MLP(1,1) on doubled batch {2 * n}": forward_backward(mlp1, torch.randn(2 * n, 1)),
        "Odd(MLP) (two calls, symnn)": forward_backward(symnn.Odd(mlp1), x1),
        "one call on cat([x, -x])": forward_backward(_Call(one_call, mlp1), x1),
    }
    t = interleaved_medians(steps, args.repeats)
    base = next(iter(t.values()))
    exact = {
        "Odd(MLP) (two calls, symnn)": lambda dt: odd_exactness(symnn.Odd(mlp1.to(dt)), dt),
        "one call on cat([x, -x])": lambda dt: odd_exactness(odd_by_one_call(mlp1.to(dt)), dt),
    }
    print(
        f"\n{'model (batch ' + str(n) + ')':44s} {'ms':>8s} {'ratio':>7s}  target   f(-x) == -f(x) bit for bit"
    )
    for name, seconds in t.items():
        if name in exact:
            verdicts = []
            for dtype in (torch.float32, torch.float64):
                broken, tried = exact[name](dtype)
                verdicts.append(f"{str(dtype)[6:]}: {tried - broken}/{tried} sizes")
            note = ", ".join(verdicts)
            target = "<= 1.10"
        else:
            note, target = "", ""
        print(f"{name:44s} {1e3 * seconds:8.2f} {seconds / base:7.3f}  {target:7s}  {note}")
    mlp1.float()


if __name__ == "__main__":
    main()
