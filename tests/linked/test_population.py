"""Zone 3's one definition of age, age band, registered population and activity window
(openphm.linked.population), against hand-worked cases."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from openphm.linked import population as counted

DAY = dt.date(2026, 10, 31)


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        ("1990-06-01", "2026-06-14", 35),  # before the 15th of the birth month
        ("1990-06-01", "2026-06-15", 36),  # on it
        ("1990-12-01", "2026-10-31", 35),
        ("1936-10-01", "2026-10-31", 90),
        ("2026-10-01", "2026-10-31", 0),
    ],
)
def test_age_is_whole_years_from_the_15th_of_the_birth_month(born, day, age):
    table = ibis.memtable({"birth_month": [dt.date.fromisoformat(born)]})
    got = table.select(age=counted.age(table.birth_month, dt.date.fromisoformat(day)))
    assert got.to_pandas()["age"].tolist() == [age]


def test_the_bands_are_esp2013s_nineteen_and_both_forms_agree_at_every_width():
    assert counted.AGE_BANDS[:2] == ("0-4", "5-9") and counted.AGE_BANDS[-2:] == ("85-89", "90+")
    assert len(counted.AGE_BANDS) == 19
    ages = pd.Series(range(0, 121))
    for width in (5, 10, 20):
        table = ibis.memtable({"age": ages.tolist()})
        ibis_bands = table.select(b=counted.age_band(table.age, width)).to_pandas()["b"]
        assert ibis_bands.tolist() == counted.band_of(ages, width).tolist(), width
    five = counted.band_of(ages)
    assert set(five) == set(counted.AGE_BANDS)
    assert (five[4], five[5], five[89], five[90], five[104]) == (
        "0-4",
        "5-9",
        "85-89",
        "90+",
        "90+",
    )
    assert counted.band_of(pd.Series([85, 99, 100]), 20).tolist() == ["80-99", "80-99", "90+"]


def test_the_registered_population_is_registered_alive_and_born_at_the_end_of_the_day():
    people = ibis.memtable(pd.DataFrame({
        "pseudonym": list("abcdefg"),
        "birth_month": [dt.date(1950, 1, 1)] * 6 + [dt.date(2026, 11, 1)],
        "date_of_death": [None, DAY, DAY + dt.timedelta(days=1), None, None, None, None],
    }).astype({"date_of_death": "datetime64[s]"}))  # fmt: skip
    registrations = ibis.memtable(pd.DataFrame({
        "pseudonym": ["a", "b", "c", "d", "e", "f", "g"],
        "start_date": [dt.date(2000, 1, 1)] * 4 + [dt.date(2026, 11, 1), DAY, DAY],
        "end_date": [None, None, None, DAY, None, None, None],
    }).astype({"end_date": "datetime64[s]"}))  # fmt: skip
    people = people.mutate(date_of_death=people.date_of_death.cast("date"))
    registrations = registrations.mutate(end_date=registrations.end_date.cast("date"))
    got = counted.registered_population(people, registrations, DAY).to_pandas()
    # b died on the day, d's registration ended on it, e registered after it, g born after it.
    assert sorted(got["pseudonym"]) == ["a", "c", "f"]


def test_the_activity_window_is_the_twelve_months_to_the_reference_date_both_included():
    assert counted.activity_window(DAY) == (dt.date(2025, 11, 1), DAY)
    assert counted.activity_window(dt.date(2024, 2, 29)) == (dt.date(2023, 3, 1),
                                                             dt.date(2024, 2, 29))  # fmt: skip
    assert counted.activity_window(DAY, 3) == (dt.date(2026, 8, 1), DAY)
