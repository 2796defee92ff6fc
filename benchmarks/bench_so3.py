"""Forward+backward throughput of ``symnn.functional.so3_exp`` against other rotation-vector maps.

One step is ``R = f(v)`` on ``n`` rotation vectors (``|v|`` ~ 1.7, standard normal
coordinates) followed by ``R.backward(G)`` for a fixed random cotangent ``G``.  The
contenders run round-robin in one process, after a warm-up, and the table prints the
median time of each and the ratio ``time(contender) / time(symnn)``, which is symnn's
throughput in multiples of the contender's (times alone are noise on a shared machine;
ratios of interleaved medians are not).

Contenders and the targets from the project's issue:

- ``roma.rotvec_to_rotmat`` (Rodrigues with a first-order branch below 1e-6): >= 1.5x;
- e3nn's axis-angle route ``o3.axis_angle_to_matrix(v / |v|, |v|)``: >= 3x;
- ``torch.linalg.matrix_exp(hat(v))``: >= 20x.

Then the fused rotation head: ``torch.compile(so3_exp)`` (the fusible path) and eager
``so3_exp`` as multiples of the copy floor, in the same interleaved run.  The floor
is the least memory traffic of one step: forward reads ``v`` (3 numbers per rotation)
and writes ``R`` (9); backward reads the cotangent (9) and ``v`` (3) and writes
``∂L/∂v`` (3): 27 numbers per rotation.  A ``copy_`` of 13.5 numbers per rotation
reads and writes exactly that much, so its time is the floor (target: compiled within
5x of it).  Ratios are printed in wall time and in this thread's CPU time (page faults
included; on busy cores wall time preempts a long step more often than a short copy),
with the minor page faults of one compiled step.  Before timing, ``gc.freeze()`` moves
the compiler's millions of Python objects out of the collector's reach: a full
collection that traverses them costs tens of milliseconds and lands on whichever step
runs.  The copy writes into a preallocated tensor; each step allocates ``R`` and
``∂L/∂v``, which glibc maps fresh (a page fault per 4 KiB) when a block exceeds its mmap
threshold (at most 32 MiB): ``--keep-freed-memory`` raises the threshold (``mallopt``,
glibc only), as a caching allocator (jemalloc, tcmalloc) would.

A contender whose package is not installed is skipped.  roma is a benchmark-only
dependency (``pip install roma``); symnn never imports it.

Run: ``python benchmarks/bench_so3.py [--sizes 100000 1000000] [--repeats N] [--threads T]
[--only-compile] [--keep-freed-memory]``
(a few minutes, most of it in ``matrix_exp`` at 1e6).  On cores busy with other jobs,
two threads measure OpenMP contention more than the code: use ``--threads 1``.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import os
import resource
import time
from collections.abc import Callable

import torch
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

from symnn.functional import hat, so3_exp

TARGETS = {"roma": 1.5, "e3nn": 3.0, "matrix_exp": 20.0}


def contenders() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    found: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"symnn": so3_exp}
    if importlib.util.find_spec("roma") is not None:
        import roma

        found["roma"] = roma.rotvec_to_rotmat
    if importlib.util.find_spec("e3nn") is not None:
        from e3nn import o3

        def e3nn_axis_angle(v: torch.Tensor) -> torch.Tensor:
            angle = v.norm(dim=-1)
            return o3.axis_angle_to_matrix(v / angle.unsqueeze(-1), angle)

        found["e3nn"] = e3nn_axis_angle
    found["matrix_exp"] = lambda v: torch.linalg.matrix_exp(hat(v))
    return found


def step(fn: Callable[[torch.Tensor], torch.Tensor], v: torch.Tensor, cotangent: torch.Tensor):
    def run() -> None:
        fn(v.detach().requires_grad_()).backward(cotangent)

    return run


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-compile", action="store_true", help="skip the fused-head (compiled) table")
    parser.add_argument("--only-compile", action="store_true", help="only the fused-head (compiled) table")
    parser.add_argument(
        "--keep-freed-memory", action="store_true", help="glibc: reuse freed blocks (no fresh pages per step)"
    )
    args = parse_benchmark_args(parser)
    if args.keep_freed_memory:
        keep_freed_memory()

    if args.only_compile:
        fused_head(args.sizes, args.repeats)
        return
    fns = contenders()
    others = [name for name in TARGETS if name in fns]
    missing = [name for name in TARGETS if name not in fns]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} interleaved steps"
    )
    if missing:
        print(f"skipped (not installed): {', '.join(missing)}")
    header = f"{'dtype':<8} {'n':>9} {'symnn ms':>9} " + " ".join(
        f"{name + ' ms':>13} {'x' + name:>13}" for name in others
    )
    print(header)
    print("-" * len(header))
    shortfalls = []
    generator = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for n in args.sizes:
            v = torch.randn(n, 3, generator=generator, dtype=dtype)
            cotangent = torch.randn(n, 3, 3, generator=generator, dtype=dtype)
            steps = {name: step(fn, v, cotangent) for name, fn in fns.items()}
            medians = interleaved_medians(steps, args.repeats, warmup=1)
            cells = []
            for name in others:
                ratio = medians[name] / medians["symnn"]
                flag = "" if ratio >= TARGETS[name] else "!"
                if flag:
                    shortfalls.append(f"{name} {dtype} n={n}: {ratio:.2f}x < {TARGETS[name]}x")
                cells.append(f"{medians[name] * 1e3:13.1f} {ratio:12.2f}{flag or ' '}")
            dtype_name = str(dtype).removeprefix("torch.")
            print(f"{dtype_name:<8} {n:>9} {medians['symnn'] * 1e3:9.1f} " + " ".join(cells), flush=True)
    targets = ", ".join(f"{name} >= {TARGETS[name]}x" for name in others)
    print(f"\nx<name>: symnn's throughput in multiples of <name>'s; targets {targets}.")
    print("below target: " + ("; ".join(shortfalls) if shortfalls else "none"))
    if not args.no_compile:
        fused_head(args.sizes, args.repeats)


def keep_freed_memory() -> None:
    """glibc: serve every block from the heap and never return freed memory to the system."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not (libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 2**31 - 1)):
        raise RuntimeError("mallopt failed")


