"""What a run leaves behind: the printed table, results.json, results.md and PNG figures.

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas, never through
pyplot's global state, so a run needs no display and leaks no open figures.
"""

from __future__ import annotations

import json
import math
import platform
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import symnn

from ._problem import Finding, LevelResult, RunResult
from ._sweep import Spread
from ._training import clock_label

__all__ = [
    "SUMMARY_FIGURE",
    "format_table",
    "format_screen_table",
    "format_range_table",
    "format_findings",
    "write_report",
    "summary_figure",
    "versions",
    "new_figure",
    "save_figure",
    "ALIGNMENT_FIGURE",
    "alignment_figure",
]


def versions() -> dict[str, str]:
    """The library versions and the machine a run used."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "symnn": symnn.__version__,
        "platform": platform.platform(),
    }


def _format_error(value: float, percent: bool) -> str:
    if value is None or not math.isfinite(value):
        return "nan"
    if percent:
        value *= 100
        return f"{value:.2f}%" if value >= 0.01 or value == 0 else f"{value:.1e}%"
    return f"{value:.3g}" if value >= 1e-3 or value == 0 else f"{value:.1e}"


def _format_error_short(value: float, percent: bool) -> str:
    if value is None or not math.isfinite(value):
        return "nan"
    if not percent:
        return f"{value:.3g}" if value >= 0.1 or value == 0 else f"{value:.1e}"
    scaled = 100 * value
    if scaled >= 1 or scaled == 0:
        return f"{scaled:.3g}%"
    return f"{scaled:.2f}%" if scaled >= 0.01 else f"{scaled:.0e}%"


def _format_small(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return "0" if value == 0 else f"{value:.1e}"


def _format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _format_seconds_short(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def _format_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


@dataclass(frozen=True)
class _Column:
    """One column of the results table: both forms of it are decided here, once.

    ``value`` gives the cell's number (or text); ``fmt`` writes it for results.md,
    ``short_fmt`` for the screen.  A number over seeds (a :class:`Spread`) is written
    as mean ± std in results.md, its mean on the screen with ``±std`` on a line below.
    """

    header: str  # results.md
    value: Callable[[LevelResult], Any]
    fmt: Callable[[Any], str] = str  # results.md
    short: str | None = None  # the screen's header; None: not on the screen
    short_fmt: Callable[[Any], str] | None = None  # default: ``fmt``
    legend: str = ""  # what ``short`` means, under the screen's table

    def cell(self, result: LevelResult) -> str:
        value = self.value(result)
        if isinstance(value, Spread):
            return f"{self.fmt(float(value))} ± {self.fmt(value.std)}"
        return self.fmt(value)

    def range_cell(self, result: LevelResult) -> str:
        """The smallest and largest value over the seeds (the cell itself for one seed)."""
        value = self.value(result)
        if isinstance(value, Spread):
            return f"{self.fmt(value.min)} – {self.fmt(value.max)}"
        return self.fmt(value)

    def short_cell(self, result: LevelResult) -> str:
        value = self.value(result)
        return (self.short_fmt or self.fmt)(float(value) if isinstance(value, Spread) else value)

    def short_spread(self, result: LevelResult) -> str:
        """``±std`` for a number over seeds, else empty: the screen's second line."""
        value = self.value(result)
        return "±" + (self.short_fmt or self.fmt)(value.std) if isinstance(value, Spread) else ""


def _columns(run: RunResult) -> list[_Column]:
    """The table's columns, in order, for results.md and for the screen."""
    problem = run.problem
    percent = problem.error_in_percent
    test_sets = list(run.levels[0].evaluation.errors) if run.levels else []
    baseline = problem.baseline_level
    columns = [
        _Column("level", lambda r: r.level.key, short="level"),
        _Column("bias", lambda r: r.level.bias, short="bias"),
        _Column("model / training", lambda r: r.level.title),
    ]
    for i, name in enumerate(test_sets, start=1):
        columns.append(
            _Column(
                name,
                lambda r, name=name: r.evaluation.errors[name],
                lambda v: _format_error(v, percent),
                f"e{i}",
                lambda v: _format_error_short(v, percent),
                f"e{i}: {name}",
            )
        )
    columns += [
        _Column(
            problem.monitor_column,
            lambda r: r.monitor_final,
            _format_small,
            "check",
            legend=f"check: {problem.monitor_column}, {problem.monitor_label}",
        ),
        _Column(
            "train time",
            lambda r: r.history.seconds,
            _format_seconds,
            "time",
            _format_seconds_short,
            f"time: training {clock_label(run.device)}",
        ),
        _Column(
            f"× level {baseline}",
            lambda r: r.cost_ratio,
            _format_ratio,
            f"×{baseline}",
            legend=f"×{baseline}: time / level {baseline}'s",
        ),
    ]
    return columns


