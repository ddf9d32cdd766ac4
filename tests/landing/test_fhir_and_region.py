"""FHIR R4 bulk export lands in the same canonical tables; every fault the synthetic region
injects is quarantined or refused, and totals reconcile."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from openphm.landing import catalog
from openphm.landing.ingest import REFUSED, ingest
from openphm.programme.workspace import Workspace

from .conftest import put
from .helpers import current, held

PATIENT = {
    "resourceType": "Patient",
    "id": "F1",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990001244"}],
    "name": [{"family": "Hall", "given": ["Eve"]}],
    "gender": "female",
    "birthDate": "1950-01-02",
    "address": [{"line": ["1 Low St"], "city": "York", "postalCode": "YO1 7HH"}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "subject": {"reference": "Patient/F1"},
    "effectiveDateTime": "2026-09-01T10:30:00Z",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "163030003"}]},
    "valueQuantity": {"value": 141, "unit": "mmHg"},
}
CONDITION_ICD10 = {
    "resourceType": "Condition",
    "subject": {"reference": "Patient/F1"},
    "onsetDateTime": "2026-09-01",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E119"}]},
}


def _ndjson(*resources) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)


def test_fhir_patients_and_observations_land_in_the_gp_tables(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_Patient_202610.ndjson", _ndjson(PATIENT))
    put(inbox, "gp", "Y10001", "Y10001_Observation_202610.ndjson", _ndjson(OBSERVATION))
    ingest(workspace, [inbox], engineer)
    (patient,) = current(workspace, engineer, "gp_patients")
    assert (patient["patient_ref"], patient["nhs_number"], patient["sex"]) == (
        "F1",
        "9990001244",
        "F",
    )
    assert str(patient["date_of_birth"]) == "1950-01-02" and patient["town"] == "York"
    (event,) = current(workspace, engineer, "gp_events")
    assert (event["patient_ref"], event["snomed_code"], event["value"]) == ("F1", "163030003", 141)
    assert str(event["event_date"]) == "2026-09-01"


def test_a_bad_fhir_line_or_a_non_snomed_code_is_quarantined_by_line(workspace, inbox, engineer):
    text = _ndjson(CONDITION_ICD10) + "{not json\n" + _ndjson(PATIENT)
    path = put(inbox, "gp", "Y10001", "Y10001_Condition_202610.ndjson", text)
    (outcome,) = ingest(workspace, [path], engineer).outcomes
    assert (outcome.counts.received, outcome.counts.quarantined) == (3, 3)
    assert [(r, f) for _, r, f, _ in held(workspace, engineer)] == [
        (1, "snomed_code"),
        (2, "(whole row)"),
        (3, "(whole row)"),
    ]


def test_fhir_from_a_hospital_is_read_for_its_mapped_resources_only(workspace, inbox, engineer):
    """Admitted care's Patient, Encounter, Condition and Procedure files are mapped
    (tests/landing/test_fhir_hospital.py); another resource type, or a kind not mapped yet, is
    refused saying so, and no longer as "GP practices' only"."""
    encounter = put(inbox, "admitted-care", "RX1", "RX1_Encounter_202610.ndjson", "")
    observation = put(
        inbox, "admitted-care", "RX1", "RX1_Observation_202610.ndjson", _ndjson(OBSERVATION)
    )
    emergency = put(
        inbox, "emergency-care", "RX1", "RX1_Encounter_202610.ndjson", _ndjson(OBSERVATION)
    )
    outcomes = {
        o.path: o for o in ingest(workspace, [encounter, observation, emergency], engineer).outcomes
    }
    assert all(o.status == REFUSED for o in outcomes.values())
    assert all("GP practices'" not in o.message for o in outcomes.values())
    assert "is empty" in outcomes[encounter].message  # read as FHIR, refused for its content
    assert outcomes[observation].message.endswith(
        "FHIR bulk export from admitted-care sources is mapped for Patient, Encounter, "
        "Condition, Procedure resources only"
    )
    assert "not mapped for emergency-care sources yet" in outcomes[emergency].message


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("region") / "region"
    generate_region(root, RegionOptions(people=1500, practices=4, seed=3))
    return root


def test_every_synthetic_fault_is_quarantined_or_refused_and_totals_reconcile(
    region, tmp_path, engineer
):
    ws = Workspace.create(tmp_path / "ws", region / "programme.toml", engineer)
    report = ingest(ws, [region / "extracts"], engineer)
    refused = {str(o.path.relative_to(region)) for o in report.outcomes if o.status == REFUSED}
    problems = {(f, r, field) for f, r, field, _ in held(ws, engineer)}
    rows_held = {(f, r) for f, r, _ in problems}
    with open(region / "truth" / "faults.csv") as handle:
        faults = list(csv.DictReader(handle))
    assert faults
    for fault in faults:
        name = Path(fault["file"]).name
        if fault["kind"] == "provider-not-in-programme":
            assert fault["file"] in refused
        elif fault["kind"] == "resubmission":
            (sub,) = [s for s in catalog.load(ws.zone("landing")).submissions if name in s.file]
            assert sub.state == catalog.CURRENT and sub.revision == 2
        elif fault["field"]:
            assert (name, int(fault["row"]), fault["field"]) in problems, fault
        else:
            assert (name, int(fault["row"])) in rows_held, fault
    for s in catalog.load(ws.zone("landing")).submissions:
        assert s.loaded + s.quarantined == s.received
    audited = [e for e in ws.audit.entries() if e.action == "landing.ingest" and e.counts]
    assert len(audited) == len(report.outcomes) - len(refused)
    assert all(
        e.counts["loaded"] + e.counts["quarantined"] == e.counts["received"] for e in audited
    )
