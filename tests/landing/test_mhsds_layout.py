"""The Mental Health Services Data Set as NHS England sends its commissioning extract (the
built-in `mhsds` data set: its MHS001MPI, MHS101Referral and MHS201CareContact tables, each a
file): files written by hand with the columns NHS England's MHSDS v6 extract definition names
(docs/extract-formats.md, "MHSDS"), bad rows included, land with every row loaded or
quarantined by file, row and field; the care contacts that took place are read as the
contract's community contacts with their person's identifiers from MHS001MPI, and link into
zone 3 with nothing that identifies a person."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest

from openphm.errors import UserFacingError
from openphm.keystore import KeyName
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.programme.config import load_config
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .helpers import current, held
from .test_fhir_hospital import CANARIES, linked_tables

SOURCE = """
[[sources]]
kind = "community"
provider = "RV3"
name = "NHS England (MHSDS commissioning extract)"
layout = "mhsds"
"""

CANARY = CANARIES["nhs_number"]
LOCAL = CANARIES["local_patient_id"]

# MHS001MPI: the columns a sender's data sharing agreement gives (a real extract carries those,
# not all 49), spelled as the extract definition spells them.
MPI = [
    "LocalPatientID", "OrgIDLocalPatientID", "NHSNumber", "NHSNumberStatus", "PersonBirthDate",
    "Postcode", "GenderIDCode", "Gender", "EthnicCategory", "RecordNumber", "OrgIDProv",
    "Person_ID", "UniqSubmissionID", "UniqMonthID",
]  # fmt: skip
MPI_ROWS = [
    # 1 the canary person
    [LOCAL, "RV3", CANARY, "01", CANARIES["date_of_birth"], CANARIES["postcode"], "2", "2", "A",
     "1001", "RV3", "P1", "55", "1510"],
    # 2 a person whose postcode is sent in lower case and whose stated gender is not known
    ["LP2", "RV3", "9434765919", "01", "1950-01-02", "ls1 4ap", "X", "X", "", "1002", "RV3",
     "P2", "55", "1510"],
    # 3 an NHS number that is not ten digits: held, and what names this person with it
    ["LP3", "RV3", "99946262e1", "01", "1960-03-02", "LS1 4AP", "1", "1", "", "1003", "RV3",
     "P3", "55", "1510"],
    # 4 a gender identity code (3, non-binary) sent as the stated gender, which has no 3
    ["LP4", "RV3", "9990001236", "01", "1970-07-07", "LS1 4AP", "3", "3", "", "1004", "RV3",
     "P4", "55", "1510"],
    # 5, 6 two people with one RecordNumber: ambiguous, both held
    ["LP5", "RV3", "9990001244", "01", "1980-01-01", "LS1 4AP", "1", "1", "", "1005", "RV3",
     "P5", "55", "1510"],
    ["LP6", "RV3", "9990001252", "01", "1981-01-01", "LS1 4AP", "2", "2", "", "1005", "RV3",
     "P6", "55", "1510"],
]  # fmt: skip

REFERRAL = [
    "ServiceRequestID", "LocalPatientID", "OrgIDComm", "ReferralRequestReceivedDate",
    "ServDischDate", "RecordNumber", "OrgIDProv", "Person_ID", "UniqServReqID",
]  # fmt: skip
REFERRAL_ROWS = [
    ["SR1", LOCAL, "15F", "2026-01-10", "", "1001", "RV3", "P1", "RV3SR1"],
    # discharged before it was received
    ["SR2", "LP2", "15F", "2025-12-01", "2025-11-30", "1002", "RV3", "P2", "RV3SR2"],
    ["SR3", "LP2", "15F", "2026-01-02", "", "1002", "RV3", "P2", "RV3SR3"],
    # its person (1003) was held: no row of MHS001MPI left for it
    ["SR4", "LP3", "15F", "2026-01-02", "", "1003", "RV3", "P3", "RV3SR4"],
    # received before the canary was born
    ["SR5", LOCAL, "15F", "1911-01-01", "", "1001", "RV3", "P1", "RV3SR5"],
]  # fmt: skip

CONTACT = [
    "CareContactID", "ServiceRequestID", "CareContDate", "CareContTime", "ConsMechanismMH",
    "AttendStatus", "RecordNumber", "OrgIDProv", "Person_ID", "UniqServReqID", "UniqCareContID",
]  # fmt: skip
CONTACT_ROWS = [
    ["C1", "SR1", "2026-02-03", "10:00:00", "01", "5", "1001", "RV3", "P1", "RV3SR1", "RV3C1"],
    ["C2", "SR1", "2026-02-10", "10:00:00", "11", "6", "1001", "RV3", "P1", "RV3SR1", "RV3C2"],
    # did not attend: landed, but no contact took place
    ["C3", "SR1", "2026-02-17", "10:00:00", "02", "3", "1001", "RV3", "P1", "RV3SR1", "RV3C3"],
    # a time of day after the date (dropped); 98 other medium (no contact type of the contract's)
    ["C4", "SR3", "2026-02-04 00:00:00", "", "98", "5", "1002", "RV3", "P2", "RV3SR3", "RV3C4"],
    # its referral was held
    ["C5", "SR2", "2026-02-05", "", "01", "5", "1002", "RV3", "P2", "RV3SR2", "RV3C5"],
    # a referral the export does not have
    ["C6", "SR9", "2026-02-05", "", "01", "5", "1002", "RV3", "P2", "RV3SR9", "RV3C6"],
    # 03 (telemedicine web camera) is not a v6 code
    ["C7", "SR3", "2026-02-06", "", "03", "5", "1002", "RV3", "P2", "RV3SR3", "RV3C7"],
    # 1 is no ATTENDED OR DID NOT ATTEND code
    ["C8", "SR3", "2026-02-06", "", "01", "1", "1002", "RV3", "P2", "RV3SR3", "RV3C8"],
    # no date
    ["C9", "SR1", "", "", "01", "5", "1001", "RV3", "P1", "RV3SR1", "RV3C9"],
    # before the canary was born
    ["C10", "SR1", "1911-11-01", "", "01", "5", "1001", "RV3", "P1", "RV3SR1", "RV3C10"],
]  # fmt: skip


def _csv(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


@pytest.fixture
def mh_ws(tmp_path, example_config, engineer):
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text + SOURCE)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


def _export(inbox: Path, period: str = "202602", **tables) -> list[Path]:
    """The hand-written export in RV3's community folder; a table given as None is left out."""
    files = {
        "MHS001MPI": _csv(MPI, MPI_ROWS),
        "MHS101Referral": _csv(REFERRAL, REFERRAL_ROWS, "|"),
        "MHS201CareContact": _csv(CONTACT, CONTACT_ROWS),
        **tables,
    }
    return [
        put(inbox, "community", "RV3", f"RV3_{name}_{period}.csv", text)
        for name, text in files.items()
        if text is not None
    ]


