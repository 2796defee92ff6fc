"""The docs' ``zoo-results`` directive shows exactly the files a run lists in its results.json."""

from __future__ import annotations

import importlib
import json
import pathlib
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def zoo_results():
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module("zoo_results")
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_listed_files_reads_the_runs_list(zoo_results, tmp_path):
    assert zoo_results.listed_files(tmp_path) is None  # no results.json
    (tmp_path / "results.json").write_text(json.dumps({"problem": "old"}))
    assert zoo_results.listed_files(tmp_path) is None  # written before the list existed
    (tmp_path / "results.json").write_text(json.dumps({"files": ["results.md", "a.png", 3]}))
    assert zoo_results.listed_files(tmp_path) == ["results.md", "a.png"]
    (tmp_path / "results.json").write_text("{broken")
    assert zoo_results.listed_files(tmp_path) is None


def test_markdown_images_not_listed_are_left_out(zoo_results):
    from docutils import nodes

    text = "# run\n\n![kept](a.png)\n\n![stale](b.png)\n"
    shown = zoo_results.markdown_to_nodes(text, "zoo/", shown=["a.png"])
    assert [image["uri"] for image in shown[1].findall(nodes.image)] == ["zoo/a.png"]
    assert len(zoo_results.markdown_to_nodes(text)) == 3  # no list: every image


def test_the_page_shows_only_the_files_results_json_lists(tmp_path):
    pytest.importorskip("sphinx")
    from sphinx.application import Sphinx

    source = tmp_path / "src"
    run = source / "run"
    run.mkdir(parents=True)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\nextensions = ['zoo_results']\n"
        "exclude_patterns = ['run/results.md']\n"
    )
    (source / "index.rst").write_text("Zoo\n===\n\n.. zoo-results:: run\n\n   pending\n")
    png = (DOCS / "zoo" / "spring" / "force_curves.png").read_bytes()
    for name in ("0_summary.png", "listed_not_in_markdown.png", "stale.png"):
        (run / name).write_bytes(png)
    (run / "results.md").write_text(
        "# symnn zoo: run\n\n| level |\n| --- |\n| 0 |\n\n![summary](0_summary.png)\n"
    )
    files = ["results.json", "results.md", "0_summary.png", "listed_not_in_markdown.png"]
    (run / "results.json").write_text(json.dumps({"files": files}))
    app = Sphinx(
        str(source),
        str(source),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warning=None,
    )
    app.build()
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "0_summary.png" in html and "listed_not_in_markdown.png" in html
    assert "stale.png" not in html
    assert html.index("0_summary.png") < html.index("listed_not_in_markdown.png")
