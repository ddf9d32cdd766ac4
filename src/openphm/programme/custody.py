"""`phm custody assign`: hand each part of a workspace to the operating-system account whose role
uses it, so that the operating system refuses the rest (docs/promises.md "Custody").

On one machine (docs/ARCHITECTURE.md "Threat model"):

- `keys/`: the administrator's, 0711: every custodian passes through to its own store, and
  nobody lists it.
- `keys/processor/` (linkage, landing batches, recipients' secrets): the processor's account
  and its own group, 0700, keys 0600.
- `keys/analytics/` (the linked key): the analytics account, with the processor's own group
  reading (`phm link` writes zone 3 with it), 0750, keys 0640.
- `keys/dpo/` (the signing key): the DPO's account and its own group, 0700, keys 0600.
- `landing/`: the processor's alone, 0700.
- `linked/`, `outputs/`, `audit/`: the analytics account and the programme group, 2770.
- `refresh/` (the monthly refresh's records: stage statuses and counts, no patient value): the
  processor's account, which runs the refresh, with the programme group reading, 2750.
- the workspace folder: the administrator and the programme group, 2750.

The programme group holds the three programme accounts and never an analyst's own login:
analysts work through the web service, which runs as the analytics account.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from openphm.governance.audit import Actor
from openphm.keystore.custody import ANALYTICS, DPO, PROCESSOR


class CustodyError(RuntimeError):
    """Custody cannot be assigned as asked; the message says what to do."""


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int  # the account's own (primary) group


def account(name: str) -> Account:
    """An operating-system account by name (or number, for an account with no entry)."""
    try:
        entry = pwd.getpwnam(name)
        return Account(entry.pw_uid, entry.pw_gid)
    except KeyError:
        if name.isdigit():
            return Account(int(name), int(name))
        raise CustodyError(f"there is no account called {name!r} on this machine") from None


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise CustodyError(f"there is no group called {name!r} on this machine") from None


def assign_custody(
    ws, actor: Actor, *, processor: str, analytics: str, dpo: str, group: str
) -> None:
    """Give each key store and zone to its account (see the table above); audited."""
    ws.authorise(actor, "custody.assign")
    if os.geteuid() != 0:
        raise CustodyError("only the machine's administrator (root) can hand files to accounts")
    owners = {PROCESSOR: account(processor), ANALYTICS: account(analytics), DPO: account(dpo)}
    programme = group_id(group)
    keys = ws.keystore.directory
    if not all((keys / c).is_dir() for c in owners):
        raise CustodyError(f"{keys} is not split by custodian (a workspace made before custody)")
    os.chown(keys, 0, 0)
    os.chmod(keys, 0o711)
    shared = {PROCESSOR: None, ANALYTICS: owners[PROCESSOR].gid, DPO: None}
    for custodian, owner in owners.items():
        _hand_over(keys / custodian, owner.uid, shared[custodian] or owner.gid,
                   0o750 if shared[custodian] else 0o700)  # fmt: skip
    _hand_over(ws.zone("landing"), owners[PROCESSOR].uid, owners[PROCESSOR].gid, 0o700)
    for folder in (ws.zone("linked"), ws.zone("outputs"), ws.root / "audit"):
        _hand_over(folder, owners[ANALYTICS].uid, programme, 0o2770)
    (ws.root / "refresh").mkdir(exist_ok=True)  # openphm.refresh.record.FOLDER
    _hand_over(ws.root / "refresh", owners[PROCESSOR].uid, programme, 0o2750)
    os.chown(ws.root, 0, programme)
    os.chmod(ws.root, 0o2750)
    for name in ("workspace.json", "programme.toml"):
        os.chown(ws.root / name, 0, programme)
        os.chmod(ws.root / name, 0o640)
    ws.audit.record(
        actor,
        "custody.assign",
        writes=("keys", "landing", "linked", "outputs", "audit", "refresh"),
        reason=f"key stores and zones handed to their accounts: processor {processor}, "
        f"analytics {analytics}, data protection officer {dpo}; programme group {group}",
    )


def _hand_over(folder: Path, uid: int, gid: int, mode: int) -> None:
    """Owner, group and mode for a folder and everything in it (files lose execute, and the
    group's write unless the folder's mode grants it)."""
    file_mode = mode & 0o666
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, gid)
        os.chmod(path, mode if path.is_dir() else file_mode)
