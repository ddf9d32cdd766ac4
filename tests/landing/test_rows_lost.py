"""The bad-input classes that lost rows or crashed (issue 21, "Rows lost today"): each file's
received rows equal the records it holds, counted apart from the CSV reader; every path is a
literal path; nothing is cast leniently; no value from a file or path is printed as markup."""

from __future__ import annotations

import pytest

from openphm.landing.ingest import LOADED, REFUSED, ingest

from .conftest import GP_A_EVENTS, GP_A_PATIENTS, put
from .helpers import current, held

NAME = "Y10001_patients_202610.csv"
EVENTS = "Y10001_events_202610.csv"
EVENTS_HEADER = "patient_ref,event_date,snomed_code,value,unit\n"


def _one(ws, path, engineer):
    (outcome,) = ingest(ws, [path], engineer).outcomes
    return outcome


def _reconciled(outcome):
    c = outcome.counts
    assert c.received == c.loaded + c.quarantined, c
    return c


def _events(n: int) -> list[str]:
    return [f"P{i},2026-09-01,163030003,{i},mmHg\n" for i in range(1, n + 1)]


# 1. An unbalanced quote in the middle of a file -------------------------------------------


@pytest.mark.parametrize("later_quote", [False, True])
def test_an_unbalanced_quote_mid_file_counts_every_record(workspace, inbox, engineer, later_quote):
    lines = _events(200)
    lines[9] = 'P10,2026-09-01,"163030003,10,mmHg\n'  # the quote is never closed
    if later_quote:  # ... or closed by a stray quote much later, swallowing the rows between
        lines[150] = 'P151,2026-09-01,163030003,151,mm"Hg\n'
    path = put(inbox, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(lines))
    outcome = _one(workspace, path, engineer)
    assert outcome.status == LOADED, outcome.message
    c = _reconciled(outcome)
    assert c.received == 200
    assert c.loaded == 9 + (49 if later_quote else 0)  # the rows outside the quote's span
    problems = held(workspace, engineer)
    assert {row for _, row, _, _ in problems} == set(range(10, 201 if not later_quote else 152))
    assert all(field == "(whole row)" for _, _, field, _ in problems)
    assert any("quote" in reason for _, _, _, reason in problems)
    if later_quote:
        assert c.quarantined == 142  # rows 10-151, the quote's span, line by line
    landed = current(workspace, engineer, "gp_events")
    assert all(r["source_row"] == int(r["patient_ref"][1:]) for r in landed)  # numbered by line


def test_quoted_line_breaks_in_a_well_formed_file_still_load(workspace, inbox, engineer):
    text = GP_A_PATIENTS.replace("1 High St", '"1, High St\nLeeds"')
    outcome = _one(workspace, put(inbox, "gp", "Y10001", NAME, text), engineer)
    assert _reconciled(outcome) == outcome.counts and outcome.counts.loaded == 3


# 2. Paths are literal, never patterns -------------------------------------------------------


@pytest.mark.parametrize("folder", ["inbox[1]", "inbox*", "inbox?"])
def test_a_folder_with_glob_characters_reads_its_own_file(workspace, tmp_path, engineer, folder):
    decoy = tmp_path / "inbox1"  # what `inbox[1]`, `inbox*` or `inbox?` would match
    put(decoy, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(_events(7)))
    own = put(tmp_path / folder, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(_events(200)))
    outcome = _one(workspace, own, engineer)
    c = _reconciled(outcome)
    assert (c.received, c.loaded) == (200, 200)
    assert outcome.path == own


# 3. Dates: a letter for a digit is not a date ------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["2026-10-1O", "2O26-10-01", "2026-1O-01", "2026-10-01 ", "+026-10-01"]
)
def test_a_date_with_a_letter_for_a_digit_is_held(workspace, inbox, engineer, bad):
    text = GP_A_EVENTS.replace("2026-10-01", bad)
    outcome = _one(workspace, put(inbox, "gp", "Y10001", EVENTS, text), engineer)
    c = _reconciled(outcome)
    if bad.strip() == "2026-10-01":  # surrounding spaces are trimmed, as for every field
        assert c.quarantined == 0
        return
    assert (c.received, c.loaded, c.quarantined) == (3, 2, 1)
    assert held(workspace, engineer) == [
        (EVENTS, 3, "event_date", "is not a date in the form YYYY-MM-DD")
    ]


@pytest.mark.parametrize("bad", ["1O/10/1950", "01/1O/1950", "01/10/195O", "0l/10/1950"])
def test_a_ddmmyyyy_date_with_a_letter_for_a_digit_is_held(workspace, inbox, engineer, bad):
    from .conftest import GP_B_PATIENTS

    text = GP_B_PATIENTS.replace("02/01/1950", bad)
    outcome = _one(workspace, put(inbox, "gp", "Y10001", NAME, text), engineer)
    c = _reconciled(outcome)
    assert (c.received, c.loaded, c.quarantined) == (2, 1, 1)
    assert held(workspace, engineer) == [
        (NAME, 1, "DateOfBirth", "is not a date in the form DD/MM/YYYY")
    ]


# 4. NHS numbers: ten digits, never a number a parser accepts ---------------------------------


