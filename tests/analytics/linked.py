"""A linked zone in exactly the shape of the linked model (openphm.linked.model), filled from
small literal tables in the tests. Every table exists (empty unless a test gives rows), so a
test names only the rows its rule depends on.

`zone_on(engine, folder, **rows)` puts the zone in a workspace of its own, and runs the stages
on it through the engine object as the commands do (`EngineZone`): the rule tests take the
`engine` fixture (tests/conftest.py) and so run on every engine, ehrQL style. `linked_zone`
is the zone in memory, for what reads a DuckDB connection only."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

from openphm.governance.audit import Actor
from openphm.linked.model import TABLES

# Every table of the linked zone with its columns and types, from the one definition.
SCHEMA: dict[str, dict[str, str]] = {table: dict(columns) for table, columns in TABLES.items()}

REFERENCE = dt.date(2026, 3, 31)


def linked_zone(**rows: list[dict]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with an in-memory `linked` catalogue holding every table. Rows are
    dicts; columns left out are NULL."""
    from openphm.engine import connect

    con = connect()
    con.execute("ATTACH ':memory:' AS linked")
    return fill(con, **rows)


def fill(con, **rows: list[dict]):
    """Create every linked-zone table in `con`'s `linked` schema, with the rows given."""
    for table, columns in SCHEMA.items():
        spec = ", ".join(f"{c} {t}" for c, t in columns.items())
        con.execute(f"CREATE TABLE linked.{table} ({spec})")
        for row in rows.pop(table, []):
            unknown = set(row) - set(columns)
            assert not unknown, f"{table} has no column(s) {unknown}"
            names = list(row)
            marks = ", ".join("?" for _ in names)
            con.execute(
                f"INSERT INTO linked.{table} ({', '.join(names)}) VALUES ({marks})",
                [row[n] for n in names],
            )
    assert not rows, f"unknown tables: {list(rows)}"
    return con


def person(pseudonym: str, *, age: int = 50, sex: str = "F", imd_decile: int | None = 5,
           practice: str = "P00001", died: dt.date | None = None, ethnic_group: str = "White",
           lsoa: str = "E01000001") -> dict:  # fmt: skip
    """A people row for someone `age` at REFERENCE (born in REFERENCE's month, on the 1st)."""
    born = dt.date(REFERENCE.year - age, 1, 1) if age > 0 else dt.date(REFERENCE.year, 1, 1)
    return {"pseudonym": pseudonym, "sex": sex, "birth_month": born, "ethnic_group": ethnic_group,
            "lsoa": lsoa, "imd_decile": imd_decile, "practice": practice, "registered": True,
            "date_of_death": died, "traced": "nhs-number"}  # fmt: skip


def registered(pseudonym: str, start=dt.date(2000, 1, 1), end=None, practice="P00001") -> dict:
    return {"pseudonym": pseudonym, "practice": practice, "start_date": start, "end_date": end}


def population(*people: dict) -> dict[str, list[dict]]:
    """people rows plus an open registration for each."""
    return {"people": list(people), "registrations": [registered(p["pseudonym"]) for p in people]}


class Fetched:
    """A query's result, read whole from the zone file (which is then closed again), with the
    reads a DuckDB relation offers."""

    def __init__(self, con, query: str) -> None:
        self._rows = con.sql(query).fetchall()
        self._frame = con.sql(query).df()

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def df(self):
        return self._frame.copy()


class EngineZone:
    """A hand-written linked zone in a workspace of its own (the example programme), worked on
    by `engine` as the stages work on a programme's zone: `analyse` is `phm analyse`'s build
    (`analytics.stage.build_on_engine`), `build_indicators` is `phm indicators`'
    (`indicators.stage.build_on_engine`), and `reading` is zone 3 as the engine opens it for a
    stage that reads (`Engine.reading`: the file in place, or an encrypted Parquet copy). The
    zone file is the zone of record on every engine, so `sql` and `file` read what a stage
    left there, whichever engine ran it."""

    def __init__(self, engine, folder: Path, **rows: list[dict]) -> None:
        from openphm.programme.workspace import Workspace

        self.engine = engine
        shutil.copytree(_blank_workspace(), folder / "workspace")
        self.ws = Workspace.open(folder / "workspace")
        self._reader = None  # the zone file, open for `sql` between stages
        con = self.ws.connect_linked()
        try:
            con.execute("BEGIN")  # one commit for every row, not one a row
            fill(con, **rows)
            con.execute("COMMIT")
        finally:
            con.close()

    def analyse(self, day: dt.date, options):
        """The analytics built as at `day` on the engine; the build's summary."""
        from openphm.analytics.stage import build_on_engine

        self._close()
        return build_on_engine(self.ws, self.engine, day, options)

    def build_indicators(self, day: dt.date, chosen, codelists: Path | str | None = None):
        """The `chosen` indicators built as at `day` on the engine; the build's summary."""
        from openphm.indicators.stage import build_on_engine

        self._close()
        folder = Path(codelists) if codelists else None
        return build_on_engine(self.ws, self.engine, day, chosen, folder, say=lambda _: None)

    def reading(self) -> contextlib.AbstractContextManager:
        """Zone 3 as the engine opens it for a stage that reads it."""
        self._close()
        return self.engine.reading(self.ws)

    @contextlib.contextmanager
    def file(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The zone file, read-only, with the zone as `linked`."""
        self._close()
        con = self.ws.connect_linked(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def sql(self, query: str) -> Fetched:
        """`query` on the zone file (open read-only until the next stage or `file`)."""
        if self._reader is None:
            self._reader = self.ws.connect_linked(read_only=True)
        return Fetched(self._reader, query)

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@functools.cache
def _blank_workspace() -> Path:
    """A workspace of the example programme with an empty zone, made once per process and
    copied for each EngineZone (making one takes longer than a small rule test's build): the
    copies share its keys, which no rule test reads."""
    from openphm.programme.workspace import Workspace

    _HELD.append(tempfile.TemporaryDirectory(prefix="openphm-blank-workspace-"))
    folder = Path(_HELD[-1].name)
    config = folder / "programme.toml"
    config.write_text((resources.files("openphm.programme") / "example_programme.toml").read_text())
    return Workspace.create(folder / "workspace", config, ENGINEER).root


_HELD: list[tempfile.TemporaryDirectory] = []  # deleted when the process ends
ENGINEER = Actor(user="test-engineer", role="processor-engineer")


def zone_on(engine, folder: Path, **rows: list[dict]) -> EngineZone:
    """The zone of `rows` in a workspace in `folder`, for `engine` (see EngineZone)."""
    return EngineZone(engine, folder, **rows)
