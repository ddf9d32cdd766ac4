"""One adapter per source kind: which tables a provider of that kind sends, the provider's
column names and value conventions, and the canonical table each one lands in.

Reads nothing and writes nothing; it is the declaration that the landing load compiles
(openphm.landing.schema). docs/extract-formats.md is the contract these declarations follow:
a new provider format is a new `Schema` here (and a new section there), nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from openphm.landing.schema import (
    ICD10,
    OPCS4,
    SNOMED,
    Choice,
    Code,
    Date,
    Field,
    NhsNumber,
    Number,
    Schema,
    Text,
)
from openphm.programme.config import PROVIDER_KINDS, SourceKind
from openphm.programme.layouts import Layout, builtin


@dataclass(frozen=True)
class Table:
    """A provider table (the `<table>` part of the file name) and where it lands."""

    token: str
    canonical: str
    flavours: dict[str, Schema]
    snapshot: bool = False  # the whole list as at the period, not the activity since the last
    # The required field that names a record, where every row is a distinct record (its own
    # id, or a snapshot's one row per patient): there an exact repeat of a row is a fault, and
    # repeats are looked for only among rows sharing an id. GP activity has none: two
    # identical telephone consultations on one day are two consultations.
    record_id: str | None = None
    # A table declared by a layout (openphm.programme.layouts): its file's header is matched to
    # the layout's versions, and `becomes` is the canonical table its rows are read as (HES
    # APC episodes are read as spells, openphm.landing.read).
    layout: Layout | None = None
    becomes: str = ""
    # A table a FHIR R4 bulk export's NDJSON file of this resource type lands in (a hospital's
    # Patient, Encounter, Condition or Procedure: openphm.landing.fhir); such a table takes no
    # CSV or Parquet file.
    resource: str = ""

    def __post_init__(self) -> None:
        # A blank id would hide a repeat from the check, so the id must be a required field.
        if self.record_id and not all(
            f.required for s in self.flavours.values() for f in s.fields if f.name == self.record_id
        ):
            raise ValueError(f"{self.token}: record id {self.record_id} must be required")

    @property
    def reference(self) -> Schema:
        """The first flavour: its field names and kinds are the canonical table's columns."""
        return next(iter(self.flavours.values()))


# ----- GP practices: flavour A (EMIS-like) declared once, flavour B (TPP-like) derived --------

_SEX_A = Choice.of("M", "F", "U")
_SEX_B = Choice({"Male": "M", "Female": "F", "Unknown": "U"})
_OBJECTION_CODES = Choice.of("827241000000103", "827261000000104")
# A SNOMED CT ethnicity concept, or an NHS Data Dictionary ETHNIC CATEGORY code (A to S, Z not
# stated, 99 not known): the code system HL7 UK Core's Extension-UKCore-EthnicCategory uses
# (UKCore-EthnicCategoryEngland), so GP FHIR lands it; both map to the Census groups in zone 3.
_ETHNICITY = Code(
    system="SNOMED CT or the NHS Data Dictionary ETHNIC CATEGORY",
    pattern=f"{SNOMED}|[A-HJ-NPRSZ]|99",
)


def _gp_a() -> dict[str, tuple[Field, ...]]:
    return {
        "patients": (
            Field("patient_ref", required=True),
            Field("nhs_number", NhsNumber()),
            Field("given_name"),
            Field("family_name"),
            Field("sex", _SEX_A, required=True),
            Field("date_of_birth", Date(), required=True),
            Field("address_line_1"),
            Field("address_line_2"),
            Field("town"),
            Field("postcode", Text(upper=True)),
            Field("ethnicity_code", _ETHNICITY),
        ),
        "registrations": (
            Field("patient_ref", required=True),
            Field("registration_start", Date(), required=True),
            Field("registration_end", Date(not_before=("registration_start",))),
            Field("deregistration_reason", Choice.of("moved", "died", "other")),
        ),
        "events": (
            Field("patient_ref", required=True),
            Field("event_date", Date(), required=True),
            Field("snomed_code", Code(), required=True),
            Field("value", Number()),
            Field("unit"),
        ),
        "medications": (
            Field("patient_ref", required=True),
            Field("issue_date", Date(), required=True),
            Field("dmd_code", Code(system="dm+d"), required=True),
            Field("drug_name"),
            Field("quantity", Number()),
        ),
        "consultations": (
            Field("patient_ref", required=True),
            Field("consultation_date", Date(), required=True),
            Field(
                "consultation_type",
                Choice.of("face-to-face", "telephone", "video", "home-visit"),
            ),
            Field("staff_role", Choice.of("GP", "nurse", "pharmacist", "other")),
        ),
        "objections": (
            Field("patient_ref", required=True),
            Field("recorded_date", Date(), required=True),
            Field("snomed_code", _OBJECTION_CODES, required=True),
        ),
    }


