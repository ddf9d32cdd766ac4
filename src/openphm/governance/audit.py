"""The audit log: append-only, hash-chained, verifiable, and whole after a crash.

Each entry carries the SHA-256 of the entry before it, so editing, removing or reordering any
entry breaks the chain at a place `verify` can name. A separate head file records the last
entry's number and hash, so removing entries from the end is caught too. Entries hold counts and
names of files and tables, never patient values (those belong in no log: STYLE.md), and the text
of an analyst's query: what was asked of the zone, not what it answered.

A crash cannot make two entries share a number. A line is appended and synced before the head is
replaced, so a crash between the two leaves the head behind the log; the next entry takes its
number and predecessor from the log's own last line. Lines past the head that carry its chain on
(the next numbers, each naming the one before) roll the head forward; a last line that a crash
cut short (no line end) is cut off, or given its line end if it is a whole entry; anything else
past the head is not trusted and the chain goes on from the head, so that `verify` still names
entries removed from the end. Entries are in time order (`_date`).
"""

from __future__ import annotations

import contextlib
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
# How far the clock may read behind the last entry without the entry saying so (`_date`).
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
_TICK = dt.timedelta(microseconds=1)
_BLOCK = 1 << 13  # read from the end of the log in blocks of this many bytes


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
    # The change (governance.intents) the entry records, so that a crash cannot record it twice.
    intent: str = ""
    prev: str = GENESIS
    hash: str = ""
    query: str = ""  # an analyst's query, as typed (capped at QUERY_LIMIT)

    def body(self) -> dict:
        data = asdict(self)
        data.pop("hash")
        if not data["intent"]:
            del data["intent"]  # so entries from before intents keep their hashes
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
class Head:
    """The last entry's number, hash and time, as the head file holds them."""

    seq: int
    hash: str
    time: str | None = None  # None in a head written before heads held the time


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
        intent: str = "",
    ) -> AuditEntry:
        """Append one entry; safe against concurrent writers (an exclusive file lock) and
        against a crash at any point (see the module's note)."""
        if outcome not in ("ok", "refused", "failed"):
            raise ValueError(f"outcome must be ok, refused or failed, not {outcome!r}")
        bad_counts = {k: v for k, v in (counts or {}).items() if not isinstance(v, int)}
        if bad_counts:
            raise TypeError(f"audit counts must be whole numbers: {sorted(bad_counts)}")
        with self._locked():
            last = self._last()
            time, clock_note = _date(last, now or clock.now())
            entry = AuditEntry(
                seq=last.seq + 1,
                time=time,
                user=actor.user,
                role=actor.role,
                action=action,
                outcome=outcome,
                purpose=purpose,
                reads=tuple(str(r) for r in reads),
                writes=tuple(str(w) for w in writes),
                counts=dict(counts or {}),
                reason="; ".join(r for r in (reason, clock_note) if r),
                intent=intent,
                prev=last.hash,
                query=_capped(query),
            )
            entry = AuditEntry(**{**entry.__dict__, "hash": entry.computed_hash()})
            line = json.dumps({**entry.body(), "hash": entry.hash}, sort_keys=True)
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
                log.flush()
                os.fsync(log.fileno())
            self._write_head(Head(entry.seq, entry.hash, entry.time))
        return entry

    def recover(self) -> None:
        """Mend what a crash left in the log itself: a head behind, a torn last line."""
        with self._locked():
            self._last()

    def last_number(self) -> int:
        """The number of the last entry the head knows (the log may hold a few more)."""
        return self._read_head().seq

    def recorded(self, intent: str, after: int) -> int:
        """How many entries after number `after` record the change `intent`."""
        tail = self._tail(after) or []
        return sum(1 for entry in tail if entry.seq > after and entry.intent == intent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _last(self) -> Head:
        """The entry the next one follows (see the module's note); the caller holds the lock."""
        self._cut_torn_line()
        head = self._read_head()
        tail = self._tail(head.seq) or []  # None: an unreadable line, which verify names
        own = next((e for e in tail if (e.seq, e.hash) == (head.seq, head.hash)), None)
        if own and head.time is None:
            head = Head(head.seq, head.hash, own.time)  # a head from before heads held times
        link = head
        for entry in (e for e in tail if e.seq > head.seq):
            if (entry.seq, entry.prev, entry.hash) != (
                link.seq + 1,
                link.hash,
                entry.computed_hash(),
            ):
                return head  # not the chain the head knows: go on from the head
            link = Head(entry.seq, entry.hash, entry.time)
        if link != head:
            self._write_head(link)  # the crash came between a line and the head
        return link

    def _tail(self, seq: int) -> list[AuditEntry] | None:
        """The entries numbered after `seq`, with the last numbered `seq` or less before them,
        in order; None if a line among them is not an entry."""
        tail: list[AuditEntry] = []
        for line in self._lines_from_end():
            if not line.strip():
                continue
            try:
                entry = AuditEntry.from_json(json.loads(line))
            except (ValueError, TypeError):
                return None
            tail.append(entry)
            if entry.seq <= seq:
                break
        return tail[::-1]

    def _lines_from_end(self) -> Iterator[bytes]:
        """The log's lines, last first (the bytes after the last line end first of all, empty
        when the log ends with one), read in blocks from the end: a new entry needs only the
        tail of a log that may hold millions."""
        with open(self.path, "rb") as log:
            end = log.seek(0, os.SEEK_END)
            rest = b""
            while end > 0:
                start = max(0, end - _BLOCK)
                log.seek(start)
                lines = (log.read(end - start) + rest).split(b"\n")
                end, rest = start, lines.pop(0)
                yield from reversed(lines)
            yield rest

    def _cut_torn_line(self) -> None:
        """Bytes after the last line end are a line whose writer died: given its line end if
        they are a whole entry, else cut off (the entry was never written)."""
        torn = next(self._lines_from_end())
        if not torn:
            return
        try:
            AuditEntry.from_json(json.loads(torn))
            whole = True
        except (ValueError, TypeError):
            whole = False
        with open(self.path, "rb+") as log:
            end = log.seek(0, os.SEEK_END)
            if whole:
                log.write(b"\n")
            else:
                log.truncate(end - len(torn))
            log.flush()
            os.fsync(log.fileno())

    def entries(self) -> Iterator[AuditEntry]:
        with open(self.path, encoding="utf-8") as log:
            for line in log:
                if line.strip():
                    yield AuditEntry.from_json(json.loads(line))

    def verify(self) -> Verification:
        """Check every entry against its hash, its predecessor and its predecessor's time;
        name each break found."""
        problems: list[str] = []
        previous: AuditEntry | None = None
        count = 0
        with open(self.path, encoding="utf-8") as log:
            lines = [line for line in log if line.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                entry = AuditEntry.from_json(json.loads(line))
            except (ValueError, TypeError):
                torn = number == len(lines) and not line.endswith("\n")
                problems.append(
                    f"line {number}: the last line is incomplete, a write cut short by a crash "
                    "(the next entry recorded removes it)"
                    if torn
                    else f"line {number}: not a readable audit entry (edited or damaged)"
                )
                previous = None
                continue
            count += 1
            problems += _breaks(entry, previous, number)
            previous = entry
        head = self._read_head()
        last_seq, last_hash = (previous.seq, previous.hash) if previous else (0, GENESIS)
        if head.seq > last_seq:
            problems.append(
                f"entries {last_seq + 1} to {head.seq} were removed from the end of the log"
            )
        elif head.seq == last_seq and head.hash != last_hash and not problems:
            problems.append(f"entry {last_seq}, the last, was replaced")
        return Verification(entries=count, problems=tuple(problems), head=head.hash)

    def _read_head(self) -> Head:
        data = json.loads(self.head_path.read_text())
        return Head(data["seq"], data["hash"], data.get("time"))

    def _write_head(self, head: Head) -> None:
        tmp = self.head_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(head)) + "\n")
        os.replace(tmp, self.head_path)


