"""What a run leaves behind: the printed table, results.json, results.md and PNG figures.

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas, never through
pyplot's global state, so a run needs no display and leaks no open figures.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import symnn
from zoo._problem import Finding, LevelResult, RunResult
from zoo._training import clock_label

__all__ = ["format_table", "format_findings", "write_report", "versions", "new_figure", "save_figure"]

# Exact zeros cannot sit on a log axis; they are drawn here and labelled as exact.
_LOG_FLOOR = 1e-17


def versions() -> dict[str, str]:
    """The library versions and the machine a run used."""
    import matplotlib

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


def _format_small(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return "0" if value == 0 else f"{value:.1e}"


def _format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.1f} s"


def format_table(run: RunResult) -> str:
    """The results as a Markdown table: errors per test set, symmetry error, cost."""
    problem = run.problem
    test_sets = list(run.levels[0].evaluation.errors) if run.levels else []
    header = [
        "level",
        "bias",
        "model / training",
        *test_sets,
        problem.monitor_column,
        "train time",
        f"× level {problem.baseline_level}",
    ]
    rows = [header]
    for result in run.levels:
        level = result.level
        rows.append(
            [
                level.key,
                level.bias,
                level.title,
                *(_format_error(result.evaluation.errors[t], problem.error_in_percent) for t in test_sets),
                _format_small(result.monitor_final),
                _format_seconds(result.history.seconds),
                "—" if result.cost_ratio is None else f"{result.cost_ratio:.2f}×",
            ]
        )
    rows = [[cell.replace("|", "\\|") for cell in row] for row in rows]  # a bare "|" would end a cell
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rows.insert(1, ["-" * w for w in widths])
    return "\n".join("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows)


def format_findings(run: RunResult) -> str:
    """One line per claim: ✓ holds, ✗ does not, – not measured in this run.

    In a quick run, a claim only the full setting can show (too few epochs and samples)
    is marked ○ when it fails, so that a smoke test does not read as a failure.
    """
    marks = {True: "✓", False: "✗", None: "–"}

    def line(f: Finding) -> str:
        detail = f" ({f.detail})" if f.detail else ""
        if run.quick and not f.quick and f.holds is False:
            return f"- ○ {f.claim}{detail} [full setting only: quick mode is too short to show it]"
        return f"- {marks[f.holds]} {f.claim}{detail}"

    return "\n".join(line(f) for f in run.findings)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
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
        },
    }


def results_json(run: RunResult, command: list[str] | None = None) -> dict[str, Any]:
    """Everything a run measured, as plain JSON values (non-finite numbers become null)."""
    return _finite_or_none(
        {
            "problem": run.problem.name,
            "summary": run.problem.summary,
            "command": command,
            "seed": run.seed,
            "quick": run.quick,
            "device": str(run.device),
            "threads": run.threads,
            "settings": asdict(run.settings),
            "versions": versions(),
            "error_label": run.problem.error_label,
            "monitor_label": run.problem.monitor_label,
            "total_seconds": run.seconds,
            "levels": [_level_json(r) for r in run.levels],
            "findings": [asdict(f) for f in run.findings],
        }
    )


def new_figure(width: float, height: float) -> tuple[Figure, Any]:
    """A figure with one set of axes and fixed margins, drawn without pyplot."""
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.9)
    return figure, figure.subplots()


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG.

    Margins are set by hand where the figure is made: automatic layouts (tight or
    constrained) measure every text once more and cost about as much as the drawing.
    """
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=90)
    return path


def _scatter_figure(run: RunResult, result: LevelResult, path: Path) -> Path:
    predictions = result.evaluation.predictions
    names = list(predictions)
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    figure = Figure(figsize=(3.6 * ncols, 3.4 * nrows))
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        predicted, true = predictions[name]
        ax.scatter(true, predicted, s=2, alpha=0.5, rasterized=True)
        low, high = float(np.min(true)), float(np.max(true))
        ax.plot([low, high], [low, high], color="black", linewidth=0.8)
        error = result.evaluation.errors.get(name)
        label = "" if error is None else f": {_format_error(error, run.problem.error_in_percent)}"
        ax.set_title(f"{name}{label}", fontsize=9)
        ax.set_xlabel("true", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
        ax.locator_params(nbins=4)  # every tick label is a text to lay out: few of them
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(f"{run.problem.name} level {result.level.key}: {result.level.title}", fontsize=10)
    width, height = figure.get_size_inches()
    # Margins in inches, so that one panel and six get the same room for labels.
    figure.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.15 / width,
        bottom=0.5 / height,
        top=1 - 0.6 / height,
        wspace=0.35,
        hspace=0.5,
    )
    return save_figure(figure, path)


