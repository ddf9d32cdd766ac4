"""Who is counted, and how old they are: the four definitions every part of OpenPHM counts
people by, written once. Analytics (`analytics.population`, and so every measure, register and
the figures the web pages show) and the recipients' extracts (`pseudonymise.extracts`, with
k-anonymity's bands from `disclosure.kanonymity`) use these and no other:

- **age**: whole years at a date, from the month of birth (zone 3 keeps no day of birth),
  taking the 15th of the birth month as the birthday (docs/linked-model.md);
- **age band**: five-year bands 0-4, 5-9, …, 85-89 and 90+, the 19 bands of the 2013 European
  Standard Population as OHID standardises with. k-anonymity's wider bands are the same rule
  at 10 or 20 years: a band starts at a multiple of its width, and one that would start at 90
  or later is 90+ (so at 20 years the bands are 0-19 … 80-99, then 90+ past 99);
- **registered population** at a date: people with a registration open at the end of that
  day, alive at its end (died after it, or not at all) and born by it;
- **activity window**: the months before a reference date, both ends included (12 by
  default: 1 November 2025 to 31 October 2026 for a reference date of 31 October 2026).

Written with Ibis, so the same expression runs on DuckDB and on Spark; `band_of` is the band
rule for a pandas column of ages (k-anonymity generalises a frame in memory), held to the Ibis
one by tests/linked/test_population.py. Imports nothing of OpenPHM.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

BIRTHDAY = 15  # the day of the birth month taken as the birthday
AGE_BAND_YEARS = 5
TOP_AGE = 90  # the open top band, "90+"
AGE_BANDS: tuple[str, ...] = (
    *(f"{a}-{a + AGE_BAND_YEARS - 1}" for a in range(0, TOP_AGE, AGE_BAND_YEARS)),
    f"{TOP_AGE}+",
)
ACTIVITY_WINDOW_MONTHS = 12


def age(birth_month, day: dt.date):
    """Age in whole years on `day` (an Ibis date column of birth months): one less than the
    difference of the years before the 15th of the birth month."""
    before_birthday = (day.month < birth_month.month()) | (
        (birth_month.month() == day.month) & (day.day < BIRTHDAY)
    )
    return (day.year - birth_month.year() - before_birthday.ifelse(1, 0)).cast("int32")


def age_band(years, width: int = AGE_BAND_YEARS):
    """The band of an Ibis integer column of ages: "0-4" … "85-89", "90+" (at `width` 5)."""
    low = (years // width) * width
    return (low >= TOP_AGE).ifelse(
        f"{TOP_AGE}+", low.cast("string") + "-" + (low + width - 1).cast("string")
    )


def band_of(years: pd.Series, width: int = AGE_BAND_YEARS) -> pd.Series:
    """`age_band` for a pandas column of whole years."""
    low = (years // width * width).astype(int)
    bands = low.astype(str) + "-" + (low + width - 1).astype(str)
    return bands.where(low < TOP_AGE, f"{TOP_AGE}+")


def alive_at(people, day: dt.date):
    """Alive at the end of `day`: no date of death, or one after it."""
    import ibis

    return people.date_of_death.isnull() | (people.date_of_death > ibis.literal(day, type="date"))


def open_at(registrations, day: dt.date):
    """The registrations open at the end of `day`: started by it, not ended by it."""
    import ibis

    when = ibis.literal(day, type="date")
    return registrations.filter(
        registrations.start_date <= when,
        registrations.end_date.isnull() | (registrations.end_date > when),
    )


def registered_at(people, registrations, day: dt.date):
    """A boolean column of `people`: in the registered population at `day`."""
    import ibis

    return (
        people.pseudonym.isin(open_at(registrations, day).pseudonym)
        & alive_at(people, day)
        & (people.birth_month <= ibis.literal(day, type="date"))
    )


def registered_population(people, registrations, day: dt.date):
    """`people` in the registered population at `day`."""
    return people.filter(registered_at(people, registrations, day))


def months_before(day: dt.date, months: int) -> dt.date:
    """The first day of a window of `months` months ending on `day` (inclusive both ends)."""
    return (pd.Timestamp(day) - pd.DateOffset(months=months) + pd.Timedelta(days=1)).date()


def activity_window(
    reference_date: dt.date, months: int = ACTIVITY_WINDOW_MONTHS
) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the activity window ending on `reference_date`."""
    return months_before(reference_date, months), reference_date
