"""Every file the README and the docs name exists in the repository (a clone has nothing else),
and docs/programme-config.md names every setting the programme's configuration accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
PACKAGE = REPO / "src" / "openphm"
PAGES = [
    REPO / "README.md",
    REPO / "GLOSSARY.md",
    *sorted((REPO / "docs").glob("*.md")),
    PACKAGE / "programme" / "example_programme.toml",
]
# A repository path: under one of the repository's folders or one of the package's.
FOLDERS = {"src", "docs", "tests", "benchmarks", "shared"} | {
    p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")
}
PATH = re.compile(r"(?<![\w/.<>{$-])((?:[\w.-]+/)+[\w.-]+\.(?:md|py|toml))\b")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def named_files(text: str) -> set[str]:
    """The repository files a page names: relative link targets, every `*.md` path, and every
    `.py` or `.toml` path under a folder of the repository or the package. Paths under other
    names (another project's source, a workspace's files, placeholders such as DIR/) are not
    the repository's."""
    links = {t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")}
    paths = {p for p in PATH.findall(text) if p.endswith(".md") or p.split("/")[0] in FOLDERS}
    return links | paths


def _exists(name: str, page: Path) -> bool:
    return any((base / name).exists() for base in (REPO, page.parent, PACKAGE))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_a_page_names_exists_in_the_repository(page):
    missing = sorted(n for n in named_files(page.read_text()) if not _exists(n, page))
    assert missing == []


def test_the_scan_finds_links_module_paths_and_pages_but_not_other_projects_files():
    text = (
        "See [the design](../shared/DESIGN.md), `landing/retention.py`, docs/spark.md, "
        "acro/record.py, WORKSPACE/programme.toml and https://example.org/a.md."
    )
    assert named_files(text) == {"../shared/DESIGN.md", "landing/retention.py", "docs/spark.md"}
    assert not _exists("shared/DESIGN.md", REPO / "README.md")


def _settings(model, prefix: str = "") -> list[str]:
    import typing

    from pydantic import BaseModel

    names = []
    for name, field in model.model_fields.items():
        names.append(prefix + name)
        for kind in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names += _settings(kind, f"{prefix}{name}.")
    return names


def test_programme_config_page_names_every_setting():
    from openphm.programme.config import ProgrammeConfig

    page = (REPO / "docs" / "programme-config.md").read_text()
    sections = {"programme", "sources", "recipients", "objections", "disclosure", "engine",
                "indicators", "cohorts", "sensitive", "programme.processor"}  # fmt: skip
    settings = [s for s in _settings(ProgrammeConfig) if s not in sections]
    assert len(settings) > 30
    assert [s for s in settings if f"`{s}`" not in page] == []
