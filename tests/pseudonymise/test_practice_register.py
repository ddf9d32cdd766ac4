"""`phm practice register`: a controller practice's public key, recorded and audited."""

from __future__ import annotations

import pytest

from openphm.governance.audit import AuditLog
from openphm.governance.roles import Refused
from openphm.practice.keys import PracticeKeyError, generate_keypair, load_public_key
from openphm.pseudonymise.practices import (
    PRACTICES,
    KeyAlreadyRegistered,
    KeyInUse,
    NotAController,
    key_id,
    register_practice,
    registered_keys,
)


def test_a_controller_practices_key_is_registered_and_audited(workspace, engineer, tmp_path):
    practice = workspace.config.programme.controllers[0]
    pair = generate_keypair(tmp_path / "practice")
    kept = register_practice(workspace, engineer, practice, pair.public_key).path
    assert kept.read_bytes() == pair.public_key.read_bytes()
    assert list(registered_keys(workspace)) == [practice]
    entry = list(AuditLog(workspace.root / "audit").entries())[-1]
    assert (entry.action, entry.outcome, entry.counts) == ("practice.register", "ok", {"keys": 1})


def test_a_practice_that_is_not_a_controller_is_refused(workspace, engineer, tmp_path):
    pair = generate_keypair(tmp_path / "practice")
    with pytest.raises(NotAController):
        register_practice(workspace, engineer, "Z99999", pair.public_key)
    entry = list(AuditLog(workspace.root / "audit").entries())[-1]
    assert entry.outcome == "refused"
    assert not (workspace.root / "practices").exists()


def test_a_file_that_is_not_a_public_key_is_refused(workspace, engineer, tmp_path):
    bad = tmp_path / "practice.pub"
    bad.write_text("not a key\n")
    with pytest.raises(PracticeKeyError):
        register_practice(workspace, engineer, workspace.config.programme.controllers[0], bad)


def test_an_analyst_may_not_register_a_key(workspace, analyst, tmp_path):
    pair = generate_keypair(tmp_path / "practice")
    with pytest.raises(Refused):
        register_practice(
            workspace, analyst, workspace.config.programme.controllers[0], pair.public_key
        )


