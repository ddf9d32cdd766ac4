"""The command line: every command explains itself; errors are one clear line, not a trace."""

from __future__ import annotations

import json


def test_phm_help_lists_the_commands(cli):
    result = cli(["--help"])
    assert result.exit_code == 0
    for command in ("init", "audit", "demo", "bench", "status", "check-config"):
        assert command in result.output


def test_every_command_has_help(cli):
    for command in (["init"], ["audit", "show"], ["audit", "verify"], ["demo"], ["bench"]):
        result = cli([*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_init_then_verify(cli, tmp_path, example_config):
    result = cli(["init", tmp_path / "ws", "--config", example_config])
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    result = cli(["audit", "verify", tmp_path / "ws", "--role", "data-protection-officer"])
    assert result.exit_code == 0 and "intact" in result.output


def test_init_with_a_bad_config_is_one_clear_error(cli, tmp_path):
    bad = tmp_path / "programme.toml"
    bad.write_text('[programme]\nname = "x"\ncontrollers = ["nope"]\n')
    result = cli(["init", tmp_path / "ws", "--config", bad])
    assert result.exit_code == 2
    assert "programme.controllers[0]" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()


def test_a_tampered_log_fails_verification_with_exit_1(cli, workspace):
    path = workspace.root / "audit" / "audit.jsonl"
    entry = json.loads(path.read_text())
    entry["user"] = "mallory"
    path.write_text(json.dumps(entry) + "\n")
    result = cli(["audit", "verify", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 1
    assert "edited" in result.output


def test_a_refused_role_exits_2_and_is_audited(cli, workspace):
    result = cli(["audit", "show", workspace.root, "--role", "analyst"])
    assert result.exit_code == 2
    assert "may not audit.show" in result.output
    assert list(workspace.audit.entries())[-1].outcome == "refused"


def test_status_says_what_is_due_for_destruction_and_when(cli, workspace):
    result = cli(["status", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0, result.output
    assert "Due for destruction" in result.output
    assert "all programme data" in result.output and "2027-03-22" in result.output
    assert "recipient key:" in result.output
