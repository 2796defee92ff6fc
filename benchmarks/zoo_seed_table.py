"""Mean ± standard deviation over seeds of zoo runs, as a Markdown table.

    python benchmarks/zoo_seed_table.py docs/zoo/inertia/results.json runs/seed1/results.json ...

Each argument is the ``results.json`` of one ``symnn-zoo run PROBLEM --seed S`` (the same
problem, levels and mode); the table has one row per level and one column per error
(``errors``) and per metric named with ``--metric`` (default: the inertia problem's O(3)
equivariance error).  The standard deviation is the sample one (``ddof=1``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def load(paths: list[Path]) -> list[dict]:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    problems = {(r["problem"], r["quick"], tuple(level["key"] for level in r["levels"])) for r in runs}
    if len(problems) != 1:
        raise ValueError(f"expected runs of one problem, mode and ladder; got {sorted(problems)}")
    return runs


def mean_std(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3g}"
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.3g} ± {std:.2g}"


def table(runs: list[dict], metrics: list[str]) -> str:
    first = runs[0]["levels"]
    columns = [*first[0]["errors"], *metrics]
    lines = [
        "| level | model / training | " + " | ".join(columns) + " |",
        "| --- | --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    for i, level in enumerate(first):
        cells = []
        for column in columns:
            where = "errors" if column in level["errors"] else "metrics"
            cells.append(mean_std([run["levels"][i][where][column] for run in runs]))
        lines.append(f"| {level['key']} | {level['title']} | " + " | ".join(cells) + " |")
    seeds = ", ".join(str(run["seed"]) for run in runs)
    return "\n".join(lines) + f"\n\nMean ± standard deviation over seeds {seeds}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="results.json of each seed's run")
    parser.add_argument("--metric", action="append", default=None, help="a metric column (repeatable)")
    args = parser.parse_args()
    print(table(load(args.results), args.metric or ["O(3) equivariance error"]))


if __name__ == "__main__":
    main()
