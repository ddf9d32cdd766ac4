"""The key store: where every key OpenPHM uses lives, and where keys are destroyed.

Destroying a data key makes the zone files it protects unreadable (crypto-shredding, promises P8
and P9). The store is an interface (`KeyStore`) so that HashiCorp Vault or a cloud KMS can
replace the local, file-based implementation without touching the stages that use keys.
A workspace's store is split by custodian (`custody.py`): the operating system, not the
command line's declared role, decides which account may read which key.

Which code may ask for which key is fixed by docs/promises.md "Key material": data keys are
used by the engine to open zone files; the linkage key only by ``openphm.pseudonymise``.
"""

from openphm.keystore.base import KeyName, KeyStore, KeyStoreError, MissingKeyError
from openphm.keystore.custody import CustodyKeyStore, KeyCustodyError, open_keystore
from openphm.keystore.local import LocalKeyStore

__all__ = [
    "CustodyKeyStore",
    "KeyCustodyError",
    "KeyName",
    "KeyStore",
    "KeyStoreError",
    "LocalKeyStore",
    "MissingKeyError",
    "open_keystore",
]
