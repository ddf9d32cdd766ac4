"""The web service keeps the promises time brings on its own schedule (docs/schedule.md), as
the data protection officer's job: a page view never does, and the service keeps serving if a
run fails."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from openphm import clock
from openphm.programme.workspace import Workspace
from openphm.web.app import create_app, keep_promises_now

PAST_THE_END = "2027-04-01T09:00:00"  # the example programme ends on 2027-03-22


def _runs(ws: Workspace) -> list:
    return [e for e in ws.audit.entries() if e.action == "schedule.run"]


def test_the_service_runs_the_schedule_at_start_as_the_dpos_job(web_workspace, monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-20T10:00:00"))
    app = create_app(web_workspace.root, schedule_minutes=60)
    with TestClient(app):
        deadline = time.monotonic() + 30
        while not _runs(web_workspace) and time.monotonic() < deadline:
            time.sleep(0.05)
    (run,) = _runs(web_workspace)
    assert run.role == "data-protection-officer" and run.user.endswith("(scheduled)")


def test_without_a_schedule_the_service_destroys_nothing_even_past_the_end(
    web_workspace, monkeypatch
):
    monkeypatch.setattr(clock, "_source", clock.fixed(PAST_THE_END))
    with TestClient(create_app(web_workspace.root)) as client:
        client.get("/")
        client.get("/sign-in")
    assert not Workspace.open(web_workspace.root).closed
    assert _runs(web_workspace) == []


def test_a_scheduled_run_past_the_end_closes_the_programme(web_workspace, monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed(PAST_THE_END))
    keep_promises_now(web_workspace.root)
    assert Workspace.open(web_workspace.root).closed


def test_a_failed_scheduled_run_is_logged_by_kind_and_the_service_goes_on(
    web_workspace, monkeypatch, caplog
):
    def fail(*_args):
        raise PermissionError("/secret/path/with/NHS-9434765919")

    monkeypatch.setattr("openphm.web.app.keep_promises", fail)
    keep_promises_now(web_workspace.root)
    assert "PermissionError" in caplog.text and "9434765919" not in caplog.text