def _markdown_table(rows: list[list[str]]) -> str:
    rows = [[cell.replace("|", "\\|") for cell in row] for row in rows]  # a bare "|" would end a cell
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rows.insert(1, ["-" * w for w in widths])
    return "\n".join("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows)


def format_table(run: RunResult) -> str:
    """The full results as a Markdown table (results.md): errors per test set, symmetry error, cost.

    Over several seeds each number is the mean ± the standard deviation over the seeds.
    """
    columns = _columns(run)
    return _markdown_table([[c.header for c in columns]] + [[c.cell(r) for c in columns] for r in run.levels])


def format_range_table(run: RunResult) -> str:
    """The smallest and largest value of each number over the seeds, as a Markdown table."""
    columns = [c for c in _columns(run) if c.header != "model / training"]
    return _markdown_table(
        [[c.header for c in columns]] + [[c.range_cell(r) for c in columns] for r in run.levels]
    )


def format_screen_table(run: RunResult, width: int = 100) -> str:
    """The compact table for the terminal, short headers explained by a legend below it.

    The legend is wrapped to ``width`` characters, which the table fits in for every
    problem of the zoo (a test checks); the level titles and full headers are in
    results.md (and ``symnn-zoo list PROBLEM``).  Over several seeds each level's
    row holds the means, and the line below it the standard deviations.
    """
    columns = [c for c in _columns(run) if c.short is not None]
    rows = [[c.short for c in columns]]
    for result in run.levels:
        rows.append([c.short_cell(result) for c in columns])
        if run.runs:
            rows.append([c.short_spread(result) for c in columns])
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.rjust(w) if i > 1 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    legends = [c.legend for c in columns if c.legend]
    if run.runs:
        legends.insert(0, f"each row: the mean over {len(run.runs)} seeds, ± the standard deviation below it")
    legend = "; ".join(legends) + "; the full table is in results.md."
    lines += textwrap.wrap(legend, width)
    return "\n".join(lines)


def format_findings(run: RunResult, width: int | None = None) -> str:
    """One line per claim: ✓ holds, ✗ does not, – not measured in this run.

    Over several seeds a claim is judged on the means, its numbers are given as
    mean ± std, and the line says for how many seeds alone it holds.

    In a quick run, a claim only the full setting can show (too few epochs and samples)
    is marked ○ when it fails, so that a smoke test does not read as a failure.  With
    a ``width``, each claim is wrapped to it (the terminal's form).
    """
    marks = {True: "✓", False: "✗", None: "–"}

    def line(f: Finding) -> str:
        detail = f" ({f.detail})" if f.detail else ""
        seeds = ""
        if f.seed_holds is not None and f.holds is not None:
            seeds = f" [holds for {sum(h is True for h in f.seed_holds)} of {len(f.seed_holds)} seeds]"
        if run.quick and not f.quick and f.holds is False:
            return f"- ○ {f.claim}{detail}{seeds} [full setting only: quick mode is too short to show it]"
        return f"- {marks[f.holds]} {f.claim}{detail}{seeds}"

    lines = [line(f) for f in run.findings]
    if width is not None:
        lines = ["\n".join(textwrap.wrap(text, width, subsequent_indent="    ")) for text in lines]
    return "\n".join(lines)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):  # a Spread becomes its mean, a plain float
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _level_json(result: LevelResult) -> dict[str, Any]:
    level, history = result.level, result.history
    return {
        "key": level.key,
        "bias": level.bias,
        "title": level.title,
        "errors": result.evaluation.errors,
        "metrics": result.evaluation.metrics,
        "train_seconds": history.seconds,
        "cost_ratio_to_baseline": result.cost_ratio,
        "symmetry_error_final": result.monitor_final,
        "history": {
            "loss": history.loss,
            "monitor_epochs": history.monitor_epochs,
            "monitor_values": history.monitor_values,
            "alignment_epochs": history.alignment_epochs,
            "alignment": history.alignment,
        },
    }


