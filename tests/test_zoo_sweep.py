"""Sweeps: statistics over seeds (Spread, aggregate, the report) and torchrun's split of the runs."""

import contextlib
import io
import json
import math
import os
import pathlib
import pickle
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from _zoo_quick import PNG_SIGNATURE, assert_quick_findings_hold, toy_problem

from symnn_zoo.__main__ import main
from symnn_zoo._cli import parse_seeds
from symnn_zoo._problem import run_problem
from symnn_zoo._report import format_findings, format_screen_table, results_json, write_report
from symnn_zoo._sweep import Spread, aggregate, run_sweep

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_spread_compares_as_the_mean_and_prints_mean_and_sample_std():
    x = Spread([0.1, 0.2, 0.6])
    assert float(x) == pytest.approx(0.3) and x == np.mean([0.1, 0.2, 0.6])
    assert x.std == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1)) and (x.min, x.max) == (0.1, 0.6)
    assert x > 0.25 and not x < 0.25 and max(x, Spread([0.5])) == 0.5
    assert f"{x:.1%}" == f"{0.3:.1%} ± {x.std:.1%}" == "30.0% ± 26.5%"
    assert f"{Spread([2.0]):.2f}" == "2.00 ± 0.00"  # one seed: no spread
    scaled = 100 * x
    assert isinstance(scaled, Spread) and scaled.values == (10.0, 20.0, 60.0)
    assert isinstance(x / 2, Spread) and isinstance(-x, Spread) and (-x).max == -0.1
    assert type(x + 1) is float and type(x * x) is float and type(abs(x)) is float
    assert pickle.loads(pickle.dumps(x)).values == x.values
    assert math.isnan(Spread([1.0, float("nan")])) and json.dumps(Spread([1.0, 3.0])) == "2.0"


