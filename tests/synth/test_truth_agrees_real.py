"""The generator's truth agrees with its extracts when the region's hospital and community data
are written in the published layouts (`--layouts real`: HES APC episodes, CSDS): each register
at the end date, made from the GP records and the HES episodes' diagnoses read from the files
with pandas, is the truth's person for person (test_truth_agrees, on a region of its own)."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.synth import RegionOptions, generate_region

from .conftest import END
from .test_truth_agrees import (  # noqa: F401  (fixtures and the test, run on this region)
    extracts,
    registers,
    test_each_register_in_the_extracts_is_the_truths_person_for_person,
)
from .test_truth_agrees import registered as registered


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    directory = tmp_path_factory.mktemp("synth-real") / "region"
    generate_region(directory, RegionOptions(people=5000, practices=2, seed=11, layouts="real"))
    return directory


@pytest.fixture(scope="module")
def people(region) -> pd.DataFrame:
    people = pd.read_parquet(region / "truth" / "people.parquet")
    exit_day = pd.to_datetime(people[["death_date", "leave_date"]].min(axis=1))
    people["registered_at_end"] = (exit_day.isna() | (exit_day > pd.Timestamp(END))) & (
        pd.to_datetime(people["registration_start"]) <= pd.Timestamp(END)
    )
    return people


def test_the_admitted_care_files_are_hes_episodes(region):
    files = sorted(p.name for p in (region / "extracts" / "admitted-care").glob("*/*.csv"))
    assert files and all("_hes-apc_" in f for f in files)


def test_the_hes_diagnoses_put_on_each_register_only_the_truths_people(region, registered):
    """The HES episodes' diagnoses alone (read from DIAG_4_01..20, the filling X dropped):
    every person they put on a register is on it in the truth, and they put people on every
    registers that have hospital codes (so the episodes are read, not skipped)."""
    from openphm.analytics.definitions import REGISTERS

    from .test_truth_agrees import TRUTH_COLUMN, _codes, _hospital

    hospital = _hospital(region)
    stems = pd.concat(
        [hospital, hospital.assign(code=hospital["code"].str[:3]),
         hospital.assign(code=hospital["code"].str[:4])]
    ).drop_duplicates()  # fmt: skip
    shown = listed = 0
    for r in REGISTERS:
        codes = _codes(r.hospital)
        if not codes:
            continue
        listed += 1
        coded = set(stems.loc[stems["code"].isin(codes), "person_id"])
        eligible = registered[registered["whole_years"] >= r.min_age]
        onset = pd.to_datetime(eligible[TRUTH_COLUMN[r.name]])
        on = set(eligible.index[(onset <= pd.Timestamp(END)).to_numpy()])
        got = coded & set(eligible.index)
        assert got <= on, f"{r.name}: {sorted(got - on)[:10]} are not on it in the truth"
        shown += bool(got)
    assert shown == listed
