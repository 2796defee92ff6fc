"""Shared by the zoo's problem tests: run a problem in quick mode through the command line."""

import contextlib
import io
import json
from pathlib import Path

from symnn_zoo.__main__ import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _no_constants(name):
    raise ValueError(f"results.json holds {name}, which is not JSON")


def run_quick(problem: str, out: Path) -> dict:
    """``symnn-zoo run PROBLEM --quick`` into ``out``; checks the files every run writes, returns results.json."""
    screen = io.StringIO()
    with contextlib.redirect_stdout(screen):
        assert main(["run", problem, "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = screen.getvalue()
    assert max(len(line) for line in printed.splitlines()) <= 100, "the terminal output fits in 100 columns"
    assert "the full table is in results.md" in printed
    results = json.loads((out / "results.json").read_text(encoding="utf-8"), parse_constant=_no_constants)
    assert results["problem"] == problem and results["quick"] is True
    assert {"settings", "versions", "seed", "levels", "findings", "total_seconds", "threads"} <= set(results)
    assert {"python", "torch", "numpy", "symnn"} <= set(results["versions"])
    # The promise is "well under 2 minutes on 2 CPU cores"; measured 10-15 s per ladder.
    assert results["total_seconds"] < 120, f"quick {problem} took {results['total_seconds']:.0f} s"
    table = (out / "results.md").read_text(encoding="utf-8")
    figures = [
        "0_summary.png",
        "training_cost.png",
        "symmetry_error.png",
        "training_loss.png",
        "alignment.png",
    ]
    for level in results["levels"]:
        assert {"errors", "metrics", "train_seconds", "cost_ratio_to_baseline", "history"} <= set(level)
        assert level["train_seconds"] > 0
        alignment = level["history"]["alignment"]  # recorded for every level of every problem
        assert alignment and len(alignment) == len(level["history"]["alignment_epochs"]), level["key"]
        assert all(0 <= a["fraction"] <= 1 and a["loss"] >= 0 for a in alignment), level["key"]
        assert f"| {level['key']} " in table
        figures.append(f"pred_vs_true_level_{level['key']}.png")
    for name in figures:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name
        assert f"]({name})" in table
        assert name in results["files"]
    assert sorted(results["files"]) == sorted(p.name for p in out.iterdir())
    assert table.index("](0_summary.png)") < table.index("](pred_vs_true_level_")
    return results


def assert_quick_findings_hold(results: dict) -> None:
    """Every finding the problem says quick mode shows holds in this results.json.

    The thresholds live in the problem's ``findings`` only; the test reads the
    verdicts the run wrote.
    """
    quick = [f for f in results["findings"] if f["quick"]]
    assert quick, "the problem names no finding that quick mode shows"
    failed = [f"{f['claim']} ({f['detail']})" for f in quick if f["holds"] is not True]
    assert not failed, "quick-mode findings that do not hold: " + "; ".join(failed)


def by_level(results: dict) -> dict:
    """The levels of a results.json, keyed by level."""
    return {level["key"]: level for level in results["levels"]}


def toy_problem():
    """A tiny problem for testing the harness and the report: fit y = 2x, trained and in closed form."""
    from dataclasses import dataclass

    import torch

    from symnn_zoo._problem import Evaluation, Level, Problem, TestSet, claim, relative_rms
    from symnn_zoo._training import Settings as BaseSettings

    @dataclass(frozen=True)
    class Settings(BaseSettings):
        epochs: int = 5
        lr: float = 1e-2
        final_lr: float = 1e-3
        n_checkpoints: int = 2

    def make_data(settings, generator, device):
        x = torch.rand(32, 1, generator=generator)
        return {"x": x.to(device), "y": 2 * x.to(device)}

    def evaluate(model, data, settings):
        predicted = model(data["x"])
        return Evaluation(
            {"train": relative_rms(predicted, data["y"]), "nan | set": float("nan")},
            {"weight": float(next(model.parameters()).flatten()[0])},
            {"train": (predicted.numpy().ravel(), data["y"].numpy().ravel())},
            test_sets={"train": TestSet("train", data["x"], data["y"], in_distribution=True)},
        )

    def monitor(model, data, settings):
        return 0.5

    def plain(ctx):
        model = torch.nn.Linear(1, 1)
        return ctx.train(model, lambda: ((model(ctx.data["x"]) - ctx.data["y"]) ** 2).mean())

    def closed_form(ctx):
        def fit():
            model = torch.nn.Linear(1, 1, bias=False)
            with torch.no_grad():
                model.weight.fill_(2.0)
            return model

        return ctx.fit(fit)

    def findings(results, settings):
        return [
            claim(
                results,
                "the closed form is exact",
                ("1a",),
                lambda r: r.evaluation.errors["train"] == 0,
                lambda r: "",
            ),
            claim(results, "needs a level that does not exist", ("9",), lambda r: True, lambda r: ""),
            claim(results, "a claim only the full setting shows", ("0",), lambda r: False, lambda r: ""),
        ]

    return Problem(
        name="toy",
        summary="y = 2x",
        levels=(
            Level("0", "none", "plain | linear", plain),
            Level("1a", "physics", "closed form", closed_form),
        ),
        full_settings=Settings(epochs=20),
        quick_settings=Settings(),
        make_data=make_data,
        evaluate=evaluate,
        monitor=monitor,
        monitor_label="a constant",
        error_label="relative RMS error",
        findings=findings,
    )


def run_toy(seed: int = 0):
    """The toy problem's every level, run by the harness (no report written)."""
    import torch

    from symnn_zoo._problem import run_problem

    problem = toy_problem()
    return run_problem(
        problem,
        problem.level_keys,
        settings=problem.quick_settings,
        seed=seed,
        device=torch.device("cpu"),
        quick=True,
        progress=False,
    )
