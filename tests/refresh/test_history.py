"""What people are shown of the refreshes: `phm status` (every role: the latest refresh's state
and how to resume it), `phm refresh WORKSPACE --history` (the processor engineer and the DPO:
every refresh, newest first, with each stage's status and seconds) and `refresh.record`'s
reading functions, on records written by hand (tests/conftest.py `refresh_records`): fast, no
refresh is run. Checked against the records, and never a failure's message."""

from __future__ import annotations

import json
import threading

import pytest

from openphm.refresh import record as records

ANALYST = ["--role", "analyst"]
ENGINEER = ["--role", "processor-engineer"]
DPO = ["--role", "data-protection-officer"]
MESSAGE = "9434765919"  # in the abandoned refresh's failed stage's message (REFRESH_MESSAGE)


@pytest.fixture
def written(workspace, refresh_records, monkeypatch):
    from openphm.console import console

    monkeypatch.setattr(console, "_width", 200)  # a table's row on one line
    return refresh_records(workspace)


def as_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def last(ws):
    return list(ws.audit.entries())[-1]


# ----- refresh.record: reading ----------------------------------------------------------------


def test_the_refreshes_are_described_newest_first_as_recorded(workspace, written):
    shown = records.refreshes(workspace)
    assert [r["id"] for r in shown] == [r["id"] for r in reversed(written)]
    stopped, done, abandoned = shown
    # No process holds the lock: the latest, recorded as running, stopped at its failed risk
    # stage, whose kind is kept; the seconds are its stages' (11 + 42 + 63.5 + 0 + 7.25).
    assert stopped["status"] == "stopped" and stopped["seconds"] == 123.75
    assert stopped["at"] == {"stage": "risk", "number": 5, "of": 6, "status": "failed",
                             "failure": "ValueError", "unexpected": True}  # fmt: skip
    assert stopped["reference_date"] == "2026-10-31" and stopped["ended"] is None
    # Done: no stage reached, every time as written; 10 + 40.75 + 61 + 0.01 + 95.5 + 20.
    assert done["status"] == "done" and done["at"] is None and done["seconds"] == 227.26
    assert (done["started"], done["ended"], done["resumed"]) == (
        "2026-10-07T09:01:00+00:00",
        "2026-10-07T09:05:00+00:00",
        ["2026-10-07T09:03:00+00:00"],
    )
    # Abandoned at link, recorded before the kind was kept: a message, so a user-facing error.
    assert abandoned["status"] == "abandoned"
    assert abandoned["at"]["stage"] == "link" and abandoned["at"]["failure"] == "UserFacingError"
    assert abandoned["at"]["unexpected"] is False
    for r, raw in zip(shown, reversed(written), strict=True):
        assert [(s["name"], s["status"], s["seconds"], s["started"], s["ended"], s["note"])
                for s in r["stages"]] == [
            (s["name"], s["status"], s["seconds"], s["started"], s["ended"], s["note"])
            for s in raw["stages"]]  # fmt: skip
    text = json.dumps(shown)
    assert MESSAGE not in text and "inputs" not in text and "counts" not in text


def test_a_refresh_killed_mid_stage_is_stopped_there_and_one_holding_the_lock_is_running(
    workspace, written
):
    latest = written[-1]
    latest["stages"][4].update(status="running", seconds=None, ended=None, error="")
    records.save(workspace, latest)
    assert records.running_now(workspace) is False
    shown = records.refreshes(workspace)[0]
    assert shown["status"] == "stopped"
    assert shown["at"]["status"] == "running" and shown["at"]["failure"] is None
    with records.locked(workspace):
        assert records.running_now(workspace) is True
        shown = records.refreshes(workspace)[0]
        assert shown["status"] == "running" and shown["at"]["stage"] == "risk"
        assert records.refreshes(workspace)[1]["status"] == "done"


