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


# HL7 UK Core's example of its ethnic category extension (NHS England's
# FHIR-R4-UKCORE-STAGING-MAIN, examples/Extension-UKCore-EthnicCategory-Example.xml, commit
# bac6f19; Apache License 2.0), the extension as it writes it, in JSON; the example is a bare
# Patient, so the rest is PATIENT's (a GP Patient needs a sex and a date of birth).
UK_CORE_ETHNIC_CATEGORY = {
    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
    "valueCodeableConcept": {
        "coding": [
            {
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland",
                "code": "A",
                "display": "White - British",
            }
        ]
    },
}


def _ethnic(
    code: str, system: str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
):
    concept = UK_CORE_ETHNIC_CATEGORY["valueCodeableConcept"]
    coding = {"system": system, "code": code}
    return {**UK_CORE_ETHNIC_CATEGORY, "valueCodeableConcept": {**concept, "coding": [coding]}}


def _gp_patient(ref: str, nhs: str, *extensions) -> dict:
    identifier = [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}]
    return {**PATIENT, "id": ref, "identifier": identifier, "extension": list(extensions)}


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


def test_a_uk_core_ethnic_category_reaches_the_persons_ethnic_group(workspace, inbox, engineer):
    """UK Core codes a Patient's ethnic category with the NHS Data Dictionary's letters
    (UKCore-EthnicCategoryEngland): each lands as its letter and gives the person the Census
    group the SNOMED CT list gives that category (R, Chinese, is "Other" there too); Z (not
    stated) has none. A Patient coded in both systems keeps its SNOMED CT code."""
    from openphm.pseudonymise.link import link

    snomed = {"system": "http://snomed.info/sct", "code": "107691000000105"}  # Caribbean
    both = _ethnic("A")
    both["valueCodeableConcept"]["coding"].append(snomed)
    patients = [
        {**PATIENT, "id": "Extension-UKCore-EthnicCategory-Example",
         "extension": [UK_CORE_ETHNIC_CATEGORY]},
        _gp_patient("F2", "9990001252", _ethnic("N")),
        _gp_patient("F3", "9990001260", _ethnic("R")),
        _gp_patient("F4", "9990001279", _ethnic("Z")),
        _gp_patient("F5", "9990001287", both),
    ]  # fmt: skip
    put(inbox, "gp", "Y10001", "Y10001_Patient_202610.ndjson", _ndjson(*patients))
    (outcome,) = ingest(workspace, [inbox], engineer).outcomes
    assert (outcome.counts.received, outcome.counts.quarantined) == (5, 0)
    landed = {
        p["patient_ref"]: p["ethnicity_code"] for p in current(workspace, engineer, "gp_patients")
    }
    assert landed == {
        "Extension-UKCore-EthnicCategory-Example": "A",
        "F2": "N",
        "F3": "R",
        "F4": "Z",
        "F5": "107691000000105",
    }
    link(workspace, engineer)
    con = workspace.connect_linked(read_only=True)
    try:
        groups = con.execute(
            "SELECT ethnicity_code, ethnic_group FROM linked.people ORDER BY ethnicity_code"
        ).fetchall()
    finally:
        con.close()
    assert groups == [
        ("107691000000105", "Black"),
        ("A", "White"),
        ("N", "Black"),
        ("R", "Other"),
        ("Z", "Unknown"),
    ]


def test_an_ethnic_category_in_another_code_system_is_held_naming_the_extension(
    workspace, inbox, engineer
):
    """A code of neither SNOMED CT nor UKCore-EthnicCategoryEngland (here a made-up system's
    `A1`), or a letter that code system does not have, is held by its element, never read by
    its shape; the Patient without the extension lands."""
    other = _ethnic("A1", system="https://example.org/CodeSystem/ethnicity")
    patients = [
        _gp_patient("F1", "9990001244", other),
        _gp_patient("F2", "9990001252", _ethnic("X")),
        _gp_patient("F3", "9990001260"),
    ]
    put(inbox, "gp", "Y10001", "Y10001_Patient_202610.ndjson", _ndjson(*patients))
    (outcome,) = ingest(workspace, [inbox], engineer).outcomes
    assert (outcome.counts.received, outcome.counts.quarantined) == (3, 2)
    problems = [(r, f, why) for _, r, f, why in held(workspace, engineer)]
    assert [(r, f) for r, f, _ in problems] == [
        (1, "Patient.extension(EthnicCategory)"),
        (2, "Patient.extension(EthnicCategory)"),
    ]
    assert problems[0][2].startswith("has no coding of SNOMED CT or UKCore-EthnicCategoryEngland")
    assert problems[1][2].startswith("is not a code of UKCore-EthnicCategoryEngland")
    (kept,) = current(workspace, engineer, "gp_patients")
    assert (kept["patient_ref"], kept["ethnicity_code"]) == ("F3", None)


def test_the_ethnic_category_letters_group_as_the_snomed_list_groups_their_category():
    """The letters' Census groups agree with the SNOMED CT list's: each letter's 16-category
    number names the category whose SNOMED CT concepts have that same group."""
    from openphm.reference import codelist

    snomed = codelist("ethnicity").groupby("grouping_16_id")["grouping_6_id"].unique()
    letters = codelist("ethnic-category-england").dropna()
    assert list(letters["code"]) == list("ABCDEFGHJKLMNPRS")
    for _, row in letters.iterrows():
        assert list(snomed[row["grouping_16_id"]]) == [row["grouping_6_id"]], row["code"]
    terms = codelist("ethnicity").set_index("code")["term"]
    by_16 = codelist("ethnicity").groupby("grouping_16_id")["code"].first()
    assert "Chinese" in terms[by_16["15"]] and "Indian" in terms[by_16["8"]]


def test_a_gp_encounter_class_is_read_as_v3_actcode_says(workspace, inbox, engineer):
    """AMB is face to face, HH a home visit; VR (virtual: by telephone, video, email...) says
    neither telephone nor video, so the type is blank; TEL is no ActCode and is held."""

    def encounter(kind: str) -> dict:
        return {
            "resourceType": "Encounter",
            "subject": {"reference": "Patient/F1"},
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": kind},
            "period": {"start": "2026-09-01T10:30:00Z"},
        }

    text = _ndjson(*(encounter(k) for k in ("AMB", "HH", "VR", "TEL")))
    put(inbox, "gp", "Y10001", "Y10001_Encounter_202610.ndjson", text)
    ingest(workspace, [inbox], engineer)
    kinds = [c["consultation_type"] for c in current(workspace, engineer, "gp_consultations")]
    assert kinds == ["face-to-face", "home-visit", None]
    assert [(r, f) for _, r, f, _ in held(workspace, engineer)] == [(4, "consultation_type")]


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
