"""A linked zone in memory, in exactly the shape of docs/linked-model.md, filled from small
literal tables in the tests. Every table exists (empty unless a test gives rows), so a test
names only the rows its rule depends on."""

from __future__ import annotations

import datetime as dt

import duckdb

SCHEMA: dict[str, dict[str, str]] = {
    "people": {
        "pseudonym": "VARCHAR", "sex": "VARCHAR", "birth_month": "DATE",
        "ethnicity_code": "VARCHAR", "ethnic_group": "VARCHAR", "lsoa": "VARCHAR",
        "imd_decile": "INTEGER", "practice": "VARCHAR", "registered": "BOOLEAN",
        "date_of_death": "DATE", "traced": "VARCHAR", "token": "VARCHAR",
    },
    "registrations": {"pseudonym": "VARCHAR", "practice": "VARCHAR", "start_date": "DATE",
                      "end_date": "DATE"},
    "gp_events": {"pseudonym": "VARCHAR", "practice": "VARCHAR", "event_date": "DATE",
                  "snomed_code": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR"},
    "medications": {"pseudonym": "VARCHAR", "practice": "VARCHAR", "issue_date": "DATE",
                    "dmd_code": "VARCHAR", "drug_name": "VARCHAR", "quantity": "DOUBLE"},
    "consultations": {"pseudonym": "VARCHAR", "practice": "VARCHAR",
                      "consultation_date": "DATE", "consultation_type": "VARCHAR",
                      "staff_role": "VARCHAR"},
    "apc_spells": {
        "pseudonym": "VARCHAR", "provider": "VARCHAR", "admission_date": "DATE",
        "discharge_date": "DATE", "admission_method": "VARCHAR", "emergency": "BOOLEAN",
        "elective": "BOOLEAN", "primary_diagnosis": "VARCHAR",
        "secondary_diagnoses": "VARCHAR[]", "primary_procedure": "VARCHAR",
        "discharge_destination": "VARCHAR", "bed_days": "INTEGER",
    },
    "ec_attendances": {"pseudonym": "VARCHAR", "provider": "VARCHAR", "arrival_date": "DATE",
                       "department_type": "VARCHAR", "chief_complaint": "VARCHAR",
                       "diagnosis": "VARCHAR", "discharge_destination": "VARCHAR"},
    "op_appointments": {"pseudonym": "VARCHAR", "provider": "VARCHAR",
                        "appointment_date": "DATE", "treatment_function_code": "VARCHAR",
                        "first_attendance": "BOOLEAN", "attended": "BOOLEAN"},
    "community_contacts": {"pseudonym": "VARCHAR", "provider": "VARCHAR",
                           "contact_date": "DATE", "service": "VARCHAR",
                           "contact_type": "VARCHAR"},
    "social_care_services": {"pseudonym": "VARCHAR", "provider": "VARCHAR",
                             "service_start": "DATE", "service_end": "DATE",
                             "service_type": "VARCHAR", "primary_support_reason": "VARCHAR"},
    "deaths": {"pseudonym": "VARCHAR", "date_of_death": "DATE", "underlying_cause": "VARCHAR",
               "place_of_death": "VARCHAR"},
}  # fmt: skip

REFERENCE = dt.date(2026, 3, 31)


def linked_zone(**rows: list[dict]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with an in-memory `linked` catalogue holding every table. Rows are
    dicts; columns left out are NULL."""
    from openphm.engine import connect

    con = connect()
    con.execute("ATTACH ':memory:' AS linked")
    return fill(con, **rows)


def fill(con, **rows: list[dict]):
    """Create every linked-zone table in `con`'s `linked` schema, with the rows given."""
    for table, columns in SCHEMA.items():
        spec = ", ".join(f"{c} {t}" for c, t in columns.items())
        con.execute(f"CREATE TABLE linked.{table} ({spec})")
        for row in rows.pop(table, []):
            unknown = set(row) - set(columns)
            assert not unknown, f"{table} has no column(s) {unknown}"
            names = list(row)
            marks = ", ".join("?" for _ in names)
            con.execute(
                f"INSERT INTO linked.{table} ({', '.join(names)}) VALUES ({marks})",
                [row[n] for n in names],
            )
    assert not rows, f"unknown tables: {list(rows)}"
    return con


def person(pseudonym: str, *, age: int = 50, sex: str = "F", imd_decile: int | None = 5,
           practice: str = "P00001", died: dt.date | None = None, ethnic_group: str = "White",
           lsoa: str = "E01000001") -> dict:  # fmt: skip
    """A people row for someone `age` at REFERENCE (born in REFERENCE's month, on the 1st)."""
    born = dt.date(REFERENCE.year - age, 1, 1) if age > 0 else dt.date(REFERENCE.year, 1, 1)
    return {"pseudonym": pseudonym, "sex": sex, "birth_month": born, "ethnic_group": ethnic_group,
            "lsoa": lsoa, "imd_decile": imd_decile, "practice": practice, "registered": True,
            "date_of_death": died, "traced": "nhs-number"}  # fmt: skip


def registered(pseudonym: str, start=dt.date(2000, 1, 1), end=None, practice="P00001") -> dict:
    return {"pseudonym": pseudonym, "practice": practice, "start_date": start, "end_date": end}


def population(*people: dict) -> dict[str, list[dict]]:
    """people rows plus an open registration for each."""
    return {"people": list(people), "registrations": [registered(p["pseudonym"]) for p in people]}
