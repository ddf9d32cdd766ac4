"""Releases: only for the programme's purposes, always through disclosure control, and approved
by a second person when the programme asks for it."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.disclosure.releases import (
    ReleaseError,
    approve_release,
    list_releases,
    request_release,
    save_draft,
)
from openphm.governance.audit import Actor


@pytest.fixture
def drafted(workspace):
    cells = pd.DataFrame(
        {
            "practice": ["Y10001", "Y10001", "Y10002", "Y10002"],
            "register": ["hypertension", "dementia"] * 2,
            "people": [1403, 3, 977, 41],
            "population": [10012, 10012, 7455, 7455],
        }
    )
    con = workspace.connect_linked()
    save_draft(
        con,
        "prevalence",
        cells,
        groups=["practice", "register"],
        counts=["people", "population"],
        rates={"per_1000": ("people", "population")},
        per=1000,
        totals_over=["practice"],
        description="register prevalence by practice",
    )
    con.close()
    return workspace


def test_a_release_for_a_purpose_not_in_the_programme_is_refused_and_audited(drafted, analyst):
    with pytest.raises(ReleaseError, match="not one of this programme's purposes"):
        request_release(drafted, analyst, ["prevalence"], purpose="marketing", title="x")
    last = list(drafted.audit.entries())[-1]
    assert (last.action, last.outcome, last.purpose) == ("release.request", "refused", "marketing")
    assert list_releases(drafted) == []


def test_a_released_table_has_passed_disclosure_control(drafted, analyst):
    manifest = request_release(
        drafted, analyst, ["prevalence"], purpose="prevention", title="prevalence"
    )
    folder = drafted.zone("outputs") / "releases" / manifest["id"]
    table = pd.read_csv(folder / "prevalence.csv")
    people = table["people"].dropna()
    assert not people.between(1, 7).any() and (people % 5 == 0).all()
    dementia = table[(table["register"] == "dementia") & (table["practice"] == "Y10001")]
    assert dementia["people"].isna().all() and dementia["per_1000"].isna().all()
    assert manifest["purpose"] == "prevention" and manifest["requester"] == "test-analyst"
    assert manifest["contents"][0]["primary_redactions"] == 1


def test_the_requester_cannot_approve_their_own_release(drafted, analyst):
    manifest = request_release(drafted, analyst, ["prevalence"], purpose="prevention", title="t")
    assert manifest["status"] == "awaiting approval"
    with pytest.raises(ReleaseError, match="second person"):
        approve_release(drafted, analyst, manifest["id"])
    checker = Actor("output-checker", "analyst")
    approved = approve_release(drafted, checker, manifest["id"])
    assert (approved["status"], approved["approved_by"]) == ("released", "output-checker")


def test_a_release_edited_after_the_request_cannot_be_approved(drafted, analyst):
    manifest = request_release(drafted, analyst, ["prevalence"], purpose="prevention", title="t")
    path = drafted.zone("outputs") / "releases" / manifest["id"] / "prevalence.csv"
    path.write_text(path.read_text().replace(",,", ",3,", 1))
    with pytest.raises(ReleaseError, match="changed after the request"):
        approve_release(drafted, Actor("checker", "analyst"), manifest["id"])


def test_unrounded_drafts_stay_in_the_encrypted_linked_zone(drafted):
    assert not list(drafted.zone("outputs").rglob("*.csv"))


def test_release_commands_end_to_end(cli, drafted):
    result = cli(
        [
            "release", "request", drafted.root, "prevalence",
            "--purpose", "prevention", "--title", "Prevalence", "--role", "analyst",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "awaiting approval" in result.output
    result = cli(["release", "list", drafted.root, "--role", "practice"])
    assert result.exit_code == 2 and "may not release.list" in result.output
