"""The management of the web service's local accounts: add (whoever administers the
workspace's files, `phm user add`), and the data protection officer's list, disable, enable,
unlock, reset a password. One function per action, each doing it and auditing it, so `phm user
…` and the DPO's Accounts page (web.dpo) act alike; the caller has checked the role
(`ws.authorise`, which audits a refusal). Never a password or a hash in the log or the output.
"""

from __future__ import annotations

import time

from openphm.governance.audit import Actor
from openphm.governance.roles import Role
from openphm.programme.workspace import Workspace
from openphm.web.accounts import AccountError, LocalAccounts, User
from openphm.web.security import LOCK_MINUTES, MAX_FAILURES_PER_NAME, name_key
from openphm.web.sign_in_ledger import SignInLedger

USERS = "web/users.json"
FAILURES = "web/sign_in_failures.sqlite"


def failures(ws: Workspace, name: str) -> int:
    """An account's failed sign-ins counting towards its lock now."""
    since = time.time() - LOCK_MINUTES * 60
    return len(SignInLedger(ws.root).times(name_key(name), since))


def add(ws: Workspace, admin: Actor, name: str, password: str, role: Role,
        ods: str | None = None) -> User:  # fmt: skip
    """A new account (`LocalAccounts.add`: a practice's names one of the programme's
    controllers, a provider's one of its providers), audited as made by `admin`."""
    user = LocalAccounts(ws.root).add(
        name, password, role, ws.config.programme.controllers, ods,
        providers=ws.config.list_providers(),
    )  # fmt: skip
    ws.audit.record(admin, "web.user.add", writes=(USERS,), reason=f"{user.name} as {role.value}")
    return user


def account_list(ws: Workspace, actor: Actor, *, audit: bool = True) -> list[dict]:
    """Every account: name, role, ods, standing, failed_sign_ins, locked (audited as a count;
    not again when the page shows the list after an action, which has its own entry)."""
    records = LocalAccounts(ws.root).records()
    for r in records:
        r["failed_sign_ins"] = failures(ws, r["name"])
        r["locked"] = r["failed_sign_ins"] >= MAX_FAILURES_PER_NAME
    if audit:
        ws.audit.record(actor, "web.user.list", reads=(USERS,), counts={"accounts": len(records)})
    return records


def disable(ws: Workspace, actor: Actor, name: str) -> None:
    LocalAccounts(ws.root).disable(name)
    ws.audit.record(actor, "web.user.disable", writes=(USERS,), reason=name)


def enable(ws: Workspace, actor: Actor, name: str) -> None:
    LocalAccounts(ws.root).enable(name)
    ws.audit.record(actor, "web.user.enable", writes=(USERS,), reason=name)


def unlock(ws: Workspace, actor: Actor, name: str) -> int:
    """Clear the account's counted failures; how many were cleared. A lock on a client address
    is left: it guards every account from that address."""
    if not LocalAccounts(ws.root).is_account(name):
        raise AccountError(f"there is no account {name!r} (phm user list shows them)")
    cleared = failures(ws, name)
    SignInLedger(ws.root).cleared(name_key(name))
    ws.audit.record(actor, "web.user.unlock", writes=(FAILURES,),
                    counts={"failures_cleared": cleared}, reason=name)  # fmt: skip
    return cleared


def reset_password(ws: Workspace, actor: Actor, name: str, password: str) -> None:
    LocalAccounts(ws.root).reset_password(name, password)
    ws.audit.record(actor, "web.user.reset_password", writes=(USERS,), reason=name)