# Flavour B's name for each flavour A column (docs/extract-formats.md, GP tables).
_GP_B_NAMES = {
    "patient_ref": "PatientID",
    "nhs_number": "NHSNumber",
    "given_name": "Forename",
    "family_name": "Surname",
    "sex": "Gender",
    "date_of_birth": "DateOfBirth",
    "address_line_1": "AddressLine1",
    "address_line_2": "AddressLine2",
    "town": "Town",
    "postcode": "Postcode",
    "ethnicity_code": "EthnicityCode",
    "registration_start": "RegistrationDate",
    "registration_end": "DeregistrationDate",
    "deregistration_reason": "DeregistrationReason",
    "event_date": "EventDate",
    "snomed_code": "SnomedCode",
    "value": "NumericValue",
    "unit": "Unit",
    "issue_date": "IssueDate",
    "dmd_code": "DmdCode",
    "drug_name": "DrugName",
    "quantity": "Quantity",
    "consultation_date": "ConsultationDate",
    "consultation_type": "ConsultationType",
    "staff_role": "StaffRole",
    "recorded_date": "RecordedDate",
}


def _as_flavour_b(f: Field) -> Field:
    kind = f.kind
    if isinstance(kind, Date):
        kind = Date(format="%d/%m/%Y", not_before=kind.not_before)
    elif kind == _SEX_A:
        kind = _SEX_B
    return Field(f.name, kind, f.required, source=_GP_B_NAMES[f.name])


def _gp_tables() -> tuple[Table, ...]:
    return tuple(
        Table(
            token,
            f"gp_{token}",
            {"A": Schema(fields), "B": Schema(tuple(_as_flavour_b(f) for f in fields))},
            snapshot=token in ("patients", "registrations"),
            record_id="patient_ref" if token in ("patients", "registrations") else None,
        )
        for token, fields in _gp_a().items()
    )


# ----- Secondary care, community, social care and deaths --------------------------------------

_BORN = ("date_of_birth",)


def _identifiers() -> tuple[Field, ...]:
    """The identifiers every non-GP record carries (1/2/9 is NHS Data Dictionary stated
    gender; blank or invalid NHS numbers are left for tracing)."""
    return (
        Field("nhs_number", NhsNumber()),
        Field("given_name"),
        Field("family_name"),
        Field("date_of_birth", Date()),
        Field("sex", Choice({"1": "M", "2": "F", "9": "U"})),
        Field("postcode", Text(upper=True)),
    )


def _one(token: str, canonical: str, record_id: Field, *fields: Field) -> tuple[Table, ...]:
    schema = Schema((*_identifiers(), record_id, *fields))
    return (Table(token, canonical, {"standard": schema}, record_id=record_id.name),)


# The provider's own id for the person (hospital number, community system's patient id): an
# identifier like the NHS number, kept in zone 1 only. A provider's cohort lists carry it sealed
# to the provider's key (openphm.pseudonymise.hospital); it never reaches the linked zone
# (openphm.pseudonymise.deidentify names every linked column) nor any output.
LOCAL_PATIENT_ID = "local_patient_id"
WITHOUT_LOCAL_ID = "standard, without local_patient_id"


def _local_id(tables: tuple[Table, ...]) -> tuple[Table, ...]:
    """A hospital or community provider's table with the optional `local_patient_id` column
    after the record's own id. The column is optional: a header without it is read as the
    second flavour (the first, with it, gives the canonical table its columns, so rows of a
    file without it land with the column blank)."""
    out = []
    for table in tables:
        standard = table.reference
        at = [f.name for f in standard.fields].index(table.record_id) + 1
        local = Field(LOCAL_PATIENT_ID)
        with_id = Schema((*standard.fields[:at], local, *standard.fields[at:]))
        out.append(
            Table(
                table.token,
                table.canonical,
                {"standard": with_id, WITHOUT_LOCAL_ID: standard},
                table.snapshot,
                table.record_id,
            )
        )
    return tuple(out)


