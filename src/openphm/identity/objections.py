"""Objections (promise P7): the one place that decides whose data the linked zone may hold.

Three steps, all small, so that a reviewer reads this file to trust the promise:

- `objectors` reads the GP objection records in zone 1 and names, per practice and patient
  reference, the patients whose latest Type 1 objection code is a dissent (a withdrawal after
  it restores them). It returns nothing when the programme's policy has Type 1 objections off.
- `apply_objections` deletes, from every table of zone 3, the rows of every person in the
  objectors' register (their pseudonyms, kept in zone 3 so that data arriving later for them,
  after the GP records that named them have been destroyed, is removed as well), and returns
  how many rows went from each table. It is run on every `phm link` after new data is written
  and before it is committed, so an objector's rows are never visible in the linked zone.
- `arriving` is how `phm link` writes new rows: without the rows `apply_objections` would
  delete (the same test, `objecting`, kept where it is not true), so that the hook run after the
  insert finds none of them. Filtering is not only tidier: a delete from a table just written
  in the same transaction makes DuckDB rewrite that table when it commits (21 s of a 1M-person
  link, and a file twice the size: docs/linkage.md). The hook still runs after every insert,
  so a row that reaches the zone some other way is removed all the same.

Who objected is never logged: callers record only the counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

DISSENT = "827241000000103"  # Type 1 opt-out: dissent from secondary use of GP patient data
WITHDRAWN = "827261000000104"  # Type 1 opt-out withdrawn


def objectors(con, objections: str, *, type1: bool) -> str:
    """Create the temporary table `objection_latest` (practice, patient_ref, objects) from the
    objection records in `objections` (a landing view): one row per patient with any Type 1
    code, `objects` true when the latest is a dissent. Same-day codes are ordered by the file's
    period, revision and row, as the practice recorded them. Returns the table's name."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE objection_latest AS
        SELECT provider_ods AS practice, patient_ref,
               arg_max(snomed_code = '{DISSENT}', (recorded_date, submission_id, source_row))
                   AND {bool(type1)} AS objects
        FROM {objections}
        WHERE snomed_code IN ('{DISSENT}', '{WITHDRAWN}')
        GROUP BY ALL"""
    )
    return "objection_latest"


def objecting(register: str) -> str:
    """The test of a row that must not be in zone 3: its pseudonym is in the register."""
    return f"pseudonym IN (SELECT pseudonym FROM {register})"


def arriving(rows_sql: str, register: str) -> str:
    """`rows_sql` (a query with a `pseudonym` column) without the rows `apply_objections` would
    delete: exactly those for which `objecting` is not true (a row with no pseudonym is kept
    by both)."""
    return f"SELECT * FROM ({rows_sql}) AS arriving WHERE ({objecting(register)}) IS NOT TRUE"


def apply_objections(con, register: str, tables: Mapping[str, str | None]) -> Counter:
    """Delete every row whose `pseudonym` is in `register` from each table in `tables`, which
    maps a table to the column (say, which submission a row came from) its removals are counted
    by, or None to count the table's removals as one. Returns {(table, that column's value):
    rows removed}. Counts only: nothing here says who."""
    removed: Counter = Counter()
    for table, by in tables.items():
        rows_of_objectors = f"FROM {table} WHERE {objecting(register)}"
        for group, rows in con.execute(
            f"SELECT {by or 'NULL'}, count(*) {rows_of_objectors} GROUP BY ALL"
        ).fetchall():
            removed[(table, group)] += rows
        con.execute(f"DELETE {rows_of_objectors}")
    return removed
