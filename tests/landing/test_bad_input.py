"""Bad input: each file gets a clear error or quarantine reason naming the file, row and field,
and nothing is lost."""

from __future__ import annotations

import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openphm.engine import connect
from openphm.landing import catalog, readers
from openphm.landing.files import PathNotFound
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.landing.read import current_tables

from .conftest import APC, GP_A_PATIENTS, GP_B_PATIENTS, put
from .helpers import current, held

NAME = "Y10001_patients_202610.csv"


def _one(ws, path, engineer):
    (outcome,) = ingest(ws, [path], engineer).outcomes
    return outcome


def test_utf8_with_a_byte_order_mark_loads_every_row(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", NAME, b"\xef\xbb\xbf" + GP_A_PATIENTS.encode())
    assert _one(workspace, path, engineer).counts.loaded == 3


def test_windows_1252_is_decoded_and_loses_no_row(workspace, inbox, engineer):
    text = GP_A_PATIENTS.replace("Ann,Smith", "Zoë,Ó Briain")
    path = put(inbox, "gp", "Y10001", NAME, text.encode("cp1252"))
    outcome = _one(workspace, path, engineer)
    assert outcome.counts.loaded == 3 and "cp1252" in outcome.message
    names = {r["given_name"] for r in current(workspace, engineer, "gp_patients")}
    assert "Zoë" in names


def test_windows_1252_found_only_beyond_the_sniffed_part_is_reread(
    workspace, inbox, engineer, monkeypatch
):
    monkeypatch.setattr(readers, "_SNIFF_BYTES", 300)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256)
    rows = "".join(f"Q{n},,A,B,U,1980-01-01,x,,y,LS1 4AP,\n" for n in range(50))
    text = GP_A_PATIENTS + rows + "Z1,,Zoë,B,U,1980-01-01,x,,y,LS1 4AP,\n"
    path = put(inbox, "gp", "Y10001", NAME, text.encode("cp1252"))
    outcome = _one(workspace, path, engineer)
    assert (outcome.counts.received, outcome.counts.loaded) == (54, 54)


def test_another_delimiter_is_recognised_from_the_header(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", NAME, GP_A_PATIENTS.replace(",", ";"))
    outcome = _one(workspace, path, engineer)
    assert outcome.counts.loaded == 3 and "separated by ';'" in outcome.message


def test_a_missing_header_is_refused_without_quoting_the_first_row(workspace, inbox, engineer):
    body = "\n".join(GP_A_PATIENTS.splitlines()[1:]) + "\n"
    path = put(inbox, "gp", "Y10001", NAME, body)
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and str(path) in outcome.message
    assert "row 1 is not a header" in outcome.message and "Smith" not in outcome.message


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda h: h.replace(",ethnicity_code", ""), "missing column(s) ethnicity_code"),
        (lambda h: h + ",religion", "the contract does not list: religion"),
    ],
)
def test_extra_or_missing_columns_refuse_the_file_naming_them(
    workspace, inbox, engineer, change, says
):
    header, *rows = GP_A_PATIENTS.splitlines()
    path = put(inbox, "gp", "Y10001", NAME, "\n".join([change(header), *rows]) + "\n")
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and says in outcome.message
    assert current(workspace, engineer, "gp_patients") == []


