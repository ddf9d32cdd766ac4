"""Every row is checked against its table's declared schema; a row that fails is quarantined
with its file, row and field, and the rest of the file loads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from openphm.engine import connect
from openphm.landing.ingest import LOADED, ingest
from openphm.landing.read import attach_batches

from .conftest import APC, APC_HEADER, GP_A_EVENTS, GP_A_PATIENTS, GP_B_PATIENTS, put
from .helpers import current, held, ingest_entries


def test_a_row_with_a_bad_date_is_quarantined_and_the_rest_of_the_file_loads(
    workspace, inbox, engineer
):
    bad = GP_A_PATIENTS.replace("1960-03-02", "1960-13-02")
    path = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad)
    report = ingest(workspace, [path], engineer)
    (outcome,) = report.outcomes
    assert outcome.status == LOADED
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (
        3,
        2,
        1,
    )
    assert held(workspace, engineer) == [
        (path.name, 2, "date_of_birth", "is not a date in the form YYYY-MM-DD")
    ]
    assert [r["patient_ref"] for r in current(workspace, engineer, "gp_patients")] == ["P1", "P3"]


def test_canonical_values_sex_dates_and_nhs_numbers_without_spaces(workspace, inbox, engineer):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    put(inbox, "gp", "Y10002", "Y10002_patients_202610.csv", GP_B_PATIENTS)
    ingest(workspace, [inbox], engineer)
    rows = {r["patient_ref"]: r for r in current(workspace, engineer, "gp_patients")}
    assert rows["P1"]["nhs_number"] == "9434765919"
    assert rows["P1"]["date_of_birth"] == dt.date(1950, 1, 2)
    assert rows["B1"]["sex"] == "F" and rows["B2"]["sex"] == "M"
    assert rows["B2"]["date_of_birth"] == dt.date(1961, 12, 13)
    assert rows["B1"]["provider_ods"] == "Y10002" and rows["B1"]["source_kind"] == "gp"
    assert rows["B1"]["source_row"] == 1 and rows["P3"]["source_row"] == 3
    assert rows["P3"]["address_line_2"] == "Flat 2" and rows["P2"]["address_line_2"] is None


def test_secondary_care_sex_codes_map_to_m_f_u(workspace, inbox, engineer):
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC)
    ingest(workspace, [inbox], engineer)
    spells = current(workspace, engineer, "apc_spells")
    assert [s["sex"] for s in spells] == ["F", "M"]
    assert spells[0]["discharge_date"] == dt.date(2026, 1, 5)


def test_each_rule_names_its_field_and_never_the_value(workspace, inbox, engineer):
    rows = [
        # future admission, unknown admission method
        "9434765919,Ann,Smith,1950-01-02,2,LS1 4AP,S3,2027-01-01,,99,E119,,,19",
        # admitted before birth, discharged before admitted
        "9434765919,Ann,Smith,1950-01-02,2,LS1 4AP,S4,1949-01-01,1948-01-01,21,E119,,,19",
        # ICD-10 with a dot, a Read code among the secondaries, OPCS wrong shape, bad sex
        "9434765919,Ann,Smith,1950-01-02,7,LS1 4AP,S5,2026-01-01,,21,E11.9,I10;G30..,4O1,19",
        # NHS number with letters; spell id missing
        "94347A5919,Ann,Smith,1950-01-02,2,LS1 4AP,,2026-01-01,,21,E119,,,19",
    ]
    path = put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC_HEADER + "\n".join(rows))
    ingest(workspace, [path], engineer)
    problems = {(row, field): reason for _, row, field, reason in held(workspace, engineer)}
    assert problems == {
        (1, "admission_date"): "is in the future",
        (1, "admission_method"): "is not one of the codes 11, 12, 13, 21, 22, 23, 24, 25, "
        "26, 27, 28, 31, 32, 81",
        (2, "admission_date"): "is before date_of_birth",
        (2, "discharge_date"): "is before date_of_birth",
        (3, "primary_diagnosis"): "is not a code of ICD-10",
        (3, "secondary_diagnoses"): "holds something that is not a code of ICD-10",
        (3, "primary_procedure"): "is not a code of OPCS-4",
        (3, "sex"): "is not one of the codes 1, 2, 9",
        (4, "nhs_number"): "is not 10 digits (letters, punctuation or wrong length)",
        (4, "spell_id"): "is required but blank",
    }
    text = " ".join(problems.values())
    assert "94347A5919" not in text and "E11.9" not in text and "G30" not in text


def test_an_unknown_code_system_in_a_snomed_field_is_quarantined(workspace, inbox, engineer):
    events = GP_A_EVENTS + "P2,2026-10-02,C10..,,\nP2,2026-10-03,E119,,\n"
    path = put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", events)
    ingest(workspace, [path], engineer)
    assert held(workspace, engineer) == [
        (path.name, 4, "snomed_code", "is not a code of SNOMED CT"),
        (path.name, 5, "snomed_code", "is not a code of SNOMED CT"),
    ]
    assert len(current(workspace, engineer, "gp_events")) == 3


def test_dates_in_another_format_are_quarantined_not_guessed(workspace, inbox, engineer):
    # Flavour A declares YYYY-MM-DD: 02/03/1960 could be February or March, so it is held.
    bad = GP_A_PATIENTS.replace("1960-03-02", "02/03/1960")
    path = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad)
    ingest(workspace, [path], engineer)
    assert held(workspace, engineer) == [
        (path.name, 2, "date_of_birth", "is not a date in the form YYYY-MM-DD")
    ]


def test_the_audit_log_records_the_three_counts_per_file(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", GP_A_EVENTS + "P9,,,,\n")
    ingest(workspace, [path], engineer)
    (entry,) = ingest_entries(workspace)
    assert dict(entry.counts) == {"received": 4, "loaded": 3, "quarantined": 1}
    assert entry.reads == (str(path),)


def _quarantined_rows(ws, actor) -> dict[int, dict]:
    """Row number → the row as kept in quarantine (what the provider sent, field by field)."""
    con = connect()
    (alias,) = attach_batches(ws, con, actor, "landing.quarantine")
    found = con.execute(f"SELECT row, received FROM {alias}.quarantined_rows").fetchall()
    return {row: json.loads(text) for row, text in found}


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_quarantined_row_is_kept_as_received(workspace, inbox, engineer, encoding):
    """The held row keeps its spaces and bad value as sent, on DuckDB's whole-file reading
    (UTF-8) and on Arrow's chunks (other encodings) alike; the good rows are not kept there."""
    bad = GP_A_PATIENTS.replace("P2,9990001236,Bob", "P2, 9990001236 ,Bób ").replace(
        "1960-03-02", "1960-13-02"
    )
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad.encode(encoding))
    ingest(workspace, [inbox], engineer)
    kept = _quarantined_rows(workspace, engineer)
    assert list(kept) == [2]
    assert kept[2]["nhs_number"] == " 9990001236 " and kept[2]["given_name"] == "Bób "
    assert kept[2]["date_of_birth"] == "1960-13-02" and kept[2]["ethnicity_code"] == ""


