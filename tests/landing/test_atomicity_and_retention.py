"""A load is all or nothing, even when killed; retention destroys exactly what is overdue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from openphm import clock
from openphm.governance.schedule import keep_promises
from openphm.keystore import KeyName
from openphm.landing import catalog
from openphm.landing.ingest import LOADED, ingest
from openphm.landing.retention import run_retention
from openphm.programme.workspace import Workspace

from .conftest import APC, GP_A_PATIENTS, NOW, put
from .helpers import count, current


def _big_events(rows: int) -> str:
    line = "P1,2026-09-01,163030003,140,mmHg\n"
    return "patient_ref,event_date,snomed_code,value,unit\n" + line * rows


def _zone(ws):
    zone = ws.zone("landing")
    return sorted(p.name for p in zone.iterdir() if p.name != ".lock"), sorted(
        n for n in ws.keystore.names() if n.startswith("data/landing/")
    )


def _run(ws, inbox, code: str = "") -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import os, signal
        from openphm import clock
        from openphm.governance.audit import Actor
        from openphm.landing import catalog
        from openphm.landing.ingest import ingest
        from openphm.programme.workspace import Workspace
        clock._source = clock.fixed({NOW!r})  # the test's clock, set in code
        {code}
        ws = Workspace.open({str(ws.root)!r})
        ingest(ws, [{str(inbox)!r}], Actor("t", "processor-engineer"))
        """
    )
    return subprocess.Popen([sys.executable, "-c", script])


def test_a_load_killed_mid_way_leaves_the_landing_zone_as_it_was(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    before = _zone(workspace)
    put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", _big_events(1_500_000))
    process = _run(workspace, inbox)
    zone = workspace.zone("landing")
    deadline = time.monotonic() + 60
    while not any(zone.glob(".batch-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert any(zone.glob(".batch-*")), "the kill should have landed mid-load"
    # The next command cleans up: the zone is as before the killed load.
    ws = Workspace.open(workspace.root)
    assert count(ws, engineer, "gp_events") == 0
    ingest(ws, [], engineer)  # any ingest cleans up first
    assert _zone(ws) == before
    report = ingest(ws, [inbox], engineer)
    assert [o.status for o in report.outcomes if o.status == LOADED] == [LOADED]
    assert count(ws, engineer, "gp_events") == 1_500_000


def test_a_load_killed_just_before_its_commit_leaves_nothing_and_running_again_completes(
    workspace, inbox, engineer
):
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    before = _zone(workspace)
    kill_at_commit = "catalog.save = lambda *a: os.kill(os.getpid(), signal.SIGKILL)"
    process = _run(workspace, inbox, kill_at_commit)
    assert process.wait() == -signal.SIGKILL
    assert any(workspace.zone("landing").glob("batch-*.duckdb")), "renamed but not committed"
    ws = Workspace.open(workspace.root)
    assert current(ws, engineer, "apc_spells") == []
    ingest(ws, [], engineer)  # any ingest cleans up first
    assert _zone(ws) == before
    ingest(ws, [inbox], engineer)
    assert len(current(ws, engineer, "apc_spells")) == 2


def test_retention_destroys_exactly_the_batches_older_than_14_days(
    workspace, inbox, engineer, dpo, monkeypatch
):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    old = ingest(workspace, [inbox], engineer).batch_id
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-10T10:00:00"))
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    young = ingest(workspace, [inbox], engineer).batch_id
    monkeypatch.setattr(
        clock, "_source", clock.fixed("2026-11-17T09:59:59")
    )  # 13 days 23:59:59 after the first
    assert run_retention(workspace, dpo).batches == 0
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-17T10:00:01"))
    report = run_retention(workspace, dpo)
    assert (report.batches, report.files, report.rows) == (1, 1, 3)
    assert KeyName.landing_batch(old) in workspace.keystore.destroyed()
    assert workspace.keystore.has(KeyName.landing_batch(young))
    names = [p.name for p in workspace.zone("landing").glob("batch-*")]
    assert names == [f"batch-{young}.duckdb"]
    assert current(workspace, engineer, "gp_patients") == []
    assert len(current(workspace, engineer, "apc_spells")) == 2
    entry = [e for e in workspace.audit.entries() if e.action == "landing.retention"][-1]
    assert dict(entry.counts) == {"batches_destroyed": 1, "files": 1, "rows": 3}
    assert "14 days" in entry.reason


def test_opening_a_workspace_past_retention_destroys_nothing_and_reads_nothing_overdue(
    workspace, inbox, engineer, dpo, monkeypatch
):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    batch = ingest(workspace, [inbox], engineer).batch_id
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-18T10:00:00"))
    ws = Workspace.open(workspace.root)
    assert ws.keystore.has(KeyName.landing_batch(batch))  # opening is not acting…
    assert current(ws, engineer, "gp_patients") == []  # …and overdue data is never read
    keep_promises(ws, dpo)  # the DPO's scheduled job destroys it
    assert KeyName.landing_batch(batch) in ws.keystore.destroyed()
    states = {b.state for b in catalog.load(ws.zone("landing")).batches.values()}
    assert states == {catalog.DESTROYED}
    retention = [e for e in ws.audit.entries() if e.action == "landing.retention"][-1]
    assert (retention.role, retention.counts["batches_destroyed"]) == (dpo.role, 1)


def test_a_killed_ingests_leftovers_are_shown_until_the_schedule_destroys_them(
    workspace, inbox, engineer, dpo, cli
):
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    before = _zone(workspace)
    kill_at_commit = "catalog.save = lambda *a: os.kill(os.getpid(), signal.SIGKILL)"
    assert _run(workspace, inbox, kill_at_commit).wait() == -signal.SIGKILL
    left = _zone(workspace)
    assert left != before and left[1], "a batch file and its live key were left"
    for _ in range(2):  # status shows them, and showing them changes nothing
        shown = cli(["status", workspace.root, "--role", "analyst"])
        assert "interrupted" in shown.output, shown.output
        assert _zone(workspace) == left
    keep_promises(Workspace.open(workspace.root), dpo)
    assert _zone(workspace) == before
    assert "interrupted" not in cli(["status", workspace.root, "--role", "analyst"]).output
    cleanup = [e for e in workspace.audit.entries() if e.action == "landing.cleanup"]
    assert cleanup and cleanup[-1].role == dpo.role


def test_a_file_destroyed_by_retention_is_not_landed_again(
    workspace, inbox, engineer, dpo, monkeypatch
):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-18T10:00:00"))
    ws = Workspace.open(workspace.root)
    keep_promises(ws, dpo)
    (outcome,) = ingest(ws, [inbox], engineer).outcomes
    assert "destroyed by retention" in outcome.message
    assert current(ws, engineer, "gp_patients") == []
