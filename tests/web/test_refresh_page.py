"""The Refreshes page (/refreshes, web.refreshes): the processor engineer and the DPO see every
refresh recorded, newest first, and the stages of the latest with the time each took, on
records written by hand (tests/conftest.py `refresh_records`); other roles are refused and the
refusal audited; a failure's message is never shown."""

from __future__ import annotations

import pytest

from openphm.refresh.record import refreshes

from .helpers import tables_on

MESSAGE = "9434765919"  # in the abandoned refresh's failed stage's message
EVERY = "Every refresh, newest first"


def last_entry(ws):
    return list(ws.audit.entries())[-1]


@pytest.fixture
def written(web_workspace, refresh_records):
    return refresh_records(web_workspace)


@pytest.mark.parametrize("name", ["dora", "eng"])
def test_the_page_shows_every_refresh_and_the_latest_stages_as_recorded(
    as_role, web_workspace, written, name
):
    page = as_role(name).get("/refreshes")
    assert page.status_code == 200
    tables = tables_on(page.text)
    latest = written[-1]
    stages = tables[f"Stages of refresh {latest['id']}, in the order they run"]
    assert stages == [
        ["ingest", "done", "2026-11-06 02:00:00", "2026-11-06 02:00:11", "11.00", ""],
        ["link", "done", "2026-11-06 02:00:11", "2026-11-06 02:00:53", "42.00", ""],
        ["analyse", "done", "2026-11-06 02:00:53", "2026-11-06 02:01:57", "63.50", ""],
        ["indicators", "skipped", "2026-11-06 02:01:57", "2026-11-06 02:01:57", "0.00", ""],
        ["risk", "failed", "2026-11-06 02:01:57", "2026-11-06 02:02:04", "7.25",
         "ValueError (unexpected)"],
        ["cohorts", "pending", "", "", "", ""],
    ]  # fmt: skip
    assert [row[0] for row in stages] == [s["name"] for s in latest["stages"]]
    assert tables[EVERY] == [
        ["20261106-020000-0a9b8c", "stopped", "2026-11-06 02:00:00", "", "2 min 04 s",
         "2026-10-31", "stage 5 of 6, risk (failed)", "ValueError (unexpected)"],
        ["20261007-090100-d4e5f6", "done", "2026-10-07 09:01:00", "2026-10-07 09:05:00",
         "3 min 47 s", "2026-09-30", "", ""],
        ["20261006-020000-a1b2c3", "abandoned", "2026-10-06 02:00:00", "2026-10-07 09:00:00",
         "16 s", "", "stage 2 of 6, link (failed)", "UserFacingError"],
    ]  # fmt: skip
    assert [row[0] for row in tables[EVERY]] == [r["id"] for r in refreshes(web_workspace)]
    text = " ".join(page.text.split())
    assert "The latest refresh did not finish" in text
    assert f"phm refresh {web_workspace.root} --resume --role processor-engineer" in text
    assert MESSAGE not in page.text and "a" * 64 not in page.text  # no message, no fingerprint
    assert "1,510 people" not in page.text  # no note: it counts people, unrounded
    assert 'href="/refreshes"' in page.text  # in the role's menu
    assert not [e for e in web_workspace.audit.entries() if e.outcome == "refused"]


@pytest.mark.parametrize("name", ["ana", "pat", "otto"])
def test_other_roles_are_refused_and_the_refusal_is_audited(as_role, web_workspace, written, name):
    page = as_role(name).get("/refreshes")
    assert page.status_code == 403
    assert written[-1]["id"] not in page.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("refresh.history", "refused", name)


def test_before_any_refresh_and_when_one_is_running(as_role, web_workspace, refresh_records):
    client = as_role("dora")
    page = client.get("/refreshes")
    assert page.status_code == 200 and "No refresh has run yet" in page.text
    from openphm.refresh.record import locked

    refresh_records(web_workspace)
    with locked(web_workspace):
        text = " ".join(client.get("/refreshes").text.split())
    assert "is running now: stage 5 of 6, risk" in text
    assert "did not finish" not in text


def test_a_damaged_record_is_named_not_a_server_error(as_role, web_workspace, written):
    path = web_workspace.root / "refresh" / f"{written[1]['id']}.json"
    path.write_text("{")
    page = as_role("eng").get("/refreshes")
    assert page.status_code == 200
    assert f"{path.name} is not a refresh record" in page.text


def test_the_menu_offers_the_page_to_the_dpo_and_the_engineer_only(as_role, client):
    for name, offered in (("dora", True), ("eng", True), ("ana", False), ("otto", False)):
        client.cookies.clear()
        assert ('href="/refreshes"' in as_role(name).get("/account/password").text) is offered


def test_an_account_that_may_not_read_the_records_is_told_so(as_role, written, monkeypatch):
    from openphm.web import refreshes as page_module

    def refused(ws):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(page_module, "refreshes", refused)  # key custody, outside the group
    page = as_role("dora").get("/refreshes")
    assert page.status_code == 200 and "cannot read WORKSPACE/refresh" in page.text
    assert written[-1]["id"] not in page.text
