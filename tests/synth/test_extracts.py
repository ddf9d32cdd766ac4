"""The extracts keep the contract in docs/extract-formats.md, and every injected fault is listed
in truth/faults.csv and really is at the file and row it names."""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from openphm.practice.keys import load_private_key, load_public_key
from openphm.programme.config import SourceKind, load_config
from openphm.synth import faults as synth_faults
from openphm.synth.extracts import TABLES

from .conftest import END, read

FILE_NAME = re.compile(r"^(?P<ods>[A-Z0-9]{3,6})_(?P<table>[a-z]+)_(?P<period>\d{6})(_r\d+)?\.csv$")


def _extracts(region):
    return sorted(p for p in (region / "extracts").rglob("*") if p.is_file())


def test_every_file_is_named_as_the_contract_says(region):
    kinds = {t.kind for t in TABLES.values()}
    for path in _extracts(region):
        match = FILE_NAME.match(path.name)
        assert match, path.name
        assert match["ods"] == path.parent.name  # folder and file name agree
        assert path.parent.parent.name in kinds
        assert match["table"] in TABLES
        assert match["period"] in ("202609", "202610")


def test_half_the_practices_send_flavour_a_and_half_flavour_b(region):
    flavours = {}
    for path in (region / "extracts" / "gp").glob("*/*_patients_202610.csv"):
        header = path.read_text().splitlines()[0]
        flavours[path.parent.name] = "A" if header.startswith('"patient_ref"') else "B"
        expected = (
            TABLES["patients"].columns
            if flavours[path.parent.name] == "A"
            else list(TABLES["patients"].flavour_b.values())
        )
        assert list(read(path).columns) == expected
    assert sorted(flavours.values()) == ["A", "A", "B", "B"]
    b = next(p for p, f in flavours.items() if f == "B")
    dates = read(region / "extracts" / "gp" / b / f"{b}_patients_202610.csv")["DateOfBirth"]
    assert dates.str.fullmatch(r"\d\d/\d\d/\d{4}").all()


def test_monthly_activity_files_hold_only_the_last_month(region):
    for path in (region / "extracts" / "gp").glob("*/*_consultations_202610.csv"):
        dates = read(path).iloc[:, 1].dropna()
        iso = pd.to_datetime(dates, errors="coerce", format="ISO8601")
        day_first = pd.to_datetime(dates, errors="coerce", format="%d/%m/%Y")
        parsed = iso.fillna(day_first).dropna()
        assert parsed.between("2026-10-01", str(END)).all()
    baseline = read(next((region / "extracts" / "outpatients").glob("*/*_opa_202609.csv")))
    assert (baseline["appointment_date"] <= "2026-09-30").all()
    assert (baseline["appointment_date"] >= "2024-11-01").all()


