"""The programme's close (promise P9): every data key destroyed, then every file of the landing
and linked zones deleted, and every patient-level file of the outputs zone (cohort lists,
recipients' extracts, anything not released); only released, disclosure-controlled outputs,
the privacy notice and the audit log are kept; a signed destruction certificate (JSON, and a
printable HTML copy) says what went, when and how, and lists exactly what remains; then the
signing secret itself is destroyed.

Reads the key store and the zones; destroys keys and files; writes the certificate into the
outputs zone and the closed state into workspace.json. Close is due once the programme's end
date is reached; the data protection officer's scheduled job (`governance.schedule`) keeps it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openphm import clock
from openphm.governance import certificate, intents, remains
from openphm.governance.audit import Actor
from openphm.keystore import KeyName

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

CERTIFICATE_FILE = "destruction-certificate.json"
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
    certificate that lists exactly what remains; then destroy the signing secret too (only
    its public half, in workspace.json and the certificate, is needed to check it). Safe to
    run again after a crash part-way: it finishes the job."""
    closed_at = clock.now()
    destroyed_keys = [n for n in ws.keystore.names() if n != KeyName.SIGNING]
    for name in destroyed_keys:
        ws.keystore.destroy(name)
    handed_over = remains.handed_over(ws)
    deleted = _delete_patient_data(ws)
    # Log first, so the certificate can quote the head that includes the close itself.
    entry = ws.audit.record(
        actor,
        "programme.close",
        reason=reason,
        writes=tuple(f"outputs/{name}" for name in remains.CERTIFICATE_FILES),
        counts={
            "keys_destroyed": len(destroyed_keys) + 1,  # and the signing secret, once signed
            "files_deleted": sum(len(f) for f in deleted.values()),
        },
    )
    body = {
        "programme": ws.config.programme.name,
        "closed_at": closed_at.isoformat(timespec="seconds"),
        "closed_by": {"user": actor.user, "role": actor.role},
        "reason": reason,
        "method": METHOD,
        "keys_destroyed": sorted({*destroyed_keys, *ws.keystore.destroyed(), KeyName.SIGNING}),
        "files_deleted": deleted,
        "handed_over": handed_over,
        "kept": remains.kept(ws.zone("outputs")),
        "audit_log": {
            "path": "audit/",
            "kind": "audit log (hash-chained; its head at close is below)",
            "head": {"seq": entry.seq, "hash": entry.hash},
        },
        "audit_log_head": {"seq": entry.seq, "hash": entry.hash},
    }
    signed = certificate.sign(body, ws.keystore.get(KeyName.SIGNING))
    path = ws.zone("outputs") / CERTIFICATE_FILE
    _write_atomically(path, json.dumps(signed, indent=2) + "\n")
    _write_atomically(path.with_suffix(".html"), certificate.html(signed))
    ws.meta["closed"] = {"at": body["closed_at"], "by": actor.user, "certificate": str(path)}
    _write_atomically(ws.root / "workspace.json", json.dumps(ws.meta, indent=2) + "\n")
    finish_close(ws)
    return Closure(path, len(destroyed_keys) + 1, sum(len(f) for f in deleted.values()))


def finish_close(ws: Workspace) -> None:
    """Destroy the signing secret once the certificate is written (also what a re-run or the
    schedule does after a close that died between the two)."""
    if ws.closed and ws.keystore.has(KeyName.SIGNING):
        ws.keystore.destroy(KeyName.SIGNING)


def _delete_patient_data(ws: Workspace) -> dict[str, list[str]]:
    """Every file of zones 1 and 3, and every file of zone 4 that is not a released output
    or the notice; {zone: [paths]}."""
    deleted: dict[str, list[str]] = {}
    for zone in ("landing", "linked"):
        folder = ws.zone(zone)
        deleted[zone] = sorted(
            str(p.relative_to(ws.root)) for p in folder.rglob("*") if p.is_file()
        )
        shutil.rmtree(folder)
        folder.mkdir(mode=0o700)
    outputs = ws.zone("outputs")
    doomed = remains.patient_level(outputs)
    deleted["outputs"] = [str(p.relative_to(ws.root)) for p in doomed]
    for path in doomed:
        path.unlink()
    for folder in sorted((p for p in outputs.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return deleted


def expire_recipients(ws: Workspace, actor: Actor) -> list[str]:
    """Destroy the secret of every recipient whose access has expired, so their key and
    pseudonyms can never be made again. Returns the recipients expired now."""
    expired = []
    for recipient in ws.config.recipients:
        name = KeyName.recipient(recipient.slug)
        if recipient.expires < clock.today() and ws.keystore.has(name):
            entry = intents.Entry(
                actor,
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
