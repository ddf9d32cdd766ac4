"""Output checking on the command line: an analyst's query result leaves the linked zone only
as a draft, requested as a release, checked by another person, and downloaded once approved.

Tests run as one operating-system account, so each plays a person by replacing the identity
function in code (`roles.identify`), never through the environment."""

from __future__ import annotations

import hashlib
import json

import pytest

from openphm.governance import roles

BY_PRACTICE = "SELECT practice, sex, count(*) AS people FROM people GROUP BY ALL ORDER BY ALL"
BY_SEX = "SELECT sex, count(*) AS people FROM people GROUP BY sex ORDER BY sex"


@pytest.fixture
def zone(workspace):
    """102 people: Y10001 has 50 women and 49 men; Y10002 has 3 women, a small cell."""
    con = workspace.connect_linked()
    con.execute(
        "CREATE TABLE linked.people AS "
        "SELECT 'Y10001' AS practice, CASE WHEN range < 50 THEN 'F' ELSE 'M' END AS sex "
        "FROM range(99) UNION ALL SELECT 'Y10002', 'F' FROM range(3)"
    )
    con.close()
    return workspace


@pytest.fixture
def as_person(monkeypatch):
    def act_as(name: str) -> None:
        monkeypatch.setattr(roles, "identify", lambda: name)

    return act_as


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def request_by_practice(cli, zone, as_person) -> str:
    as_person("ann")
    save = ["--save-draft", "people", "--counts", "people", "--description", "by practice"]
    ok(cli(["sql", zone.root, BY_PRACTICE, *save, "--role", "analyst"]))
    request = ["--purpose", "prevention", "--title", "People by sex"]
    ok(cli(["release", "request", zone.root, "people", *request, "--role", "analyst"]))
    return json.loads(next(zone.zone("outputs").glob("releases/*/manifest.json")).read_text())["id"]


def test_a_query_result_leaves_only_through_output_checking(cli, zone, as_person, tmp_path):
    release = request_by_practice(cli, zone, as_person)
    as_person("oscar")
    review = ok(cli(["release", "review", zone.root, release, "--role", "output-checker"]))
    assert "[suppressed]" in review and "(r)" in review and "by practice" in review
    comment = ["--comment", "Y10002 has 3 women: group the practices"]
    ok(cli(["release", "return", zone.root, release, *comment, "--role", "output-checker"]))

    as_person("ann")
    save = ["--save-draft", "people", "--counts", "people", "--description", "by sex"]
    ok(cli(["sql", zone.root, BY_SEX, *save, "--role", "analyst"]))
    again = ["--describe", "people=people by sex, both practices", "--comment", "grouped"]
    ok(cli(["release", "resubmit", zone.root, release, *again, "--role", "analyst"]))

    as_person("oscar")
    ok(cli(["release", "approve", zone.root, release, "--role", "output-checker"]))
    as_person("ann")
    ok(cli(["release", "download", zone.root, release, "--to", tmp_path, "--role", "analyst"]))

    copied = tmp_path / release
    results = json.loads((copied / "results.json").read_text())
    output = results["results"]["people"]
    assert (output["status"], output["command"]) == ("pass", BY_SEX)
    assert output["comments"][0] == "people by sex, both practices"
    digest = hashlib.sha256((copied / "people.csv").read_bytes()).hexdigest()
    assert output["files"][0]["sha256"] == digest
    assert (copied / "checksums" / "people.csv.txt").read_text() == digest
    assert (copied / "people.csv").read_text().splitlines() == ["sex,people", "F,55", "M,50"]
    history = [(e["action"], e["user"]) for e in results["release"]["history"]]
    assert history == [
        ("requested", "ann"),
        ("reviewed", "oscar"),
        ("returned", "oscar"),
        ("resubmitted", "ann"),
        ("approved", "oscar"),
    ]
    actions = [(e.action, e.user, e.outcome) for e in zone.audit.entries()]
    for step in [
        ("linked.query", "ann", "ok"),
        ("release.draft", "ann", "ok"),
        ("release.request", "ann", "ok"),
        ("release.review", "oscar", "ok"),
        ("release.return", "oscar", "ok"),
        ("release.resubmit", "ann", "ok"),
        ("release.approve", "oscar", "ok"),
        ("release.download", "ann", "ok"),
    ]:
        assert step in actions
    assert zone.audit.verify().ok


@pytest.mark.parametrize("disguise", ["ann", " ann", "ANN", "Ann\t", "ann\u200b"])
def test_the_requester_cannot_approve_their_own_request_on_the_command_line(
    cli, zone, as_person, disguise
):
    release = request_by_practice(cli, zone, as_person)
    as_person(disguise)
    result = cli(["release", "approve", zone.root, release, "--role", "output-checker"])
    assert result.exit_code == 2 and "second person" in result.output
    entry = list(zone.audit.entries())[-1]
    assert (entry.action, entry.outcome) == ("release.approve", "refused")


def test_phm_user_names_nobody(cli, zone, as_person, monkeypatch):
    release = request_by_practice(cli, zone, as_person)
    monkeypatch.setenv("PHM_USER", "oscar")  # ann at the keyboard, claiming to be oscar
    result = cli(["release", "approve", zone.root, release, "--role", "output-checker"])
    assert result.exit_code == 2 and "second person" in result.output


def test_a_query_without_counts_needs_an_exception(cli, zone, as_person):
    as_person("ann")
    rows = "SELECT practice, sex FROM people"
    saved = ok(cli(["sql", zone.root, rows, "--save-draft", "rows", "--role", "analyst"]))
    assert "No count columns" in saved
    request = ["--purpose", "prevention", "--title", "t", "--describe", "rows=every row"]
    refused = cli(["release", "request", zone.root, "rows", *request, "--role", "analyst"])
    assert refused.exit_code == 2 and "--exception rows=" in refused.output
