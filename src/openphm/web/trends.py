"""Trends: each activity measure month by month as a statistical process control chart (XmR,
NHS England's Making Data Count rules: analytics.spc), for the whole programme or one PCN,
place or practice, from what analytics built (linked.activity_months).

Only published numbers are charted: each month's counts of practices, PCNs, places and their
total are controlled as one table (disclosure.tables.control_areas: counts 1-7 hidden, others
rounded to 5, hidden cells protected across levels), and each rate is worked out from the
published counts. A series with a hidden month gets no process limits (an XmR chart needs every
month) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from openphm.analytics import funnel, spc
from openphm.analytics.monthly import LABELS, TABLE
from openphm.disclosure.releases import rules_for
from openphm.disclosure.tables import TOTAL
from openphm.linked import built
from openphm.programme.workspace import Workspace
from openphm.web.figures import NotBuilt, area_levels, one_icb_for_all
from openphm.web.published import control_areas

PER = 1000
LEVELS = {"programme": "the whole programme", "icb": "integrated care board", "place": "place",
          "pcn": "primary care network", "practice": "practice"}  # fmt: skip
# Fewer is better for unplanned care; for planned care and contacts, neither way is better.
DIRECTIONS = {"emergency_admissions": spc.LOWER_IS_BETTER, "ec_attendances": spc.LOWER_IS_BETTER}
NOT_BUILT = (
    "activity by month has not been built yet. Run phm analyse WORKSPACE --role analyst "
    "(docs/analytics.md, \u201cActivity by month\u201d)"
)


@dataclass(frozen=True)
class Trend:
    measure: str
    label: str
    level: str
    area: str
    areas: dict[str, list[str]]  # level -> its areas, for the page's choices
    rows: pd.DataFrame  # month, events, registered, rate (published; None where hidden)
    chart: spc.XmR | None
    why_no_chart: str


def trend(ws: Workspace, measure: str, level: str = "programme", area: str = "") -> Trend:
    """The published series of `measure` for one area at `level`, and its XmR chart.
    LookupError for a measure, level or area the programme does not have."""
    if measure not in LABELS:
        raise LookupError(f"no measure {measure}")
    if level not in LEVELS:
        raise LookupError(f"no level {level}")
    counts = _read(ws, measure)
    controlled = pd.concat(
        [_control(ws, rows).assign(month=month) for month, rows in counts.groupby("month")],
        ignore_index=True,
    )
    choices = _choices(ws, controlled)
    level, area, mine = _pick(controlled, choices, level, area)
    rows = mine[["month", "events", "registered"]].reset_index(drop=True)
    rows["rate"] = [
        None if pd.isna(e) or pd.isna(r) or r <= 0 else PER * float(e) / float(r)
        for e, r in zip(rows["events"], rows["registered"], strict=True)
    ]
    chart, why = None, ""
    if rows["rate"].isna().any():
        hidden = int(rows["rate"].isna().sum())
        why = (
            f"no process limits: {hidden} month(s) have a hidden count, and an XmR chart "
            "needs every month"
        )
    elif len(rows) < 2:
        why = "no process limits: fewer than 2 months of data"
    else:
        chart = spc.xmr(rows["rate"].astype(float).tolist(), DIRECTIONS.get(measure, spc.NEITHER))
    return Trend(measure, LABELS[measure], level, area, choices, rows, chart, why)


def _control(ws: Workspace, rows: pd.DataFrame) -> pd.DataFrame:
    """Events and registered people per practice (one month's, or summed over months),
    controlled with the programme's areas as one table (disclosure.tables.control_areas)."""
    hierarchy = area_levels(ws, rows["practice"].astype(str).tolist())
    return control_areas(
        rows[["practice", "events", "registered"]].astype({"practice": "string"}),
        unit="practice",
        levels=hierarchy,
        counts=["events", "registered"],
        rules=rules_for(ws),
    ).table


def _choices(ws: Workspace, controlled: pd.DataFrame) -> dict[str, list[str]]:
    """Each level's areas, top down (ICB, place, PCN, practice), for the page's choices."""
    present = set(controlled["level"])
    practices = sorted(
        set(controlled.loc[controlled["level"] == "practice", "area"].astype(str)) - {TOTAL}
    )
    out = {}
    icb = ws.config.indicators.icb_areas(practices)
    if one_icb_for_all(icb, practices):
        out["icb"] = [next(iter(icb.values()))]  # the programme's total
    for lvl in ("icb", "place", "pcn", "practice"):
        if lvl in present:
            out[lvl] = sorted(set(controlled.loc[controlled["level"] == lvl, "area"]) - {TOTAL})
    return out


def _pick(controlled: pd.DataFrame, choices: dict[str, list[str]], level: str, area: str):
    """(level, area, its rows) of `controlled`: the programme's total for level "programme"
    and for an ICB that is the whole programme. The page's one list of areas names no level,
    so an area alone finds its level. LookupError for an area there is not."""
    if level == "programme" and area:
        level = next((lvl for lvl, names in choices.items() if area in names), "")
        if not level:
            raise LookupError(f"no area {area}")
    if level != "programme" and area not in choices.get(level, []):
        raise LookupError(f"no {level} {area}")
    if level == "programme" or level not in set(controlled["level"]):
        total = controlled[(controlled["level"] == "practice") & (controlled["area"] == TOTAL)]
        return level, (area if level != "programme" else ""), total
    return level, area, controlled[(controlled["level"] == level) & (controlled["area"] == area)]


LAST_12 = "last-12-months"


@dataclass(frozen=True)
class Comparison:
    """The practices' published rates of one measure over one period, against Poisson funnel
    limits (analytics.funnel) around the programme's published rate."""

    measure: str
    label: str
    period: str  # a month (YYYY-MM) or LAST_12
    period_words: str  # "in 2026-10", "in the 12 months 2025-11 to 2026-10"
    months: list[str]  # every month there is, newest first, for the page's choice
    per: str  # "a month" or "a year": the rates are per 1,000 registered people per this
    rows: pd.DataFrame  # practice, events, population, rate (per person), funnel (position)
    average: float | None  # the programme's published rate, events per person per `per`
    total_events: float | None
    total_population: float | None

    def limits(self, populations):
        return funnel.limits_at(self.average)(populations)


def compare(ws: Workspace, measure: str, period: str = LAST_12) -> Comparison:
    """Each practice's published rate of `measure` in one month (`period` YYYY-MM), or over
    the last 12 months of data (LAST_12: events per person-year, a practice's person-years its
    published person-months over 12), against Poisson funnel limits around the programme's
    published rate. `population` is the people registered in the month, or the person-years.
    LookupError for a measure or month there is not."""
    if measure not in LABELS:
        raise LookupError(f"no measure {measure}")
    counts = _read(ws, measure)
    counts["month"] = counts["month"].str[:7]
    months = sorted(set(counts["month"]), reverse=True)
    if period == LAST_12:
        chosen = months[:12]
        rows = counts[counts["month"].isin(chosen)]
        summed = rows.groupby("practice", as_index=False)[["events", "registered"]].sum()
        table = _control(ws, summed)
        spans = len(chosen)
        words = f"in the {spans} month{'s' if spans != 1 else ''} {chosen[-1]} to {chosen[0]}" + (
            "" if spans == 12 else " (all the months there are)"
        )
        per, divide = "a year", 12.0  # person-months to person-years: a rate per year
    elif period in months:
        table = _control(ws, counts[counts["month"] == period])
        words, per, divide = f"in {period}", "a month", 1.0
    else:
        raise LookupError(f"no month {period}")
    practices = table[(table["level"] == "practice") & (table["area"] != TOTAL)]
    total = table[(table["level"] == "practice") & (table["area"] == TOTAL)].iloc[0]
    out = pd.DataFrame(
        {
            "practice": practices["area"].astype(str).tolist(),
            "events": practices["events"].tolist(),
            "population": [_exposure(v, divide) for v in practices["registered"]],
        }
    )
    out["rate"] = [_rate(e, n) for e, n in zip(out["events"], out["population"], strict=True)]
    total_population = _exposure(total["registered"], divide)
    average = _rate(total["events"], total_population)
    positions = []
    for r, n in zip(out["rate"], out["population"], strict=True):
        if r is None or average is None or n is None or n <= 0:
            positions.append("")
            continue
        (lo95, hi95), (lo998, hi998) = (
            funnel.poisson_limits([n], average, confidence) for _, confidence in funnel.LIMITS
        )
        positions.append(funnel.where(r, lo95[0], hi95[0], lo998[0], hi998[0]))
    out["funnel"] = positions
    return Comparison(
        measure, LABELS[measure], period, words, months, per, out, average,
        None if pd.isna(total["events"]) else float(total["events"]), total_population,
    )  # fmt: skip


def _exposure(registered, divide: float) -> float | None:
    """People registered in the month, or person-years (person-months / 12), as published."""
    return None if pd.isna(registered) else float(registered) / divide


def _rate(events, exposure: float | None) -> float | None:
    if pd.isna(events) or exposure is None or exposure <= 0:
        return None
    return float(events) / exposure


def _read(ws: Workspace, measure: str) -> pd.DataFrame:
    frame = built.read(
        ws, TABLE, columns=["month", "practice", "events", "registered"],
        where={"measure": measure}, order_by=["month", "practice"], missing=NOT_BUILT,
    )  # fmt: skip
    if frame.empty:
        raise NotBuilt(NOT_BUILT)
    frame["month"] = pd.to_datetime(frame["month"]).dt.date.astype(str)
    return frame


HISTORY_NOT_BUILT = (
    "no measures have been kept over refreshes yet. Run phm analyse WORKSPACE --role analyst "
    "(docs/analytics.md, \u201cMeasures over refreshes\u201d)"
)


@dataclass(frozen=True)
class History:
    """One measure's published crude value at each reference date built, for the programme or
    one area, and its XmR chart."""

    measure: str
    label: str
    unit: str  # "%" or "per 1,000 people"
    level: str
    area: str
    measures: dict[str, str]  # every measure kept: name -> label, for the page's choice
    areas: dict[str, list[str]]
    rows: pd.DataFrame  # reference_date, built_at, numerator, denominator, value
    chart: spc.XmR | None
    why_no_chart: str


def history(ws: Workspace, measure: str = "", level: str = "programme", area: str = "") -> History:
    """The published series of `measure` (the first kept, if not given) over the reference
    dates built (analytics.history), for the programme or one area, each date's practices and
    areas controlled as one table. LookupError for a measure, level or area there is not."""
    from openphm.analytics.definitions import MEASURES
    from openphm.analytics.history import HISTORY, typed

    kept = typed(built.read(ws, HISTORY, missing=HISTORY_NOT_BUILT))
    crude = kept[(kept["statistic"] == "crude") & (kept["group_by"] == "practice")]
    whole = crude.groupby("measure")[["numerator", "denominator"]].agg(
        lambda v: bool(((v % 1) == 0).all())
    )
    # Counts only: a mean's numerator (a sum of scores) and person-years are not counts that
    # the disclosure rules can round and hide.
    countable = sorted(whole.index[whole["numerator"] & whole["denominator"]])
    if not countable:
        raise NotBuilt(
            HISTORY_NOT_BUILT
            if kept.empty
            else "the measures kept over refreshes have no values per practice: build with the "
            "practice grouping (the default of phm analyse)"
        )
    labels = {m.name: m.label for m in MEASURES}
    choices_measures = {m: labels.get(m, m.replace("_", " ")) for m in countable}
    measure = measure or ("rate_emergency_admissions" if "rate_emergency_admissions"
                          in countable else countable[0])  # fmt: skip
    if measure not in countable:
        raise LookupError(f"no measure {measure}")
    if level not in LEVELS:
        raise LookupError(f"no level {level}")
    mine = crude[crude["measure"] == measure]
    multiplier = float(mine["multiplier"].iloc[0])
    published = []
    for day, rows in mine.groupby("reference_date", sort=True):
        cells = rows.rename(columns={"group_value": "practice", "numerator": "events",
                                     "denominator": "registered"})  # fmt: skip
        cells = cells.astype({"events": "int64", "registered": "int64"})
        table = _control(ws, cells)
        published.append(table.assign(reference_date=day, built_at=rows["built_at"].max()))
    controlled = pd.concat(published, ignore_index=True)
    choices = _choices(ws, controlled)
    level, area, picked = _pick(controlled, choices, level, area)
    rows = picked[["reference_date", "built_at", "events", "registered"]].rename(
        columns={"events": "numerator", "registered": "denominator"}
    )
    rows = rows.reset_index(drop=True)
    rows["value"] = [
        None if pd.isna(n) or pd.isna(d) or d <= 0 else multiplier * float(n) / float(d)
        for n, d in zip(rows["numerator"], rows["denominator"], strict=True)
    ]
    chart, why = None, ""
    if rows["value"].isna().any():
        why = (
            f"no process limits: {int(rows['value'].isna().sum())} reference date(s) have a "
            "hidden count, and an XmR chart needs every point"
        )
    elif len(rows) < 2:
        why = (
            f"no process limits: {len(rows)} reference date built so far; an XmR chart "
            "needs at least 2 (each phm analyse at a new reference date adds one)"
        )
    else:
        chart = spc.xmr(rows["value"].astype(float).tolist(), spc.NEITHER)
    unit = "%" if multiplier == 100 else f"per {multiplier:,.0f} people"
    return History(measure, choices_measures[measure], unit, level, area, choices_measures,
                   choices, rows, chart, why)  # fmt: skip
