"""An intent binds a change to its audit entries: the entries are recorded once whether the
command finishes or is killed, never for a change that did not happen, and never by another
command while the one that wrote the intent is still running."""

from __future__ import annotations

import pytest

from openphm import clock
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.landing import catalog as cat
from openphm.programme.workspace import Workspace

ALICE = Actor("alice", "processor-engineer")


def _entries(n: int) -> list[intents.Entry]:
    return [intents.Entry(ALICE, "landing.ingest", counts={"file": i}) for i in range(n)]


def _catalogue(ws, batch_id: str) -> None:
    catalog = cat.load(ws.zone("landing"))
    arrived = clock.now().isoformat()
    catalog.batches[batch_id] = cat.Batch(batch_id, f"batch-{batch_id}.duckdb", arrived)
    cat.save(ws.zone("landing"), catalog)


def _recorded(ws) -> list[int]:
    return [e.counts["file"] for e in ws.audit.entries() if e.action == "landing.ingest"]


def test_a_finished_change_is_recorded_once_and_leaves_no_intent(workspace):
    with intents.committing(workspace.audit, intents.landing_batch("b1", _entries(3))):
        _catalogue(workspace, "b1")
    Workspace.open(workspace.root)
    assert _recorded(workspace) == [0, 1, 2]
    assert not any((workspace.audit.directory / intents.FOLDER).iterdir())


def test_a_running_commands_intent_is_not_settled_by_another(workspace):
    with intents.committing(workspace.audit, intents.landing_batch("b1", _entries(2))):
        Workspace.open(workspace.root)  # another command opens the workspace meanwhile
        assert _recorded(workspace) == []  # not rolled back: its command is still running
        _catalogue(workspace, "b1")
    assert _recorded(workspace) == [0, 1]
    assert workspace.audit.verify().ok


class Killed(BaseException):
    pass


def test_a_command_stopped_inside_its_commit_is_settled_at_the_next_open(workspace):
    change = intents.landing_batch("b1", _entries(2))
    with pytest.raises(Killed), intents.committing(workspace.audit, change):
        _catalogue(workspace, "b1")
        raise Killed
    assert _recorded(workspace) == []
    Workspace.open(workspace.root)
    assert _recorded(workspace) == [0, 1]
    assert all("next opened" in e.reason for e in workspace.audit.entries() if e.intent)


def test_settling_killed_part_way_is_finished_by_the_next_open(workspace, monkeypatch):
    change = intents.landing_batch("b1", _entries(3))
    with pytest.raises(Killed), intents.committing(workspace.audit, change):
        _catalogue(workspace, "b1")
        raise Killed
    record, calls = intents.Entry.record, []

    def dies_at_the_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        record(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(intents.Entry, "record", dies_at_the_second)
        with pytest.raises(Killed):
            Workspace.open(workspace.root)
    Workspace.open(workspace.root)
    assert _recorded(workspace) == [0, 1, 2]
    assert workspace.audit.verify().ok


def test_a_damaged_intent_is_named_and_stops_the_open(workspace):
    folder = workspace.audit.directory / intents.FOLDER
    folder.mkdir(exist_ok=True)
    (folder / "0123.json").write_text('{"id": "0123", "entr')
    with pytest.raises(intents.IntentError, match=r"0123\.json.*cannot be read"):
        Workspace.open(workspace.root)
