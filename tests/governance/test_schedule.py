"""One clock, and opening is not acting: nobody moves the product's clock from outside its code,
nothing is destroyed by opening a workspace, and the promises time brings are kept by the data
protection officer's scheduled job alone, after its role check."""

from __future__ import annotations

import datetime as dt

from openphm import clock
from openphm.governance.audit import AuditLog
from openphm.programme.workspace import Workspace

PAST_THE_END = "2027-04-01T09:00:00"  # the example programme ends on 2027-03-22


def _keys_and_files(ws: Workspace) -> tuple[list[str], list[str]]:
    files = sorted(
        str(p.relative_to(ws.root))
        for p in ws.root.rglob("*")
        if p.is_file() and p.parent.name != "audit" and p.name != ".lock"
    )
    return ws.keystore.names(), files


def test_no_environment_variable_moves_the_clock_to_close_the_programme(
    cli, workspace, monkeypatch
):
    before = _keys_and_files(workspace)
    monkeypatch.setenv("PHM_NOW", "2099-01-01")  # the old testing aid, now inert
    result = cli(["notice", workspace.root, "--role", "practice"])
    assert result.exit_code == 0, result.output
    reopened = Workspace.open(workspace.root)
    assert not reopened.closed
    assert _keys_and_files(reopened)[0] == before[0]
    assert "programme.close" not in [e.action for e in reopened.audit.entries()]


def test_no_environment_variable_backdates_the_audit_log(cli, workspace, monkeypatch):
    monkeypatch.setenv("PHM_NOW", "2019-01-01")
    result = cli(["status", workspace.root, "--role", "analyst"])
    assert result.exit_code == 0, result.output
    entries = list(AuditLog(workspace.root / "audit").entries())
    times = [dt.datetime.fromisoformat(e.time) for e in entries]
    assert times == sorted(times)
    assert abs(times[-1] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert AuditLog(workspace.root / "audit").verify().ok


def test_opening_a_workspace_past_its_end_date_for_status_destroys_nothing(cli, workspace):
    before = _keys_and_files(workspace)
    with clock.frozen_at(PAST_THE_END):
        result = cli(["status", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0, result.output
    assert "all programme data" in result.output and "now" in result.output
    reopened = Workspace.open(workspace.root)
    assert not reopened.closed
    assert _keys_and_files(reopened) == before


def test_only_the_data_protection_officer_may_run_the_schedule(cli, workspace):
    with clock.frozen_at(PAST_THE_END):
        for role in ("analyst", "practice", "processor-engineer"):
            result = cli(["schedule", "run", workspace.root, "--role", role])
            assert result.exit_code == 2 and "may not schedule.run" in result.output
    reopened = Workspace.open(workspace.root)
    assert not reopened.closed
    refusals = [e for e in reopened.audit.entries() if e.outcome == "refused"]
    assert [e.role for e in refusals] == ["analyst", "practice", "processor-engineer"]


def test_the_scheduled_run_closes_a_programme_past_its_end_date(cli, workspace):
    with clock.frozen_at(PAST_THE_END):
        result = cli(["schedule", "run", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0, result.output
    assert "Closed" in result.output
    reopened = Workspace.open(workspace.root)
    assert reopened.closed
    assert reopened.keystore.names() == ["signing"] or reopened.keystore.names() == []


def test_the_scheduled_run_before_anything_is_due_destroys_nothing_and_says_so(cli, workspace):
    before = _keys_and_files(workspace)
    result = cli(["schedule", "run", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0 and "Nothing was due" in result.output
    assert _keys_and_files(Workspace.open(workspace.root)) == before
    last = list(workspace.audit.entries())[-1]
    assert (last.action, last.outcome) == ("schedule.run", "ok")


def test_a_rehearsed_close_runs_on_a_copy_and_leaves_the_programme_as_it_was(cli, workspace):
    before = _keys_and_files(workspace)
    result = cli(
        [
            "schedule",
            "rehearse",
            workspace.root,
            "--at",
            "2027-03-23",
            "--role",
            "data-protection-officer",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Rehearsal on a copy" in result.output and "Closed" in result.output
    reopened = Workspace.open(workspace.root)
    assert not reopened.closed
    assert _keys_and_files(reopened) == before
    assert not list(workspace.root.parent.glob(".rehearsal-*")), "the copy is deleted"
    last = list(reopened.audit.entries())[-1]
    assert (last.action, last.counts["closed"]) == ("schedule.rehearse", 1)


def test_a_rehearsal_is_the_data_protection_officers_and_looks_ahead_only(cli, workspace):
    args = ["schedule", "rehearse", workspace.root, "--at"]
    analyst = cli([*args, "2027-03-23", "--role", "analyst"])
    assert analyst.exit_code == 2 and "may not schedule.rehearse" in analyst.output
    past = cli([*args, "2020-01-01", "--role", "data-protection-officer"])
    assert past.exit_code == 2 and "in the past" in past.output


def test_the_timer_units_run_the_schedule_for_this_workspace(cli, workspace):
    result = cli(["schedule", "units", workspace.root, "--user", "phm-dpo"])
    assert result.exit_code == 0, result.output
    assert "OnCalendar=hourly" in result.output and "User=phm-dpo" in result.output
    assert f"schedule run {workspace.root} --role data-protection-officer" in result.output
