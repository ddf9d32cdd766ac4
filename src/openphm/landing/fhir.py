"""FHIR R4 bulk export (NDJSON): from GP systems, mapped onto the GP flavour A columns; from
hospital providers (admitted care), onto one zone-1 table per resource type.

Reads one `.ndjson` file of one resource type; writes nothing but, once a run's files have
landed, the quarantine of references its export does not hold (`check_references`). Each
resource becomes one row, so the declared schema validates it: for GP, the provider's own
column names (flavour A), so the same canonical table receives it; for a hospital, the columns
named by the FHIR element each is read from (landing.adapters, `_fhir_admitted_care`), whose
Encounters are then read as spells joined to their Patient, Conditions and Procedures
(landing.read.fhir_spells_sql). The mappings are tabulated in docs/landing.md ("FHIR R4 bulk
export").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from openphm.landing.adapters import FHIR_GENDER
from openphm.landing.readers import FHIR_BATCH, Malformed
from openphm.landing.schema import literal
from openphm.programme.config import SourceKind

if TYPE_CHECKING:
    from openphm.landing.files import Extract
    from openphm.landing.readers import Reader

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# HL7 v2 table 0203 identifier type "MR" (medical record number): how a Patient.identifier says
# it is the provider's own number for the person (a hospital number).
IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
# ICD-10: the FHIR R4 base's system for ICD-10, and the one NHS England's terminology server
# gives the UK edition. OPCS-4: UK Core defines none; NHS England's older FHIR profiles (Care
# Connect) and trusts' FHIR services use https://fhir.nhs.uk/Id/opcs-4.
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-uk")
OPCS4_SYSTEMS = ("https://fhir.nhs.uk/Id/opcs-4",)
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/"
ADMISSION_METHOD = UK_CORE + "Extension-UKCore-AdmissionMethod"
SNOMED_SYSTEM = "http://snomed.info/sct"
# Patient's ethnic category (UK Core Extension-UKCore-EthnicCategory, value bound to the
# UKCore-EthnicCategory value set): SNOMED CT, or the NHS Data Dictionary ETHNIC CATEGORY
# letters in the UKCore-EthnicCategoryEngland code system, as UK Core's own example codes it.
ETHNIC_CATEGORY = UK_CORE + "Extension-UKCore-EthnicCategory"
ETHNIC_CATEGORY_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_ELEMENT = "Patient.extension(EthnicCategory)"  # how a held ethnic category is named
DMD_SYSTEM = "https://dmd.nhs.uk"
# Encounter.class (v3 ActCode, FHIR R4's ActEncounterCode value set) to the GP consultation
# types; anything else is passed through and so quarantined as "not one of the codes". ActCode
# has no telephone class: VR (virtual) is any encounter apart, "telephone conference, email
# exchange, ... televideo conference", so it says neither telephone nor video and is left blank.
_ENCOUNTER_CLASS = {"AMB": "face-to-face", "HH": "home-visit", "VR": None}


def _get(resource: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            resource = (
                resource[step] if isinstance(resource, list) and len(resource) > step else None
            )
        else:
            resource = resource.get(step) if isinstance(resource, dict) else None
        if resource is None:
            return None
    return resource


def _codings(concept: Any) -> list[dict]:
    """A CodeableConcept's codings that are JSON objects."""
    return [c for c in _get(concept, "coding") or [] if isinstance(c, dict)]


def _coding(concept: Any, *systems: str) -> str | None:
    """The code from one of `systems`, or else the first code of any system (which the schema
    then refuses by its shape: an ICD-10 code is not a SNOMED CT concept id)."""
    codings = _codings(concept)
    chosen = next((c for c in codings if c.get("system") in systems), None) or _get(codings, 0)
    return _get(chosen, "code")


def _date(value: Any) -> str | None:
    # FHIR dateTime is YYYY-MM-DD[Thh:mm:ss…]; the date part is what the canonical model keeps.
    return (
        value[:10]
        if isinstance(value, str) and len(value) >= 10 and value[10:11] in ("", "T")
        else value
    )


