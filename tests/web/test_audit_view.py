"""The data protection officer's audit view: page views summarised (one entry per person, page
and hour, refusals still one each), filters by person, role, action, outcome and dates, paging,
a CSV export no spreadsheet runs, the destruction timetable on the DPO's home page, and labels
that never call rows people."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from openphm import clock
from openphm.governance.audit import Actor
from openphm.web.views import PageViews

from .helpers import sign_in


def new_entries(ws, before: int):
    return list(ws.audit.entries())[before:]


def count(ws) -> int:
    return len(list(ws.audit.entries()))


# ----- page views are summarised -----------------------------------------------------------------


def test_repeated_page_views_add_one_entry_then_one_count_per_hour(client, app, web_workspace):
    sign_in(client, "ana")
    before = count(web_workspace)
    for _ in range(20):
        assert client.get("/analyst/population").status_code == 200
    (first,) = new_entries(web_workspace, before)
    assert (first.action, first.user, first.role) == ("web.view", "ana", "analyst")
    assert first.counts == {"views": 1} and first.reads == ("linked.people",)
    assert "/analyst/population" in first.reason
    views = app.state.views
    now = views.clock()
    views.clock = lambda: now + 3601  # an hour later: the next view writes the folded count
    client.get("/analyst/population")
    counts = [e.counts["views"] for e in new_entries(web_workspace, before)]
    assert counts == [1, 20] and sum(counts) == 21


def test_views_are_counted_per_person_and_page(client, web_workspace):
    before = count(web_workspace)
    sign_in(client, "ana")
    for path in ("/analyst/population", "/analyst/activity", "/analyst/population"):
        client.get(path)
    client.cookies.clear()
    sign_in(client, "dora")
    client.get("/dpo")
    client.get("/dpo")
    views = [
        (e.user, e.reason.split()[1])
        for e in new_entries(web_workspace, before)
        if e.action == "web.view"
    ]
    assert views == [("ana", "/analyst/population"), ("ana", "/analyst/activity"), ("dora", "/dpo")]


def test_a_view_s_entry_names_the_route_never_the_url_the_caller_sent(client, web_workspace):
    sign_in(client, "ana")
    before = count(web_workspace)
    client.get("/analyst/population?CANARY-1f3=<script>")
    (entry,) = new_entries(web_workspace, before)
    assert "CANARY" not in web_workspace.audit.path.read_text() and "/analyst/population" in (
        entry.reason
    )


def test_refusals_are_never_folded_into_views(client, web_workspace):
    sign_in(client, "pat")
    before = count(web_workspace)
    for _ in range(3):
        assert client.get("/analyst/population").status_code == 403
    entries = new_entries(web_workspace, before)
    assert [(e.action, e.outcome) for e in entries] == [("linked.query", "refused")] * 3


def test_folded_views_are_written_at_shutdown(app, web_workspace):
    before = count(web_workspace)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, "dora")
        for _ in range(5):
            client.get("/dpo")
    entries = new_entries(web_workspace, before)
    assert [e.counts["views"] for e in entries if e.action == "web.view"] == [1, 4]


def test_page_views_fold_on_their_own_clock(tmp_path):
    from openphm.governance.audit import AuditLog

    audit = AuditLog.initialise(tmp_path / "audit")
    moment = [0.0]
    views = PageViews(audit, clock=lambda: moment[0])
    ana = Actor("ana", "analyst")
    for _ in range(3):
        views.viewed(ana, "/analyst/risk", ("linked.person_risk",))
    moment[0] = 3599
    views.flush_due()
    assert [e.counts["views"] for e in audit.entries()] == [1]  # the hour has not passed
    moment[0] = 3600
    views.flush_due()
    assert [e.counts["views"] for e in audit.entries()] == [1, 2]


# ----- the audit view: filters, paging, export ---------------------------------------------------


def shown_rows(page: str) -> list[list[str]]:
    """The audit table's rows: each cell's text."""
    body = page.split("Audit entries, newest first", 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", body, re.DOTALL)
        if "<td" in row
    ]


@pytest.fixture
def logged(web_workspace, monkeypatch):
    """Entries on three days (the clock moving forward, as the log's does), by three people."""
    days = {"2027-01-05": [], "2027-01-06": [], "2027-01-07": []}
    for day, made in days.items():
        monkeypatch.setattr(clock, "_source", clock.fixed(f"{day}T09:00:00"))
        for user, role, outcome in [
            ("ana", "analyst", "ok"),
            (" ANA", "analyst", "refused"),  # the same person, however typed (CLI accounts)
            ("otto", "output-checker", "ok"),
        ]:
            made.append(
                web_workspace.audit.record(
                    Actor(user, role), f"test.{day}", outcome=outcome, reason=f"made on {day}"
                )
            )
    return days


def test_the_dpo_filters_the_log_by_person_role_action_outcome_and_dates(client, logged):
    sign_in(client, "dora")

    def seqs(**query):
        page = client.get("/dpo/audit", params=query)
        assert page.status_code == 200, page.text
        return {int(row[0]) for row in shown_rows(page.text)}

    made = {day: {e.seq for e in entries} for day, entries in logged.items()}
    ana = {e.seq for entries in logged.values() for e in entries if e.role == "analyst"}
    assert seqs(action="test.2027-01-06") == made["2027-01-06"]
    assert seqs(since="2027-01-06", until="2027-01-06", role="analyst") == made["2027-01-06"] & ana
    assert seqs(person="ana", since="2027-01-05", until="2027-01-07") == ana
    refused = {e.seq for entries in logged.values() for e in entries if e.outcome == "refused"}
    assert seqs(outcome="refused", since="2027-01-05") == refused
    assert seqs(person="otto", outcome="refused", since="2027-01-05") == set()


def test_a_filter_that_cannot_be_read_is_left_out_and_said(client, logged, web_workspace):
    sign_in(client, "dora")
    before = count(web_workspace)
    page = client.get("/dpo/audit", params={"since": "5 Jan", "outcome": "maybe"})
    assert page.status_code == 400
    assert "From: enter a date as year-month-day" in page.text
    assert "Outcome must be one of ok, refused, failed" in page.text
    assert len(shown_rows(page.text)) == before  # what is left of the filter: nothing


def test_the_log_is_paged_newest_first_and_pages_keep_the_filter(client, web_workspace):
    for i in range(120):
        web_workspace.audit.record(
            Actor("eng", "processor-engineer"), "test.paging", counts={"i": i}
        )
    sign_in(client, "dora")
    first = client.get("/dpo/audit", params={"action": "test.paging"}).text
    assert "120 of" in first and "page 1 of 3" in first
    rows = shown_rows(first)
    assert [r[7] for r in rows[:2]] == ["i=119", "i=118"] and len(rows) == 50
    older = re.search(r'href="(/dpo/audit\?[^"]*page=2[^"]*)"', first).group(1)
    assert "action=test.paging" in older
    third = client.get(older.replace("page=2", "page=3").replace("&amp;", "&")).text
    assert [r[7] for r in shown_rows(third)] == [f"i={i}" for i in range(19, -1, -1)]


def test_the_export_is_every_matching_entry_as_csv_no_spreadsheet_runs(client, web_workspace):
    for _ in range(60):
        web_workspace.audit.record(Actor('=HYPERLINK("http://x")', "analyst"), "test.export")
    sign_in(client, "dora")
    response = client.get("/dpo/audit.csv", params={"action": "test.export"})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "Entry",
        "Time (UTC)",
        "Person (account)",
        "Role",
        "Action",
        "Outcome",
        "Purpose",
        "Detail",
    ]
    assert len(rows) == 61  # every match, not one page
    assert {r[2] for r in rows[1:]} == {'\'=HYPERLINK("http://x")'}
    entry = list(web_workspace.audit.entries())[-1]
    assert (entry.action, entry.user, entry.counts) == ("audit.export", "dora", {"entries": 60})
    assert entry.reason == "filter: action=test.export"


