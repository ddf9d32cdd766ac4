"""The Community Services Data Set as NHS England sends its commissioning extract (the built-in
`csds` data set: its CYP001MPI, CYP101Referral and CYP201CareContact tables, each a file): files
written by hand with the columns NHS England's CSDS v1.6 extract definition names
(docs/extract-formats.md, "CSDS"), bad rows included, land with every row loaded or
quarantined by file, row and field; the care contacts that took place are read as the
contract's community contacts with their person's identifiers from CYP001MPI, and link into
zone 3 with nothing that identifies a person."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
from pathlib import Path

import pytest

from openphm.keystore import KeyName
from openphm.landing.ingest import LOADED, ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .helpers import current, held
from .test_fhir_hospital import CANARIES, linked_tables

SOURCE = """
[[sources]]
kind = "community"
provider = "RY2"
name = "NHS England (CSDS commissioning extract)"
layout = "csds"
"""

CANARY = CANARIES["nhs_number"]
LOCAL = CANARIES["local_patient_id"]

MPI = [
    "LocalPatientID", "OrgID_LocalPatientID", "NHSNumber", "NHSNumber_Status", "DateOfBirth",
    "Postcode", "Gender", "EthnicCategory", "RecordNumber", "OrgID_Provider", "Person_ID",
    "UniqueSubmissionID", "Unique_MonthID",
]  # fmt: skip
MPI_ROWS = [
    [LOCAL, "RY2", CANARY, "01", CANARIES["date_of_birth"], CANARIES["postcode"], "1", "A",
     "2001", "RY2", "P1", "77", "1510"],
    ["L2", "RY2", "9434765919", "01", "1950-01-02", "LS1 4AP", "9", "", "2002", "RY2", "P2",
     "77", "1510"],
    # a date of birth that is no date
    ["L3", "RY2", "9990001236", "01", "1960-02-30", "LS1 4AP", "2", "", "2003", "RY2", "P3",
     "77", "1510"],
]  # fmt: skip

REFERRAL = [
    "ServiceRequestID", "LocalPatientID", "OrgID_Commissioner", "ReferralRequest_ReceivedDate",
    "SourceOfReferral", "Discharge_Date", "RecordNumber", "OrgID_Provider", "Person_ID",
    "Unique_ServiceRequestID",
]  # fmt: skip
REFERRAL_ROWS = [
    ["S1", LOCAL, "15F", "2026-01-05", "01", "", "2001", "RY2", "P1", "RY2S1"],
    ["S2", "L2", "15F", "2026-01-06", "01", "2026-02-28", "2002", "RY2", "P2", "RY2S2"],
    # its person was held
    ["S3", "L3", "15F", "2026-01-06", "01", "", "2003", "RY2", "P3", "RY2S3"],
]  # fmt: skip

CONTACT = [
    "CareContactID", "ServiceRequestID", "TeamID_Local", "Contact_Date", "Contact_Time",
    "Consultation_Type", "ConsMechanism", "AttendanceStatus", "RecordNumber", "OrgID_Provider",
    "Person_ID", "Unique_ServiceRequestID", "Unique_CareContactID",
]  # fmt: skip
CONTACT_ROWS = [
    ["K1", "S1", "T1", "2026-02-02", "09:00:00", "01", "01", "5", "2001", "RY2", "P1", "RY2S1",
     "RY2K1"],
    # cancelled by the patient: landed, no contact
    ["K2", "S1", "T1", "2026-02-09", "09:00:00", "01", "01", "2", "2001", "RY2", "P1", "RY2S1",
     "RY2K2"],
    ["K3", "S2", "T2", "2026-02-03", "", "01", "02", "6", "2002", "RY2", "P2", "RY2S2",
     "RY2K3"],
    # its referral was held (its person was)
    ["K4", "S3", "T2", "2026-02-03", "", "01", "01", "5", "2003", "RY2", "P3", "RY2S3",
     "RY2K4"],
    # a RecordNumber no person of the export has
    ["K5", "S2", "T2", "2026-02-03", "", "01", "01", "5", "2999", "RY2", "P2", "RY2S2",
     "RY2K5"],
    # an attendance code CSDS does not have, and a date that is no date
    ["K6", "S2", "T2", "2026-02-3O", "", "01", "01", "8", "2002", "RY2", "P2", "RY2S2",
     "RY2K6"],
]  # fmt: skip


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


@pytest.fixture
def cs_ws(tmp_path, example_config, engineer):
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text + SOURCE)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


def _export(inbox: Path) -> list[Path]:
    files = {
        "CYP001MPI": _csv(MPI, MPI_ROWS),
        "CYP101Referral": _csv(REFERRAL, REFERRAL_ROWS),
        "CYP201CareContact": _csv(CONTACT, CONTACT_ROWS),
    }
    return [
        put(inbox, "community", "RY2", f"RY2_{name}_202602.txt", text)
        for name, text in files.items()
    ]


def test_an_export_lands_is_read_as_contacts_and_links_with_no_identifier(cs_ws, inbox, engineer):
    outcomes = ingest(cs_ws, _export(inbox), engineer).outcomes
    assert all(o.status == LOADED for o in outcomes), [o.message for o in outcomes]
    counts = {
        o.path.name.split("_")[1]: (o.counts.received, o.counts.loaded, o.counts.quarantined)
        for o in outcomes
    }
    assert counts == {
        "CYP001MPI": (3, 2, 1),
        "CYP101Referral": (3, 2, 1),
        "CYP201CareContact": (6, 3, 3),
    }
    mpi, ref, con = (f"RY2_{t}_202602.txt" for t in ("CYP001MPI", "CYP101Referral",
                                                    "CYP201CareContact"))  # fmt: skip
    assert held(cs_ws, engineer) == sorted([
        (mpi, 3, "DateOfBirth", "is not a date in the form YYYY-MM-DD"),
        (ref, 3, "RecordNumber", f"names no CYP001MPI row of its export (no row with that "
         f"RecordNumber landed in {mpi}, or it was quarantined)"),
        (con, 4, "RecordNumber", f"names no CYP001MPI row of its export (no row with that "
         f"RecordNumber landed in {mpi}, or it was quarantined)"),
        (con, 5, "RecordNumber", f"names no CYP001MPI row of its export (no row with that "
         f"RecordNumber landed in {mpi}, or it was quarantined)"),
        (con, 6, "AttendanceStatus", "is not one of the codes 2, 3, 4, 5, 6, 7"),
        (con, 6, "Contact_Date", "is not a date in the form YYYY-MM-DD"),
    ])  # fmt: skip

    rows = {r["contact_id"]: r for r in current(cs_ws, engineer, "community_contacts")}
    assert set(rows) == {"K1", "K3"}
    assert (rows["K1"]["nhs_number"], rows["K1"]["local_patient_id"], rows["K1"]["sex"]) == (
        CANARY,
        LOCAL,
        "M",
    )
    assert (rows["K3"]["nhs_number"], rows["K3"]["sex"]) == ("9434765919", "U")
    # CSDS v1.6's consultation medium is not read (docs/extract-formats.md says why): blank.
    assert all(r["contact_type"] is None and r["service"] is None for r in rows.values())

    link(cs_ws, engineer)
    key = cs_ws.keystore.get(KeyName.LINKAGE)
    needles = {**CANARIES, "nhs_2": "9434765919", "local_2": "L2", "record": "2001"}
    dbc = cs_ws.connect_linked(read_only=True)
    try:
        linked = dbc.execute(
            "SELECT pseudonym, provider, contact_date FROM linked.community_contacts "
            "ORDER BY contact_date"
        ).fetchall()
        found = [
            (table, column, name)
            for table in linked_tables(dbc)
            for column, *_ in dbc.execute(f"DESCRIBE linked.{table}").fetchall()
            for name, value in needles.items()
            if dbc.execute(
                f'SELECT count(*) FROM linked.{table} WHERE lower("{column}"::VARCHAR) '
                + ("= lower(?)" if len(value) < 8 else "LIKE '%' || lower(?) || '%'"),
                [value],
            ).fetchone()[0]
        ]
    finally:
        dbc.close()
    assert linked == [
        (hmac.new(key, CANARY.encode(), hashlib.sha256).hexdigest(), "RY2", dt.date(2026, 2, 2)),
        (hmac.new(key, b"9434765919", hashlib.sha256).hexdigest(), "RY2", dt.date(2026, 2, 3)),
    ]
    assert found == []
