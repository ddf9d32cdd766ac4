"""The hospital providers' public keys, registered with the programme (promise P5), under the
practices' rules (openphm.pseudonymise.practices).

Reads a public key file a provider sent (made by `phm provider keygen` at the trust); writes
`WORKSPACE/providers/<ODS>.pub` and the audit log. Zone 2 seals the tokens of the provider's
own local patient ids to the key registered here (openphm.pseudonymise.hospital), so only the
provider's private key, which never leaves it, opens them. Only a provider the programme
receives admitted-care, emergency-care, outpatients or community extracts from
(`ProgrammeConfig.list_providers`) may register; a provider's key is never silently replaced
(the DPO replaces it, `provider.replace_key`), and a key already registered for any other
organisation, practice or provider, is always refused (practices refuse providers' keys too).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nacl.public import PublicKey

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor
from openphm.practice.keys import load_public_key
from openphm.pseudonymise.practices import (
    KeyAlreadyRegistered,
    KeyInUse,
    NotAController,
    Registration,
    key_id,
    registered_keys,
)

FOLDER = "providers"


def register_provider(
    ws, actor: Actor, ods_code: str, public_key_file: Path, *, replace: bool = False
) -> Registration:
    """Record a hospital provider's public key. Its first key is registered by the processor
    engineer (`provider.register`); a different key for a provider that has one is refused
    unless `replace` is given, which is the data protection officer's action
    (`provider.replace_key`): lists already sent were sealed to the old key. A key already
    registered for a practice or another provider is refused outright. Every refusal is
    audited."""
    action = "provider.replace_key" if replace else "provider.register"
    ws.authorise(actor, action)
    ws.require_open()
    ods_code = ods_code.strip().upper()

    def refuse(error: type[UserFacingError], reason: str, message: str):
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise error(message)

    if ods_code not in ws.config.list_providers():
        refuse(
            NotAController,
            f"{ods_code} is not a hospital or community provider of this programme",
            f"{ods_code} sends this programme no admitted-care, emergency-care, outpatients or "
            "community extract (programme.toml [[sources]]); only such a provider may receive "
            "re-identification tokens for its own patients",
        )
    new_key = load_public_key(public_key_file)  # refuses a file that is not a public key
    fingerprint = key_id(new_key)
    keys = registered_provider_keys(ws)
    everyone = {**registered_keys(ws), **keys}
    others = sorted(o for o, k in everyone.items() if o != ods_code and bytes(k) == bytes(new_key))
    if others:
        refuse(
            KeyInUse,
            f"key {fingerprint} offered for {ods_code} is already registered for "
            f"{', '.join(others)}",
            f"{public_key_file} is the public key already registered for {', '.join(others)}; "
            f"each organisation registers its own key (made with phm provider keygen at "
            f"{ods_code}). Ask {ods_code} for its own provider.pub",
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
            f"provider {ods_code} already has a different public key registered "
            f"(fingerprint {key_id(old)}; offered {fingerprint}). Replacing it makes the lists "
            "already sent unreadable with the new private key until they are sealed again; "
            "only the data protection officer may replace it: phm provider register "
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


def registered_provider_keys(ws) -> dict[str, PublicKey]:
    """{ODS code: public key} for every provider of the programme that has registered one."""
    folder = ws.root / FOLDER
    return {
        ods: load_public_key(folder / f"{ods}.pub")
        for ods in ws.config.list_providers()
        if (folder / f"{ods}.pub").is_file()
    }
