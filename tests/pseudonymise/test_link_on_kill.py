"""`phm link` killed at any instant leaves the audit log whole: a link that committed is
recorded once the workspace is next opened, one that did not is recorded as interrupted, and
the chain verifies."""

from __future__ import annotations

import pytest

from openphm.landing.ingest import ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import STEPS, link

# Two small files in the contract's shapes (tests/landing/conftest.py has more).
GP_PATIENTS = (
    "patient_ref,nhs_number,given_name,family_name,sex,date_of_birth,address_line_1,"
    "address_line_2,town,postcode,ethnicity_code\n"
    "P1,943 476 5919,Ann,Smith,F,1950-01-02,1 High St,,Leeds,LS1 4AP,185984009\n"
)
APC = (
    "nhs_number,given_name,family_name,date_of_birth,sex,postcode,spell_id,admission_date,"
    "discharge_date,admission_method,primary_diagnosis,secondary_diagnoses,primary_procedure,"
    "discharge_destination\n"
    "9434765919,Ann,Smith,1950-01-02,2,LS1 4AP,S1,2026-01-01,2026-01-05,21,E119,I10,K401,19\n"
)


@pytest.fixture
def landed(workspace, example_config, engineer):
    inbox = example_config.parent / "extracts"
    for folder, name, text in (
        ("gp/Y10001", "Y10001_patients_202610.csv", GP_PATIENTS),
        ("admitted-care/RX1", "RX1_apc_202610.csv", APC),
    ):
        (inbox / folder).mkdir(parents=True)
        (inbox / folder / name).write_text(text)
    ingest(workspace, [inbox], engineer)
    return workspace


def _link_killed(run_killed, ws, kill: str) -> Workspace:
    run_killed(
        f"""
        from openphm.governance.audit import Actor
        from openphm.programme.workspace import Workspace
        from openphm.pseudonymise.link import link

        ws = Workspace.open({str(ws.root)!r})
        link(ws, Actor("killed", "processor-engineer"), progress=progress)
        """,
        kill if "progress" in kill else kill + "\nprogress = None",
    )
    return Workspace.open(ws.root)


def _links(ws) -> list:
    return [e for e in ws.audit.entries() if e.action == "identity.link"]


def test_a_link_killed_after_its_commit_is_recorded_at_the_next_open(landed, run_killed):
    ws = _link_killed(run_killed, landed, 'at_entry("identity.link")')
    assert ws.audit.verify().ok, ws.audit.verify().problems
    [entry] = _links(ws)
    assert (entry.outcome, entry.user) == ("ok", "killed")
    assert entry.counts["submissions_linked"] == 1
    assert "next opened" in entry.reason


def test_a_link_killed_as_it_commits_is_recorded_as_interrupted_and_the_next_one_links(
    landed, run_killed, engineer
):
    kill = f"def progress(step, done, total):\n    if step == {STEPS[7]!r}:\n        die()"
    ws = _link_killed(run_killed, landed, kill)
    assert ws.audit.verify().ok, ws.audit.verify().problems
    [interrupted] = _links(ws)
    assert interrupted.outcome == "failed" and "nothing of it was kept" in interrupted.reason
    assert link(ws, engineer).submissions_linked == 1
    assert [e.outcome for e in _links(ws)] == ["failed", "ok"]
    assert ws.audit.verify().ok
