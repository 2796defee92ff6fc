"""Correct the "[docs]" back-links of ``sphinx.ext.viewcode`` source pages.

viewcode remembers one documented module per source module: ``symnn/_parity.py``
holds both ``odd_part`` (documented as ``symnn.functional.odd_part``) and ``Odd``
(documented as ``symnn.Odd``), and every back-link of that source page is built
with the first module name it met, so ``Odd``'s link pointed at a
``#symnn.functional.Odd`` anchor that no page has.

After the build, each back-link whose anchor is missing from its target page is
pointed at the one anchor of that page that documents the same object (the same
name after the last module part); a back-link with no such anchor, or with several,
is a warning, so ``sphinx-build -W`` fails on it rather than shipping a dead link.
"""

from __future__ import annotations

import pathlib
import re

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

_BACK = re.compile(
    r'(<div class="viewcode-block" id="([^"]+)">\s*<a class="viewcode-back" href=")([^"#]*)#([^"]*)(")'
)
_ID = re.compile(r'\bid="([^"]+)"')


def fix_page(page: pathlib.Path, ids_of) -> tuple[str, list[str]]:
    """The page's text with its back-links corrected, and the links that could not be."""
    unresolved: list[str] = []

    def repair(match: re.Match) -> str:
        head, name, target, anchor, tail = match.groups()
        ids = ids_of((page.parent / target).resolve())
        if anchor in ids:
            return match.group(0)
        candidates = sorted(i for i in ids if i.startswith("symnn") and i.endswith("." + name))
        if len(candidates) != 1:
            unresolved.append(f"{name} -> {target}#{anchor} (candidates: {candidates or 'none'})")
            return match.group(0)
        return f"{head}{target}#{candidates[0]}{tail}"

    return _BACK.sub(repair, page.read_text(encoding="utf-8")), unresolved


def _finish(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = pathlib.Path(app.outdir)
    cache: dict[pathlib.Path, set[str]] = {}

    def ids_of(path: pathlib.Path) -> set[str]:
        if path not in cache:
            cache[path] = set(_ID.findall(path.read_text(encoding="utf-8"))) if path.is_file() else set()
        return cache[path]

    for page in sorted((outdir / "_modules").rglob("*.html")):
        text, unresolved = fix_page(page, ids_of)
        if text != page.read_text(encoding="utf-8"):
            page.write_text(text, encoding="utf-8")
        for link in unresolved:
            logger.warning(f"{page.relative_to(outdir)}: a [docs] back-link leads nowhere: {link}")


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.viewcode")
    app.connect("build-finished", _finish)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