def test_an_empty_file_is_refused(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", NAME, b"")
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and "is empty" in outcome.message


def test_a_header_only_file_loads_no_rows(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", NAME, GP_A_PATIENTS.splitlines()[0] + "\n")
    outcome = _one(workspace, path, engineer)
    assert outcome.status == LOADED and outcome.counts.received == 0


@pytest.mark.parametrize("cut", ["P4,9990001260,Dan,Gr", 'P4,9990001260,"Dan,Gr'])
def test_a_truncated_last_line_is_quarantined_and_the_rest_loads(workspace, inbox, engineer, cut):
    path = put(inbox, "gp", "Y10001", NAME, GP_A_PATIENTS + cut)
    outcome = _one(workspace, path, engineer)
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (
        4,
        3,
        1,
    )
    ((file, row, field, reason),) = held(workspace, engineer)
    assert (file, row, field) == (NAME, 4, "(whole row)") and "the header has 11" in reason


def test_an_nhs_number_with_spaces_loads_and_one_with_letters_is_held(workspace, inbox, engineer):
    text = GP_A_PATIENTS.replace("9990001236", "99900O1236")  # a letter O for a zero
    path = put(inbox, "gp", "Y10001", NAME, text)
    _one(workspace, path, engineer)
    assert held(workspace, engineer) == [
        (NAME, 2, "nhs_number", "is not 10 digits (letters, punctuation or wrong length)")
    ]
    assert current(workspace, engineer, "gp_patients")[0]["nhs_number"] == "9434765919"


def test_a_zip_file_is_refused_with_a_clear_message(workspace, inbox, engineer):
    path = inbox / "gp" / "Y10001" / "extracts.zip"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(NAME, GP_A_PATIENTS)
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and "unpack it" in outcome.message


def test_a_path_that_does_not_exist_is_an_error_naming_it(workspace, inbox, engineer):
    with pytest.raises(PathNotFound, match="no-such-folder"):
        ingest(workspace, [inbox / "no-such-folder"], engineer)


def test_a_misnamed_file_is_refused(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", "patients october.csv", GP_A_PATIENTS)
    assert "does not follow" in _one(workspace, path, engineer).message


def test_a_folder_and_file_name_that_disagree_are_refused(workspace, inbox, engineer):
    path = put(inbox, "gp", "Y10001", "Y10002_patients_202610.csv", GP_A_PATIENTS)
    assert "in the folder of Y10001" in _one(workspace, path, engineer).message


def test_parquet_extracts_load_like_csv(workspace, inbox, engineer):
    header, *rows = APC.splitlines()
    columns = list(zip(*(r.split(",") for r in rows), strict=True))
    table = pa.table({n: list(c) for n, c in zip(header.split(","), columns, strict=True)})
    path = inbox / "admitted-care" / "RX1" / "RX1_apc_202610.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    assert _one(workspace, path, engineer).counts.loaded == 2


@pytest.mark.parametrize("reader", ["duckdb", "arrow"])
def test_both_csv_readers_keep_quoted_commas_and_line_breaks_in_their_field_and_rows_numbered(
    workspace, inbox, engineer, monkeypatch, reader
):
    # A well-formed UTF-8 file is read whole by DuckDB; any other by Arrow. Both must agree.
    if reader == "duckdb":
        monkeypatch.setattr(readers.Reader, "_csv", lambda self: pytest.fail("read by Arrow"))
    else:
        monkeypatch.setattr(readers.Reader, "whole_file_sql", lambda self: None)
    text = GP_A_PATIENTS.replace("1 High St", '"1, High St\nLeeds"')
    text = text.replace("1960-03-02", "1960-13-02")
    path = put(inbox, "gp", "Y10001", NAME, text)
    outcome = _one(workspace, path, engineer)
    assert (outcome.counts.loaded, outcome.counts.quarantined) == (2, 1)
    rows = {r["patient_ref"]: r for r in current(workspace, engineer, "gp_patients")}
    assert rows["P1"]["address_line_1"] == "1, High St\nLeeds"
    assert (rows["P1"]["source_row"], rows["P3"]["source_row"]) == (1, 3)
    assert rows["P3"]["address_line_2"] == "Flat 2" and rows["P1"]["address_line_2"] is None
    assert held(workspace, engineer) == [
        (NAME, 2, "date_of_birth", "is not a date in the form YYYY-MM-DD")
    ]


def test_a_large_file_is_streamed_in_blocks_and_rows_keep_their_numbers(
    workspace, inbox, engineer, monkeypatch
):
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1 << 16)  # many blocks from a few MB
    good = "P1,2026-09-01,163030003,140,mmHg\n"
    lines = [good] * 200_000
    lines[123_456] = "P1,2026-02-30,163030003,140,mmHg\n"
    lines[150_000] = "P1,2026-09-01\n"
    text = "patient_ref,event_date,snomed_code,value,unit\n" + "".join(lines)
    path = put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", text)
    seen = []
    real = readers.Reader._csv

    def counting(self):
        for chunk in real(self):
            seen.append(chunk.num_rows)
            yield chunk

    monkeypatch.setattr(readers.Reader, "_csv", counting)
    outcome = _one(workspace, path, engineer)
    assert len(seen) > 50 and max(seen) < 10_000
    assert (outcome.counts.received, outcome.counts.loaded) == (200_000, 199_998)
    assert [(r, f) for _, r, f, _ in held(workspace, engineer)] == [
        (123_457, "event_date"),
        (150_001, "(whole row)"),
    ]


def test_rows_read_on_every_core_keep_their_file_numbers(workspace, inbox, engineer):
    """DuckDB reads a large CSV file on several threads at once; each row must still be
    numbered by its line in the file, in the landed rows and in quarantine."""
    rows = 1_200_000  # about 45 MB: many of DuckDB's read buffers
    bad = {345_678, 1_111_110}
    text = "patient_ref,event_date,snomed_code,value,unit\n" + "".join(
        f"P{i},{'2026-02-30' if i in bad else '2026-09-01'},163030003,140,mmHg\n"
        for i in range(rows)
    )
    path = put(inbox, "gp", "Y10001", "Y10001_events_202610.csv", text)
    outcome = _one(workspace, path, engineer)
    assert (outcome.counts.received, outcome.counts.loaded) == (rows, rows - 2)
    assert held(workspace, engineer) == [
        ("Y10001_events_202610.csv", i + 1, "event_date", "is not a date in the form YYYY-MM-DD")
        for i in sorted(bad)
    ]
    con = connect()
    events = current_tables(workspace, con, engineer)["gp_events"]
    misnumbered = con.execute(
        f"SELECT count(*) FROM {events} "
        "WHERE source_row <> CAST(substr(patient_ref, 2) AS BIGINT) + 1"
    ).fetchone()[0]
    assert misnumbered == 0


@pytest.mark.slow
def test_a_2gb_file_is_loaded_in_bounded_memory(workspace, inbox, engineer):
    import resource

    line = "P1,2026-09-01,163030003,140.5,mmHg\n"
    path = inbox / "gp" / "Y10001" / "Y10001_events_202610.csv"
    path.parent.mkdir(parents=True)
    rows = (2 << 30) // len(line) + 1
    with open(path, "w") as handle:
        handle.write("patient_ref,event_date,snomed_code,value,unit\n")
        block = line * 100_000
        for _ in range(rows // 100_000 + 1):
            handle.write(block)
    assert path.stat().st_size > 2 << 30
    outcome = _one(workspace, path, engineer)
    assert outcome.counts.loaded == outcome.counts.received > 50_000_000
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_kib < 6 * 1024 * 1024


def test_a_file_that_changes_while_it_is_loaded_is_refused_whole(
    workspace, inbox, engineer, monkeypatch
):
    """A provider still writing the file (or a copy into the inbox not yet finished): what
    was read is not the file the catalog would fingerprint, so nothing of it lands; the
    other files do, and the same command run again once it is complete lands it."""
    import openphm.landing.ingest as ingest_module

    growing = put(inbox, "gp", "Y10001", NAME, GP_A_PATIENTS)
    other = put(inbox, "gp", "Y10002", "Y10002_patients_202610.csv", GP_B_PATIENTS)
    real = ingest_module.load_extract

    def load_then_grow(con, alias, reader, submission_id, today):
        counts = real(con, alias, reader, submission_id, today)
        if reader.extract.path == growing:
            with growing.open("a", encoding="utf-8") as text:
                text.write("P4,,Dan,Green,M,1970-01-01,4 High St,,Leeds,LS1 4AP,\n")
        return counts

    monkeypatch.setattr(ingest_module, "load_extract", load_then_grow)
    first = {o.path: o for o in ingest(workspace, [inbox], engineer).outcomes}
    assert first[growing].status == REFUSED and "changed while it was being loaded" in (
        first[growing].message
    )
    assert first[other].status == LOADED
    assert {s.file for s in catalog.load(workspace.zone("landing")).submissions} == {str(other)}
    assert {r["provider_ods"] for r in current(workspace, engineer, "gp_patients")} == {"Y10002"}
    monkeypatch.setattr(ingest_module, "load_extract", real)
    again = {o.path: o for o in ingest(workspace, [inbox], engineer).outcomes}
    assert again[growing].status == LOADED and again[growing].counts.loaded == 4
