"""The ``symnn-zoo`` command line: ``list`` the problems, ``run`` one of them.

``run --seeds`` runs every level once per seed; under ``torchrun`` the (level, seed)
runs are split over the processes and rank 0 alone prints and writes (see
:mod:`symnn_zoo._sweep`).  Bad arguments get one line on stderr and exit status 2, never a traceback.  With no
arguments the command prints its help and exits with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import PROBLEM_NAMES, get_problem

if TYPE_CHECKING:
    import torch

# torch, symnn and the problems are imported only when a run needs them: a bad
# command line is answered at once.

__all__ = ["main", "build_parser", "parse_seeds"]

PROG = "symnn-zoo"
#: What the command's output fits in (the results' compact table included).
SCREEN_COLUMNS = 100
#: Where runs write when --out is not given (git-ignored in the repository).
DEFAULT_OUT = Path("zoo-results")


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {value}")
    return value


def parse_seeds(text: str) -> list[int]:
    """The seeds named by ``text``: ``"5"`` is 0..4, ``"3-7"`` is 3..7, ``"0,2,9"`` those three.

    Raises
    ------
    ValueError
        For anything else, or a seed named twice.
    """
    words = text.replace(" ", "")
    try:
        if "," in words:
            seeds = [int(w) for w in words.split(",")]
        elif "-" in words[1:]:
            first, last = (int(w) for w in words.split("-", 1))
            seeds = list(range(first, last + 1))
        else:
            seeds = list(range(int(words)))
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(
            "expected a count N (the seeds 0..N-1), a range A-B, or a list A,B,C of distinct "
            f"non-negative seeds; got {text!r}"
        )
    return seeds


def _seeds(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _rank() -> int:
    """This process's rank under ``torchrun`` (0 otherwise): only rank 0 prints and writes."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Worked problems that measure what each way of building knowledge into a network buys.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = commands.add_parser("list", help="name the problems and their levels (or one problem's levels)")
    listing.add_argument(
        "problem", nargs="?", choices=PROBLEM_NAMES, help="show this problem's levels in full"
    )
    run = commands.add_parser("run", help="run a problem's ladder of levels and write its results")
    run.add_argument("problem", choices=PROBLEM_NAMES, help="which problem")
    run.add_argument(
        "--levels",
        help="comma-separated levels, e.g. 0,1,3 (1 means 1a and 1b where there is no level 1; default all)",
    )
    run.add_argument(
        "--epochs", type=_positive_int, help="training epochs per level (default: the problem's setting)"
    )
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed", type=_seed, default=0, help="random seed (default 0); the same seed gives the same numbers"
    )
    seeds.add_argument(
        "--seeds",
        type=_seeds,
        help="run every level for each of these seeds and report mean ± std, min and max: "
        "N (the seeds 0..N-1), A-B (A to B) or A,B,C; under torchrun the (level, seed) runs are "
        "split over the ranks",
    )
    run.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}/PROBLEM[-quick])")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a small setting for smoke tests: each ladder well under 2 minutes",
    )
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default cpu)")
    run.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads for torch (default 1: on a shared or small machine one thread gives steadier timings and bitwise-repeatable numbers)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def _wrap(text: str, indent: str = "") -> str:
    """``text`` in lines that fit the screen, continuation lines indented."""
    return "\n".join(
        textwrap.wrap(text, SCREEN_COLUMNS, initial_indent=indent, subsequent_indent=indent + "    ")
    )


def _list(name: str | None) -> int:
    if name is None:
        for each in PROBLEM_NAMES:
            problem = get_problem(each)
            print(_wrap(f"{each}: {problem.summary}"))
            for level in problem.levels:
                print(f"  {level.key:>3}  {level.bias:<11}  {level.title}")
        print(f"\n`{PROG} list PROBLEM` describes each level; `{PROG} run PROBLEM --quick` runs a ladder.")
        return 0
    problem = get_problem(name)
    print(_wrap(f"{name}: {problem.summary}") + "\n")
    for level in problem.levels:
        print(_wrap(f"{level.key} ({level.bias}): {level.title}"))
        print(_wrap(level.description, indent="    "))
    print(f"\n`{PROG} run {name} --levels {problem.level_keys[0]},...` runs some of them.")
    return 0


def _check_writable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is an existing file, not a folder; choose a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(f"cannot write to output folder {str(out)!r}: {err.strerror or err}") from None


def _device(name: str) -> torch.device:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"--device cuda was requested but CUDA is not available to this torch ({torch.__version__})"
        )
    return torch.device(name)


def _run(args: argparse.Namespace, command: list[str]) -> int:
    import torch

    from ._problem import select_levels
    from ._report import format_findings, format_screen_table, write_report
    from ._sweep import init_ranks, run_sweep

    problem = get_problem(args.problem)
    try:
        keys = select_levels(problem, args.levels)
    except ValueError as err:
        raise UsageError(str(err)) from None
    device = _device(args.device)
    settings = problem.quick_settings if args.quick else problem.full_settings
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    out = (
        args.out if args.out is not None else DEFAULT_OUT / (problem.name + ("-quick" if args.quick else ""))
    )
    seeds = args.seeds if args.seeds is not None else [args.seed]
    leader = _rank() == 0
    if leader:  # only rank 0 writes: the folder may exist on its machine alone
        _check_writable(out)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)  # in every rank's process
    try:
        ranks, device = init_ranks(device)
        mode = "quick" if args.quick else "full"
        seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {_seed_list(seeds)}"
        rank_text = f", {ranks.world} ranks" if ranks.world > 1 else ""
        if leader:
            print(
                _wrap(
                    f"{PROG}: {problem.name}, levels {', '.join(keys)}, {mode} mode ({settings.epochs} epochs), "
                    f"{seed_text}, {device.type}, {args.threads} thread(s){rank_text} -> {out}"
                ),
                flush=True,
            )
        run = run_sweep(
            problem,
            keys,
            settings=settings,
            seeds=seeds,
            device=device,
            quick=args.quick,
            progress=leader and not args.no_progress,
            ranks=ranks,
        )
    finally:  # main() may be called in a process that goes on (tests, notebooks)
        torch.set_num_threads(threads_before)
    if run is None:  # not rank 0: its results went to rank 0
        return 0
    try:
        written = write_report(run, out, command)
    except OSError as err:
        print(f"{PROG}: error: could not write the results to {str(out)!r}: {err}", file=sys.stderr)
        return 1
    print()
    print(format_screen_table(run, SCREEN_COLUMNS))
    print()
    print(format_findings(run, SCREEN_COLUMNS))
    print()
    print(
        _wrap(
            f"wrote {len(written)} files to {out} (results.json, results.md, figures) in {run.seconds:.1f} s"
        )
    )
    return 0


def _seed_list(seeds: list[int]) -> str:
    """``0-4`` for a range, else the seeds separated by commas."""
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _finish_ranks() -> None:
    """Leave the torchrun process group, if this process joined one."""
    if "torch.distributed" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet = contextlib.redirect_stdout(io.StringIO()) if _rank() != 0 else contextlib.nullcontext()
    try:
        with quiet:
            return _main(argv)
    except UsageError as err:
        if _rank() == 0:  # every rank parses the same command line: one line, not one per rank
            print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `symnn-zoo list | head`
        sys.stderr.close()
        return 1
    finally:
        _finish_ranks()


def _main(argv: list[str]) -> int:
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list(args.problem)
    return _run(args, [PROG, *argv])
