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
    """The table described above, as an Ibis expression."""
    spans = months_of(reference_date, first_activity(zone), months)
    calendar = memtable(
        pd.DataFrame({"month": [s for s, _ in spans], "month_end": [e for _, e in spans]})
    ).mutate(month=ibis._.month.cast("date"), month_end=ibis._.month_end.cast("date"))
    people = zone.table("people")
    regs = zone.table("registrations")
    registered = (
        regs.cross_join(calendar)
        .filter(
            lambda t: (
                (t.start_date <= t.month_end) & (t.end_date.isnull() | (t.end_date >= t.month))
            )
        )
        .select("pseudonym", "month", "month_end")
        .distinct()
    )
    registered = registered.join(people, "pseudonym").filter(
        lambda t: (
            (t.date_of_death.isnull() | (t.date_of_death >= t.month))
            & (t.birth_month <= t.month_end)
        )
    )
    # Made once for this build: every measure joins it and the union would otherwise work it
    # out again for each (24 months of registrations: 73 s of a 1M build's 103 s before).
    registered = zone.scratch(
        "month_registered",
        registered.select("pseudonym", "month", practice=registered.practice),
    )
    denominators = zone.scratch(
        "month_denominators",
        registered.group_by(["month", "practice"]).agg(
            registered=ibis._.pseudonym.count().cast("int64")
        ),
    )
    start, end = date_literal(spans[0][0]), date_literal(spans[-1][1])
    parts = []
    for measure, (table, column, where) in MEASURES.items():
        t = zone.table(table)
        t = t.filter(t[column].between(start, end))
        if where is not None:
            t = t.filter(where(t))
        t = t.select("pseudonym", month=t[column].truncate("M").cast("date"))
        counted = (
            t.join(registered, ["pseudonym", "month"])
            .group_by(["month", "practice"])
            .agg(events=ibis._.count().cast("int64"))
        )
        # Every month and practice with people registered, a month without events as 0.
        parts.append(
            denominators.left_join(counted, ["month", "practice"]).select(
                "month",
                measure=ibis.literal(measure),
                practice=denominators.practice,
                events=ibis._.events.fill_null(0).cast("int64"),
                registered="registered",
            )
        )
    return ibis.union(*parts).order_by(["measure", "month", "practice"])