_ADMISSION_METHODS = Choice.of("11", "12", "13", *(str(n) for n in range(21, 29)), "31", "32", "81")

ADAPTERS: dict[SourceKind, tuple[Table, ...]] = {
    SourceKind.GP: _gp_tables(),
    SourceKind.ADMITTED_CARE: _one(
        "apc",
        "apc_spells",
        Field("spell_id", required=True),
        Field("admission_date", Date(not_before=_BORN), required=True),
        Field("discharge_date", Date(not_before=(*_BORN, "admission_date"))),
        Field("admission_method", _ADMISSION_METHODS, required=True),
        Field("primary_diagnosis", Code("ICD-10", ICD10), required=True),
        Field("secondary_diagnoses", Code("ICD-10", ICD10, separator=";")),
        Field("primary_procedure", Code("OPCS-4", OPCS4)),
        Field("discharge_destination", Code("NHS Data Dictionary", r"[0-9]{2}")),
    ),
    SourceKind.EMERGENCY_CARE: _one(
        "ecds",
        "ec_attendances",
        Field("attendance_id", required=True),
        Field("arrival_date", Date(not_before=_BORN), required=True),
        Field("department_type", Choice.of("01", "02", "03", "04"), required=True),
        Field("chief_complaint", Code()),
        Field("diagnosis", Code()),
        Field("discharge_destination", Code()),
    ),
    SourceKind.OUTPATIENTS: _one(
        "opa",
        "op_appointments",
        Field("appointment_id", required=True),
        Field("appointment_date", Date(not_before=_BORN), required=True),
        Field("treatment_function_code", Code("treatment function", r"[0-9]{3}")),
        Field("first_attendance", Choice.of("1", "2")),
        Field("attendance_status", Choice.of("2", "3", "5", "6", "7"), required=True),
    ),
    SourceKind.COMMUNITY: _one(
        "community",
        "community_contacts",
        Field("contact_id", required=True),
        Field("contact_date", Date(not_before=_BORN), required=True),
        Field("service"),
        Field("contact_type", Choice.of("face-to-face", "telephone", "video")),
    ),
    SourceKind.SOCIAL_CARE: _one(
        "socialcare",
        "social_care_services",
        Field("client_id", required=True),
        Field("service_start", Date(not_before=_BORN), required=True),
        Field("service_end", Date(not_before=(*_BORN, "service_start"))),
        Field("service_type"),
        Field("primary_support_reason"),
    ),
    SourceKind.DEATHS: _one(
        "deaths",
        "deaths",
        Field("death_registration_id", required=True),
        Field("date_of_death", Date(not_before=_BORN), required=True),
        Field("underlying_cause", Code("ICD-10", ICD10)),
        Field("place_of_death", Choice.of("hospital", "home", "care home", "hospice", "other")),
    ),
}


# ----- FHIR R4 bulk export from hospital providers (docs/landing.md, "FHIR R4 bulk export") ----
# One zone-1 table per resource type, each field named (`source`) by the FHIR element it is read
# from, so that a quarantined row names the element. An admitted-care export's Encounters are
# read as apc_spells, joined to their Patient, Conditions and Procedures within the export
# (openphm.landing.read.fhir_spells_sql); references that the export does not hold are
# quarantined when its files land together (openphm.landing.fhir.check_references).

