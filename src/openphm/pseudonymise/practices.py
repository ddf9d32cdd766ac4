"""The controller practices' public keys, registered with the programme (promise P5).

Reads a public key file a practice sent (made by `phm practice keygen` at the practice); writes
`WORKSPACE/practices/<ODS>.pub` and the audit log. Zone 2 seals each practice's
re-identification tokens to the key registered here, so only that practice's private key, which
never leaves the practice, opens them. Only the programme's controller practices may register:
a token for anyone else would let a non-controller re-identify patients.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from nacl.public import PublicKey

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor
from openphm.practice.keys import load_public_key

FOLDER = "practices"


class NotAController(UserFacingError):
    """A practice that is not one of the programme's joint controllers."""


def register_practice(ws, actor: Actor, ods_code: str, public_key_file: Path) -> Path:
    """Record `ods_code`'s public key; a new key replaces the old one (tokens are then sealed
    again to the new key at the next `phm link`). Returns where the key is kept."""
    ws.authorise(actor, "practice.register")
    ws.require_open()
    ods_code = ods_code.strip().upper()
    if ods_code not in ws.config.programme.controllers:
        ws.audit.record(
            actor,
            "practice.register",
            outcome="refused",
            reason=f"{ods_code} is not a controller practice of this programme",
        )
        raise NotAController(
            f"{ods_code} is not among programme.controllers in programme.toml; only a "
            "controller practice may receive re-identification tokens"
        )
    load_public_key(public_key_file)  # refuses a file that is not a practice public key
    folder = ws.root / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / f"{ods_code}.pub"
    staging = folder / f".{ods_code}.pub.tmp"
    shutil.copyfile(public_key_file, staging)
    os.replace(staging, target)
    ws.audit.record(
        actor, "practice.register", writes=(f"{FOLDER}/{ods_code}.pub",), counts={"keys": 1}
    )
    return target


def registered_keys(ws) -> dict[str, PublicKey]:
    """{ODS code: public key} for every controller practice that has registered one."""
    folder = ws.root / FOLDER
    return {
        ods: load_public_key(folder / f"{ods}.pub")
        for ods in ws.config.programme.controllers
        if (folder / f"{ods}.pub").is_file()
    }


def key_id(public_key: PublicKey) -> str:
    """A short fingerprint of a public key: a token sealed to an older key is sealed again."""
    return hashlib.blake2b(bytes(public_key), digest_size=8).hexdigest()