def test_an_exact_repeat_of_an_earlier_row_is_quarantined_and_a_changed_one_is_not(
    workspace, inbox, engineer
):
    """An export that wrote a spell twice would count it twice: the second copy is held,
    named by its row, and kept as sent. A spell id sent again with other values is not a
    repeat (the provider's own record, corrected within the file), so both rows load."""
    rows = APC.splitlines(keepends=True)
    changed = rows[2].replace(",11,", ",12,")
    path = put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC + rows[1] + changed)
    (outcome,) = ingest(workspace, [path], engineer).outcomes
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (4, 3, 1)
    assert held(workspace, engineer) == [
        (path.name, 3, "(whole row)", "repeats an earlier row of the file exactly")
    ]
    landed = current(workspace, engineer, "apc_spells")
    assert [(r["spell_id"], r["admission_method"]) for r in landed] == [
        ("S1", "21"),
        ("S2", "11"),
        ("S2", "12"),
    ]
    assert list(_quarantined_rows(workspace, engineer)) == [3]


def _with_local_ids(text: str, ids: list[str]) -> str:
    """The APC file with `local_patient_id` after each spell's own id."""
    header, *rows = text.splitlines()
    out = []
    for line, local in zip([header, *rows], ["local_patient_id", *ids], strict=True):
        cells = line.split(",")
        at = cells.index("spell_id") + 1 if line is header else 7
        out.append(",".join([*cells[:at], local, *cells[at:]]))
    return "\n".join(out) + "\n"


def test_a_trust_s_local_patient_id_is_optional_and_lands_with_its_spell(
    workspace, inbox, engineer
):
    """The one optional column: a file with it lands it, one without it (the same table, a
    flavour tied on every other column) lands its rows with the column blank, not refused."""
    with_ids = _with_local_ids(APC, ["K0412345", ""])
    put(inbox, "admitted-care", "RX1", "RX1_apc_202609.csv", with_ids)
    put(inbox, "admitted-care", "RX1", "RX1_apc_202610.csv", APC.replace(",S", ",T"))
    report = ingest(workspace, [inbox], engineer)
    assert [o.status for o in report.outcomes] == [LOADED, LOADED]
    spells = current(workspace, engineer, "apc_spells")
    assert sorted((s["spell_id"], s["local_patient_id"]) for s in spells) == [
        ("S1", "K0412345"),
        ("S2", None),
        ("T1", None),
        ("T2", None),
    ]


def test_a_header_tied_between_flavours_is_read_as_the_one_it_matches_exactly():
    """Flavours differing by an optional column tie on a header without it: the exact match
    wins whichever flavour is declared first, and a header missing another column too is
    refused naming that column only."""
    from pathlib import Path

    from openphm.landing import readers
    from openphm.landing.adapters import WITHOUT_LOCAL_ID, Table, table_for
    from openphm.landing.files import Extract, Refused
    from openphm.programme.config import SourceKind

    apc = table_for(SourceKind.ADMITTED_CARE, "apc")
    header = APC_HEADER.strip().split(",")
    both = (apc, Table(apc.token, apc.canonical, dict(reversed(apc.flavours.items())),
                       record_id=apc.record_id))  # fmt: skip
    for table in both:
        extract = Extract(Path("RX1_apc_202610.csv"), SourceKind.ADMITTED_CARE, "RX1", table,
                          "202610", 1, "csv")  # fmt: skip
        assert readers._flavour(extract, header)[0] == WITHOUT_LOCAL_ID
        with_id = [*header[:7], "local_patient_id", *header[7:]]
        assert readers._flavour(extract, with_id)[0] == "standard"
        with pytest.raises(Refused) as refused:
            readers._flavour(extract, [h for h in header if h != "primary_procedure"])
        assert "missing column(s) primary_procedure." in str(refused.value)  # that one only
