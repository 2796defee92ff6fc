"""The lecture's level 4 by symnn.priors: how fast and how exactly the constant is fitted.

On 4,000 random triangles (edges in [1, 2), float64, areas by Heron's formula), fits the
one constant of ``heron_module()``, :math:`A = \\sqrt{C\\,P(a, b, c)}`, and prints for each
way of fitting the median time (interleaved repeats), its ratio to one forward+backward
pass of the same module (the cost of a single gradient step), the error of
:math:`16\\,C` and the largest relative error of the fitted areas:

- ``fit_constants`` (auto: closed form in :math:`A^2 = C P`), the target: < 10 ms and
  1e-12 relative;
- the same on a fresh module (first fit: includes the one-time sympy analysis);
- ``fit_constants(method="lbfgs")`` from :math:`C = 1` (what a nonlinear form costs);
- Adam on the same one-parameter model (the lecture's "same training method", 300 steps);

and, once, the time sympy takes to derive the form (``heron()``, uncached).

Run: ``python benchmarks/bench_priors.py [--repeats N] [--threads T]``.  On a shared,
loaded machine pass ``--threads 1``: these tensors are small, and idle OpenMP threads
spin-waiting for a busy core can make every kernel an order of magnitude slower (the
ratios stay put; the absolute times do not).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sympy
import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

import symnn
from symnn import priors


def adam(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 300) -> None:
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.mean((module(x).squeeze(-1) - y) ** 2).backward()
        optimizer.step()


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=30)
    parser.add_argument("--batch", type=int, default=4000)
    args = parse_benchmark_args(parser)

    generator = torch.Generator().manual_seed(0)
    edges = 1 + torch.rand(args.batch, 3, generator=generator, dtype=torch.float64)
    area = symnn.functional.heron_area(edges)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.batch} triangles, float64, CPU"
    )
    print(f"median of {args.repeats} interleaved runs; ratios from this run\n")

    # heron() caches its derivation per set of symbols; symbols nothing else in this
    # process uses (positive edges) are derived afresh, through the public API.
    fresh = sympy.symbols("a b c", positive=True)
    start = time.perf_counter()
    derivation = priors.heron(fresh)
    print(f"derive A² with sympy (heron(), once, uncached): {1e3 * (time.perf_counter() - start):.0f} ms")
    print(f"  {derivation.expr}\n")

    warm = priors.heron_module()
    grad_module = priors.heron_module(initial=1 / 16)

    def forward_backward() -> None:
        grad_module.zero_grad(set_to_none=True)
        grad_module(edges).sum().backward()

    def fitted_by(method: str) -> Callable[[], torch.nn.Module]:
        def run() -> torch.nn.Module:
            module = warm if method == "auto" else priors.heron_module()
            if method == "adam":
                adam(module, edges, area)
            else:
                priors.fit_constants(module, edges, area, method="auto" if method == "cold" else method)
            return module

        return run

    candidates = {
        "one forward+backward (unit)": forward_backward,
        "fit_constants (auto: closed form)": fitted_by("auto"),
        "fit_constants, fresh module (cold)": fitted_by("cold"),
        "fit_constants(method='lbfgs') from C=1": fitted_by("lbfgs"),
        "Adam, 300 steps from C=1": fitted_by("adam"),
    }
    times = interleaved_medians(candidates, args.repeats, warmup=2)
    unit = times["one forward+backward (unit)"]

    print(f"{'fit':42s} {'ms':>8s} {'x unit':>8s} {'|16C - 1|':>10s} {'max rel err A':>14s}")
    for name, seconds in times.items():
        if name.startswith("one"):
            print(f"{name:42s} {1e3 * seconds:8.3f} {1.0:8.1f}")
            continue
        module = candidates[name]()
        c_error = abs(16 * module.constant_values()["C"] - 1)
        with torch.no_grad():
            rel = ((module(edges).squeeze(-1) - area).abs() / area).max().item()
        print(f"{name:42s} {1e3 * seconds:8.3f} {seconds / unit:8.1f} {c_error:10.1e} {rel:14.1e}")

    auto = times["fit_constants (auto: closed form)"]
    module = candidates["fit_constants (auto: closed form)"]()
    rel = ((module(edges).squeeze(-1) - area).abs() / area).max().item()
    verdict = "PASS" if auto < 0.010 and rel < 1e-12 else "FAIL"
    print(
        f"\ntarget: closed-form fit < 10 ms and A to 1e-12 relative: {verdict} ({1e3 * auto:.2f} ms, {rel:.1e})"
    )


if __name__ == "__main__":
    main()
