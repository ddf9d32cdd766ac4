"""Retention of identifiable data (promise P8): destroy every landing batch older than the
programme's `identifiable_retention_days`, by destroying its key and then its file; and destroy
what an interrupted ingest left behind (a temporary batch file, its WAL, a key no catalogued
batch owns), which holds identifiable rows as surely as a landed batch does.

Reads the landing catalog and the programme clock; writes the key store (destroys keys), zone 1
(deletes files), the catalog and the audit log (what, when and why, as counts). Destroying the
key first is the crypto-shred: from that moment the file is unreadable, even if deleting it
fails or the machine dies; a batch whose key is gone is finished off on the next run.

Nothing here runs when a workspace is opened: the data protection officer's scheduled job
(`governance.schedule`) and `phm retention` call it, after their role check. Until then an
overdue batch is never read (`readable_batches`), so no stage uses data past its retention.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from dataclasses import dataclass

from openphm import clock
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.governance.due import Due
from openphm.keystore import KeyName
from openphm.landing import catalog as cat

# A batch file, its temporary name while an ingest writes it, and DuckDB's WAL beside either.
_BATCH_FILE = re.compile(r"^\.?batch-(?P<id>[0-9a-z-]+)\.duckdb(\.tmp)?(\.wal)?$")
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
    leftovers: int = 0


@dataclass(frozen=True)
class Leftovers:
    """What interrupted ingests left: file names in zone 1 and key names in the key store."""

    files: tuple[str, ...]
    keys: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files) + len(self.keys)


def run_retention(ws, actor: Actor) -> RetentionReport:
    """`phm retention`: destroy what is due now, and say so even when nothing is."""
    ws.authorise(actor, "landing.retention")
    with cat.locked(ws.zone("landing")):
        return destroy_due(ws, actor)


def enforce_if_free(ws, actor: Actor) -> RetentionReport | None:
    """Destroy what is due unless another command holds the landing lock (an ingest running:
    its leftovers are not leftovers yet); None when the zone was busy."""
    with cat.locked(ws.zone("landing"), wait=False) as held:
        return destroy_due(ws, actor) if held else None


def cutoff(ws) -> dt.datetime:
    return clock.now() - dt.timedelta(days=ws.config.programme.identifiable_retention_days)


def overdue(ws, catalog: cat.Catalog) -> list[cat.Batch]:
    limit = cutoff(ws)
    return [b for b in catalog.live_batches() if dt.datetime.fromisoformat(b.arrived) <= limit]


def readable_batches(ws, catalog: cat.Catalog) -> list[cat.Batch]:
    """The live batches a stage may read: not those past retention, even before the schedule
    has destroyed them."""
    late = {b.batch_id for b in overdue(ws, catalog)}
    return [b for b in catalog.live_batches() if b.batch_id not in late]


def leftovers(ws) -> Leftovers:
    """Batch files and keys that no live catalogued batch owns. Only debris while no ingest
    runs: callers that destroy hold the landing lock; `phm status` only shows them."""
    zone = ws.zone("landing")
    live = {b.batch_id for b in cat.load(zone).live_batches()}
    files = []
    for path in sorted(zone.iterdir()):
        match = _BATCH_FILE.match(path.name)
        if (match and match["id"] not in live) or path.name.startswith(
            (".spill-", f".{cat.CATALOG_FILE}")
        ):
            files.append(path.name)
    prefix = KeyName.landing_batch("")
    keys = [
        n
        for n in ws.keystore.names()
        if n.startswith(prefix) and n.removeprefix(prefix) not in live
    ]
    return Leftovers(tuple(files), tuple(keys))


def destroy_leftovers(ws, actor: Actor) -> int:
    """Destroy what a killed run left, keys first; the caller holds the landing lock, so no
    run in progress is mistaken for debris."""
    found = leftovers(ws)
    for name in found.keys:
        ws.keystore.destroy(name)
    zone = ws.zone("landing")
    for name in found.files:
        path = zone / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    if found:
        ws.audit.record(
            actor,
            "landing.cleanup",
            counts={"files_and_keys_removed": len(found)},
            reason="destroyed what an interrupted ingest left behind (keys first, then files); "
            "the zone is as before it",
        )
    return len(found)


def timetable(ws) -> list[Due]:
    """When each live batch falls due, and leftovers (due at once); for the schedule's view."""
    days = ws.config.programme.identifiable_retention_days
    now = clock.now()
    due = []
    found = leftovers(ws)
    if found:
        what = (
            f"interrupted ingest's leftovers: {len(found.files)} file(s), {len(found.keys)} key(s)"
        )
        due.append(Due(what, f"{now:%Y-%m-%d %H:%M}", "keys destroyed, then files", True))
    for batch in cat.load(ws.zone("landing")).live_batches():
        when = dt.datetime.fromisoformat(batch.arrived) + dt.timedelta(days=days)
        due.append(Due(f"landing batch {batch.batch_id}", f"{when:%Y-%m-%d %H:%M}",
                       "key destroyed, then file", when <= now))  # fmt: skip
    return due


def destroy_due(ws, actor: Actor) -> RetentionReport:
    """Destroy the due batches and any leftovers; the caller holds the landing lock."""
    zone = ws.zone("landing")
    catalog = cat.load(zone)
    due = overdue(ws, catalog)
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
    else:
        entry.record(ws.audit)  # every run says it looked, even when nothing was due
    for batch in catalog.batches.values():
        if batch.state == cat.DESTROYED:
            for leftover in zone.glob(f"{batch.file}*"):
                leftover.unlink()
    left = destroy_leftovers(ws, actor)
    return dataclasses.replace(report, leftovers=left)


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
