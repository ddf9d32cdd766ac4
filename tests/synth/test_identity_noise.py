"""`--identity-noise`: how many faults a region's non-GP records carry in names, dates of birth
and postcodes. `high` puts several errors in many records, as linkage benchmarks' noisy files
do; the truth still says whose each record is."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.synth import RegionOptions, generate_region

from .conftest import read


def _faults(region) -> pd.Series:
    """Per non-GP row, how many of its identifiers differ from the person's own."""
    faulty = set(pd.read_csv(region / "truth" / "faults.csv")["file"])
    files = [p for p in sorted(region.glob("extracts/[!g]*/RZ[123]/*_20????.csv"))
             if str(p.relative_to(region)) not in faulty]  # fmt: skip
    rows = pd.concat(
        [read(p).assign(file=str(p.relative_to(region)), row=lambda f: range(1, len(f) + 1))
         for p in files],
        ignore_index=True,
    )  # fmt: skip
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    people = pd.read_parquet(region / "truth" / "people.parquet").set_index("person_id")
    rows = rows.merge(records, on=["file", "row"])
    truth = people.loc[rows["person_id"]].reset_index()
    postcodes = (rows["postcode"] != truth["postcode"]) & (
        rows["postcode"] != truth["previous_postcode"]
    )
    return (
        (rows["given_name"] != truth["given_name"]).astype(int)
        + (rows["family_name"] != truth["family_name"]).astype(int)
        + (rows["date_of_birth"] != truth["date_of_birth"].astype(str)).astype(int)
        + postcodes.astype(int)
    )


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noise")
    found = {}
    for level in ("low", "nhs", "high"):
        options = RegionOptions(people=2000, practices=2, seed=3, identity_noise=level)
        generate_region(folder / level, options)
        found[level] = _faults(folder / level)
    return found


def test_high_noise_puts_several_errors_in_many_records(faults):
    high = faults["high"]
    assert (high >= 1).mean() > 0.4
    assert (high >= 2).mean() > 0.1
    assert (faults["nhs"] >= 2).mean() < 0.03


def test_low_noise_is_quieter_than_nhs_noise(faults):
    assert (faults["low"] >= 1).mean() < (faults["nhs"] >= 1).mean() < (faults["high"] >= 1).mean()


def test_an_unknown_noise_level_is_refused():
    with pytest.raises(ValueError, match="identity noise must be one of low, nhs, high"):
        RegionOptions(people=2000, practices=2, seed=3, identity_noise="extreme")