def test_the_command_registers_and_refuses(cli, workspace, tmp_path):
    pair = generate_keypair(tmp_path / "practice")
    ok = cli(["practice", "register", workspace.root, "--ods",
              workspace.config.programme.controllers[0], "--public-key", pair.public_key,
              "--role", "processor-engineer"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    refused = cli(["practice", "register", workspace.root, "--ods", "Z99999",
                   "--public-key", pair.public_key, "--role", "processor-engineer"])  # fmt: skip
    assert refused.exit_code == 2 and "not among programme.controllers" in refused.output


def _last(workspace):
    return list(AuditLog(workspace.root / "audit").entries())[-1]


def test_a_different_key_for_a_registered_practice_is_refused_and_audited(
    workspace, engineer, tmp_path
):
    practice = workspace.config.programme.controllers[0]
    first = generate_keypair(tmp_path / "first")
    second = generate_keypair(tmp_path / "second")
    register_practice(workspace, engineer, practice, first.public_key)
    with pytest.raises(KeyAlreadyRegistered, match="data protection officer"):
        register_practice(workspace, engineer, practice, second.public_key)
    # The registered key is still the first: nothing was replaced.
    kept = workspace.root / "practices" / f"{practice}.pub"
    assert kept.read_bytes() == first.public_key.read_bytes()
    entry = _last(workspace)
    assert (entry.action, entry.outcome) == ("practice.register", "refused")
    assert key_id(registered_keys(workspace)[practice]) in entry.reason


def test_the_engineer_may_not_replace_a_key_even_when_asking_to(workspace, engineer, tmp_path):
    practice = workspace.config.programme.controllers[0]
    first = generate_keypair(tmp_path / "first")
    register_practice(workspace, engineer, practice, first.public_key)
    second = generate_keypair(tmp_path / "second")
    with pytest.raises(Refused):
        register_practice(workspace, engineer, practice, second.public_key, replace=True)
    entry = _last(workspace)
    assert (entry.action, entry.outcome) == ("practice.replace_key", "refused")
    kept = workspace.root / "practices" / f"{practice}.pub"
    assert kept.read_bytes() == first.public_key.read_bytes()


def test_the_dpo_replaces_a_key_and_the_replacement_is_audited(workspace, engineer, dpo, tmp_path):
    practice = workspace.config.programme.controllers[0]
    first = generate_keypair(tmp_path / "first")
    second = generate_keypair(tmp_path / "second")
    old = register_practice(workspace, engineer, practice, first.public_key).fingerprint
    done = register_practice(workspace, dpo, practice, second.public_key, replace=True)
    assert done.replaced == old and done.fingerprint != old
    assert done.path.read_bytes() == second.public_key.read_bytes()
    entry = _last(workspace)
    assert (entry.action, entry.outcome, entry.role) == (
        "practice.replace_key", "ok", "data-protection-officer"
    )  # fmt: skip
    assert entry.counts == {"keys": 1, "replaced": 1}
    assert old in entry.reason and done.fingerprint in entry.reason


def test_another_practices_key_is_refused_even_to_the_dpo(workspace, engineer, dpo, tmp_path):
    a, b = workspace.config.programme.controllers[:2]
    pair = generate_keypair(tmp_path / "a")
    register_practice(workspace, engineer, a, pair.public_key)
    # A copy of A's key file, rewritten with other white space, is still A's key.
    copy = tmp_path / "copy.pub"
    copy.write_bytes(pair.public_key.read_bytes().strip() + b"\r\n")
    for actor, replace in ((engineer, False), (dpo, True)):
        with pytest.raises(KeyInUse, match=a):
            register_practice(workspace, actor, b, copy, replace=replace)
        entry = _last(workspace)
        assert entry.outcome == "refused" and a in entry.reason and b in entry.reason
    assert list(registered_keys(workspace)) == [a]


def test_the_same_key_again_changes_nothing(workspace, engineer, tmp_path):
    practice = workspace.config.programme.controllers[0]
    pair = generate_keypair(tmp_path / "practice")
    register_practice(workspace, engineer, practice, pair.public_key)
    again = register_practice(workspace, engineer, practice, pair.public_key)
    assert again.unchanged
    assert _last(workspace).counts == {"keys": 0}


def test_what_a_replacement_would_replace_is_read_before_anything_changes(
    workspace, engineer, tmp_path
):
    """The stage tells the command what `--replace` would replace (the warning it shows before
    asking): nothing for a practice with no key or the same key, else both fingerprints; and it
    changes nothing and audits nothing (the registration does both)."""
    practice = workspace.config.programme.controllers[0]
    first = generate_keypair(tmp_path / "first")
    second = generate_keypair(tmp_path / "second")
    assert PRACTICES.replacing(workspace, practice, first.public_key) is None
    register_practice(workspace, engineer, practice, first.public_key)
    entries = len(list(AuditLog(workspace.root / "audit").entries()))
    assert PRACTICES.replacing(workspace, practice.lower(), first.public_key) is None
    old, new = (key_id(registered_keys(workspace)[practice]),
                key_id(load_public_key(second.public_key)))  # fmt: skip
    assert PRACTICES.replacing(workspace, f" {practice.lower()} ", second.public_key) == (old, new)
    assert old != new
    kept = workspace.root / "practices" / f"{practice}.pub"
    assert kept.read_bytes() == first.public_key.read_bytes()
    assert len(list(AuditLog(workspace.root / "audit").entries())) == entries


def test_the_command_warns_before_a_replacement_and_asks(cli, workspace, tmp_path):
    practice = workspace.config.programme.controllers[0]
    first = generate_keypair(tmp_path / "first")
    second = generate_keypair(tmp_path / "second")
    base = ["practice", "register", workspace.root, "--ods", practice]
    ok = cli([*base, "--public-key", first.public_key, "--role", "processor-engineer"])
    assert ok.exit_code == 0, ok.output
    refused = cli([*base, "--public-key", second.public_key, "--role", "processor-engineer"])
    assert refused.exit_code == 2 and "only the data protection officer" in refused.output
    dpo = [*base, "--public-key", second.public_key, "--replace", "--role",
           "data-protection-officer"]  # fmt: skip
    declined = cli(dpo, input="n\n")
    assert declined.exit_code == 1
    assert "cannot open them" in " ".join(declined.output.split())
    kept = workspace.root / "practices" / f"{practice}.pub"
    assert kept.read_bytes() == first.public_key.read_bytes()
    replaced = cli(dpo, input="y\n")
    assert replaced.exit_code == 0, replaced.output
    assert kept.read_bytes() == second.public_key.read_bytes()
    assert "run phm link" in " ".join(replaced.output.split())


def test_a_practice_code_with_markup_is_printed_as_typed(cli, workspace, tmp_path):
    pair = generate_keypair(tmp_path / "practice")
    typed = cli(["practice", "register", workspace.root, "--ods", "[/]y1[bold]", "--public-key",
                 pair.public_key, "--replace", "--role", "data-protection-officer"])  # fmt: skip
    assert typed.exit_code == 2, typed.output
    assert "[/]Y1[BOLD]" in typed.output and "Traceback" not in typed.output
