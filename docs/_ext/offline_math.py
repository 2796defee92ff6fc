"""Maths rendered from local files, and a check that no page loads anything remote.

Sphinx's ``mathjax`` extension loads MathJax from a CDN by default, so without a
network every formula shows as TeX source.  This extension serves MathJax 3 from
the ``sphinx-mathjax-offline`` package (in the ``docs`` extra; it ships MathJax's
files and nothing else): it points ``mathjax_path`` at ``_static/mathjax`` and
copies there the one bundle the pages load (``tex-chtml.js``) with the pieces it
fetches on demand (TeX extensions, the CHTML fonts, the menu and accessibility
modules), about 7 MB rather than the package's 24 MB.

After the build it scans every HTML page and every CSS file of the output for a
resource loaded from another host (``<script src>``, ``<img src>``, a stylesheet
or icon ``<link href>``, a CSS ``url()`` or ``@import``) and reports each as a
warning, so ``sphinx-build -W`` fails on it.  Plain links (``<a href>``) are fine:
they load nothing.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.fileutil import copy_asset

logger = logging.getLogger(__name__)

PACKAGE = "sphinx-mathjax-offline"
BUNDLE = "tex-chtml.js"
# What tex-chtml.js loads after itself: autoloaded TeX packages, fonts, menu, a11y.
PARTS = ["input/tex/extensions", "output/chtml", "ui", "a11y", "sre", "adaptors"]

_REMOTE = r"""(?:https?:)?//"""
_TAG = re.compile(r"<(script|img|link|iframe|source|video|audio|embed)\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\b(src|href|srcset)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_LINK_LOADS = re.compile(r"""\brel\s*=\s*["'][^"']*(stylesheet|icon|preload|modulepreload|manifest)""", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(""" + _REMOTE + r")", re.IGNORECASE)


def mathjax_folder() -> pathlib.Path:
    """The installed MathJax files, or a clear error naming the package to install."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"offline maths needs the {PACKAGE!r} package (MathJax's files): "
            'pip install -e ".[docs]" installs it'
        )
    folder = pathlib.Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (folder / BUNDLE).is_file():
        raise ExtensionError(f"{PACKAGE!r} is installed but has no {BUNDLE} under {folder}")
    return folder


def remote_loads(html: str) -> list[str]:
    """Each resource that ``html`` (a page or a stylesheet) would fetch from another host."""
    found = []
    for tag in _TAG.finditer(html):
        name = tag.group(1).lower()
        for attribute, value in _ATTRIBUTE.findall(tag.group(0)):
            if name == "link" and not _LINK_LOADS.search(tag.group(0)):
                continue  # <link rel="next" href=...>: navigation, loads nothing
            urls = (
                [part.strip().split(" ")[0] for part in value.split(",")]
                if attribute == "srcset"
                else [value]
            )
            found += [url for url in urls if re.match(_REMOTE, url.strip(), re.IGNORECASE)]
    found += [match.group(1) + "..." for match in _CSS_URL.finditer(html)]
    return found


def check_output(outdir: pathlib.Path) -> dict[str, list[str]]:
    """``{page: [remote resources]}`` for every HTML and CSS file under ``outdir`` that has one."""
    problems = {}
    for path in sorted([*outdir.rglob("*.html"), *outdir.rglob("*.css")]):
        remote = remote_loads(path.read_text(encoding="utf-8", errors="replace"))
        if remote:
            problems[path.relative_to(outdir).as_posix()] = remote
    return problems


def _configure(app: Sphinx, config) -> None:
    mathjax_folder()  # fail at once, before reading any page, if the files are missing
    config.mathjax_path = f"mathjax/{BUNDLE}"


def _finish(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = pathlib.Path(app.outdir)
    source = mathjax_folder()
    target = outdir / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    copy_asset(str(source / BUNDLE), str(target))
    for part in PARTS:
        copy_asset(str(source / part), str(target / part))
    for page, remote in check_output(outdir).items():
        logger.warning(f"{page} loads from another host (the docs must work offline): {', '.join(remote)}")


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _configure)
    app.connect("build-finished", _finish)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
