"""The objectors' register in zone 3 and the one way an objector's rows leave it (promise P7).

Who objects is decided in zone 1, from the GP objection records (openphm.identity.objections);
`phm link` keeps their pseudonyms here, in `linked._objectors`, so that data arriving later for
them, after the GP records that named them have been destroyed, is removed as well. Every stage
that writes person-level rows into zone 3 uses this module:

- `arriving` is how `phm link` writes new rows: without the rows `remove_objectors` would delete
  (the same test, `objecting`, kept where it is not true), so that the hook run after the insert
  finds none of them. Filtering is not only tidier: a delete from a table just written in the
  same transaction makes DuckDB rewrite that table when it commits (21 s of a 1M-person link,
  and a file twice the size: docs/benchmarks.md).
- `remove_objectors` deletes the rows of every person in the register from zone 3's tables
  and counts them: `phm link` after every write and before it commits, and the stages that bring
  tables back from Spark (analytics, indicators) in the copy-back's transaction.
- `objecting` is the test itself, for a caller that filters rows before writing them (a cohort's
  members, openphm.cohorts.build).

Counts only: nothing here says who.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

REGISTER = "linked._objectors"
# Each pseudonym an objector's rows may carry, and the person (pseudonym) it is.
CREATE_REGISTER = f"CREATE TABLE IF NOT EXISTS {REGISTER} (pseudonym VARCHAR, person VARCHAR)"


def objecting(register: str = REGISTER) -> str:
    """The test of a row that must not be in zone 3: its pseudonym is in the register."""
    return f"pseudonym IN (SELECT pseudonym FROM {register})"


def arriving(rows_sql: str, register: str = REGISTER) -> str:
    """`rows_sql` (a query with a `pseudonym` column) without the rows `remove_objectors` would
    delete: exactly those for which `objecting` is not true (a row with no pseudonym is kept
    by both)."""
    return f"SELECT * FROM ({rows_sql}) AS arriving WHERE ({objecting(register)}) IS NOT TRUE"


def has_register(con) -> bool:
    """Whether `con`'s linked zone holds the register (a zone `phm link` has written)."""
    schema, table = REGISTER.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def remove_objectors(con, tables: Iterable[str] | None = None) -> Counter:
    """Delete every row whose `pseudonym` is in the register from zone 3's `tables` (names
    without the `linked.` prefix; default: every table of the zone with a `pseudonym` column,
    the register itself apart). Tables the zone does not hold are skipped, and a zone with no
    register loses nothing. Returns {(table, submission_id or None): rows removed}: a table
    with a `submission_id` column has its removals counted per submission (for the link
    report), any other as one."""
    removed: Counter = Counter()
    if not has_register(con):
        return removed
    schema, register = REGISTER.split(".")
    holding = dict(
        con.execute(
            "SELECT table_name, list(column_name) FROM duckdb_columns() WHERE database_name = ? "
            "AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE database_name = ?) "
            "GROUP BY ALL HAVING list_contains(list(column_name), 'pseudonym')",
            [schema, schema],
        ).fetchall()
    )
    holding.pop(register, None)
    chosen = holding if tables is None else [t for t in tables if t in holding]
    for table in chosen:
        by = "submission_id" if "submission_id" in holding[table] else "NULL"
        rows_of_objectors = f"FROM {schema}.{table} WHERE {objecting()}"
        for group, rows in con.execute(
            f"SELECT {by}, count(*) {rows_of_objectors} GROUP BY ALL"
        ).fetchall():
            # A table without submission_id is one group, counted even when empty: not kept.
            if rows:
                removed[(table, group)] += rows
        con.execute(f"DELETE {rows_of_objectors}")
    return removed
