"""Seal re-identification tokens to a practice's public key (promise P5).

Reads a practice's own patient references (from its GP extract in the landing zone) and the
practice's registered public key; writes tokens into the linked zone, where they travel in
cohort lists back to the practice. Only the practice's private key, which never leaves the
practice, opens them (`openphm.practice.tokens`, which also defines the format).

One call seals one run's tokens for one practice with one ephemeral key pair (token version 3,
padded so that every token of a list has the same length):
the X25519 key agreement is done once, and each token is then a crypto_box under the shared key
with its own random nonce: about 300 000 tokens per second on one core, encoding included. A
libsodium sealed box per token (version 1) costs one key agreement each, about 20 000 per
second per core: half a minute for a region of a million people (docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, randombytes
from nacl.public import PrivateKey, PublicKey

from openphm.practice.tokens import (
    NONCE_BYTES,
    encode_token,
    padded,
    token_header,
    token_plaintext,
)


def seal_tokens(patient_refs: Sequence[str], *, ods_code: str, public_key: PublicKey) -> list[str]:
    """One token per patient reference, in order, each sealed for the practice `ods_code`."""
    if any(ref is None or ref == "" for ref in patient_refs):
        raise ValueError(f"practice {ods_code}: a patient with no patient reference has no token")
    header = token_header(public_key)
    ephemeral = PrivateKey.generate()
    shared = crypto_box_beforenm(bytes(public_key), bytes(ephemeral))
    # The ephemeral private key is needed only for the agreement above; no reference to it (or
    # to the shared key) outlives this call, and neither is ever written anywhere.
    prefix = header + bytes(ephemeral.public_key)
    del ephemeral
    lead = token_plaintext(header, ods_code, "")  # the plaintext up to the patient reference
    # Every nonce from one call to libsodium's random generator: a call per token cost a
    # quarter of the sealing time. Each nonce is still 24 fresh random bytes of its own.
    nonces = randombytes(NONCE_BYTES * len(patient_refs))
    tokens = []
    for start, ref in zip(range(0, len(nonces), NONCE_BYTES), patient_refs, strict=True):
        nonce = nonces[start : start + NONCE_BYTES]
        tokens.append(
            encode_token(
                prefix, nonce + crypto_box_afternm(padded(lead + ref.encode()), nonce, shared)
            )
        )
    return tokens
