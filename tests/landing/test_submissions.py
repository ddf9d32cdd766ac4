"""Submissions: fingerprinted, idempotent, replaced by corrected resubmissions, appended by new
periods, refused whole when the programme does not take them."""

from __future__ import annotations

import json

from openphm.landing import catalog
from openphm.landing.ingest import LOADED, REFUSED, UNCHANGED, ingest

from .conftest import APC, GP_A_EVENTS, GP_A_PATIENTS, put
from .helpers import current, ingest_entries


def _zone_state(ws):
    zone = ws.zone("landing")
    return sorted(p.name for p in zone.iterdir()), (zone / "catalog.json").read_text()


def test_loading_the_same_file_twice_changes_nothing(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    before = _zone_state(workspace)
    report = ingest(workspace, [inbox], engineer)
    assert [o.status for o in report.outcomes] == [UNCHANGED]
    assert "nothing changed" in report.outcomes[0].message
    assert report.batch_id is None
    assert _zone_state(workspace) == before
    assert len(current(workspace, engineer, "gp_patients")) == 3


def test_a_resubmission_replaces_the_earlier_one_and_the_audit_log_shows_both(
    workspace, inbox, engineer
):
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    first = ingest(workspace, [inbox], engineer).outcomes[0]
    corrected = APC.replace("S2,2026-02-01", "S2,2026-02-03")
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610_r2.csv", corrected)
    second = ingest(workspace, [inbox], engineer)
    assert [o.status for o in second.outcomes] == [UNCHANGED, LOADED]
    spells = current(workspace, engineer, "apc_spells")
    assert len(spells) == 2
    assert {s["submission_id"] for s in spells} == {second.outcomes[1].submission_id}
    loaded = [e for e in ingest_entries(workspace) if e.counts]
    assert [e.reason for e in loaded] == [
        f"submission {first.submission_id}",
        f"submission {second.outcomes[1].submission_id}; replaces {first.submission_id}",
    ]
    states = {s.submission_id: s.state for s in catalog.load(workspace.zone("landing")).submissions}
    assert states[first.submission_id] == catalog.SUPERSEDED


def test_new_periods_append_activity_and_replace_snapshots(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_events_202609.csv", GP_A_EVENTS)
    put(inbox, "gp", "Y10001", "Y10001_patients_202609.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    october = "patient_ref,event_date,snomed_code,value,unit\nP3,2026-10-20,44054006,,\n"
    put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", october)
    smaller_list = "\n".join(GP_A_PATIENTS.splitlines()[:2]) + "\n"
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", smaller_list)
    ingest(workspace, [inbox], engineer)
    assert len(current(workspace, engineer, "gp_events")) == 4
    assert [p["patient_ref"] for p in current(workspace, engineer, "gp_patients")] == ["P1"]


def test_a_file_from_a_provider_the_programme_does_not_list_is_refused_whole_and_audited(
    workspace, inbox, engineer
):
    path = put(inbox, "admitted-care", "RZ9", "RZ9_apc_202610.csv", APC)
    report = ingest(workspace, [path], engineer)
    (outcome,) = report.outcomes
    assert outcome.status == REFUSED
    assert str(path) in outcome.message and "does not list admitted-care extracts from RZ9" in (
        outcome.message
    )
    (entry,) = ingest_entries(workspace)
    assert entry.outcome == "refused" and entry.reads == (str(path),)
    assert current(workspace, engineer, "apc_spells") == []


def test_a_source_kind_the_programme_does_not_list_for_that_provider_is_refused(
    workspace, inbox, engineer
):
    path = put(inbox, "deaths", "RX1", "RX1_deaths_202610.csv", "x\n")
    (outcome,) = ingest(workspace, [path], engineer).outcomes
    assert outcome.status == REFUSED and "deaths extracts from RX1" in outcome.message


def test_a_different_file_under_a_landed_name_is_refused_asking_for_a_resubmission(
    workspace, inbox, engineer
):
    path = put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    ingest(workspace, [path], engineer)
    path.write_text(APC.replace("S2,", "S9,"))
    (outcome,) = ingest(workspace, [path], engineer).outcomes
    assert outcome.status == REFUSED and "send a correction as _r2" in outcome.message


def test_the_catalog_holds_no_patient_data(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    ingest(workspace, [inbox], engineer)
    text = (workspace.zone("landing") / "catalog.json").read_text()
    for value in ("9434765919", "943 476 5919", "Smith", "1950-01-02", "LS1 4AP", "E119"):
        assert value not in text
    assert {s["received"] for s in json.loads(text)["submissions"]} == {3, 2}


def test_the_audit_log_holds_no_patient_data(workspace, inbox, engineer):
    bad = GP_A_PATIENTS.replace("943 476 5919", "94347X5919")
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad)
    ingest(workspace, [inbox], engineer)
    text = (workspace.root / "audit" / "audit.jsonl").read_text()
    for value in ("94347X5919", "Smith", "1950-01-02", "LS1 4AP"):
        assert value not in text


def test_a_refused_file_whose_name_could_hold_anything_is_audited_without_that_name(
    workspace, inbox, engineer
):
    path = put(inbox, "admitted-care", "RX1", "Jane_Smith_born_1951-03-02_letter.csv", APC)
    (outcome,) = ingest(workspace, [path], engineer).outcomes
    assert outcome.status == REFUSED
    (entry,) = ingest_entries(workspace)
    assert entry.outcome == "refused"
    assert "Jane_Smith" not in workspace.audit.path.read_text()
    assert entry.reads[0].startswith(str(path.parent))


def test_files_are_reported_catalogued_and_audited_in_their_own_order(workspace, inbox, engineer):
    """Loading starts with the largest file, but what the user, the catalog and the audit log
    see follows the files' order, whatever finished first."""
    rows = "".join(
        f"P{n},,Ann,Smith,F,1950-01-02,1 High St,,Leeds,LS1 4AP,\n" for n in range(4, 5000)
    )
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    put(inbox, "gp", "Y10002", "Y10002_patients_202610.csv", GP_A_PATIENTS + rows)
    put(inbox, "gp", "Y10003", "Y10003_patients_202610.csv", GP_A_PATIENTS.replace("P3", "P9"))
    shown = []
    report = ingest(workspace, [inbox], engineer, on_file=lambda o: shown.append(o.path.name))
    names = [
        "Y10001_patients_202610.csv",
        "Y10002_patients_202610.csv",
        "Y10003_patients_202610.csv",
    ]
    assert shown == names == [o.path.name for o in report.outcomes]
    assert [o.counts.loaded for o in report.outcomes] == [3, 4999, 3]
    landed = catalog.load(workspace.zone("landing")).submissions
    assert [s.file.rsplit("/", 1)[-1] for s in landed] == names
    assert [e.reads[0].rsplit("/", 1)[-1] for e in ingest_entries(workspace)] == names


def test_one_file_holding_most_of_the_bytes_is_read_on_every_core():
    """Files side by side run on one DuckDB thread each; a file too large to be balanced by the
    others (a national extract beside a few small ones) keeps a thread per core."""
    from openphm.landing.ingest import threads_per_file

    assert threads_per_file([100, 90, 80, 70], cores=2) == 1
    assert threads_per_file([100, 100], cores=2) == 1
    assert threads_per_file([100, 90, 80, 70], cores=8) == 4  # a larger machine's cores all used
    assert threads_per_file([1000, 10, 10], cores=2) is None
