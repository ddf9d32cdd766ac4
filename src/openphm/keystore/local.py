"""A key store in a local folder: one file per key, readable only by its owner (or, where a
custodian's group shares a store, by that group: never written by it, never open to others).

Suits one machine. Destruction overwrites the file with random bytes, syncs, then unlinks it;
on journalling or copy-on-write storage the overwrite is best-effort, which is why the files
should sit on an encrypted volume (see docs/ARCHITECTURE.md) and why Vault or a KMS is the
better store for a production programme.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from openphm.keystore.base import KEY_BYTES, KeyName, KeyStore, KeyStoreError, MissingKeyError

_DESTROYED_SUFFIX = ".destroyed"
# Permission bits that make a store or key file too open: anything for other accounts, and
# writing (or, for a key, executing) for the group. Owner-only (0700/0600) is the norm; a
# custodian's group may read (0750/0640).
TOO_OPEN_FOLDER = 0o027
TOO_OPEN_FILE = 0o037


def refuse_if_too_open(path: Path, too_open: int, advice: str) -> None:
    """Refuse to use a key store folder or key file that other accounts could read or change."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & too_open:
        raise KeyStoreError(
            f"{path} is open to other accounts (mode {mode:o}): no key is used from it until "
            f"it is closed again (chmod {advice} {path}); then check who may have read it"
        )


class LocalKeyStore(KeyStore):
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise KeyStoreError(f"key store {self.directory} does not exist")
        refuse_if_too_open(self.directory, TOO_OPEN_FOLDER, "700")

    @classmethod
    def initialise(cls, directory: Path) -> LocalKeyStore:
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=False)
        os.chmod(directory, 0o700)
        return cls(directory)

    def _path(self, name: str) -> Path:
        return self.directory / (KeyName.validate(name).replace("/", "__") + ".key")

    def create(self, name: str) -> bytes:
        path = self._path(name)
        if path.exists() or path.with_suffix(_DESTROYED_SUFFIX).exists():
            raise KeyStoreError(
                f"key {name!r} already exists or was destroyed; key names are never reused"
            )
        key = secrets.token_bytes(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return key

    def get(self, name: str) -> bytes:
        path = self._path(name)
        if path.with_suffix(_DESTROYED_SUFFIX).exists():
            raise MissingKeyError(f"key {name!r} was destroyed; the data it protected is gone")
        if not path.is_file():
            raise MissingKeyError(
                f"key {name!r} is missing from the key store at {self.directory}; "
                "restore the key store from its backup or re-create the workspace"
            )
        refuse_if_too_open(path, TOO_OPEN_FILE, "600")
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"key {name!r} is damaged (wrong length)")
        return key

    def destroy(self, name: str) -> bool:
        path = self._path(name)
        if not path.is_file():
            return False
        with open(path, "r+b") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
        # A tombstone, so the name is never reused and "destroyed" can be told from "missing".
        path.with_suffix(_DESTROYED_SUFFIX).touch(mode=0o600)
        return True

    def names(self) -> list[str]:
        return sorted(p.stem.replace("__", "/") for p in self.directory.glob("*.key"))

    def destroyed(self) -> list[str]:
        return sorted(
            p.stem.replace("__", "/") for p in self.directory.glob(f"*{_DESTROYED_SUFFIX}")
        )
