"""`phm ingest` killed at any instant leaves the audit log whole: once the workspace is next
opened, every file that landed has its entry (once), nothing is recorded as landed that did
not land, and the chain verifies."""

from __future__ import annotations

import pytest

from openphm import clock
from openphm.landing import catalog
from openphm.landing.ingest import UNCHANGED, ingest
from openphm.programme.workspace import Workspace

from .conftest import APC, GP_A_EVENTS, GP_A_PATIENTS, put
from .helpers import ingest_entries


@pytest.fixture
def three_files(inbox):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", GP_A_EVENTS)
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    return inbox


def _ingest_killed(run_killed, ws, inbox, kill: str) -> Workspace:
    """Ingest `inbox` in a process that `kill` stops; then open the workspace again."""
    run_killed(
        f"""
        from openphm.governance.audit import Actor
        from openphm.landing.ingest import ingest
        from openphm.programme.workspace import Workspace

        ws = Workspace.open({str(ws.root)!r})
        ingest(ws, [{str(inbox)!r}], Actor("killed", "processor-engineer"))
        """,
        kill,
    )
    return Workspace.open(ws.root)


def _landed(ws) -> list[str]:
    return sorted(s.submission_id for s in catalog.load(ws.zone("landing")).submissions)


def _recorded_as_landed(ws) -> list[str]:
    """The submission each "ok" ingest entry of a landed file names, as often as it is named."""
    return sorted(
        e.reason.split()[1].rstrip(";")
        for e in ingest_entries(ws)
        if e.outcome == "ok" and e.reason.startswith("submission ")
    )


def _assert_whole(ws) -> None:
    result = ws.audit.verify()
    assert result.ok, result.problems
    assert _recorded_as_landed(ws) == _landed(ws)


SAVE_THEN_DIE = "from openphm.landing import catalog\ncatalog.save = after(catalog.save)"


def test_killed_after_its_catalog_commit_every_landed_file_is_recorded_at_the_next_open(
    workspace, three_files, run_killed, engineer
):
    ws = _ingest_killed(run_killed, workspace, three_files, SAVE_THEN_DIE)
    assert len(_landed(ws)) == 3
    _assert_whole(ws)
    again = ingest(ws, [three_files], engineer)
    assert {o.status for o in again.outcomes} == {UNCHANGED}
    _assert_whole(ws)


def test_killed_part_way_through_its_entries_the_rest_are_recorded_once(
    workspace, three_files, run_killed
):
    ws = _ingest_killed(
        run_killed, workspace, three_files, 'at_entry("landing.ingest", 2, written=True)'
    )
    _assert_whole(ws)
    assert len(_landed(ws)) == 3


def test_killed_after_its_last_entry_nothing_is_recorded_twice(workspace, three_files, run_killed):
    ws = _ingest_killed(
        run_killed, workspace, three_files, 'at_entry("landing.ingest", 3, written=True)'
    )
    _assert_whole(ws)
    assert len(_landed(ws)) == 3


def test_killed_just_before_its_catalog_commit_nothing_is_recorded_as_landed_and_the_log_says_so(
    workspace, three_files, run_killed, engineer
):
    kill = "from openphm.landing import catalog\ncatalog.save = die"
    ws = _ingest_killed(run_killed, workspace, three_files, kill)
    assert _landed(ws) == []
    _assert_whole(ws)
    [interrupted] = [e for e in ingest_entries(ws) if e.outcome == "failed"]
    assert "nothing of it was kept" in interrupted.reason
    assert interrupted.user == "killed"
    ingest(ws, [three_files], engineer)
    assert len(_landed(ws)) == 3
    _assert_whole(ws)


def test_retention_killed_after_its_catalog_commit_is_recorded_at_the_next_open(
    workspace, three_files, run_killed, engineer, monkeypatch
):
    ingest(workspace, [three_files], engineer)
    later = "2026-11-18T10:00:00+00:00"  # 15 days on: the batch is due
    run_killed(
        f"""
        from openphm import clock
        from openphm.governance.audit import Actor
        from openphm.governance.schedule import keep_promises
        from openphm.programme.workspace import Workspace

        clock._source = clock.fixed({later!r})
        ws = Workspace.open({str(workspace.root)!r})
        keep_promises(ws, Actor("dora", "data-protection-officer"))  # the DPO's scheduled job
        """,
        SAVE_THEN_DIE,
    )
    monkeypatch.setattr(clock, "_source", clock.fixed(later))
    ws = Workspace.open(workspace.root)
    assert ws.audit.verify().ok, ws.audit.verify().problems
    [retention] = [e for e in ws.audit.entries() if e.action == "landing.retention"]
    assert retention.counts == {"batches_destroyed": 1, "files": 3, "rows": 8}
