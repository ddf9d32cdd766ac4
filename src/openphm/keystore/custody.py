"""Key custody by role: one key store per custodian, so the operating system (or a key service)
refuses a key to an account whose role does not use it.

docs/promises.md "Key material" and "Custody": landing and linkage keys (and the recipients'
secrets, derived from the linkage key) are the processor's engineering account's; the linked
zone's data key is the analytics service's (which the processor's account also uses, to write
what `phm link` makes); the signing key is the data protection officer's close. On one machine
each custodian's store is a folder owned by that account (0700, keys 0600; a group that shares a
store may read, never write: 0750 and 0640), checked whenever a store is used, with a refusal
that says what to do when it is open to anyone else. `phm custody assign` hands each store to
its account; docs/ARCHITECTURE.md "Threat model" says what this does and does not protect.

```
keys/              0711: every custodian may pass through, nobody but the owner lists it
  processor/       linkage, data/landing/<batch>, recipient/<name>
  analytics/       data/linked
  dpo/             signing
```
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path

from openphm.keystore.base import KeyName, KeyStore, KeyStoreError
from openphm.keystore.local import LocalKeyStore, refuse_if_too_open


class KeyCustodyError(KeyStoreError):
    """This operating-system account may not use the key store that holds a key."""


PROCESSOR, ANALYTICS, DPO = "processor", "analytics", "dpo"
CUSTODIANS = {
    PROCESSOR: "the processor's engineering account",
    ANALYTICS: "the analytics service's account",
    DPO: "the data protection officer's close",
}


def custodian_of(name: str) -> str:
    """Which custodian's store holds the key called `name`."""
    if name == KeyName.LINKED_DATA:
        return ANALYTICS
    if name == KeyName.SIGNING:
        return DPO
    return PROCESSOR  # linkage, landing batches, recipients' secrets


class CustodyKeyStore(KeyStore):
    """Routes each key to its custodian's store. A store this account cannot use is refused
    only when one of its keys is asked for, so an account works with the stores it holds."""

    def __init__(self, directory: Path, on_refused: Callable[[str], None] | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise KeyStoreError(f"key store {self.directory} does not exist")
        # The parent may be passed through by every custodian (--x), never listed or changed.
        refuse_if_too_open(self.directory, 0o066, "711")
        self.on_refused = on_refused
        self.stores = {c: self.directory / c for c in CUSTODIANS}

    @classmethod
    def initialise(cls, directory: Path) -> CustodyKeyStore:
        directory = Path(directory)
        directory.mkdir(mode=0o711, parents=True, exist_ok=False)
        os.chmod(directory, 0o711)
        for custodian in CUSTODIANS:
            LocalKeyStore.initialise(directory / custodian)
        return cls(directory)

    @staticmethod
    def is_custody_layout(directory: Path) -> bool:
        return all((Path(directory) / c).is_dir() for c in CUSTODIANS)

    def _store(self, name: str) -> LocalKeyStore:
        custodian = custodian_of(KeyName.validate(name))
        folder = self.stores[custodian]
        if not os.access(folder, os.R_OK | os.X_OK):
            reason = (
                f"this account ({getpass.getuser()}) may not use key {name!r}: it is held by "
                f"{CUSTODIANS[custodian]} (key store {folder}). Run the command as that "
                "account; analysts query through the web service, never with a key file"
            )
            if self.on_refused:
                self.on_refused(reason)
            raise KeyCustodyError(reason)
        return LocalKeyStore(folder)

    def create(self, name: str) -> bytes:
        return self._store(name).create(name)

    def get(self, name: str) -> bytes:
        return self._store(name).get(name)

    def destroy(self, name: str) -> bool:
        return self._store(name).destroy(name)

    def names(self) -> list[str]:
        return sorted(n for store in self._visible() for n in store.names())

    def destroyed(self) -> list[str]:
        return sorted(n for store in self._visible() for n in store.destroyed())

    def hidden(self) -> list[str]:
        """The custodians whose stores this account may not list."""
        return [c for c, f in self.stores.items() if not os.access(f, os.R_OK | os.X_OK)]

    def _visible(self) -> list[LocalKeyStore]:
        return [LocalKeyStore(self.stores[c]) for c in CUSTODIANS if c not in self.hidden()]


def open_keystore(directory: Path, on_refused: Callable[[str], None] | None = None) -> KeyStore:
    """The workspace's key store: split by custodian, or (a workspace made before custody)
    one folder for every key."""
    if CustodyKeyStore.is_custody_layout(directory):
        return CustodyKeyStore(directory, on_refused)
    return LocalKeyStore(directory)