def _breaks(entry: AuditEntry, previous: AuditEntry | None, number: int) -> list[str]:
    """What is wrong with `entry`, on line `number`, coming after `previous`."""
    problems = []
    expected_seq = previous.seq + 1 if previous else 1
    if entry.computed_hash() != entry.hash:
        problems.append(
            f"entry {entry.seq} (line {number}) was edited: its content no longer matches its hash"
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
    if previous and _moment(entry.time) < _moment(previous.time):
        problems.append(
            f"entry {entry.seq} (line {number}) is dated {entry.time}, earlier than entry "
            f"{previous.seq} before it ({previous.time}): entries are recorded in time order, "
            "so a time was changed"
        )
    return problems


def _moment(time: str) -> dt.datetime:
    """An entry's time; an unreadable one sorts first (its hash check names the edit)."""
    try:
        return dt.datetime.fromisoformat(time).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _date(last: Head, moment: dt.datetime) -> tuple[str, str]:
    """When an entry after `last` happened, and a note for its reason if the clock disagrees.
    `moment`, the clock's reading, if that is after `last`; otherwise 1 µs after `last`, so that
    the log's order is always its time order. Within CLOCK_TOLERANCE (a correction, or a second
    machine writing to the same log) that is all; further behind, the clock was set back, and
    the entry says what it read, so that the data protection officer sees it (retention and
    close go by the same clock). It is not refused: a log that stops recording would stop every
    command, the officer's reading of the log included."""
    if last.time is None:
        return moment.isoformat(timespec="microseconds"), ""
    previous = dt.datetime.fromisoformat(last.time)
    if moment > previous:
        return moment.isoformat(timespec="microseconds"), ""
    note = ""
    if previous - moment > CLOCK_TOLERANCE:
        note = (
            f"the system clock read {moment.isoformat(timespec='seconds')}, "
            f"{_span(previous - moment)} before entry {last.seq}: dated just after it "
            "(has the clock been set back?)"
        )
    return (previous + _TICK).isoformat(timespec="microseconds"), note


def _span(gap: dt.timedelta) -> str:
    if gap.days:
        return f"{gap.days} day{'s' if gap.days > 1 else ''}"
    return f"{round(gap.total_seconds() / 60)} minutes"
