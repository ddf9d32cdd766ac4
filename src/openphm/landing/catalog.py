"""The landing catalog: which submissions and batches zone 1 holds, and which rows are current.

Reads and writes `landing/catalog.json`, which holds no patient data: file names, fingerprints,
periods, arrival times, counts and states. It is the commit point of every change to zone 1:
it is replaced whole by an atomic rename, so it always describes either the zone before a
change or the zone after it, never something in between. A lock file serialises the commands
that change the zone (ingest, retention) so that one cannot clean up the other's work.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openphm.governance import intents
from openphm.governance.intents import sync_folder

CATALOG_FILE = "catalog.json"
LOCK_FILE = ".lock"
FORMAT = 1

LIVE, DESTROYED = "live", "destroyed"
CURRENT, SUPERSEDED = "current", "superseded"


@dataclass
class Submission:
    """One file as landed: what it is, where its rows are, and what became of them."""

    submission_id: str
    file: str
    sha256: str
    source_kind: str
    provider: str
    table: str  # the provider's table (or FHIR resource type)
    canonical_table: str
    period: str
    revision: int
    snapshot: bool
    flavour: str
    batch_id: str
    arrived: str
    received: int
    loaded: int
    quarantined: int
    state: str = CURRENT  # current, superseded or destroyed

    @property
    def slot(self) -> tuple[str, str, str, str]:
        return (self.source_kind, self.provider, self.table, self.period)


@dataclass
class Batch:
    """One ingest run's encrypted file and its key."""

    batch_id: str
    file: str
    arrived: str
    state: str = LIVE
    destroyed: str | None = None


@dataclass
class Catalog:
    batches: dict[str, Batch] = field(default_factory=dict)
    submissions: list[Submission] = field(default_factory=list)

    def by_fingerprint(self, sha256: str) -> Submission | None:
        return next((s for s in self.submissions if s.sha256 == sha256), None)

    def live_batches(self) -> list[Batch]:
        return [b for b in self.batches.values() if b.state == LIVE]

    def settle(self) -> None:
        """Recompute which live submissions are current: the highest revision of each
        provider's table and period and, for snapshot tables, only the latest period."""
        live = {b.batch_id for b in self.live_batches()}
        best: dict[tuple, Submission] = {}
        for s in self.submissions:
            if s.batch_id not in live:
                s.state = DESTROYED
                continue
            key = s.slot[:3] if s.snapshot else s.slot
            rank = (s.period, s.revision, s.arrived)
            if key not in best or rank > (best[key].period, best[key].revision, best[key].arrived):
                best[key] = s
        current = {id(s) for s in best.values()}
        for s in self.submissions:
            if s.state != DESTROYED:
                s.state = CURRENT if id(s) in current else SUPERSEDED

    def current(self) -> list[Submission]:
        return [s for s in self.submissions if s.state == CURRENT]


def load(zone: Path) -> Catalog:
    path = zone / CATALOG_FILE
    if not path.exists():
        return Catalog()
    data = json.loads(path.read_text())
    return Catalog(
        batches={b["batch_id"]: Batch(**b) for b in data["batches"]},
        submissions=[Submission(**s) for s in data["submissions"]],
    )


def batch_intent(
    ws, batch_id: str, entries, *, state: str = "", unfinished: str | None = None
) -> intents.Intent:
    """An intent (governance.intents) for a change to zone 1 whose commit puts `batch_id` in
    this catalog (in `state`, if given)."""
    path = (ws.zone("landing") / CATALOG_FILE).relative_to(ws.root)
    where = {"batch_id": batch_id, "state": state}
    extra = {} if unfinished is None else {"unfinished": unfinished}
    return intents.file_lists(path, entries, items="batches", where=where, **extra)


def save(zone: Path, catalog: Catalog) -> None:
    """Replace the catalog atomically: write a new file, sync it, rename it over the old one,
    sync the folder. A crash leaves the old catalog or the new one."""
    catalog.settle()
    data = {
        "format": FORMAT,
        "batches": [asdict(b) for b in catalog.batches.values()],
        "submissions": [asdict(s) for s in catalog.submissions],
    }
    tmp = zone / f".{CATALOG_FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, zone / CATALOG_FILE)
    sync_folder(zone)


@contextlib.contextmanager
def locked(zone: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the landing zone's lock; with wait=False, yield False at once if another command
    holds it (the lock is released by the kernel if its holder is killed)."""
    with open(zone / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
