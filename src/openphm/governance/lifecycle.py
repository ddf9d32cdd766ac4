"""The programme's close (promise P9): every data key destroyed, then every file of the landing
and linked zones deleted; only the released aggregate outputs and the audit log are kept; a
signed destruction certificate says what went, when and how.

Reads the key store and the zones; destroys keys and files; writes the certificate into the
outputs zone and the closed state into workspace.json. Close is due automatically once the
programme's end date has passed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openphm import clock
from openphm.governance import certificate, intents
from openphm.governance.audit import Actor
from openphm.keystore import KeyName

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

CERTIFICATE_FILE = "destruction-certificate.json"
SYSTEM = Actor(user="openphm", role="system")
METHOD = (
    "cryptographic erase: each data key overwritten with random bytes, synced and deleted from "
    "the key store, leaving every encrypted zone file unreadable; then the zone files deleted"
)


@dataclass(frozen=True)
class Closure:
    certificate: Path
    keys_destroyed: int
    files_deleted: int


def close_programme(ws: Workspace, actor: Actor, *, reason: str) -> Closure:
    """Destroy all programme data but the released outputs and the audit log; sign a
    certificate. Safe to run again after a crash part-way: it finishes the job."""
    closed_at = clock.now()
    destroyed_keys = [n for n in ws.keystore.names() if n != KeyName.SIGNING]
    for name in destroyed_keys:
        ws.keystore.destroy(name)
    deleted: dict[str, list[str]] = {}
    for zone in ("landing", "linked"):
        folder = ws.zone(zone)
        files = sorted(str(p.relative_to(ws.root)) for p in folder.rglob("*") if p.is_file())
        deleted[zone] = files
        shutil.rmtree(folder)
        folder.mkdir(mode=0o700)
    # Log first, so the certificate can quote the head that includes the close itself.
    entry = ws.audit.record(
        actor,
        "programme.close",
        reason=reason,
        writes=(f"outputs/{CERTIFICATE_FILE}",),
        counts={
            "keys_destroyed": len(destroyed_keys),
            "files_deleted": sum(len(f) for f in deleted.values()),
        },
    )
    body = {
        "programme": ws.config.programme.name,
        "closed_at": closed_at.isoformat(timespec="seconds"),
        "closed_by": {"user": actor.user, "role": actor.role},
        "reason": reason,
        "method": METHOD,
        "keys_destroyed": destroyed_keys
        + [k for k in ws.keystore.destroyed() if k not in destroyed_keys],
        "files_deleted": deleted,
        "kept": ["outputs/ (released, disclosure-controlled aggregates)", "audit/ (audit log)"],
        "audit_log_head": {"seq": entry.seq, "hash": entry.hash},
    }
    signed = certificate.sign(body, ws.keystore.get(KeyName.SIGNING))
    path = ws.zone("outputs") / CERTIFICATE_FILE
    _write_atomically(path, json.dumps(signed, indent=2) + "\n")
    ws.meta["closed"] = {"at": body["closed_at"], "by": actor.user, "certificate": str(path)}
    _write_atomically(ws.root / "workspace.json", json.dumps(ws.meta, indent=2) + "\n")
    return Closure(path, len(destroyed_keys), sum(len(f) for f in deleted.values()))


def close_if_due(ws: Workspace) -> Closure | None:
    """Close the programme if its end date has passed and it is still open."""
    if ws.meta.get("closed") or clock.today() < ws.config.programme.end_date:
        return None
    return close_programme(
        ws, SYSTEM, reason=f"the programme's end date {ws.config.programme.end_date} passed"
    )


def expire_recipients(ws: Workspace) -> list[str]:
    """Destroy the secret of every recipient whose access has expired, so their key and
    pseudonyms can never be made again. Returns the recipients expired now."""
    expired = []
    for recipient in ws.config.recipients:
        name = KeyName.recipient(recipient.slug)
        if recipient.expires < clock.today() and ws.keystore.has(name):
            entry = intents.Entry(
                SYSTEM,
                "recipient.expire",
                reason="recipients' access expired: their keys destroyed",
                counts={"recipients_expired": 1},
            )
            # Bound to its entry (governance.intents): a destroyed key is always recorded.
            with intents.committing(ws.audit, intents.key_destroyed(name, [entry])):
                ws.keystore.destroy(name)
            expired.append(recipient.name)
    return expired


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