# FHIR R4 AdministrativeGender (Patient.gender) to the canonical sex: a hospital's Patient is
# checked against it as it lands, a GP's is translated by it (landing.fhir) before the GP schema.
FHIR_GENDER = Choice({"male": "M", "female": "F", "other": "U", "unknown": "U"})
# UK Core's CodeSystem UKCore-AdmissionMethodEngland (the NHS Data Dictionary's ADMISSION
# METHOD), less 98 (not applicable) and 99 (not known), which are no admission method.
ADMISSION_METHODS_ENGLAND = Choice.of(
    "11", "12", "13", "21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28", "31", "32",
    "81", "82", "83",
)  # fmt: skip
# Encounter.class (v3 ActCode) of a hospital provider spell: inpatient, and its two kinds.
INPATIENT_CLASSES = Choice.of("IMP", "ACUTE", "NONAC")
# Encounter.status of a spell that took place (planned, arrived, triaged, cancelled,
# entered-in-error and unknown ones are no spell) and Procedure.status of a procedure performed.
SPELL_STATUSES = Choice.of("in-progress", "onleave", "finished")
PROCEDURE_STATUSES = Choice.of("in-progress", "stopped", "completed")
# Condition.verificationStatus of a diagnosis (refuted and entered-in-error are none).
VERIFIED = Choice.of("unconfirmed", "provisional", "differential", "confirmed")
# Encounter.status of a community contact that took place, and its Encounter.class: ambulatory,
# home health and field are face to face; virtual is by telephone or video (FHIR does not say
# which).
CONTACT_STATUSES = Choice.of("in-progress", "finished")
CONTACT_CLASSES = Choice.of("AMB", "HH", "FLD", "VR")
FHIR_TABLES = (
    "fhir_patients",
    "fhir_encounters",
    "fhir_conditions",
    "fhir_procedures",
    "fhir_contacts",
)


def _fhir_patients() -> tuple[Field, ...]:
    return (
        Field("patient_ref", required=True, source="Patient.id"),
        Field("nhs_number", NhsNumber(), source="Patient.identifier(nhs-number)"),
        Field(LOCAL_PATIENT_ID, source="Patient.identifier(MR)"),
        Field("given_name", source="Patient.name.given"),
        Field("family_name", source="Patient.name.family"),
        Field("date_of_birth", Date(), source="Patient.birthDate"),
        Field("sex", FHIR_GENDER, source="Patient.gender"),
        Field("postcode", Text(upper=True), source="Patient.address.postalCode"),
    )


def _fhir_table(resource, canonical, fields, record_id=None, becomes="") -> Table:
    return Table(
        resource,
        canonical,
        {"FHIR R4": Schema(fields)},
        record_id=record_id,
        becomes=becomes,
        resource=resource,
    )


def _fhir_encounter(statuses: Choice, classes: Choice, start: str) -> tuple[Field, ...]:
    """The fields every hospital and community Encounter lands with (landing.fhir._encounter):
    its statuses and classes those of a spell or a contact, its start named `start`."""
    return (
        Field("encounter_id", required=True, source="Encounter.id"),
        Field("patient_ref", required=True, source="Encounter.subject"),
        Field("encounter_status", statuses, required=True, source="Encounter.status"),
        Field("encounter_class", classes, required=True, source="Encounter.class"),
        Field(start, Date(), required=True, source="Encounter.period.start"),
    )


def _fhir_community() -> tuple[Table, ...]:
    contacts = (
        *_fhir_encounter(CONTACT_STATUSES, CONTACT_CLASSES, "contact_date"),
        Field("service", source="Encounter.serviceType"),
    )
    return (
        _fhir_table("Patient", "fhir_patients", _fhir_patients(), "patient_ref"),
        _fhir_table("Encounter", "fhir_contacts", contacts, "encounter_id", "community_contacts"),
    )


def _fhir_admitted_care() -> tuple[Table, ...]:
    encounters = (
        *_fhir_encounter(SPELL_STATUSES, INPATIENT_CLASSES, "admission_date"),
        Field(
            "discharge_date",
            Date(not_before=("admission_date",)),
            source="Encounter.period.end",
        ),
        Field(
            "admission_method",
            ADMISSION_METHODS_ENGLAND,
            required=True,
            source="Encounter.hospitalization.admissionMethod",
        ),
        Field(
            "discharge_destination",
            Code("NHS Data Dictionary", r"[0-9]{2}"),
            source="Encounter.hospitalization.dischargeDisposition",
        ),
        Field("primary_condition", source="Encounter.diagnosis(rank 1).condition"),
    )
    conditions = (
        Field("condition_id", source="Condition.id"),
        Field("encounter_ref", required=True, source="Condition.encounter"),
        Field("verification", VERIFIED, source="Condition.verificationStatus"),
        Field("diagnosis", Code("ICD-10", ICD10), required=True, source="Condition.code"),
    )
    procedures = (
        Field("procedure_id", source="Procedure.id"),
        Field("encounter_ref", required=True, source="Procedure.encounter"),
        Field("procedure_status", PROCEDURE_STATUSES, required=True, source="Procedure.status"),
        Field("procedure_code", Code("OPCS-4", OPCS4), required=True, source="Procedure.code"),
        Field("performed_date", Date(), source="Procedure.performed"),
    )

    return (
        _fhir_table("Patient", "fhir_patients", _fhir_patients(), "patient_ref"),
        _fhir_table("Encounter", "fhir_encounters", encounters, "encounter_id", "apc_spells"),
        _fhir_table("Condition", "fhir_conditions", conditions),
        _fhir_table("Procedure", "fhir_procedures", procedures),
    )


