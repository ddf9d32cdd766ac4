"""The controller practices' public keys, registered with the programme (promise P5).

Reads a public key file a practice sent (made by `phm practice keygen` at the practice); writes
`WORKSPACE/practices/<ODS>.pub` and the audit log. Zone 2 seals each practice's
re-identification tokens to the key registered here, so only that practice's private key, which
never leaves the practice, opens them. Only the programme's controller practices may register:
a token for anyone else would let a non-controller re-identify patients. One key per practice:
a practice's key is never silently replaced (the DPO replaces it) and never shared with another.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PublicKey

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor
from openphm.practice.keys import load_public_key

FOLDER = "practices"


class NotAController(UserFacingError):
    """A practice that is not one of the programme's joint controllers."""


class KeyAlreadyRegistered(UserFacingError):
    """The practice has a different key registered: replacing it is the DPO's decision."""


class KeyInUse(UserFacingError):
    """The key is already another practice's: one key per practice, never shared."""


@dataclass(frozen=True)
class Registration:
    path: Path  # where the key is kept
    fingerprint: str  # key_id of the registered key
    replaced: str | None = None  # key_id of the key it replaced, if any
    unchanged: bool = False  # the same key was already registered


def register_practice(
    ws, actor: Actor, ods_code: str, public_key_file: Path, *, replace: bool = False
) -> Registration:
    """Record `ods_code`'s public key. A practice's first key is registered by the processor
    engineer. A different key for a practice that has one is refused unless `replace` is given,
    and replacing is the data protection officer's action (`practice.replace_key`): lists
    already sent were sealed to the old key, so the practice cannot open them with the new one
    until `phm link` seals its tokens again and `phm cohort` writes its lists again. A key that
    is already another practice's is refused outright: a token sealed to it would open at both
    practices. Every refusal is audited."""
    action = "practice.replace_key" if replace else "practice.register"
    ws.authorise(actor, action)
    ws.require_open()
    ods_code = ods_code.strip().upper()

    def refuse(error: type[UserFacingError], reason: str, message: str):
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise error(message)

    if ods_code not in ws.config.programme.controllers:
        refuse(
            NotAController,
            f"{ods_code} is not a controller practice of this programme",
            f"{ods_code} is not among programme.controllers in programme.toml; only a "
            "controller practice may receive re-identification tokens",
        )
    new_key = load_public_key(public_key_file)  # refuses a file that is not a public key
    fingerprint = key_id(new_key)
    keys = registered_keys(ws)
    others = sorted(o for o, k in {**keys, **_providers_keys(ws)}.items()
                    if o != ods_code and bytes(k) == bytes(new_key))  # fmt: skip
    if others:
        refuse(
            KeyInUse,
            f"key {fingerprint} offered for {ods_code} is already registered for "
            f"{', '.join(others)}",
            f"{public_key_file} is the public key already registered for practice "
            f"{', '.join(others)}; each practice registers its own key (made with phm practice "
            f"keygen at {ods_code}). Ask {ods_code} for its own practice.pub",
        )
    folder = ws.root / FOLDER
    target = folder / f"{ods_code}.pub"
    old = keys.get(ods_code)
    if old is not None and bytes(old) == bytes(new_key):
        ws.audit.record(
            actor, action, reads=(f"{FOLDER}/{ods_code}.pub",), counts={"keys": 0},
            reason=f"key {fingerprint} was already registered for {ods_code}",
        )  # fmt: skip
        return Registration(target, fingerprint, unchanged=True)
    if old is not None and not replace:
        refuse(
            KeyAlreadyRegistered,
            f"{ods_code} already has key {key_id(old)}; a different key {fingerprint} needs "
            "the data protection officer's replacement",
            f"practice {ods_code} already has a different public key registered "
            f"(fingerprint {key_id(old)}; offered {fingerprint}). Replacing it makes the lists "
            "already sent unreadable with the new private key until they are sealed again; "
            "only the data protection officer may replace it: phm practice register "
            "--replace --role data-protection-officer",
        )
    folder.mkdir(mode=0o700, exist_ok=True)
    staging = folder / f".{ods_code}.pub.tmp"
    shutil.copyfile(public_key_file, staging)
    os.replace(staging, target)
    replaced = key_id(old) if old is not None else None
    ws.audit.record(
        actor,
        action,
        writes=(f"{FOLDER}/{ods_code}.pub",),
        counts={"keys": 1, **({"replaced": 1} if replaced else {})},
        reason=f"key {replaced} replaced by {fingerprint}" if replaced else "",
    )
    return Registration(target, fingerprint, replaced)


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


def _providers_keys(ws) -> dict[str, PublicKey]:
    """The hospital providers' registered keys: a practice may not register one either."""
    from openphm.pseudonymise.providers import registered_provider_keys

    return registered_provider_keys(ws)
