"""Key custody by role (promise P3): each key store belongs to the operating-system account whose
role uses it, so an analyst's account is refused the linkage and landing keys by the operating
system itself, not by a role it declared; and a store left open to others is refused.

The accounts are numeric ids with no password entry: a forked child takes each one (setuid), so
the test needs root, as `phm custody assign` does."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from openphm.governance.roles import Refused
from openphm.keystore import KeyCustodyError, KeyName, KeyStoreError
from openphm.programme.custody import assign_custody
from openphm.programme.workspace import Workspace, WorkspaceError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="taking other accounts needs root")

GROUP = 4300  # the programme's accounts
PROCESSOR, ANALYTICS, DPO_ACCOUNT, ANALYST = 4301, 4302, 4303, 4310
BATCH = KeyName.landing_batch("20261103-a")


def as_account(uid: int, groups: list[int], act: Callable[[], object]) -> dict:
    """Run `act` in a child process that has become account `uid` (its own group `uid`, plus
    `groups`); what it returned, or the error it raised, comes back as JSON."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        try:
            os.setgroups(groups)
            os.setgid(uid)
            os.setuid(uid)
            os.environ["USER"] = os.environ["LOGNAME"] = f"account-{uid}"
            outcome = {"ok": act()}
        except BaseException as err:
            outcome = {"error": type(err).__name__, "message": str(err)}
        os.write(write, json.dumps(outcome, default=str).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def assigned(example_config, engineer, dpo):
    """A workspace whose stores and zones are handed to the programme's three accounts, in a
    folder every account may reach (pytest's own is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="custody-"))
    os.chmod(base, 0o755)
    ws = Workspace.create(base / "ws", example_config, engineer)
    ws.keystore.create(BATCH)
    (ws.zone("landing") / "batch-20261103-a.duckdb").write_bytes(b"identifiable, encrypted")
    assign_custody(ws, dpo, processor=str(PROCESSOR), analytics=str(ANALYTICS),
                   dpo=str(DPO_ACCOUNT), group=str(GROUP))  # fmt: skip
    yield ws
    shutil.rmtree(base)


def _read(path: Path) -> Callable[[], int]:
    return lambda: len(path.read_bytes())


def test_an_analysts_account_is_refused_the_linkage_and_landing_keys_by_the_system(assigned):
    keys = assigned.keystore.directory
    processor, analytics = keys / "processor", keys / "analytics"
    landing = processor / "data__landing__20261103-a.key"
    for key_file in (processor / "linkage.key", landing, analytics / "data__linked.key"):
        outcome = as_account(ANALYST, [], _read(key_file))
        assert outcome.get("error") == "PermissionError", (key_file, outcome)
    listing = as_account(ANALYST, [], lambda: os.listdir(keys))
    assert listing.get("error") == "PermissionError"
    opened = as_account(ANALYST, [], lambda: Workspace.open(assigned.root).root)
    assert opened["error"] == WorkspaceError.__name__
    assert "may not open the workspace" in opened["message"]


def test_each_programme_account_holds_only_the_keys_its_role_uses(assigned):
    def held(names: list[str]) -> Callable[[], dict]:
        def attempt() -> dict:
            ws = Workspace.open(assigned.root)
            found = {}
            for name in names:
                try:
                    found[name] = len(ws.keystore.get(name))
                except KeyCustodyError as err:
                    found[name] = f"refused: {err}"
            return found

        return attempt

    every = [KeyName.LINKAGE, BATCH, KeyName.LINKED_DATA, KeyName.SIGNING]
    processor = as_account(PROCESSOR, [GROUP], held(every))["ok"]
    analytics = as_account(ANALYTICS, [GROUP], held(every))["ok"]
    dpo = as_account(DPO_ACCOUNT, [GROUP], held(every))["ok"]
    usable = {
        who: sorted(name for name, got in found.items() if got == 32)
        for who, found in (("processor", processor), ("analytics", analytics), ("dpo", dpo))
    }
    assert usable == {
        "processor": sorted([KeyName.LINKAGE, BATCH, KeyName.LINKED_DATA]),
        "analytics": [KeyName.LINKED_DATA],
        "dpo": [KeyName.SIGNING],
    }
    assert "held by the processor's engineering account" in analytics[KeyName.LINKAGE]
    refusals = [e for e in assigned.audit.entries() if e.action == "key.read"]
    assert refusals and {e.outcome for e in refusals} == {"refused"}
    assert {e.user for e in refusals} == {f"account-{ANALYTICS}", f"account-{DPO_ACCOUNT}",
                                          f"account-{PROCESSOR}"}  # fmt: skip


def test_the_landing_zone_is_the_processors_alone(assigned):
    batch = assigned.zone("landing") / "batch-20261103-a.duckdb"
    assert as_account(PROCESSOR, [GROUP], _read(batch)) == {"ok": len(b"identifiable, encrypted")}
    for account in (ANALYTICS, DPO_ACCOUNT, ANALYST):
        assert as_account(account, [GROUP], _read(batch))["error"] == "PermissionError"


def test_the_refresh_records_are_the_processors_and_the_programme_reads_them(assigned):
    """`phm refresh` runs as the processor's account (docs/refresh.md): it keeps its records in
    refresh/, which the workspace's root (the administrator's) would not let it make."""
    from openphm.refresh import record

    def start() -> str:
        ws = Workspace.open(assigned.root)
        made = record.new(("ingest",), "processor")
        record.save(ws, made)
        with record.locked(ws):
            return made["id"]

    made = as_account(PROCESSOR, [GROUP], start)["ok"]
    path = assigned.root / "refresh" / f"{made}.json"
    assert as_account(ANALYTICS, [GROUP], _read(path))["ok"] > 0
    write = lambda: path.write_text("{}")  # noqa: E731
    assert as_account(ANALYTICS, [GROUP], write)["error"] == "PermissionError"
    assert as_account(ANALYST, [], _read(path))["error"] == "PermissionError"


def test_a_key_store_left_open_to_other_accounts_is_refused_with_what_to_do(assigned):
    store = assigned.keystore.directory / "processor"
    os.chmod(store, 0o755)
    with pytest.raises(KeyStoreError, match=r"open to other accounts \(mode 755\).*chmod 700"):
        Workspace.open(assigned.root).keystore.get(KeyName.LINKAGE)
    os.chmod(store, 0o700)
    key_file = store / "linkage.key"
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyStoreError, match=r"open to other accounts \(mode 644\).*chmod 600"):
        Workspace.open(assigned.root).keystore.get(KeyName.LINKAGE)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o644  # refused, not silently "fixed"


def test_only_the_administrator_assigns_custody_and_only_as_the_dpo(workspace, engineer):
    with pytest.raises(Refused, match=r"may not custody\.assign"):
        assign_custody(workspace, engineer, processor="0", analytics="0", dpo="0", group="0")
    refused = list(workspace.audit.entries())[-1]
    assert (refused.action, refused.outcome) == ("custody.assign", "refused")
