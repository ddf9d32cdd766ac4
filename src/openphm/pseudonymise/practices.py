"""The public keys of the organisations that receive cohort lists, registered with the
programme (promise P5): the controller practices, and the hospital providers (trusts).

Reads a public key file an organisation sent (made by `phm practice keygen` or `phm provider
keygen` on its own machine); writes `WORKSPACE/practices/<ODS>.pub` or
`WORKSPACE/providers/<ODS>.pub` and the audit log. Zone 2 seals each organisation's
re-identification tokens to the key registered here, so only its private key, which never
leaves it, opens them. Only the programme's controller practices, and the providers whose
hospital or community extracts it receives, may register: a token for anyone else would let an
outsider re-identify patients. One key per organisation: a key is never silently replaced (the
DPO replaces it) and never shared with another organisation, practice or provider.
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
PROVIDER_FOLDER = "providers"


@dataclass(frozen=True)
class Kind:
    """A kind of organisation that registers a key: the words and places that differ."""

    word: str  # "practice", "provider"
    folder: str
    action: str  # the audited action; `<action>.register`, `<action>.replace_key`
    keygen: str  # the command that makes its key pair


PRACTICE = Kind("practice", FOLDER, "practice", "phm practice keygen")
PROVIDER = Kind("provider", PROVIDER_FOLDER, "provider", "phm provider keygen")


class NotAController(UserFacingError):
    """A practice that is not one of the programme's joint controllers, or a provider that
    sends the programme no hospital or community extract."""


class KeyAlreadyRegistered(UserFacingError):
    """The practice has a different key registered: replacing it is the DPO's decision."""


class KeyInUse(UserFacingError):
    """The key is already another organisation's: one key each, never shared."""


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
    is already another organisation's is refused outright: a token sealed to it would open at
    both. Every refusal is audited."""
    return _register(ws, actor, PRACTICE, ods_code, public_key_file, replace=replace)


def register_provider(
    ws, actor: Actor, ods_code: str, public_key_file: Path, *, replace: bool = False
) -> Registration:
    """Record a hospital provider's public key, under the practices' rules
    (`provider.register`, `provider.replace_key`): the provider must send the programme an
    admitted-care, emergency-care, outpatients or community extract (programme.toml)."""
    return _register(ws, actor, PROVIDER, ods_code, public_key_file, replace=replace)


def _register(
    ws, actor: Actor, kind: Kind, ods_code: str, public_key_file: Path, *, replace: bool
) -> Registration:
    action = f"{kind.action}.replace_key" if replace else f"{kind.action}.register"
    ws.authorise(actor, action)
    ws.require_open()
    ods_code = ods_code.strip().upper()
    word = kind.word

    def refuse(error: type[UserFacingError], reason: str, message: str):
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise error(message)

    if kind is PRACTICE and ods_code not in ws.config.programme.controllers:
        refuse(
            NotAController,
            f"{ods_code} is not a controller practice of this programme",
            f"{ods_code} is not among programme.controllers in programme.toml; only a "
            "controller practice may receive re-identification tokens",
        )
    if kind is PROVIDER and ods_code not in ws.config.list_providers():
        refuse(
            NotAController,
            f"{ods_code} is not a provider of this programme",
            f"{ods_code} sends this programme no admitted-care, emergency-care, outpatients or "
            "community extract (programme.toml [[sources]]); only such a provider may receive "
            "re-identification tokens for its own patients",
        )
    new_key = load_public_key(public_key_file)  # refuses a file that is not a public key
    fingerprint = key_id(new_key)
    keys = registered_keys(ws, kind)
    others = sorted(
        o for o, k in _all_keys(ws).items() if o != ods_code and bytes(k) == bytes(new_key)
    )
    if others:
        refuse(
            KeyInUse,
            f"key {fingerprint} offered for {ods_code} is already registered for "
            f"{', '.join(others)}",
            f"{public_key_file} is the public key already registered for "
            f"{', '.join(others)}; each organisation registers its own key (made with "
            f"{kind.keygen} at {ods_code}). Ask {ods_code} for its own {word}.pub",
        )
    folder = ws.root / kind.folder
    target = folder / f"{ods_code}.pub"
    old = keys.get(ods_code)
    if old is not None and bytes(old) == bytes(new_key):
        ws.audit.record(
            actor, action, reads=(f"{kind.folder}/{ods_code}.pub",), counts={"keys": 0},
            reason=f"key {fingerprint} was already registered for {ods_code}",
        )  # fmt: skip
        return Registration(target, fingerprint, unchanged=True)
    if old is not None and not replace:
        refuse(
            KeyAlreadyRegistered,
            f"{ods_code} already has key {key_id(old)}; a different key {fingerprint} needs "
            "the data protection officer's replacement",
            f"{word} {ods_code} already has a different public key registered "
            f"(fingerprint {key_id(old)}; offered {fingerprint}). Replacing it makes the lists "
            "already sent unreadable with the new private key until they are sealed again; "
            f"only the data protection officer may replace it: phm {word} register "
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
        writes=(f"{kind.folder}/{ods_code}.pub",),
        counts={"keys": 1, **({"replaced": 1} if replaced else {})},
        reason=f"key {replaced} replaced by {fingerprint}" if replaced else "",
    )
    return Registration(target, fingerprint, replaced)


def registered_keys(ws, kind: Kind = PRACTICE) -> dict[str, PublicKey]:
    """{ODS code: public key} for every controller practice (or, with `kind=PROVIDER`, every
    provider of the programme) that has registered one."""
    folder = ws.root / kind.folder
    codes = ws.config.programme.controllers if kind is PRACTICE else ws.config.list_providers()
    return {
        ods: load_public_key(folder / f"{ods}.pub")
        for ods in codes
        if (folder / f"{ods}.pub").is_file()
    }


def _all_keys(ws) -> dict[str, PublicKey]:
    """Every organisation's registered key, practices' and providers' together."""
    return {**registered_keys(ws, PRACTICE), **registered_keys(ws, PROVIDER)}


def key_id(public_key: PublicKey) -> str:
    """A short fingerprint of a public key: a token sealed to an older key is sealed again."""
    return hashlib.blake2b(bytes(public_key), digest_size=8).hexdigest()
