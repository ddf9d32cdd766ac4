"""What each linked-zone table keeps of a landing row (promise P2), as one SELECT list per table.

Reads landing rows that already carry their `pseudonym` (openphm.pseudonymise.link resolves
it); writes nothing itself. The contract is docs/linked-model.md: event dates and clinical codes
are kept; names, addresses, postcodes, NHS numbers, dates of birth, free text and providers'
record ids are not. Because every linked column is listed here by name, a landing column that is
not named (a new identifier a provider starts sending, say) can never reach zone 3.

`submission_id` is the last column of every table built from landed files: which file a row
came from (no patient value), so that a resubmission can replace the rows of the file it
supersedes after the landing copy of that file has been destroyed.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from openphm.linked import model

# Linked table per canonical landing table, for the tables built row for row from landed files.
LINKED_TABLE = {
    "gp_registrations": "registrations",
    "gp_events": "gp_events",
    "gp_medications": "medications",
    "gp_consultations": "consultations",
    "apc_spells": "apc_spells",
    "ec_attendances": "ec_attendances",
    "op_appointments": "op_appointments",
    "community_contacts": "community_contacts",
    "social_care_services": "social_care_services",
    "deaths": "deaths",
}

# The provider's own id for each non-GP record: the key of an untraced record's pseudonym, and
# never copied into zone 3.
RECORD_ID = {
    "apc_spells": "spell_id",
    "ec_attendances": "attendance_id",
    "op_appointments": "appointment_id",
    "community_contacts": "contact_id",
    "social_care_services": "client_id",
    "deaths": "death_registration_id",
}

# How each linked column (docs/linked-model.md, defined in openphm.linked.model) is made from
# the resolved landing row: (linked column, SQL), in the model's order.
SQL: dict[str, tuple[tuple[str, str], ...]] = {
    "registrations": (
        ("practice", "provider_ods"),
        ("start_date", "registration_start"),
        ("end_date", "registration_end"),
    ),
    "gp_events": (
        ("practice", "provider_ods"),
        ("event_date", "event_date"),
        ("snomed_code", "snomed_code"),
        ("value", "value"),
        ("unit", "unit"),
    ),
    "medications": (
        ("practice", "provider_ods"),
        ("issue_date", "issue_date"),
        ("dmd_code", "dmd_code"),
        ("drug_name", "drug_name"),
        ("quantity", "quantity"),
    ),
    "consultations": (
        ("practice", "provider_ods"),
        ("consultation_date", "consultation_date"),
        ("consultation_type", "consultation_type"),
        ("staff_role", "staff_role"),
    ),
    "apc_spells": (
        ("provider", "provider_ods"),
        ("admission_date", "admission_date"),
        ("discharge_date", "discharge_date"),
        ("admission_method", "admission_method"),
        # 2A-2D: the emergency methods the NHS Data Dictionary added in 2013 (HES sends them).
        ("emergency", "admission_method IN ('21','22','23','24','25','26','27','28',"
         "'2A','2B','2C','2D')"),
        ("elective", "admission_method IN ('11','12','13')"),
        ("primary_diagnosis", "primary_diagnosis"),
        ("secondary_diagnoses",
         "coalesce(string_split(secondary_diagnoses, ';'), []::VARCHAR[])"),
        ("primary_procedure", "primary_procedure"),
        ("discharge_destination", "discharge_destination"),
        ("bed_days", "(discharge_date - admission_date)::INTEGER"),
    ),
    "ec_attendances": (
        ("provider", "provider_ods"),
        ("arrival_date", "arrival_date"),
        ("department_type", "department_type"),
        ("chief_complaint", "chief_complaint"),
        ("diagnosis", "diagnosis"),
        ("discharge_destination", "discharge_destination"),
    ),
    "op_appointments": (
        ("provider", "provider_ods"),
        ("appointment_date", "appointment_date"),
        ("treatment_function_code", "treatment_function_code"),
        ("first_attendance", "CASE first_attendance WHEN '1' THEN true "
         "WHEN '2' THEN false END"),
        # NHS Data Dictionary attended-or-did-not-attend: 5 seen on time, 6 late but seen.
        ("attended", "attendance_status IN ('5','6')"),
    ),
    "community_contacts": (
        ("provider", "provider_ods"),
        ("contact_date", "contact_date"),
        ("service", "service"),
        ("contact_type", "contact_type"),
    ),
    "social_care_services": (
        ("provider", "provider_ods"),
        ("service_start", "service_start"),
        ("service_end", "service_end"),
        ("service_type", "service_type"),
        ("primary_support_reason", "primary_support_reason"),
    ),
    "deaths": (
        ("date_of_death", "date_of_death"),
        ("underlying_cause", "underlying_cause"),
        ("place_of_death", "place_of_death"),
    ),
}  # fmt: skip


def _columns() -> dict[str, tuple[tuple[str, str, str], ...]]:
    """(linked column, type, SQL) per table: the model's columns, each with its SQL here. A
    column the model has and this file does not make, or the other way round, stops the import:
    what `phm link` writes is the model, no more and no less."""
    columns = {}
    for table, typed in model.RECORDS.items():
        sql = dict(SQL.get(table, ()))
        if list(sql) != [name for name, _ in typed]:
            raise RuntimeError(
                f"linked.{table}: deidentify makes {list(sql)}, the linked model (linked/model.py) "
                f"has {[name for name, _ in typed]}"
            )
        columns[table] = tuple((name, kind, sql[name]) for name, kind in typed)
    if set(SQL) != set(model.RECORDS):
        extra = sorted(set(SQL) - set(model.RECORDS))
        raise RuntimeError(f"deidentify makes tables the linked model lacks: {extra}")
    return columns


COLUMNS = _columns()
PEOPLE = model.PEOPLE

# 2021 Census five groups, by the `grouping_6_id` of the ethnicity code lists: SNOMED CT
# (`ethnicity`) and the NHS Data Dictionary's ETHNIC CATEGORY letters as UK Core codes them
# (`ethnic-category-england`: FHIR's Extension-UKCore-EthnicCategory). The two cannot collide: a
# SNOMED CT id is 6 to 18 digits, a category one letter (or 99, not known, which has no group).
ETHNIC_GROUPS = {"1": "White", "2": "Mixed", "3": "Asian", "4": "Black", "5": "Other"}
UNKNOWN_ETHNIC_GROUP = "Unknown"


def create_sql(table: str) -> str:
    """CREATE TABLE for a linked table built from landed files: pseudonym, the contract's
    columns, then submission_id (openphm.linked.model)."""
    return model.create_sql(table)


def select_sql(table: str, resolved: str) -> str:
    """The linked table's rows from `resolved` (landing rows with their pseudonym)."""
    body = ", ".join(f'{sql} AS "{name}"' for name, _, sql in COLUMNS[table])
    return f"SELECT pseudonym, {body}, submission_id FROM {resolved}"


