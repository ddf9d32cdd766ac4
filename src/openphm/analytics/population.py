"""The population analysed at a reference date, and the coded events every score starts from.

Reads linked.people, registrations, gp_events, apc_spells and medications. The coded-event
tables are built once per build: one pass over each event table, joined to every code list the
build needs, so 25 million GP events are scanned once, not once per register.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from openphm.analytics.codelists import Codelist
from openphm.analytics.zone import Zone, date_literal, memtable
from openphm.linked import population as counted

# A year of person-time, in days (the mean length of a Julian year), and four of them.
DAYS_PER_YEAR = 365.25
DAYS_PER_4_YEARS = 1461


def population(zone: Zone, reference_date: dt.date, window_start: dt.date):
    """One row per person registered at some time in the window and alive at its start.

    in_reference_population: the registered population at the reference date (the
    denominator of prevalence); in_window_population: everyone here (the denominator of
    activity and mortality per head); person_years: the time each was registered and alive in
    the window (the denominator per person-year). Age, age band and the registered population
    are zone 3's one definition of each (openphm.linked.population)."""
    ref, start = date_literal(reference_date), date_literal(window_start)
    people = zone.table("people")
    regs = zone.table("registrations")
    in_window = regs.filter(
        regs.start_date <= ref, regs.end_date.isnull() | (regs.end_date >= start)
    )
    alive_at_start = people.date_of_death.isnull() | (people.date_of_death >= start)
    registered = counted.registered_at(people, regs, reference_date)
    age = counted.age(people.birth_month, reference_date)
    age_band = counted.age_band(age)
    quintile = ((people.imd_decile + 1) // 2).cast("int32")
    base = people.filter(
        people.pseudonym.isin(in_window.pseudonym), alive_at_start, people.birth_month <= ref
    ).select(
        "pseudonym",
        "sex",
        "ethnic_group",
        "lsoa",
        "imd_decile",
        "practice",
        age=age,
        age_band=age_band,
        imd_quintile=quintile,
        core20=people.imd_decile.isnull().ifelse(
            "Unknown", (quintile == 1).ifelse("Core20", "Rest")
        ),
        in_reference_population=registered,
        in_window_population=ibis.literal(True),
        aged_65_plus=(age >= 65) & registered,
        died=people.date_of_death.between(start, ref).fill_null(False),
    )
    return _with_person_years(base, in_window, people, start, ref)


def _with_person_years(base, in_window, people, start, ref):
    """`base` with person_years: the time each was registered and alive in the window. From
    the later of its start and the first registration's start to the earliest of the reference
    date, the day before the last registration ends and the date of death, both ends counted
    (registered on the day the window starts and alive to the reference date: the window's
    days)."""
    spans = in_window.group_by("pseudonym").agg(
        first_start=in_window.start_date.min(),
        last_day=(in_window.end_date.cast("date") - ibis.interval(days=1)).cast("date").max(),
        still_open=in_window.end_date.isnull().any(),
    )
    deaths = people.select("pseudonym", death=people.date_of_death)
    t = base.left_join(spans, "pseudonym").drop("pseudonym_right")
    t = t.left_join(deaths, "pseudonym").drop("pseudonym_right")
    begin = ibis.greatest(t.first_start, start)
    last = ibis.least(t.still_open.ifelse(ref, t.last_day.fill_null(ref)), ref,
                      t.death.fill_null(ref))  # fmt: skip
    days = (last.delta(begin, unit="day") + 1).clip(lower=0).fill_null(0)
    # days / 365.25 as 4·days / 1461, whole numbers only: Spark SQL reads the literal 365.25 as
    # a DECIMAL and divides to 6 places, so the engines would disagree in the 7th figure.
    t = t.mutate(person_years=(days * 4).cast("float64") / DAYS_PER_4_YEARS)
    return t.drop("first_start", "last_day", "still_open", "death")


def _membership(lists: dict[str, Codelist]):
    rows = [(name, code) for name, cl in lists.items() for code in sorted(cl.codes)]
    return memtable(pd.DataFrame(rows, columns=["list", "code"]))


def gp_coded(zone: Zone, reference_date: dt.date, lists: dict[str, Codelist]):
    """(pseudonym, list, first_date, last_date) for every GP code list a person has a code
    from on or before the reference date."""
    events = zone.table("gp_events")
    events = events.filter(events.event_date <= date_literal(reference_date))
    members = _membership(lists)
    joined = events.join(members, events.snomed_code == members.code)
    return joined.group_by(["pseudonym", "list"]).agg(
        first_date=joined.event_date.min(), last_date=joined.event_date.max()
    )


def hospital_diagnoses(zone: Zone, reference_date: dt.date, since: dt.date | None = None):
    """(pseudonym, admission_date, code): every primary and secondary diagnosis of spells
    admitted on or before the reference date (and on or after `since`)."""
    spells = zone.table("apc_spells")
    spells = spells.filter(spells.admission_date <= date_literal(reference_date))
    if since is not None:
        spells = spells.filter(spells.admission_date >= date_literal(since))
    primary = spells.select("pseudonym", "admission_date", code=spells.primary_diagnosis)
    secondary = spells.select(
        "pseudonym", "admission_date", code=spells.secondary_diagnoses.unnest()
    )
    both = primary.union(secondary, distinct=False)
    return both.filter(both.code.notnull() & (both.code != ""))


def hospital_coded(zone: Zone, reference_date: dt.date, lists: dict[str, Codelist]):
    """As `gp_coded`, for ICD-10 lists against hospital diagnoses. A list code matches a
    diagnosis equal to it or starting with it at 3 or 4 characters (I10 matches I10 and I109;
    I501 matches I501 but not I500)."""
    diagnoses = hospital_diagnoses(zone, reference_date)
    stems = [
        diagnoses.select("pseudonym", "admission_date", stem=diagnoses.code.substr(0, n))
        for n in (3, 4)
    ] + [diagnoses.select("pseudonym", "admission_date", stem=diagnoses.code)]
    stem = stems[0].union(stems[1], distinct=True).union(stems[2], distinct=True)
    members = _membership(lists)
    joined = stem.join(members, stem.stem == members.code)
    return joined.group_by(["pseudonym", "list"]).agg(
        first_date=joined.admission_date.min(), last_date=joined.admission_date.max()
    )


def medication_issues(
    zone: Zone, reference_date: dt.date, since: dt.date, lists: dict[str, Codelist]
):
    """(pseudonym, list, issues): how many times drugs from each dm+d list were issued in
    [since, reference date]."""
    meds = _issued_between(zone, reference_date, since)
    members = _membership(lists)
    joined = meds.join(members, meds.dmd_code == members.code)
    return joined.group_by(["pseudonym", "list"]).agg(issues=joined.count())


def distinct_drugs(zone: Zone, reference_date: dt.date, since: dt.date):
    """(pseudonym, drugs): different dm+d codes issued in [since, reference date]."""
    meds = _issued_between(zone, reference_date, since)
    return meds.group_by("pseudonym").agg(drugs=meds.dmd_code.nunique())


def _issued_between(zone: Zone, reference_date: dt.date, since: dt.date):
    meds = zone.table("medications")
    return meds.filter(meds.issue_date.between(date_literal(since), date_literal(reference_date)))
