"""The data protection officer's audit view: page views summarised (one entry per person, page
and hour, refusals still one each), filters by person, role, action, outcome and dates, paging,
a CSV export no spreadsheet runs, the destruction timetable on the DPO's home page, and labels
that never call rows people."""

from __future__ import annotations

from fastapi.testclient import TestClient

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
    views = [(e.user, e.reason.split()[1]) for e in new_entries(web_workspace, before)
             if e.action == "web.view"]  # fmt: skip
    assert views == [("ana", "/analyst/population"), ("ana", "/analyst/activity"),
                     ("dora", "/dpo")]  # fmt: skip


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