def test_an_export_lands_with_every_row_loaded_or_quarantined(mh_ws, inbox, engineer):
    outcomes = ingest(mh_ws, _export(inbox), engineer).outcomes
    counts = {
        o.path.name.split("_")[1]: (o.counts.received, o.counts.loaded, o.counts.quarantined)
        for o in outcomes
    }
    assert all(o.status == LOADED for o in outcomes), [o.message for o in outcomes]
    assert counts == {
        "MHS001MPI": (6, 2, 4),
        "MHS101Referral": (5, 2, 3),
        "MHS201CareContact": (10, 4, 6),
    }
    mpi, ref, con = (f"RV3_{t}_202602.csv" for t in ("MHS001MPI", "MHS101Referral",
                                                    "MHS201CareContact"))  # fmt: skip
    assert held(mh_ws, engineer) == sorted([
        (mpi, 3, "NHSNumber", "is not 10 digits (letters, punctuation or wrong length)"),
        (mpi, 4, "Gender", "is not one of the codes 1, 2, 9, X"),
        (mpi, 5, "RecordNumber", "is the RecordNumber of another row of the file too, so the "
         "rows that name it would be ambiguous (every row with it is held)"),
        (mpi, 6, "RecordNumber", "is the RecordNumber of another row of the file too, so the "
         "rows that name it would be ambiguous (every row with it is held)"),
        (ref, 2, "ServDischDate", "is before ReferralRequestReceivedDate"),
        (ref, 4, "RecordNumber", f"names no MHS001MPI row of its export (no row with that "
         f"RecordNumber landed in {mpi}, or it was quarantined)"),
        (ref, 5, "ReferralRequestReceivedDate", "is before the date of birth (PersonBirthDate) "
         "of the person its RecordNumber names"),
        (con, 5, "ServiceRequestID", f"names no MHS101Referral row of its export (no row with "
         f"that ServiceRequestID landed in {ref}, or it was quarantined)"),
        (con, 6, "ServiceRequestID", f"names no MHS101Referral row of its export (no row with "
         f"that ServiceRequestID landed in {ref}, or it was quarantined)"),
        (con, 7, "ConsMechanismMH", "is not one of the codes 01, 02, 11 (or 04, 05, 09, 10, 12, "
         "13, 98, read as blank)"),
        (con, 8, "AttendStatus", "is not one of the codes 2, 3, 4, 5, 6, 7"),
        (con, 9, "CareContDate", "is required but blank"),
        (con, 10, "CareContDate", "is before the date of birth (PersonBirthDate) of the person "
         "its RecordNumber names"),
    ])  # fmt: skip

    # The contacts that took place, read as the contract's with their person's identifiers.
    rows = {r["contact_id"]: r for r in current(mh_ws, engineer, "community_contacts")}
    assert set(rows) == {"C1", "C2", "C4"}
    c1, c2, c4 = rows["C1"], rows["C2"], rows["C4"]
    assert (c1["nhs_number"], c1["local_patient_id"], c1["postcode"], c1["sex"]) == (
        CANARY,
        LOCAL,
        CANARIES["postcode"],
        "F",
    )
    assert c1["date_of_birth"] == dt.date.fromisoformat(CANARIES["date_of_birth"])
    assert (c1["contact_type"], c2["contact_type"], c4["contact_type"]) == (
        "face-to-face",
        "video",
        None,
    )
    assert {r["service"] for r in rows.values()} == {"mental health"}
    assert (c4["postcode"], c4["sex"], c4["nhs_number"]) == ("LS1 4AP", "U", "9434765919")
    assert c4["contact_date"] == dt.date(2026, 2, 4)  # its time of day dropped
    assert {r["provider_ods"] for r in rows.values()} == {"RV3"}
    assert all(r["given_name"] is None and r["family_name"] is None for r in rows.values())
    # The contact that did not take place stays in zone 1's own table, as landed.
    landed = {r["contact_id"]: r for r in current(mh_ws, engineer, "mhsds_care_contacts")}
    assert set(landed) == {"C1", "C2", "C3", "C4"} and landed["C3"]["attendance_status"] == "3"


