"""The destruction certificate: what was destroyed, when, how, and the audit log's head, signed
with the programme's signing key so that anyone holding the public half can check it.

The signing key (Ed25519, from the key store's 32-byte `signing` secret) signs the certificate
and is then destroyed with the rest: only its public half is needed to check a certificate, and
it is recorded in workspace.json when the workspace is made (and in the certificate).
"""

from __future__ import annotations

import base64
import json
import re
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
    """Check a certificate file (the JSON, or the printable HTML copy) and return its body.
    `expected_public_key` (from the workspace or the data protection officer's records)
    guards against a certificate re-signed with a different key."""
    if Path(path).suffix.lower() in (".html", ".htm"):
        return verify_html(path, expected_public_key)
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise CertificateError(f"{path} is not a destruction certificate ({err})") from None
    return verify_document(document, path, expected_public_key)


def verify_document(document: dict, path: Path, expected_public_key: str | None) -> dict:
    try:
        body, signature = document["certificate"], base64.b64decode(document["signature"])
        key = document["public_key"]
    except (ValueError, KeyError, TypeError) as err:
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


# The printable copy: NHS.UK colours and type, inline (it is opened from a file, offline), with
# the signed JSON inside it. It verifies by re-rendering that JSON and comparing every byte, so
# a change to what a reader sees is caught as surely as a change to the JSON.
_EMBEDDED = re.compile(
    r'<script type="application/json" id="signed-certificate">(.*?)</script>', re.DOTALL
)


def html(signed: dict) -> str:
    """The certificate as a standalone, printable NHS.UK-styled page."""
    template = _environment().get_template("certificate.html.jinja")
    embedded = json.dumps(signed, indent=1, sort_keys=True).replace("</", "<\\/")
    return template.render(c=signed["certificate"], signed=signed, embedded=embedded)


def verify_html(path: Path, expected_public_key: str | None = None) -> dict:
    """Check a printable certificate: its embedded signed JSON verifies, and the page is
    exactly what that JSON renders to."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        found = _EMBEDDED.search(text)
        signed = json.loads(found.group(1).replace("<\\/", "</")) if found else None
    except (OSError, ValueError) as err:
        raise CertificateError(f"{path} is not a destruction certificate ({err})") from None
    if not isinstance(signed, dict):
        raise CertificateError(f"{path} is not a destruction certificate (no signed content)")
    body = verify_document(signed, path, expected_public_key)
    if html(signed) != text:
        raise CertificateError(
            f"{path} does not verify: the page was changed after it was made from the signed "
            "certificate"
        )
    return body


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("openphm.governance", "templates"),
        autoescape=select_autoescape(["html", "jinja"]),
        keep_trailing_newline=True,
    )
