"""Counted sign-in failures on disk, so that restarting the web service does not lift a lock.

WORKSPACE/web/sign_in_failures.sqlite, beside the accounts and owner-only like them, holds one
row per counted failure of an account's name or of a client address, while it counts towards a
lock (security.LOCK_MINUTES). A name that is not an account is never written: it may be a
password typed into the wrong box. SQLite (in the standard library) because a sign-in adds or
removes a row without rewriting the file, which a flood of sign-ins would make costly, and two
servers on one workspace share it safely.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

FAILURES_FILE = Path("web") / "sign_in_failures.sqlite"

Key = tuple[str, str]  # ("name", account name) or ("address", client address or IPv6 /64)


class SignInLedger:
    def __init__(self, workspace_root: Path) -> None:
        path = Path(workspace_root) / FAILURES_FILE
        path.parent.mkdir(mode=0o700, exist_ok=True)
        # Made owner-only before SQLite opens it; SQLite gives its journal the same mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        # One connection shared by the server's threads; SignInThrottle's lock serialises it.
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS failures (kind TEXT, key TEXT, time REAL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS failures_by_time ON failures (time)")

    def load(self, since: float) -> dict[Key, list[float]]:
        """The failures after `since`, oldest first; older ones are deleted (they no longer
        count)."""
        with self._db:
            self._db.execute("DELETE FROM failures WHERE time <= ?", (since,))
            rows = self._db.execute("SELECT kind, key, time FROM failures ORDER BY time").fetchall()
        found: dict[Key, list[float]] = {}
        for kind, key, time in rows:
            found.setdefault((kind, key), []).append(time)
        return found

    def counted(self, keys: list[Key], when: float, *, since: float) -> None:
        """One failure at `when` for each key; failures at or before `since` are deleted."""
        with self._db:
            self._db.execute("DELETE FROM failures WHERE time <= ?", (since,))
            self._db.executemany(
                "INSERT INTO failures VALUES (?, ?, ?)", [(*key, when) for key in keys]
            )

    def cleared(self, key: Key) -> None:
        """A successful sign-in: the name's failures no longer count."""
        with self._db:
            self._db.execute("DELETE FROM failures WHERE kind = ? AND key = ?", key)

    def refunded(self, key: Key, when: float) -> None:
        """The failure counted at `when` was a success after all: remove it, only it."""
        with self._db:
            self._db.execute(
                "DELETE FROM failures WHERE rowid = (SELECT rowid FROM failures "
                "WHERE kind = ? AND key = ? AND time = ? LIMIT 1)",
                (*key, when),
            )