def test_the_contacts_link_with_nothing_that_identifies_a_person(mh_ws, inbox, engineer):
    ingest(mh_ws, _export(inbox), engineer)
    link(mh_ws, engineer)
    key = mh_ws.keystore.get(KeyName.LINKAGE)

    def pseudonym(number: str) -> str:
        return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()

    needles = {
        **CANARIES, "lp2": "LP2", "nhs_2": "9434765919", "record": "1001",
        "service_request": "SR1", "person_id": "P1", "contact_id": "C1",
    }  # fmt: skip
    con = mh_ws.connect_linked(read_only=True)
    try:
        rows = con.execute(
            "SELECT pseudonym, provider, contact_date, service, contact_type "
            "FROM linked.community_contacts ORDER BY contact_date"
        ).fetchall()
        found = []
        for table in linked_tables(con):
            for column, *_ in con.execute(f"DESCRIBE linked.{table}").fetchall():
                for name, value in needles.items():
                    # Short ids (C1, SR1) are looked for as whole values, longer ones anywhere.
                    test = "= lower(?)" if len(value) < 8 else "LIKE '%' || lower(?) || '%'"
                    (hits,) = con.execute(
                        f'SELECT count(*) FROM linked.{table} WHERE lower("{column}"::VARCHAR) '
                        + test,
                        [value],
                    ).fetchone()
                    if hits:
                        found.append((table, column, name))
    finally:
        con.close()
    assert rows == [
        (pseudonym(CANARY), "RV3", dt.date(2026, 2, 3), "mental health", "face-to-face"),
        (pseudonym("9434765919"), "RV3", dt.date(2026, 2, 4), "mental health", None),
        (pseudonym(CANARY), "RV3", dt.date(2026, 2, 10), "mental health", "video"),
    ]
    assert found == []
    # Nor anywhere outside zone 1 and the keys: the audit log, the catalog, zone 3.
    leaks = []
    for path in Path(mh_ws.root).rglob("*"):
        relative = path.relative_to(mh_ws.root)
        if path.is_file() and relative.parts[0] not in ("landing", "keys"):
            content = path.read_bytes().lower()
            leaks += [
                (str(relative), n)
                for n, v in needles.items()
                if len(v) >= 8 and v.lower().encode() in content
            ]
    assert leaks == []