@pytest.mark.parametrize(
    "bad", ["99946262e1", "0x99946262", "9994626.20", "+999462620", "-999462620", "9_99462620"]
)
def test_an_nhs_number_a_number_parser_accepts_is_held(workspace, inbox, engineer, bad):
    text = GP_A_PATIENTS.replace("9990001236", bad)
    outcome = _one(workspace, put(inbox, "gp", "Y10001", NAME, text), engineer)
    c = _reconciled(outcome)
    assert (c.received, c.loaded, c.quarantined) == (3, 2, 1)
    assert held(workspace, engineer) == [
        (NAME, 2, "nhs_number", "is not 10 digits (letters, punctuation or wrong length)")
    ]


# 5. Numbers: finite and in range -----------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "0x10", "1_000"]
)
def test_a_non_finite_or_out_of_range_value_is_held(workspace, inbox, engineer, bad):
    text = GP_A_EVENTS.replace("P1,2026-09-01,163030003,140", f"P1,2026-09-01,163030003,{bad}")
    outcome = _one(workspace, put(inbox, "gp", "Y10001", EVENTS, text), engineer)
    c = _reconciled(outcome)
    assert (c.received, c.loaded, c.quarantined) == (3, 2, 1)
    ((file, row, field, reason),) = held(workspace, engineer)
    assert (file, row, field) == (EVENTS, 1, "value") and "number" in reason


@pytest.mark.parametrize("good", ["140", "-3.5", "1.5e3", ".5", "0"])
def test_ordinary_numbers_still_load(workspace, inbox, engineer, good):
    text = GP_A_EVENTS.replace("P1,2026-09-01,163030003,140", f"P1,2026-09-01,163030003,{good}")
    outcome = _one(workspace, put(inbox, "gp", "Y10001", EVENTS, text), engineer)
    assert _reconciled(outcome).loaded == 3
    values = [r["value"] for r in current(workspace, engineer, "gp_events")]
    assert values[0] == float(good)


# 6. Markup in a path is printed as text ------------------------------------------------------


def test_a_folder_name_with_rich_markup_is_printed_not_obeyed(cli, workspace, tmp_path):
    root = tmp_path / "in[" / "]box [bold]x[/bold] [red]"
    good = put(root, "gp", "Y10001", NAME, GP_A_PATIENTS)
    refused = put(root, "gp", "Y99999", "Y99999_patients_202610.csv", GP_A_PATIENTS)
    result = cli(["ingest", workspace.root, root.parent])
    assert "Traceback" not in result.output and result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"loaded {good}" in out and f"refused {refused}" in out
    assert "3 rows received, 3 loaded, 0 quarantined" in out


def test_a_workspace_path_with_rich_markup_is_printed_as_typed(cli, tmp_path, example_config):
    ws = tmp_path / "a[" / "]b [red]c"
    result = cli(["init", ws, "--config", example_config])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert str(ws) in " ".join(result.output.split())


# 7. Windows-1252's five undefined bytes ------------------------------------------------------


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_a_windows_1252_file_with_an_undefined_byte_holds_only_that_row(
    workspace, inbox, engineer, byte
):
    text = GP_A_PATIENTS.replace("Ann,Smith", "Zoë,Smi@h").encode("cp1252")
    text = text.replace(b"@", bytes([byte]))
    outcome = _one(workspace, put(inbox, "gp", "Y10001", NAME, text), engineer)
    assert outcome.status == LOADED, outcome.message
    c = _reconciled(outcome)
    assert (c.received, c.loaded, c.quarantined) == (3, 2, 1)
    ((file, row, field, reason),) = held(workspace, engineer)
    assert (file, row, field) == (NAME, 1, "family_name")
    assert f"0x{byte:02X}" in reason and "Windows-1252" in reason
    assert {r["patient_ref"] for r in current(workspace, engineer, "gp_patients")} == {"P2", "P3"}


def test_undefined_bytes_found_beyond_the_sniffed_part_hold_their_row_once(
    workspace, inbox, engineer, monkeypatch
):
    from openphm.landing import readers

    monkeypatch.setattr(readers, "_SNIFF_BYTES", 300)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256)
    rows = "".join(f"Q{n},,A,B,U,1980-01-01,x,,y,LS1 4AP,\n" for n in range(50))
    late = b"Z1,,Zo\x81,B\x9d,U,1980-01-01,x,,y,LS1 4AP,\n"  # two fields, one row
    path = put(inbox, "gp", "Y10001", NAME, (GP_A_PATIENTS + rows).encode() + late)
    outcome = _one(workspace, path, engineer)
    assert "cp1252" in outcome.message
    c = _reconciled(outcome)
    assert (c.received, c.loaded, c.quarantined) == (54, 53, 1)
    assert [(r, f) for _, r, f, _ in held(workspace, engineer)] == [
        (54, "family_name"),
        (54, "given_name"),
    ]