def _patient_ref(resource: dict) -> str | None:
    return _reference(resource, "subject", "Patient")


def _reference(resource: dict, element: str, target: str) -> str | None:
    """The id a relative reference (`<target>/<id>`) names. A reference to another resource
    type, or one that is not a string, is returned as it is, so that it names nothing in the
    export and is quarantined as a reference the export does not hold."""
    reference = _get(resource, element, "reference")
    if not isinstance(reference, str):
        return None if reference is None else json.dumps(reference)
    return reference.removeprefix(f"{target}/") or None


def _patient(r: dict) -> dict:
    nhs = next(
        (i.get("value") for i in r.get("identifier") or [] if i.get("system") == NHS_NUMBER_SYSTEM),
        None,
    )
    return {
        "patient_ref": r.get("id"),
        "nhs_number": nhs,
        "given_name": _get(r, "name", 0, "given", 0),
        "family_name": _get(r, "name", 0, "family"),
        "sex": FHIR_GENDER.codes.get(r.get("gender"), r.get("gender")),
        "date_of_birth": r.get("birthDate"),
        "address_line_1": _get(r, "address", 0, "line", 0),
        "address_line_2": _get(r, "address", 0, "line", 1),
        "town": _get(r, "address", 0, "city"),
        "postcode": _get(r, "address", 0, "postalCode"),
        "ethnicity_code": _ethnicity(r),
    }


def _ethnicity(r: dict) -> Any:
    """The ethnic category extension's code: its SNOMED CT coding if it has one, else its UK
    Core EthnicCategoryEngland letter. A concept coded in neither system, or a letter that code
    system does not have, is held naming Patient.extension, never read by its shape."""
    extension = next(
        (
            e
            for e in r.get("extension") or []
            if isinstance(e, dict) and "EthnicCategory" in str(e.get("url"))
        ),
        None,
    )
    codings = _codings(_get(extension, "valueCodeableConcept"))
    if not codings:
        return None
    for system in (SNOMED_SYSTEM, ETHNIC_CATEGORY_ENGLAND):
        coding = next((c for c in codings if c.get("system") == system), None)
        if coding is None:
            continue
        code = coding.get("code")
        if system == ETHNIC_CATEGORY_ENGLAND and code not in _ethnic_categories():
            return _Unread(
                "is not a code of UKCore-EthnicCategoryEngland (the NHS Data Dictionary's "
                f"ETHNIC CATEGORY: {', '.join(_ethnic_categories())})",
                ETHNIC_ELEMENT,
            )
        return code
    return _Unread(
        "has no coding of SNOMED CT or UKCore-EthnicCategoryEngland (code systems read: "
        f"{SNOMED_SYSTEM}, {ETHNIC_CATEGORY_ENGLAND})",
        ETHNIC_ELEMENT,
    )


@cache
def _ethnic_categories() -> tuple[str, ...]:
    from openphm.reference import codelist

    return tuple(codelist("ethnic-category-england")["code"])


def _encounter(r: dict) -> dict:
    kind = _get(r, "class", "code")
    return {
        "patient_ref": _patient_ref(r),
        "consultation_date": _date(_get(r, "period", "start")),
        "consultation_type": _ENCOUNTER_CLASS.get(kind, kind),
        "staff_role": _get(r, "participant", 0, "type", 0, "text"),
    }


def _condition(r: dict) -> dict:
    return {
        "patient_ref": _patient_ref(r),
        "event_date": _date(r.get("onsetDateTime") or r.get("recordedDate")),
        "snomed_code": _coding(r.get("code"), SNOMED_SYSTEM),
        "value": None,
        "unit": None,
    }


def _observation(r: dict) -> dict:
    value = _get(r, "valueQuantity", "value")
    return {
        "patient_ref": _patient_ref(r),
        "event_date": _date(r.get("effectiveDateTime")),
        "snomed_code": _coding(r.get("code"), SNOMED_SYSTEM),
        "value": None if value is None else str(value),
        "unit": _get(r, "valueQuantity", "unit"),
    }


