"""Activity month by month: the series that SPC charts (analytics.spc) and trends read.

One row per month of data, measure and practice: the events in the month of people registered
in it, and how many people were registered in it (registered at some time in the month, alive
at its start, born by its end). Practices are the people's practice in linked.people, as every
other breakdown (analytics.population); PCN, place and region are sums of practices, made
where they are shown, so that disclosure control sees the areas and their practices as one
table (disclosure.tables.control_areas).

The months run back from the reference date's month (which the one reference-date rule makes
the last complete month of data, analytics.period) to `MONTHS` months, or to the first month
any activity table holds, whichever is later: a month before the data began would be a false
zero on every chart.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from openphm.analytics.zone import Zone, date_literal, memtable

MONTHS = 24
TABLE = "activity_months"

# measure → (linked table, its date column, the rows counted); names as in person_activity.
MEASURES: dict[str, tuple[str, str, object]] = {
    "emergency_admissions": ("apc_spells", "admission_date",
                             lambda t: t.emergency.fill_null(False)),
    "elective_admissions": ("apc_spells", "admission_date", lambda t: t.elective.fill_null(False)),
    "ec_attendances": ("ec_attendances", "arrival_date", None),
    "outpatient_attendances": ("op_appointments", "appointment_date",
                               lambda t: t.attended.fill_null(False)),
    "gp_consultations": ("consultations", "consultation_date", None),
    "community_contacts": ("community_contacts", "contact_date", None),
}  # fmt: skip

LABELS = {
    "emergency_admissions": "Emergency admissions",
    "elective_admissions": "Elective admissions",
    "ec_attendances": "Emergency department attendances",
    "outpatient_attendances": "Outpatient appointments attended",
    "gp_consultations": "GP consultations",
    "community_contacts": "Community contacts",
}


def months_of(reference_date: dt.date, first_data: dt.date | None, months: int = MONTHS):
    """(start, end) of each month in the series, oldest first."""
    last = pd.Timestamp(reference_date).to_period("M")
    first = last - (months - 1)
    if first_data is not None:
        first = max(first, pd.Timestamp(first_data).to_period("M"))
    periods = pd.period_range(first, last, freq="M")
    return [(p.start_time.date(), p.end_time.date()) for p in periods]


def first_activity(zone: Zone) -> dt.date | None:
    """The earliest day any activity table holds."""
    days = []
    for table, column, _ in MEASURES.values():
        value = zone.table(table)[column].min().execute()
        if value is not None and not pd.isna(value):
            days.append(pd.Timestamp(value).date())
    return min(days) if days else None


def activity_months(zone: Zone, reference_date: dt.date, months: int = MONTHS):
    """The table described above, as an Ibis expression.

    Who is registered in which month comes from each person's spells of registration in
    whole months (`registered_spells`), not from every registration repeated for each month:
    a month's registered people are those whose spell began in it or before and ended in it
    or after, counted per practice from where spells begin and end, and a month's events are
    those of people in a spell that holds the month. 24 months of registrations, one row
    each, took 13 s of a 1M-person build; the spells take a few."""
    spans = months_of(reference_date, first_activity(zone), months)
    first, last = spans[0][0], spans[-1][0]
    spells = zone.scratch("month_spells", registered_spells(zone, first, last))
    calendar = memtable(pd.DataFrame({"month": [s for s, _ in spans]})).mutate(
        month=ibis._.month.cast("date")
    )
    began = spells.group_by(["practice", "first_month"]).agg(began=ibis._.count())
    ended = spells.group_by(["practice", "last_month"]).agg(ended=ibis._.count())
    # A spell counts in every month from its first to its last: those begun by the month,
    # less those ended before it.
    begun = (
        calendar.cross_join(began)
        .filter(lambda t: t.first_month <= t.month)
        .group_by(["month", "practice"])
        .agg(begun=ibis._.began.sum())
    )
    over = (
        calendar.cross_join(ended)
        .filter(lambda t: t.last_month < t.month)
        .group_by(["month", "practice"])
        .agg(over=ibis._.ended.sum())
    )
    # Practices are compared as values here, so that people with no practice (a null) are a
    # group of their own as they are in every month's count, not lost to a join on null.
    both = begun.left_join(over, _same_month_and_practice(begun, over))
    denominators = zone.scratch(
        "month_denominators",
        both.select(
            month=both.month,
            practice=both.practice,
            registered=(both.begun - both.over.fill_null(0)).cast("int64"),
        ).filter(ibis._.registered > 0),
    )
    start, end = date_literal(spans[0][0]), date_literal(spans[-1][1])
    parts = []
    for measure, (table, column, where) in MEASURES.items():
        t = zone.table(table)
        t = t.filter(t[column].between(start, end))
        if where is not None:
            t = t.filter(where(t))
        t = t.select("pseudonym", month=t[column].truncate("M").cast("date"))
        # A person's spells do not overlap, so an event falls in one spell at most.
        held = t.join(
            spells,
            [
                t.pseudonym == spells.pseudonym,
                t.month >= spells.first_month,
                t.month <= spells.last_month,
            ],
        )
        counted = held.group_by([held.month, held.practice]).agg(
            events=ibis._.count().cast("int64")
        )
        # Every month and practice with people registered, a month without events as 0 (the
        # people with no practice matched as a group too, as above).
        joined = denominators.left_join(counted, _same_month_and_practice(denominators, counted))
        parts.append(
            joined.select(
                "month",
                measure=ibis.literal(measure),
                practice=denominators.practice,
                events=ibis._.events.fill_null(0).cast("int64"),
                registered="registered",
            )
        )
    return ibis.union(*parts).order_by(["measure", "month", "practice"])


def _same_month_and_practice(left, right) -> list:
    """Join predicates on month and practice where no practice (a null) matches no practice."""
    return [
        left.month == right.month,
        (left.practice == right.practice) | (left.practice.isnull() & right.practice.isnull()),
    ]


def registered_spells(zone: Zone, first: dt.date, last: dt.date):
    """Each person's spells of registration, in whole months from `first` to `last` (first
    days of months): pseudonym, practice (the person's, as everywhere), first_month,
    last_month. A person is registered in a month when a registration of theirs began by its
    end and had not ended before its start, and they were alive at its start and born by its
    end; overlapping registrations (a move, registered at both practices in the month) are
    one spell, so no month counts a person twice."""
    people = zone.table("people")
    regs = zone.table("registrations")
    month = lambda day: day.truncate("M").cast("date")  # noqa: E731
    lo, hi = date_literal(first), date_literal(last)
    t = regs.select("pseudonym", "start_date", "end_date").join(
        people.select("pseudonym", "practice", "birth_month", "date_of_death"), "pseudonym"
    )
    t = t.filter(t.start_date.notnull() & t.birth_month.notnull())
    t = t.select(
        "pseudonym",
        "practice",
        first_month=ibis.greatest(month(t.start_date), month(t.birth_month), lo),
        last_month=ibis.least(
            month(t.end_date).fill_null(hi), month(t.date_of_death).fill_null(hi), hi
        ),
    ).filter(lambda t: t.first_month <= t.last_month)
    # Gaps and islands: a registration starts a new spell when it begins after every earlier
    # one (in order of beginning) has ended.
    earlier = ibis.window(group_by="pseudonym", order_by=["first_month", "last_month"],
                          rows=(None, -1))  # fmt: skip
    t = t.mutate(ended=t.last_month.max().over(earlier))
    t = t.mutate(new=(t.ended.isnull() | (t.first_month > t.ended)).cast("int64"))
    so_far = ibis.window(group_by="pseudonym", order_by=["first_month", "last_month"],
                         rows=(None, 0))  # fmt: skip
    t = t.mutate(spell=t.new.sum().over(so_far))
    return (
        t.group_by(["pseudonym", "practice", "spell"])
        .agg(first_month=ibis._.first_month.min(), last_month=ibis._.last_month.max())
        .drop("spell")
    )