def test_a_reader_that_stops_early_has_the_file_refused_not_short(
    workspace, inbox, engineer, monkeypatch
):
    """The rows are reconciled with the file's lines counted from its bytes, not with what a
    CSV reader says: a reader that silently stopped after 10 rows is caught."""
    from openphm.landing import readers

    real = readers.Reader.whole_file_sql
    monkeypatch.setattr(readers.Reader, "whole_file_sql", lambda self: real(self) + " LIMIT 10")
    path = put(inbox, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(_events(200)))
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and str(path) in outcome.message
    assert "has 201 lines" in outcome.message and "10 rows" in outcome.message
    assert current(workspace, engineer, "gp_events") == []


@pytest.mark.parametrize("reader", ["duckdb", "arrow"])
@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_blank_lines_and_line_breaks_in_values_reconcile(
    workspace, inbox, engineer, monkeypatch, reader, end
):
    from openphm.landing import readers

    if reader == "arrow":
        monkeypatch.setattr(readers.Reader, "whole_file_sql", lambda self: None)
    text = GP_A_PATIENTS.replace("\n", end)
    text = text.replace("1 High St", f'"1, High St{end}{end}Leeds"')
    text = text.replace("P3,", f"{end}P3,")  # a blank line between rows
    path = put(inbox, "gp", "Y10001", NAME, text.encode() + b"P4,,D,G,M,1970-01-01,x,,y,LS1 4AP,")
    outcome = _one(workspace, path, engineer)
    assert outcome.status == LOADED, outcome.message
    assert _reconciled(outcome).loaded == 4


@pytest.mark.parametrize(
    ("data", "lines", "blank"),
    [
        (b"h\nr1\nr2\n", 3, 0),
        (b"h\nr1\nr2", 3, 0),
        (b"h\r\nr1\r\n\r\nr2\r\n", 4, 1),
        (b"h\rr1\r\rr2", 4, 1),
        (b"\nh\n\n\nr1\n", 5, 3),
    ],
)
def test_lines_are_counted_from_the_bytes(tmp_path, data, lines, blank):
    from openphm.landing.files import blank_lines, fingerprint, fingerprint_and_lines

    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert fingerprint_and_lines(path) == (fingerprint(path), lines)
    assert blank_lines(path) == blank


@pytest.mark.parametrize("folder", ["inbox[1]", "inbox*", "inbox?"])
def test_a_reader_given_a_glob_like_name_reads_that_file_only(tmp_path, example_config, folder):
    """Below ingest (which reads through the open file's /proc/self/fd name), a reader given
    the name itself never lets DuckDB take it as a pattern."""
    import duckdb

    from openphm.landing.files import identify
    from openphm.landing.readers import open_extract
    from openphm.programme.config import load_config

    put(tmp_path / "inbox1", "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(_events(7)))
    own = put(tmp_path / folder, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(_events(200)))
    reader = open_extract(identify(own, load_config(example_config)))
    sql = reader.whole_file_sql()
    if sql is not None:
        assert duckdb.sql(f"SELECT count(*) FROM ({sql})").fetchone()[0] == 200
    assert sum(chunk.num_rows for chunk in reader.chunks()) == 200


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("%Y%m%d", "20261001", ["2026101", "2026100l", "+2026101", "2026 101"]),
        ("%d %b %Y", "01 Oct 2026", ["1 Oct 2026", "01 Oct 2O26", "01 Oct 26"]),
        ("%Y-%m-%d", "2026-10-01", ["2026-10-1O", "2026-1-01", "2026-10-01T10:00"]),
        ("%d/%m/%Y", "01/10/2026", ["1O/10/2026", "1/10/2026", "01/10/26"]),
    ],
)
def test_every_date_format_is_matched_exactly_before_it_is_parsed(fmt, good, bad):
    import datetime as dt

    import duckdb

    from openphm.landing.schema import Date

    sql = Date(format=fmt).value("v")
    parse = f"SELECT {sql} FROM (SELECT CAST($v AS VARCHAR) AS v)"
    assert duckdb.execute(parse, {"v": good}).fetchone()[0] == dt.date(2026, 10, 1)
    for value in bad:
        assert duckdb.execute(parse, {"v": value}).fetchone()[0] is None, value


@pytest.mark.parametrize("reader", ["duckdb", "arrow"])
def test_rows_enclosed_by_a_stray_pair_of_quotes_refuse_the_file_naming_the_row(
    workspace, inbox, engineer, monkeypatch, reader
):
    """The quotes open in row 10's last field and close in row 151's: row 10 still has five
    fields, and the line count reconciles (141 line breaks in one value), so only the shape
    of what the value holds tells the 141 swallowed rows apart."""
    from openphm.landing import readers

    if reader == "arrow":
        monkeypatch.setattr(readers.Reader, "whole_file_sql", lambda self: None)
    lines = _events(200)
    lines[9] = 'P10,2026-09-01,163030003,10,"mmHg\n'
    lines[150] = 'P151,2026-09-01,163030003,151,mmHg"\n'
    path = put(inbox, "gp", "Y10001", EVENTS, EVENTS_HEADER + "".join(lines))
    outcome = _one(workspace, path, engineer)
    assert outcome.status == REFUSED and str(path) in outcome.message
    assert "row 10 holds a value running over several lines" in outcome.message
    assert current(workspace, engineer, "gp_events") == []
