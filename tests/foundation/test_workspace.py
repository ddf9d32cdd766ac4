"""The workspace: one place per zone, a key store, an audit log; clear errors, no half-made
workspaces."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from openphm.keystore import KeyName, MissingKeyError
from openphm.programme.config import ConfigError
from openphm.programme.workspace import META_FILE, Workspace, WorkspaceError


def test_a_new_workspace_has_every_zone_a_key_store_and_an_audit_log(workspace):
    for zone in ("landing", "linked", "outputs", "audit", "keys"):
        assert (workspace.root / zone).is_dir()
    assert set(workspace.keystore.names()) == {
        KeyName.LINKAGE,
        KeyName.SIGNING,
        KeyName.LINKED_DATA,
    }
    [entry] = list(workspace.audit.entries())
    assert entry.action == "workspace.init" and entry.role == "processor-engineer"


def test_each_custodian_has_a_store_readable_only_by_its_owner(workspace):
    keys = workspace.keystore.directory
    assert stat.S_IMODE(keys.stat().st_mode) == 0o711  # passed through, never listed
    assert sorted(p.name for p in keys.iterdir()) == ["analytics", "dpo", "processor"]
    for store in keys.iterdir():
        assert stat.S_IMODE(store.stat().st_mode) == 0o700
        for key_file in store.glob("*.key"):
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    held = {store.name: sorted(p.name for p in store.glob("*.key")) for store in keys.iterdir()}
    assert held == {
        "processor": ["linkage.key"],
        "analytics": ["data__linked.key"],
        "dpo": ["signing.key"],
    }


def test_a_workspace_that_exists_is_not_overwritten(workspace, example_config, engineer):
    before = sorted(p.name for p in workspace.root.iterdir())
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(workspace.root, example_config, engineer)
    assert sorted(p.name for p in workspace.root.iterdir()) == before
    assert len(list(workspace.audit.entries())) == 1


def test_a_bad_config_leaves_nothing_behind(tmp_path: Path, engineer):
    bad = tmp_path / "bad.toml"
    bad.write_text('[programme]\nname = "x"\n')
    with pytest.raises(ConfigError):
        Workspace.create(tmp_path / "ws", bad, engineer)
    assert not (tmp_path / "ws").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


def test_a_workspace_from_a_newer_version_is_refused(workspace):
    meta_path = workspace.root / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(WorkspaceError, match="newer OpenPHM"):
        Workspace.open(workspace.root)


def test_a_folder_that_is_not_a_workspace_is_refused(tmp_path: Path):
    with pytest.raises(WorkspaceError, match="not an OpenPHM workspace"):
        Workspace.open(tmp_path)


def test_a_key_store_missing_a_key_is_refused_and_nothing_changes(workspace):
    (workspace.keystore.directory / "processor" / "linkage.key").unlink()
    entries_before = (workspace.root / "audit" / "audit.jsonl").read_bytes()
    with pytest.raises(MissingKeyError, match="missing key 'linkage'"):
        Workspace.open(workspace.root)
    assert (workspace.root / "audit" / "audit.jsonl").read_bytes() == entries_before


def test_the_key_store_can_live_outside_the_workspace(tmp_path, example_config, engineer):
    ws = Workspace.create(
        tmp_path / "ws", example_config, engineer, keystore_dir=tmp_path / "vault"
    )
    assert not (ws.root / "keys").exists()
    assert Workspace.open(ws.root).keystore.has(KeyName.LINKAGE)


def test_relative_inboxes_resolve_against_the_programme_file(workspace, example_config):
    source = workspace.config.sources[0]
    assert workspace.inbox(source) == example_config.parent / source.inbox