def test_the_failure_kind_of_every_way_a_stage_is_recorded():
    def kind(**stage):
        return records.failure_kind({"status": "failed", **stage})

    assert kind(error="x", error_kind="CohortError") == "CohortError"
    assert kind(error="KeyError (an unexpected error: its traceback is printed above)") == (
        "KeyError"
    )
    assert kind(error="interrupted") == "KeyboardInterrupt"
    assert kind(error="a refusal a person can act on") == "UserFacingError"
    assert kind(error="") == "unknown"
    assert records.failure_kind({"status": "done", "error": "x"}) is None


def test_reading_makes_nothing_and_a_damaged_record_is_named(workspace):
    assert records.history(workspace) == [] and records.refreshes(workspace) == []
    assert not (workspace.root / "refresh").exists()
    assert records.running_now(workspace) is False
    folder = workspace.root / "refresh"
    folder.mkdir()
    (folder / "20261106-020000-ffffff.json").write_text('{"id": "x", "stat')
    with pytest.raises(records.RefreshRecordError, match=r"20261106-020000-ffffff\.json.*JSON"):
        records.history(workspace)
    (folder / "20261106-020000-ffffff.json").write_text('{"id": "x", "stages": [{}]}')
    with pytest.raises(records.RefreshRecordError, match=r"lacks status, started, stages\[0\]"):
        records.history(workspace)


def test_a_refresh_waits_out_a_reader_but_not_a_refresh(workspace, monkeypatch):
    import fcntl

    folder = records.folder(workspace)
    with open(folder / records.LOCK_FILE, "a") as held:
        # A reader (running_now) holds the lock shared for an instant: the refresh waits.
        fcntl.flock(held, fcntl.LOCK_SH)
        threading.Timer(0.2, fcntl.flock, (held, fcntl.LOCK_UN)).start()
        with records.locked(workspace):
            pass
        # A refresh holds it for its run: the next is refused once the short wait is over.
        fcntl.flock(held, fcntl.LOCK_EX)
        monkeypatch.setattr(records, "LOCK_WAIT_SECONDS", 0.1)
        with pytest.raises(records.RefreshRefused, match="running now"), records.locked(workspace):
            pass


def test_restart_abandons_the_stopped_refresh_at_that_moment_and_shows_it_so(
    workspace, written, engineer
):
    from openphm import clock
    from openphm.refresh.run import _begin

    with clock.frozen_at("2026-11-09T08:30:00"):
        new = _begin(workspace, engineer, resume=False, restart=True)
    shown = records.refreshes(workspace)
    assert [r["id"] for r in shown] == [new["id"], *(r["id"] for r in reversed(written))]
    # The new one, recorded before its first stage, with no process holding the lock.
    assert (shown[0]["status"], shown[0]["at"]["stage"], shown[0]["at"]["status"]) == (
        "stopped",
        "ingest",
        "pending",
    )
    abandoned = shown[1]
    assert abandoned["id"] == written[-1]["id"] and abandoned["status"] == "abandoned"
    assert abandoned["ended"] == "2026-11-09T08:30:00+00:00"
    assert abandoned["at"]["stage"] == "risk" and abandoned["at"]["failure"] == "ValueError"


# ----- phm status -------------------------------------------------------------------------------


def test_status_shows_every_role_the_latest_refresh_and_how_to_resume_it(cli, workspace, written):
    result = cli(["status", workspace.root, *ANALYST])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "20261106-020000-0a9b8c: stopped at stage 5 of 6, risk: failed (ValueError, " in out
    assert "2026-10-31" in out and "2 min 04 s" in out  # 123.75 s
    assert f"phm refresh {workspace.root} --resume --role processor-engineer" in out
    assert "phm-processor" not in out and MESSAGE not in out
    status = as_json(cli(["status", workspace.root, "--json", *ANALYST]))["refresh"]
    assert status["readable"] is True
    shown = records.refreshes(workspace)[0]
    assert status["last"]["id"] == shown["id"] and status["last"]["at"] == shown["at"]
    assert status["last"]["resume"].endswith("--resume --role processor-engineer")
    assert "by" not in status["last"] and "note" not in status["last"]["stages"][0]
    assert [s["seconds"] for s in status["last"]["stages"]] == [11.0, 42.0, 63.5, 0.0, 7.25, None]


