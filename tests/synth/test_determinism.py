"""The same arguments give byte-identical files; another seed gives another region; Parquet
output carries the same extracts."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from openphm.synth import RegionOptions, generate_region

SMALL = RegionOptions(people=2_000, practices=2, seed=5)


def _contents(directory):
    # Practice key pairs are fresh on every run, as a practice's own keys would be.
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.suffix not in (".key", ".pub")
    }


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    generate_region(tmp_path / "a", SMALL)
    generate_region(tmp_path / "b", SMALL)
    generate_region(tmp_path / "c", RegionOptions(people=2_000, practices=2, seed=6))
    a, b, c = (_contents(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) > 40
    shared = set(a) & set(c)
    assert sum(a[f] != c[f] for f in shared) > 0.9 * len(shared)


def test_the_region_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate_region(tmp_path, SMALL)


def test_parquet_output_has_the_same_tables_as_strings(tmp_path):
    generate_region(tmp_path / "csv", SMALL)
    generate_region(
        tmp_path / "pq", RegionOptions(people=2_000, practices=2, seed=5, format="parquet")
    )
    csv_files = sorted(
        p.relative_to(tmp_path / "csv") for p in (tmp_path / "csv" / "extracts").rglob("*.csv")
    )
    pq_files = sorted(
        p.relative_to(tmp_path / "pq") for p in (tmp_path / "pq" / "extracts").rglob("*.parquet")
    )
    assert [p.with_suffix("") for p in csv_files] == [p.with_suffix("") for p in pq_files]
    table = pq.read_table(tmp_path / "pq" / pq_files[0])
    assert all(str(t) == "string" for t in table.schema.types)
    faults = pd.read_csv(tmp_path / "pq" / "truth" / "faults.csv")
    assert faults["file"].str.endswith(".parquet").all()
    assert all((tmp_path / "pq" / f).is_file() for f in faults["file"])
    assert "wrong-column-count" not in set(faults["kind"])  # a Parquet file cannot carry one
    records = pd.read_parquet(tmp_path / "pq" / "truth" / "records.parquet")
    assert records["file"].str.endswith(".parquet").all()


def test_options_refuse_impossible_regions():
    with pytest.raises(ValueError, match="at least 2 practices"):
        RegionOptions(people=1_000, practices=1, seed=0)
    with pytest.raises(ValueError, match="too few"):
        RegionOptions(people=100, practices=4, seed=0)


def test_real_layouts_are_deterministic_and_change_only_the_hospital_and_community_files(
    tmp_path,
):
    real = RegionOptions(people=2_000, practices=2, seed=5, layouts="real")
    generate_region(tmp_path / "own", SMALL)
    generate_region(tmp_path / "a", real)
    generate_region(tmp_path / "b", real)
    own, a, b = (_contents(tmp_path / x) for x in ("own", "a", "b"))
    assert a == b
    changed = {"admitted-care", "emergency-care", "outpatients", "community"}

    def kind(name: str) -> str:
        parts = name.split("/")
        return parts[1] if parts[0] == "extracts" else name

    # Everything else (GP, social care, deaths, the practices' and providers' lists, the
    # truth of people, risk, objections and indicators) is the same bytes.
    same = {n for n in own if kind(n) not in changed} - {
        "programme.toml", "truth/faults.csv", "truth/records.parquet",
    }  # fmt: skip
    assert same == {n for n in a if kind(n) not in changed} - {
        "programme.toml", "truth/faults.csv", "truth/records.parquet",
    }  # fmt: skip
    assert all(own[n] == a[n] for n in same)
    tokens = {n.split("/")[-1].split("_")[1] for n in a if kind(n) in changed}
    assert tokens == {"hes-apc", "hes-ae", "hes-op", "CYP001MPI", "CYP101Referral",
                      "CYP201CareContact"}  # fmt: skip
    toml = a["programme.toml"].decode()
    for layout in ("hes-apc", "hes-ae", "hes-op", "csds"):
        assert f'layout = "{layout}"' in toml
