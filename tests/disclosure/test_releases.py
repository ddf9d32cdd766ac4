"""Releases: only for the programme's purposes, always through disclosure control, and never out
until a second person (an output checker, or the DPO for an exception) has checked them."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from openphm.disclosure.checking import (
    approve_release,
    download_release,
    reject_release,
    return_release,
)
from openphm.disclosure.releases import (
    ReleaseError,
    list_releases,
    request_release,
    resubmit_release,
    save_draft,
)
from openphm.governance.audit import Actor
from openphm.governance.roles import Refused

CHECKER = Actor("oscar", "output-checker")


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


def save(ws, name, frame, **spec):
    con = ws.connect_linked()
    save_draft(con, name, frame, **spec)
    con.close()


def request(ws, actor, drafts=("prevalence",), **more):
    return request_release(ws, actor, list(drafts), purpose="prevention", title="t", **more)


def last_entry(ws):
    return list(ws.audit.entries())[-1]


def test_a_release_for_a_purpose_not_in_the_programme_is_refused_and_audited(drafted, analyst):
    with pytest.raises(ReleaseError, match="not one of this programme's purposes"):
        request_release(drafted, analyst, ["prevalence"], purpose="marketing", title="x")
    last = last_entry(drafted)
    assert (last.action, last.outcome, last.purpose) == ("release.request", "refused", "marketing")
    assert list_releases(drafted) == []


def test_a_released_table_has_passed_disclosure_control(drafted, analyst):
    manifest = request(drafted, analyst)
    folder = drafted.zone("outputs") / "releases" / manifest["id"]
    table = pd.read_csv(folder / "prevalence.csv")
    people = table["people"].dropna()
    assert not people.between(1, 7).any() and (people % 5 == 0).all()
    dementia = table[(table["register"] == "dementia") & (table["practice"] == "Y10001")]
    assert dementia["people"].isna().all() and dementia["per_1000"].isna().all()
    assert manifest["purpose"] == "prevention" and manifest["requester"] == "test-analyst"
    assert manifest["contents"][0]["primary_redactions"] == 1
    assert manifest["status"] == "awaiting approval"


def test_an_output_checker_approves_another_person_s_release(drafted, analyst):
    manifest = request(drafted, analyst)
    approved = approve_release(drafted, CHECKER, manifest["id"])
    assert (approved["status"], approved["approved_by"]) == ("released", "oscar")
    assert [e["action"] for e in approved["history"]] == ["requested", "approved"]
    assert (last_entry(drafted).action, last_entry(drafted).user) == ("release.approve", "oscar")


def test_an_analyst_cannot_approve_even_another_analyst_s_release(drafted, analyst):
    manifest = request(drafted, analyst)
    with pytest.raises(Refused, match=r"analyst may not release\.approve"):
        approve_release(drafted, Actor("anne", "analyst"), manifest["id"])
    assert list_releases(drafted)[0]["status"] == "awaiting approval"


@pytest.mark.parametrize(
    "disguise", ["test-analyst", " test-analyst", "TEST-Analyst ", "test-analyst\u200b"]
)
@pytest.mark.parametrize("role", ["output-checker", "data-protection-officer"])
def test_the_requester_cannot_check_their_own_release_however_their_name_is_typed(
    drafted, analyst, disguise, role
):
    manifest = request(drafted, analyst)
    for decide in (approve_release, return_release, reject_release):
        args = () if decide is approve_release else ("looks fine",)
        with pytest.raises(ReleaseError, match="second person"):
            decide(drafted, Actor(disguise, role), manifest["id"], *args)
        entry = last_entry(drafted)
        assert (entry.outcome, entry.reason) == (
            "refused",
            "the requester cannot check their own release",
        )
    assert list_releases(drafted)[0]["status"] == "awaiting approval"


def test_a_release_edited_after_the_request_cannot_be_approved(drafted, analyst):
    manifest = request(drafted, analyst)
    path = drafted.zone("outputs") / "releases" / manifest["id"] / "prevalence.csv"
    path.write_text(path.read_text().replace(",,", ",3,", 1))
    with pytest.raises(ReleaseError, match="changed after the request"):
        approve_release(drafted, CHECKER, manifest["id"])


def test_returning_or_rejecting_says_why(drafted, analyst):
    manifest = request(drafted, analyst)
    with pytest.raises(ReleaseError, match="say why"):
        return_release(drafted, CHECKER, manifest["id"], "  ")
    rejected = reject_release(drafted, CHECKER, manifest["id"], "small cells in the margins")
    assert rejected["status"] == "rejected"
    assert rejected["history"][-1]["comment"] == "small cells in the margins"
    with pytest.raises(ReleaseError, match="rejected, not awaiting approval"):
        approve_release(drafted, CHECKER, manifest["id"])


def test_every_output_says_what_it_shows(workspace, analyst):
    save(workspace, "counts", pd.DataFrame({"g": ["a"], "n": [10]}), groups=["g"], counts=["n"])
    with pytest.raises(ReleaseError, match="say what draft counts shows"):
        request(workspace, analyst, ["counts"])
    manifest = request(workspace, analyst, ["counts"], descriptions={"counts": "n by g"})
    assert manifest["contents"][0]["description"] == "n by g"


def test_an_output_that_fails_a_check_leaves_only_by_an_exception_the_dpo_approves(
    workspace, analyst, dpo
):
    ages = pd.DataFrame({"practice": ["Y10001", "Y10002"], "mean_age": [51.2, 48.9]})
    save(workspace, "ages", ages, groups=["practice", "mean_age"], counts=[], description="ages")
    with pytest.raises(ReleaseError, match="fails disclosure checks"):
        request(workspace, analyst, ["ages"])
    manifest = request(workspace, analyst, ["ages"], exceptions={"ages": "practice-level means"})
    assert manifest["contents"][0]["check"] == "fail"
    with pytest.raises(ReleaseError, match="approved by the data protection officer"):
        approve_release(workspace, CHECKER, manifest["id"])
    assert last_entry(workspace).outcome == "refused"
    assert approve_release(workspace, dpo, manifest["id"])["status"] == "released"


def test_counts_must_be_whole_numbers_of_people(workspace):
    frame = pd.DataFrame({"g": ["a", "b"], "n": [3, -1]})
    with pytest.raises(ReleaseError, match="n is not a count"):
        save(workspace, "bad", frame, groups=["g"], counts=["n"])


def test_a_released_cell_cannot_run_as_a_spreadsheet_formula(workspace, analyst):
    frame = pd.DataFrame({"drug": ['=HYPERLINK("https://example.org")', "@SUM(A1)"], "n": [9, 12]})
    save(workspace, "drugs", frame, groups=["drug"], counts=["n"], description="by drug")
    manifest = request(workspace, analyst, ["drugs"])
    text = (workspace.zone("outputs") / "releases" / manifest["id"] / "drugs.csv").read_text()
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert not any(line.startswith(("=", "@")) for line in text.splitlines())


def test_the_release_folder_carries_an_acro_results_json_with_each_file_s_hash(drafted, analyst):
    manifest = request(drafted, analyst)
    folder = drafted.zone("outputs") / "releases" / manifest["id"]
    results = json.loads((folder / "results.json").read_text())
    output = results["results"]["prevalence"]
    assert set(output) >= {
        "uid", "status", "type", "properties", "files", "outcome", "command", "summary",
        "timestamp", "comments", "exception",
    }  # fmt: skip
    assert (output["status"], output["type"], output["exception"]) == ("pass", "table", "")
    assert output["comments"][0] == "register prevalence by practice"
    [file] = output["files"]
    digest = hashlib.sha256((folder / "prevalence.csv").read_bytes()).hexdigest()
    assert file["name"] == "prevalence.csv" and file["sha256"] == digest
    assert (folder / "checksums" / "prevalence.csv.txt").read_text() == digest
    columns = list(output["outcome"])
    assert [columns[c] for _, c in file["sdc"]["cells"]["suppressed"]][:1] == ["people"]
    assert file["sdc"]["summary"]["threshold"] == 1
    assert results["release"]["status"] == "awaiting approval"


def test_only_an_approved_release_can_be_downloaded(drafted, analyst, tmp_path):
    manifest = request(drafted, analyst)
    with pytest.raises(ReleaseError, match="only an approved release"):
        download_release(drafted, analyst, manifest["id"], tmp_path / "out")
    approve_release(drafted, CHECKER, manifest["id"])
    target = download_release(drafted, analyst, manifest["id"], tmp_path / "out")
    assert sorted(p.name for p in target.rglob("*")) == [
        "checksums",
        "prevalence.csv",
        "prevalence.csv.txt",
        "results.json",
    ]
    entry = last_entry(drafted)
    assert (entry.action, entry.writes) == ("release.download", (str(target),))
    assert list_releases(drafted)[0]["history"][-1]["action"] == "downloaded"


def test_unrounded_drafts_stay_in_the_encrypted_linked_zone(drafted):
    assert not list(drafted.zone("outputs").rglob("*.csv"))


def test_releases_cannot_skip_the_second_person(example_config):
    from openphm.programme.config import ConfigError, load_config

    text = example_config.read_text()
    example_config.write_text(
        text.replace("[disclosure]", "[disclosure]\nreleases_need_approval = false")
        if "[disclosure]" in text
        else text + "\n[disclosure]\nreleases_need_approval = false\n"
    )
    with pytest.raises(ConfigError, match="releases_need_approval = false is no longer possible"):
        load_config(example_config)


def test_a_whole_number_group_with_a_gap_is_not_taken_for_a_statistic(workspace, analyst):
    frame = pd.DataFrame({"imd_decile": [1.0, None], "n": [20, 30]})
    save(workspace, "deciles", frame, groups=["imd_decile"], counts=["n"], description="by IMD")
    assert request(workspace, analyst, ["deciles"])["contents"][0]["check"] == "pass"


def test_totals_are_over_columns_that_name_the_cells(workspace):
    frame = pd.DataFrame({"g": ["a"], "n": [10]})
    with pytest.raises(ReleaseError, match="totals over"):
        save(workspace, "bad", frame, groups=["g"], counts=["n"], totals_over=["n"])


def test_only_the_requester_resubmits_a_returned_release(drafted, analyst):
    manifest = request(drafted, analyst)
    return_release(drafted, CHECKER, manifest["id"], "round the margins")
    with pytest.raises(ReleaseError, match="only the requester may resubmit"):
        resubmit_release(drafted, Actor("anne", "analyst"), manifest["id"])
    assert last_entry(drafted).outcome == "refused"
    again = resubmit_release(drafted, Actor(" Test-Analyst", "analyst"), manifest["id"])
    assert again["status"] == "awaiting approval"


def test_a_description_for_a_draft_not_requested_is_a_mistake_said_aloud(drafted, analyst):
    with pytest.raises(ReleaseError, match="--describe names prevalance"):
        request(drafted, analyst, descriptions={"prevalance": "typo"})
