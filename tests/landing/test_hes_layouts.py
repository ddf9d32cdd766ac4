"""National hospital data in HES layout (the built-in `hes-apc` layout): NHS England's artificial
HES APC sample, in its real 193-column layout with the identifiable flow's NEWNHSNO, DOB and
HOMEADD added, landed and linked with no row lost; and a file written from the specification
for each special value, delimiter and encoding (docs/extract-formats.md, "HES APC")."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re

import pandas as pd
import pytest

from openphm.keystore import KeyName
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.programme.config import ConfigError, load_config
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link
from openphm.reference import sensitive_codes

from .conftest import put
from .helpers import current, held
from .hes import HES_SOURCE, SAMPLE, identifiable

NAME = "artificial_hes_apc_0102.csv"
DATES = ["DOB", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE"]
DIAGS = [f"DIAG_4_{n:02d}" for n in range(1, 21)]
OPERS = [f"OPERTN_4_{n:02d}" for n in range(1, 25)]


def _hes_programme(example_config, extra: str = "") -> None:
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text + HES_SOURCE + extra)


@pytest.fixture
def hes_ws(tmp_path, example_config, engineer):
    _hes_programme(example_config)
    return Workspace.create(tmp_path / "ws", example_config, engineer)


def _frame(text: str) -> pd.DataFrame:
    """The file as text, every value trimmed of HES's padding (spaces and tabs)."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return frame.apply(lambda column: column.str.strip(" \t"))


def _held_by_specification(frame: pd.DataFrame) -> pd.Series:
    """Rows the HES specification says cannot be used, worked out here apart from the
    layout: a date that is 1801-01-01 (an invalid date submitted), or a diagnosis or
    procedure that is not `-` (none), `&` (not known), blank or an ICD-10 / OPCS-4 code."""
    invalid_date = frame[DATES].eq("1801-01-01").any(axis=1)
    none = {"", "-", "&"}

    def not_codes(columns, shape):
        return ~frame[columns].apply(lambda c: c.isin(none) | c.str.fullmatch(shape)).all(axis=1)

    return (
        invalid_date
        | not_codes(DIAGS, r"[A-Z][0-9]{2}[0-9A-Z]?")
        | not_codes(OPERS, r"[A-Z][0-9]{2}[0-9]?")
    )


