"""Zone 3's model: every table of the linked zone, its columns and their types, defined once.

docs/linked-model.md describes these tables for a reader (tests/linked/test_model.py holds the
page to this module); `phm link` writes them (openphm.pseudonymise.deidentify says how each
column is made from a landing row, and cannot name a column this module does not); analytics
checks that the zone holds what it reads (openphm.analytics.zone.REQUIRED, a subset of this);
the tests' linked zone in memory (tests/analytics/linked.py) is built from it.

Nothing here imports another package of OpenPHM: zone 3 is described without loading the code
that writes it or the keys that open it.
"""

from __future__ import annotations

PSEUDONYM = ("pseudonym", "VARCHAR")
# Which landed file a row came from (no patient value): the last column of every table built
# row for row from landed files, so that a resubmission can replace the rows of the file it
# supersedes after the landing copy of that file is destroyed.
SUBMISSION = ("submission_id", "VARCHAR")

# One row per person.
PEOPLE: tuple[tuple[str, str], ...] = (
    PSEUDONYM,
    ("sex", "VARCHAR"),
    ("birth_month", "DATE"),
    ("ethnicity_code", "VARCHAR"),
    ("ethnic_group", "VARCHAR"),
    ("lsoa", "VARCHAR"),
    ("imd_decile", "INTEGER"),
    ("practice", "VARCHAR"),
    ("registered", "BOOLEAN"),
    ("date_of_death", "DATE"),
    ("traced", "VARCHAR"),
    ("token", "VARCHAR"),
)

# The tables built row for row from landed files: their columns between `pseudonym` (first)
# and `submission_id` (last), in the contract's order.
RECORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "registrations": (("practice", "VARCHAR"), ("start_date", "DATE"), ("end_date", "DATE")),
    "gp_events": (("practice", "VARCHAR"), ("event_date", "DATE"), ("snomed_code", "VARCHAR"),
                  ("value", "DOUBLE"), ("unit", "VARCHAR")),
    "medications": (("practice", "VARCHAR"), ("issue_date", "DATE"), ("dmd_code", "VARCHAR"),
                    ("drug_name", "VARCHAR"), ("quantity", "DOUBLE")),
    "consultations": (("practice", "VARCHAR"), ("consultation_date", "DATE"),
                      ("consultation_type", "VARCHAR"), ("staff_role", "VARCHAR")),
    "apc_spells": (
        ("provider", "VARCHAR"), ("admission_date", "DATE"), ("discharge_date", "DATE"),
        ("admission_method", "VARCHAR"), ("emergency", "BOOLEAN"), ("elective", "BOOLEAN"),
        ("primary_diagnosis", "VARCHAR"), ("secondary_diagnoses", "VARCHAR[]"),
        ("primary_procedure", "VARCHAR"), ("discharge_destination", "VARCHAR"),
        ("bed_days", "INTEGER"),
    ),
    "ec_attendances": (("provider", "VARCHAR"), ("arrival_date", "DATE"),
                       ("department_type", "VARCHAR"), ("chief_complaint", "VARCHAR"),
                       ("diagnosis", "VARCHAR"), ("discharge_destination", "VARCHAR")),
    "op_appointments": (("provider", "VARCHAR"), ("appointment_date", "DATE"),
                        ("treatment_function_code", "VARCHAR"), ("first_attendance", "BOOLEAN"),
                        ("attended", "BOOLEAN")),
    "community_contacts": (("provider", "VARCHAR"), ("contact_date", "DATE"),
                           ("service", "VARCHAR"), ("contact_type", "VARCHAR")),
    "social_care_services": (("provider", "VARCHAR"), ("service_start", "DATE"),
                             ("service_end", "DATE"), ("service_type", "VARCHAR"),
                             ("primary_support_reason", "VARCHAR")),
    "deaths": (("date_of_death", "DATE"), ("underlying_cause", "VARCHAR"),
               ("place_of_death", "VARCHAR")),
}  # fmt: skip

# Every person-level table of the zone, with all its columns in order.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "people": PEOPLE,
    **{table: (PSEUDONYM, *columns, SUBMISSION) for table, columns in RECORDS.items()},
}

# Linkage quality, aggregates only (no person-level data), rebuilt on every `phm link`.
REPORTS: dict[str, tuple[tuple[str, str], ...]] = {
    "link_report": (("source", "VARCHAR"), ("provider", "VARCHAR"), ("records", "BIGINT"),
                    ("with_valid_nhs_number", "BIGINT"), ("traced", "BIGINT"),
                    ("untraced", "BIGINT"), ("objected_removed", "BIGINT")),
    "linkage_equity": (("grouped_by", "VARCHAR"), ("group", "VARCHAR"), ("records", "BIGINT"),
                       ("matched", "BIGINT"), ("match_rate", "DOUBLE"),
                       ("difference_from_overall", "DOUBLE")),
}  # fmt: skip

# Written once by `phm init`: which zone this file is and the programme it belongs to.
INFO: dict[str, tuple[tuple[str, str], ...]] = {
    "zone_info": (("zone", "VARCHAR"), ("programme", "VARCHAR")),
}


def columns(table: str) -> tuple[str, ...]:
    """The names of `table`'s columns, in order."""
    return tuple(name for name, _ in (TABLES | REPORTS)[table])


def create_sql(table: str, schema: str = "linked") -> str:
    """CREATE TABLE IF NOT EXISTS for one of the zone's tables, in `schema`."""
    body = ", ".join(f'"{name}" {kind}' for name, kind in (TABLES | REPORTS)[table])
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({body})"