def test_a_table_whose_export_did_not_land_with_it_is_held_saying_so(mh_ws, inbox, engineer):
    outcomes = ingest(mh_ws, _export(inbox, MHS001MPI=None), engineer).outcomes
    by_table = {o.path.name.split("_")[1]: o for o in outcomes}
    assert set(by_table) == {"MHS101Referral", "MHS201CareContact"}
    assert by_table["MHS101Referral"].counts.loaded == 0
    assert by_table["MHS201CareContact"].counts.loaded == 0
    reasons = {reason for _, _, field, reason in held(mh_ws, engineer) if field == "RecordNumber"}
    assert reasons == {
        "names a MHS001MPI row, but its export's MHS001MPI file (RV3_MHS001MPI_202602) did not "
        "land in this run (a data set's tables are ingested together)"
    }
    assert current(mh_ws, engineer, "community_contacts") == []


def test_files_are_told_apart_by_the_table_their_name_carries(mh_ws, inbox, engineer):
    odd = put(inbox, "community", "RV3", "RV3_MHS999Other_202602.csv", _csv(MPI, MPI_ROWS))
    lower = put(inbox, "community", "RV3", "rv3_mhs001mpi_202602.csv", _csv(MPI, MPI_ROWS))
    swapped = put(
        inbox, "community", "RV3", "RV3_MHS101Referral_202603.csv", _csv(CONTACT, CONTACT_ROWS)
    )
    outcomes = {o.path.name: o for o in ingest(mh_ws, [odd, lower, swapped], engineer).outcomes}
    assert outcomes[odd.name].status == REFUSED
    assert "MHS001MPI, MHS101Referral, MHS201CareContact" in outcomes[odd.name].message
    # The table is recognised in any case, but the period needs the convention or a pattern.
    assert outcomes[lower.name].status == REFUSED
    assert "<ODS code>_MHS001MPI_<YYYYMM>" in outcomes[lower.name].message
    # A care contact file sent under the referral table's name: columns that table lacks.
    assert outcomes[swapped.name].status == REFUSED
    assert "CareContactID" in outcomes[swapped.name].message


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('"mhsds"', '"mhsds-care-contact"'), 'name the data set \\(layout = "mhsds"\\)'),
        (('"community"', '"admitted-care"'), "is for community sources, not admitted-care"),
    ],
    ids=["a-table", "another-kind"],
)
def test_a_source_names_the_data_set_whole_for_its_kind(example_config, change, says):
    example_config.write_text(example_config.read_text() + SOURCE.replace(*change))
    with pytest.raises(UserFacingError, match=says):
        load_config(example_config)


