"""Code lists as data: OpenCodelists-format CSV files (a `code` column, usually `term` too).

The lists shipped with OpenPHM live in `openphm.reference` (read through its loader); a
programme adds or overrides lists with a folder of CSV files, each named `<list>.csv`. A list in
the user's folder wins over a shipped list of the same name, so a programme can update a QOF
cluster without waiting for a release.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from openphm.console import UserFacingError


class CodelistError(UserFacingError):
    """A code list that cannot be read; the message names the file and what to do."""


@dataclass(frozen=True)
class Codelist:
    name: str
    codes: frozenset[str]

    def __post_init__(self):
        if not self.codes:
            raise CodelistError(f"code list {self.name!r} has no codes")


class Codelists:
    """Finds lists by name: the user's folder first, then the lists OpenPHM ships."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else None
        if self.folder is not None and not self.folder.is_dir():
            raise CodelistError(
                f"code list folder {self.folder} does not exist; name a folder of CSV files "
                "with a 'code' column, one file per list"
            )
        self._cache: dict[str, Codelist | None] = {}

    def get(self, name: str) -> Codelist | None:
        """The list called `name`, or None when neither the folder nor OpenPHM has it."""
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]

    def available(self, names: Iterable[str]) -> dict[str, Codelist]:
        return {name: cl for name in names if (cl := self.get(name)) is not None}

    def _load(self, name: str) -> Codelist | None:
        if self.folder is not None and (self.folder / f"{name}.csv").is_file():
            return read_codelist_csv(self.folder / f"{name}.csv", name)
        from openphm import reference

        try:
            frame = reference.codelist(name)
        except KeyError:
            return None
        return Codelist(name, _clean(frame, name))


def read_codelist_csv(path: Path, name: str | None = None) -> Codelist:
    """Read one OpenCodelists-format CSV (column `code`, or `dmd_id`/`snomedcode`/`id` as some
    OpenCodelists downloads name it)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CodelistError(f"{path} is not a readable CSV file ({type(err).__name__})") from None
    return Codelist(name or path.stem, _clean(frame, str(path)))


def _clean(frame: pd.DataFrame, where: str) -> frozenset[str]:
    # `id`: the column of OpenCodelists' dm+d downloads (the PINCER lists).
    column = next((c for c in ("code", "dmd_id", "snomedcode", "id") if c in frame.columns), None)
    if column is None:
        raise CodelistError(
            f"{where} has no 'code' column (columns: {', '.join(frame.columns)}); "
            "OpenCodelists CSV files have code,term"
        )
    # ICD-10 is matched without the dot, as the linked zone stores it.
    codes = frame[column].astype(str).str.strip().str.replace(".", "", regex=False)
    return frozenset(c for c in codes if c)
