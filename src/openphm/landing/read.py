"""Reading zone 1 for the stage after it (identity and linkage) and for `phm quarantine`.

Reads zone 1 (the live batch files, with their data keys) and the landing catalog; writes
nothing but the audit entry that records the read. Only the processor-engineer role may read
the landing zone; a refusal is audited (openphm.governance.roles).
"""

from __future__ import annotations

from dataclasses import dataclass

from openphm.engine import attach_encrypted
from openphm.governance.audit import Actor
from openphm.keystore import KeyName
from openphm.landing import catalog as cat
from openphm.landing import model
from openphm.landing.adapters import canonical_tables
from openphm.landing.retention import readable_batches

SCHEMA = "landing"  # the schema that holds the views of current rows


def attach_batches(ws, con, actor: Actor, action: str) -> list[str]:
    """Attach every live batch within its retention period read-only as `b_<n>`; return the
    aliases in catalog order."""
    ws.authorise(actor, action)
    catalog = cat.load(ws.zone("landing"))
    aliases = []
    for number, batch in enumerate(readable_batches(ws, catalog)):
        alias = f"b_{number}"
        key = ws.keystore.get(KeyName.landing_batch(batch.batch_id))
        attach_encrypted(con, ws.zone("landing") / batch.file, alias, key, read_only=True)
        aliases.append(alias)
    return aliases


def current_tables(ws, con, actor: Actor) -> dict[str, str]:
    """Attach zone 1 to `con` and create a view per canonical table of its current rows: from
    live batches, and of the latest revision (and, for snapshot tables, the latest period) of
    each provider's submissions. Returns {canonical table: qualified view name}; every
    canonical table has a view, empty when nothing of it has landed."""
    aliases = attach_batches(ws, con, actor, "landing.read")
    catalog = cat.load(ws.zone("landing"))
    current = [s.submission_id for s in catalog.current()]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    present = {
        (db, name)
        for db, name in con.execute(
            "SELECT database_name, table_name FROM duckdb_tables()"
        ).fetchall()
    }
    views = {}
    for table in canonical_tables():
        cols = model.columns(table)
        parts = [f"SELECT * FROM {alias}.{table}" for alias in aliases if (alias, table) in present]
        empty = "SELECT " + ", ".join(f'NULL::{t} AS "{n}"' for n, t in cols) + " WHERE false"
        union = " UNION ALL BY NAME ".join(parts) if parts else empty
        ids = ", ".join("'" + i.replace("'", "''") + "'" for i in current) or "NULL"
        con.execute(
            f"CREATE OR REPLACE VIEW {SCHEMA}.{table} AS SELECT * FROM ({union}) "
            f"WHERE submission_id IN ({ids})"
        )
        views[table] = f"{SCHEMA}.{table}"
    ws.audit.record(
        actor,
        "landing.read",
        reads=tuple(f"landing/{b.file}" for b in readable_batches(ws, catalog)),
        counts={"batches": len(aliases), "current_submissions": len(current)},
    )
    return views


@dataclass(frozen=True)
class Held:
    """Rows held back from one file for one reason."""

    file: str
    submission_id: str
    field: str
    reason: str
    rows: int
    row_numbers: tuple[int, ...]


def quarantine(ws, con, actor: Actor) -> list[Held]:
    """What was held back, per file, field and reason, from every live batch."""
    aliases = attach_batches(ws, con, actor, "landing.quarantine")
    if not aliases:
        return []
    union = " UNION ALL ".join(f"SELECT * FROM {a}.quarantine" for a in aliases)
    found = con.execute(
        f"SELECT file, submission_id, field, reason, count(*), list(row ORDER BY row) "
        f"FROM ({union}) GROUP BY ALL ORDER BY file, field, reason"
    ).fetchall()
    ws.audit.record(
        actor, "landing.quarantine", counts={"batches": len(aliases), "problems": len(found)}
    )
    return [Held(f, s, fi, r, n, tuple(rows)) for f, s, fi, r, n, rows in found]