def _layout_kind(f, formats: tuple[str, ...]):
    if f.type == "nhs-number":
        return NhsNumber()
    if f.type == "date":
        return Date(format=formats[0], not_before=f.not_before, formats=formats[1:])
    if f.type == "number":
        return Number()
    if f.type == "choice":
        return Choice(dict(f.codes))
    if f.type == "code":
        return Code(f.system, f.pattern, filler=f.filler or None, width=f.width)
    return Text(upper=f.type == "upper-text")


def _in_format(value: str, date_format: str) -> str:
    """A special date the specification gives as YYYY-MM-DD (HES's 1800-01-01), as a file in
    another date format writes it."""
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").strftime(date_format)
    except ValueError:
        return value


def layout_schema(layout: Layout, present: frozenset[str] | None = None) -> Schema:
    """The checks for a layout's kept fields (those a file carries, given `present`, its
    header as the layout names its columns), each named as the file names it."""

    def dated(values: tuple[str, ...], f) -> tuple[str, ...]:
        if f.type != "date":
            return values
        return tuple(dict.fromkeys(_in_format(v, fmt) for v in values for fmt in formats))

    def dated_invalid(f) -> tuple[tuple[str, str], ...]:
        if f.type != "date":
            return f.invalid
        return tuple(
            dict.fromkeys((_in_format(v, fmt), why) for v, why in f.invalid for fmt in formats)
        )

    formats = layout.date_formats

    return Schema(
        tuple(
            Field(
                f.canonical,
                _layout_kind(f, formats),
                f.required,
                source=layout.file_column(f.column),
                pad=layout.pad,
                nulls=dated(f.nulls, f),
                recode=f.recode,
                invalid=dated_invalid(f),
                times=layout.times and f.type == "date",
            )
            for f in layout.fields
            if present is None or f.column in present
        )
    )


def layout_table(layout: Layout) -> Table:
    """The provider table a layout declares: one flavour, the layout's whole schema."""
    return Table(
        layout.name,
        layout.canonical,
        {layout.name: layout_schema(layout)},
        record_id=layout.record_id,
        layout=layout,
        becomes=layout.becomes,
    )


# Hospital and community providers, who may receive lists of their own patients, may send
# their own id for each record's person.
for _kind in PROVIDER_KINDS:
    ADAPTERS[_kind] = _local_id(ADAPTERS[_kind])

ADAPTERS[SourceKind.ADMITTED_CARE] = (*ADAPTERS[SourceKind.ADMITTED_CARE], *_fhir_admitted_care())
ADAPTERS[SourceKind.COMMUNITY] = (*ADAPTERS[SourceKind.COMMUNITY], *_fhir_community())

for _layout in builtin().values():
    _kind = SourceKind(_layout.kind)
    ADAPTERS[_kind] = (*ADAPTERS[_kind], layout_table(_layout))


def table_for(kind: SourceKind, token: str) -> Table | None:
    return next((t for t in ADAPTERS[kind] if t.token == token), None)


def fhir_table_for(kind: SourceKind, resource: str) -> Table | None:
    """The table a hospital provider's FHIR NDJSON file of `resource` lands in, if any."""
    return next((t for t in ADAPTERS[kind] if t.resource and t.resource == resource), None)


def canonical_tables() -> dict[str, Table]:
    """Every canonical table and the adapter table that declares it."""
    return {t.canonical: t for tables in ADAPTERS.values() for t in tables}
