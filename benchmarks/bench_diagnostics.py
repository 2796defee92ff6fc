"""gradient_alignment's cost, as a ratio to one forward+backward pass on the same probe batch.

The lecture's 3x128 SiLU MLP (``symnn.MLP(3, 1)``, 33,665 parameters) on a probe batch of
random inputs, float32.  Cases, each timed in one interleaved run (median):

- ``backward``: ``loss_fn(model(x), y).backward()``, the baseline (one training step's gradient);
- ``exact``: ``gradient_alignment(method="exact")`` (J by one vmapped backward of m seeds, then an SVD);
- ``sketch k``: ``gradient_alignment(method="sketch", sketch_size=k)`` (k + 1 forward-mode
  products and as many vector-Jacobian products, then a QR and an SVD of k + 1 rows).

Run: ``python benchmarks/bench_diagnostics.py [--repeats N] [--threads T] [--batch M]``.
"""

from __future__ import annotations

import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args
from torch.nn.functional import mse_loss

import symnn
from symnn.diagnostics import gradient_alignment


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=20)
    parser.add_argument("--batch", type=int, default=64, help="probe batch size m (outputs)")
    parser.add_argument("--sketch", type=int, nargs="+", default=[1, 4, 16])
    args = parse_benchmark_args(parser)

    torch.manual_seed(0)
    model = symnn.MLP(3, 1)
    x = torch.randn(args.batch, 3)
    y = torch.randn(args.batch, 1)

    def backward() -> None:
        model.zero_grad(set_to_none=True)
        mse_loss(model(x), y).backward()

    steps = {"backward": backward, "exact": lambda: gradient_alignment(model, mse_loss, x, y, method="exact")}
    for k in args.sketch:
        generator = torch.Generator().manual_seed(k)
        steps[f"sketch {k}"] = lambda k=k, generator=generator: gradient_alignment(
            model, mse_loss, x, y, method="sketch", sketch_size=k, generator=generator
        )
    times = interleaved_medians(steps, args.repeats, min_sample_seconds=0.05)
    exact = gradient_alignment(model, mse_loss, x, y, method="exact")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, MLP(3, 1) 3x128, "
        f"probe batch {args.batch}, float32, median of {args.repeats} interleaved runs"
    )
    print(f"exact fraction {exact.fraction:.4f} (rank {exact.rank} of {exact.outputs})\n")
    print(f"{'case':<12} {'ms':>9} {'/ backward':>11} {'fraction':>9}")
    for name, seconds in times.items():
        if name == "backward":
            fraction = ""
        elif name == "exact":
            fraction = f"{exact.fraction:.4f}"
        else:
            k = int(name.split()[1])
            report = gradient_alignment(
                model,
                mse_loss,
                x,
                y,
                method="sketch",
                sketch_size=k,
                generator=torch.Generator().manual_seed(k),
            )
            fraction = f"{report.fraction:.4f}"
        print(f"{name:<12} {1e3 * seconds:9.3f} {seconds / times['backward']:11.1f} {fraction:>9}")


if __name__ == "__main__":
    main()
