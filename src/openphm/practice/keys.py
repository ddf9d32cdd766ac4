"""A practice's key pair for re-identification tokens (promise P5).

Curve25519 keys for libsodium boxes (PyNaCl): anyone holding the public half can seal a
token to the practice; only the private half, which stays at the practice, opens it. Keys are
stored base64-encoded, one per file, the private file readable only by its owner.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey, PublicKey

from openphm.errors import UserFacingError

PRIVATE_KEY_FILE = "practice.key"
PUBLIC_KEY_FILE = "practice.pub"


class PracticeKeyError(UserFacingError, ValueError):
    """A key file that is missing or not a practice key."""


@dataclass(frozen=True)
class PracticeKeyPair:
    private_key: Path
    public_key: Path


def generate_keypair(
    directory: Path, *, overwrite: bool = False, stem: str = "practice"
) -> PracticeKeyPair:
    """Make a new key pair in `directory` (at the practice; `stem="provider"` names the files
    provider.key and provider.pub, at a hospital provider). Refuses to replace an existing one,
    since a replaced private key can no longer open tokens already issued."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{stem}.key"
    public_path = directory / f"{stem}.pub"
    if private_path.exists() and not overwrite:
        raise PracticeKeyError(
            f"{private_path} already exists; replacing it would make issued tokens unreadable"
        )
    key = PrivateKey.generate()
    _write_secret(private_path, base64.b64encode(bytes(key)) + b"\n")
    public_path.write_bytes(base64.b64encode(bytes(key.public_key)) + b"\n")
    return PracticeKeyPair(private_path, public_path)


def load_public_key(path: Path) -> PublicKey:
    return PublicKey(_read_key(Path(path), "public"))


def load_private_key(path: Path) -> PrivateKey:
    return PrivateKey(_read_key(Path(path), "private"))


def _read_key(path: Path, which: str) -> bytes:
    if not path.is_file():
        raise PracticeKeyError(f"{path}: no such {which} key file")
    try:
        raw = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError:
        raise PracticeKeyError(f"{path} is not a practice {which} key (not base64)") from None
    if len(raw) != 32:
        raise PracticeKeyError(f"{path} is not a practice {which} key (wrong length)")
    return raw


def _write_secret(path: Path, content: bytes) -> None:
    # Created 0600 from the start, so there is no moment when another user could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
