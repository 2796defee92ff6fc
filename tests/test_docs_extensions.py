"""docs/_ext/offline_math.py and viewcode_backlinks.py: the checks they run after a build."""

from __future__ import annotations

import importlib
import pathlib
import sys

import pytest

pytest.importorskip("sphinx")
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _extension(name: str):
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_remote_loads_finds_each_kind_of_remote_resource():
    offline = _extension("offline_math")
    page = """
    <script defer src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js"></script>
    <img alt="x" src="//example.org/a.png">
    <link rel="stylesheet" href="http://fonts.example.org/css">
    <style>@import "https://example.org/b.css"; body { background: url(https://example.org/c.png) }</style>
    """
    found = offline.remote_loads(page)
    assert found[:3] == [
        "https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js",
        "//example.org/a.png",
        "http://fonts.example.org/css",
    ]
    assert len(found) == 5


def test_remote_loads_accepts_local_resources_and_plain_links():
    offline = _extension("offline_math")
    page = """
    <script src="_static/mathjax/tex-chtml.js"></script><img src="../_images/a.png">
    <a href="https://www.sphinx-doc.org/">Sphinx</a>
    <link rel="next" href="https://example.org/next.html"><link rel="stylesheet" href="_static/a.css">
    """
    assert offline.remote_loads(page) == []


def test_check_output_names_the_page(tmp_path):
    offline = _extension("offline_math")
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "a.html").write_text('<script src="https://x.org/m.js"></script>')
    (tmp_path / "b.html").write_text('<script src="b.js"></script>')
    assert offline.check_output(tmp_path) == {"guides/a.html": ["https://x.org/m.js"]}


def test_the_mathjax_files_are_installed():
    offline = _extension("offline_math")
    assert (offline.mathjax_folder() / offline.BUNDLE).is_file()


def test_backlinks_point_at_the_anchor_that_exists(tmp_path):
    backlinks = _extension("viewcode_backlinks")
    (tmp_path / "api").mkdir()
    (tmp_path / "_modules").mkdir()
    (tmp_path / "api" / "layers.html").write_text('<dt id="symnn.Odd">Odd</dt><dt id="symnn.Even">Even</dt>')
    source = tmp_path / "_modules" / "_parity.html"
    link = '<div class="viewcode-block" id="{0}">\n<a class="viewcode-back" href="../api/layers.html#{1}">'
    source.write_text(link.format("Odd", "symnn.functional.Odd") + link.format("Even", "symnn.Even"))

    def ids_of(path):
        return set(backlinks._ID.findall(path.read_text())) if path.is_file() else set()

    text, unresolved = backlinks.fix_page(source, ids_of)
    assert unresolved == []
    assert "#symnn.Odd" in text and "symnn.functional.Odd" not in text and "#symnn.Even" in text
    source.write_text(link.format("Gone", "symnn.functional.Gone"))
    _, unresolved = backlinks.fix_page(source, ids_of)
    assert len(unresolved) == 1 and "Gone" in unresolved[0]