def _stats(value: Any) -> dict[str, float] | None:
    """The spread of a number over seeds: its standard deviation, smallest and largest value."""
    if not isinstance(value, Spread):
        return None
    return {"std": value.std, "min": value.min, "max": value.max}


def _spread_json(result: LevelResult) -> dict[str, Any]:
    """A level's spread over the seeds, for every number its mean is given for."""
    evaluation = result.evaluation
    return {
        "errors": {name: _stats(v) for name, v in evaluation.errors.items()},
        "metrics": {name: _stats(v) for name, v in evaluation.metrics.items() if isinstance(v, Spread)},
        "train_seconds": _stats(result.history.seconds),
        "cost_ratio_to_baseline": _stats(result.cost_ratio),
        "symmetry_error_final": _stats(result.monitor_final),
    }


def _finding_json(finding: Finding) -> dict[str, Any]:
    data = asdict(finding)
    if finding.seed_holds is None:  # one seed: the shape results.json always had
        del data["seed_holds"]
    return data


def _columns_json(run: RunResult) -> list[dict[str, Any]]:
    """Each error column and the test set it was measured on (None for an error on no test set)."""
    if not run.levels:
        return []
    evaluation = run.levels[0].evaluation
    columns = []
    for name in evaluation.errors:
        test = evaluation.test_sets.get(name)
        columns.append(
            {
                "name": name,
                "test_set": None if test is None else test.name,
                "in_distribution": None if test is None else test.in_distribution,
                "kind": None if test is None else test.kind,
            }
        )
    return columns


def results_json(
    run: RunResult, command: list[str] | None = None, files: list[str] | None = None
) -> dict[str, Any]:
    """Everything a run measured, as plain JSON values (non-finite numbers become null).

    ``files`` names the files the run wrote into its folder (results.json included):
    the next run into that folder removes them, and the docs show only them.

    A run over several seeds gives ``"seed": null`` and adds ``"seeds"``; its
    ``"levels"`` hold the means, each with a ``"spread"`` (std, min and max of every
    number), its ``"findings"`` are judged on the means and give each seed's verdict
    (``"seed_holds"``), and ``"runs"`` holds every seed's own levels and findings.
    """
    data = {
        "problem": run.problem.name,
        "summary": run.problem.summary,
        "command": command,
        "seed": run.seed,
        "quick": run.quick,
        "device": str(run.device),
        "clock": clock_label(run.device),
        "threads": run.threads,
        "settings": asdict(run.settings),
        "versions": versions(),
        "error_label": run.problem.error_label,
        "error_in_percent": run.problem.error_in_percent,
        "monitor_label": run.problem.monitor_label,
        "baseline_level": run.problem.baseline_level,
        "total_seconds": run.seconds,
        "columns": _columns_json(run),
        "levels": [_level_json(r) for r in run.levels],
        "findings": [_finding_json(f) for f in run.findings],
        "files": files,
    }
    if run.runs:
        data["seed"] = None
        data["seeds"] = run.seeds
        for level, result in zip(data["levels"], run.levels):
            level["spread"] = _spread_json(result)
        data["runs"] = [
            {
                "seed": each.seed,
                "levels": [_level_json(r) for r in each.levels],
                "findings": [_finding_json(f) for f in each.findings],
            }
            for each in run.runs
        ]
    return _finite_or_none(data)


def new_figure(width: float, height: float) -> tuple[Figure, Any]:
    """A figure with one set of axes, drawn without pyplot."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG, its bounding box fitted to what is drawn (no label is clipped)."""
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=90, bbox_inches="tight", pad_inches=0.1)
    return path


