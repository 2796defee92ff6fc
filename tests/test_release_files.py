"""The release files agree with the package: CITATION.cff, CHANGELOG.md, the version."""

from __future__ import annotations

import pathlib
import re

import symnn

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", text, re.MULTILINE)
    assert match, f"CITATION.cff has no {name!r} field"
    return match.group(1).strip().strip("\"'")


def test_citation_names_this_version():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert _field(cff, "cff-version") == "1.2.0"
    assert _field(cff, "version") == symnn.__version__, (
        "CITATION.cff's version differs from symnn.__version__"
    )
    for name in ("message", "title", "authors", "license", "date-released"):
        assert re.search(rf"^{name}:", cff, re.MULTILINE), f"CITATION.cff has no {name!r}"


def _releases(changelog: str) -> list[str]:
    """The section titles of CHANGELOG.md: setext headings underlined with '-'."""
    lines = changelog.splitlines()
    return [
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
    ]


def test_changelog_has_unreleased_and_the_current_version_with_the_citation_date():
    releases = _releases((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert releases[0] == "Unreleased", f"the newest section should be 'Unreleased'; got {releases[:1]}"
    current = [r for r in releases if r.split(" ")[0] == symnn.__version__]
    assert current, f"CHANGELOG.md has no section for version {symnn.__version__}: {releases}"
    date = _field((ROOT / "CITATION.cff").read_text(encoding="utf-8"), "date-released")
    assert current[0].endswith(date), f"{current[0]!r} and CITATION.cff's date-released {date} differ"


def test_changelog_parses_in_both_markdown_and_rest():
    """docs/changelog.rst includes CHANGELOG.md as reST: keep to their common subset."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert not re.search(r"^#", text, re.MULTILINE), "use underlined headings, not '#': reST has no '#'"
    assert not re.search(r"^(~~~|```)", text, re.MULTILINE), (
        "no fences: a '~~~' heading would be a code block"
    )
    assert not re.search(r"\]\(", text), "no Markdown links: reST would show them as text"
    assert not re.search(r"(?<!`)`[^`\n]+`(?!`)", text), "inline code in ``double`` backticks (reST's form)"
