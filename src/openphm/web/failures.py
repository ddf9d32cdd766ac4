"""Failures before sign-in, audited so that no caller can bury the audit log.

Anyone can send a request that fails: a form without its CSRF token, a sign-in with a name that
is not an account, a sign-in while locked. Audited one entry each with the URL or the name in
it, they let a script write megabytes of its own text into the log the data protection officer
reads, and hide what matters in it. So they are folded: for each client address and kind of
failure, at most one entry per interval, in the fixed words of its `FailureKind`, counting the
requests it stands for. Nothing the caller sent (path, header, body, name) is written; the
address is written only as the IP address or IPv6 /64 it parses to.

The first failure after a quiet interval is written at once; later ones are counted and written
when the interval has passed: at the next failure from anyone, by the sweep the app runs every
interval, and at shutdown. So a killed server loses at most one interval's count per address and
kind, never the fact that failures began.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from openphm.governance.audit import Actor, AuditLog
from openphm.web.security import LOCK_MINUTES, client_network

ANONYMOUS = Actor(user="anonymous", role="none")
SUMMARY_SECONDS = 60
# Address-and-kind tallies kept at once (about 100 addresses): failures from further addresses
# share one tally per kind, so a flood from many addresses adds entries per interval, not per
# address.
MAX_TALLIES = 300
OTHER_ADDRESSES = "other addresses (too many at once to count one by one)"
NOT_AN_IP_ADDRESS = "a client that gave no IP address"


@dataclass(frozen=True)
class FailureKind:
    """A kind of refused or failed request, with the fixed words its audit entries carry."""

    action: str
    outcome: str
    text: str

    def record(self, audit: AuditLog, actor: Actor) -> None:
        """One entry for one failure: for a signed-in user, or an account named at sign-in."""
        audit.record(actor, self.action, outcome=self.outcome, reason=self.text)


CSRF_REFUSED = FailureKind("web.csrf", "refused", "a form was posted without its CSRF token")
UNKNOWN_NAME = FailureKind("web.sign_in", "failed", "sign-in with a name that is not an account")
WRONG_PASSWORD = FailureKind("web.sign_in", "failed", "wrong password")
SIGN_IN_LOCKED = FailureKind(
    "web.sign_in",
    "refused",
    f"sign-in refused without checking the password: too many failed sign-ins for the name "
    f"or from the address (locked for up to {LOCK_MINUTES} minutes)",
)


@dataclass
class _Tally:
    written: float  # when this address and kind last had an entry written
    folded: int = 0  # failures since then, not yet written


class FailuresBeforeSignIn:
    """Counts failures per client address and kind, and audits them as described above."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        interval: float = SUMMARY_SECONDS,
        max_tallies: int = MAX_TALLIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the summary interval must be longer than 0 seconds")
        self.audit = audit
        self.interval = interval
        self.max_tallies = max_tallies
        self.clock = clock
        self._tallies: OrderedDict[tuple[str, FailureKind], _Tally] = OrderedDict()  # by written
        self._lock = threading.Lock()  # failures arrive from the event loop and worker threads

    def failed(self, kind: FailureKind, address: str) -> None:
        """Count one failure: written now if its address and kind had no entry in the last
        interval (with the count folded since the last one), else folded until then."""
        with self._lock:
            now = self.clock()
            key = (self._source(address), kind)
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

    def _source(self, address: str) -> str:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            source = NOT_AN_IP_ADDRESS
        else:
            source = client_network(address)
        tracked = any(key[0] == source for key in self._tallies)
        if not tracked and len(self._tallies) >= self.max_tallies:
            return OTHER_ADDRESSES
        return source

    def _take_due(self, now: float) -> list[tuple[tuple[str, FailureKind], int]]:
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

    def _write(self, due: list[tuple[tuple[str, FailureKind], int]]) -> None:
        for (source, kind), count in due:
            self.audit.record(
                ANONYMOUS,
                kind.action,
                outcome=kind.outcome,
                counts={"requests": count},
                reason=f"{kind.text}; from {source} (one entry per address and kind every "
                f"{self.interval:g} seconds at most, counting the requests since the last)",
            )
