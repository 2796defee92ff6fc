"""Cost of ``FrameAverage`` relative to one call of its backbone, and batched against per-frame calls.

One step is forward + backward (``out.square().sum().backward()``) on ``n`` inputs of
the inertia problem's shape (``5x0e + 5x1o`` in, a 3x3 Cartesian tensor out), float32,
with the 3x384 SiLU MLP of Finzi et al. as backbone.  Cases, timed round-robin in one run
(median of ``--repeats``), as ratios to the bare backbone's step:

- ``FrameAverage`` over SO(3) (4 frames) and O(3) (8 frames), with the frames stacked into
  one backbone call (``batch_frames=True``, the default) or one call per frame
  (``batch_frames=False``).  Both are exact to rounding; a ratio near 4 (8) means the frame
  machinery itself is cheap.

Run: ``python benchmarks/bench_frame_average.py --threads 1 [--sizes 500 4000] [--repeats N]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

import symnn


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().sum().backward()

    return step


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 4000])
    args = parse_benchmark_args(parser)
    torch.manual_seed(0)
    net = symnn.MLP(20, 9, hidden=(384, 384, 384))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU, forward+backward")
    print(f"median of {args.repeats} interleaved steps; ratios to the bare MLP in this run\n")
    for n in args.sizes:
        x = torch.randn(n, 20)
        steps = {"MLP 3x384 (one call)": forward_backward(net, x)}
        for improper, group in ((False, "SO(3), 4 frames"), (True, "O(3), 8 frames")):
            sym = symnn.Rotation("5x0e + 5x1o", "ij", improper=improper)
            for batched in (True, False):
                how = "one batched call" if batched else "a call per frame"
                steps[f"FrameAverage {group}, {how}"] = forward_backward(
                    symnn.FrameAverage(net, sym, batch_frames=batched), x
                )
        times = interleaved_medians(steps, args.repeats)
        base = times["MLP 3x384 (one call)"]
        print(f"{'batch ' + str(n):48s} {'ms':>9s} {'ratio':>7s}")
        for name, seconds in times.items():
            print(f"{name:48s} {1e3 * seconds:9.2f} {seconds / base:7.2f}")
        print()


if __name__ == "__main__":
    main()
