"""What a practice did comes back de-identified (issue 24, item 3): per person on its list,
the token and an outcome from the fixed set, nothing else; kept in zone 3 by pseudonym for
`phm evaluate`, which counts them per practice under disclosure control. On a copy of the
small region, with a cohort built as `phm cohort` builds it."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.cohorts.build import run_cohort
from openphm.cohorts.definition import CohortDefinition
from openphm.cohorts.outcomes import OUTCOMES, OUTCOMES_TABLE, OutcomeError, record_outcomes
from openphm.governance.audit import Actor
from openphm.governance.roles import Refused

from .helpers import csrf_from, sign_in

ANALYST = Actor("ana", "analyst")
COHORT = "outcomes-test"


@pytest.fixture
def listed(region_client):
    """(client, workspace, the first practice's code, its tokens, another practice's tokens)."""
    client, ws = region_client
    definition = CohortDefinition(
        name=COHORT, purpose="prevention", top_risk_percent=30, description="Test"
    )
    run_cohort(ws, ANALYST, definition)
    ours, theirs = ws.config.programme.controllers[:2]
    lists = ws.zone("outputs") / "cohorts"
    tokens = {
        ods: list(pd.read_csv(lists / ods / f"{COHORT}.csv", dtype=str)["token"])
        for ods in (ours, theirs)
    }
    assert len(tokens[ours]) >= 3 and tokens[theirs]
    return client, ws, ours, tokens[ours], tokens[theirs]


def signed_in_as(client, name: str) -> dict:
    """Sign in; the headers a page of the site posts JSON with (the session's CSRF token)."""
    sign_in(client, name)
    return {"X-CSRF-Token": csrf_from(client.get("/account/password").text)}


def kept(ws) -> pd.DataFrame:
    con = ws.connect_linked(read_only=True)
    try:
        return con.execute(f"SELECT * FROM linked.{OUTCOMES_TABLE}").df()
    finally:
        con.close()


def test_a_practice_posts_token_and_outcome_and_zone_3_keeps_pseudonym_and_outcome(listed):
    client, ws, ours, mine, others = listed
    headers = signed_in_as(client, "pat")
    sent = [
        {"token": mine[0], "outcome": "contacted"},
        {"token": mine[1], "outcome": "declined"},
        {"token": mine[2], "outcome": "moved_or_died"},
        {"token": others[0], "outcome": "accepted"},  # another practice's person: not kept
    ]
    answer = client.post(
        "/api/outcomes", headers=headers, json={"cohort": COHORT, "outcomes": sent}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "recorded": {"contacted": 1, "declined": 1, "moved_or_died": 1},
        "not_on_list": 1,
    }
    table = kept(ws)
    assert set(table.columns) == {"cohort", "pseudonym", "practice", "outcome", "recorded_at"}
    assert sorted(table["outcome"]) == ["contacted", "declined", "moved_or_died"]
    assert set(table["practice"]) == {ours}
    # Kept by pseudonym, the person's own: each is a member of the cohort at this practice.
    con = ws.connect_linked(read_only=True)
    try:
        people = con.execute(
            "SELECT pseudonym, token, practice FROM linked.people WHERE token IN (?, ?, ?)",
            mine[:3],
        ).df()
    finally:
        con.close()
    assert set(table["pseudonym"]) == set(people["pseudonym"])
    assert not set(table.astype(str).to_numpy().ravel()) & set(mine + others)
    entry = list(ws.audit.entries())[-1]
    assert (entry.action, entry.outcome, entry.user) == ("cohort.outcome", "ok", "pat")
    assert entry.counts == {"contacted": 1, "declined": 1, "moved_or_died": 1, "not_on_list": 1}
    assert not any(t in entry.reason for t in mine + others)
    # A later outcome for the same person replaces the earlier one.
    again = [{"token": mine[0], "outcome": "accepted"}]
    answer = client.post(
        "/api/outcomes", headers=headers, json={"cohort": COHORT, "outcomes": again}
    )
    assert answer.status_code == 200
    table = kept(ws)
    assert len(table) == 3 and sorted(table["outcome"]) == ["accepted", "declined", "moved_or_died"]


def test_anything_but_token_and_outcome_is_refused_and_nothing_is_kept(listed):
    client, ws, _, mine, _ = listed
    headers = signed_in_as(client, "pat")
    with_identity = [{"token": mine[0], "outcome": "contacted", "nhs_number": "9990000018"}]
    answer = client.post(
        "/api/outcomes", headers=headers, json={"cohort": COHORT, "outcomes": with_identity}
    )
    assert answer.status_code == 422
    unknown = [{"token": mine[0], "outcome": "contacted"}, {"token": mine[1], "outcome": "cured"}]
    answer = client.post(
        "/api/outcomes", headers=headers, json={"cohort": COHORT, "outcomes": unknown}
    )
    assert answer.status_code == 400 and "row 2" in answer.json()["detail"]
    assert mine[1] not in answer.text
    entry = list(ws.audit.entries())[-1]
    assert (entry.action, entry.outcome) == ("cohort.outcome", "refused")
    con = ws.connect_linked(read_only=True)
    try:
        tables = set(con.execute("SHOW ALL TABLES").df()["name"])
    finally:
        con.close()
    assert OUTCOMES_TABLE not in tables  # nothing half recorded
    form = client.post("/api/outcomes", data={"cohort": COHORT})  # a form, not JSON
    assert form.status_code == 415
    # JSON without the session's CSRF token (another site's page cannot read it): refused.
    posted = [{"token": mine[0], "outcome": "contacted"}]
    answer = client.post("/api/outcomes", json={"cohort": COHORT, "outcomes": posted})
    assert answer.status_code == 403
    wrong = {"X-CSRF-Token": headers["X-CSRF-Token"][::-1]}
    answer = client.post(
        "/api/outcomes", headers=wrong, json={"cohort": COHORT, "outcomes": posted}
    )
    assert answer.status_code == 403
    entry = list(ws.audit.entries())[-1]
    assert (entry.action, entry.outcome) == ("web.csrf", "refused")


def test_only_a_practice_records_outcomes(listed):
    client, ws, ours, mine, _ = listed
    headers = signed_in_as(client, "ana")
    answer = client.post(
        "/api/outcomes",
        headers=headers,
        json={"cohort": COHORT, "outcomes": [{"token": mine[0], "outcome": "contacted"}]},
    )
    assert answer.status_code == 403
    entry = list(ws.audit.entries())[-1]
    assert (entry.action, entry.outcome, entry.role) == ("cohort.outcome", "refused", "analyst")
    with pytest.raises(Refused):
        record_outcomes(ws, ANALYST, ours, COHORT, [(mine[0], "contacted")])
    with pytest.raises(OutcomeError, match="cohort name"):
        record_outcomes(ws, Actor("pat", "practice"), ours, "../x", [(mine[0], "contacted")])


def test_evaluate_counts_outcomes_per_practice_under_disclosure_control(listed, cli):
    # One practice's patients as the cohort, as tests/cohorts evaluates: the other practice's
    # people give like-for-like comparisons in every stratum.
    _, ws, ours, _, _ = listed
    cohort = "outcomes-one-practice"
    definition = CohortDefinition(name=cohort, purpose="prevention", practices=(ours,))
    run_cohort(ws, ANALYST, definition)
    mine = list(
        pd.read_csv(ws.zone("outputs") / "cohorts" / ours / f"{cohort}.csv", dtype=str)["token"]
    )
    assert len(mine) >= 13
    many = [(t, "offered") for t in mine[:12]] + [(mine[12], "declined")]
    record_outcomes(ws, Actor("pat", "practice"), ours, cohort, many)
    result = cli(["evaluate", ws.root, "--cohort", cohort, "--from", "2026-05-01",
                  "--months", "3", "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = next((ws.zone("outputs") / "evaluations").glob(f"{cohort}-*.md")).read_text()
    section = report.split("## What the practices recorded")[1]
    assert f"| {ours} | offered a service |" in section  # in words, never `moved_or_died`
    assert f"| {ours} | declined | suppressed |" in section  # 1: hidden
    # No true count is published: 12 and 13 are rounded to 5 or hidden, 1 hidden.
    assert not any(f"| {n} |" in section for n in (1, 12, 13))
    assert set(OUTCOMES) >= {"offered", "declined"}
