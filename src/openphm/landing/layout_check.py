"""`phm layout check`: what a file would become under a layout, without loading anything.

Reads one file (identifiable, as it arrived) and a layout; writes nothing: its rows are checked
in an in-memory database that is discarded, so nothing of the file reaches a workspace. What it
reports names columns, rows, fields and reasons, never a value (docs/extract-formats.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from openphm import clock
from openphm.engine import connect
from openphm.landing.adapters import layout_table, table_for
from openphm.landing.files import Extract, Refused, fingerprint_and_lines, opened
from openphm.landing.load import load_extract, prepare
from openphm.landing.readers import layout_header, open_extract
from openphm.programme.config import SourceKind
from openphm.programme.layouts import Layout

FIRST_PROBLEMS = 20


@dataclass(frozen=True)
class LayoutReport:
    file: str
    layout: Layout
    encoding: str
    byte_order_mark: bool
    delimiter: str
    columns: int
    version: str
    version_title: str
    mapped: tuple[str, ...]
    missing: tuple[str, ...]
    unknown: tuple[str, ...]
    refusal: str
    elsewhere: tuple[str, ...] = ()  # columns only other versions of the layout have
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    problems: tuple[tuple[int, str, str], ...] = ()  # (row, field, reason)

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "layout": self.layout.name,
            "specification": self.layout.specification,
            "layout_version": self.layout.version,
            "encoding": self.encoding,
            "byte_order_mark": self.byte_order_mark,
            "delimiter": self.delimiter,
            "columns": self.columns,
            "header_version": self.version,
            "mapped": list(self.mapped),
            "missing": list(self.missing),
            "unknown": list(self.unknown),
            "other_versions_columns": list(self.elsewhere),
            "refused": self.refusal,
            "received": self.received,
            "would_load": self.loaded,
            "would_quarantine": self.quarantined,
            "first_problems": [
                {"row": r, "field": f, "reason": why} for r, f, why in self.problems
            ],
        }


def check(path: Path, layout: Layout, today: dt.date | None = None) -> LayoutReport:
    """Read `path` as `layout` says and check every row, in memory."""
    kind = SourceKind(layout.kind)
    table = table_for(kind, layout.name)
    if table is None or table.layout != layout:
        table = layout_table(layout)
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    with opened(path) as source:
        extract = Extract(path, kind, "CHECK", table, "000001", 1, fmt, source=source)
        if fmt == "csv":
            _, lines = fingerprint_and_lines(source)
            extract = Extract(
                path, kind, "CHECK", table, "000001", 1, fmt, source=source, lines=lines
            )
        if source.stat().st_size == 0:
            raise Refused(path, "is empty (not even a header row)")
        found = layout_header(extract)
        c = found.check
        report = LayoutReport(
            file=str(path),
            layout=layout,
            encoding=found.encoding,
            byte_order_mark=found.byte_order_mark,
            delimiter=found.delimiter,
            columns=len(found.header),
            version=c.version.name if c else "",
            version_title=c.version.title if c else "",
            mapped=c.mapped if c else (),
            missing=c.missing if c else (),
            unknown=c.unknown if c else (),
            elsewhere=c.elsewhere if c else (),
            refusal=found.refusal,
        )
        if found.refusal:
            return report
        con = connect(memory_limit="1GB")
        try:
            con.execute("ATTACH ':memory:' AS checked")
            prepare(con, "checked")
            reader = open_extract(extract)
            try:
                counts = load_extract(con, "checked", reader, "check", today or clock.now().date())
            except Refused as refused:
                return _with(report, refusal=refused.reason)
            problems = con.execute(
                "SELECT row, field, reason FROM checked.quarantine ORDER BY row, field "
                f"LIMIT {FIRST_PROBLEMS}"
            ).fetchall()
        finally:
            con.close()
        # The encoding the load settled on (a file may prove to be Windows-1252 part-way).
        return _with(
            report,
            encoding=reader.encoding,
            received=counts.received,
            loaded=counts.loaded,
            quarantined=counts.quarantined,
            problems=tuple(problems),
        )


def _with(report: LayoutReport, **changes) -> LayoutReport:
    import dataclasses

    return dataclasses.replace(report, **changes)
