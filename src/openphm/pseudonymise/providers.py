"""The hospital providers' public keys, registered with the programme (promise P5), under the
practices' rules (openphm.pseudonymise.practices).

Reads a public key file a provider sent (made by `phm provider keygen` at the trust); writes
`WORKSPACE/providers/<ODS>.pub` and the audit log. Zone 2 seals the tokens of the provider's
own local patient ids to the key registered here (openphm.pseudonymise.hospital), so only the
provider's private key, which never leaves it, opens them. Only a provider the programme
receives admitted-care, emergency-care, outpatients or community extracts from
(`ProgrammeConfig.list_providers`) may register; a provider's key is never silently replaced
(the DPO replaces it, `provider.replace_key`), and a key already registered for any other
organisation, practice or provider, is always refused (practices refuse providers' keys too).
"""

from __future__ import annotations

from pathlib import Path

from nacl.public import PublicKey

from openphm.governance.audit import Actor
from openphm.practice.keys import load_public_key
from openphm.pseudonymise.practices import Recipients, Registration, _register

FOLDER = "providers"
PROVIDERS = Recipients(
    "provider",
    FOLDER,
    lambda ws: ws.config.list_providers(),
    ("{ods} is not a hospital or community provider of this programme",
     "{ods} sends this programme no admitted-care, emergency-care, outpatients or community "
     "extract (programme.toml [[sources]]); only such a provider may receive "
     "re-identification tokens for its own patients"),
)  # fmt: skip


def register_provider(
    ws, actor: Actor, ods_code: str, public_key_file: Path, *, replace: bool = False
) -> Registration:
    """Record a hospital provider's public key. Its first key is registered by the processor
    engineer (`provider.register`); a different key for a provider that has one is refused
    unless `replace` is given, which is the data protection officer's action
    (`provider.replace_key`): lists already sent were sealed to the old key. A key already
    registered for a practice or another provider is refused outright. Every refusal is
    audited."""
    action = "provider.replace_key" if replace else "provider.register"
    return _register(
        ws, actor, action, ods_code, lambda: load_public_key(public_key_file),
        f"{public_key_file} is", replace=replace, kind=PROVIDERS,
    )  # fmt: skip


def registered_provider_keys(ws) -> dict[str, PublicKey]:
    """{ODS code: public key} for every provider of the programme that has registered one."""
    return PROVIDERS.keys(ws)