def test_the_artificial_hes_sample_lands_and_links_with_no_row_lost(
    hes_ws, example_config, engineer
):
    text = identifiable()
    path = put(example_config.parent / "extracts", "admitted-care", "X26", NAME, text)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert "(layout hes-apc identifiable-196)" in outcome.message
    frame = _frame(text)
    records = sum(1 for _ in SAMPLE.open(encoding="utf-8")) - 1  # the sample has no line breaks
    c = outcome.counts
    assert c.received == records == len(frame) == 2075
    assert c.loaded + c.quarantined == c.received

    bad = _held_by_specification(frame)
    problems = held(hes_ws, engineer)
    assert {row for _, row, _, _ in problems} == {i + 1 for i in frame.index[bad]}
    assert c.quarantined == int(bad.sum()) == 13
    invalid = {(row, field) for _, row, field, reason in problems if "1801-01-01" in reason}
    assert invalid == {
        (i + 1, column) for column in DATES for i in frame.index[frame[column] == "1801-01-01"]
    }
    assert all(file == NAME for file, _, _, _ in problems)

    # Special values, each as the specification says, against the file itself.
    kept = frame[~bad].reset_index(drop=True)
    episodes = pd.DataFrame(current(hes_ws, engineer, "hes_apc_episodes"))
    assert len(episodes) == len(kept)
    by_key = episodes.set_index("epikey")
    kept = kept.set_index("EPIKEY")
    assert (
        by_key.loc[kept.index[kept["GPPRAC"].isin(["&", "V81998", "V81999"])], "practice"]
        .isna()
        .all()
    )
    assert (by_key["practice"] == "V81999").sum() == 0
    infants = kept.index[kept["STARTAGE"].str.fullmatch("700[1-7]")]
    assert len(infants) > 200 and (by_key.loc[infants, "start_age"] == 0).all()
    assert by_key.loc[kept.index[kept["OPERTN_4_01"].isin(["-", "&"])], "opertn_01"].isna().all()
    padded = kept.index[kept["DIAG_4_01"].str.fullmatch("[A-Z][0-9]{2}X")]
    assert len(padded) > 0
    assert (by_key.loc[padded, "diag_01"] == kept.loc[padded, "DIAG_4_01"].str[:3]).all()
    assert (
        by_key.loc[kept.index[kept["DISDEST"].isin(["98", "99"])], "discharge_destination"]
        .isna()
        .all()
    )
    assert by_key.loc[kept.index[kept["ADMIMETH"] == "99"], "admission_method"].isna().all()
    assert (by_key.loc[kept.index[kept["SEX"] == "0"], "sex"] == "U").all()
    assert by_key.loc[kept.index[kept["DISDATE"] == ""], "discharge_date"].isna().all()

    link(hes_ws, engineer)
    key = hes_ws.keystore.get(KeyName.LINKAGE)
    kept = kept.reset_index()
    # Admissions per person, counted here from the file: one spell per person, provider and
    # admission date among the episodes the specification lets through, less the spells with
    # a code of a default sensitive list in any diagnosis or procedure of any of their episodes
    # (docs/sensitive-data.md: they stay in the landing zone).
    listed = sensitive_codes()
    icd = tuple(listed.loc[listed["system"] == "ICD-10", "code"])
    opcs = tuple(listed.loc[listed["system"] == "OPCS-4", "code"])
    sensitive = kept[DIAGS].apply(lambda c: c.str.startswith(icd)).any(axis=1) | kept[OPERS].apply(
        lambda c: c.str.startswith(opcs)
    ).any(axis=1)
    spell_key = ["PSEUDO_HESID", "PROCODE3", "ADMIDATE"]
    withheld = kept.loc[sensitive, spell_key].drop_duplicates()
    spells = kept.drop_duplicates(spell_key).merge(withheld, how="left", indicator=True)
    spells = spells[spells["_merge"] == "left_only"]
    assert len(withheld) == 16  # the sample's spells on a default list: O04.9 mostly
    (entry,) = [e for e in hes_ws.audit.entries() if e.action == "identity.link"]
    assert entry.counts["sensitive_withheld.admitted-care"] == len(withheld)
    expected = {
        hmac.new(key, number.encode(), hashlib.sha256).hexdigest(): n
        for number, n in spells.groupby("NEWNHSNO").size().items()
    }
    emergency = spells["ADMIMETH"].str.fullmatch("2[1-8A-D]").sum()
    con = hes_ws.connect_linked()
    try:
        found = dict(
            con.execute("SELECT pseudonym, count(*) FROM linked.apc_spells GROUP BY 1").fetchall()
        )
        (linked_emergency,) = con.execute(
            "SELECT count(*) FROM linked.apc_spells WHERE emergency"
        ).fetchone()
        columns = {r[0] for r in con.execute("DESCRIBE linked.apc_spells").fetchall()}
    finally:
        con.close()
    assert found == expected
    assert sum(found.values()) == len(spells)
    assert linked_emergency == emergency
    assert not columns & {"nhs_number", "date_of_birth", "postcode", "spell_id", "epikey"}


def test_a_pseudonymised_hes_file_is_refused_saying_what_is_missing(
    hes_ws, example_config, engineer
):
    sample = SAMPLE.read_text(encoding="utf-8")
    path = put(example_config.parent / "extracts", "admitted-care", "X26", NAME, sample)
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED
    for named in ("NEWNHSNO", "DOB", "HOMEADD", "PSEUDO_HESID", "MYDOB"):
        assert named in outcome.message
    assert "identifiable" in outcome.message


# ----- a file written from the specification ---------------------------------------------------

