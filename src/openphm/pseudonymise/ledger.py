"""Which landed files zone 3 holds, so that `phm link` can be incremental.

Reads the landing catalog (file metadata only) and zone 3's own bookkeeping tables; writes
those tables. Landing data is destroyed 14 days after it arrives (promise P8), while the linked
population must outlive it; so zone 3 keeps, per linked submission, what the catalog said about
it (slot, period, revision, arrival) and its linkage counts, never a patient value:

- `_submissions`: one row per submission whose rows are in zone 3, with its counts;
- `_equity`: per submission, how many records needed tracing and how many were matched, by
  source, IMD decile, ethnic group, age band and sex;
- `_gp_refs` and `_objectors` (openphm.pseudonymise.gp, openphm.identity.objections).

A submission is linked once. It is removed (its rows deleted) when a later revision of the same
provider's table and period, or for a snapshot table a later period, is linked in its place:
the same rule as the landing catalog's, applied to what zone 3 holds, since the superseded file
may be long destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass

from openphm.landing import catalog as cat
from openphm.pseudonymise.deidentify import LINKED_TABLE

SUBMISSIONS = "linked._submissions"
EQUITY = "linked._equity"
LINK_REPORT = "linked.link_report"
LINKAGE_EQUITY = "linked.linkage_equity"

_COUNTS = ("records", "with_valid_nhs_number", "traced", "untraced", "objected_removed")

DDL = (
    f"""CREATE TABLE IF NOT EXISTS {SUBMISSIONS} (
        submission_id VARCHAR PRIMARY KEY, canonical_table VARCHAR, linked_table VARCHAR,
        source_kind VARCHAR, provider VARCHAR, provider_table VARCHAR, period VARCHAR,
        revision INTEGER, arrived VARCHAR, snapshot BOOLEAN,
        {", ".join(f"{c} BIGINT" for c in _COUNTS)})""",
    f"""CREATE TABLE IF NOT EXISTS {EQUITY} (
        submission_id VARCHAR, grouped_by VARCHAR, "group" VARCHAR, records BIGINT,
        matched BIGINT)""",
)


@dataclass(frozen=True)
class Plan:
    new: list[cat.Submission]  # current submissions to link now
    replaced: list[tuple[str, str]]  # (submission_id, linked table) whose rows go


def plan(con, catalog: cat.Catalog) -> Plan:
    """What to link and what to remove, from the catalog and `_submissions`."""
    linked = {
        row[0]: row
        for row in con.execute(
            f"SELECT submission_id, linked_table, source_kind, provider, provider_table, "
            f"period, revision, arrived, snapshot FROM {SUBMISSIONS}"
        ).fetchall()
    }
    fresh = [
        s
        for s in catalog.current()
        if s.canonical_table in LINKED_TABLE and s.submission_id not in linked
    ]
    best: dict[tuple, tuple] = {}
    candidates = [(r[0], r[2:5], r[5], r[6], r[7], r[8]) for r in linked.values()]
    candidates += [
        (s.submission_id, (s.source_kind, s.provider, s.table), s.period, s.revision,
         s.arrived, s.snapshot)
        for s in fresh
    ]  # fmt: skip
    for submission_id, slot, period, revision, arrived, snapshot in candidates:
        key = slot if snapshot else (*slot, period)
        rank = (period, revision, arrived)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, submission_id)
    winners = {submission_id for _, submission_id in best.values()}
    return Plan(
        new=[s for s in fresh if s.submission_id in winners],
        replaced=[(i, row[1]) for i, row in linked.items() if i not in winners],
    )


def remove(con, replaced: list[tuple[str, str]]) -> int:
    """Delete the rows of superseded submissions from zone 3; the number of rows deleted."""
    rows = 0
    for submission_id, table in replaced:
        rows += con.execute(
            f"DELETE FROM linked.{table} WHERE submission_id = ?", [submission_id]
        ).fetchone()[0]
        for book in (SUBMISSIONS, EQUITY):
            con.execute(f"DELETE FROM {book} WHERE submission_id = ?", [submission_id])
    return rows


def record(con, submission: cat.Submission, counts: dict[str, int]) -> None:
    con.execute(
        f"INSERT INTO {SUBMISSIONS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        [
            submission.submission_id,
            submission.canonical_table,
            LINKED_TABLE[submission.canonical_table],
            submission.source_kind,
            submission.provider,
            submission.table,
            submission.period,
            submission.revision,
            submission.arrived,
            submission.snapshot,
            *(counts.get(c, 0) for c in _COUNTS[:-1]),
        ],
    )


def add_objected(con, removed: dict[str, int]) -> None:
    """Add rows removed for objections to their submissions' counts."""
    for submission_id, rows in removed.items():
        con.execute(
            f"UPDATE {SUBMISSIONS} SET objected_removed = objected_removed + ? "
            "WHERE submission_id = ?",
            [rows, submission_id],
        )


def write_reports(con) -> None:
    """`link_report` and `linkage_equity`: aggregates over every linked submission."""
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in _COUNTS)
    con.execute(
        f"CREATE OR REPLACE TABLE {LINK_REPORT} AS SELECT source_kind AS source, provider, "
        f"{sums} FROM {SUBMISSIONS} GROUP BY ALL ORDER BY source, provider"
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {LINKAGE_EQUITY} AS
        WITH g AS (SELECT grouped_by, "group", sum(records)::BIGINT AS records,
                          sum(matched)::BIGINT AS matched
                   FROM {EQUITY} GROUP BY ALL),
             overall AS (SELECT sum(matched) / nullif(sum(records), 0) AS rate
                         FROM g WHERE grouped_by = 'source')
        SELECT grouped_by, "group", records, matched, matched / records AS match_rate,
               matched / records - (SELECT rate FROM overall) AS difference_from_overall
        FROM g ORDER BY grouped_by, "group" """
    )