def test_only_the_dpo_reads_or_exports_the_log(client, web_workspace):
    sign_in(client, "otto")
    for path in ("/dpo/audit", "/dpo/audit.csv"):
        assert client.get(path).status_code == 403
        entry = list(web_workspace.audit.entries())[-1]
        assert (entry.action, entry.outcome, entry.user) == ("audit.show", "refused", "otto")


# ----- the DPO's home page -----------------------------------------------------------------------


def test_the_dpo_s_home_page_shows_the_destruction_timetable(client, web_workspace):
    sign_in(client, "dora")
    page = client.get("/dpo").text
    assert "Destruction timetable" in page
    assert "all programme data" in page and str(web_workspace.config.programme.end_date) in page
    for recipient in web_workspace.config.recipients:
        assert f"recipient key: {recipient.name}" in page


def test_the_home_page_says_why_when_custody_keeps_the_landing_zone_from_it(client, monkeypatch):
    import openphm.web.dpo

    def unreadable(ws):
        raise PermissionError(13, "Permission denied", "landing/catalog.json")

    monkeypatch.setattr(openphm.web.dpo, "timetable", unreadable)
    sign_in(client, "dora")
    page = client.get("/dpo")
    assert page.status_code == 200 and "cannot read the landing zone" in page.text


def test_objection_counts_say_whether_they_are_people_or_rows(client, web_workspace):
    engineer = Actor("eng", "processor-engineer")
    for _ in range(2):  # two runs of the link, the register holding the same 3 people
        web_workspace.audit.record(
            engineer, "identity.link", counts={"objectors": 3, "objected_removed.apc_spells": 12}
        )
    sign_in(client, "dora")
    page = client.get("/dpo").text
    assert "people in the objection register (after the latest run)" in page
    assert "rows removed from apc_spells: objectors&#39; records already linked" in page
    applied = client.get("/api/status").json()["objections_applied"]
    assert applied["identity.link: objectors"] == 3  # a level, not summed over runs
    assert applied["identity.link: objected_removed.apc_spells"] == 24


def test_the_close_page_s_warning_shows_paragraphs_not_escaped_tags(client):
    sign_in(client, "dora")
    page = client.get("/dpo/close").text
    assert "&lt;p&gt;" not in page and "<p>Closing destroys every data key (data/linked" in page