def _faults(region) -> list[dict]:
    with open(region / "truth" / "faults.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_faults_of_every_kind_are_listed(region):
    kinds = {f["kind"] for f in _faults(region)}
    assert kinds == {
        "bad-date", "unknown-code", "wrong-column-count", "duplicate-row", "resubmission",
        "provider-not-in-programme",
    }  # fmt: skip


@pytest.mark.parametrize(
    "kind", ["bad-date", "unknown-code", "wrong-column-count", "duplicate-row"]
)
def test_each_listed_row_fault_is_at_its_file_and_row(region, kind):
    for fault in (f for f in _faults(region) if f["kind"] == kind):
        lines = list(csv.reader((region / fault["file"]).read_text().splitlines()))
        header, row = lines[0], lines[int(fault["row"])]
        if kind == "bad-date":
            value = row[header.index(fault["field"])]
            fmt = "%d/%m/%Y" if "/" in value else "%Y-%m-%d"
            assert pd.isna(pd.to_datetime(value, format=fmt, errors="coerce")), value
        elif kind == "unknown-code":
            value = row[header.index(fault["field"])]
            assert value in (synth_faults.UNKNOWN_SNOMED, synth_faults.UNKNOWN_ICD10)
        elif kind == "wrong-column-count":
            assert len(row) != len(header)
        else:
            assert row in lines[1 : int(fault["row"])]


def test_the_resubmission_replaces_a_file_that_exists(region):
    (fault,) = [f for f in _faults(region) if f["kind"] == "resubmission"]
    resubmitted = region / fault["file"]
    original = resubmitted.with_name(resubmitted.name.replace("_r2", ""))
    assert resubmitted.is_file() and original.is_file()
    assert len(read(resubmitted)) >= len(read(original))  # the clean copy has every row


def test_the_outside_provider_is_not_a_source_of_the_programme(region):
    (fault,) = [f for f in _faults(region) if f["kind"] == "provider-not-in-programme"]
    ods = (region / fault["file"]).parent.name
    config = load_config(region / "programme.toml")
    assert ods == synth_faults.OUTSIDE_PROVIDER
    assert all(s.provider != ods for s in config.sources)


def test_programme_toml_is_accepted_and_names_every_provider(region):
    config = load_config(region / "programme.toml")
    practices = sorted(p.name for p in (region / "extracts" / "gp").iterdir())
    assert sorted(config.programme.controllers) == practices
    assert config.programme.start_date > END
    for source in config.sources:
        assert (region / source.inbox).is_dir(), source.inbox
    kinds = {s.kind for s in config.sources}
    assert kinds == set(SourceKind)


def test_each_practice_has_its_key_pair_and_its_own_patient_list(region):
    for practice in (region / "extracts" / "gp").iterdir():
        folder = region / "practices" / practice.name
        load_private_key(folder / "practice.key")
        load_public_key(folder / "practice.pub")
        own = read(folder / "patients.csv")
        assert list(own.columns) == [
            "patient_ref", "nhs_number", "given_name", "family_name", "date_of_birth",
        ]  # fmt: skip
        sent = read(next(practice.glob("*_patients_202610.csv")))
        assert set(own["patient_ref"]) == set(sent.iloc[:, 0])


def test_records_trace_every_non_gp_row_to_its_person(region, people):
    records = pd.read_parquet(region / "truth" / "records.parquet")
    for path in _extracts(region):
        if "/gp/" in str(path):
            continue
        relative = str(path.relative_to(region))
        mine = records[records["file"] == relative].sort_values("row")
        rows = read(path)
        wrong_columns = sum(
            f["kind"] == "wrong-column-count" and f["file"] == relative for f in _faults(region)
        )
        assert len(mine) == len(rows) + wrong_columns, relative
        assert (mine["row"].to_numpy() == range(1, len(mine) + 1)).all()
    # Where a record's NHS number is present and valid, it is the true person's.
    ecds = records[records["file"].str.endswith("RZ2_ecds_202609.csv")].sort_values("row")
    rows = read(region / ecds["file"].iloc[0])
    truth = people.set_index("person_id").loc[ecds["person_id"], "nhs_number"].to_numpy()
    sent = rows["nhs_number"].str.replace(" ", "", regex=False)
    matches = (sent == truth) | sent.isna()
    assert matches.mean() > 0.98


def test_objections_are_recorded_for_about_the_requested_share(region, people):
    objections = pd.read_parquet(region / "truth" / "objections.parquet")
    assert abs(len(objections) / len(people) - 0.03) < 0.006
    assert set(objections["latest_code"]) == {"827241000000103", "827261000000104"}
    assert (objections["latest_code"] == "827261000000104").mean() < 0.2


def _provider_rows(region) -> pd.DataFrame:
    """Every hospital and community extract row (the RZ9 fault apart, which copies RZ1's):
    provider, person_id (from the truth) and the local patient id it carries."""
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    found = []
    for kind in ("admitted-care", "emergency-care", "outpatients", "community"):
        for path in sorted((region / "extracts" / kind).glob("*/*.csv")):
            if path.parent.name == synth_faults.OUTSIDE_PROVIDER:
                continue
            with open(path, newline="", encoding="utf-8") as handle:
                header, *rows = list(csv.reader(handle))
            assert header[:2] == [TABLES[path.name.split("_")[1]].record_id, "local_patient_id"]
            relative = str(path.relative_to(region))
            mine = records[records["file"] == relative]
            person = dict(zip(mine["row"], mine["person_id"], strict=True))
            found += [
                (path.parent.name, person[n], row[1])
                for n, row in enumerate(rows, start=1)
                if len(row) == len(header)  # a row with a wrong column count is a fault
            ]
    return pd.DataFrame(found, columns=["provider", "person_id", "local_id"])


def test_hospital_and_community_rows_carry_each_person_s_own_local_id_at_that_provider(region):
    rows = _provider_rows(region)
    assert set(rows["provider"]) == {"RZ1", "RZ2", "RZ3"}
    assert rows["local_id"].str.fullmatch(r"[A-Z][0-9]{7}").all()
    pairs = rows.drop_duplicates(["provider", "person_id", "local_id"])
    # Stable: one id per person at a provider; one person's only at that provider.
    assert not pairs.duplicated(["provider", "person_id"]).any()
    assert not pairs.duplicated(["provider", "local_id"]).any()
    # Unrelated between providers: a person seen at two has two different ids.
    both = pairs.pivot(index="person_id", columns="provider", values="local_id")
    seen_at_both = both[["RZ1", "RZ2"]].dropna()
    assert len(seen_at_both) > 50
    assert (seen_at_both["RZ1"] != seen_at_both["RZ2"]).all()
    # Social care and deaths are not sent with one.
    for kind in ("social-care", "deaths"):
        for path in (region / "extracts" / kind).glob("*/*.csv"):
            assert "local_patient_id" not in read(path).columns


def test_each_provider_s_patient_list_is_everyone_it_saw_with_their_true_identity(region, people):
    rows = _provider_rows(region)
    truth = people.set_index("person_id")
    for provider, mine in rows.groupby("provider"):
        own = read(region / "providers" / provider / "patients.csv")
        assert list(own.columns) == [
            "local_patient_id", "nhs_number", "given_name", "family_name", "date_of_birth",
        ]  # fmt: skip
        listed = own.set_index("local_patient_id")
        assert listed.index.is_unique
        assert set(listed.index) == set(mine["local_id"])
        sample = mine.drop_duplicates("local_id").head(200)
        who = truth.loc[sample["person_id"]]
        born = pd.to_datetime(who["date_of_birth"]).dt.strftime("%Y-%m-%d")
        found = listed.loc[sample["local_id"]]
        assert (found["nhs_number"].to_numpy() == who["nhs_number"].astype(str).to_numpy()).all()
        assert (found["family_name"].to_numpy() == who["family_name"].to_numpy()).all()
        assert (found["date_of_birth"].to_numpy() == born.to_numpy()).all()
