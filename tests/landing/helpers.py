"""Reading back what landed, as the next stage would."""

from __future__ import annotations

from openphm.engine import connect
from openphm.landing.read import current_tables, quarantine


def current(ws, actor, table: str) -> list[dict]:
    con = connect()
    views = current_tables(ws, con, actor)
    result = con.execute(f"SELECT * FROM {views[table]} ORDER BY submission_id, source_row")
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def count(ws, actor, table: str) -> int:
    """How many current rows a table has, without fetching them (a test may land millions)."""
    views = current_tables(ws, con := connect(), actor)
    return con.execute(f"SELECT count(*) FROM {views[table]}").fetchone()[0]


def held(ws, actor) -> list[tuple[str, int, str, str]]:
    """(file, row, field, reason) of every problem in quarantine."""
    return sorted(
        (h.file, row, h.field, h.reason)
        for h in quarantine(ws, connect(), actor)
        for row in h.row_numbers
    )


def ingest_entries(ws) -> list:
    return [e for e in ws.audit.entries() if e.action == "landing.ingest"]