SPEC_HEADER = [
    "EPIKEY", "NEWNHSNO", "DOB", "SEX", "HOMEADD", "PROCODE3", "ADMIDATE", "ADMIMETH",
    "EPIORDER", "EPISTART", "EPIEND", "DISDATE", "DISDEST", "GPPRAC", "STARTAGE",
    "DIAG_4_01", "DIAG_4_02", "OPERTN_4_01", "LSOA11",
]  # fmt: skip
SPEC_ROWS = [
    # one spell of two episodes: admitted as an emergency (2A), moved to a second consultant
    ["E1", "9434765919", "1950-01-02", "2", "LS1 4AP", "RX1", "2026-01-01", "2A", "1",
     "2026-01-01", "2026-01-03", "1800-01-01", "98", "V81999", "76", "I500", "R69X", "-   ",
     "E01011107"],
    ["E2", "9434765919", "1950-01-02", "2", "LS1 4AP", "RX1", "2026-01-01", "2A", "2",
     "2026-01-03", "2026-01-09", "2026-01-09", "19", "&\t", "76", "J181", "I500", "K401", ""],
    # a baby (age band 7002) with a practice; dates in the file's own format
    ["E3", "9990001236", "2025-12-20", "1", "LS1 4AP", "RX1", "2026-01-05", "82", "1",
     "2026-01-05", "2026-01-06", "2026-01-06", "19", "Y10001", "7002", "P599", "-", "&   ", ""],
    # an invalid admission date submitted: held, saying what HES means by it
    ["E4", "9990001244", "1960-03-02", "0", "LS1 4AP", "RX1", "1801-01-01", "11", "1",
     "2026-02-01", "2026-02-01", "2026-02-01", "19", "Y10001", "65", "K409", "", "T201", ""],
]  # fmt: skip


