"""FHIR R4 bulk export from a hospital (docs/landing.md, "FHIR R4 bulk export"): an
admitted-care export's Patient, Encounter, Condition and Procedure NDJSON files, written by hand
from HL7 UK Core's examples (tests/landing/data/fhir_admitted_care/), land in zone 1, are read
as spells with their diagnoses and procedures, and link into zone 3 with nothing that
identifies a person; every line is loaded or quarantined by file, row and FHIR element, and a
reference the export does not hold is quarantined."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from openphm.keystore import KeyName
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .helpers import current, held


def _canary_helpers():
    """tests/pseudonymise/region.py, whose canaries and linked-zone listing this reuses (the
    test folders are not one package, so it is loaded by its path)."""
    path = Path(__file__).parents[1] / "pseudonymise" / "region.py"
    spec = importlib.util.spec_from_file_location("pseudonymise_region", path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


_region = _canary_helpers()
CANARIES, linked_tables = _region.CANARIES, _region.linked_tables
DATA = Path(__file__).parent / "data" / "fhir_admitted_care"
RESOURCES = ("Patient", "Encounter", "Condition", "Procedure")
E1 = "UKCore-Encounter-InpatientEncounter-Example"
E2 = CANARIES["spell_id"]
# The export's patient ids: not identifiers of the person outside the trust, but they are the
# trust's, and never leave zone 1 either.
PATIENT_IDS = ("UKCore-Patient-RichardSmith-Example", "PATCANARY4712")


def _lines(resource: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{resource}.ndjson").read_text().splitlines()]


def _ndjson(resources) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)


def _export(inbox: Path, period: str = "202610", **changed) -> list[Path]:
    """The fixture export put in RX1's admitted-care folder; `changed` replaces a resource's
    file text (None leaves the file out)."""
    paths = []
    for resource in RESOURCES:
        text = changed.get(resource, (DATA / f"{resource}.ndjson").read_text())
        if text is not None:
            paths.append(
                put(inbox, "admitted-care", "RX1", f"RX1_{resource}_{period}.ndjson", text)
            )
    return paths


@pytest.fixture
def trust_ws(tmp_path, example_config, engineer):
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


# Worked out by hand from the fixture files: spell 1 is Richard Smith's UK Core inpatient
# encounter (admission method 21, discharged to 19): its primary diagnosis is the Condition its
# Encounter.diagnosis ranks 1 (S72.0), then I10 once (two Conditions code it); its procedures
# are U21.1 (10 Oct) and W46.1 (11 Oct), the first performed being the primary. Spell 2 is the
# canary's, still in hospital, with one provisional diagnosis and no procedure.
EXPECTED_SPELLS = [
    {
        "spell_id": E1,
        "nhs_number": "9990000107",
        "local_patient_id": "K0412345",
        "family_name": "SMITH",
        "sex": "M",
        "date_of_birth": dt.date(1970, 9, 11),
        "postcode": "LS17 7DF",
        "admission_date": dt.date(2026, 10, 10),
        "discharge_date": dt.date(2026, 10, 12),
        "admission_method": "21",
        "primary_diagnosis": "S720",
        "secondary_diagnoses": "I10",
        "primary_procedure": "U211",
        "discharge_destination": "19",
    },
    {
        "spell_id": E2,
        "nhs_number": CANARIES["nhs_number"],
        "local_patient_id": CANARIES["local_patient_id"],
        "family_name": CANARIES["family_name"],
        "sex": "F",
        "date_of_birth": dt.date(1911, 11, 17),
        "postcode": CANARIES["postcode"],
        "admission_date": dt.date(2026, 10, 20),
        "discharge_date": None,
        "admission_method": "11",
        "primary_diagnosis": "E119",
        "secondary_diagnoses": None,
        "primary_procedure": None,
        "discharge_destination": None,
    },
]


def test_an_export_lands_and_is_read_as_spells_with_their_diagnoses_and_procedures(
    trust_ws, inbox, engineer
):
    report = ingest(trust_ws, _export(inbox), engineer)
    assert [o.status for o in report.outcomes] == [LOADED] * 4
    counts = {o.path.name.split("_")[1]: o.counts for o in report.outcomes}
    assert {r: (c.received, c.loaded, c.quarantined) for r, c in counts.items()} == {
        "Patient": (2, 2, 0),
        "Encounter": (2, 2, 0),
        "Condition": (4, 4, 0),
        "Procedure": (2, 2, 0),
    }
    spells = current(trust_ws, engineer, "apc_spells")
    assert [{k: s[k] for k in EXPECTED_SPELLS[0]} for s in spells] == EXPECTED_SPELLS
    assert {(s["provider_ods"], s["source_kind"], s["source_row"]) for s in spells} == {
        ("RX1", "admitted-care", 1),
        ("RX1", "admitted-care", 2),
    }
    codes = current(trust_ws, engineer, "apc_spell_codes")
    assert sorted((c["source_row"], c["diagnoses"], c["procedures"]) for c in codes) == [
        (1, ["S720", "I10", "I10"], ["U211", "W461"]),
        (2, ["E119"], []),
    ]
    assert held(trust_ws, engineer) == []


def test_the_spells_link_with_nothing_that_identifies_a_person(trust_ws, inbox, engineer):
    ingest(trust_ws, _export(inbox), engineer)
    link(trust_ws, engineer)
    key = trust_ws.keystore.get(KeyName.LINKAGE)

    def pseudonym(number: str) -> str:
        return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()

    con = trust_ws.connect_linked(read_only=True)
    try:
        rows = con.execute(
            "SELECT pseudonym, provider, admission_date, discharge_date, admission_method, "
            "emergency, elective, primary_diagnosis, secondary_diagnoses, primary_procedure, "
            "discharge_destination, bed_days FROM linked.apc_spells ORDER BY admission_date"
        ).fetchall()
        found = []
        needles = {**CANARIES, **{f"patient_id_{n}": p for n, p in enumerate(PATIENT_IDS)}}
        needles["richard_smith"] = "9990000107"
        needles["hospital_number"] = "K0412345"
        needles["encounter_id"] = E1
        for table in linked_tables(con):
            for column, *_ in con.execute(f"DESCRIBE linked.{table}").fetchall():
                for name, value in needles.items():
                    (hits,) = con.execute(
                        f'SELECT count(*) FROM linked.{table} WHERE contains(lower("{column}"'
                        "::VARCHAR), lower(?))",
                        [value],
                    ).fetchone()
                    if hits:
                        found.append((table, column, name))
    finally:
        con.close()
    assert rows == [
        (pseudonym("9990000107"), "RX1", dt.date(2026, 10, 10), dt.date(2026, 10, 12), "21",
         True, False, "S720", ["I10"], "U211", "19", 2),
        (pseudonym(CANARIES["nhs_number"]), "RX1", dt.date(2026, 10, 20), None, "11",
         False, True, "E119", [], None, None, None),
    ]  # fmt: skip
    assert found == []
    # Nor anywhere else outside zone 1 and the keys: the audit log, the catalog, zone 3.
    leaks = []
    for path in Path(trust_ws.root).rglob("*"):
        relative = path.relative_to(trust_ws.root)
        if path.is_file() and relative.parts[0] not in ("landing", "keys"):
            content = path.read_bytes().lower()
            leaks += [
                (str(relative), n) for n, v in needles.items() if v.lower().encode() in content
            ]
    assert leaks == []


def _held_by_file(ws, actor) -> list[tuple[str, int, str]]:
    return [(f.split("_")[1], r, field) for f, r, field, _ in held(ws, actor)]


def test_every_line_is_loaded_or_quarantined_by_row_and_element(trust_ws, inbox, engineer):
    """A line that is not JSON (or holds NaN, which JSON has not), a resource of another type,
    an element missing or in the wrong JSON type, a code of the wrong system or shape: each
    held by its line and FHIR element, and the counts reconcile."""
    patients = _lines("Patient")
    bad_patient = {**patients[0], "id": "P-bad", "birthDate": 19700911}
    encounters = _lines("Encounter")
    no_start = json.loads(json.dumps(encounters[0]))
    no_start["id"], no_start["period"] = "E-no-start", {"end": "2026-10-12"}
    outpatient = {**encounters[1], "id": "E-amb", "class": {"code": "AMB"}}
    cancelled = {**encounters[1], "id": "E-cancelled", "status": "cancelled"}
    conditions = _lines("Condition")
    snomed_only = json.loads(json.dumps(conditions[0]))
    snomed_only["code"]["coding"] = snomed_only["code"]["coding"][:1]
    refuted = json.loads(json.dumps(conditions[2]))
    refuted["verificationStatus"]["coding"][0]["code"] = "refuted"
    procedures = _lines("Procedure")
    not_done = {**procedures[0], "status": "not-done"}
    report = ingest(
        trust_ws,
        _export(
            inbox,
            Patient=_ndjson([*patients, bad_patient]) + '{"resourceType": "Patient", "id": NaN}\n',
            Encounter=_ndjson([*encounters, no_start, outpatient, cancelled, patients[0]]),
            Condition=_ndjson([*conditions, snomed_only, refuted]) + "not json at all\n",
            Procedure=_ndjson([*procedures, not_done]),
        ),
        engineer,
    )
    counts = {o.path.name.split("_")[1]: o.counts for o in report.outcomes}
    assert {r: (c.received, c.loaded, c.quarantined) for r, c in counts.items()} == {
        "Patient": (4, 2, 2),
        "Encounter": (6, 2, 4),
        "Condition": (7, 4, 3),
        "Procedure": (3, 2, 1),
    }
    assert _held_by_file(trust_ws, engineer) == [
        ("Condition", 5, "Condition.code"),  # SNOMED CT only
        ("Condition", 6, "Condition.verificationStatus"),
        ("Condition", 7, "(whole row)"),
        ("Encounter", 3, "Encounter.period.start"),
        ("Encounter", 4, "Encounter.class"),
        ("Encounter", 5, "Encounter.status"),
        ("Encounter", 6, "(whole row)"),  # a Patient in the Encounter file
        ("Patient", 3, "Patient.birthDate"),  # a number, not a JSON string
        ("Patient", 4, "(whole row)"),  # NaN is not JSON
        ("Procedure", 3, "Procedure.status"),
    ]
    (snomed,) = [
        r for f, row, field, r in held(trust_ws, engineer) if (row, field) == (5, "Condition.code")
    ]
    assert snomed.startswith(
        "has no ICD-10 coding (code systems read: http://hl7.org/fhir/sid/icd-10"
    )
    # The spells are as before: nothing held changed what was loaded.
    spells = current(trust_ws, engineer, "apc_spells")
    assert [{k: s[k] for k in EXPECTED_SPELLS[0]} for s in spells] == EXPECTED_SPELLS


def test_a_reference_the_export_does_not_hold_is_quarantined(trust_ws, inbox, engineer):
    encounters = _lines("Encounter")
    stranger = {**encounters[1], "id": "E-stranger", "subject": {"reference": "Patient/nobody"}}
    undiagnosed = {**encounters[1], "id": "E-undiagnosed"}
    unborn = {**encounters[1], "id": "E-unborn", "period": {"start": "1911-11-16"}}
    wrong_rank = json.loads(json.dumps(encounters[0]))
    wrong_rank["id"] = "E-wrong-rank"
    conditions = _lines("Condition")
    orphan = {**conditions[0], "id": "C-orphan", "encounter": {"reference": "Encounter/gone"}}
    of_stranger = {
        **conditions[0],
        "id": "C-stranger",
        "encounter": {"reference": "Encounter/E-stranger"},
    }
    # wrong_rank's Encounter.diagnosis ranks first RX1-Condition-2, which is E1's, not its own.
    of_wrong_rank = {
        **conditions[0],
        "id": "C-wr",
        "encounter": {"reference": "Encounter/E-wrong-rank"},
    }
    procedures = _lines("Procedure")
    of_undiagnosed = {**procedures[0], "encounter": {"reference": "Encounter/E-undiagnosed"}}
    report = ingest(
        trust_ws,
        _export(
            inbox,
            Encounter=_ndjson([*encounters, stranger, undiagnosed, wrong_rank, unborn]),
            Condition=_ndjson([*conditions, orphan, of_stranger, of_wrong_rank]),
            Procedure=_ndjson([*procedures, of_undiagnosed]),
        ),
        engineer,
    )
    counts = {o.path.name.split("_")[1]: o.counts for o in report.outcomes}
    assert {r: (c.received, c.loaded, c.quarantined) for r, c in counts.items()} == {
        "Patient": (2, 2, 0),
        "Encounter": (6, 2, 4),
        "Condition": (7, 4, 3),
        "Procedure": (3, 2, 1),
    }
    problems = held(trust_ws, engineer)
    assert [(f.split("_")[1], r, field) for f, r, field, _ in problems] == [
        ("Condition", 5, "Condition.encounter"),
        ("Condition", 6, "Condition.encounter"),  # its Encounter was held
        ("Condition", 7, "Condition.encounter"),
        ("Encounter", 3, "Encounter.subject"),
        ("Encounter", 4, "Encounter.diagnosis"),
        ("Encounter", 5, "Encounter.diagnosis(rank 1).condition"),
        ("Encounter", 6, "Encounter.period.start"),  # the day before the canary was born
        ("Procedure", 3, "Procedure.encounter"),
    ]
    reasons = " ".join(reason for *_, reason in problems)
    for value in ("nobody", "gone", "E-stranger", "E-undiagnosed", "RX1-Condition-2"):
        assert value not in reasons  # no value is printed
    spells = current(trust_ws, engineer, "apc_spells")
    assert [{k: s[k] for k in EXPECTED_SPELLS[0]} for s in spells] == EXPECTED_SPELLS


def test_a_file_whose_export_did_not_land_with_it_is_held_saying_so(trust_ws, inbox, engineer):
    """Conditions and Procedures without their Encounter file in the run: every row held,
    the reason naming the file that is missing."""
    report = ingest(trust_ws, _export(inbox, Encounter=None, Patient=None), engineer)
    assert {o.path.name: (o.counts.loaded, o.counts.quarantined) for o in report.outcomes} == {
        "RX1_Condition_202610.ndjson": (0, 4),
        "RX1_Procedure_202610.ndjson": (0, 2),
    }
    reasons = {reason for *_, reason in held(trust_ws, engineer)}
    assert reasons == {
        "refers to an Encounter that is not in its export (no Encounter of that id landed in its "
        "Encounter file, or that Encounter was quarantined); its export's Encounter file "
        "(RX1_Encounter_202610.ndjson) did not land in this run (an export's files are "
        "ingested together)"
    }
    assert current(trust_ws, engineer, "apc_spells") == []


def test_a_fhir_resource_sent_as_csv_is_refused(trust_ws, inbox, engineer):
    path = put(inbox, "admitted-care", "RX1", "RX1_Encounter_202610.csv", "a,b\n1,2\n")
    (outcome,) = ingest(trust_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED and "is NDJSON" in outcome.message


def test_a_spell_with_a_sensitive_code_on_any_of_its_resources_stays_in_zone_1(
    trust_ws, inbox, engineer
):
    """A spell read from FHIR is withheld whole when any Condition or Procedure of its
    encounter is on a sensitive list (docs/sensitive-data.md), not only its primary ones:
    here the first spell gets a third, later procedure coded with the default
    termination-of-pregnancy list's OPCS-4 R03, which is not its primary procedure."""
    procedures = _lines("Procedure")
    sensitive = {**procedures[0], "id": "X3", "performedDateTime": "2026-10-12"}
    sensitive["code"] = {"coding": [{"system": "https://fhir.nhs.uk/Id/opcs-4", "code": "R03.1"}]}
    ingest(trust_ws, _export(inbox, Procedure=_ndjson([*procedures, sensitive])), engineer)
    (spell, _) = current(trust_ws, engineer, "apc_spells")
    assert spell["primary_procedure"] == "U211"  # the sensitive code is not on the spell's row
    link(trust_ws, engineer)
    con = trust_ws.connect_linked(read_only=True)
    try:
        linked = con.execute("SELECT admission_date FROM linked.apc_spells").fetchall()
    finally:
        con.close()
    assert linked == [(dt.date(2026, 10, 20),)]  # the canary's spell only
    (entry,) = [e for e in trust_ws.audit.entries() if e.action == "identity.link"]
    assert entry.counts["sensitive_withheld.admitted-care"] == 1


