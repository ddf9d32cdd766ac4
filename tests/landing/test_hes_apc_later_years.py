"""HES APC extracts of data years from 2013-14, in the columns the HES Technical Output
Specification v1.15 gives for them (tests/landing/data/README.md): each is recognised as its
version, lands with no row lost, and a column no version has is still refused by name."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from openphm.engine import attach_encrypted, connect
from openphm.keystore import KeyName
from openphm.landing import catalog as cat
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.landing.layout_check import check
from openphm.landing.read import readable_batches
from openphm.programme.layouts import builtin
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .helpers import current, held
from .hes import SAMPLE
from .test_hes_layouts import _hes_programme

DATA = Path(__file__).parent / "data"
# the fixture, the version its header is written in, the name it arrives under
YEARS = {
    "2019-20": ("hes_apc_tos_v1.15_2019-20.csv", "tos-v1.15-2019-20", "X26_hes-apc_202003.csv"),
    "2022-23": ("hes_apc_tos_v1.15_2022-23.txt", "tos-v1.15-2021-22", "X26_hes-apc_202303.txt"),
    # earlier years, read from the same sheet by the same rules
    "2013-14": ("hes_apc_tos_v1.15_2013-14.csv", "tos-v1.15-2013-14", "X26_hes-apc_201403.csv"),
    "2016-17": ("hes_apc_tos_v1.15_2016-17.txt", "tos-v1.15-2015-16", "X26_hes-apc_201703.txt"),
}


@pytest.fixture
def hes_ws(tmp_path, example_config, engineer):
    _hes_programme(example_config)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


def _arrive(example_config, year: str, text: str | None = None) -> Path:
    fixture, _, name = YEARS[year]
    text = text if text is not None else (DATA / fixture).read_text(encoding="utf-8")
    return put(example_config.parent / "extracts", "admitted-care", "X26", name, text)


def _with_column(text: str, column: str, value: str) -> str:
    delimiter = "|" if "|" in text.splitlines()[0] else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([[*rows[0], column], *([*r, value] for r in rows[1:])])
    return out.getvalue()


@pytest.mark.parametrize("year", YEARS)
def test_a_later_years_header_is_recognised_as_its_version(year):
    fixture, version, _ = YEARS[year]
    report = check(DATA / fixture, builtin()["hes-apc"])
    assert report.refusal == ""
    assert report.version == version
    assert report.missing == () and report.unknown == ()
    assert (report.received, report.loaded, report.quarantined) == (5, 4, 1)


def test_phm_layout_check_names_the_later_version(cli):
    fixture, version, _ = YEARS["2022-23"]
    shown = cli(["layout", "check", DATA / fixture, "--layout", "hes-apc"])
    assert shown.exit_code == 0, shown.output
    for says in (version, "pipe", "5 received: 4 would load, 1 would be"):
        assert says in shown.output
    assert "LS1 4AP" not in shown.output


@pytest.mark.parametrize("year", YEARS)
def test_a_later_years_extract_lands_with_no_row_lost(hes_ws, example_config, engineer, year):
    _, version, name = YEARS[year]
    (outcome,) = ingest(hes_ws, [_arrive(example_config, year)], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert f"(layout hes-apc {version}" in outcome.message
    c = outcome.counts
    assert (c.received, c.loaded, c.quarantined) == (5, 4, 1)
    assert held(hes_ws, engineer) == [
        (name, 4, "ADMIDATE", "is 1801-01-01, which HES uses for an invalid date submitted")
    ]
    episodes = current(hes_ws, engineer, "hes_apc_episodes")
    assert len(episodes) == c.loaded
    by_row = {r["source_row"]: r for r in episodes}
    assert by_row[3]["start_age"] == 0 and by_row[3]["practice"] is None
    assert by_row[1]["diag_02"] == "R69" and by_row[1]["opertn_01"] is None
    spells = current(hes_ws, engineer, "apc_spells")
    assert sorted(s["source_row"] for s in spells) == [1, 3, 5]  # rows 1 and 2 are one spell


def test_sex_x_from_2022_23_is_not_known(hes_ws, example_config, engineer):
    (outcome,) = ingest(hes_ws, [_arrive(example_config, "2022-23")], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    episodes = {r["source_row"]: r for r in current(hes_ws, engineer, "hes_apc_episodes")}
    assert episodes[5]["sex"] == "U" and episodes[1]["sex"] == "F"


@pytest.mark.parametrize("year", YEARS)
def test_a_column_no_version_has_is_still_refused_by_name(hes_ws, example_config, engineer, year):
    fixture = DATA / YEARS[year][0]
    text = _with_column(fixture.read_text(encoding="utf-8"), "FAVOURITE_COLOUR", "blue")
    (outcome,) = ingest(hes_ws, [_arrive(example_config, year, text)], engineer).outcomes
    assert outcome.status == REFUSED
    assert "FAVOURITE_COLOUR" in outcome.message and "blue" not in outcome.message
    assert f"closest version {YEARS[year][1]}" in outcome.message


def test_the_pseudonymised_later_extract_is_refused_naming_its_token(
    hes_ws, example_config, engineer
):
    fixture = DATA / YEARS["2022-23"][0]
    rows = list(csv.reader(io.StringIO(fixture.read_text(encoding="utf-8")), delimiter="|"))
    keep = [i for i, c in enumerate(rows[0]) if c not in ("NEWNHSNO", "DOB", "HOMEADD")]
    out = io.StringIO()
    csv.writer(out, delimiter="|", lineterminator="\r\n").writerows(
        [[r[i] for i in keep] for r in rows]
    )
    (outcome,) = ingest(
        hes_ws, [_arrive(example_config, "2022-23", out.getvalue())], engineer
    ).outcomes
    assert outcome.status == REFUSED
    for named in ("NEWNHSNO", "DOB", "HOMEADD", "TOKEN_PERSON_ID"):
        assert named in outcome.message


def _set_column(text: str, column: str, values: list[str]) -> str:
    """The extract with `column`'s value in each data row replaced, in order."""
    delimiter = "|" if "|" in text.splitlines()[0] else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    at = rows[0].index(column)
    for row, value in zip(rows[1:], values, strict=True):
        row[at] = value
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _land_2019_20_with(hes_ws, example_config, engineer, column: str, values: list[str]):
    """The 2019-20 extract with `column`'s values replaced, landed; its outcome, loaded."""
    text = (DATA / YEARS["2019-20"][0]).read_text(encoding="utf-8")
    arrived = _arrive(example_config, "2019-20", _set_column(text, column, values))
    (outcome,) = ingest(hes_ws, [arrived], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    return outcome


def test_every_lsoa_the_tos_defines_lands_and_its_pseudo_codes_read_as_not_known(
    hes_ws, example_config, engineer
):
    # HES TOS v1.15, LSOA11: England, Wales, Scotland, Northern Ireland's 95AA01S1 form, and
    # the pseudo codes (Z not known, L Channel Islands); row 4 is held for its ADMIDATE.
    lsoas = ["Z99999999", "S01006506", "95AA01S1", "E01000001", "L99999999"]
    outcome = _land_2019_20_with(hes_ws, example_config, engineer, "LSOA11", lsoas)
    assert (outcome.counts.loaded, outcome.counts.quarantined) == (4, 1)
    episodes = {r["source_row"]: r for r in current(hes_ws, engineer, "hes_apc_episodes")}
    assert {row: episodes[row]["lsoa11"] for row in (1, 2, 3, 5)} == {
        1: None, 2: "S01006506", 3: "95AA01S1", 5: None,
    }  # fmt: skip


def test_an_lsoa_of_no_shape_the_tos_defines_is_still_held(hes_ws, example_config, engineer):
    lsoas = ["E0100000I", "E01011107", "E01011107", "E01011107", "E01011107"]
    _land_2019_20_with(hes_ws, example_config, engineer, "LSOA11", lsoas)
    assert (1, "LSOA11", "is not a code of LSOA 2011") in {
        (row, field, reason) for _, row, field, reason in held(hes_ws, engineer)
    }


def test_the_trusts_local_patient_id_is_kept_and_a_spell_takes_its_first_episodes(
    hes_ws, example_config, engineer
):
    # LOPATID: the trust's own id for the patient (HES TOS v1.15), what its cohort-list tokens
    # seal; rows 1 and 2 are one spell (EPIORDER 1 and 2), row 4 is held for its ADMIDATE.
    ids = ["K0412345", "K0412346", "K77", "K88", ""]
    _land_2019_20_with(hes_ws, example_config, engineer, "LOPATID", ids)
    episodes = {r["source_row"]: r for r in current(hes_ws, engineer, "hes_apc_episodes")}
    assert [episodes[row]["local_patient_id"] for row in (1, 2, 3, 5)] == [
        "K0412345", "K0412346", "K77", None,
    ]  # fmt: skip
    spells = {r["source_row"]: r for r in current(hes_ws, engineer, "apc_spells")}
    assert {row: s["local_patient_id"] for row, s in spells.items()} == {
        1: "K0412345", 3: "K77", 5: None,
    }  # fmt: skip


def test_a_provider_registered_since_october_2020_has_a_five_character_code(
    hes_ws, example_config, engineer
):
    # PROCODE3: "Codes for organisations registered after 1st October 2020 will be 5
    # characters in length rather than 3" (HES TOS v1.15); four characters is no code.
    codes = ["AB1C2", "AB1C2", "X26", "X26", "X26A"]
    _land_2019_20_with(hes_ws, example_config, engineer, "PROCODE3", codes)
    spells = {r["source_row"]: r for r in current(hes_ws, engineer, "apc_spells")}
    assert spells[1]["provider_ods"] == "AB1C2"
    assert (5, "PROCODE3", "is not a code of ODS organisation code") in {
        (row, field, reason) for _, row, field, reason in held(hes_ws, engineer)
    }


def test_a_hes_local_patient_id_never_reaches_the_linked_zone_or_any_file_outside_landing(
    hes_ws, example_config, engineer
):
    canary = "LOPATIDCANARY7"
    _land_2019_20_with(hes_ws, example_config, engineer, "LOPATID", [canary] * 5)
    link(hes_ws, engineer)
    con = hes_ws.connect_linked(read_only=True)
    try:
        (spells,) = con.execute("SELECT count(*) FROM linked.apc_spells").fetchone()
        found = [
            (table, column)
            for (table,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'linked'"
            ).fetchall()
            for (column, *_) in con.execute(f"DESCRIBE linked.{table}").fetchall()
            if con.execute(
                f'SELECT count(*) FROM linked.{table} WHERE contains("{column}"::VARCHAR, ?)',
                [canary],
            ).fetchone()[0]
        ]
    finally:
        con.close()
    assert spells == 3 and found == []
    leaks = [
        str(path)
        for path in Path(hes_ws.root).rglob("*")
        if path.is_file()
        and path.relative_to(hes_ws.root).parts[0] not in ("landing", "keys")
        and canary.encode() in path.read_bytes()
    ]
    assert leaks == []


def test_a_batch_landed_before_the_layout_read_the_local_id_is_still_read(
    hes_ws, example_config, engineer
):
    # A programme that upgrades within the 14 days its landed batches live: their episodes
    # table has no local_patient_id column, and every later read (link included) must still
    # work, with the column blank.
    (outcome,) = ingest(hes_ws, [_arrive(example_config, "2019-20")], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    (batch,) = readable_batches(hes_ws, cat.load(hes_ws.zone("landing")))
    con = connect()
    key = hes_ws.keystore.get(KeyName.landing_batch(batch.batch_id))
    attach_encrypted(con, hes_ws.zone("landing") / batch.file, "batch", key)
    con.execute("ALTER TABLE batch.hes_apc_episodes DROP COLUMN local_patient_id")
    con.close()
    spells = current(hes_ws, engineer, "apc_spells")
    assert [(s["source_row"], s["local_patient_id"]) for s in spells] == [
        (1, None), (3, None), (5, None),
    ]  # fmt: skip


def _header(year: str) -> list[str]:
    text = (DATA / YEARS[year][0]).read_text(encoding="utf-8")
    delimiter = "|" if "|" in text.splitlines()[0] else ","
    return next(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_the_earlier_years_differ_from_2019_20_by_the_fields_the_sheet_retires_and_begins():
    """2013-14 and 2014-15 keep ADMINCATST and MENTCAT ("2007-08 to 2014-15") and have no NER_
    fields ("2015-16 onwards"); to 2016-17 the psychiatric census and detention fields stay
    ("1989-90 to 2016-17", LEGALGPC from 2002-03). Each fixture's header is its version's
    columns exactly: none missing, and none that only another version has."""
    census = {"CENDUR", "CENSAGE", "CENSTAT", "CENWARD", "DETDUR", "DETNDATE", "LEGALGPC",
              "LEGLSTAT"}  # fmt: skip
    ner = {"NER_GP_PRACTICE", "NER_RESIDENCE", "NER_TREATMENT"}
    later = set(_header("2019-20"))
    assert set(_header("2016-17")) - later == census and later - set(_header("2016-17")) == set()
    assert set(_header("2013-14")) - later == census | {"ADMINCATST", "MENTCAT"}
    assert later - set(_header("2013-14")) == ner
    versions = {v.name: v for v in builtin()["hes-apc"].versions}
    for year in ("2013-14", "2016-17"):
        _, version, _ = YEARS[year]
        assert sorted(versions[version].columns) == sorted(_header(year))
    assert (len(versions["tos-v1.15-2013-14"].columns),
            len(versions["tos-v1.15-2015-16"].columns)) == (389, 390)  # fmt: skip


@pytest.mark.parametrize("column", ["DOMPROC", "VIND"])
def test_a_field_retired_before_2013_14_is_still_refused_by_name(
    hes_ws, example_config, engineer, column
):
    # DOMPROC "2001-02 to 2008-09", VIND "1989-90 to 1995-96": no version declared here has them
    fixture = DATA / YEARS["2013-14"][0]
    text = _with_column(fixture.read_text(encoding="utf-8"), column, "X")
    (outcome,) = ingest(hes_ws, [_arrive(example_config, "2013-14", text)], engineer).outcomes
    assert outcome.status == REFUSED
    assert column in outcome.message and "closest version tos-v1.15-2013-14" in outcome.message


def _pilot_header() -> list[str]:
    with open(SAMPLE, newline="", encoding="utf-8") as handle:
        return next(csv.reader([handle.readline()]))


def test_a_later_extract_of_few_columns_is_its_year_s_version_not_the_pilot_s(tmp_path):
    """An extract of 2019-20 carrying only the fields OpenPHM keeps (what a data sharing
    agreement lists), LOPATID among them, is nearer the pilot's 196 columns than 2019-20's
    300-odd by count; it is recognised as a version that
    has every one of its columns, and nothing is said to come from another version."""
    pilot = set(_pilot_header())
    year = _header("2019-20")
    fields = {f.column for f in builtin()["hes-apc"].fields}
    kept = [c for c in year if c in fields]
    assert "LOPATID" in kept and "LOPATID" not in pilot and len(kept) < 100
    path = tmp_path / "X26_hes-apc_202003.csv"
    path.write_text(",".join(kept) + "\r\n", encoding="utf-8")
    report = check(path, builtin()["hes-apc"])
    assert report.refusal == ""
    assert report.version.startswith("tos-v1.15-") and "LOPATID" in report.mapped
    assert report.unknown == () and report.elsewhere == ()


def test_a_column_only_another_version_has_is_named_not_refused(tmp_path, cli):
    """A header no one version holds whole (LOPATID, which the pilot lacks, with a column only
    the pilot has): matched to the nearest version, the other's column named."""
    pilot = _pilot_header()
    year = set(_header("2019-20"))
    later_years = year | set(_header("2022-23")) | set(_header("2013-14"))
    only_pilot = sorted(c for c in pilot if c not in later_years and c != "MYDOB")[0]
    kept = [c for c in pilot if c in year] + ["LOPATID", "NEWNHSNO", "DOB", "HOMEADD", only_pilot]
    path = tmp_path / "X26_hes-apc_202003.csv"
    path.write_text(",".join(kept) + "\r\n", encoding="utf-8")
    report = check(path, builtin()["hes-apc"])
    assert report.refusal == "" and report.unknown == ()
    assert report.elsewhere in (("LOPATID",), (only_pilot,))
    shown = cli(["layout", "check", path, "--layout", "hes-apc"])
    assert shown.exit_code == 0, shown.output
    assert "other versions" in shown.output and report.elsewhere[0] in shown.output
