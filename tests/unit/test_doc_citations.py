"""Every document the repository cites is in the repository, and every section of
docs/clinical.md or docs/architecture.md that code or docs cite exists there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = ("service", "schedules", "tests", "bench", "docs", "deploy")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".html", ".cfg"}
# A path to a Markdown file, as code and docs name them.
_CITED_FILE = re.compile(r"(?<![\w/.-])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")
_CITED_SECTION = re.compile(r"(docs/(?:clinical|architecture)\.md),?\s+\"([^\"]+)\"")
_COMMENT_BREAK = re.compile(r"\s*\n\s*(?:#\s*)?")


def _texts() -> list[tuple[Path, str]]:
    files = [ROOT / "README.md", *(ROOT / name for name in ("BENCHMARKS.md", "SECURITY.md"))]
    for top in SEARCHED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return [(p, _COMMENT_BREAK.sub(" ", p.read_text(encoding="utf-8"))) for p in files]


def _exists(source: Path, cited: str) -> bool:
    """Cited from the file's folder or any folder above it, up to the root."""
    folders = [p for p in source.parents if p == ROOT or ROOT in p.parents]
    return any((folder / cited).resolve().is_file() for folder in folders)


def _headings(doc: str) -> list[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def test_every_cited_markdown_file_is_in_the_repository() -> None:
    missing = [
        f"{source.relative_to(ROOT)} cites {cited}"
        for source, text in _texts()
        for cited in _CITED_FILE.findall(text)
        if not _exists(source, cited)
    ]
    assert missing == []


def test_every_cited_section_exists() -> None:
    headings = {doc: _headings(doc) for doc in ("docs/clinical.md", "docs/architecture.md")}
    missing = [
        f"{source.relative_to(ROOT)} cites {doc} {section!r}"
        for source, text in _texts()
        for doc, section in _CITED_SECTION.findall(text)
        if not any(h.startswith(section) for h in headings[doc])
    ]
    assert missing == []


def test_the_checks_see_citations() -> None:
    cited = [c for _, text in _texts() for c in _CITED_SECTION.findall(text)]
    assert ("docs/clinical.md", "Taper planner") in cited
