"""The key store interface and the names of the keys a programme holds."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from openphm.errors import UserFacingError

KEY_BYTES = 32
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class KeyStoreError(UserFacingError):
    """The key store cannot do what was asked."""


class MissingKeyError(KeyStoreError):
    """A key the workspace needs is not in the key store (never made, or destroyed)."""


class KeyName:
    """The keys of a programme. Data keys are per zone (and per landing batch, so that each
    batch can be destroyed on its own schedule)."""

    LINKAGE = "linkage"
    SIGNING = "signing"
    LINKED_DATA = "data/linked"

    @staticmethod
    def landing_batch(batch_id: str) -> str:
        return f"data/landing/{batch_id}"

    @staticmethod
    def recipient(slug: str) -> str:
        """A recipient's secret: salts its key, destroyed when its access expires."""
        return f"recipient/{slug}"

    @staticmethod
    def validate(name: str) -> str:
        if not _NAME.match(name):
            raise KeyStoreError(
                f"{name!r} is not a valid key name (lower-case letters, digits, '.', '_', '-', '/')"
            )
        return name


class KeyStore(ABC):
    """Holds named 32-byte secrets. Implementations never log or print key bytes."""

    @abstractmethod
    def create(self, name: str) -> bytes:
        """Make a new random key; refuse if one of that name exists (or existed and was
        destroyed: a destroyed key's name is never reused, so old ciphertext stays dead)."""

    @abstractmethod
    def get(self, name: str) -> bytes:
        """The key's bytes; MissingKeyError naming the key if it is absent or destroyed."""

    @abstractmethod
    def destroy(self, name: str) -> bool:
        """Destroy the key irrecoverably; True if it existed."""

    @abstractmethod
    def names(self) -> list[str]:
        """Names of the keys held now (not destroyed)."""

    @abstractmethod
    def destroyed(self) -> list[str]:
        """Names of keys that were destroyed."""

    def has(self, name: str) -> bool:
        return name in self.names()

    def hidden(self) -> list[str]:
        """Parts of the store this account may not see (custodians' stores); none here."""
        return []