def _medication_request(r: dict) -> dict:
    medicine = r.get("medicationCodeableConcept")
    quantity = _get(r, "dispenseRequest", "quantity", "value")
    return {
        "patient_ref": _patient_ref(r),
        "issue_date": _date(r.get("authoredOn")),
        "dmd_code": _coding(medicine, DMD_SYSTEM),
        "drug_name": _get(medicine, "text") or _get(medicine, "coding", 0, "display"),
        "quantity": None if quantity is None else str(quantity),
    }


MAPPINGS: dict[str, Callable[[dict], dict]] = {
    "Patient": _patient,
    "Encounter": _encounter,
    "Condition": _condition,
    "Observation": _observation,
    "MedicationRequest": _medication_request,
}


# ----- Hospital providers (admitted care) -------------------------------------------------------


@dataclass(frozen=True)
class _Unread:
    """An element that holds something, but nothing this mapping may read: the field is held
    with `reason` (landing.fhir._not_strings), never read as a guess; `element` names it
    where the field's own name does not (a GP column)."""

    reason: str
    element: str | None = None


def _coded(concept: Any, systems: tuple[str, ...], name: str) -> Any:
    """The code of `concept`'s coding in one of `systems`; a concept coded only in others is
    held, saying which systems are read (a code of another system is never taken for one of
    these by its shape)."""
    codings = _codings(concept)
    chosen = next((c for c in codings if c.get("system") in systems), None)
    if chosen is not None:
        return chosen.get("code")
    if codings:
        return _Unread(f"has no {name} coding (code systems read: {', '.join(systems)})")
    return None


def _icd10(code: Any) -> Any:
    """ICD-10 as the contract keeps it, without the dot FHIR codings write (`E11.9` is `E119`);
    a dot anywhere but after the category is left, so the code fails its shape."""
    if isinstance(code, str) and len(code) > 4 and code[3] == "." and "." not in code[4:]:
        return code[:3] + code[4:]
    return code


def _opcs4(code: Any) -> Any:
    """OPCS-4 without its dot (`K40.1` is `K401`), as ICD-10."""
    if isinstance(code, str) and len(code) == 5 and code[3] == ".":
        return code[:3] + code[4:]
    return code


def _identifier(r: dict, system: str | None = None, type_code: str | None = None) -> Any:
    for i in r.get("identifier") or []:
        if not isinstance(i, dict):
            continue
        if system and i.get("system") == system:
            return i.get("value")
        codings = _get(i, "type", "coding") or []
        if type_code and any(
            isinstance(c, dict)
            and c.get("system") == IDENTIFIER_TYPES
            and c.get("code") == type_code
            for c in codings
        ):
            return i.get("value")
    return None


def _extension(element: Any, url: str) -> Any:
    found = next(
        (
            e
            for e in _get(element, "extension") or []
            if isinstance(e, dict) and e.get("url") == url
        ),
        None,
    )
    return _coding(_get(found, "valueCodeableConcept"))


def _first(items: Any, use: str) -> Any:
    """The first of a Patient's names or addresses whose `use` is `use` (official, home),
    else the first: the one tracing should compare."""
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return next((i for i in items if i.get("use") == use), None) or _get(items, 0)


def _hospital_patient(r: dict) -> dict:
    name, address = _first(r.get("name"), "official"), _first(r.get("address"), "home")
    return {
        "Patient.id": r.get("id"),
        "Patient.identifier(nhs-number)": _identifier(r, system=NHS_NUMBER_SYSTEM),
        "Patient.identifier(MR)": _identifier(r, type_code="MR"),
        "Patient.name.given": _get(name, "given", 0),
        "Patient.name.family": _get(name, "family"),
        "Patient.birthDate": r.get("birthDate"),
        "Patient.gender": r.get("gender"),
        "Patient.address.postalCode": _get(address, "postalCode"),
    }