class _ExactZeros:
    """Exact zeros on a log axis: each level's zeros on its own line in a band marked "exactly 0".

    A log axis cannot show 0; drawing every zero at one tiny value would stack the
    levels on one line.  The band sits a decade below the smallest nonzero value,
    its lines one per level, and its tick labels are replaced by "exactly 0".
    """

    def __init__(self, values: list[float], n_lines: int) -> None:
        positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
        top = 10.0 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1.0
        self.lines = [top / 10 ** (0.3 * i) for i in range(max(n_lines, 1))]
        self.top, self.bottom = top * 10**0.15, self.lines[-1] / 10**0.3
        self.used = False

    def at(self, line: int, values: np.ndarray) -> np.ndarray:
        """``values`` with its exact zeros on band line ``line``."""
        zero = values == 0
        self.used |= bool(zero.any())
        return np.where(zero, self.lines[line], values)

    def draw(self, ax: Any) -> None:
        """Shade and label the band, if anything was drawn in it; call after plotting."""
        if not self.used:
            return
        ax.axhspan(self.bottom, self.top, color="0.9", zorder=0)
        ax.axhline(self.top, color="0.4", linewidth=0.8, linestyle="--")
        ax.set_ylim(self.bottom, max(ax.get_ylim()[1], self.top * 10))
        ticks = [t for t in ax.get_yticks() if self.top < t <= ax.get_ylim()[1]]
        ax.set_yticks([math.sqrt(self.top * self.bottom), *ticks])
        labels = ["exactly 0", *(f"$10^{{{round(math.log10(t))}}}$" for t in ticks)]
        ax.set_yticklabels(labels)
        ax.minorticks_off()


def _array(values: list[Any]) -> np.ndarray:
    """Numbers from results.json as floats, null as NaN (not drawn)."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _seed_dots(ax: Any, x: float, values: np.ndarray) -> None:
    """Each seed's value as a small black dot at ``x`` (nothing for no seeds)."""
    if len(values):
        ax.scatter(np.full(len(values), x), values, s=6, color="black", zorder=3, linewidths=0)


#: The summary figure's file name: it sorts first in the output folder.
SUMMARY_FIGURE = "0_summary.png"


def summary_figure(results: dict[str, Any], path: Path) -> Path:
    """The ladder at a glance: error per level and test set on a log axis, training cost beside it.

    Drawn from a results.json's content (``results``), so any committed run can be
    redrawn.  Errors on in-distribution test sets are blue, out of distribution red,
    errors measured on no test set grey and hatched.  A run over several seeds
    (``results["runs"]``) draws the means as bars and each seed's value as a dot.
    """
    levels = results["levels"]
    runs = results.get("runs") or []
    columns = results.get("columns") or [{"name": n, "in_distribution": None} for n in levels[0]["errors"]]
    figure = Figure(figsize=(min(13.0, max(8.0, 4.0 + 1.1 * len(levels))), 4.2))
    errors_ax, cost_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    keys = [level["key"] for level in levels]
    positions = np.arange(len(levels))
    width = 0.8 / max(len(columns), 1)
    in_dist = [c for c in columns if c["in_distribution"] is True]
    out_dist = [c for c in columns if c["in_distribution"] is False]
    shades: dict[str, Any] = {}
    for group, cmap in ((in_dist, "Blues"), (out_dist, "Reds")):
        for i, column in enumerate(group):
            shades[column["name"]] = matplotlib.colormaps[cmap](0.45 + 0.45 * i / max(len(group) - 1, 1))
    others = [c["name"] for c in columns if c["name"] not in shades]
    hatches = {name: ("//", "..", "xx", "\\\\")[i % 4] for i, name in enumerate(others)}
    for i, name in enumerate(others):
        shades[name] = str(0.45 + 0.35 * i / max(len(others) - 1, 1))
    values = [[level["errors"].get(c["name"]) for level in levels] for c in columns]
    # seed_values[j][i]: column j's error at level i, one per seed
    seed_values = [
        [[run["levels"][i]["errors"].get(c["name"]) for run in runs] for i in range(len(levels))]
        for c in columns
    ]
    everything = [v for row in values for v in row] + [v for c in seed_values for i in c for v in i]
    floor = _ExactZeros(everything, 1)
    for j, (column, row) in enumerate(zip(columns, values)):
        where = positions + (j - (len(columns) - 1) / 2) * width
        heights = floor.at(0, _array(row))
        errors_ax.bar(
            where,
            heights,
            width,
            color=shades[column["name"]],
            hatch=hatches.get(column["name"]),
            label=column["name"],
        )
        for x, per_seed in zip(where, seed_values[j]):
            _seed_dots(errors_ax, x, floor.at(0, _array(per_seed)))
    errors_ax.set_yscale("log")
    floor.draw(errors_ax)
    errors_ax.set_xticks(positions, [f"{k}\n{level['bias']}" for k, level in zip(keys, levels)], fontsize=8)
    errors_ax.set_ylabel(results.get("error_label", "error"), fontsize=8)
    over = f"\nbars: the mean of {len(runs)} seeds, dots: each seed" if runs else ""
    errors_ax.set_title(
        f"{results['problem']}: error per level (blue: in distribution, red: out of it){over}", fontsize=10
    )
    errors_ax.legend(fontsize=7, ncol=min(len(columns), 3), loc="upper center", bbox_to_anchor=(0.5, -0.16))
    seconds = [level["train_seconds"] for level in levels]
    bars = cost_ax.bar(positions, seconds, color="0.55")
    for i, x in enumerate(positions):
        _seed_dots(cost_ax, x, _array([run["levels"][i]["train_seconds"] for run in runs]))
    ratios = [level.get("cost_ratio_to_baseline") for level in levels]
    cost_ax.bar_label(bars, ["" if r is None else f"{r:.2g}×" for r in ratios], fontsize=7)
    cost_ax.set_xticks(positions, keys, fontsize=8)
    cost_ax.set_ylabel(f"training {results.get('clock', 'time')} (s)", fontsize=8)
    cost_ax.set_title(f"cost (× level {results.get('baseline_level', keys[0])})", fontsize=10)
    cost_ax.margins(y=0.2)
    figure.subplots_adjust(wspace=0.25)
    return save_figure(figure, path)


