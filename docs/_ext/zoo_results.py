"""The ``zoo-results`` directive: show a committed zoo run, or say that it is pending.

.. code-block:: rst

    .. zoo-results:: triangle

       Text shown while no results are committed.

reads ``<folder>/results.md`` (the report ``symnn-zoo run`` writes), relative to
the current document, and renders its headings, paragraphs, lists, pipe tables and
images.  It shows only the files the run wrote, as ``<folder>/results.json`` lists
them (``"files"``): a figure an earlier run left in the folder is never shown, and a
listed figure the Markdown does not show is added at the end.  (A results.json from
before that list existed shows the Markdown's images only.)  Without ``results.md``
the directive's content is shown in a "results pending" note instead, so the page
never shows numbers that no run produced.  Only this small Markdown subset is
handled; anything else is shown as a plain paragraph.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _inline(text: str) -> list[nodes.Node]:
    """Plain text with Markdown `code` and **bold** as literal and strong nodes."""
    out: list[nodes.Node] = []
    for k, part in enumerate(_CODE.split(text)):
        if k % 2:
            out.append(nodes.literal(part, part))
            continue
        for j, piece in enumerate(_BOLD.split(part)):
            if piece:
                out.append(nodes.strong(piece, piece) if j % 2 else nodes.Text(piece))
    return out


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") else row
    return [cell.strip() for cell in row.split("|")]


def _table(rows: list[str]) -> nodes.table:
    header = _cells(rows[0])
    body = [_cells(r) for r in rows[1:] if not _TABLE_RULE.match(r)]
    width = max([len(header)] + [len(r) for r in body])
    table = nodes.table(classes=["zoo-table"])
    group = nodes.tgroup(cols=width)
    table += group
    for _ in range(width):
        group += nodes.colspec(colwidth=1)

    def row_node(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for cell in cells + [""] * (width - len(cells)):
            entry = nodes.entry()
            entry += nodes.paragraph("", "", *_inline(cell))
            row += entry
        return row

    head = nodes.thead()
    head += row_node(header)
    group += head
    tbody = nodes.tbody()
    for cells in body:
        tbody += row_node(cells)
    group += tbody
    return table


def _figure(uri: str, caption: str, width: str) -> nodes.figure:
    figure = nodes.figure()
    figure += nodes.image(uri=uri, alt=caption, width=width)
    figure += nodes.caption(caption, caption)
    return figure


def listed_files(folder: pathlib.Path) -> list[str] | None:
    """The files ``folder/results.json`` says its run wrote; None when it has no such list."""
    try:
        files = json.loads((folder / "results.json").read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else None


def markdown_to_nodes(
    text: str, image_prefix: str = "", width: str = "90%", shown: list[str] | None = None
) -> list[nodes.Node]:
    """A small Markdown subset (headings, paragraphs, lists, code, pipe tables, images) as nodes.

    An image on a line of its own, ``![caption](file.png)``, becomes a figure whose
    path is ``image_prefix + file.png``; with ``shown`` given, only the images it
    names are kept.
    """
    out: list[nodes.Node] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
        elif stripped.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            code = "\n".join(lines[i + 1 : j])
            out.append(nodes.literal_block(code, code))
            i = j + 1
        elif _IMAGE.match(stripped):
            caption, source = _IMAGE.match(stripped).groups()
            if shown is None or source in shown:
                out.append(_figure(image_prefix + source, caption.replace("_", " "), width))
            i += 1
        elif stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            out.append(nodes.rubric("", "", *_inline(title)))
            i += 1
        elif stripped.startswith("|"):
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            out.append(_table(lines[i:j]))
            i = j
        elif stripped[:2] in {"- ", "* "}:
            bullets = nodes.bullet_list()
            while i < len(lines) and lines[i].strip()[:2] in {"- ", "* "}:
                item = nodes.list_item()
                item += nodes.paragraph("", "", *_inline(lines[i].strip()[2:]))
                bullets += item
                i += 1
            out.append(bullets)
        else:
            j = i + 1
            while (
                j < len(lines)
                and lines[j].strip()
                and not lines[j].strip().startswith(("#", "|", "```", "!["))
            ):
                j += 1
            out.append(nodes.paragraph("", "", *_inline(" ".join(s.strip() for s in lines[i:j]))))
            i = j
    return out


class ZooResults(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec: ClassVar[dict] = {"figure-width": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        docdir = pathlib.Path(self.env.doc2path(self.env.docname)).parent
        folder = docdir / self.arguments[0]
        results = folder / "results.md"
        self.env.note_dependency(str(results))
        self.env.note_dependency(str(folder / "results.json"))
        if not results.exists():
            note = nodes.admonition(classes=["attention"])
            note += nodes.title("", "Results pending")
            self.state.nested_parse(self.content, self.content_offset, note)
            return [note]
        text = results.read_text(encoding="utf-8")
        width = self.options.get("figure-width", "90%")
        prefix = f"{self.arguments[0]}/"
        files = listed_files(folder)
        out = markdown_to_nodes(text, prefix, width, files)
        if re.search(r"\bquick mode\b", text):
            # A smoke-test run must not pass for the full setting's numbers.
            caution = nodes.caution()
            caution += nodes.paragraph(
                "",
                "",
                nodes.Text("These results come from a "),
                nodes.literal("--quick", "--quick"),
                nodes.Text(" run (a small setting for smoke tests), not from the full setting."),
            )
            out.insert(0, caution)
        # Figures the run wrote that the Markdown does not show are added at the end.
        for name in files or []:
            if name.endswith(".png") and f"({name})" not in text and (folder / name).is_file():
                self.env.note_dependency(str(folder / name))
                out.append(_figure(prefix + name, name.removesuffix(".png").replace("_", " "), width))
        return out


def setup(app: Sphinx) -> dict:
    app.add_directive("zoo-results", ZooResults)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