def _cost_figure(run: RunResult, path: Path) -> Path:
    figure, ax = new_figure(max(5.0, 1.0 + 0.9 * len(run.levels)), 3.4)
    keys = [r.level.key for r in run.levels]
    seconds = [r.history.seconds for r in run.levels]
    bars = ax.bar(keys, seconds, color="tab:blue")
    labels = [
        _format_seconds(r.history.seconds) + ("" if r.cost_ratio is None else f"\n{r.cost_ratio:.2f}×")
        for r in run.levels
    ]
    ax.bar_label(bars, labels, fontsize=7)
    ax.set_xlabel("level")
    ax.set_ylabel(f"training {clock_label(run.device)} (s)")
    ax.set_title(f"{run.problem.name}: training cost (× level {run.problem.baseline_level})", fontsize=10)
    ax.margins(y=0.25)
    return save_figure(figure, path)


def _history_figure(run: RunResult, path: Path, *, monitor: bool) -> Path:
    figure, ax = new_figure(6.4, 4.0)
    any_exact = False
    for result in run.levels:
        history = result.history
        if monitor:
            epochs, values = np.asarray(history.monitor_epochs), np.asarray(history.monitor_values, float)
        else:
            epochs, values = np.arange(1, len(history.loss) + 1), np.asarray(history.loss, float)
        if len(values) == 0:
            continue
        any_exact |= bool((values == 0).any())
        values = np.where(values == 0, _LOG_FLOOR, values)
        marker = "o" if len(values) == 1 else None
        ax.plot(epochs, values, marker=marker, label=f"{result.level.key}: {result.level.title}", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(run.problem.monitor_column if monitor else "training loss", fontsize=8)
    title = f"{run.problem.monitor_column} during training" if monitor else "training loss"
    if monitor and any_exact:
        title += f" (exact zeros drawn at {_LOG_FLOOR:g})"
    ax.set_title(f"{run.problem.name}: {title}", fontsize=10)
    ax.legend(fontsize=6)
    return save_figure(figure, path)


def write_report(run: RunResult, out: Path, command: list[str] | None = None) -> list[Path]:
    """Write results.json, results.md and the figures into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    figures: list[Path] = []
    for result in run.levels:
        if result.evaluation.predictions:
            figures.append(_scatter_figure(run, result, out / f"pred_vs_true_level_{result.level.key}.png"))
    figures.append(_cost_figure(run, out / "training_cost.png"))
    figures.append(_history_figure(run, out / "symmetry_error.png", monitor=True))
    figures.append(_history_figure(run, out / "training_loss.png", monitor=False))
    if run.problem.extra_figures is not None:
        figures.extend(run.problem.extra_figures(run, out))

    json_path = out / "results.json"
    json_path.write_text(json.dumps(results_json(run, command), indent=1) + "\n", encoding="utf-8")
    written.append(json_path)

    settings = ", ".join(f"{k}={v}" for k, v in asdict(run.settings).items())
    md = [
        f"# symnn zoo: {run.problem.name}",
        "",
        run.problem.summary + ".",
        "",
        f"Seed {run.seed}, {'quick' if run.quick else 'full'} mode, device {run.device}, "
        f"symnn {symnn.__version__}, torch {torch.__version__}, {run.threads} thread(s).",
        f"Settings: {settings}.",
        "",
        f"Errors: {run.problem.error_label}. {run.problem.monitor_column}: {run.problem.monitor_label}, "
        "at the end of training. Train time: the training steps alone "
        f"({clock_label(run.device)}); "
        f"× level {run.problem.baseline_level}: the ratio to that level's time in this run.",
        "",
        format_table(run),
        "",
        "## Findings",
        "",
        format_findings(run),
        "",
        "## Figures",
        "",
        *(f"![{p.stem}]({p.name})" for p in figures),
        "",
    ]
    if command:
        md.insert(3, f"`{' '.join(command)}`\n")
    md_path = out / "results.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    written.append(md_path)
    return written + figures
