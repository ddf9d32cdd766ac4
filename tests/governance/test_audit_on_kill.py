"""A release requested or approved, and a recipient's key destroyed, are recorded even when the
command is stopped between its change and its audit entry: the next open records them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openphm import clock
from openphm.disclosure import checking, releases
from openphm.disclosure.checking import approve_release
from openphm.disclosure.releases import request_release, save_draft
from openphm.governance.audit import Actor
from openphm.governance.schedule import keep_promises
from openphm.keystore import KeyName
from openphm.programme.workspace import Workspace

ANA, OLA = Actor("ana", "analyst"), Actor("ola", "output-checker")
DORA = Actor("dora", "data-protection-officer")


class Killed(BaseException):
    """Stands for the process being killed at that instant."""


@pytest.fixture
def drafted(workspace):
    cells = pd.DataFrame({"practice": ["Y10001", "Y10002"], "people": [1403, 977]})
    con = workspace.connect_linked()
    save_draft(con, "people", cells, groups=["practice"], counts=["people"],
               description="People registered per practice")  # fmt: skip
    con.close()
    return workspace


def _stopped_after_the_manifest(monkeypatch, do) -> None:
    write = releases.save_release

    def write_then_die(folder, manifest):
        write(folder, manifest)
        raise Killed

    with monkeypatch.context() as patched:
        for module in (releases, checking):  # each holds its own name for it
            patched.setattr(module, "save_release", write_then_die)
        with pytest.raises(Killed):
            do()


def _actions(ws) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in ws.audit.entries() if e.action.startswith("release")]


def test_a_release_request_stopped_after_its_manifest_is_recorded_at_the_next_open(
    drafted, monkeypatch
):
    request = lambda: request_release(drafted, ANA, ["people"], purpose="prevention", title="T")  # noqa: E731
    _stopped_after_the_manifest(monkeypatch, request)
    ws = Workspace.open(drafted.root)
    assert _actions(ws) == [("release.request", "ok")]
    assert ws.audit.verify().ok


def test_a_release_approval_stopped_after_its_manifest_is_recorded_at_the_next_open(
    drafted, monkeypatch
):
    made = request_release(drafted, ANA, ["people"], purpose="prevention", title="T")
    _stopped_after_the_manifest(monkeypatch, lambda: approve_release(drafted, OLA, made["id"]))
    ws = Workspace.open(drafted.root)
    assert _actions(ws) == [("release.request", "ok"), ("release.approve", "ok")]
    assert [e.user for e in ws.audit.entries() if e.action == "release.approve"] == ["ola"]


def test_a_recipient_expiry_stopped_after_the_key_is_destroyed_is_recorded_at_the_next_open(
    workspace, monkeypatch
):
    config = workspace.root / "programme.toml"
    recipient = workspace.config.recipients[0]
    workspace.keystore.create(KeyName.recipient(recipient.slug))  # made by its first extract
    yesterday = clock.today() - dt.timedelta(days=1)
    config.write_text(config.read_text().replace(str(recipient.expires), str(yesterday)))
    destroy = type(workspace.keystore).destroy

    def destroy_then_die(self, name):
        destroy(self, name)
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(type(workspace.keystore), "destroy", destroy_then_die)
        with pytest.raises(Killed):
            keep_promises(Workspace.open(workspace.root), DORA)  # the DPO's scheduled job
    ws = Workspace.open(workspace.root)
    assert [e.action for e in ws.audit.entries()].count("recipient.expire") == 1
    assert ws.audit.verify().ok
