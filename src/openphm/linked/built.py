"""Reading what the stages built into zone 3: the one way the web service reads the linked
zone for its pages (docs/ARCHITECTURE.md, "The web renders what the stages built").

A page asks for a built table by name, with the columns it wants, equality conditions, an
order and a limit; names are checked against the table's own columns and values are bound as
parameters, so no caller writes SQL. Each call attaches zone 3 read-only and detaches it
again (`Workspace.reading_linked`: one DuckDB instance per process, so a read costs
milliseconds, not the tenth of a second a new connection spends loading its extension).
Tables that a page reads are small by design (figures per group, measures, indicator counts
per practice), never the person-level tables: `analytics.figures` and `risk.figures` say
which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd


class NotBuilt(LookupError):
    """A table a page needs has not been built yet; the message says which command builds it."""


def tables(con, source: str = "linked") -> set[str]:
    """The tables of zone 3 attached to `con` as `source`."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [source]
    ).fetchall()
    return {name for (name,) in rows}


def present(ws) -> set[str]:
    """The tables zone 3 of workspace `ws` holds."""
    with ws.reading_linked() as con:
        return tables(con)


def read(
    ws,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    where: Mapping[str, object] | None = None,
    order_by: Iterable[str] = (),
    distinct: bool = False,
    limit: int | None = None,
    missing: str = "",
) -> pd.DataFrame:
    """Rows of zone 3's `table` (every column, or `columns`), those whose columns equal
    `where`'s values (or one of them, for a list), in `order_by` order ("-name" for
    descending), distinct if asked, at most `limit`. NotBuilt (saying `missing`, or naming
    the table) when the table is absent."""
    return read_many(ws, [(table, dict(columns=columns, where=where, order_by=order_by,
                                       distinct=distinct, limit=limit))],
                     missing=missing)[0]  # fmt: skip


def read_many(ws, reads: Sequence[tuple[str, dict]], missing: str = "") -> list[pd.DataFrame]:
    """`read` of each (table, arguments), in one read-only attachment of zone 3 (the
    process's reading instance, `Workspace.reading_linked`)."""
    with ws.reading_linked() as con:
        there = tables(con)
        absent = [table for table, _ in reads if table not in there]
        if absent:
            raise NotBuilt(missing or f"linked.{absent[0]} has not been built yet")
        return [_read(con, table, **arguments) for table, arguments in reads]


def _read(con, table, *, columns=None, where=None, order_by=(), distinct=False, limit=None):
    known = [name for (name,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'linked' "
        "AND table_name = ? ORDER BY column_index", [table]).fetchall()]  # fmt: skip
    where = dict(where or {})
    order = [(name.removeprefix("-"), name.startswith("-")) for name in order_by]
    asked = list(columns) if columns is not None else known
    for name in [*asked, *where, *(name for name, _ in order)]:
        if name not in known:
            raise ValueError(f"linked.{table} has no column {name!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be a whole number, 0 or more")
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(map(_quoted, asked))} "
    sql += f"FROM linked.main.{_quoted(table)}"
    if where:
        sql += " WHERE " + " AND ".join(_condition(n, v) for n, v in where.items())
        where = {n: list(v) if _many(v) else v for n, v in where.items()}
    if order:
        sql += " ORDER BY " + ", ".join(f"{_quoted(n)}{' DESC' if d else ''}" for n, d in order)
    if limit is not None:
        sql += f" LIMIT {limit}"
    return con.execute(sql, where).df()


def _many(value: object) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _condition(name: str, value: object) -> str:
    """`name` equal to the parameter of its name, or one of them when the value is several."""
    if _many(value):
        return f"list_contains(${name}, {_quoted(name)})"
    return f"{_quoted(name)} = ${name}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