def _primary_condition(r: dict) -> str | None:
    """The Condition Encounter.diagnosis ranks first (rank 1, or the lowest rank given)."""
    ranked = [
        (d.get("rank") if isinstance(d.get("rank"), int) else 1_000_000, n, d)
        for n, d in enumerate(r.get("diagnosis") or [])
        if isinstance(d, dict)
    ]
    if not ranked:
        return None
    return _reference(min(ranked, key=lambda x: x[:2])[2], "condition", "Condition")


def _encounter(r: dict) -> dict:
    """The elements every hospital and community Encounter is read for."""
    return {
        "Encounter.id": r.get("id"),
        "Encounter.subject": _patient_ref(r),
        "Encounter.status": r.get("status"),
        "Encounter.class": _get(r, "class", "code"),
        "Encounter.period.start": _date(_get(r, "period", "start")),
    }


def _hospital_encounter(r: dict) -> dict:
    hospitalization = r.get("hospitalization")
    return {
        **_encounter(r),
        "Encounter.period.end": _date(_get(r, "period", "end")),
        "Encounter.hospitalization.admissionMethod": _extension(hospitalization, ADMISSION_METHOD),
        "Encounter.hospitalization.dischargeDisposition": _coding(
            _get(hospitalization, "dischargeDisposition")
        ),
        "Encounter.diagnosis(rank 1).condition": _primary_condition(r),
    }


def _hospital_condition(r: dict) -> dict:
    return {
        "Condition.id": r.get("id"),
        "Condition.encounter": _reference(r, "encounter", "Encounter"),
        "Condition.verificationStatus": _coding(r.get("verificationStatus")),
        "Condition.code": _icd10(_coded(r.get("code"), ICD10_SYSTEMS, "ICD-10")),
    }


def _hospital_procedure(r: dict) -> dict:
    performed = r.get("performedDateTime") or _get(r, "performedPeriod", "start")
    return {
        "Procedure.id": r.get("id"),
        "Procedure.encounter": _reference(r, "encounter", "Encounter"),
        "Procedure.status": r.get("status"),
        "Procedure.code": _opcs4(_coded(r.get("code"), OPCS4_SYSTEMS, "OPCS-4")),
        "Procedure.performed": _date(performed),
    }


def _service(concept: Any) -> Any:
    """Encounter.serviceType as a name: its text, else its first coding's display (UK Core
    binds it to CareSettingType, SNOMED CT concepts such as "District nursing service")."""
    return _get(concept, "text") or _get(concept, "coding", 0, "display")


def _community_encounter(r: dict) -> dict:
    return {
        **_encounter(r),
        "Encounter.serviceType": _service(r.get("serviceType")),
    }


# Per zone-1 table (landing.adapters: a resource type lands in its source kind's table).
HOSPITAL_MAPPINGS: dict[str, Callable[[dict], dict]] = {
    "fhir_patients": _hospital_patient,
    "fhir_encounters": _hospital_encounter,
    "fhir_conditions": _hospital_condition,
    "fhir_procedures": _hospital_procedure,
    "fhir_contacts": _community_encounter,
}


