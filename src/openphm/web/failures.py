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
import time
from collections.abc import Callable
from dataclasses import dataclass

from openphm.governance.audit import Actor, AuditLog
from openphm.web.folding import FoldedAudit
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


class FailuresBeforeSignIn(FoldedAudit):
    """Counts failures per client address and kind, and audits them as described above (the
    folding itself is web.folding's, shared with page views)."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        interval: float = SUMMARY_SECONDS,
        max_tallies: int = MAX_TALLIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(audit, interval=interval, clock=clock)
        self.max_tallies = max_tallies

    def failed(self, kind: FailureKind, address: str) -> None:
        """Count one failure: written now if its address and kind had no entry in the last
        interval (with the count folded since the last one), else folded until then."""
        self._count((address, kind))

    def _key(self, event: tuple[str, FailureKind]) -> tuple[str, FailureKind]:
        address, kind = event
        return self._source(address), kind

    def _source(self, address: str) -> str:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            source = NOT_AN_IP_ADDRESS
        else:
            source = client_network(address)
        if not self._tracked(source) and len(self._tallies) >= self.max_tallies:
            return OTHER_ADDRESSES
        return source

    def _entry(self, key: tuple[str, FailureKind], count: int) -> None:
        source, kind = key
        self.audit.record(
            ANONYMOUS,
            kind.action,
            outcome=kind.outcome,
            counts={"requests": count},
            reason=f"{kind.text}; from {source} (one entry per address and kind every "
            f"{self.interval:g} seconds at most, counting the requests since the last)",
        )
