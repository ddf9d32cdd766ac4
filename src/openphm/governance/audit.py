"""The audit log: append-only, hash-chained, verifiable.

Each entry carries the SHA-256 of the entry before it, so editing, removing or reordering any
entry breaks the chain at a place `verify` can name. A separate head file records the last
entry's number and hash, so removing entries from the end is caught too. Entries hold counts and
names of files and tables, never patient values (those belong in no log: STYLE.md), and the text
of an analyst's query: what was asked of the zone, not what it answered.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openphm import clock

GENESIS = "0" * 64
LOG_FILE = "audit.jsonl"
HEAD_FILE = "audit.head"
LOCK_FILE = "audit.lock"
# A query is kept up to this many characters, so that one pasted script cannot swell the log.
QUERY_LIMIT = 2000


@dataclass(frozen=True)
class Actor:
    """Who is acting, and in which role (see openphm.governance.roles)."""

    user: str
    role: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    user: str
    role: str
    action: str
    outcome: str  # "ok", "refused" or "failed"
    purpose: str | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    prev: str = GENESIS
    hash: str = ""
    query: str = ""  # an analyst's query, as typed (capped at QUERY_LIMIT)

    def body(self) -> dict:
        data = asdict(self)
        data.pop("hash")
        data["reads"] = list(self.reads)
        data["writes"] = list(self.writes)
        data["counts"] = dict(self.counts)
        if not self.query:
            # Entries from before queries were kept have no such field: their hashes stay valid.
            data.pop("query")
        return data

    def computed_hash(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    # The columns every view of the log shows (command line and web alike).
    COLUMNS = ("#", "time", "user", "role", "action", "outcome", "purpose", "detail")

    def row(self) -> list[str]:
        """The entry as one row of `COLUMNS`: counts and the reason together as the detail."""
        parts = [", ".join(f"{k}={v}" for k, v in self.counts.items()), self.reason]
        if self.query:
            parts.append(f"query: {self.query}")
        detail = "; ".join(part for part in parts if part)
        return [
            str(self.seq),
            self.time[:19],
            self.user,
            self.role,
            self.action,
            self.outcome,
            self.purpose or "",
            detail,
        ]

    @classmethod
    def from_json(cls, data: dict) -> AuditEntry:
        data = dict(data)
        data["reads"] = tuple(data.get("reads", ()))
        data["writes"] = tuple(data.get("writes", ()))
        return cls(**data)


@dataclass(frozen=True)
class Verification:
    entries: int
    problems: tuple[str, ...]
    head: str

    @property
    def ok(self) -> bool:
        return not self.problems


def _capped(query: str) -> str:
    if len(query) <= QUERY_LIMIT:
        return query
    return f"{query[:QUERY_LIMIT]}… ({len(query) - QUERY_LIMIT:,} more characters)"


class AuditLog:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOG_FILE
        self.head_path = self.directory / HEAD_FILE

    @classmethod
    def initialise(cls, directory: Path) -> AuditLog:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=False)
        (directory / LOG_FILE).touch()
        (directory / HEAD_FILE).write_text(json.dumps({"seq": 0, "hash": GENESIS}) + "\n")
        return cls(directory)

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        outcome: str = "ok",
        purpose: str | None = None,
        reads: Sequence[str] = (),
        writes: Sequence[str] = (),
        counts: Mapping[str, int] | None = None,
        reason: str = "",
        query: str = "",
        now: dt.datetime | None = None,
    ) -> AuditEntry:
        """Append one entry; safe against concurrent writers (an exclusive file lock)."""
        if outcome not in ("ok", "refused", "failed"):
            raise ValueError(f"outcome must be ok, refused or failed, not {outcome!r}")
        bad_counts = {k: v for k, v in (counts or {}).items() if not isinstance(v, int)}
        if bad_counts:
            raise TypeError(f"audit counts must be whole numbers: {sorted(bad_counts)}")
        with open(self.directory / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            head = self._read_head()
            entry = AuditEntry(
                seq=head["seq"] + 1,
                time=(now or clock.now()).isoformat(timespec="microseconds"),
                user=actor.user,
                role=actor.role,
                action=action,
                outcome=outcome,
                purpose=purpose,
                reads=tuple(str(r) for r in reads),
                writes=tuple(str(w) for w in writes),
                counts=dict(counts or {}),
                reason=reason,
                prev=head["hash"],
                query=_capped(query),
            )
            entry = AuditEntry(**{**entry.__dict__, "hash": entry.computed_hash()})
            line = json.dumps({**entry.body(), "hash": entry.hash}, sort_keys=True)
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
                log.flush()
                os.fsync(log.fileno())
            self._write_head(entry.seq, entry.hash)
        return entry

    def entries(self) -> Iterator[AuditEntry]:
        with open(self.path, encoding="utf-8") as log:
            for line in log:
                if line.strip():
                    yield AuditEntry.from_json(json.loads(line))

    def verify(self) -> Verification:
        """Check every entry against its hash and its predecessor; name each break found."""
        problems: list[str] = []
        previous: AuditEntry | None = None
        count = 0
        with open(self.path, encoding="utf-8") as log:
            lines = [line for line in log if line.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                entry = AuditEntry.from_json(json.loads(line))
            except (ValueError, TypeError):
                problems.append(f"line {number}: not a readable audit entry (edited or damaged)")
                previous = None
                continue
            count += 1
            expected_seq = previous.seq + 1 if previous else 1
            if entry.computed_hash() != entry.hash:
                problems.append(
                    f"entry {entry.seq} (line {number}) was edited: "
                    "its content no longer matches its hash"
                )
            if entry.seq < expected_seq:
                problems.append(
                    f"entry {entry.seq} (line {number}) is out of order: "
                    f"entry {expected_seq} was expected there (entries reordered)"
                )
            elif entry.seq > expected_seq:
                missing = (
                    f"{expected_seq}"
                    if entry.seq == expected_seq + 1
                    else f"{expected_seq} to {entry.seq - 1}"
                )
                problems.append(f"entry {missing} missing before line {number} (removed)")
            elif entry.prev != (previous.hash if previous else GENESIS):
                problems.append(
                    f"entry {entry.seq} (line {number}) does not follow entry {expected_seq - 1}: "
                    "the entry before it was replaced"
                )
            previous = entry
        head = self._read_head()
        last_seq, last_hash = (previous.seq, previous.hash) if previous else (0, GENESIS)
        if head["seq"] > last_seq:
            problems.append(
                f"entries {last_seq + 1} to {head['seq']} were removed from the end of the log"
            )
        elif head["seq"] == last_seq and head["hash"] != last_hash and not problems:
            problems.append(f"entry {last_seq}, the last, was replaced")
        return Verification(entries=count, problems=tuple(problems), head=head["hash"])

    def _read_head(self) -> dict:
        return json.loads(self.head_path.read_text())

    def _write_head(self, seq: int, hash_: str) -> None:
        tmp = self.head_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": hash_}) + "\n")
        os.replace(tmp, self.head_path)