@pytest.mark.parametrize(
    ("text", "seeds"), [("5", [0, 1, 2, 3, 4]), ("1", [0]), ("3-6", [3, 4, 5, 6]), ("0,7,2", [0, 7, 2])]
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "-3", "4-2", "1,1", "a", "", "1-", "2,-1"])
def test_parse_seeds_rejects_empty_negative_and_repeated_seeds(text):
    with pytest.raises(ValueError, match="expected a count N"):
        parse_seeds(text)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--seeds", "0"], "argument --seeds: expected a count N"),
        (["--seeds", "2", "--seed", "1"], "not allowed with argument"),
    ],
)
def test_bad_seeds_get_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    assert main(["run", "spring", *argv, "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and expected in captured.err and captured.out == ""


def _toy_sweep(seeds):
    problem = toy_problem()
    return run_sweep(
        problem,
        problem.level_keys,
        settings=problem.quick_settings,
        seeds=seeds,
        device=torch.device("cpu"),
        quick=True,
        progress=False,
    )


@pytest.fixture(scope="module")
def toy_seeds():
    return _toy_sweep([0, 1, 2])


def _numbers(run):
    return [
        (r.evaluation.errors, r.evaluation.metrics, r.history.loss, r.history.monitor_values)
        for r in run.levels
    ]


def test_one_seed_is_a_plain_run_with_the_same_numbers():
    problem = toy_problem()
    alone = run_problem(
        problem,
        problem.level_keys,
        settings=problem.quick_settings,
        seed=4,
        device=torch.device("cpu"),
        quick=True,
        progress=False,
    )
    swept = _toy_sweep([4])
    assert swept.runs == [] and swept.seeds == [4]
    assert repr(_numbers(swept)) == repr(_numbers(alone))  # repr: NaN compares unequal to itself
    assert "seeds" not in results_json(swept) and "seed_holds" not in results_json(swept)["findings"][0]


def test_each_seed_keeps_its_numbers_and_the_levels_hold_their_means(toy_seeds):
    assert toy_seeds.seeds == [0, 1, 2]
    for i, seed in enumerate(toy_seeds.seeds):
        assert repr(_numbers(toy_seeds.runs[i])) == repr(_numbers(_toy_sweep([seed])))
    weights = [run.levels[0].evaluation.metrics["weight"] for run in toy_seeds.runs]
    mean = toy_seeds.levels[0].evaluation.metrics["weight"]
    assert isinstance(mean, Spread) and mean.values == tuple(weights) and float(mean) == np.mean(weights)
    assert len(set(weights)) == 3, "each seed draws its own data and initialisation"
    losses = toy_seeds.levels[0].history.loss
    assert float(losses[-1]) == np.mean([run.levels[0].history.loss[-1] for run in toy_seeds.runs])
    assert toy_seeds.levels[0].cost_ratio.values == (1.0, 1.0, 1.0)


def test_findings_are_judged_on_the_means_with_each_seeds_verdict(toy_seeds):
    holds = [(f.holds, f.seed_holds) for f in toy_seeds.findings]
    assert holds == [(True, [True] * 3), (None, [None] * 3), (False, [False] * 3)]
    text = format_findings(toy_seeds)
    assert "✓ the closed form is exact [holds for 3 of 3 seeds]" in text


def test_aggregate_judges_on_the_mean_not_on_every_seed():
    # A claim that fails for one seed alone still holds when the mean satisfies it.
    runs = [_toy_sweep([seed]) for seed in (0, 1)]
    problem = runs[0].problem
    weights = [run.levels[0].evaluation.metrics["weight"] for run in runs]
    limit = float(np.mean(weights)) + 0.25 * abs(weights[0] - weights[1])

    def findings(results, settings):
        from symnn_zoo._problem import claim

        return [
            claim(
                results,
                "weight below the limit",
                ("0",),
                lambda r: r.evaluation.metrics["weight"] < limit,
                lambda r: f"{r.evaluation.metrics['weight']:.3f}",
            )
        ]

    from dataclasses import replace

    problem = replace(problem, findings=findings)
    runs = [replace(run, problem=problem, findings=findings(run.by_key(), run.settings)) for run in runs]
    (finding,) = aggregate(runs, 1.0).findings
    assert finding.holds is True and sorted(finding.seed_holds) == [False, True]
    assert " ± " in finding.detail


def test_report_over_seeds_writes_the_same_files_with_the_spread(toy_seeds, tmp_path):
    written = write_report(toy_seeds, tmp_path, ["symnn-zoo", "run", "toy", "--seeds", "3"])
    names = [p.name for p in written]
    assert names[:3] == ["results.json", "results.md", "0_summary.png"]
    assert sorted(names) == sorted(p.name for p in tmp_path.iterdir())
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert data["seed"] is None and data["seeds"] == [0, 1, 2] and len(data["runs"]) == 3
    level = data["levels"][0]
    per_seed = [run["levels"][0]["metrics"]["weight"] for run in data["runs"]]
    assert level["metrics"]["weight"] == np.mean(per_seed)
    spread = level["spread"]["metrics"]["weight"]
    assert spread == {"std": np.std(per_seed, ddof=1), "min": min(per_seed), "max": max(per_seed)}
    assert set(level["spread"]) == {
        "errors",
        "metrics",
        "train_seconds",
        "cost_ratio_to_baseline",
        "symmetry_error_final",
    }
    assert data["findings"][0]["seed_holds"] == [True] * 3
    assert all("seed_holds" not in f for run in data["runs"] for f in run["findings"])
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "Seeds 0, 1, 2" in markdown and "sample standard deviation over the 3 seeds" in markdown
    assert " ± " in markdown and " – " in markdown  # mean ± std, and the range table


def test_screen_table_over_seeds_puts_the_std_below_each_mean(toy_seeds):
    lines = format_screen_table(toy_seeds, width=60).splitlines()
    assert lines[2].split()[:2] == ["0", "none"] and lines[3].split()[0].startswith("±")
    assert lines[4].split()[:2] == ["1a", "physics"] and lines[5].split()[0].startswith("±")
    assert "the mean over 3 seeds" in " ".join(lines[6:])
    assert max(len(line) for line in lines) <= 60


@pytest.mark.slow
def test_triangle_quick_over_five_seeds_states_every_finding_with_its_spread(tmp_path):
    # Levels 0, 3 and 4 keep this under a minute; they carry the quick findings that
    # need no augmented or penalised level.
    screen = io.StringIO()
    argv = ["run", "triangle", "--quick", "--seeds", "5", "--levels", "0,3,4", "--out", str(tmp_path)]
    with contextlib.redirect_stdout(screen):
        assert main([*argv, "--no-progress"]) == 0
    assert max(len(line) for line in screen.getvalue().splitlines()) <= 100
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert data["seeds"] == [0, 1, 2, 3, 4]
    measured = [f for f in data["findings"] if f["holds"] is not None]
    assert len(measured) >= 8
    for finding in measured:
        assert " ± " in finding["detail"], finding
        assert len(finding["seed_holds"]) == 5
    assert_quick_findings_hold({"findings": measured})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_TIMINGS = {"train_seconds", "cost_ratio_to_baseline", "total_seconds", "command", "files"}


def _without_timings(value):
    """results.json without what depends on the clock (times, and the findings' texts that quote them)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in _TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_torchrun_on_two_ranks_writes_the_serial_runs_numbers(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    args = [
        "run",
        "spring",
        "--quick",
        "--levels",
        "0,3,4b",
        "--seeds",
        "2",
        "--epochs",
        "20",
        "--no-progress",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--out", str(tmp_path / "serial")]) == 0
    # This checkout's zoo/ folder under its installed name, first on the path.
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "symnn_zoo").symlink_to(REPO / "zoo", target_is_directory=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "path"), str(REPO)]),
        "MASTER_ADDR": "127.0.0.1",
    }
    command = [
        torchrun,
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "symnn_zoo",
        *args,
        "--out",
        str(tmp_path / "ranks"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    # Rank 0 alone prints (and writes); the count of files follows the problem's figures.
    assert len(re.findall(r"wrote \d+ files", done.stdout)) == 1, "rank 0 alone prints"
    assert "2 ranks" in done.stdout
    serial, ranks = (
        json.loads((tmp_path / name / "results.json").read_text(encoding="utf-8"))
        for name in ("serial", "ranks")
    )
    assert serial["files"] == ranks["files"]
    assert sorted(p.name for p in (tmp_path / "ranks").iterdir()) == sorted(serial["files"])
    assert _without_timings(ranks) == _without_timings(serial)
    assert [run["levels"][0]["history"]["loss"] for run in ranks["runs"]] == [
        run["levels"][0]["history"]["loss"] for run in serial["runs"]
    ]
