"""One synthetic region of 20,000 people shared by the tests of this folder (generated once)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from openphm.synth import RegionOptions, generate_region

END = dt.date(2026, 10, 31)
OPTIONS = RegionOptions(people=20_000, practices=4, seed=11)


@pytest.fixture(scope="session")
def region(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("synth") / "region"
    generate_region(directory, OPTIONS)
    return directory


@pytest.fixture(scope="session")
def people(region) -> pd.DataFrame:
    people = pd.read_parquet(region / "truth" / "people.parquet")
    people["age"] = (pd.Timestamp(END) - pd.to_datetime(people["date_of_birth"])).dt.days / 365.25
    exit_day = pd.to_datetime(people[["death_date", "leave_date"]].min(axis=1))
    people["registered_at_end"] = (exit_day.isna() | (exit_day > pd.Timestamp(END))) & (
        pd.to_datetime(people["registration_start"]) <= pd.Timestamp(END)
    )
    return people


@pytest.fixture(scope="session")
def person_years(people) -> float:
    """Time each person spent registered in the 24-month window, summed."""
    start = pd.Timestamp("2024-11-01")
    begin = pd.to_datetime(people["registration_start"]).clip(lower=start)
    stop = pd.to_datetime(people[["death_date", "leave_date"]].min(axis=1)).fillna(
        pd.Timestamp(END) + pd.Timedelta(days=1)
    )
    return float(((stop - begin).dt.days.clip(lower=0) / 365.25).sum())


def read(path: Path) -> pd.DataFrame:
    """An extract as strings, blanks as missing; malformed lines skipped."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], on_bad_lines="skip")


def read_all(region: Path, pattern: str) -> pd.DataFrame:
    return pd.concat([read(p) for p in sorted(region.glob(pattern))], ignore_index=True)
