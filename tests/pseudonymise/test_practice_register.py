"""`phm practice register`: a controller practice's public key, recorded and audited."""

from __future__ import annotations

import pytest

from openphm.governance.audit import AuditLog
from openphm.governance.roles import Refused
from openphm.practice.keys import PracticeKeyError, generate_keypair
from openphm.pseudonymise.practices import NotAController, register_practice, registered_keys


def test_a_controller_practices_key_is_registered_and_audited(workspace, engineer, tmp_path):
    practice = workspace.config.programme.controllers[0]
    pair = generate_keypair(tmp_path / "practice")
    kept = register_practice(workspace, engineer, practice, pair.public_key)
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
