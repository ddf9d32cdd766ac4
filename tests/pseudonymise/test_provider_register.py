"""`phm provider register`: a hospital provider's public key, under the practices' rules: only a
provider the programme receives hospital or community extracts from, never another
organisation's key (a practice's or another provider's), replaced only by the DPO, every
refusal audited."""

from __future__ import annotations

import pytest

from openphm.governance.audit import AuditLog
from openphm.governance.roles import Refused
from openphm.practice.keys import generate_keypair, load_public_key
from openphm.pseudonymise.practices import (
    KeyAlreadyRegistered,
    KeyInUse,
    NotAController,
    register_practice,
    registered_keys,
)
from openphm.pseudonymise.providers import register_provider, registered_provider_keys

TRUST, COMMUNITY = "RX1", "RY1"  # the example programme's hospital and community providers


def last(workspace):
    return list(AuditLog(workspace.root / "audit").entries())[-1]


def test_the_programme_s_providers_are_its_hospital_and_community_ones(workspace):
    # Social care (E0801) and deaths (X26) send extracts but hold no hospital local ids.
    assert workspace.config.list_providers() == [TRUST, COMMUNITY]


def test_a_provider_s_key_is_registered_apart_from_the_practices_and_audited(
    workspace, engineer, tmp_path
):
    pair = generate_keypair(tmp_path / "trust", stem="provider")
    assert pair.public_key.name == "provider.pub"
    kept = register_provider(workspace, engineer, TRUST.lower(), pair.public_key).path
    assert kept == workspace.root / "providers" / f"{TRUST}.pub"
    assert list(registered_provider_keys(workspace)) == [TRUST]
    assert registered_keys(workspace) == {}  # no practice has a key
    entry = last(workspace)
    assert (entry.action, entry.outcome, entry.counts) == ("provider.register", "ok", {"keys": 1})


@pytest.mark.parametrize("code", ["E0801", "X26", "Y10001", "RZZ"])
def test_an_organisation_that_is_not_a_hospital_or_community_provider_is_refused(
    workspace, engineer, tmp_path, code
):
    pair = generate_keypair(tmp_path / "someone", stem="provider")
    with pytest.raises(NotAController):
        register_provider(workspace, engineer, code, pair.public_key)
    entry = last(workspace)
    assert (entry.action, entry.outcome) == ("provider.register", "refused")
    assert not (workspace.root / "providers").exists()


def test_a_practice_s_key_is_refused_for_a_provider_and_the_other_way_round(
    workspace, engineer, tmp_path
):
    practice = workspace.config.programme.controllers[0]
    ours = generate_keypair(tmp_path / "practice")
    register_practice(workspace, engineer, practice, ours.public_key)
    with pytest.raises(KeyInUse, match=practice):
        register_provider(workspace, engineer, TRUST, ours.public_key)
    assert last(workspace).outcome == "refused"
    trust = generate_keypair(tmp_path / "trust", stem="provider")
    register_provider(workspace, engineer, TRUST, trust.public_key)
    with pytest.raises(KeyInUse, match=TRUST):
        register_provider(workspace, engineer, COMMUNITY, trust.public_key)
    with pytest.raises(KeyInUse, match=TRUST):
        register_practice(
            workspace, engineer, workspace.config.programme.controllers[1], trust.public_key
        )
    assert last(workspace).outcome == "refused"


def test_a_provider_s_key_is_replaced_only_by_the_dpo(workspace, engineer, dpo, tmp_path, cli):
    first = generate_keypair(tmp_path / "first", stem="provider")
    second = generate_keypair(tmp_path / "second", stem="provider")
    register_provider(workspace, engineer, TRUST, first.public_key)
    with pytest.raises(KeyAlreadyRegistered):
        register_provider(workspace, engineer, TRUST, second.public_key)
    with pytest.raises(Refused):
        register_provider(workspace, engineer, TRUST, second.public_key, replace=True)
    assert bytes(registered_provider_keys(workspace)[TRUST]) == bytes(
        load_public_key(first.public_key)
    )  # still the first key
    refused = cli(["provider", "register", workspace.root, "--ods", TRUST, "--public-key",
                   second.public_key, "--role", "processor-engineer"])  # fmt: skip
    assert refused.exit_code != 0 and "data protection officer" in " ".join(refused.output.split())
    replaced = cli(["provider", "register", workspace.root, "--ods", TRUST, "--public-key",
                    second.public_key, "--replace", "--yes", "--role",
                    "data-protection-officer"])  # fmt: skip
    assert replaced.exit_code == 0, replaced.output
    text = " ".join(replaced.output.split())
    assert "Warning:" in text and "Replaced provider RX1's key" in text
    assert (workspace.root / "providers" / f"{TRUST}.pub").read_bytes() == (
        second.public_key.read_bytes()
    )
    entry = last(workspace)
    assert (entry.action, entry.outcome, entry.counts) == (
        "provider.replace_key",
        "ok",
        {"keys": 1, "replaced": 1},
    )
