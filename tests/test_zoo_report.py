"""The report: the table, strict JSON, the Markdown file and the figures."""

import json

import pytest
from _zoo_quick import PNG_SIGNATURE, run_toy

from zoo._report import format_findings, format_table, results_json, write_report


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


def test_findings_mark_holds_fails_and_unmeasured(toy_run):
    text = format_findings(toy_run)
    assert "✓ the closed form is exact" in text
    assert "– needs a level that does not exist (needs levels 9)" in text


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


def test_write_report_writes_json_markdown_and_figures(toy_run, tmp_path):
    out = tmp_path / "nested" / "folder"
    written = write_report(toy_run, out, ["symnn-zoo", "run", "toy"])
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "results.json",
            "results.md",
            "pred_vs_true_level_0.png",
            "pred_vs_true_level_1a.png",
            "training_cost.png",
            "symmetry_error.png",
            "training_loss.png",
        ]
    )
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert markdown.startswith("# symnn zoo: toy") and "`symnn-zoo run toy`" in markdown
    assert format_table(toy_run) in markdown