def test_status_after_a_refresh_that_finished_and_before_any(cli, workspace, written):
    assert "refresh" in " ".join(cli(["status", workspace.root, *DPO]).output.split())
    as_json(cli(["status", workspace.root, "--json", *DPO]))
    (workspace.root / "refresh" / f"{written[-1]['id']}.json").unlink()
    out = " ".join(cli(["status", workspace.root, *DPO]).output.split())
    assert "20261007-090100-d4e5f6: done" in out and "3 min 47 s" in out  # 227.26 s
    assert "--resume" not in out
    for record in written[:2]:
        (workspace.root / "refresh" / f"{record['id']}.json").unlink()
    status = as_json(cli(["status", workspace.root, "--json", *DPO]))
    assert status["refresh"] == {"readable": True, "last": None}


# ----- phm refresh --history --------------------------------------------------------------------


@pytest.mark.parametrize("role", [ENGINEER, DPO])
def test_the_history_lists_every_refresh_newest_first_with_its_stages(
    cli, workspace, written, role
):
    result = cli(["refresh", workspace.root, "--history", *role])
    assert result.exit_code == 0, result.output
    out = result.output
    ids = [r["id"] for r in written]
    assert out.index(ids[2]) < out.index(ids[1]) < out.index(ids[0])
    flat = " ".join(out.split())
    assert f"{ids[2]} stopped at risk 2026-11-06 02:00 2 min 04 s data as at 2026-10-31" in flat
    assert f"{ids[1]} done 2026-10-07 09:01 3 min 47 s data as at 2026-09-30" in flat
    assert f"{ids[0]} abandoned at link 2026-10-06 02:00 16 s" in flat
    assert "5 risk failed: ValueError, unexpected 7.25 s 6 cohorts pending" in flat
    assert "2 link failed: UserFacingError 3.25 s 3 analyse pending" in flat
    assert "4 indicators skipped 0.01 s" in flat and "3 analyse done 61 s" in flat
    assert "phm refresh" in flat and "--resume" in flat
    assert MESSAGE not in out
    entry = last(workspace)
    assert (entry.action, entry.outcome, entry.role) == ("refresh.history", "ok", role[1])
    assert entry.counts == {"refreshes": 3}
    assert as_json(cli(["refresh", workspace.root, "--history", "--json", *role])) == (
        records.refreshes(workspace)
    )


@pytest.mark.parametrize("role", ["analyst", "output-checker", "practice", "provider"])
def test_the_history_is_refused_to_other_roles_and_the_refusal_audited(cli, workspace, written,
                                                                       role):  # fmt: skip
    result = cli(["refresh", workspace.root, "--history", "--role", role])
    assert result.exit_code == 2
    assert written[0]["id"] not in result.output
    entry = last(workspace)
    assert (entry.action, entry.outcome, entry.role) == ("refresh.history", "refused", role)


def test_history_runs_nothing_and_json_is_for_the_history(cli, workspace):
    result = cli(["refresh", workspace.root, "--history", "--resume", *ENGINEER])
    assert result.exit_code == 2 and "runs nothing" in result.output
    result = cli(["refresh", workspace.root, "--json", *ENGINEER])
    assert result.exit_code == 2 and "--json is for --history" in result.output
    assert not (workspace.root / "refresh").exists()
    result = cli(["refresh", workspace.root, "--history", *ENGINEER])
    assert result.exit_code == 0 and "No refresh" in result.output
    assert as_json(cli(["refresh", workspace.root, "--history", "--json", *ENGINEER])) == []


def test_status_says_when_the_records_cannot_be_read(cli, workspace, written, monkeypatch):
    from openphm.refresh import shown

    (workspace.root / "refresh" / f"{written[0]['id']}.json").write_text("[]")
    status = as_json(cli(["status", workspace.root, "--json", *ANALYST]))["refresh"]
    assert status["readable"] is False and status["last"] is None
    assert f"{written[0]['id']}.json is not a refresh record" in status["problem"]

    def refused(ws):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shown, "refreshes", refused)  # as an account outside the group
    result = cli(["status", workspace.root, *ANALYST])
    assert result.exit_code == 0 and "may not read the refresh records" in result.output
