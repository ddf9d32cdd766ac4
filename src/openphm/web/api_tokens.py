"""API tokens: how Power BI, Tableau or a script reads the released tables (web.data_api)
without a browser session. The data protection officer makes, lists and revokes them
(`phm api-token …`, audited); each belongs to one local account and acts as that account.

A token is `phm_<id>_<secret>`: the id names it in lists and the audit log; the secret (256
random bits) is shown once, when it is made, and kept only as its SHA-256 in
WORKSPACE/web/api_tokens.json (owner-only). A secret that long needs no slow hash: nobody can
guess it, and the digest is compared in constant time. A token stops working when it is revoked,
when it expires (90 days by default, never after the programme's end), and while its account
is disabled.

The DPO's actions are one function each, doing it and auditing it (`create_token`,
`token_records`, `revoke_token`), as web.account_admin does for accounts: the caller has checked
the role (`open_as`, which audits a refusal). The log names a token by its id, never the token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openphm import clock
from openphm.errors import UserFacingError
from openphm.web.accounts import ACTIVE, LocalAccounts, User

if TYPE_CHECKING:
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

TOKENS_FILE = Path("web") / "api_tokens.json"
DEFAULT_DAYS = 90
_TOKEN = re.compile(r"^phm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class TokenError(UserFacingError):
    """A token that cannot be made or revoked as asked."""


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str  # shown once, never stored
    user: str
    expires: dt.date


class ApiTokens:
    """The workspace's API tokens: {"tokens": {id: {user, label, sha256, created_at,
    created_by, expires, revoked_at, revoked_by}}}."""

    def __init__(self, workspace_root: Path) -> None:
        self.root = Path(workspace_root)
        self.path = self.root / TOKENS_FILE

    def create(
        self, user: str, label: str, by: str, programme_end: dt.date, days: int = DEFAULT_DAYS
    ) -> IssuedToken:
        account = LocalAccounts(self.root)
        if not account.is_account(user):
            raise TokenError(f"there is no account {user!r} (phm user list shows them)")
        if days < 1:
            raise TokenError("--days must be at least 1")
        today = clock.now().date()
        expires = min(today + dt.timedelta(days=days), programme_end)
        if expires <= today:
            raise TokenError("the programme has ended: no new token can be made")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._locked() as data:
            data["tokens"][token_id] = {
                "user": user,
                "label": label,
                "sha256": _digest(secret),
                "created_at": clock.now().isoformat(timespec="seconds"),
                "created_by": by,
                "expires": expires.isoformat(),
                "revoked_at": None,
                "revoked_by": None,
            }
        return IssuedToken(token_id, f"phm_{token_id}_{secret}", user, expires)

    def revoke(self, token_id: str, by: str) -> dict:
        with self._locked() as data:
            record = data["tokens"].get(token_id)
            if record is None:
                raise TokenError(f"there is no token {token_id!r} (phm api-token list shows them)")
            if record["revoked_at"] is None:
                record["revoked_at"] = clock.now().isoformat(timespec="seconds")
                record["revoked_by"] = by
            return dict(record)

    def records(self) -> list[dict]:
        """Every token, without its digest, with its standing now."""
        today = clock.now().date()
        out = []
        for token_id, record in sorted(self._load()["tokens"].items()):
            shown = {k: v for k, v in record.items() if k != "sha256"}
            out.append({"id": token_id, **shown, "standing": _standing(record, today)})
        return out

    def user_for(self, presented: str) -> tuple[str, User | None, str]:
        """(token id or "", the account the token acts as or None, why not). Nothing of the
        presented value is returned or kept but the id it names, when it names one."""
        match = _TOKEN.match(presented)
        if match is None:
            return "", None, "not an OpenPHM API token"
        token_id, secret = match.groups()
        record = self._load()["tokens"].get(token_id)
        if record is None or not hmac.compare_digest(record["sha256"], _digest(secret)):
            return "", None, "no such token"
        standing = _standing(record, clock.now().date())
        if standing != ACTIVE:
            return token_id, None, f"token {standing}"
        accounts = LocalAccounts(self.root)
        if accounts.standing(record["user"]) != ACTIVE:
            return token_id, None, "token's account is disabled"
        user = next(u for u in accounts.users() if u.name == record["user"])
        return token_id, user, ""

    def _load(self) -> dict:
        if not self.path.is_file():
            return {"tokens": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """The token file read, changed and written back under an exclusive lock (two DPOs
        acting at once), owner-only."""
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            yield data
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(data, indent=2) + "\n")
            os.replace(tmp, self.path)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _standing(record: dict, today: dt.date) -> str:
    if record["revoked_at"] is not None:
        return "revoked"
    if dt.date.fromisoformat(record["expires"]) < today:
        return "expired"
    return ACTIVE


def create_token(
    ws: Workspace, actor: Actor, user: str, label: str, days: int = DEFAULT_DAYS
) -> IssuedToken:
    """A token for `user`'s account, made by `actor` (web.api_token.create): it expires in
    `days`, never after the programme's end."""
    issued = ApiTokens(ws.root).create(user, label, actor.user, ws.config.programme.end_date, days)
    ws.audit.record(
        actor,
        "web.api_token.create",
        writes=(TOKENS_FILE.as_posix(),),
        reason=f"token {issued.id} for {issued.user}, expires {issued.expires}",
    )
    return issued


def token_records(ws: Workspace, actor: Actor) -> list[dict]:
    """Every token (`ApiTokens.records`: never its digest), audited (web.api_token.list)."""
    records = ApiTokens(ws.root).records()
    ws.audit.record(actor, "web.api_token.list", reads=(TOKENS_FILE.as_posix(),))
    return records


def revoke_token(ws: Workspace, actor: Actor, token_id: str) -> dict:
    """Revoke the token `token_id` (web.api_token.revoke); its record."""
    record = ApiTokens(ws.root).revoke(token_id, actor.user)
    ws.audit.record(
        actor,
        "web.api_token.revoke",
        writes=(TOKENS_FILE.as_posix(),),
        reason=f"token {token_id} of {record['user']}",
    )
    return record
