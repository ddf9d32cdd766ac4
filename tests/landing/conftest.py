"""Small extract files in the contract's shapes, written where a test can spoil them."""

from __future__ import annotations

from pathlib import Path

import pytest

from openphm import clock

NOW = "2026-11-03T10:00:00"

GP_A_PATIENTS = (
    "patient_ref,nhs_number,given_name,family_name,sex,date_of_birth,address_line_1,"
    "address_line_2,town,postcode,ethnicity_code\n"
    "P1,943 476 5919,Ann,Smith,F,1950-01-02,1 High St,,Leeds,LS1 4AP,185984009\n"
    "P2,9990001236,Bob,Jones,M,1960-03-02,2 High St,,Leeds,LS1 4AP,\n"
    "P3,,Cat,Brown,U,1980-01-01,3 High St,Flat 2,Leeds,LS1 4AP,\n"
)
GP_B_PATIENTS = (
    "PatientID,NHSNumber,Forename,Surname,Gender,DateOfBirth,AddressLine1,AddressLine2,"
    "Town,Postcode,EthnicityCode\n"
    "B1,9990001244,Eve,Hall,Female,02/01/1950,1 Low St,,York,YO1 7HH,\n"
    "B2,9990001252,Fay,Hill,Male,13/12/1961,2 Low St,,York,YO1 7HH,\n"
)
GP_A_EVENTS = (
    "patient_ref,event_date,snomed_code,value,unit\n"
    "P1,2026-09-01,163030003,140,mmHg\n"
    "P1,2026-09-01,163031004,90,mmHg\n"
    "P2,2026-10-01,44054006,,\n"
)
APC_HEADER = (
    "nhs_number,given_name,family_name,date_of_birth,sex,postcode,spell_id,admission_date,"
    "discharge_date,admission_method,primary_diagnosis,secondary_diagnoses,primary_procedure,"
    "discharge_destination\n"
)
APC = APC_HEADER + (
    "9434765919,Ann,Smith,1950-01-02,2,LS1 4AP,S1,2026-01-01,2026-01-05,21,E119,I10;J45,K401,19\n"
    "9990001236,Bob,Jones,1960-03-02,1,LS1 4AP,S2,2026-02-01,,11,I10,,,19\n"
)


@pytest.fixture(autouse=True)
def programme_clock(monkeypatch):
    """Every landing test runs at a fixed moment unless it moves the clock itself."""
    monkeypatch.setattr(clock, "_source", clock.fixed(NOW))


@pytest.fixture
def inbox(example_config: Path) -> Path:
    """The example programme's inbox root (extracts/<kind>/<ODS>/ beside programme.toml)."""
    root = example_config.parent / "extracts"
    root.mkdir()
    return root


def put(inbox: Path, kind: str, ods: str, name: str, content: str | bytes) -> Path:
    folder = inbox / kind / ods
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path