def test_a_community_export_is_read_as_contacts(trust_ws, inbox, engineer):
    """A community provider's Patient and Encounter files: each Encounter a contact, face to
    face for a home visit (HH), blank for a virtual one (VR: telephone or video, FHIR does not
    say which); an Encounter of a class no contact has, or before its patient's birth, is
    held."""
    visit = {
        "resourceType": "Encounter",
        "id": "RY1-Encounter-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
        "serviceType": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "310107001",
                    "display": "District nursing service",
                }
            ]
        },
        "subject": {"reference": f"Patient/{PATIENT_IDS[1]}"},
        "period": {"start": "2026-10-05T10:00:00+01:00", "end": "2026-10-05T10:40:00+01:00"},
    }
    virtual = {**visit, "id": "RY1-Encounter-2", "class": {"code": "VR"}, "serviceType": None}
    inpatient = {**visit, "id": "RY1-Encounter-3", "class": {"code": "IMP"}}
    unborn = {**visit, "id": "RY1-Encounter-4", "period": {"start": "1911-01-05"}}
    patients = (DATA / "Patient.ndjson").read_text()
    put(inbox, "community", "RY1", "RY1_Patient_202610.ndjson", patients)
    put(
        inbox,
        "community",
        "RY1",
        "RY1_Encounter_202610.ndjson",
        _ndjson([visit, virtual, inpatient, unborn]),
    )
    report = ingest(trust_ws, [inbox], engineer)
    assert [o.status for o in report.outcomes] == [LOADED, LOADED]
    assert _held_by_file(trust_ws, engineer) == [
        ("Encounter", 3, "Encounter.class"),
        ("Encounter", 4, "Encounter.period.start"),  # before the patient was born
    ]
    contacts = current(trust_ws, engineer, "community_contacts")
    columns = ("contact_id", "nhs_number", "local_patient_id", "contact_date", "service")
    found = [(*(c[k] for k in columns), c["contact_type"]) for c in contacts]
    canary = (CANARIES["nhs_number"], CANARIES["local_patient_id"], dt.date(2026, 10, 5))
    assert found == [
        ("RY1-Encounter-1", *canary, "District nursing service", "face-to-face"),
        ("RY1-Encounter-2", *canary, None, None),
    ]
    assert current(trust_ws, engineer, "apc_spells") == []


