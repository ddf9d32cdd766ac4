"""The controller practices' public keys, registered with the programme (promise P5).

Reads a public key file a practice sent (made by `phm practice keygen` at the practice); writes
`WORKSPACE/practices/<ODS>.pub` and the audit log. Zone 2 seals each practice's
re-identification tokens to the key registered here, so only that practice's private key, which
never leaves the practice, opens them. Only the programme's controller practices may register:
a token for anyone else would let a non-controller re-identify patients. One key per practice:
a practice's key is never silently replaced (the DPO replaces it) and never shared with another.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PublicKey

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor
from openphm.practice.keys import load_public_key

FOLDER = "practices"
REQUESTS = "requests"  # keys practices asked to have registered in place of theirs


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
    return _register(
        ws, actor, action, ods_code, lambda: load_public_key(public_key_file),
        f"{public_key_file} is", replace=replace,
    )  # fmt: skip


def register_own_key(ws, actor: Actor, ods_code: str, public_key: PublicKey) -> Registration:
    """A practice signed in to the web service registers its own first key (`ods_code` is its
    account's, never the request's), under the same rules as `register_practice`: a different
    key where one is registered is refused (the practice asks for a replacement instead,
    `request_replacement`), and another practice's key is always refused."""
    return _register(
        ws, actor, "practice.register_own", ods_code, lambda: public_key, "the key offered is"
    )


@dataclass(frozen=True)
class Recipients:
    """One kind of organisation that receives lists sealed to its registered key: GP
    practices (the programme's controllers) or hospital providers (pseudonymise.providers).
    Both register under one set of rules (`_register`)."""

    noun: str  # "practice", "provider": in messages and the command (phm <noun> register)
    folder: str  # WORKSPACE/<folder>/<ODS>.pub
    members: Callable[[object], list[str]]  # the programme's organisations of this kind
    not_member: tuple[str, str]  # (audit reason, message), each with {ods}

    def keys(self, ws) -> dict[str, PublicKey]:
        """{ODS code: public key} for every one of them that has registered one."""
        folder = ws.root / self.folder
        return {
            ods: load_public_key(folder / f"{ods}.pub")
            for ods in self.members(ws)
            if (folder / f"{ods}.pub").is_file()
        }

    def replacing(self, ws, ods_code: str, public_key_file: Path) -> tuple[str, str] | None:
        """What registering the key in `public_key_file` for `ods_code` would replace: the
        registered key's fingerprint and the offered key's, when a different key is
        registered; else None. Read so that a person replacing a key (`phm practice register
        --replace`) is warned before anything changes; `_register` decides, and audits."""
        new_key = load_public_key(public_key_file)  # refuses a file that is not a public key
        old = self.keys(ws).get(ods_code.strip().upper())
        if old is None or bytes(old) == bytes(new_key):
            return None
        return key_id(old), key_id(new_key)


PRACTICES = Recipients(
    "practice",
    FOLDER,
    lambda ws: ws.config.programme.controllers,
    ("{ods} is not a controller practice of this programme",
     "{ods} is not among programme.controllers in programme.toml; only a controller practice "
     "may receive re-identification tokens"),
)  # fmt: skip


def _register(
    ws, actor, action, ods_code, load, offered, *, replace=False, kind: Recipients = PRACTICES
) -> Registration:
    ws.authorise(actor, action)
    ws.require_open()
    ods_code = ods_code.strip().upper()

    def refuse(error: type[UserFacingError], reason: str, message: str):
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise error(message)

    if ods_code not in kind.members(ws):
        reason, message = kind.not_member
        refuse(NotAController, reason.format(ods=ods_code), message.format(ods=ods_code))
    new_key = load()  # refuses a file that is not a public key
    fingerprint = key_id(new_key)
    keys = kind.keys(ws)
    _refuse_anothers(ws, ods_code, new_key, offered, refuse, kind)
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
            f"{kind.noun} {ods_code} already has a different public key registered "
            f"(fingerprint {key_id(old)}; offered {fingerprint}). Replacing it makes the lists "
            "already sent unreadable with the new private key until they are sealed again; "
            f"only the data protection officer may replace it: phm {kind.noun} register "
            "--replace --role data-protection-officer",
        )
    folder.mkdir(mode=0o700, exist_ok=True)
    _write_key(folder, f"{ods_code}.pub", new_key)
    replaced = key_id(old) if old is not None else None
    writes = [f"{kind.folder}/{ods_code}.pub"]
    request = folder / REQUESTS / f"{ods_code}.pub"
    if replaced and request.is_file() and _same_key(request, new_key):
        request.unlink()  # the practice's request, now made
        writes.append(f"{kind.folder}/{REQUESTS}/{ods_code}.pub")
    ws.audit.record(
        actor,
        action,
        writes=tuple(writes),
        counts={"keys": 1, **({"replaced": 1} if replaced else {})},
        reason=f"key {replaced} replaced by {fingerprint}" if replaced else "",
    )
    return Registration(target, fingerprint, replaced)


