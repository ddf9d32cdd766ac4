"""Seal re-identification tokens to a practice's public key (promise P5).

Reads a practice's own patient references (from its GP extract in the landing zone) and the
practice's registered public key; writes tokens into the linked zone, where they travel in
cohort lists back to the practice. Only the practice's private key, which never leaves the
practice, opens them (`openphm.practice.tokens`, which also defines the format).

A libsodium sealed box costs one X25519 key agreement per token, so sealing is per item, not
vectorisable; it runs in chunks on a thread pool (PyNaCl's C calls release the GIL), about
20 000 tokens per second per core (docs/identity.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from nacl.bindings import crypto_box_seal
from nacl.public import PublicKey

from openphm.practice.tokens import encode_token, token_header, token_plaintext

_CHUNK = 20_000


def seal_tokens(
    patient_refs: Sequence[str],
    *,
    ods_code: str,
    public_key: PublicKey,
    workers: int | None = None,
) -> list[str]:
    """One token per patient reference, in order, each sealed for the practice `ods_code`."""
    if any(ref is None or ref == "" for ref in patient_refs):
        raise ValueError(f"practice {ods_code}: a patient with no patient reference has no token")
    header = token_header(public_key)
    recipient = bytes(public_key)

    def seal_chunk(start: int) -> list[str]:
        return [
            encode_token(header, crypto_box_seal(token_plaintext(header, ods_code, ref), recipient))
            for ref in patient_refs[start : start + _CHUNK]
        ]

    starts = range(0, len(patient_refs), _CHUNK)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(starts) <= 1:
        chunks = map(seal_chunk, starts)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            chunks = list(pool.map(seal_chunk, starts))
    return [token for chunk in chunks for token in chunk]
