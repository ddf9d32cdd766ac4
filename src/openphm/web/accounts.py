"""Who may sign in: an authentication interface, and the embedded default behind it, local
accounts with argon2-hashed passwords in WORKSPACE/web/users.json (owner-only).

An OpenID Connect provider (NHS CIS2 is one) replaces local accounts by implementing the same
`Authenticator` interface: docs/web.md says how. Whatever the source, the service sees a `User`:
a name, one role from governance.roles, and for a practice or a hospital provider the ODS code
it acts for.
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from openphm.errors import UserFacingError
from openphm.governance.roles import Role

USERS_FILE = Path("web") / "users.json"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12


class AccountError(UserFacingError):
    """An account that cannot be made or changed as asked."""


ACTIVE, DISABLED, MUST_CHANGE = "active", "disabled", "must change password"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    ods: str | None = None  # the practice (or provider) its user acts for; None for others


class Authenticator(ABC):
    """Turns credentials into a User, or None. One implementation per identity source."""

    @abstractmethod
    def authenticate(self, username: str, password: str) -> User | None: ...

    def is_account(self, username: str) -> bool:
        """Whether a name is a known account: only then may a failed sign-in's name be
        audited (a password typed into the name box must not reach the log)."""
        return False

    def standing(self, username: str) -> str:
        """ACTIVE, DISABLED (may not sign in; a session it has is ended) or MUST_CHANGE (a
        reset password: every page but the one to choose a new password is refused). An
        identity provider that manages its own accounts leaves every user ACTIVE."""
        return ACTIVE


class LocalAccounts(Authenticator):
    """Accounts stored in the workspace: {"users": {name: {role, ods, password_hash,
    disabled, must_change_password}}} (the last two absent until set)."""

    def __init__(self, workspace_root: Path) -> None:
        self.path = Path(workspace_root) / USERS_FILE
        self._hasher = PasswordHasher()
        # Checked against an unknown name too, so a wrong name costs as long as a wrong password.
        self._dummy = self._hasher.hash("not a password anyone has")

    def _load(self) -> dict:
        if not self.path.is_file():
            return {"users": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def add(
        self,
        name: str,
        password: str,
        role: Role,
        controllers: list[str],
        ods=None,
        providers: list[str] = (),
    ) -> User:
        """A new account; a practice user names one of the `controllers`, a provider user one
        of the programme's `providers` (ProgrammeConfig.list_providers)."""
        if not _USERNAME.match(name):
            raise AccountError(
                f"{name!r} is not a user name: 2 to 64 lower-case letters, digits, . _ or -"
            )
        _check_password(password)
        if role is Role.PRACTICE and ods not in controllers:
            raise AccountError(
                f"a practice user needs --ods naming one of the programme's controller "
                f"practices ({', '.join(controllers)}); got {ods!r}"
            )
        if role is Role.PROVIDER and ods not in providers:
            raise AccountError(
                f"a provider user needs --ods naming one of the programme's hospital or "
                f"community providers ({', '.join(providers) or 'none'}); got {ods!r}"
            )
        if role not in (Role.PRACTICE, Role.PROVIDER) and ods is not None:
            raise AccountError("--ods is only for practice and provider users")
        data = self._load()
        if name in data["users"]:
            raise AccountError(f"user {name!r} already exists")
        data["users"][name] = {
            "role": role.value,
            "ods": ods,
            "password_hash": self._hasher.hash(password),
        }
        self._write(data)
        return User(name, role, ods)

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.path)

    def authenticate(self, username: str, password: str) -> User | None:
        record = self._load()["users"].get(username)
        stored = record["password_hash"] if record else self._dummy
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if record is None or record.get("disabled"):
            return None  # a disabled account cannot sign in, whatever the password
        return User(username, Role(record["role"]), record.get("ods"))

    def is_account(self, username: str) -> bool:
        return username in self._load()["users"]

    def standing(self, username: str) -> str:
        record = self._load()["users"].get(username)
        if record is None or record.get("disabled"):
            return DISABLED
        return MUST_CHANGE if record.get("must_change_password") else ACTIVE

    def _record(self, data: dict, name: str) -> dict:
        record = data["users"].get(name)
        if record is None:
            raise AccountError(f"there is no account {name!r} (phm user list shows them)")
        return record

    def disable(self, name: str) -> None:
        """The account can no longer sign in, and a session it has ends at its next request.
        Kept, not deleted: the audit log names it, and `enable` restores it."""
        data = self._load()
        self._record(data, name)["disabled"] = True
        self._write(data)

    def enable(self, name: str) -> None:
        data = self._load()
        self._record(data, name).pop("disabled", None)
        self._write(data)

    def reset_password(self, name: str, password: str) -> None:
        """A new password the administrator hands over; the user must choose their own at
        their next sign-in before any page opens (`standing` is MUST_CHANGE until then)."""
        _check_password(password)
        data = self._load()
        record = self._record(data, name)
        record["password_hash"] = self._hasher.hash(password)
        record["must_change_password"] = True
        self._write(data)

    def change_password(self, name: str, current: str, new: str) -> None:
        """The user's own change: the current password, then a new one that differs from it."""
        if self.authenticate(name, current) is None:
            raise AccountError("the current password is not right")
        if new == current:
            raise AccountError("the new password must differ from the current one")
        _check_password(new)
        data = self._load()
        record = self._record(data, name)
        record["password_hash"] = self._hasher.hash(new)
        record.pop("must_change_password", None)
        self._write(data)

    def records(self) -> list[dict]:
        """Every account without its password hash: name, role, ods, standing."""
        return [
            {"name": name, "role": r["role"], "ods": r.get("ods"), "standing": self.standing(name)}
            for name, r in sorted(self._load()["users"].items())
        ]

    def users(self) -> list[User]:
        return [
            User(name, Role(r["role"]), r.get("ods")) for name, r in self._load()["users"].items()
        ]


def as_dict(user: User) -> dict:
    return {**asdict(user), "role": user.role.value}


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