def request_replacement(ws, actor: Actor, ods_code: str, public_key: PublicKey) -> Path:
    """A practice asks, from the web service, for its registered key to be replaced by
    `public_key`: kept at practices/requests/<ODS>.pub (one request per practice, the latest)
    for the data protection officer, who replaces the key with `phm practice register
    --replace`. Replacing stays the DPO's decision; another practice's key is refused."""
    action = "practice.request_replace"
    ws.authorise(actor, action)
    ws.require_open()
    ods_code = ods_code.strip().upper()

    def refuse(error: type[UserFacingError], reason: str, message: str):
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise error(message)

    if ods_code not in ws.config.programme.controllers:
        refuse(NotAController, f"{ods_code} is not a controller practice of this programme",
               f"{ods_code} is not a controller practice of this programme")  # fmt: skip
    keys = registered_keys(ws)
    _refuse_anothers(ws, ods_code, public_key, "the key offered is", refuse, PRACTICES)
    old = keys.get(ods_code)
    if old is None or bytes(old) == bytes(public_key):
        refuse(
            KeyAlreadyRegistered,
            f"no different key registered for {ods_code}: nothing to replace",
            f"practice {ods_code} has no different key registered: nothing to replace",
        )
    folder = ws.root / FOLDER / REQUESTS
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = _write_key(folder, f"{ods_code}.pub", public_key)
    ws.audit.record(
        actor,
        action,
        writes=(f"{FOLDER}/{REQUESTS}/{ods_code}.pub",),
        counts={"keys": 1},
        reason=f"{ods_code} asks to replace key {key_id(old)} with {key_id(public_key)}",
    )
    return path


def requested_key(ws, ods_code: str) -> PublicKey | None:
    """The key a practice asked to have registered in place of its own, if it asked."""
    path = ws.root / FOLDER / REQUESTS / f"{ods_code}.pub"
    return load_public_key(path) if path.is_file() else None


def _refuse_anothers(ws, ods_code, new_key, offered, refuse, kind: Recipients) -> None:
    """A key already registered for any other organisation, practice or provider, is refused:
    a token sealed to it would open at both."""
    from openphm.pseudonymise.providers import PROVIDERS

    others = [
        f"{each.noun} {o}"
        for each in (PRACTICES, PROVIDERS)
        for o, k in sorted(each.keys(ws).items())
        if (o != ods_code or each is not kind) and bytes(k) == bytes(new_key)
    ]
    if others:
        refuse(
            KeyInUse,
            f"key {key_id(new_key)} offered for {ods_code} is already registered for "
            f"{', '.join(others)}",
            f"{offered} the public key already registered for {', '.join(others)}; each "
            f"organisation registers its own key (made with phm {kind.noun} keygen at "
            f"{ods_code}). Ask {ods_code} for its own {kind.noun}.pub",
        )


def _write_key(folder: Path, name: str, key: PublicKey) -> Path:
    """The key as `phm practice keygen` writes practice.pub (base64 and a line break), put in
    place whole."""
    staging = folder / f".{name}.tmp"
    staging.write_bytes(base64.b64encode(bytes(key)) + b"\n")
    os.replace(staging, folder / name)
    return folder / name


def _same_key(path: Path, key: PublicKey) -> bool:
    try:
        return bytes(load_public_key(path)) == bytes(key)
    except ValueError:
        return False


def registered_keys(ws) -> dict[str, PublicKey]:
    """{ODS code: public key} for every controller practice that has registered one."""
    return PRACTICES.keys(ws)


def key_id(public_key: PublicKey) -> str:
    """A short fingerprint of a public key: a token sealed to an older key is sealed again."""
    return hashlib.blake2b(bytes(public_key), digest_size=8).hexdigest()
