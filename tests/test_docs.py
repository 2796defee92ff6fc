"""The documentation: every public name documented, guide snippets true, examples running.

The sphinx build itself (``python -m sphinx -W ...``) runs in ``.ci/run``; these
tests check what the build cannot: that nothing public was left out of the API
pages, that each claim a guide makes in a ``>>>`` snippet holds, and that every
script in ``examples/`` runs and draws its figure.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import io
import pathlib
import pkgutil
import re
import runpy
import sys
import types

import pytest
import torch

import symnn

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_PAGES = sorted((DOCS / "api").glob("*.rst"))
GUIDES = [*sorted((DOCS / "guides").glob("*.rst")), DOCS / "index.rst"]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

_DIRECTIVE = re.compile(r"^\s*\.\.\s+(auto\w+|currentmodule|module)::\s+(\S+)", re.MULTILINE)


# --------------------------------------------------------------------------- public names


def _public_modules() -> list[types.ModuleType]:
    """symnn and every submodule whose dotted name has no part starting with ``_``."""
    modules = [symnn]
    for info in pkgutil.walk_packages(symnn.__path__, "symnn."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def public_names() -> dict[str, object]:
    """Every public name, ``"symnn.functional.odd_part"`` -> the object, and each public module."""
    names: dict[str, object] = {}
    for module in _public_modules():
        names[module.__name__] = module
        for name in getattr(module, "__all__", []):
            if not name.startswith("__"):
                names[f"{module.__name__}.{name}"] = getattr(module, name)
    return names


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(dotted)


def documented_targets() -> dict[str, object]:
    """Each autodoc directive's target in ``docs/api/*.rst``, fully qualified -> its object."""
    targets: dict[str, object] = {}
    for page in API_PAGES:
        current = ""
        for kind, argument in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            name = argument.split("(")[0]
            if kind in {"currentmodule", "module"}:
                current = name
                continue
            qualified = name if name.startswith("symnn") else f"{current}.{name}"
            targets[qualified] = _resolve(qualified)
    return targets


def test_every_public_module_declares_all():
    missing = [m.__name__ for m in _public_modules() if not hasattr(m, "__all__")]
    assert not missing, f"public modules without __all__ (so their public names are unknown): {missing}"


def test_every_public_name_is_documented():
    targets = documented_targets()
    ids = {id(obj) for obj in targets.values() if not isinstance(obj, types.ModuleType)}
    missing = []
    for name, obj in public_names().items():
        if name in targets:
            continue
        if not isinstance(obj, (types.ModuleType, str, int, float, bool)) and id(obj) in ids:
            continue  # the same object, documented under another public path
        missing.append(name)
    assert not missing, (
        "public names with no autodoc directive in docs/api/*.rst "
        f"(add `.. autoclass::`, `.. autofunction::` or `.. automodule::` for each): {missing}"
    )


def test_every_public_name_has_a_docstring():
    empty = [
        name
        for name, obj in public_names().items()
        if not isinstance(obj, (str, int, float, bool)) and not (getattr(obj, "__doc__", None) or "").strip()
    ]
    assert not empty, f"public names without a docstring: {empty}"


def test_documented_targets_are_public():
    """An API page must not document a private helper under a public-looking name."""
    public = public_names()
    public_ids = {id(obj) for obj in public.values()}
    private = [
        name for name, obj in documented_targets().items() if name not in public and id(obj) not in public_ids
    ]
    assert not private, f"documented but not public (not in any __all__): {private}"


def test_the_documentation_check_catches_a_new_undocumented_name(monkeypatch):
    monkeypatch.setattr(symnn, "brand_new_layer", lambda x: x, raising=False)
    monkeypatch.setattr(symnn, "__all__", [*symnn.__all__, "brand_new_layer"])
    with pytest.raises(AssertionError, match="brand_new_layer"):
        test_every_public_name_is_documented()


# --------------------------------------------------------------------------- guides

_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("page", GUIDES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_guide_snippets_hold(page):
    text = page.read_text(encoding="utf-8")
    torch.manual_seed(0)
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__docs__"}, page.name, str(page), 0)
    if page.parent.name == "guides":
        assert test.examples, f"{page.name} has no >>> snippets: each guide's claims should be checked"
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    report: list[str] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the snippets train small models: threads cost more than they save
    try:
        runner.run(test, out=report.append, clear_globs=True)
    finally:
        torch.set_num_threads(threads)
    assert runner.failures == 0, "".join(report)


# --------------------------------------------------------------------------- examples


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_draws(script, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    monkeypatch.setattr(sys, "argv", [str(script)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: threads cost more than they save
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    figures = plt.get_fignums()
    plt.close("all")
    assert output.getvalue().strip(), f"{script.name} printed nothing"
    assert figures, f"{script.name} drew no figure for the gallery"


def test_each_example_opens_with_a_docstring_the_gallery_can_use():
    for script in EXAMPLES:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
        assert doc, f"{script.name} has no module docstring (the gallery page's title and text)"
        assert f"python examples/{script.name}" in doc, f"{script.name}'s docstring should say how to run it"


# --------------------------------------------------------------------------- our sphinx extensions


def _load_extension(name: str):
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_zoo_results_markdown_tables_become_tables():
    pytest.importorskip("sphinx")
    zoo_results = _load_extension("zoo_results")
    from docutils import nodes

    text = "# triangle\n\nSome `code` here.\n\n| level | ID |\n| --- | ---: |\n| 0 | 3.1e-02 |\n| 3 | 2.3e-02 |\n"
    out = zoo_results.markdown_to_nodes(text)
    assert [type(n) for n in out] == [nodes.rubric, nodes.paragraph, nodes.table]
    rows = [[entry.astext() for entry in row.children] for row in out[2].findall(nodes.row)]
    assert rows == [["level", "ID"], ["0", "3.1e-02"], ["3", "2.3e-02"]]
    assert out[1].children[1].astext() == "code" and isinstance(out[1].children[1], nodes.literal)
