"""A key store in HashiCorp Vault's key/value secrets engine (version 2), through its Python
client `hvac`: the managed key service a production programme should use instead of key files.

Layout: each key at `<prefix>/<custodian>/<name>` (slashes in a key's name written as `__`, as
the local store does), so a Vault policy per custodian gives each account's token exactly its
custodian's keys (docs/ARCHITECTURE.md, threat model). A destroyed key's every version and its
metadata are destroyed (`delete_metadata_and_all_versions`: unrecoverable, unlike a soft
delete) and a tombstone is written under `<prefix>/destroyed/`, so "destroyed" is told apart
from "missing" and a name is never reused, as in the local store. Writes use check-and-set 0,
so creating a key never overwrites one.

Vault's transit engine (encryption as a service) is not used: DuckDB and Parquet encrypt at
rest with the key bytes themselves, so Vault holds the data keys as secrets.
"""

from __future__ import annotations

import base64
import secrets

from openphm.keystore.base import KEY_BYTES, KeyName, KeyStore, KeyStoreError, MissingKeyError
from openphm.keystore.custody import CUSTODIANS, KeyCustodyError, custodian_of

TOMBSTONES = "destroyed"


class VaultKeyStore(KeyStore):
    """`client` is an authenticated `hvac.Client` (its token's policy is the custody)."""

    def __init__(self, client, *, prefix: str, mount_point: str = "secret") -> None:
        self.kv = client.secrets.kv.v2
        self.prefix = prefix.strip("/")
        self.mount = mount_point

    def _path(self, name: str) -> str:
        name = KeyName.validate(name)
        return f"{self.prefix}/{custodian_of(name)}/{name.replace('/', '__')}"

    def _tombstone(self, name: str) -> str:
        return f"{self.prefix}/{TOMBSTONES}/{name.replace('/', '__')}"

    def create(self, name: str) -> bytes:
        if self._exists(self._tombstone(name), name) or self._exists(self._path(name), name):
            raise KeyStoreError(
                f"key {name!r} already exists or was destroyed; key names are never reused"
            )
        key = secrets.token_bytes(KEY_BYTES)
        self._write(self._path(name), {"key": base64.b64encode(key).decode()}, name)
        return key

    def get(self, name: str) -> bytes:
        if self._exists(self._tombstone(name), name):
            raise MissingKeyError(f"key {name!r} was destroyed; the data it protected is gone")
        data = self._read(self._path(name), name)
        if data is None:
            raise MissingKeyError(f"key {name!r} is missing from Vault at {self._path(name)}")
        key = base64.b64decode(data["key"])
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"key {name!r} is damaged (wrong length)")
        return key

    def destroy(self, name: str) -> bool:
        path = self._path(name)
        existed = self._exists(path, name)
        if existed:
            self._call(name, self.kv.delete_metadata_and_all_versions, path)
        if not self._exists(self._tombstone(name), name):
            self._write(self._tombstone(name), {"destroyed": True}, name)
        return existed

    def names(self) -> list[str]:
        return sorted(n for c in CUSTODIANS for n in self._list(f"{self.prefix}/{c}"))

    def destroyed(self) -> list[str]:
        return self._list(f"{self.prefix}/{TOMBSTONES}")

    # ----- hvac's errors, as the key store's -----------------------------------------------

    def _write(self, path: str, secret: dict, name: str) -> None:
        self._call(name, self.kv.create_or_update_secret, path, secret=secret, cas=0)

    def _read(self, path: str, name: str) -> dict | None:
        from hvac.exceptions import InvalidPath

        try:
            response = self._call(
                name, self.kv.read_secret_version, path, raise_on_deleted_version=True
            )
        except InvalidPath:
            return None
        return response["data"]["data"]

    def _exists(self, path: str, name: str) -> bool:
        return self._read(path, name) is not None

    def _list(self, folder: str) -> list[str]:
        from hvac.exceptions import Forbidden, InvalidPath

        try:
            listed = self.kv.list_secrets(path=folder, mount_point=self.mount)
        except (InvalidPath, Forbidden):  # none yet, or not this token's custodian
            return []
        return sorted(k.replace("__", "/") for k in listed["data"]["keys"] if not k.endswith("/"))

    def _call(self, name: str, method, path: str, **arguments):
        from hvac.exceptions import Forbidden, InvalidPath, VaultError

        try:
            return method(path=path, mount_point=self.mount, **arguments)
        except InvalidPath:
            raise  # "no such secret": the caller's question, not an error
        except Forbidden:
            raise KeyCustodyError(
                f"this Vault token may not use key {name!r}: it is held by "
                f"{CUSTODIANS[custodian_of(name)]} (Vault policy)"
            ) from None
        except VaultError as err:
            raise KeyStoreError(f"Vault refused an operation on key {name!r}: {err}") from None
