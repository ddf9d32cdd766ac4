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

Speed: HMAC is computed in DuckDB as sha256(opad_key || unhex(sha256(ipad_key || message))),
vectorised and multi-threaded, at several million per second per core (docs/identity.md).
The keys are passed as bound query parameters, never written into the SQL text, and nothing
here logs or prints queries or parameters; key bytes never appear in an error message.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
UNMATCHED_PREFIX = "u"
_SHA256_BLOCK_BYTES = 64
_UNMATCHED_INFO = b"openphm/unmatched-record/v1"
_RECIPIENT_INFO = b"openphm/recipient/v1/"

StringColumn = Iterable[str | None] | pa.Array | pa.ChunkedArray


class PseudonymInputError(ValueError):
    """Input that must not be pseudonymised as it stands (says how many values, never which)."""


def linkage_pseudonyms(
    nhs_numbers: StringColumn, linkage_key: bytes, *, threads: int | None = None
) -> pa.Array:
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
    return _hmac_sha256_hex(
        "encode(value)", {"value": numbers}, _checked(linkage_key, "linkage"), threads=threads
    )


def unmatched_pseudonyms(
    record_ids: StringColumn,
    *,
    source: str,
    provider: str,
    linkage_key: bytes,
    threads: int | None = None,
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
    message = "$fields || encode(octet_length(encode(value))::VARCHAR || ':' || value || ',')"
    hexes = _hmac_sha256_hex(
        message,
        {"value": ids},
        key,
        parameters={"fields": _netstring(source) + _netstring(provider)},
        threads=threads,
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
    *,
    threads: int | None = None,
) -> pa.Array:
    """Each linkage (or unmatched) pseudonym as the named recipient sees it."""
    values = _strings(pseudonyms)
    key = recipient_key(linkage_key, recipient, secret)
    hexes = _hmac_sha256_hex("encode(value)", {"value": values}, key, threads=threads)
    kind = pc.if_else(pc.starts_with(values, UNMATCHED_PREFIX), UNMATCHED_PREFIX, "")
    return pc.binary_join_element_wise(kind, hexes, "")


def derive_key(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _hmac_sha256_hex(
    message_sql: str,
    columns: dict[str, pa.Array],
    key: bytes,
    *,
    parameters: dict[str, bytes] | None = None,
    threads: int | None = None,
) -> pa.Array:
    """HMAC-SHA256 (RFC 2104) of a SQL message expression over `columns`, as lower-case hex.
    The key is 32 bytes, shorter than SHA-256's 64-byte block, so it is only zero-padded."""
    padded = key.ljust(_SHA256_BLOCK_BYTES, b"\0")
    pads = {
        "inner": bytes(b ^ 0x36 for b in padded),
        "outer": bytes(b ^ 0x5C for b in padded),
    }
    # A private in-memory connection: the pads exist only as bound parameters of this query,
    # which is never logged, printed or kept.
    with duckdb.connect(config={"threads": threads} if threads else {}) as con:
        # Batches of DuckDB's row-group size let every thread take a share of the scan.
        con.register("messages", pa.Table.from_batches(pa.table(columns).to_batches(122_880)))
        # Into a table first: DuckDB fills a table on every thread (keeping row order), while
        # fetching a computed result straight to Arrow runs on one.
        con.execute(
            "CREATE TEMP TABLE digests AS SELECT "
            f"sha256($outer || unhex(sha256($inner || {message_sql}))) AS digest FROM messages",
            {**pads, **(parameters or {})},
        )
        result = con.execute("SELECT digest FROM digests").fetch_arrow_table()
    return result.column(0).combine_chunks().cast(pa.string())


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