def minor_faults(fn: Callable[[], None]) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def fused_head(sizes: list[int], repeats: int) -> None:
    """Eager and compiled so3_exp, forward+backward, as multiples of the copy floor."""
    compiled = torch.compile(so3_exp, fullgraph=True, dynamic=False)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nfused head: time / copy floor (floor = copy of 27 numbers of traffic per rotation); load {load}"
    )
    header = (
        f"{'dtype':<8} {'n':>9} {'clock':>6} {'floor ms':>9} {'eager ms':>9} {'compiled ms':>12} "
        f"{'eager/floor':>12} {'compiled/floor':>15} {'faults':>7}"
    )
    print(header)
    print("-" * len(header))
    generator = torch.Generator().manual_seed(1)
    for dtype in (torch.float32, torch.float64):
        for n in sizes:
            v = torch.randn(n, 3, generator=generator, dtype=dtype)
            cotangent = torch.randn(n, 3, 3, generator=generator, dtype=dtype)
            source = torch.randn(27 * n // 2, generator=generator, dtype=dtype)
            target = torch.empty_like(source)
            steps = {
                "floor": lambda s=source, t=target: t.copy_(s),
                "eager": step(so3_exp, v, cotangent),
                "compiled": step(compiled, v, cotangent),
            }
            steps["compiled"]()  # compile outside the timing
            gc.collect()
            gc.freeze()
            faults = minor_faults(steps["compiled"])
            for clock_name, clock in (("wall", time.perf_counter), ("cpu", time.thread_time)):
                medians = interleaved_medians(steps, repeats, warmup=1, clock=clock)
                floor = medians["floor"]
                dtype_name = str(dtype).removeprefix("torch.")
                print(
                    f"{dtype_name:<8} {n:>9} {clock_name:>6} {floor * 1e3:9.2f} {medians['eager'] * 1e3:9.1f} "
                    f"{medians['compiled'] * 1e3:12.1f} {medians['eager'] / floor:12.1f} "
                    f"{medians['compiled'] / floor:15.1f} {faults:7d}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
