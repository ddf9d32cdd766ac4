"""Retention of identifiable data (promise P8): destroy every landing batch older than the
programme's `identifiable_retention_days`, by destroying its key and then its file.

Reads the landing catalog and the programme clock; writes the key store (destroys keys), zone 1
(deletes files), the catalog and the audit log (what, when and why, as counts). Destroying the
key first is the crypto-shred: from that moment the file is unreadable, even if deleting it
fails or the machine dies; a batch whose key is gone is finished off on the next run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from openphm import clock
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.governance.roles import current_user
from openphm.keystore import KeyName
from openphm.landing import catalog as cat

# Who acts when retention runs on its own, as every command opens the workspace.
SCHEDULE = "retention-schedule"
# What the log says of a run killed after destroying keys but before the catalog said so.
UNFINISHED = (
    "interrupted before the catalog recorded the destruction; keys already destroyed stay "
    "destroyed, and the next retention run finishes it and records it"
)


@dataclass(frozen=True)
class RetentionReport:
    batches: int
    files: int
    rows: int
    cutoff: dt.datetime


def enforce_retention(ws) -> RetentionReport | None:
    """Run retention if anything is due; cheap (one small file read) when nothing is. Called
    by `Workspace.open`, so no command can work on a workspace holding overdue data. If
    another command holds the landing lock, that command's own run will enforce it."""
    zone = ws.root / "landing"
    if not (zone / cat.CATALOG_FILE).exists() or not _due(ws, cat.load(zone)):
        return None
    actor = Actor(user=current_user(), role=SCHEDULE)
    with cat.locked(zone, wait=False) as held:
        return destroy_due(ws, actor) if held else None


def run_retention(ws, actor: Actor) -> RetentionReport:
    """`phm retention`: destroy what is due now, and say so even when nothing is."""
    ws.authorise(actor, "landing.retention")
    with cat.locked(ws.zone("landing")):
        return destroy_due(ws, actor)


def cutoff(ws) -> dt.datetime:
    return clock.now() - dt.timedelta(days=ws.config.programme.identifiable_retention_days)


def _due(ws, catalog: cat.Catalog) -> list[cat.Batch]:
    limit = cutoff(ws)
    return [b for b in catalog.live_batches() if dt.datetime.fromisoformat(b.arrived) <= limit]


def destroy_due(ws, actor: Actor) -> RetentionReport:
    """Destroy the due batches; the caller holds the landing lock."""
    zone = ws.zone("landing")
    catalog = cat.load(zone)
    due = _due(ws, catalog)
    now = clock.now().isoformat()
    files = rows = 0
    for batch in due:
        ws.keystore.destroy(KeyName.landing_batch(batch.batch_id))
        landed = [s for s in catalog.submissions if s.batch_id == batch.batch_id]
        files += len(landed)
        rows += sum(s.received for s in landed)
        batch.state, batch.destroyed = cat.DESTROYED, now
    report = RetentionReport(len(due), files, rows, cutoff(ws))
    entry = _entry(ws, actor, due, report)
    if due:
        # Bound to its entry (governance.intents): killed after the catalog records the
        # destruction, the entry is recorded when the workspace is next opened.
        change = intents.landing_batch(
            due[0].batch_id, [entry], state=cat.DESTROYED, unfinished=UNFINISHED
        )
        with intents.committing(ws.audit, change):
            cat.save(zone, catalog)
    elif actor.role != SCHEDULE:
        entry.record(ws.audit)
    for batch in catalog.batches.values():
        if batch.state == cat.DESTROYED:
            for leftover in zone.glob(f"{batch.file}*"):
                leftover.unlink()
    return report


def _entry(ws, actor: Actor, due: list[cat.Batch], report: RetentionReport) -> intents.Entry:
    days = ws.config.programme.identifiable_retention_days
    return intents.Entry(
        actor,
        "landing.retention",
        writes=tuple(f"landing/{b.file}" for b in due),
        counts={"batches_destroyed": report.batches, "files": report.files, "rows": report.rows},
        reason=f"identifiable landing data is kept at most {days} days "
        f"(identifiable_retention_days); destroyed the key and file of every batch "
        f"that arrived on or before {report.cutoff.isoformat(timespec='seconds')}",
    )