def birth_month(date_sql: str) -> str:
    """Date of birth to the first of its month: the day is dropped."""
    return f"date_trunc('month', {date_sql})::DATE"


def postcode_key(postcode_sql: str) -> str:
    """A postcode as the lookup spells it: upper case, one space before the inward code."""
    compact = f"regexp_replace(upper({postcode_sql}), '[^A-Z0-9]', '', 'g')"
    return f"regexp_replace({compact}, '^(.+)(...)$', '\\1 \\2')"


def register_reference(con) -> None:
    """Temporary lookup tables: postcode → LSOA → IMD 2019 decile, ethnicity code → group."""
    for name, frame in _reference().items():
        con.register(f"_{name}_frame", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE ref_{name} AS SELECT * FROM _{name}_frame")
        con.unregister(f"_{name}_frame")


@cache
def _reference() -> dict[str, pd.DataFrame]:
    from openphm.reference import codelist, imd2019, postcode_lsoa

    lsoa = postcode_lsoa().merge(imd2019()[["lsoa_code", "imd_decile"]], how="left")
    ethnicity = pd.concat([codelist("ethnicity"), codelist("ethnic-category-england")])
    return {
        "postcode": pd.DataFrame(
            {
                "postcode": lsoa["postcode"],
                "lsoa": lsoa["lsoa_code"],
                "imd_decile": lsoa["imd_decile"].astype("Int32"),
            }
        ),
        "ethnicity": pd.DataFrame(
            {
                "code": ethnicity["code"],
                "ethnic_group": ethnicity["grouping_6_id"].map(ETHNIC_GROUPS),
            }
        ).dropna(),
    }