def _per_seed(run: RunResult, key: str) -> list[tuple[int, LevelResult]]:
    """Level ``key`` of each seed's run (the run itself for one seed)."""
    return [(each.seed, each.by_key()[key]) for each in run.runs or [run]]


def _scatter_figure(run: RunResult, result: LevelResult, path: Path) -> Path:
    """Predicted against true on each test set; over several seeds, each seed's points in its colour."""
    seeds = _per_seed(run, result.level.key)
    names = list(seeds[0][1].evaluation.predictions)
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    figure = Figure(figsize=(3.6 * ncols, 3.4 * nrows))
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        low, high = math.inf, -math.inf
        for seed, each in seeds:
            predicted, true = each.evaluation.predictions[name]
            label = f"seed {seed}" if run.runs else None
            ax.scatter(true, predicted, s=2, alpha=0.5, rasterized=True, label=label)
            low, high = min(low, float(np.min(true))), max(high, float(np.max(true)))
        ax.plot([low, high], [low, high], color="black", linewidth=0.8)
        if run.runs:
            ax.legend(fontsize=6, markerscale=3)
        error = result.evaluation.errors.get(name)
        label = (
            "" if error is None else f": {_format_spread(_format_error, error, run.problem.error_in_percent)}"
        )
        ax.set_title(f"{name}{label}", fontsize=9)
        ax.set_xlabel("true", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
        ax.locator_params(nbins=4)  # every tick label is a text to lay out: few of them
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(f"{run.problem.name} level {result.level.key}: {result.level.title}", fontsize=10)
    figure.subplots_adjust(wspace=0.35, hspace=0.5)
    return save_figure(figure, path)


def _format_spread(fmt: Callable[..., str], value: Any, *args: Any) -> str:
    """``fmt(value)``, or ``fmt(mean) ± fmt(std)`` for a number over seeds."""
    if isinstance(value, Spread):
        return f"{fmt(float(value), *args)} ± {fmt(value.std, *args)}"
    return fmt(value, *args)


def _cost_figure(run: RunResult, path: Path) -> Path:
    figure, ax = new_figure(max(5.0, 1.0 + (1.4 if run.runs else 0.9) * len(run.levels)), 3.4)
    keys = [r.level.key for r in run.levels]
    seconds = [float(r.history.seconds) for r in run.levels]
    bars = ax.bar(keys, seconds, color="tab:blue")
    for i, key in enumerate(keys):
        if run.runs:
            _seed_dots(ax, i, np.array([each.history.seconds for _, each in _per_seed(run, key)]))
    labels = [
        _format_spread(_format_seconds, r.history.seconds)
        + ("" if r.cost_ratio is None else "\n" + _format_spread(_format_ratio, r.cost_ratio))
        for r in run.levels
    ]
    ax.bar_label(bars, labels, fontsize=7)
    ax.set_xlabel("level")
    ax.set_ylabel(f"training {clock_label(run.device)} (s)")
    over = f", mean of {len(run.runs)} seeds (dots: each seed)" if run.runs else ""
    ax.set_title(
        f"{run.problem.name}: training cost (× level {run.problem.baseline_level}){over}", fontsize=10
    )
    ax.margins(y=0.25)
    return save_figure(figure, path)


def _history_figure(run: RunResult, path: Path, *, monitor: bool) -> Path:
    """One curve per level; over several seeds the mean, in a band from the smallest to the largest seed."""
    figure, ax = new_figure(6.4, 4.0)

    def curve(history: Any) -> tuple[np.ndarray, np.ndarray]:
        if monitor:
            return np.asarray(history.monitor_epochs), np.asarray(history.monitor_values, float)
        return np.arange(1, len(history.loss) + 1), np.asarray(history.loss, float)

    curves = []
    for result in run.levels:
        epochs, values = curve(result.history)
        seeds = np.array([curve(each.history)[1] for _, each in _per_seed(run, result.level.key)])
        if len(values):
            curves.append((result, epochs, values, seeds.min(0), seeds.max(0)))
    with_zeros = [result.level.key for result, _, _, low, _ in curves if (low == 0).any()]
    floor = _ExactZeros([float(v) for *_, low, high in curves for v in (*low, *high)], len(with_zeros))
    for result, epochs, values, low, high in curves:
        line = with_zeros.index(result.level.key) if result.level.key in with_zeros else 0
        exact = " (exactly 0)" if (high == 0).all() else ""
        marker = "o" if len(values) == 1 else None
        (drawn,) = ax.plot(
            epochs,
            floor.at(line, values),
            marker=marker,
            label=f"{result.level.key}: {result.level.title}{exact}",
            linewidth=1.5 if exact else 1,
        )
        if run.runs and len(values) > 1:
            ax.fill_between(
                epochs, floor.at(line, low), floor.at(line, high), color=drawn.get_color(), alpha=0.2
            )
    ax.set_yscale("log")
    floor.draw(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(run.problem.monitor_column if monitor else "training loss", fontsize=8)
    title = f"{run.problem.monitor_column} during training" if monitor else "training loss"
    if run.runs:
        title += f", mean of {len(run.runs)} seeds (band: smallest to largest)"
    ax.set_title(f"{run.problem.name}: {title}", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return save_figure(figure, path)


def _previous_files(out: Path) -> list[Path]:
    """The files the previous run into ``out`` wrote there, as its results.json lists them.

    Only plain names of files directly in ``out`` count: a listed path that leads
    elsewhere (``../x``, ``a/b``) or is not a file is never touched.
    """
    try:
        listed = json.loads((out / "results.json").read_text(encoding="utf-8")).get("files") or []
    except (OSError, ValueError, AttributeError):
        return []
    names = [
        name
        for name in listed
        if isinstance(name, str) and name == Path(name).name and name not in ("", ".", "..")
    ]
    return [out / name for name in names if (out / name).is_file() and not (out / name).is_symlink()]


def _seeds_text(run: RunResult) -> str:
    if not run.runs:
        return f"Seed {run.seed}"
    return f"Seeds {', '.join(map(str, run.seeds))} (every level once per seed)"


def _range_section(run: RunResult) -> list[str]:
    """Over several seeds: what the ± means, and the range table."""
    if not run.runs:
        return []
    return [
        f"Each number is the mean ± the sample standard deviation over the {len(run.runs)} seeds; "
        "a finding holds when it holds for the means, and says for how many seeds alone it holds. "
        "The smallest and largest value over the seeds:",
        "",
        format_range_table(run),
        "",
    ]


def write_report(run: RunResult, out: Path, command: list[str] | None = None) -> list[Path]:
    """Write results.json, results.md and the figures into ``out``; the paths written.

    The run owns its folder: the files an earlier run wrote there (as its
    results.json lists them) are removed first, and nothing else is; the new
    results.json lists the files this run wrote.
    """
    out.mkdir(parents=True, exist_ok=True)
    for path in _previous_files(out):
        path.unlink()
    json_path = out / "results.json"
    figures: list[tuple[Path, str]] = []  # (path, caption), in the order the page shows them
    summary_path = out / SUMMARY_FIGURE
    # A problem's own figures draw one run: over several seeds, the first seed's.
    first = run.runs[0] if run.runs else run
    seed_note = f" (seed {first.seed})" if run.runs else ""
    for path in run.problem.extra_figures(first, out) if run.problem.extra_figures is not None else []:
        figures.append((path, path.stem.replace("_", " ") + seed_note))
    for result in run.levels:
        if first.by_key()[result.level.key].evaluation.predictions:
            path = _scatter_figure(run, result, out / f"pred_vs_true_level_{result.level.key}.png")
            figures.append((path, f"level {result.level.key}: predicted against true"))
    figures.append((_cost_figure(run, out / "training_cost.png"), "training cost"))
    figures.append(
        (
            _history_figure(run, out / "symmetry_error.png", monitor=True),
            f"{run.problem.monitor_column} during training",
        )
    )
    figures.append((_history_figure(run, out / "training_loss.png", monitor=False), "training loss"))
    figures.append((alignment_figure(run, out / ALIGNMENT_FIGURE), "gradient alignment beside the loss"))

    md_path = out / "results.md"
    names = [json_path.name, md_path.name, summary_path.name, *(p.name for p, _ in figures)]
    data = results_json(run, command, names)
    summary_figure(data, summary_path)
    figures.insert(0, (summary_path, "summary: error per level and test set, and training cost"))

    settings = ", ".join(f"{k}={v}" for k, v in asdict(run.settings).items())
    md = [
        f"# symnn zoo: {run.problem.name}",
        "",
        run.problem.summary + ".",
        "",
        f"{_seeds_text(run)}, {'quick' if run.quick else 'full'} mode, device {run.device}, "
        f"symnn {symnn.__version__}, torch {torch.__version__}, {run.threads} thread(s).",
        f"Settings: {settings}.",
        "",
        f"Errors: {run.problem.error_label}. {run.problem.monitor_column}: {run.problem.monitor_label}, "
        "at the end of training. Train time: the training steps alone "
        f"({clock_label(run.device)}); "
        f"× level {run.problem.baseline_level}: the ratio to that level's time in this run.",
        "",
        *(f"![{caption}]({p.name})" for p, caption in figures[:1]),  # the summary, before the numbers
        "",
        format_table(run),
        "",
        *_range_section(run),
        "## Findings",
        "",
        format_findings(run),
        "",
        *([run.problem.extra_markdown(run), ""] if run.problem.extra_markdown is not None else []),
        "## Figures",
        "",
        *(f"![{caption}]({p.name})" for p, caption in figures[1:]),
        "",
    ]
    if command:
        md.insert(3, f"`{' '.join(command)}`\n")
    md_path.write_text("\n".join(md), encoding="utf-8")
    json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return [json_path, md_path, *(p for p, _ in figures)]


#: The gradient-alignment figure's file name.
ALIGNMENT_FIGURE = "alignment.png"


def alignment_figure(run: RunResult, path: Path) -> Path:
    """Each level's training loss beside its gradient alignment on the problem's probe batch.

    Left: the training loss per epoch (log axis).  Right: the fraction of the probe
    loss's output gradient that the parameters can deliver,
    :func:`symnn.diagnostics.gradient_alignment`, at the checkpoints (a level fitted in
    closed form has one point, after the fit).  A low fraction with a high loss is
    where training stalls for want of a direction.
    """
    figure = Figure(figsize=(11.0, 4.0))
    loss_ax, fraction_ax = figure.subplots(1, 2)
    for result in run.levels:
        history = result.history
        label = f"{result.level.key}: {result.level.title}"
        (line,) = loss_ax.plot(
            np.arange(1, len(history.loss) + 1), np.asarray(history.loss, float), linewidth=1
        )
        fractions = np.asarray([a["fraction"] for a in history.alignment], float)
        if len(fractions):
            fraction_ax.plot(
                history.alignment_epochs,
                fractions,
                marker="o",
                markersize=3,
                linewidth=1,
                color=line.get_color(),
                label=label,
            )
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss", fontsize=8)
    loss_ax.set_title(f"{run.problem.name}: training loss", fontsize=10)
    fraction_ax.set_ylim(-0.02, 1.02)
    fraction_ax.set_xlabel("epoch")
    fraction_ax.set_ylabel("‖J J⁺ g‖ / ‖g‖ on the probe batch", fontsize=8)
    fraction_ax.set_title("gradient alignment: the share of ∂L/∂F the parameters reach", fontsize=10)
    fraction_ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return save_figure(figure, path)
