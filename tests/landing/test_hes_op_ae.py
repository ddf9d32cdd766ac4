"""National hospital data in HES layout, outpatients and A&E (the built-in `hes-op` and
`hes-ae` layouts): NHS England's artificial HES OP and A&E samples (tests/landing/data/, in
their real 157- and 165-column layouts) with the identifiable flow's NEWNHSNO, DOB and HOMEADD
added, landed with every row loaded or quarantined and read as the contract's op_appointments
and ec_attendances, then linked; and a file written by hand from the specification, bad rows
included, for each (docs/extract-formats.md, "HES OP" and "HES A&E")."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
from pathlib import Path

import pandas as pd
import pytest

from openphm.keystore import KeyName
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .helpers import current, held
from .hes import people

DATA = Path(__file__).parent / "data"
OP_SAMPLE = DATA / "artificial_hes_op_0304.csv"
AE_SAMPLE = DATA / "artificial_hes_ae_0708.csv"

SOURCES = """
[[sources]]
kind = "outpatients"
provider = "X26"
name = "NHS England (HES OP)"
layout = "hes-op"
period = "artificial_hes_op_(?P<fyear>[0-9]{4})"

[[sources]]
kind = "emergency-care"
provider = "X26"
name = "NHS England (HES A&E)"
layout = "hes-ae"
period = "artificial_hes_ae_(?P<fyear>[0-9]{4})"
"""

SPECIAL_DATES = ("1800-01-01", "1801-01-01")  # HES: null, invalid date submitted


@pytest.fixture
def hes_ws(tmp_path, example_config, engineer):
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text + SOURCES)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


def _born(date: str, age: str) -> str | None:
    """A date of birth that gives `age` (years, or HES's 7001-7007 for under one year) on
    `date`; None where the row says nothing usable."""
    if date in SPECIAL_DATES or not date or not age:
        return None
    day = dt.date.fromisoformat(date)
    years = float(age)
    if years >= 7000:
        return (day - dt.timedelta(days=60)).isoformat()
    return day.replace(year=day.year - int(years) - 1, day=1).isoformat()


def identifiable(sample: Path, date: str, age: str) -> str:
    """The sample with NEWNHSNO, DOB and HOMEADD appended: each PSEUDO_HESID one person, born
    on or before every date of their rows (the artificial values, made field by field, give
    one person ages that disagree: the earliest birth they imply is taken)."""
    rows = list(csv.reader(io.StringIO(sample.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    at = {name: i for i, name in enumerate(header)}
    who = people([r[at["PSEUDO_HESID"]] for r in body])
    born: dict[str, str] = {}
    for row in body:
        hesid = row[at["PSEUDO_HESID"]]
        when = _born(row[at[date]].strip(), row[at[age]].strip())
        if when:
            born[hesid] = min(born.get(hesid, when), when)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, "NEWNHSNO", "DOB", "HOMEADD"])
    for row in body:
        hesid = row[at["PSEUDO_HESID"]]
        number, postcode = who[hesid]
        writer.writerow([*row, number, born.get(hesid, "1950-01-01"), postcode])
    return out.getvalue()


def _frame(text: str) -> pd.DataFrame:
    """The file as text, every value trimmed of HES's padding (spaces and tabs)."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return frame.apply(lambda column: column.str.strip(" \t"))


def _not(column: pd.Series, allowed: set[str] = frozenset(), shape: str | None = None):
    """Rows whose value is neither blank, nor one of `allowed`, nor of `shape`."""
    ok = column.eq("") | column.isin(allowed)
    if shape:
        ok |= column.str.fullmatch(shape)
    return ~ok


def _practice_or_provider_wrong(frame: pd.DataFrame) -> pd.Series:
    return _not(frame["GPPRAC"], {"&", "V81997", "V81998", "V81999"}, "[A-Z][0-9]{5}") | ~frame[
        "PROCODE3"
    ].str.fullmatch("[A-Z0-9]{3}")


def _linked_counts(ws, table: str, where: str = "TRUE") -> dict[str, int]:
    con = ws.connect_linked()
    try:
        return dict(
            con.execute(
                f"SELECT pseudonym, count(*) FROM linked.{table} WHERE {where} GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()


def _expected(ws, kept: pd.DataFrame) -> dict[str, int]:
    key = ws.keystore.get(KeyName.LINKAGE)
    return {
        hmac.new(key, number.encode(), hashlib.sha256).hexdigest(): n
        for number, n in kept.groupby("NEWNHSNO").size().items()
    }


# ----- the artificial samples ------------------------------------------------------------------


def test_the_artificial_hes_op_sample_lands_and_links_with_no_row_lost(
    hes_ws, example_config, engineer
):
    name = "artificial_hes_op_0304.csv"
    text = identifiable(OP_SAMPLE, "APPTDATE", "APPTAGE")
    path = put(example_config.parent / "extracts", "outpatients", "X26", name, text)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert "(layout hes-op identifiable-160)" in outcome.message
    frame = _frame(text)
    c = outcome.counts
    records = sum(1 for _ in OP_SAMPLE.open(encoding="utf-8")) - 1  # no line breaks in values
    assert c.received == records == len(frame) == 400
    assert c.loaded + c.quarantined == c.received

    # Rows the specification's codes cannot take, worked out here apart from the layout.
    bad = (
        frame["APPTDATE"].isin(["", *SPECIAL_DATES])
        | ~frame["ATTENDED"].isin(["2", "3", "4", "5", "6", "7"])
        | _not(frame["FIRSTATT"], {"1", "2", "3", "4", "5", "9"})
        | _not(frame["TRETSPEF"], {"&"}, "[0-9]{3}")
        | _not(frame["SEX"], {"0", "1", "2", "9"})
        | _practice_or_provider_wrong(frame)
    )
    problems = held(hes_ws, engineer)
    assert {row for _, row, _, _ in problems} == {i + 1 for i in frame.index[bad]}
    assert c.quarantined == int(bad.sum()) == 0  # the sample's codes are all HES's
    assert all(file == name for file, _, _, _ in problems)

    # Read as the contract's appointments: HES's codes translated, its special values blank.
    kept = frame[~bad].set_index("ATTENDKEY")
    rows = pd.DataFrame(current(hes_ws, engineer, "op_appointments")).set_index("appointment_id")
    assert len(rows) == len(kept) and set(rows.index) == set(kept.index)
    rows = rows.loc[kept.index]
    assert (rows["provider_ods"] == kept["PROCODE3"]).all()
    assert (rows["appointment_date"].astype(str) == kept["APPTDATE"]).all()
    first = kept["FIRSTATT"].map({"1": "1", "3": "1", "2": "2", "4": "2"})
    assert rows["first_attendance"].fillna("-").eq(first.fillna("-")).all()
    assert (kept["FIRSTATT"] == "9").sum() > 0  # the sample has HES's "not known"
    assert (rows["attendance_status"] == kept["ATTENDED"]).all()
    unknown = kept["TRETSPEF"] == "&"
    assert unknown.sum() > 0 and rows.loc[unknown, "treatment_function_code"].isna().all()
    assert (rows.loc[~unknown, "treatment_function_code"] == kept.loc[~unknown, "TRETSPEF"]).all()
    assert (rows["nhs_number"] == kept["NEWNHSNO"]).all()
    assert rows["given_name"].isna().all()

    link(hes_ws, engineer)
    kept = kept.reset_index()
    assert _linked_counts(hes_ws, "op_appointments") == _expected(hes_ws, kept)
    attended = kept[kept["ATTENDED"].isin(["5", "6"])]
    assert _linked_counts(hes_ws, "op_appointments", "attended") == _expected(hes_ws, attended)
    firsts = kept[kept["FIRSTATT"].isin(["1", "3"])]
    assert _linked_counts(hes_ws, "op_appointments", "first_attendance") == _expected(
        hes_ws, firsts
    )


def test_the_artificial_hes_ae_sample_lands_and_links_with_no_row_lost(
    hes_ws, example_config, engineer
):
    name = "artificial_hes_ae_0708.csv"
    text = identifiable(AE_SAMPLE, "ARRIVALDATE", "ARRIVALAGE")
    path = put(example_config.parent / "extracts", "emergency-care", "X26", name, text)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert "(layout hes-ae identifiable-168)" in outcome.message
    frame = _frame(text)
    c = outcome.counts
    records = sum(1 for _ in AE_SAMPLE.open(encoding="utf-8")) - 1
    assert c.received == records == len(frame) == 400
    assert c.loaded + c.quarantined == c.received

    bad = (
        frame["ARRIVALDATE"].isin(["", *SPECIAL_DATES])
        | _not(frame["AEDEPTTYPE"], {"01", "02", "03", "04", "99"})
        | _not(frame["DIAG3_01"], shape="[0-9]{2}[0-9A-Z]?|[A-Z][0-9][0-9A-Z]?")
        | _not(frame["AEATTENDDISP"], {"99"}, "0[1-7]|1[0-4]")
        | _not(frame["SEX"], {"0", "1", "2", "9"})
        | _practice_or_provider_wrong(frame)
    )
    problems = held(hes_ws, engineer)
    assert {row for _, row, _, _ in problems} == {i + 1 for i in frame.index[bad]}
    assert c.quarantined == int(bad.sum()) == 1
    assert all(file == name for file, _, _, _ in problems)
    # The artificial generator made some diagnoses of no code's shape (a lone `8`): held.
    assert {f for _, _, f, _ in problems} == {"DIAG3_01"}

    kept = frame[~bad].set_index("AEKEY")
    rows = pd.DataFrame(current(hes_ws, engineer, "ec_attendances")).set_index("attendance_id")
    assert len(rows) == len(kept) and set(rows.index) == set(kept.index)
    rows = rows.loc[kept.index]
    assert (rows["provider_ods"] == kept["PROCODE3"]).all()
    assert (rows["arrival_date"].astype(str) == kept["ARRIVALDATE"]).all()
    assert (kept["AEDEPTTYPE"] == "99").all() and rows["department_type"].isna().all()
    disposal = kept["AEATTENDDISP"].where(kept["AEATTENDDISP"] != "99")
    assert (
        rows["discharge_destination"].fillna("-").eq(disposal.replace("", None).fillna("-")).all()
    )
    assert rows["diagnosis"].fillna("").eq(kept["DIAG3_01"]).all()
    assert rows["chief_complaint"].isna().all()  # HES A&E has none

    link(hes_ws, engineer)
    assert _linked_counts(hes_ws, "ec_attendances") == _expected(hes_ws, kept.reset_index())


@pytest.mark.parametrize(
    ("sample", "kind", "missing"),
    [(OP_SAMPLE, "outpatients", "PSEUDO_HESID"), (AE_SAMPLE, "emergency-care", "PSEUDO_HESID")],
    ids=["op", "ae"],
)
def test_a_pseudonymised_file_is_refused_saying_what_is_missing(
    hes_ws, example_config, engineer, sample, kind, missing
):
    path = put(example_config.parent / "extracts", kind, "X26", sample.name, sample.read_bytes())
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED
    for named in ("NEWNHSNO", "DOB", "HOMEADD", missing, "identifiable"):
        assert named in outcome.message


# ----- files written by hand from the specification --------------------------------------------

OP_HEADER = [
    "ATTENDKEY", "NEWNHSNO", "DOB", "SEX", "HOMEADD", "PROCODE3", "APPTDATE", "ATTENDED",
    "FIRSTATT", "TRETSPEF", "MAINSPEF", "GPPRAC", "PSEUDO_HESID",
]  # fmt: skip
OP_ROWS = [
    # a first appointment by telephone (3), seen on time
    ["A1", "9434765919", "1950-01-02", "2", "LS1 4AP", "RX1", "2026-01-05", "5", "3", "110",
     "110", "V81999", "h1"],
    # a follow-up the provider cancelled (4), padded as HES pads, treatment function not known
    ["A2", "9434765919", "1950-01-02", "2", "LS1 4AP", "RX1", "2026-02-05 00:00:00", "4  ",
     "2\t", "&\t ", "110", "&", "h1"],
    # an appointment in the future: 0 is not applicable, held saying so
    ["A3", "9990001236", "1960-03-02", "1", "LS1 4AP", "RX1", "2026-03-05", "0", "1", "300",
     "300", "Y10001", "h2"],
    # an invalid date submitted, and a first-attendance code HES does not have
    ["A4", "9990001236", "1960-03-02", "1", "LS1 4AP", "RX1", "1801-01-01", "3", "7", "300",
     "300", "Y10001", "h2"],
    # did not attend; a clock-stop event (5) is neither first nor follow-up
    ["A5", "9990001244", "1970-07-07", "0", "LS1 4AP", "RX1", "2026-01-10", "3", "5", "320",
     "320", "Y10001", "h3"],
]  # fmt: skip

AE_HEADER = [
    "AEKEY", "NEWNHSNO", "DOB", "SEX", "HOMEADD", "PROCODE3", "ARRIVALDATE", "AEDEPTTYPE",
    "AEATTENDDISP", "DIAG3_01", "DIAGSCHEME", "GPPRAC", "PSEUDO_HESID",
]  # fmt: skip
AE_ROWS = [
    # a type 1 department; diagnosis 38 (a 2-digit A&E condition), admitted
    ["E1", "9434765919", "1950-01-02", "2", "LS1 4AP", "RX1", "2026-01-05", "01", "01", "38",
     "01", "V81999", "h1"],
    # a walk-in centre; a condition with its sub-analysis (053), discharged with GP follow-up
    ["E2", "9990001236", "1960-03-02", "1", "LS1 4AP", "RX1", "2026-01-06", "04", "02", "053",
     "01", "Y10001", "h2"],
    # department type and disposal not known (99)
    ["E3", "9990001244", "1970-07-07", "9", "LS1 4AP", "RX1", "2026-01-07", "99", "99", "",
     "", "&", "h3"],
    # a department type HES has no code for, a disposal code it has none for, arrived before
    # birth
    ["E4", "9990001244", "1970-07-07", "9", "LS1 4AP", "RX1", "1969-01-07", "05", "08", "38",
     "01", "Y10001", "h3"],
]  # fmt: skip


def _file(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


def test_an_outpatient_file_written_from_the_specification(hes_ws, example_config, engineer):
    name = "X26_hes-op_202603.csv"
    data = _file(OP_HEADER, OP_ROWS, "|").encode("utf-8-sig")
    path = put(example_config.parent / "extracts", "outpatients", "X26", name, data)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (5, 3, 2)
    assert held(hes_ws, engineer) == [
        (name, 3, "ATTENDED",
         "is 0, an appointment in the future (not applicable): not an appointment that was due"),
        (name, 4, "APPTDATE", "is 1801-01-01, which HES uses for an invalid date submitted"),
        (name, 4, "FIRSTATT", "is not one of the codes 1, 2, 3, 4 (or 5, 9, read as blank)"),
    ]  # fmt: skip
    rows = {r["appointment_id"]: r for r in current(hes_ws, engineer, "op_appointments")}
    assert set(rows) == {"A1", "A2", "A5"}
    assert rows["A1"]["first_attendance"] == "1" and rows["A1"]["attendance_status"] == "5"
    assert rows["A2"]["first_attendance"] == "2" and rows["A2"]["attendance_status"] == "4"
    assert rows["A2"]["treatment_function_code"] is None
    assert rows["A2"]["appointment_date"].isoformat() == "2026-02-05"  # its time dropped
    assert rows["A5"]["first_attendance"] is None and rows["A5"]["sex"] == "U"
    assert rows["A1"]["provider_ods"] == "RX1" and rows["A1"]["treatment_function_code"] == "110"
    episodes = {r["appointment_id"]: r for r in current(hes_ws, engineer, "hes_op_appointments")}
    assert episodes["A1"]["practice"] is None and episodes["A2"]["practice"] is None

    link(hes_ws, engineer)
    con = hes_ws.connect_linked()
    try:
        found = con.execute(
            "SELECT appointment_date, first_attendance, attended FROM linked.op_appointments "
            "ORDER BY appointment_date"
        ).fetchall()
    finally:
        con.close()
    assert [(d.isoformat(), f, a) for d, f, a in found] == [
        ("2026-01-05", True, True), ("2026-01-10", None, False), ("2026-02-05", False, False)
    ]  # fmt: skip


def test_an_ae_file_written_from_the_specification(hes_ws, example_config, engineer):
    name = "X26_hes-ae_202601.csv"
    data = _file(AE_HEADER, AE_ROWS, "\t").encode("cp1252")
    path = put(example_config.parent / "extracts", "emergency-care", "X26", name, data)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (4, 3, 1)
    problems = held(hes_ws, engineer)
    assert [(f, r, field) for f, r, field, _ in problems] == [
        (name, 4, "AEATTENDDISP"), (name, 4, "AEDEPTTYPE"), (name, 4, "ARRIVALDATE")
    ]  # fmt: skip
    assert problems[2][3] == "is before DOB"  # the column the file has, not the contract's name
    rows = {r["attendance_id"]: r for r in current(hes_ws, engineer, "ec_attendances")}
    assert set(rows) == {"E1", "E2", "E3"}
    assert (rows["E1"]["department_type"], rows["E1"]["diagnosis"]) == ("01", "38")
    assert rows["E1"]["discharge_destination"] == "01"
    assert (rows["E2"]["department_type"], rows["E2"]["diagnosis"]) == ("04", "053")
    assert rows["E3"]["department_type"] is None and rows["E3"]["discharge_destination"] is None
    assert rows["E3"]["diagnosis"] is None and rows["E3"]["sex"] == "U"


def test_phm_layout_check_on_op_and_ae_files(cli, tmp_path):
    listed = cli(["layouts", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"hes-op"' in listed.output and '"hes-ae"' in listed.output
    op = tmp_path / "appointments.csv"
    op.write_text(_file(OP_HEADER, OP_ROWS, "|"))
    shown = cli(["layout", "check", op, "--layout", "hes-op"])
    assert shown.exit_code == 0, shown.output
    for says in ("identifiable-160", "5 received: 3 would load, 2 would be", "ATTENDED"):
        assert says in shown.output
    assert "9434765919" not in shown.output and "LS1 4AP" not in shown.output
    ae = tmp_path / "attendances.csv"
    ae.write_text(_file(AE_HEADER, AE_ROWS))
    shown = cli(["layout", "check", ae, "--layout", "hes-ae"])
    assert shown.exit_code == 0, shown.output
    assert "4 received: 3 would load, 1 would be" in shown.output
    refused = cli(["layout", "check", AE_SAMPLE, "--layout", "hes-ae"])
    assert refused.exit_code != 0
    assert "NEWNHSNO" in refused.output and "artificial-pilot-165" in refused.output
