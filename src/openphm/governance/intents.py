"""Intents: a change and its audit entries, bound so that no crash can part them.

A command that commits a change and then records it (ingest's catalog, link's zone 3, retention,
a release's manifest, a recipient's key) first writes an intent: the entries it will record and
how to tell whether the change took effect. It holds a lock on the intent while it commits,
records the entries (each naming the intent) and deletes the intent. Killed anywhere in between,
it leaves the intent unlocked, and `recover`, which `Workspace.open` calls before anything else,
settles it: if the change took effect, the entries not yet recorded are recorded; if not, one
entry says that the command was interrupted and what became of it. So every change that took
effect is recorded, once, and nothing is recorded as done that was not.

Reads and writes the audit folder (`audit/intents/`); reads the landing catalog, zone 3, a JSON
file or the key store's list of keys only to tell whether a change took effect. An intent holds
what its entries hold: never a patient value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from openphm.console import UserFacingError
from openphm.engine import EngineError
from openphm.governance.audit import Actor, AuditLog
from openphm.landing import catalog as cat

FOLDER = "intents"
# Zone 3's record of the changes committed there, one intent id a row: a change's commit is
# its mark's commit, so the mark says whether the change took effect.
LINKED_MARKS = "linked._intents"
CATALOGUED, LINKED, FILE_SAYS, KEY_GONE = "catalogued", "linked", "file-says", "key-gone"
UNFINISHED = "interrupted before its change took effect: nothing of it was kept; run it again"
LATE = (
    " (recorded when the workspace was next opened: the command stopped after its change took "
    "effect)"
)


class IntentError(UserFacingError):
    """An intent file that cannot be read."""


@dataclass(frozen=True)
class Entry:
    """An audit entry an intent will record: the arguments of `AuditLog.record`."""

    actor: Actor
    action: str
    outcome: str = "ok"
    purpose: str | None = None
    reads: Sequence[str] = ()
    writes: Sequence[str] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""

    def record(self, audit: AuditLog, *, intent: str = "", late: bool = False) -> None:
        audit.record(
            self.actor,
            self.action,
            outcome=self.outcome,
            purpose=self.purpose,
            reads=self.reads,
            writes=self.writes,
            counts=self.counts,
            reason=(self.reason + LATE).strip() if late else self.reason,
            intent=intent,
        )

    @classmethod
    def from_json(cls, data: dict) -> Entry:
        return cls(**{**data, "actor": Actor(**data["actor"])})


@dataclass(frozen=True)
class Intent:
    id: str
    check: dict  # how to tell whether the change took effect: see `_took_effect`
    entries: tuple[Entry, ...]
    after: int = 0  # the number of the log's last entry when the intent was written
    unfinished: str = UNFINISHED  # what the log says if the change did not take effect


def landing_batch(
    batch_id: str, entries: Sequence[Entry], *, state: str = "", unfinished: str = UNFINISHED
) -> Intent:
    """An intent for a change to zone 1 whose commit puts `batch_id` in the landing catalog
    (in `state`, if given)."""
    check = {"kind": CATALOGUED, "batch": batch_id, "state": state}
    return Intent(_new_id(), check, tuple(entries), unfinished=unfinished)


def linked_change(con, entries: Sequence[Entry]) -> Intent:
    """An intent for the change in zone 3 that `con` has under way: its mark goes into the
    same transaction, so the transaction's commit is the mark's."""
    intent = Intent(_new_id(), {"kind": LINKED}, tuple(entries))
    con.execute(f"CREATE TABLE IF NOT EXISTS {LINKED_MARKS} (intent VARCHAR)")
    con.execute(f"INSERT INTO {LINKED_MARKS} VALUES (?)", [intent.id])
    return intent


def file_says(path: Path, field: str, value: str, entries: Sequence[Entry]) -> Intent:
    """An intent for a change whose commit is the atomic replacement of the JSON file at
    `path` (relative to the workspace) by one whose `field` is `value`."""
    check = {"kind": FILE_SAYS, "path": str(path), "field": field, "value": value}
    return Intent(_new_id(), check, tuple(entries))


def key_destroyed(name: str, entries: Sequence[Entry]) -> Intent:
    """An intent for the destruction of the key `name`."""
    return Intent(_new_id(), {"kind": KEY_GONE, "key": name}, tuple(entries))


def unmark(con, intent: Intent) -> None:
    """Drop the intent's mark from zone 3 once its entries are recorded: it has done its work,
    and a run that changes nothing then leaves the zone as it was. (A run killed after its
    commit leaves its mark: an id, no patient data.)"""
    con.execute(f"DELETE FROM {LINKED_MARKS} WHERE intent = ?", [intent.id])


@contextlib.contextmanager
def committing(audit: AuditLog, intent: Intent) -> Iterator[None]:
    """Write `intent`, let the caller commit its change, then record the entries and delete
    the intent. An exception inside is left, like a kill, for the next `recover` to settle:
    the change may or may not have taken effect."""
    folder = audit.directory / FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"{intent.id}.json"
    staging = folder / f".{intent.id}.tmp"
    with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        # Locked before it has its name, so that `recover` never finds a live intent unlocked.
        fcntl.flock(handle, fcntl.LOCK_EX)
        intent = dataclasses.replace(intent, after=audit.last_number())
        json.dump(asdict(intent), handle)
        handle.flush()
        os.fsync(handle.fileno())
        os.replace(staging, path)
        cat.sync_folder(folder)
        yield
        _complete(audit, intent)
        path.unlink()


def recover(ws) -> None:
    """Settle what killed commands left: mend the log itself (`AuditLog.recover`), then
    complete or roll back each intent that no running command holds."""
    ws.audit.recover()
    folder = ws.audit.directory / FOLDER
    # Not the `.tmp` files of intents being written: one a kill left there was never whole,
    # so its command committed nothing.
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        with _unheld(path) as handle:
            if handle is None:
                continue
            intent = _read(path, handle.read())
            took_effect = _took_effect(ws, intent)
            if took_effect is None:
                continue  # cannot be told now: a later open settles it
            if took_effect:
                _complete(ws.audit, intent, late=True)
            else:
                _roll_back(ws.audit, intent)
            path.unlink()


def _complete(audit: AuditLog, intent: Intent, *, late: bool = False) -> None:
    """Record the entries a kill may have stopped short of recording, in order, once."""
    done = audit.recorded(intent.id, after=intent.after)
    for entry in intent.entries[done:]:
        entry.record(audit, intent=intent.id, late=late)


def _roll_back(audit: AuditLog, intent: Intent) -> None:
    first = intent.entries[0]
    audit.record(
        first.actor,
        first.action,
        outcome="failed",
        reason=intent.unfinished,
        intent=intent.id,
    )


@contextlib.contextmanager
def _unheld(path: Path) -> Iterator[TextIO | None]:
    """`path` open and locked if no running command holds it; None if one does, or if its
    command settled and deleted it meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    with open(fd, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield handle if os.fstat(handle.fileno()).st_nlink else None


def _read(path: Path, text: str) -> Intent:
    try:
        data = json.loads(text)
        entries = tuple(Entry.from_json(e) for e in data.pop("entries"))
        return Intent(**data, entries=entries)
    except (ValueError, TypeError, KeyError):
        raise IntentError(
            f"{path}: the record of an unfinished change cannot be read, so it cannot be "
            "settled; move it out of the folder (keep it for the data protection officer) and "
            "run the command again"
        ) from None


def _took_effect(ws, intent: Intent) -> bool | None:
    """Whether the intent's change was committed; None if that cannot be told now."""
    return _CHECKS[intent.check["kind"]](ws, intent)


def _catalogued(ws, intent: Intent) -> bool:
    batch = cat.load(ws.zone("landing")).batches.get(intent.check["batch"])
    return batch is not None and intent.check["state"] in ("", batch.state)


def _marked(ws, intent: Intent) -> bool | None:
    if ws.closed:
        return None  # zone 3 is destroyed; the intent stays, as evidence
    try:
        con = ws.connect_linked(read_only=True)
    except EngineError:
        return None  # a running command holds zone 3
    try:
        marks = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'linked' "
            f"AND table_name = '{LINKED_MARKS.removeprefix('linked.')}'"
        ).fetchone()[0]
        query = f"SELECT count(*) FROM {LINKED_MARKS} WHERE intent = ?"
        return bool(marks) and con.execute(query, [intent.id]).fetchone()[0] > 0
    finally:
        con.close()


def _says(ws, intent: Intent) -> bool:
    path = ws.root / intent.check["path"]
    try:
        held = json.loads(path.read_text()).get(intent.check["field"])
    except FileNotFoundError:
        return False
    return held == intent.check["value"]


def _key_gone(ws, intent: Intent) -> bool:
    return not ws.keystore.has(intent.check["key"])


_CHECKS = {CATALOGUED: _catalogued, LINKED: _marked, FILE_SAYS: _says, KEY_GONE: _key_gone}


def _new_id() -> str:
    return secrets.token_hex(8)