def read_fhir(reader: Reader) -> Iterator[pa.Table]:
    """Chunks of mapped resources, `_row` being the line number."""
    resource_type = reader.extract.resource
    gp = reader.extract.kind is SourceKind.GP
    mapping = MAPPINGS[resource_type] if gp else HOSPITAL_MAPPINGS[reader.extract.table.canonical]
    columns = reader.schema.source_columns
    rows: list[dict] = []
    numbers: list[int] = []
    with open(reader.extract.read_from, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            resource = _decode(line)
            if resource is None or resource.get("resourceType") != resource_type:
                found = "not a JSON object" if resource is None else "a different resource type"
                reason = f"is {found}; this file holds {resource_type} resources"
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                reader.malformed.append(Malformed(number, reason, text))
                continue
            row = mapping(resource)
            if _not_strings(reader, number, row, line, gp=gp):
                continue
            rows.append(row)
            numbers.append(number)
            if len(rows) >= FHIR_BATCH:
                yield _table(rows, numbers, columns)
                rows, numbers = [], []
    if rows:
        yield _table(rows, numbers, columns)


def _not_strings(reader: Reader, number: int, row: dict, line: bytes, gp: bool = False) -> bool:
    """Whether the row has an element that FHIR writes as a JSON string given as another JSON
    type (a number, true, an object), or one the mapping may not read (`_Unread`): each such
    field is held, and the row with it, rather than read as the text Python would make of it.
    A GP row is checked for the second only (its columns are validated by the contract's
    schema, which refuses a value by its shape)."""
    wrong = [
        column
        for column, value in row.items()
        if isinstance(value, _Unread) or (not gp and not isinstance(value, str | None))
    ]
    if not wrong:
        return False
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    for column in wrong:
        value = row[column]
        if isinstance(value, _Unread):
            reason, field = value.reason, value.element or column
        else:
            reason, field = "is not a JSON string, as FHIR writes this element", column
        reader.malformed.append(Malformed(number, reason, text, field))
    return True


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _decode(line: bytes) -> dict | None:
    """The line's JSON object, or None. NaN, Infinity and -Infinity, which Python's reader
    accepts, are not JSON (RFC 8259), so a line holding one is not read either."""
    try:
        value = json.loads(line, parse_constant=_no_constant)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _table(rows: list[dict], numbers: list[int], columns: tuple[str, ...]) -> pa.Table:
    data = {c: pa.array([_text(r.get(c)) for r in rows], pa.string()) for c in columns}
    data["_row"] = pa.array(np.array(numbers, dtype=np.int64))
    return pa.table(data)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# ----- References between the files of a hospital's export ------------------------------------


def check_references(con, alias: str, loaded: list[tuple[Extract, str]]) -> set[str]:
    """Quarantine, in the batch `alias`, the rows of hospital FHIR files just landed (each
    extract with its submission id) whose references the export does not hold, naming the
    file, row and element; returns the submission ids whose rows changed. An export is the
    Patient, Encounter, Condition and Procedure files of one source kind, provider, period
    and revision that land in one run (bulk export writes them together; docs/landing.md). In
    order:

    0. every Patient, and every Encounter, whose id another of its file has too (an exact
       repeat of a row was held when it loaded): what refers to it would be ambiguous;
    1. an Encounter whose Encounter.subject is no Patient of the export, or that starts
       before its Patient's birthDate (as the contract's tables check a date of birth);
    2. an admitted-care Encounter whose Encounter.diagnosis ranks first a Condition the
       export does not give for that encounter;
    3. a Condition whose Condition.encounter is no Encounter of the export (left);
    4. an admitted-care Encounter that no Condition (left) names: a spell needs its primary
       diagnosis;
    5. a Procedure whose Procedure.encounter is no Encounter of the export (left).

    A row whose own element failed its check is already in quarantine and so not in the
    export: what refers to it is held too, saying so."""
    exports: dict[tuple, dict[str, tuple[Extract, str]]] = {}
    for extract, sid in loaded:
        key = (extract.kind, extract.provider, extract.period, extract.revision)
        exports.setdefault(key, {})[extract.resource] = (extract, sid)
    changed: set[str] = set()
    for (kind, provider, period, revision), files in exports.items():
        suffix = f"_{period}" + (f"_r{revision}" if revision > 1 else "") + ".ndjson"

        def absent(resource: str, files=files, provider=provider, suffix=suffix) -> str:
            if resource in files:
                return ""
            return (
                f"; its export's {resource} file ({provider}_{resource}{suffix}) did not land "
                "in this run (an export's files are ingested together)"
            )

        def sid_of(resource: str, files=files) -> str:
            return files[resource][1] if resource in files else ""

        def hold(resource: str, field: str, reason: str, condition: str, files=files) -> None:
            if resource not in files:
                return
            extract, sid = files[resource]
            if hold_rows(con, alias, extract, sid, field, reason, condition):
                changed.add(sid)

        params = {
            "patients": sid_of("Patient"),
            "encounters": sid_of("Encounter"),
            "conditions": sid_of("Condition"),
        }

        def cond(sql: str, params=params) -> str:
            for name, value in params.items():
                sql = sql.replace(f"${name}", literal(value))
            return sql

        for resource, key, element in (
            ("Patient", "patient_ref", "Patient.id"),
            ("Encounter", "encounter_id", "Encounter.id"),
        ):
            if resource in files:
                table = f"{alias}.{files[resource][0].table.canonical}"
                hold(
                    resource,
                    element,
                    f"is the id of another {resource} of the file too, so what refers to it "
                    "is ambiguous (every resource with that id is held)",
                    f"{key} IN (SELECT {key} FROM {table} WHERE submission_id = "
                    f"{literal(files[resource][1])} GROUP BY ALL HAVING count(*) > 1)",
                )
        hold(
            "Encounter",
            "Encounter.subject",
            "refers to a Patient that is not in its export (no Patient of that id landed in "
            "its Patient file, or that Patient was quarantined)" + absent("Patient"),
            cond(
                f"patient_ref NOT IN (SELECT patient_ref FROM {alias}.fhir_patients "
                "WHERE submission_id = $patients)"
            ),
        )
        if "Encounter" in files:
            encounters = files["Encounter"][0].table.canonical
            start = "admission_date" if kind is SourceKind.ADMITTED_CARE else "contact_date"
            hold(
                "Encounter",
                "Encounter.period.start",
                "is before its Patient's birthDate",
                cond(
                    f"{start} < (SELECT date_of_birth FROM {alias}.fhir_patients p WHERE "
                    f"p.submission_id = $patients AND p.patient_ref = {encounters}.patient_ref)"
                ),
            )
        if kind is not SourceKind.ADMITTED_CARE:
            continue
        hold(
            "Encounter",
            "Encounter.diagnosis(rank 1).condition",
            "refers to a Condition that its export does not give for this encounter (none of "
            "that id whose Condition.encounter is this encounter landed, or it was "
            "quarantined)" + absent("Condition"),
            cond(
                f"primary_condition IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                f"{alias}.fhir_conditions c WHERE c.submission_id = $conditions AND "
                "c.condition_id = fhir_encounters.primary_condition AND "
                "c.encounter_ref = fhir_encounters.encounter_id)"
            ),
        )
        for resource in ("Condition", "Procedure"):
            if resource == "Procedure" and kind is SourceKind.ADMITTED_CARE:
                hold(
                    "Encounter",
                    "Encounter.diagnosis",
                    "no Condition of its export names this encounter (Condition.encounter): "
                    "an admitted-care spell needs its primary diagnosis" + absent("Condition"),
                    cond(
                        f"encounter_id NOT IN (SELECT encounter_ref FROM "
                        f"{alias}.fhir_conditions WHERE submission_id = $conditions)"
                    ),
                )
            hold(
                resource,
                f"{resource}.encounter",
                "refers to an Encounter that is not in its export (no Encounter of that id "
                "landed in its Encounter file, or that Encounter was quarantined)"
                + absent("Encounter"),
                cond(
                    f"encounter_ref NOT IN (SELECT encounter_id FROM {alias}.fhir_encounters "
                    "WHERE submission_id = $encounters)"
                ),
            )
    return changed


def hold_rows(con, alias: str, extract: Extract, sid: str, field: str, reason: str, condition: str):
    """Move the rows of submission `sid` of the extract's table that meet `condition` to
    quarantine (one problem each, and the row as landed); how many were moved."""
    table = f"{alias}.{extract.table.canonical}"
    where = f"submission_id = $sid AND ({condition})"
    params = {"sid": sid, "file": extract.path.name, "field": field, "reason": reason}
    (moved,) = con.execute(
        f"INSERT INTO {alias}.quarantine SELECT $sid, $file, source_row, $field, $reason "
        f"FROM {table} WHERE {where}",
        params,
    ).fetchone()
    if moved:
        con.execute(
            f"INSERT INTO {alias}.quarantined_rows SELECT $sid, source_row, "
            f"CAST(to_json({extract.table.canonical}) AS VARCHAR) FROM {table} WHERE {where}",
            {"sid": sid},
        )
        con.execute(f"DELETE FROM {table} WHERE {where}", {"sid": sid})
    return moved
