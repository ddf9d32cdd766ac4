"""Keyed pseudonyms: the code that replaces a person's NHS number (promise P2).

Reads normalised NHS numbers (or record ids, or linkage pseudonyms) and key bytes handed over by
the caller; writes pseudonyms. Three kinds, disjoint by construction:

- linkage pseudonym: HMAC-SHA256(linkage key, the 10 ASCII digits of the NHS number), as 64
  lower-case hex characters. The same person gets the same pseudonym from every source.
- unmatched pseudonym: for a record whose NHS number is missing or invalid and which tracing
  could not match. "u" + 64 hex characters of HMAC-SHA256 under a key derived from the linkage
  key for this purpose alone, over the source kind, the provider's ODS code and the provider's
  record id. The "u" (not a hex digit) and the length keep it apart from every linkage
  pseudonym, whatever the hash values.
- recipient pseudonym: HMAC-SHA256 under a per-recipient key (HKDF from the linkage key, info
  naming the recipient) over the *linkage pseudonym*, keeping the "u" of an unmatched one. It is
  computed from the linkage pseudonym, not the NHS number, because releases are built from the
  linked zone, which holds pseudonyms and no NHS numbers, and because unmatched records have no
  NHS number yet must still be released consistently. Without a recipient's key, two
  recipients' pseudonyms of one person share nothing that can be joined.

Speed: HMAC is computed from precomputed inner and outer hash states (one SHA-256 block per
message and one for the inner digest, in OpenSSL), about 1.4 million per second on one core
(docs/identity.md). Nothing here logs or prints keys or values; key bytes never appear in an
error message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
UNMATCHED_PREFIX = "u"
_SHA256_BLOCK_BYTES = 64
# Values hashed per chunk: bounds the Python objects alive at once, which keeps them in the
# CPU's caches (100k chunks run about 10% faster than 1M ones), and keeps each chunk's
# 64-byte-wide hex column far within Arrow's 32-bit string offsets.
_CHUNK_VALUES = 100_000
_UNMATCHED_INFO = b"openphm/unmatched-record/v1"
_RECIPIENT_INFO = b"openphm/recipient/v1/"

StringColumn = Iterable[str | None] | pa.Array | pa.ChunkedArray


class PseudonymInputError(ValueError):
    """Input that must not be pseudonymised as it stands (says how many values, never which)."""


def linkage_pseudonyms(nhs_numbers: StringColumn, linkage_key: bytes) -> pa.Array:
    """The linkage pseudonym of each normalised NHS number (10 ASCII digits); null stays null.
    Check and normalise numbers first with `openphm.identity.nhs_numbers.check_nhs_numbers`."""
    numbers = _strings(nhs_numbers)
    well_formed = pc.and_(pc.equal(pc.binary_length(numbers), 10), pc.ascii_is_decimal(numbers))
    bad = pc.sum(pc.invert(pc.fill_null(well_formed, True))).as_py() or 0
    if bad:
        raise PseudonymInputError(
            f"{bad} NHS numbers are not normalised to 10 digits; "
            "run them through check_nhs_numbers and pseudonymise only the valid ones"
        )
    return _hmac_sha256_hex(numbers.cast(pa.binary()), _checked(linkage_key, "linkage"))


def unmatched_pseudonyms(
    record_ids: StringColumn,
    *,
    source: str,
    provider: str,
    linkage_key: bytes,
) -> pa.Array:
    """The pseudonym of each record that has no NHS number after tracing, from the source kind
    (e.g. "admitted-care"), the provider's ODS code and the provider's own record id."""
    ids = _strings(record_ids)
    if pc.any(pc.is_null(ids)).as_py():
        raise PseudonymInputError(
            f"{source} extract from {provider}: {pc.sum(pc.is_null(ids)).as_py()} records "
            "have no record id; an unmatched record needs one to be pseudonymised"
        )
    key = derive_key(_checked(linkage_key, "linkage"), _UNMATCHED_INFO)
    # Netstrings ("<byte length>:<bytes>,") make the fields' boundaries unambiguous.
    lengths = pc.cast(pc.binary_length(ids), pa.string())
    netstrings = pc.binary_join_element_wise(lengths, ":", ids, ",", "")
    hexes = _hmac_sha256_hex(
        netstrings.cast(pa.binary()), key, prefix=_netstring(source) + _netstring(provider)
    )
    return pc.binary_join_element_wise(UNMATCHED_PREFIX, hexes, "")


def recipient_key(linkage_key: bytes, recipient: str, secret: bytes) -> bytes:
    """The recipient's own 32-byte key: HKDF-SHA256 of the linkage key, salted with a random
    per-recipient secret from the key store. Destroying that secret when the recipient's
    access expires makes the key, and so its pseudonyms, impossible to compute again, while
    the linkage key lives on for everyone else."""
    if not recipient.strip():
        raise ValueError("a recipient needs a name to derive its key")
    salt = _checked(secret, "recipient secret")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=salt,
        info=_RECIPIENT_INFO + recipient.encode(),
    ).derive(_checked(linkage_key, "linkage"))


def recipient_pseudonyms(
    pseudonyms: StringColumn,
    linkage_key: bytes,
    recipient: str,
    secret: bytes,
) -> pa.Array:
    """Each linkage (or unmatched) pseudonym as the named recipient sees it."""
    values = _strings(pseudonyms)
    key = recipient_key(linkage_key, recipient, secret)
    hexes = _hmac_sha256_hex(values.cast(pa.binary()), key)
    kind = pc.if_else(pc.starts_with(values, UNMATCHED_PREFIX), UNMATCHED_PREFIX, "")
    return pc.binary_join_element_wise(kind, hexes, "")


def derive_key(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _hmac_sha256_hex(messages: pa.Array, key: bytes, *, prefix: bytes = b"") -> pa.Array:
    """HMAC-SHA256 (RFC 2104) of `prefix` + each binary message, as lower-case hex; null stays
    null. The key is 32 bytes, shorter than SHA-256's 64-byte block, so it is only zero-padded.

    HMAC is H(opad || H(ipad || message)). The hash states after the 64-byte ipad and opad
    blocks are the same for every message, so they are computed once and copied for each value:
    per value that leaves one SHA-256 block for the message and one for the inner digest, both
    in OpenSSL (through hashlib, which uses the CPU's SHA extensions where present). This is
    `hmac.new(key, prefix + message, "sha256")` exactly; tests check it against that. Digests are
    gathered as raw bytes and hex-encoded in one call, then laid out as a fixed-width Arrow string
    column, because building an Arrow array from a million Python strings costs as much as the
    hashing itself."""
    padded = key.ljust(_SHA256_BLOCK_BYTES, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    if prefix:
        inner.update(prefix)
    chunks = [
        _hex_column(_digests(chunk, inner, outer), len(chunk))
        for chunk in _chunks(messages, _CHUNK_VALUES)
    ]
    result = pa.concat_arrays(chunks) if chunks else pa.array([], type=pa.string())
    if messages.null_count:
        result = pc.if_else(pc.is_valid(messages), result, pa.scalar(None, pa.string()))
    return result


def _digests(messages: pa.Array, inner, outer) -> bytes:
    """The 32-byte digests of a chunk of messages, end to end (a null message is hashed as
    empty and masked out by the caller)."""
    copy_inner, copy_outer = inner.copy, outer.copy

    def digest(message: bytes) -> bytes:
        state = copy_inner()
        state.update(message)
        mac = copy_outer()
        mac.update(state.digest())
        return mac.digest()

    return b"".join(map(digest, pc.fill_null(messages, b"").to_pylist()))


def _hex_column(digests: bytes, count: int) -> pa.Array:
    width = 2 * hashlib.sha256().digest_size
    offsets = np.arange(0, width * (count + 1), width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(digests.hex().encode())]
    )


def _chunks(values: pa.Array, size: int) -> list[pa.Array]:
    return [values.slice(start, size) for start in range(0, len(values), size)]


def _checked(key: bytes, which: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError(f"the {which} key must be {KEY_BYTES} bytes")
    return bytes(key)


def _strings(values: StringColumn) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def _netstring(text: str) -> bytes:
    data = text.encode()
    return str(len(data)).encode() + b":" + data + b","
