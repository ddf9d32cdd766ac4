"""Released tables for the tools analysts already use (Power BI, Tableau, Excel, R): every table
of every approved release, as CSV, Parquet or one Excel workbook, with a data dictionary.

Only what a second person approved leaves, exactly as approved: each release goes out through
`checking.hand_out`, which refuses a release that is not approved, checks every file against
the SHA-256 recorded when it was checked, and records the hand-out in the release's history and
the audit log. The tables are read from the released CSV files themselves, never from the
linked zone, so nothing unreleased can reach an export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from openphm.csvsafe import spreadsheet_safe, write_csv
from openphm.disclosure.checking import hand_out, verify_files
from openphm.disclosure.outcomes import ROUNDED, SHOWN, SUPPRESSED
from openphm.disclosure.releases import (
    RELEASED,
    ReleaseError,
    list_releases,
    release_folder,
    rules_for,
)
from openphm.governance.audit import Actor

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

FORMATS = ("csv", "parquet", "xlsx")
DICTIONARY = "data_dictionary"
# A cell read back from a released CSV is a number only when it is written as one with no
# leading zero: "01" (an IMD decile written as a code, a practice's local code) stays text.
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_EXCEL_SHEET = 31  # Excel's limit on a sheet name's length


@dataclass(frozen=True)
class ReleasedOutput:
    """One table of an approved release, as released, and what the dictionary says of it."""

    release: dict  # the release's record (manifest.json)
    item: dict  # the table's entry in it
    table: pd.DataFrame

    @property
    def name(self) -> str:
        return f"{self.release['id']}__{self.item['table']}"


def released_outputs(
    ws: Workspace, actor: Actor, to: str, release_ids: list[str] | None = None
) -> list[ReleasedOutput]:
    """Every table of the approved releases (or of those named), each release handed out (and
    recorded as handed out `to`) after its files are checked against what was approved."""
    manifests = {m["id"]: m for m in list_releases(ws)}
    if release_ids:
        unknown = [r for r in release_ids if r not in manifests]
        if unknown:
            raise ReleaseError(
                f"no release {', '.join(unknown)}; `phm release list` shows the releases"
            )
        chosen = release_ids
    else:
        chosen = [r for r, m in manifests.items() if m["status"] == RELEASED]
    outputs: list[ReleasedOutput] = []

    def read(folder: Path, manifest: dict) -> None:
        for item in manifest["contents"]:
            outputs.append(ReleasedOutput(manifest, item, read_released(folder / item["file"])))

    for release_id in chosen:
        hand_out(ws, actor, release_id, to, read)
    return outputs


def released_outputs_in_place(ws: Workspace) -> list[ReleasedOutput]:
    """Every table of the approved releases, read where it is kept after its file is checked
    against what was approved; recorded by the caller (the data API's page views), not in each
    release's history."""
    outputs = []
    for manifest in list_releases(ws):
        if manifest["status"] != RELEASED:
            continue
        folder = release_folder(ws, manifest["id"])
        verify_files(folder, manifest)
        for item in manifest["contents"]:
            outputs.append(ReleasedOutput(manifest, item, read_released(folder / item["file"])))
    return outputs


def read_released(path: Path) -> pd.DataFrame:
    """A released CSV as a table: every cell read as text first, then a column whose every
    non-blank cell is written as a plain number becomes numeric (blank, a redacted cell, stays
    missing). Text stays as released, spreadsheet-safe prefix included."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in frame.columns:
        values = frame[column]
        filled = values[values != ""]
        if len(filled) and filled.map(lambda v: bool(_NUMBER.match(v))).all():
            frame[column] = pd.to_numeric(values.replace("", None))
            if frame[column].dropna().mod(1).eq(0).all():
                frame[column] = frame[column].astype("Int64")
        else:
            frame[column] = values.replace("", None).astype("string")
    return frame


def dictionary(ws: Workspace, outputs: list[ReleasedOutput]) -> pd.DataFrame:
    """One row per column of every exported table: its type, what disclosure control did to
    its cells, and the release it came from (purpose, description, who approved it, when)."""
    rules = rules_for(ws)
    control = (
        f"counts of 1 to {rules.threshold} suppressed (blank), other counts rounded to the "
        f"nearest {rules.multiple}, with secondary suppression and the dominance rule "
        f"(p = {rules.dominance_p}%); rates only from published counts"
    )
    rows = []
    for out in outputs:
        approved = _approved_at(out.release)
        for column in out.table.columns:
            rows.append(
                {
                    "table": out.name,
                    "release": out.release["id"],
                    "release_title": out.release.get("title", ""),
                    "purpose": out.release["purpose"],
                    "description": out.item.get("description", ""),
                    "column": column,
                    "type": _kind(out.table[column]),
                    "cells": _cells(out.item.get("outcome", {}).get(column, {})),
                    "rows": len(out.table),
                    "approved_by": out.release.get("approved_by") or "",
                    "approved_at": approved,
                    "disclosure_control": control,
                    "exception": out.item.get("exception", ""),
                    "sha256_of_released_file": out.item["sha256"],
                }
            )
    return pd.DataFrame(rows)


def export(
    ws: Workspace,
    actor: Actor,
    to: Path,
    fmt: str,
    release_ids: list[str] | None = None,
) -> list[Path]:
    """Write the approved releases' tables into the new folder `to`, in `fmt`, with the data
    dictionary; returns the files written."""
    if fmt not in FORMATS:
        raise ReleaseError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    to = Path(to).absolute()
    if to.exists():
        raise ReleaseError(f"{to} already exists; choose a new folder with --to")
    outputs = released_outputs(ws, actor, f"export ({fmt}) to {to}", release_ids)
    if not outputs:
        raise ReleaseError("no approved release to export; `phm release list` shows them")
    described = dictionary(ws, outputs)
    to.mkdir(parents=True)
    if fmt == "xlsx":
        return [_workbook(to / "openphm-releases.xlsx", outputs, described)]
    written = []
    for name, frame in [*((o.name, o.table) for o in outputs), (DICTIONARY, described)]:
        path = to / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path)
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written


def _workbook(path: Path, outputs: list[ReleasedOutput], described: pd.DataFrame) -> Path:
    """One sheet per table and the dictionary first. Every text cell is made spreadsheet-safe
    and written as text: openpyxl writes a string that begins with "=" as a formula."""
    sheets = {_sheet(o, i) for i, o in enumerate(outputs)}
    if len(sheets) != len(outputs):  # two names cut to the same 31 characters
        raise ReleaseError("two tables' sheet names collide; export them as csv or parquet")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in [(DICTIONARY, described)] + [
            (_sheet(o, i), o.table) for i, o in enumerate(outputs)
        ]:
            spreadsheet_safe(frame).to_excel(writer, sheet_name=name, index=False)
            for row in writer.sheets[name].iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        cell.data_type = "s"
    return path


def _sheet(out: ReleasedOutput, index: int) -> str:
    name = out.name
    return name if len(name) <= _EXCEL_SHEET else f"{index + 1:02d}_{out.item['table']}"[:31]


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_numeric_dtype(values):
        return "decimal"
    return "text"


def _cells(outcome: dict) -> str:
    """What disclosure control did to a column's cells, counted: "12 rounded, 3 suppressed"."""
    counted = {label: 0 for label in (ROUNDED, SUPPRESSED, SHOWN)}
    for value in outcome.values():
        counted[value] = counted.get(value, 0) + 1
    said = [f"{counted[ROUNDED]} rounded", f"{counted[SUPPRESSED]} suppressed (blank)"]
    said.append(f"{counted[SHOWN]} published as they are")
    return ", ".join(said) if outcome else "published as they are"


def _approved_at(manifest: dict) -> str:
    for step in reversed(manifest.get("history", [])):
        if step.get("action") == "approved":
            return step.get("at", "")
    return ""
