"""Sessions, CSRF tokens and security headers: the web service's own safeguards.

A signed-in session lives on the server (so signing out and its time limits really end it); the
browser holds only its id, signed with a per-process key, in an HttpOnly, SameSite=Strict
cookie. A visitor's session is not stored: the signed cookie is all of it. Every session, signed
in or not, carries a CSRF token that every form posts back. Every response says what the
browser may load (only this origin) and data pages are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from openphm.web.accounts import User
from openphm.web.sign_in_ledger import SignInLedger

COOKIE = "phm_session"
CSRF_FIELD = "csrf_token"
DEFAULT_IDLE_MINUTES = 30
# A signed-in session ends this long after sign-in however busy it is, so a cookie taken from a
# browser left signed in is not good for ever (a long working day).
DEFAULT_SESSION_HOURS = 12
# Signed-in sessions kept at most. Each takes a successful sign-in, so only account holders can
# add them; past the cap the least recently used ends.
MAX_SESSIONS = 10_000
# A session id starts with its kind: only signed-in sessions are stored on the server.
_SIGNED_IN, _VISITOR, _ENDED = "user", "visitor", "ended"
# Failed sign-ins before a lock, and how long it lasts: five tries within the lock's length for
# one user name (the NCSC's advice is a limit of about ten; five with a short lock keeps a
# guesser to a few hundred tries a day and a user who mistypes barely delayed), and more for
# one client address, which catches one password tried against many names.
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
LOCK_MINUTES = 15
# Tracked names and addresses kept at most: a flood of made-up names cannot exhaust memory
# (names longer than an account name can be are refused before they are counted).
_MAX_TRACKED = 10_000
MAX_NAME_LENGTH = 64


@dataclass
class Session:
    id: str
    csrf: str
    user: User | None = None
    started: float = 0.0
    last_seen: float = 0.0

    @property
    def expired(self) -> bool:
        """A visitor's session that replaced a signed-in one ended by a time limit (the sign-in
        page says why they were signed out)."""
        return self.id.startswith(f"{_ENDED}-")


class SessionStore:
    """Signed-in sessions, kept on the server so that signing out and the time limits really
    end them: `idle_minutes` without a request, `session_hours` after sign-in however busy,
    the least recently used when `max_sessions` are signed in, and a restart (the cookie's key
    is the process's own).

    A visitor who has not signed in is not stored at all: their session id is random and their
    CSRF token is a MAC of it, so the signed cookie carries everything and any number of
    cookie-less requests costs the server no memory."""

    def __init__(
        self,
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        session_hours: float = DEFAULT_SESSION_HOURS,
        *,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_seconds = idle_minutes * 60
        self.limit_seconds = session_hours * 3600
        self.max_sessions = max_sessions
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # sign-in runs in worker threads, loading in the loop

    def __len__(self) -> int:
        return len(self._sessions)

    def cookie_value(self, session: Session) -> str:
        return f"{session.id}.{self._mac(session.id)}"

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def anonymous(self, *, expired: bool = False) -> Session:
        """A new visitor's session, not stored (`expired`: it replaces one that timed out)."""
        return self._visitor(f"{_ENDED if expired else _VISITOR}-{secrets.token_urlsafe(32)}")

    def _visitor(self, session_id: str) -> Session:
        return Session(session_id, csrf=self._mac(f"csrf {session_id}"))

    def load(self, cookie: str | None) -> Session:
        """The session a cookie names, or a new visitor's (marked `expired` if the cookie named
        a signed-in session that a time limit ended)."""
        session_id, _, mac = (cookie or "").partition(".")
        if not (session_id and _same(mac, self._mac(session_id))):
            return self.anonymous()
        if not session_id.startswith(f"{_SIGNED_IN}-"):
            return self._visitor(session_id)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:  # signed out, or forgotten once ended
                return self.anonymous()
            now = self.clock()
            if self._ended(session, now):
                del self._sessions[session_id]
                return self.anonymous(expired=True)
            session.last_seen = now
            self._sessions.move_to_end(session_id)
            return session

    def sign_in(self, old: Session, user: User) -> Session:
        """A new session id and CSRF token at sign-in, so a planted id is worth nothing. Ended
        sessions nobody came back to are forgotten here, so abandoned ones do not pile up."""
        now = self.clock()
        session_id = f"{_SIGNED_IN}-{secrets.token_urlsafe(32)}"
        session = Session(session_id, secrets.token_urlsafe(32), user, started=now, last_seen=now)
        with self._lock:
            self._sessions.pop(old.id, None)
            for ended in [k for k, s in self._sessions.items() if self._ended(s, now)]:
                del self._sessions[ended]
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[session_id] = session
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def _ended(self, session: Session, now: float) -> bool:
        idle = now - session.last_seen > self.idle_seconds
        return idle or now - session.started > self.limit_seconds


class SignInThrottle:
    """Counts failed sign-ins per user name and per client address. While a name or an
    address has had the limit's number of failures in the last LOCK_MINUTES, sign-in is
    refused for it without checking the password, so a locked guesser learns nothing.

    Each attempt is counted as a failure *before* the password is checked (`attempt`), under a
    lock, and refunded if it succeeds (`succeeded`): requests sent in parallel cannot all pass
    the check while the first ones are still being verified. Unknown names are counted like
    real ones, so locking does not reveal which names are accounts. When more keys are tracked
    than `max_tracked`, locked keys are kept and, of the rest, those furthest from their limit
    go first, so a flood of made-up names or addresses cannot wipe out the count of a name
    under attack. IPv6 clients are counted by /64.

    With a `ledger`, accounts' and addresses' failures are also kept on disk and read back at
    start, so a restart does not lift their locks. Names that are not accounts are counted in
    memory only (one may be a password typed into the name box): a restart clears theirs."""

    def __init__(
        self,
        *,
        per_name: int = MAX_FAILURES_PER_NAME,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
        lock_minutes: float = LOCK_MINUTES,
        max_tracked: int = _MAX_TRACKED,
        clock: Callable[[], float] = time.time,
        ledger: SignInLedger | None = None,
    ) -> None:
        self.limits = {"name": per_name, "address": per_address}
        self.lock_seconds = lock_minutes * 60
        self.max_tracked = max_tracked
        self.clock = clock
        self.ledger = ledger
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._refusals_audited: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        if ledger is not None:
            self._failures = ledger.load(since=clock() - self.lock_seconds)
            self._make_room()

    def attempt(self, name: str, address: str, *, account: bool = False) -> float | None:
        """Count an attempt as a failure now; its token, or None if the name or the address
        is locked (then nothing is counted). `account`: the name is an account's, so its
        count is kept on disk as well as the address's."""
        with self._lock:
            keys = self._keys(name, address)
            if account and self.ledger is not None:
                # The ledger is the record of an account's failures: `phm user unlock` (any
                # process) clears it there, and this server must see that, not its memory.
                since = self.clock() - self.lock_seconds
                self._failures[keys[0]] = self.ledger.times(keys[0], since)
            if any(len(self._recent(key)) >= self.limits[key[0]] for key in keys):
                return None
            if len(self._failures) >= self.max_tracked:
                self._make_room()
            now = self.clock()
            for key in keys:
                self._failures[key] = [*self._recent(key), now]
            if self.ledger is not None:
                kept = list(keys) if account else [keys[1]]
                self.ledger.counted(kept, now, since=now - self.lock_seconds)
            return now

    def succeeded(self, name: str, address: str, token: float) -> None:
        """The attempt `token` was right: clear the name's count and refund the address."""
        with self._lock:
            name_key, address_key = self._keys(name, address)
            self._failures.pop(name_key, None)
            times = self._failures.get(address_key)
            if times and token in times:
                times.remove(token)
            if self.ledger is not None:
                self.ledger.cleared(name_key)
                self.ledger.refunded(address_key, token)

    def first_refusal(self, name: str, address: str) -> bool:
        """Whether this refusal is the first of its lock: only the locked keys (the name, the
        address or both) count, so a locked client trying new names or new addresses cannot
        grow the audit log at will; each lock is audited once."""
        with self._lock:
            now, first = self.clock(), False
            for key in self._keys(name, address):
                recent = self._recent(key)
                if len(recent) < self.limits[key[0]]:
                    continue  # not this key's lock
                locked_since = recent[self.limits[key[0]] - 1]
                if self._refusals_audited.get(key, float("-inf")) < locked_since:
                    self._refusals_audited[key] = now
                    first = True
            if len(self._refusals_audited) > self.max_tracked:
                since = now - self.lock_seconds
                self._refusals_audited = {
                    k: t for k, t in self._refusals_audited.items() if t > since
                }
            return first

    def _keys(self, name: str, address: str) -> tuple[tuple[str, str], ...]:
        return ("name", _normal(name)), ("address", client_network(address))

    def _recent(self, key: tuple[str, str]) -> list[float]:
        since = self.clock() - self.lock_seconds
        return [t for t in self._failures.get(key, ()) if t > since]

    def _make_room(self) -> None:
        """Forget stale keys; if that is not enough, forget the least threatening live ones
        down to 90%: never a locked key, and among the rest those furthest from their limit
        (as a share of it), oldest first."""
        live = {key: self._recent(key) for key in self._failures}
        live = {key: times for key, times in live.items() if times}
        if len(live) >= self.max_tracked * 9 // 10:
            unlocked = [k for k in live if len(live[k]) < self.limits[k[0]]]
            unlocked.sort(key=lambda k: (len(live[k]) / self.limits[k[0]], live[k][-1]))
            for key in unlocked[: len(live) - self.max_tracked * 9 // 10]:
                del live[key]
        self._failures = live


def client_network(address: str) -> str:
    """The address a client is counted by: an IPv4 address, or an IPv6 /64 (one household or
    server is given a whole /64, so counting single IPv6 addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def name_key(name: str) -> tuple[str, str]:
    """The key a name's failures are counted under (in memory and in the ledger)."""
    return ("name", _normal(name))


def _normal(name: str) -> str:
    return name.strip().lower()


def csrf_ok(session: Session, submitted: object) -> bool:
    """Whether a form posted the session's token (a file uploaded under its name is not)."""
    return isinstance(submitted, str) and bool(submitted) and _same(session.csrf, submitted)


def _same(given: str, expected: str) -> bool:
    """Compared in constant time, as bytes: compare_digest refuses str with non-ASCII
    characters by raising, which would answer a caller's odd cookie with a server error."""
    return hmac.compare_digest(given.encode(), expected.encode())


def security_headers(nonce: str, *, data_page: bool, wasm: bool = False) -> dict[str, str]:
    """The headers of every answer. `wasm`: the page runs libsodium's WebAssembly (a practice
    opening its tokens on its own machine), which browsers compile only under
    'wasm-unsafe-eval'; it allows compiling WebAssembly, never JavaScript's eval."""
    scripts = f"script-src 'self' 'nonce-{nonce}'" + (" 'wasm-unsafe-eval'" if wasm else "")
    csp = "; ".join(
        [
            "default-src 'self'",
            scripts,
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if data_page:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return headers
