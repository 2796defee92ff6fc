"""Sphinx configuration for symnn's documentation.

Build:  python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's symnn, even when not installed

import symnn  # noqa: E402

project = "symnn"
author = "the symnn authors"
copyright = "the symnn authors, MIT licence"
version = release = symnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "offline_math",  # sphinx.ext.mathjax with MathJax served from _static, no CDN
    "viewcode_backlinks",  # sphinx.ext.viewcode with its [docs] links corrected
    "sphinx.ext.intersphinx",
    "gallery",
    "zoo_results",
]

exclude_patterns = ["_build", "**/README.md", "zoo/*/results.md", "auto_examples/*.json"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_css_files = ["symnn.css"]
html_theme = "alabaster"
html_title = f"symnn {release}"
html_theme_options = {
    "description": "Symmetries and physics built into PyTorch networks",
    "fixed_sidebar": True,
    "page_width": "1240px",  # fits a 1280 px screen with its scroll bar
    "show_relbars": True,  # previous / next links above and below each page
    "sidebar_width": "230px",
    "body_max_width": "none",  # the theme's 800 px would leave a third of the page empty
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
pygments_style = "sphinx"

# autodoc: the order of the source, no private names, types from the hints.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# napoleon: numpy docstrings; "Shapes", "Methods to give" and "Call" are symnn's own sections.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_custom_sections = ["Shapes", "Methods to give", "Call"]

# intersphinx: offline by default (the docs must build without a network).  Set
# SYMNN_DOCS_INTERSPHINX=1 to link Python, PyTorch and NumPy names to their docs.
intersphinx_mapping = {}
if os.environ.get("SYMNN_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "numpy": ("https://numpy.org/doc/stable", None),
    }

# The examples gallery (docs/_ext/gallery.py): each examples/*.py runs once per change.
gallery_examples_dir = "../examples"
gallery_output_dir = "auto_examples"
gallery_order = [
    "wrap_your_model",
    "train_wrapped_model",
    "triangle_ladder",
    "spring_oddness",
    "rotation_head",
    "laplace_pinn",
    "derive_heron",
]
gallery_header = (
    "Short scripts to copy from, each run on a CPU when these pages were built. "
    "Each uses only symnn's public API; run one with ``python examples/NAME.py`` "
    "(it opens its figure in a window, or does nothing with it on a machine without one)."
)
gallery_jobs = int(os.environ.get("SYMNN_DOCS_JOBS", "2"))
