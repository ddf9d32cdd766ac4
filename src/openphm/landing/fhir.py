"""FHIR R4 bulk export (NDJSON) from GP systems, mapped onto the GP flavour A columns.

Reads one `.ndjson` file of one resource type; writes nothing. Each resource becomes one row in
the provider's own column names (flavour A), so the same declared schema validates it and the
same canonical table receives it: adding FHIR added a mapping, not a second set of rules. The
mapping is tabulated in docs/landing.md ("FHIR R4 bulk export").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from openphm.landing.readers import FHIR_BATCH, Malformed

if TYPE_CHECKING:
    from openphm.landing.readers import Reader

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
SNOMED_SYSTEM = "http://snomed.info/sct"
DMD_SYSTEM = "https://dmd.nhs.uk"
_GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
# Encounter.class (v3 ActCode) to the GP consultation types; anything else is passed through
# and so quarantined as "not one of the codes".
_ENCOUNTER_CLASS = {"AMB": "face-to-face", "VR": "video", "HH": "home-visit", "TEL": "telephone"}


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


def _coding(concept: Any, system: str) -> str | None:
    """The code from `system`, or else the first code of any system (which the schema then
    refuses by its shape: an ICD-10 code is not a SNOMED CT concept id)."""
    codings = _get(concept, "coding") or []
    chosen = next((c for c in codings if c.get("system") == system), None) or _get(codings, 0)
    return _get(chosen, "code")


def _date(value: Any) -> str | None:
    # FHIR dateTime is YYYY-MM-DD[Thh:mm:ss…]; the date part is what the canonical model keeps.
    return (
        value[:10]
        if isinstance(value, str) and len(value) >= 10 and value[10:11] in ("", "T")
        else value
    )


def _patient_ref(resource: dict) -> str | None:
    reference = _get(resource, "subject", "reference") or ""
    return reference.removeprefix("Patient/") or None


def _patient(r: dict) -> dict:
    nhs = next(
        (i.get("value") for i in r.get("identifier") or [] if i.get("system") == NHS_NUMBER_SYSTEM),
        None,
    )
    ethnicity = next(
        (e for e in r.get("extension") or [] if "EthnicCategory" in str(e.get("url"))), None
    )
    return {
        "patient_ref": r.get("id"),
        "nhs_number": nhs,
        "given_name": _get(r, "name", 0, "given", 0),
        "family_name": _get(r, "name", 0, "family"),
        "sex": _GENDER.get(r.get("gender"), r.get("gender")),
        "date_of_birth": r.get("birthDate"),
        "address_line_1": _get(r, "address", 0, "line", 0),
        "address_line_2": _get(r, "address", 0, "line", 1),
        "town": _get(r, "address", 0, "city"),
        "postcode": _get(r, "address", 0, "postalCode"),
        "ethnicity_code": _coding(_get(ethnicity, "valueCodeableConcept"), SNOMED_SYSTEM),
    }


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


def read_fhir(reader: Reader) -> Iterator[pa.Table]:
    """Chunks of mapped resources, `_row` being the line number."""
    resource_type = reader.extract.resource
    mapping = MAPPINGS[resource_type]
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
            rows.append(mapping(resource))
            numbers.append(number)
            if len(rows) >= FHIR_BATCH:
                yield _table(rows, numbers, columns)
                rows, numbers = [], []
    if rows:
        yield _table(rows, numbers, columns)


def _decode(line: bytes) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _table(rows: list[dict], numbers: list[int], columns: tuple[str, ...]) -> pa.Table:
    data = {c: pa.array([_text(r.get(c)) for r in rows], pa.string()) for c in columns}
    data["_row"] = pa.array(np.array(numbers, dtype=np.int64))
    return pa.table(data)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
