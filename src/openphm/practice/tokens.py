"""Re-identification tokens, opened at the practice (promise P5).

Reads the tokens in a cohort list and the practice's private key; writes nothing. The token
format is defined here, on the practice side, and the programme seals to it
(`openphm.pseudonymise.tokens`), so that the one definition lives where tokens are opened.

A token is base64url (no padding) of

    version (1 byte) || key id (8 bytes) || body

where the body holds, authenticated-encrypted, version || key id || length of ODS code (1 byte)
|| ODS code || the practice's patient reference (UTF-8). Three versions of the body exist:

- version 3 (what the programme seals): version 2 with the plaintext padded (ISO/IEC 7816-4:
  a 0x80 byte, then zeros) to a multiple of PAD_TO bytes. Unpadded, a token's length gave away
  its patient reference's length, so a list whose references differ in length (a practice
  that changed clinical systems, say) showed which rows were which kind of patient to anyone
  holding it. Every reference of up to 47 bytes with a 6-character ODS code now makes a token
  of the same length.
- version 2 (sealed from 1 to 2 December 2026, still opened): ephemeral public key (32 bytes)
  || nonce (24 bytes) || crypto_box of the plaintext from the ephemeral key to the practice's
  key. One ephemeral key pair serves every token of one sealing run for one practice: the
  X25519 agreement, which is nearly all the cost of a token, is done once per run instead of
  once per token (a million tokens in seconds, not half a minute). Each token has its own
  random nonce, so two tokens of the same patient still differ. The ephemeral private key is
  never stored. A shared ephemeral key shows which tokens were sealed in the same run, so the
  programme seals a practice's whole current list together (`pseudonymise.gp.seal`), and
  seals it again when any of its tokens is of an earlier version.
- version 1 (tokens sealed before version 2): a libsodium sealed box of the plaintext, with an
  ephemeral key per token. Still opened, so cohort lists already sent stay readable.

The key id is BLAKE2b-64 of the practice's public key: it lets a practice say "this token is not
for us" without trying to open it, and reveals no more than which practice a token is for,
which the cohort list it travels in says already. The encrypted copy of the header binds it: a
key id or version changed in transit fails authentication. Only the practice's private key opens
a token of any version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey, SealedBox

TOKEN_VERSION = 3  # what the programme seals: a padded box
BOX_VERSION = 2  # an unpadded box: still opened
SEALED_BOX_VERSION = 1  # still opened
PAD_TO = 64  # a padded plaintext's length is a multiple of this
_PAD_MARK = b"\x80"
KEY_ID_BYTES = 8
EPHEMERAL_KEY_BYTES = 32
NONCE_BYTES = Box.NONCE_SIZE  # 24
_HEADER_BYTES = 1 + KEY_ID_BYTES
_FIELD_PRIME = 2**255 - 19  # X25519's field: every public key it writes is below it
_AUTHENTICATOR_BYTES = 16
# The least a body of each version holds besides the plaintext.
_OVERHEAD = {
    SEALED_BOX_VERSION: EPHEMERAL_KEY_BYTES + _AUTHENTICATOR_BYTES,
    BOX_VERSION: EPHEMERAL_KEY_BYTES + NONCE_BYTES + _AUTHENTICATOR_BYTES,
    TOKEN_VERSION: EPHEMERAL_KEY_BYTES + NONCE_BYTES + _AUTHENTICATOR_BYTES,
}


class TokenError(ValueError):
    """A token that cannot be opened. Callers count these by kind; nothing is guessed."""

    kind = "unreadable"


class MalformedToken(TokenError):
    kind = "malformed"


class TokenForAnotherPractice(TokenError):
    kind = "for another practice"


class TokenTampered(TokenError):
    kind = "failed authentication"


@dataclass(frozen=True)
class ReidentifiedPatient:
    ods_code: str
    patient_ref: str


def key_id(public_key: PublicKey) -> bytes:
    return hashlib.blake2b(bytes(public_key), digest_size=KEY_ID_BYTES).digest()


def token_header(public_key: PublicKey, version: int = TOKEN_VERSION) -> bytes:
    return bytes([version]) + key_id(public_key)


def token_plaintext(header: bytes, ods_code: str, patient_ref: str) -> bytes:
    ods = ods_code.encode("ascii")
    if not 0 < len(ods) < 256:
        raise ValueError("an ODS code must be 1 to 255 ASCII characters")
    return header + bytes([len(ods)]) + ods + patient_ref.encode()


def padded(plaintext: bytes) -> bytes:
    """A version 3 plaintext: a 0x80 byte, then zeros up to the next multiple of PAD_TO."""
    marked = plaintext + _PAD_MARK
    return marked + bytes(-len(marked) % PAD_TO)


def _unpadded(plaintext: bytes) -> bytes:
    """The plaintext without its padding. Anyone holding the practice's public key can seal a
    body, so a padding that is not exactly what `padded` writes is refused as malformed."""
    body = plaintext.rstrip(b"\0")
    if (
        len(plaintext) % PAD_TO
        or not body.endswith(_PAD_MARK)
        or len(plaintext) - len(body) >= PAD_TO
    ):
        raise MalformedToken("token opened but its padding is not the form it is sealed in")
    return body[: -len(_PAD_MARK)]


def encode_token(header: bytes, body: bytes) -> str:
    return base64.urlsafe_b64encode(header + body).rstrip(b"=").decode("ascii")


def open_token(
    token: str, private_key: PrivateKey, *, ods_code: str | None = None
) -> ReidentifiedPatient:
    """The patient a token stands for, if it was sealed to this practice's key (and, when
    `ods_code` is given, names this practice). Raises a `TokenError` subclass otherwise."""
    raw = _decode(token)
    header, body = raw[:_HEADER_BYTES], raw[_HEADER_BYTES:]
    if header[0] not in _OVERHEAD:
        raise MalformedToken(f"token version {header[0]} is not one this software reads")
    if len(body) <= _OVERHEAD[header[0]]:
        raise MalformedToken("token is too short to hold a sealed patient reference")
    if header[1:] != key_id(private_key.public_key):
        raise TokenForAnotherPractice("token was sealed for another practice's key")
    try:
        if header[0] == SEALED_BOX_VERSION:
            plaintext = SealedBox(private_key).decrypt(body)
        else:
            ephemeral = body[:EPHEMERAL_KEY_BYTES]
            # X25519 reads the key modulo 2^255 - 19 with its top bit ignored, so a key that is
            # not in its one reduced form would open as the same patient under another string.
            if int.from_bytes(ephemeral, "little") >= _FIELD_PRIME:
                raise MalformedToken("token's key is not in the form X25519 writes it")
            ephemeral = PublicKey(ephemeral)
            nonce = body[EPHEMERAL_KEY_BYTES : EPHEMERAL_KEY_BYTES + NONCE_BYTES]
            box = body[EPHEMERAL_KEY_BYTES + NONCE_BYTES :]
            plaintext = Box(private_key, ephemeral).decrypt(box, nonce)
    except CryptoError:
        raise TokenTampered("token failed authentication: altered or damaged") from None
    if plaintext[:_HEADER_BYTES] != header:
        raise TokenTampered("token header was altered after sealing")
    if header[0] == TOKEN_VERSION:
        plaintext = _unpadded(plaintext)
    patient = _parse_body(plaintext[_HEADER_BYTES:])
    if ods_code is not None and patient.ods_code != ods_code:
        raise TokenForAnotherPractice(
            f"token names practice {patient.ods_code}, not {ods_code}: it was issued for "
            "another practice sharing this key"
        )
    return patient


@dataclass
class OpenedTokens:
    """Tokens opened in order: a patient, or None where the token could not be opened, with
    the failures counted by kind."""

    patients: list[ReidentifiedPatient | None] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


def open_tokens(
    tokens: Iterable[str], private_key: PrivateKey, *, ods_code: str | None = None
) -> OpenedTokens:
    opened = OpenedTokens()
    for token in tokens:
        try:
            opened.patients.append(open_token(token, private_key, ods_code=ods_code))
        except TokenError as failure:
            opened.patients.append(None)
            opened.failures[failure.kind] += 1
    return opened


def _decode(token: str) -> bytes:
    """The token's bytes, from its one written form only. Python's decoder skips characters
    outside the alphabet and ignores the spare low bits of the last character, so many
    strings decode to one token; each is refused here, and a list can never hold two strings
    for one sealed patient."""
    text = token.strip()
    try:
        raw = base64.b64decode(
            text.encode("ascii") + b"=" * (-len(text) % 4), altchars=b"-_", validate=True
        )
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise MalformedToken("token is not base64url text") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise MalformedToken("token is not in the form it was written in (base64url, no padding)")
    if len(raw) <= _HEADER_BYTES:
        raise MalformedToken("token is too short to hold a sealed patient reference")
    return raw


def _parse_body(body: bytes) -> ReidentifiedPatient:
    """ODS code and patient reference from an opened body. Anyone with the practice's public key
    can seal a body, so a short or inconsistent one is refused as malformed (never an
    IndexError that would stop a whole list from opening)."""
    ods_length = body[0] if body else 0
    if ods_length == 0 or len(body) <= 1 + ods_length:
        raise MalformedToken("token opened but does not hold an ODS code and patient reference")
    try:
        return ReidentifiedPatient(
            ods_code=body[1 : 1 + ods_length].decode("ascii"),
            patient_ref=body[1 + ods_length :].decode(),
        )
    except UnicodeDecodeError:
        raise MalformedToken("token opened but does not hold a patient reference") from None
