"""Activity, outcomes and cost per person in the window before the reference date.

Reads linked.consultations, ec_attendances, apc_spells, op_appointments, community_contacts,
social_care_services and people; `person_activity` is written by `build`. The window runs from
`window_start` to the reference date, both included. Costs come from a tariff table (activity,
unit_cost_gbp); the default is src/openphm/reference/tariffs/default.csv.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import ibis
import pandas as pd

from openphm.analytics.definitions import ACTIVITY_COLUMNS, READMISSION_DAYS
from openphm.analytics.zone import Zone, date_literal
from openphm.console import UserFacingError


class TariffError(UserFacingError):
    """A tariff file that cannot be used; the message says which row or column."""


def load_tariff(path: Path | None = None) -> dict[str, float]:
    """activity → unit cost in GBP, from a CSV with columns activity, unit_cost_gbp."""
    if path is None:
        source = resources.files("openphm.reference").joinpath("tariffs/default.csv")
        with source.open("rb") as handle:
            frame = pd.read_csv(handle, comment="#")
        where = "the default tariff"
    else:
        try:
            frame = pd.read_csv(path, comment="#")
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise TariffError(f"{path} is not a readable CSV file ({type(err).__name__})") from None
        where = str(path)
    for column in ("activity", "unit_cost_gbp"):
        if column not in frame.columns:
            raise TariffError(f"{where} has no column {column!r} (needs activity,unit_cost_gbp)")
    costs = pd.to_numeric(frame["unit_cost_gbp"], errors="coerce")
    if costs.isna().any():
        row = int(costs.isna().idxmax()) + 2
        raise TariffError(f"{where} row {row}: unit_cost_gbp is not a number")
    needed = {tariff for _, _, tariff in ACTIVITY_COLUMNS if tariff}
    missing = needed - set(frame["activity"])
    if missing:
        raise TariffError(f"{where} has no unit cost for: {', '.join(sorted(missing))}")
    return dict(zip(frame["activity"], costs.astype(float), strict=True))


def _count_by_person(table, date_column: str, start, end, name: str, where=None):
    t = table
    t = t.filter(t[date_column].between(start, end))
    if where is not None:
        t = t.filter(where(t))
    return t.group_by("pseudonym").agg(**{name: t.count().cast("int32")})


def person_activity(zone: Zone, population, reference_date: dt.date, window_start: dt.date,
                    tariff: dict[str, float]):  # fmt: skip
    """One row per person in the population: a count per ACTIVITY_COLUMNS entry and cost."""
    start, end = date_literal(window_start), date_literal(reference_date)
    apc = zone.table("apc_spells")
    readmissions = readmitted_spells(apc)
    in_window = apc.filter(apc.admission_date.between(start, end))
    counts = [
        _count_by_person(zone.table("consultations"), "consultation_date", start, end,
                         "gp_consultations"),
        _count_by_person(zone.table("ec_attendances"), "arrival_date", start, end,
                         "ec_attendances"),
        _count_by_person(apc, "admission_date", start, end, "emergency_admissions",
                         lambda t: t.emergency.fill_null(False)),
        _count_by_person(apc, "admission_date", start, end, "elective_admissions",
                         lambda t: t.elective.fill_null(False)),
        # Bed days up to the reference date only: a discharge after it is the future, and
        # counting it would leak the outcome period into features built on this table.
        in_window.mutate(
            days=ibis.least(in_window.discharge_date.fill_null(end), end)
            .delta(in_window.admission_date, unit="day")
        ).group_by("pseudonym").agg(bed_days=ibis._.days.sum().cast("int32")),
        _count_by_person(zone.table("op_appointments"), "appointment_date", start, end,
                         "outpatient_attendances", lambda t: t.attended.fill_null(False)),
        _count_by_person(zone.table("community_contacts"), "contact_date", start, end,
                         "community_contacts"),
        _social_care(zone.table("social_care_services"), start, end),
        readmissions.filter(readmissions.admission_date.between(start, end))
        .group_by("pseudonym").agg(readmissions_30d=ibis._.count().cast("int32")),
    ]  # fmt: skip
    t = population.select("pseudonym", "died")
    for c in counts:
        t = t.left_join(c, "pseudonym").drop("pseudonym_right")
    columns = {name: t[name].fill_null(0) for name, _, _ in ACTIVITY_COLUMNS if name != "died"}
    cost = sum(
        (columns[name] * tariff[unit] for name, _, unit in ACTIVITY_COLUMNS if unit),
        ibis.literal(0.0),
    )
    return t.select(
        "pseudonym", **columns, died=t.died.cast("int32"), cost=cost.cast("float64").round(2)
    )


def readmitted_spells(apc):
    """The spells of `apc` that are 30-day emergency readmissions: emergency admissions 0-30
    days after the discharge of the person's previous spell (any method). Shared by the activity
    table and the readmission indicator (openphm.indicators)."""
    # One order on every engine, or DuckDB and Spark count differently (they did, at 100k
    # people): spells admitted and discharged on the same days (one stay recorded twice, say
    # as elective and as emergency) put the emergency one first, so it is compared with the
    # discharge before the stay, not with its own twin; a missing discharge date (still in
    # hospital) last. Spells alike in all three give the same count in either order.
    previous = apc.discharge_date.lag().over(
        ibis.window(
            group_by="pseudonym",
            order_by=[
                ibis.asc(apc.admission_date, nulls_first=False),
                ibis.asc(apc.discharge_date, nulls_first=False),
                ibis.desc(apc.emergency, nulls_first=False),
            ],
        )
    )
    ordered = apc.mutate(previous_discharge=previous)
    readmitted = (
        ordered.emergency.fill_null(False)
        & ordered.previous_discharge.notnull()
        & (ordered.admission_date >= ordered.previous_discharge)
        & (ordered.admission_date.delta(ordered.previous_discharge, unit="day") <= READMISSION_DAYS)
    )
    return ordered.filter(readmitted)


def _social_care(services, start, end):
    open_in_window = (services.service_start <= end) & (
        services.service_end.isnull() | (services.service_end >= start)
    )
    t = services.filter(open_in_window)
    return t.group_by("pseudonym").agg(social_care_services=t.count().cast("int32"))