def _spec_file(delimiter: str = ",", header=SPEC_HEADER, rows=SPEC_ROWS) -> str:
    """As a writer of that delimiter writes it: a value holding the delimiter (the tab of
    `&\t` in a tab-separated file) is quoted."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(",", "utf-8"), ("|", "utf-8-sig"), ("\t", "cp1252")],
    ids=["comma", "pipe-with-bom", "tab-windows-1252"],
)
def test_a_file_written_from_the_specification(
    hes_ws, example_config, engineer, delimiter, encoding
):
    rows = [list(r) for r in SPEC_ROWS]
    rows[1][SPEC_HEADER.index("DISDATE")] = "2026-01-09 00:00:00"  # as a database exports it
    rows[3][SPEC_HEADER.index("EPIEND")] = "2026-02-01 1O:30"  # a letter O in the time: held
    if encoding == "cp1252":  # a byte Windows-1252 gives and UTF-8 does not
        rows[2][SPEC_HEADER.index("HOMEADD")] = "LS1 4AP\u00e9"
    data = _spec_file(delimiter, rows=rows).encode(encoding)
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "X26_hes-apc_202602.csv", data
    )
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (4, 3, 1)
    if delimiter != ",":
        assert repr(delimiter) in outcome.message
    assert held(hes_ws, engineer) == [
        ("X26_hes-apc_202602.csv", 4, "ADMIDATE",
         "is 1801-01-01, which HES uses for an invalid date submitted"),
        ("X26_hes-apc_202602.csv", 4, "EPIEND", "is not a date in the form YYYY-MM-DD"),
    ]  # fmt: skip
    episodes = {r["epikey"]: r for r in current(hes_ws, engineer, "hes_apc_episodes")}
    assert episodes["E1"]["discharge_date"] is None  # 1800-01-01: null
    assert episodes["E1"]["practice"] is None and episodes["E2"]["practice"] is None
    assert episodes["E1"]["diag_02"] == "R69" and episodes["E1"]["opertn_01"] is None
    assert episodes["E3"]["start_age"] == 0 and episodes["E3"]["opertn_01"] is None
    assert episodes["E2"]["discharge_date"].isoformat() == "2026-01-09"  # its time dropped
    assert episodes["E1"]["lsoa11"] == "E01011107" and episodes["E2"]["lsoa11"] is None
    spells = {r["spell_id"]: r for r in current(hes_ws, engineer, "apc_spells")}
    assert set(spells) == {"E1", "E3"}
    first = spells["E1"]
    assert first["provider_ods"] == "RX1" and first["source_row"] == 1
    assert first["admission_method"] == "2A" and first["primary_diagnosis"] == "I500"
    assert first["discharge_date"].isoformat() == "2026-01-09"
    assert first["discharge_destination"] == "19" and first["primary_procedure"] == "K401"
    assert sorted(first["secondary_diagnoses"].split(";")) == ["J181", "R69"]
    assert first["sex"] == "F" and first["nhs_number"] == "9434765919"
    if encoding == "cp1252":
        assert "cp1252" in outcome.message
        assert episodes["E3"]["postcode"] == "LS1 4AP\u00c9"


def test_columns_no_version_has_are_refused_by_name(hes_ws, example_config, engineer):
    header = [*SPEC_HEADER, "FAVOURITE_COLOUR"]
    rows = [[*r, "blue"] for r in SPEC_ROWS]
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "X26_hes-apc_202602.csv",
        _spec_file(",", header, rows),
    )  # fmt: skip
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED
    assert "FAVOURITE_COLOUR" in outcome.message and "blue" not in outcome.message


def test_a_required_column_missing_is_named(hes_ws, example_config, engineer):
    at = SPEC_HEADER.index("ADMIDATE")
    header = SPEC_HEADER[:at] + SPEC_HEADER[at + 1 :]
    rows = [r[:at] + r[at + 1 :] for r in SPEC_ROWS]
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "X26_hes-apc_202602.csv",
        _spec_file(",", header, rows),
    )  # fmt: skip
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED
    assert "missing required column(s) ADMIDATE" in outcome.message


def test_a_name_outside_the_period_pattern_is_refused(hes_ws, example_config, engineer):
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "hes_apc_export.csv",
        _spec_file(),
    )  # fmt: skip
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == REFUSED and "period pattern" in outcome.message
    assert "<ODS code>_hes-apc_<YYYYMM>" in outcome.message


LOCAL = """
base = "hes-apc"
delimiter = ";"
encoding = "windows-1252"
date_format = ["%d/%m/%Y", "%Y%m%d", "%d %b %Y"]
[columns]
"NHS_NO" = "NEWNHSNO"
"""


def test_a_local_layout_maps_a_senders_own_columns_dates_and_encoding(
    tmp_path, example_config, engineer
):
    (example_config.parent / "our-hes.toml").write_text(LOCAL)
    _hes_programme(example_config)
    text = example_config.read_text().replace('layout = "hes-apc"', 'layout = "our-hes.toml"')
    example_config.write_text(text)
    ws = Workspace.create(tmp_path / "ws", example_config, engineer)
    assert (ws.root / "our-hes.toml").is_file()  # kept beside the workspace's programme.toml

    def dmy(value: str) -> str:
        return re.sub(r"^(\d{4})-(\d{2})-(\d{2})$", r"\3/\2/\1", value)

    header = ["NHS_NO" if c == "NEWNHSNO" else c for c in SPEC_HEADER]
    rows = [[dmy(v) for v in r] for r in SPEC_ROWS]
    # the same dates as YYYYMMDD and DD MMM YYYY, with a time of day, in the second episode
    rows[1][SPEC_HEADER.index("EPIEND")] = "20260109 10:30"
    rows[1][SPEC_HEADER.index("DISDATE")] = "09 Jan 2026 10:30:00"
    data = _spec_file(";", header, rows).replace("LS1 4AP", "LS1 4AP\u00e9", 1).encode("cp1252")
    path = put(example_config.parent / "extracts", "admitted-care", "X26", NAME, data)
    (outcome,) = ingest(ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert (outcome.counts.loaded, outcome.counts.quarantined) == (3, 1)
    episodes = {r["epikey"]: r for r in current(ws, engineer, "hes_apc_episodes")}
    assert episodes["E1"]["nhs_number"] == "9434765919"
    assert episodes["E2"]["discharge_date"].isoformat() == "2026-01-09"
    assert episodes["E2"]["episode_end"].isoformat() == "2026-01-09"
    assert episodes["E1"]["discharge_date"] is None  # 01/01/1800: HES's null, in this format
    assert episodes["E1"]["postcode"] == "LS1 4AP\u00c9"
    assert [(f, why) for _, _, f, why in held(ws, engineer)] == [
        ("ADMIDATE", "is 1801-01-01, which HES uses for an invalid date submitted")
    ]


def test_layouts_are_checked_with_the_programme(example_config):
    _hes_programme(example_config)
    text = example_config.read_text()
    for wrong, says in [
        ('layout = "hes-zzz"', "not a built-in layout"),
        ('layout = "missing.toml"', "no such layout file"),
        ('period = "(?P<month>[0-9]{6})"', "named group"),
    ]:
        key = wrong.split(" =")[0]
        changed = re.sub(rf'^{key} = ".*"$', wrong, text, count=1, flags=re.M)
        example_config.write_text(changed)
        with pytest.raises(ConfigError, match=says):
            load_config(example_config)
    example_config.write_text(text.replace('kind = "admitted-care"\nprovider = "X26"',
                                           'kind = "outpatients"\nprovider = "X26"'))  # fmt: skip
    with pytest.raises(ConfigError, match="for admitted-care sources"):
        load_config(example_config)


def test_phm_layouts_and_layout_check(cli, tmp_path):
    listed = cli(["layouts", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"hes-apc"' in listed.output and "Technical Output Specification" in listed.output
    good = tmp_path / "episodes.csv"
    good.write_text(_spec_file("|"))
    shown = cli(["layout", "check", good, "--layout", "hes-apc"])
    assert shown.exit_code == 0, shown.output
    for says in ("identifiable-196", "pipe", "4 received: 3 would load, 1 would be", "ADMIDATE"):
        assert says in shown.output
    assert "9434765919" not in shown.output and "LS1 4AP" not in shown.output
    refused = cli(["layout", "check", SAMPLE, "--layout", "hes-apc"])
    assert refused.exit_code != 0
    assert "NEWNHSNO" in refused.output and "artificial-pilot-193" in refused.output


def test_an_unbalanced_quote_in_a_hes_file_loses_no_row(hes_ws, example_config, engineer):
    """The reader's safeguards hold for a layout's file: a quote opened in row 2 and never
    closed swallows rows 2 to 4 as one value, and each is still counted and held."""
    lines = _spec_file().splitlines(keepends=True)
    lines[2] = lines[2].replace("9434765919", '"9434765919', 1)
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "X26_hes-apc_202602.csv",
        "".join(lines),
    )  # fmt: skip
    (outcome,) = ingest(hes_ws, [path], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    c = outcome.counts
    assert (c.received, c.loaded, c.quarantined) == (4, 1, 3)
    assert {row for _, row, _, _ in held(hes_ws, engineer)} == {2, 3, 4}


def test_a_hes_file_in_parquet(hes_ws, example_config, engineer):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*SPEC_ROWS, strict=True))
    table = pa.table(
        {name: list(values) for name, values in zip(SPEC_HEADER, columns, strict=True)}
    )
    folder = example_config.parent / "extracts" / "admitted-care" / "X26"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "X26_hes-apc_202602.parquet")
    (outcome,) = ingest(hes_ws, [folder], engineer).outcomes
    assert outcome.status == LOADED, outcome.message
    assert (outcome.counts.received, outcome.counts.loaded, outcome.counts.quarantined) == (4, 3, 1)


def test_a_header_in_lower_case_is_read_as_the_specification_spells_it(tmp_path):
    from openphm.landing.layout_check import check
    from openphm.programme.layouts import builtin

    path = tmp_path / "episodes.csv"
    path.write_text(_spec_file(",", [c.lower() for c in SPEC_HEADER]))
    report = check(path, builtin()["hes-apc"])
    assert report.refusal == "" and report.version == "identifiable-196"
    assert report.unknown == () and len(report.mapped) == 19
    assert (report.received, report.loaded, report.quarantined) == (4, 3, 1)
    assert report.problems == (
        (4, "admidate", "is 1801-01-01, which HES uses for an invalid date submitted"),
    )


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_no_row_hides_in_a_column_the_layout_does_not_keep(tmp_path, encoding):
    """FYEAR is read but not kept: a line break inside it is still a line of the file, and
    rows that a stray pair of quotes encloses in it are still found (the file is refused)."""
    from openphm.landing.layout_check import check
    from openphm.programme.layouts import builtin

    header = [*SPEC_HEADER, "FYEAR"]
    rows = [[*r, "2526"] for r in SPEC_ROWS]
    rows[1][-1] = "25\n26"
    rows[2][SPEC_HEADER.index("HOMEADD")] = "LS1 4AP\u00e9"  # Windows-1252 in one variant
    path = tmp_path / "episodes.csv"
    path.write_bytes(_spec_file(",", header, rows).encode(encoding))
    report = check(path, builtin()["hes-apc"])
    assert report.refusal == ""
    assert (report.received, report.loaded, report.quarantined) == (4, 3, 1)

    swallowed = _spec_file(",", header, [[*r, "2526"] for r in SPEC_ROWS]).splitlines(True)
    swallowed[1] = swallowed[1].rstrip("\r\n")[: -len("2526")] + '"2526\r\n'
    swallowed[3] = swallowed[3].rstrip("\r\n")[: -len("2526")] + '2526"\r\n'
    path.write_bytes("".join(swallowed).encode(encoding))
    report = check(path, builtin()["hes-apc"])
    assert "look like rows of their own" in report.refusal