def test_an_id_given_twice_in_a_file_is_held_with_what_refers_to_it(trust_ws, inbox, engineer):
    patients = _lines("Patient")
    twin = {**patients[0], "birthDate": "1971-09-11"}  # the same id, another person
    ingest(trust_ws, _export(inbox, Patient=_ndjson([*patients, twin])), engineer)
    assert _held_by_file(trust_ws, engineer) == [
        ("Condition", 1, "Condition.encounter"),
        ("Condition", 2, "Condition.encounter"),
        ("Condition", 4, "Condition.encounter"),
        ("Encounter", 1, "Encounter.subject"),
        ("Patient", 1, "Patient.id"),
        ("Patient", 3, "Patient.id"),
        ("Procedure", 1, "Procedure.encounter"),
        ("Procedure", 2, "Procedure.encounter"),
    ]
    assert [s["spell_id"] for s in current(trust_ws, engineer, "apc_spells")] == [E2]


def test_the_official_name_and_home_address_are_the_ones_read(trust_ws, inbox, engineer):
    patients = _lines("Patient")
    richard = patients[0]
    richard["name"].insert(0, {"use": "nickname", "family": "SMYTH", "given": ["Dick"]})
    richard["address"].insert(0, {"use": "temp", "postalCode": "LS6 1AA"})
    ingest(trust_ws, _export(inbox, Patient=_ndjson(patients)), engineer)
    (spell, _) = current(trust_ws, engineer, "apc_spells")
    assert (spell["given_name"], spell["family_name"], spell["postcode"]) == (
        "Richard",
        "SMITH",
        "LS17 7DF",
    )
