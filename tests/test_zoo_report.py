"""The report: the tables, strict JSON, the Markdown file, the figures, and the folder a run owns."""

import json

import numpy as np
import pytest
from _zoo_quick import PNG_SIGNATURE, run_toy

from symnn_zoo._report import (
    SUMMARY_FIGURE,
    format_findings,
    format_screen_table,
    format_table,
    results_json,
    summary_figure,
    write_report,
)

EXPECTED_FILES = [
    "results.json",
    "results.md",
    SUMMARY_FIGURE,
    "pred_vs_true_level_0.png",
    "pred_vs_true_level_1a.png",
    "training_cost.png",
    "symmetry_error.png",
    "training_loss.png",
    "alignment.png",
]


@pytest.fixture(scope="module")
def toy_run():
    return run_toy(seed=0)


def test_table_has_a_row_per_level_and_escapes_pipes(toy_run):
    lines = format_table(toy_run).splitlines()
    assert len(lines) == 2 + len(toy_run.levels)
    assert [cell.strip() for cell in lines[0].split(" | ")[:3]] == ["| level", "bias", "model / training"]
    assert "nan \\| set" in lines[0] and "plain \\| linear" in lines[2]
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines)
    assert "1.00×" in lines[2] and "0.00%" in lines[3]  # level 1a's closed form is exact


def test_screen_table_is_compact_with_a_legend_for_its_short_headers(toy_run):
    text = format_screen_table(toy_run, width=60)
    lines = text.splitlines()
    assert lines[0].split() == ["level", "bias", "e1", "e2", "check", "time", "×0"]
    assert lines[2].split()[:2] == ["0", "none"] and "plain" not in text  # titles: results.md only
    legend = " ".join(lines[2 + len(toy_run.levels) :])
    assert "e1: train; e2: nan | set; check: symmetry error, a constant" in legend
    assert legend.endswith("the full table is in results.md.")
    assert max(len(line) for line in lines) <= 60


def test_findings_mark_holds_fails_and_unmeasured(toy_run):
    text = format_findings(toy_run)
    assert "✓ the closed form is exact" in text
    assert "– needs a level that does not exist (needs levels 9)" in text
    wrapped = format_findings(toy_run, width=30)
    assert max(len(line) for line in wrapped.splitlines()) <= 30
    assert " ".join(wrapped.split()) == " ".join(text.split())


def test_a_failed_full_setting_claim_is_not_a_cross_in_quick_mode(toy_run):
    # Regression: the README's main job (a quick run) printed ✗ for claims that only the
    # full setting can show, and read as a failure.
    text = format_findings(toy_run)
    assert "○ a claim only the full setting shows [full setting only" in text
    assert "✗" not in text


def test_results_json_is_strict_json_with_nan_as_null(toy_run):
    data = results_json(toy_run, ["symnn-zoo", "run", "toy"])
    text = json.dumps(data, allow_nan=False)  # raises on NaN or inf
    loaded = json.loads(text)
    assert loaded["levels"][0]["errors"]["nan | set"] is None
    assert loaded["command"] == ["symnn-zoo", "run", "toy"] and loaded["seed"] == 0
    assert loaded["settings"] == {"epochs": 5, "lr": 1e-2, "final_lr": 1e-3, "n_checkpoints": 2}
    assert loaded["columns"] == [
        {"name": "train", "test_set": "train", "in_distribution": True, "kind": "base"},
        {"name": "nan | set", "test_set": None, "in_distribution": None, "kind": None},
    ]


def test_write_report_writes_and_lists_json_markdown_and_figures_summary_first(toy_run, tmp_path):
    out = tmp_path / "nested" / "folder"
    written = write_report(toy_run, out, ["symnn-zoo", "run", "toy"])
    assert [p.name for p in written] == EXPECTED_FILES
    assert sorted(p.name for p in out.iterdir())[0] == SUMMARY_FIGURE
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["files"] == EXPECTED_FILES
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert markdown.startswith("# symnn zoo: toy") and "`symnn-zoo run toy`" in markdown
    assert format_table(toy_run) in markdown
    images = [line for line in markdown.splitlines() if line.startswith("![")]
    assert [line.rsplit("(", 1)[1].rstrip(")") for line in images] == [
        n for n in EXPECTED_FILES if n.endswith(".png")
    ]


def test_a_run_removes_what_the_previous_run_listed_and_nothing_else(toy_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "outside.png").write_text("not the run's")
    (out / "notes.txt").write_text("the user's")
    (out / "stale_figure.png").write_text("an earlier run's")
    (out / "sub").mkdir()
    listed = ["stale_figure.png", "../outside.png", "notes.txt/..", "sub", "results.json"]
    (out / "results.json").write_text(json.dumps({"files": listed}))
    write_report(toy_run, out)
    assert not (out / "stale_figure.png").exists()
    assert (tmp_path / "outside.png").exists() and (out / "notes.txt").exists() and (out / "sub").is_dir()
    assert sorted(p.name for p in out.iterdir()) == sorted([*EXPECTED_FILES, "notes.txt", "sub"])


@pytest.mark.parametrize("previous", ["{not json", '["a list"]', '{"files": "results.md"}'])
def test_an_unreadable_previous_results_json_removes_nothing(toy_run, tmp_path, previous):
    (tmp_path / "results.md").write_text("kept until overwritten")
    (tmp_path / "results.json").write_text(previous)
    (tmp_path / "r.png").write_text("kept")
    write_report(toy_run, tmp_path)
    assert (tmp_path / "r.png").read_text() == "kept"


def test_a_rerun_with_fewer_levels_leaves_no_stale_figure(tmp_path):
    full = run_toy(seed=0)
    write_report(full, tmp_path)
    fewer = run_toy(seed=0)
    fewer.levels = fewer.levels[:1]
    write_report(fewer, tmp_path)
    assert not (tmp_path / "pred_vs_true_level_1a.png").exists()
    listed = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["files"]
    assert sorted(listed) == sorted(p.name for p in tmp_path.iterdir())


def test_summary_figure_draws_a_results_json_without_columns_and_with_exact_zeros(tmp_path):
    # An older results.json has no "columns": every error is drawn, grey.
    results = {
        "problem": "old",
        "levels": [
            {"key": "0", "bias": "none", "errors": {"a": 0.3, "b": 0.0}, "train_seconds": 1.0},
            {"key": "3", "bias": "inductive", "errors": {"a": 1e-7, "b": None}, "train_seconds": 0.5},
        ],
    }
    path = summary_figure(results, tmp_path / "s.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_exact_zeros_get_one_line_each_in_a_band_below_every_nonzero_value():
    from symnn_zoo._report import _ExactZeros

    zeros = _ExactZeros([0.0, 3e-7, 0.5, 0.0], n_lines=3)
    assert zeros.top < 3e-7 and len(set(zeros.lines)) == 3
    assert all(zeros.bottom < line < zeros.top for line in zeros.lines)
    drawn = zeros.at(2, np.array([0.0, 0.1]))
    assert drawn.tolist() == [zeros.lines[2], 0.1] and zeros.used
