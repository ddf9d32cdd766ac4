"""Audit entries folded by key: at most one entry per key and interval, counting what it stands for.

Two streams would otherwise fill the audit log with near-copies: failures before sign-in, which
anyone can send (web.failures), and signed-in users' page views (web.views). Both keep the same
rule, made here once. For each key, the first event after a quiet interval is written at once,
with whatever was folded since the key's last entry; later events in the interval are counted
and written once the interval has passed: at the next event of any key, by the sweep the app
runs every minute, and at shutdown. A kill so loses at most one interval's count per key, never
the fact that events began. The counts of a key's entries add up to its events.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from openphm.governance.audit import AuditLog


@dataclass
class _Tally:
    written: float  # when this key last had an entry written
    folded: int = 0  # events since then, not yet written


class FoldedAudit:
    """Counts events per key and audits them as described above; a subclass says how an event
    becomes a key (`_key`) and what a key's entry says (`_entry`)."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the summary interval must be longer than 0 seconds")
        self.audit = audit
        self.interval = interval
        self.clock = clock
        self._tallies: OrderedDict[Hashable, _Tally] = OrderedDict()  # by when last written
        self._lock = threading.Lock()  # events arrive from the event loop and worker threads

    def _key(self, event: Hashable) -> Hashable:
        """The key an event is counted under (called with the lock held)."""
        return event

    def _entry(self, key: Hashable, count: int) -> None:
        raise NotImplementedError

    def _count(self, event: Hashable) -> None:
        """Count one event: written now if its key had no entry in the last interval (with the
        count folded since the last one), else folded until then."""
        with self._lock:
            now = self.clock()
            key = self._key(event)
            tally = self._tallies.get(key)
            if tally is not None and now - tally.written < self.interval:
                tally.folded += 1
                due = self._take_due(now)
            else:
                due = [(key, 1 + (tally.folded if tally else 0))]
                self._tallies.pop(key, None)
                self._tallies[key] = _Tally(now)
                due += self._take_due(now)
        self._write(due)

    def _tracked(self, key_part: object, position: int = 0) -> bool:
        """Whether some key being counted has `key_part` at `position` (lock held)."""
        return any(key[position] == key_part for key in self._tallies)

    def flush_due(self) -> None:
        """Write the counts whose interval has passed (the app's sweep calls this)."""
        with self._lock:
            due = self._take_due(self.clock())
        self._write(due)

    def flush(self) -> None:
        """Write every folded count, due or not: at shutdown, so a clean stop loses nothing."""
        with self._lock:
            due = [(key, tally.folded) for key, tally in self._tallies.items() if tally.folded]
            self._tallies.clear()
        self._write(due)

    def _take_due(self, now: float) -> list[tuple[Hashable, int]]:
        """Tallies whose interval has passed: those with a count are taken for writing and
        start a new interval; quiet ones are forgotten."""
        due = []
        while self._tallies:
            key, tally = next(iter(self._tallies.items()))
            if now - tally.written < self.interval:
                break
            del self._tallies[key]
            if tally.folded:
                due.append((key, tally.folded))
                self._tallies[key] = _Tally(now)
        return due

    def _write(self, due: list[tuple[Hashable, int]]) -> None:
        for key, count in due:
            self._entry(key, count)
