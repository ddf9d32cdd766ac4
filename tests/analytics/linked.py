"""A linked zone in memory, in exactly the shape of the linked model (openphm.linked.model),
filled from small literal tables in the tests. Every table exists (empty unless a test gives
rows), so a test names only the rows its rule depends on."""

from __future__ import annotations

import datetime as dt

import duckdb

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
