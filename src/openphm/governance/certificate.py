"""The destruction certificate: what was destroyed, when, how, and the audit log's head, signed
with the programme's signing key so that anyone holding the public half can check it.

The signing key (Ed25519, from the key store's 32-byte `signing` secret) is the one key close
keeps: without it no certificate could be checked after the rest is gone. Its public half is
recorded in workspace.json when the workspace is made.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


class CertificateError(ValueError):
    """A certificate that does not verify, or cannot be read."""


def public_key(signing_seed: bytes) -> str:
    return base64.b64encode(bytes(SigningKey(signing_seed).verify_key)).decode()


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(body: dict, signing_seed: bytes) -> dict:
    signature = SigningKey(signing_seed).sign(_canonical(body)).signature
    return {
        "certificate": body,
        "signature": base64.b64encode(signature).decode(),
        "public_key": public_key(signing_seed),
        "algorithm": "Ed25519 over canonical JSON (sorted keys, no spaces)",
    }


def verify(path: Path, expected_public_key: str | None = None) -> dict:
    """Check a certificate file's signature; return its body. `expected_public_key` (from the
    workspace or the data protection officer's records) guards against a certificate re-signed
    with a different key."""
    try:
        document = json.loads(Path(path).read_text())
        body, signature = document["certificate"], base64.b64decode(document["signature"])
        key = document["public_key"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CertificateError(f"{path} is not a destruction certificate ({err})") from None
    if expected_public_key is not None and key != expected_public_key:
        raise CertificateError(
            f"{path} was signed with a key that is not this programme's signing key"
        )
    try:
        VerifyKey(base64.b64decode(key)).verify(_canonical(body), signature)
    except (BadSignatureError, ValueError):
        raise CertificateError(
            f"{path} does not verify: its content was changed after it was signed"
        ) from None
    return body
