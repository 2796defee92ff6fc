"""A small examples gallery: run each ``examples/*.py`` and give it a page.

Before sphinx reads the sources, every example script is executed in a fresh
Python process with matplotlib's Agg backend.  Its standard output and every
figure it leaves open are saved under ``docs/auto_examples/`` (git-ignored), and a
page is written per example: the script's docstring, its figures, its output and
its source.  An example that fails, or writes to stderr, is a build warning, so
``sphinx-build -W`` fails with it.

Results are cached: an example is re-run only when its source, the package's
source or this file changed (the key is a hash of all three), which keeps a
rebuild after a docs-only edit to a second or two.
"""

from __future__ import annotations

import ast
import concurrent.futures
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Executed in the child process: argv = [script, image folder, stem].
_RUNNER = """
import pathlib, runpy, sys
import matplotlib
matplotlib.use("Agg")
import torch
torch.set_num_threads(1)   # examples run side by side; tiny models lose time to thread contention
import matplotlib.pyplot as plt
plt.show = lambda *args, **kwargs: None   # figures are saved below instead
script, images, stem = sys.argv[1:4]
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
for i, number in enumerate(plt.get_fignums()):
    plt.figure(number).savefig(pathlib.Path(images) / f"{stem}_{i}.png", dpi=100)
"""

_CACHE_FORMAT = 1


def _package_digest(root: pathlib.Path, package: str) -> str:
    digest = hashlib.sha256()
    for path in sorted((root / package).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _title_and_body(source: str, stem: str) -> tuple[str, str]:
    doc = ast.get_docstring(ast.parse(source)) or ""
    first, _, rest = doc.partition("\n")
    title = first.strip().rstrip(".") or stem
    return title, rest.strip()


def _docstring_end_line(source: str) -> int:
    """The last line of the module docstring (1-based), 0 when there is none."""
    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return body[0].end_lineno or 0
    return 0


def _run(script: pathlib.Path, images: pathlib.Path, stem: str, cwd: pathlib.Path, timeout: float) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(script), str(images), stem],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as timed_out:
        returncode, stdout, stderr = -1, timed_out.stdout or "", f"timed out after {timeout:g} s"
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
    return {
        "returncode": returncode,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": time.perf_counter() - start,
    }


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.rstrip().splitlines())


def _page(stem: str, source: str, result: dict, figures: list[str], examples_rel: str) -> str:
    title, body = _title_and_body(source, stem)
    lines = [f".. _example-{stem}:", "", title, "=" * len(title), ""]
    if body:
        lines += [body, ""]
    for figure in figures:
        lines += [f".. figure:: images/{figure}", "   :width: 100%", f"   :alt: figure of {stem}", ""]
    lines += ["Output", "------", ""]
    output = result["stdout"].rstrip() or "(no output)"
    lines += [".. code-block:: none", "", _indent(output), ""]
    lines += ["Source", "------", ""]
    lines += [f":download:`Download {stem}.py <{examples_rel}/{stem}.py>`", ""]
    lines += [f".. literalinclude:: {examples_rel}/{stem}.py", "   :language: python"]
    skip = _docstring_end_line(source)
    if skip:
        lines += [f"   :lines: {skip + 1}-"]
    lines.append("")
    return "\n".join(lines)


def _index(entries: list[tuple[str, str, list[str]]], header: str) -> str:
    lines = [".. _gallery:", "", "Examples gallery", "================", "", header, ""]
    lines += [".. toctree::", "   :hidden:", ""] + [f"   {stem}" for stem, _, _ in entries] + [""]
    for stem, title, figures in entries:
        lines += [f":doc:`{title} <{stem}>`", "", f"   ``python examples/{stem}.py``", ""]
        if figures:
            lines += [
                f".. image:: images/{figures[0]}",
                "   :width: 45%",
                f"   :alt: {title}",
                f"   :target: {stem}.html",
                "",
            ]
    return "\n".join(lines)


def _write_if_changed(path: pathlib.Path, text: str) -> None:
    # Unchanged pages keep their mtime, so sphinx does not re-read them.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def build_gallery(app: Sphinx) -> None:
    srcdir = pathlib.Path(app.srcdir)
    examples = (srcdir / app.config.gallery_examples_dir).resolve()
    out = srcdir / app.config.gallery_output_dir
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    root = examples.parent
    package_digest = _package_digest(root, app.config.gallery_package)
    scripts = sorted(examples.glob("*.py"), key=lambda p: _order_key(p, app.config.gallery_order))

    def key_of(script: pathlib.Path) -> str:
        digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{_RUNNER}\n{package_digest}\n".encode())
        digest.update(script.read_bytes())
        digest.update(pathlib.Path(__file__).read_bytes())
        return digest.hexdigest()

    def run_or_reuse(script: pathlib.Path) -> dict:
        stem = script.stem
        cache = out / f"{stem}.json"
        key = key_of(script)
        if cache.exists():
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("key") == key and cached["returncode"] == 0 and not cached["stderr"]:
                logger.info(f"gallery: {stem} unchanged, reusing its output")
                return cached
        for old in images.glob(f"{stem}_*.png"):
            old.unlink()
        logger.info(f"gallery: running {script.name}")
        result = _run(script, images, stem, root, app.config.gallery_timeout)
        result["key"] = key
        logger.info(f"gallery: {script.name} ran in {result['seconds']:.1f} s")
        cache.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return result

    jobs = max(1, int(app.config.gallery_jobs))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run_or_reuse, scripts))

    examples_rel = os.path.relpath(examples, out).replace(os.sep, "/")
    entries = []
    for script, result in zip(scripts, results):
        stem = script.stem
        if result["returncode"] != 0:
            logger.warning(
                f"gallery: {script.name} failed (exit {result['returncode']}):\n{result['stderr'][-3000:]}",
                location=str(script),
            )
        elif result["stderr"].strip():
            logger.warning(
                f"gallery: {script.name} wrote to stderr:\n{result['stderr'][-3000:]}", location=str(script)
            )
        figures = sorted(p.name for p in images.glob(f"{stem}_*.png"))
        source = script.read_text(encoding="utf-8")
        _write_if_changed(out / f"{stem}.rst", _page(stem, source, result, figures, examples_rel))
        entries.append((stem, _title_and_body(source, stem)[0], figures))

    # Pages and outputs of examples that no longer exist.
    stems = {script.stem for script in scripts}
    for path in out.iterdir():
        if path.is_file() and path.suffix in {".rst", ".json"} and path.stem not in stems | {"index"}:
            path.unlink()
    for path in images.glob("*.png"):
        if path.stem.rsplit("_", 1)[0] not in stems:
            path.unlink()
    _write_if_changed(out / "index.rst", _index(entries, app.config.gallery_header))


def _order_key(path: pathlib.Path, order: list[str]) -> tuple[int, str]:
    return (order.index(path.stem) if path.stem in order else len(order), path.stem)


def setup(app: Sphinx) -> dict:
    app.add_config_value("gallery_examples_dir", "../examples", "env")
    app.add_config_value("gallery_output_dir", "auto_examples", "env")
    app.add_config_value("gallery_package", "symnn", "env")
    app.add_config_value("gallery_order", [], "env")
    app.add_config_value("gallery_header", "", "env")
    app.add_config_value("gallery_timeout", 300, "env")
    app.add_config_value("gallery_jobs", 2, "env")
    app.connect("builder-inited", build_gallery)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