def test_an_mpi_without_the_identifiable_fields_is_refused_saying_so(mh_ws, inbox, engineer):
    keep = [i for i, c in enumerate(MPI) if c not in ("NHSNumber", "PersonBirthDate", "Postcode")]
    text = _csv([MPI[i] for i in keep], [[r[i] for i in keep] for r in MPI_ROWS])
    (outcome,) = ingest(mh_ws, _export(inbox, MHS101Referral=None, MHS201CareContact=None,
                                       MHS001MPI=text), engineer).outcomes  # fmt: skip
    assert outcome.status == REFUSED
    for named in ("NHSNumber", "PersonBirthDate", "Postcode", "Person_ID", "identifiable"):
        assert named in outcome.message


def test_phm_layouts_and_layout_check_on_a_care_contact_file(cli, tmp_path):
    listed = cli(["layouts", "--json"])
    assert listed.exit_code == 0, listed.output
    tables = {x["name"]: x["table"] for x in json.loads(listed.output) if x["dataset"] == "mhsds"}
    assert tables == {
        "mhsds-mpi": "MHS001MPI",
        "mhsds-referral": "MHS101Referral",
        "mhsds-care-contact": "MHS201CareContact",
    }
    shown = cli(["layouts"])
    assert 'a source names it whole (layout = "mhsds")' in shown.output
    path = tmp_path / "contacts.csv"
    path.write_text(_csv(CONTACT, CONTACT_ROWS))
    shown = cli(["layout", "check", path, "--layout", "mhsds-care-contact"])
    assert shown.exit_code == 0, shown.output
    # The file alone: its own fields' checks (its links are checked with its export).
    assert "10 received: 7 would load, 3 would be" in shown.output
    assert "v6-commissioning-41" in shown.output
    whole = cli(["layout", "check", path, "--layout", "mhsds"])
    assert whole.exit_code != 0 and "mhsds-care-contact" in whole.output


def test_a_commissioning_extract_of_two_providers_links_provider_for_provider(
    mh_ws, inbox, engineer
):
    """A commissioning extract holds every provider's rows for a commissioner: referral ids
    are each provider's own, so a contact names a referral of its own provider, and is read
    as that provider's contact."""
    mpi = [*MPI_ROWS[:2], ["LP7", "RX7", "9990001244", "01", "1980-01-01", "LS1 4AP", "1", "1",
                           "", "7001", "RX7", "P7", "56", "1510"]]  # fmt: skip
    rx7 = ["SR1", "LP7", "15F", "2026-01-11", "", "7001", "RX7", "P7", "RX7SR1"]
    referrals = [REFERRAL_ROWS[0], REFERRAL_ROWS[2], rx7]
    contacts = [
        CONTACT_ROWS[0],
        ["D1", "SR1", "2026-02-12", "", "02", "5", "7001", "RX7", "P7", "RX7SR1", "RX7D1"],
        # RX7 has no referral SR3 (RV3 has one)
        ["D2", "SR3", "2026-02-13", "", "02", "5", "7001", "RX7", "P7", "RX7SR3", "RX7D2"],
    ]
    outcomes = ingest(
        mh_ws,
        _export(
            inbox,
            MHS001MPI=_csv(MPI, mpi),
            MHS101Referral=_csv(REFERRAL, referrals),
            MHS201CareContact=_csv(CONTACT, contacts),
        ),
        engineer,
    ).outcomes
    assert [o.counts.quarantined for o in outcomes] == [0, 0, 1]
    assert [(row, field) for _, row, field, _ in held(mh_ws, engineer)] == [(3, "ServiceRequestID")]
    rows = {r["contact_id"]: r for r in current(mh_ws, engineer, "community_contacts")}
    assert {k: (r["provider_ods"], r["nhs_number"]) for k, r in rows.items()} == {
        "C1": ("RV3", CANARY),
        "D1": ("RX7", "9990001244"),
    }
