"""Encrypted Parquet: a zone's tables as files that any engine with the key can read.

Parquet modular encryption (AES-GCM), written by pyarrow and read by Spark (or pyarrow). Each
file's footer and every column are encrypted under a data-encryption key that pyarrow makes per
file; that key is wrapped (double wrapping: through a key-encryption key) with the zone's data
key from the key store, the "master key" of the Parquet key tools, named by its key-store name
(e.g. `data/linked`). Without the data key no file can be opened; destroying it in the key
store (phm close) destroys the data, as for DuckDB's encrypted database files.

`KeyStoreKms` wraps keys exactly as parquet-mr's LocalWrapKmsClient does (AES-GCM, the master
key's name as additional authenticated data, JSON envelope), so Spark's reader, given the same
key through engine/java/KeyStoreKms.java, opens these files, and pyarrow opens Spark's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

from openphm.engine.duckdb import EngineError

_NO_VERSION = "NO_VERSION"  # LocalWrapKmsClient.LOCAL_WRAP_NO_KEY_VERSION
_ROWS_PER_BATCH = 1_000_000


class KeyStoreKms(pe.KmsClient):
    """A KMS client serving only the data keys it is given (key-store name → 32 bytes)."""

    def __init__(self, keys: dict[str, bytes]):
        super().__init__()
        self._keys = dict(keys)

    def _master(self, name: str) -> bytes:
        try:
            return self._keys[name]
        except KeyError:
            raise EngineError(
                f"the data key {name!r} was not given (destroyed, or the zone was opened "
                "without it); the file cannot be read"
            ) from None

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(self._master(master_key_identifier)).encrypt(
            nonce, bytes(key_bytes), master_key_identifier.encode()
        )
        encoded = base64.b64encode(nonce + sealed).decode()
        return json.dumps({"masterKeyVersion": _NO_VERSION, "encryptedKey": encoded})

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        envelope = json.loads(wrapped_key)
        sealed = base64.b64decode(envelope["encryptedKey"])
        try:
            return AESGCM(self._master(master_key_identifier)).decrypt(
                sealed[:12], sealed[12:], master_key_identifier.encode()
            )
        except InvalidTag:
            raise EngineError(
                f"the data key {master_key_identifier!r} given is not the one the file was "
                "written with"
            ) from None


def _factory(keys: dict[str, bytes]) -> pe.CryptoFactory:
    return pe.CryptoFactory(lambda _config: KeyStoreKms(keys))


def encryption_properties(keys: dict[str, bytes], key_name: str):
    """File encryption properties: footer and every column under the data key `key_name`."""
    config = pe.EncryptionConfiguration(
        footer_key=key_name,
        uniform_encryption=True,
        encryption_algorithm="AES_GCM_V1",
        double_wrapping=True,
        cache_lifetime=dt.timedelta(minutes=1),
    )
    return _factory(keys).file_encryption_properties(pe.KmsConnectionConfig(), config)


def decryption_properties(keys: dict[str, bytes]):
    return _factory(keys).file_decryption_properties(
        pe.KmsConnectionConfig(), pe.DecryptionConfiguration(cache_lifetime=dt.timedelta(0))
    )


def write_table(path: Path, batches: Iterable[pa.RecordBatch], schema: pa.Schema,
                keys: dict[str, bytes], key_name: str) -> int:  # fmt: skip
    """Write `batches` to one encrypted Parquet file at `path`; the number of rows."""
    rows = 0
    properties = encryption_properties(keys, key_name)
    with pq.ParquetWriter(path, schema, encryption_properties=properties,
                          compression="zstd") as writer:  # fmt: skip
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def read_table(path: Path, keys: dict[str, bytes]) -> pa.Table:
    """Read an encrypted Parquet file or folder with the data keys given."""
    try:
        # Spark writes timestamps as INT96; read as microseconds (DuckDB's TIMESTAMP), since
        # nanoseconds would silently wrap outside the years 1677-2262.
        return pq.read_table(path, decryption_properties=decryption_properties(keys),
                             coerce_int96_timestamp_unit="us")  # fmt: skip
    except OSError as err:
        raise EngineError(f"{path} cannot be read with the keys given ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    text = str(err)
    return "no key" if "key" in text.lower() or "decrypt" in text.lower() else type(err).__name__


def export_duckdb_zone(con, alias: str, folder: Path, keys: dict[str, bytes], key_name: str,
                       tables: Iterable[str] | None = None) -> dict[str, int]:  # fmt: skip
    """Copy the tables of DuckDB schema `alias` (an attached encrypted zone) to encrypted
    Parquet in `folder`, one sub-folder per table, streamed in batches so a zone larger than
    memory goes through. Each table is written beside its old copy and swapped in, so a failed
    export leaves the previous one whole. Table name → rows written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if tables is None:
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
            "ORDER BY table_name", [alias]).fetchall()]  # fmt: skip
    counts = {}
    for name in tables:
        reader = con.execute(f'SELECT * FROM {alias}."{name}"').fetch_record_batch(_ROWS_PER_BATCH)
        staging = folder / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        counts[name] = write_table(staging / "part-00000.parquet", reader,
                                   reader.schema, keys, key_name)  # fmt: skip
        target = folder / name
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return counts
