"""NHS numbers, postcodes and the noise other systems add to identifiers."""

from __future__ import annotations

import pandas as pd
from nhs_number import is_valid

from openphm import reference
from openphm.synth.names import NICKNAMES

from .conftest import read, read_all

NON_GP = "extracts/[!g]*/RZ[123]/*_20????.csv"


def test_every_gp_nhs_number_is_valid_and_from_the_test_range(region):
    patients = read_all(region, "extracts/gp/*/*_patients_*.csv")
    numbers = patients.get("nhs_number", pd.Series(dtype=str)).combine_first(
        patients.get("NHSNumber", pd.Series(dtype=str))
    )
    given = numbers.dropna()
    assert len(given) > 0.95 * len(numbers)
    assert given.str.startswith("999").all()
    assert given.map(is_valid).all()


def test_non_gp_records_miss_or_mistype_nhs_numbers_at_the_requested_rates(region):
    rows = read_all(region, NON_GP)
    missing = rows["nhs_number"].isna()
    digits = rows.loc[~missing, "nhs_number"].str.replace(" ", "", regex=False)
    invalid = ~digits.map(is_valid)
    assert abs(missing.mean() - 0.05) < 0.01
    assert abs(invalid.sum() / len(rows) - 0.01) < 0.004
    assert rows["nhs_number"].str.contains(" ", na=False).any()  # some written with spaces


def test_non_gp_records_carry_realistic_name_and_date_noise(region, people):
    records = pd.read_parquet(region / "truth" / "records.parquet")
    ecds = records[records["file"].str.contains("RZ1_ecds_202609")].sort_values("row")
    rows = read(region / ecds["file"].iloc[0])
    truth = people.set_index("person_id").loc[ecds["person_id"]].reset_index()
    # A familiar form of the true name (Robert -> Bob, Elizabeth -> Liz, ...), for any name
    # that has one.
    nicknamed = truth["given_name"].map(NICKNAMES) == rows["given_name"]
    differs = rows["given_name"] != truth["given_name"]
    swapped = rows["date_of_birth"] != truth["date_of_birth"].astype(str)
    assert 0.01 < differs.mean() < 0.10
    assert 0.001 < swapped.mean() < 0.03
    assert nicknamed.sum() > 0


def test_postcodes_are_on_real_lsoas_and_set_each_persons_imd_decile(people):
    lookup = reference.postcode_lsoa().set_index("postcode")["lsoa_code"]
    imd = reference.imd2019().set_index("lsoa_code")["imd_decile"]
    assert people["postcode"].isin(lookup.index).all()
    assert (people["postcode"].map(lookup) == people["lsoa_code"]).all()
    assert (people["lsoa_code"].map(imd) == people["imd_decile"]).all()
    assert people["imd_decile"].nunique() == 10  # a real deprivation spread


def test_movers_show_old_postcodes_in_hospital_records(region, people):
    movers = people.dropna(subset=["previous_postcode"])
    rows = read_all(region, "extracts/outpatients/*/*.csv")
    assert len(movers) > 0.03 * len(people)
    assert rows["postcode"].isin(movers["previous_postcode"]).sum() > 0.5 * len(movers)
