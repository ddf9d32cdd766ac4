"""The indicator figures the analyst page shows: each indicator the programme built, and for one
of them its rate per practice, PCN and place against funnel limits, and its trend over
refreshes.

Reads zone 3's indicator_counts (reference date × indicator × practice: denominator,
numerator) and indicator_runs through `linked.built`, as every page reads what a stage built;
never person_indicators. Each reference date's counts pass
disclosure.control_areas with the programme's rules, practices, PCNs and places together (an
area is the total of its practices: controlled apart, one level would give another's hidden
cells away). Everything shown is then worked out from the published counts:

- an area is plotted only when both its counts are published, at (published denominator,
  published numerator / published denominator). A numerator of 1-7 is hidden, and so is any
  count hidden to protect one, so such an area has no height at all: the plot marks it below
  the axis at its published denominator (or not at all, if that is hidden too);
- the average the limits are drawn around is the level's published Total (numerator over
  denominator), not the true average, which to many places would give the true total away;
- the limits are rates.funnel_limits at that average, and where an area lies is
  rates.against_limits of its published counts, so what the page says of a point is what a
  reader sees of it (near a limit it can differ from indicator_rates, which holds the true
  counts' and is not for publication);
- the trend is each reference date's published Total, from the same controlled table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.analytics import wilson
from openphm.analytics.stage import areas_of
from openphm.disclosure.releases import rules_for
from openphm.disclosure.tables import TOTAL
from openphm.indicators import PACKS
from openphm.indicators.build import COUNTS, RUNS
from openphm.indicators.rates import LIMITS, against_limits, funnel_limits
from openphm.linked import built
from openphm.programme.workspace import Workspace
from openphm.web.figures import NotBuilt
from openphm.web.published import control_areas

LEVELS = {
    "practice": "practice",
    "pcn": "primary care network",
    "place": "place",
    "icb": "integrated care board",
}
NOT_BUILT = (
    "no indicators have been built yet. Run phm indicators WORKSPACE --role analyst to build "
    "the packs programme.toml chooses (docs/indicators.md)"
)


@dataclass(frozen=True)
class BuiltIndicator:
    """An indicator the programme built, as its pack defines it, and the reference dates it
    has counts for (earliest first; none if nobody was in its denominator)."""

    name: str
    title: str
    description: str
    source: str
    reason: str
    pack: str
    purpose: str
    dates: tuple[dt.date, ...]


@dataclass(frozen=True)
class Catalogue:
    indicators: list[BuiltIndicator]
    latest: dict  # the latest build: reference_date, built_at, left_out, missing_codelists


@dataclass(frozen=True)
class Funnel:
    """One level's areas at one reference date, as published: area, numerator, denominator
    (NA where hidden), and for the areas plotted proportion, lower_ci, upper_ci, the funnel
    limits at their denominator and `funnel` (where they lie); `total` the level's published
    Total and `average` the proportion it gives (None when either of its counts is hidden)."""

    level: str
    areas: pd.DataFrame
    total: dict
    average: float | None

    def limits(self, denominators) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The 95% and 99.8% limits around the published average (rates.funnel_limits)."""
        return {
            f"{confidence * 100:g}%": funnel_limits(denominators, self.average, confidence)
            for _, confidence in LIMITS
        }


@dataclass(frozen=True)
class IndicatorFigures:
    indicator: BuiltIndicator
    reference_date: dt.date
    funnels: list[Funnel]  # practice, then pcn and place where programme.toml maps them
    trend: pd.DataFrame  # per reference date: numerator, denominator, proportion, limits


def _definitions() -> dict[str, tuple[str, object]]:
    return {i.name: (p.name, i) for p in PACKS.values() for i in p.indicators}


def _read(ws: Workspace, *reads: tuple[str, dict]) -> list[pd.DataFrame]:
    """Each (table, `linked.built.read` arguments) read from zone 3 on one read-only
    connection; NotBuilt when a table read has not been built."""
    return built.read_many(ws, reads, missing=NOT_BUILT)


def catalogue(ws: Workspace) -> Catalogue:
    """Every indicator with counts, and those the latest build made with nobody in their
    denominator; with the latest build's indicators left out and the lists they lack."""
    dates, runs = _read(
        ws,
        (COUNTS, {"columns": ["pack", "purpose", "indicator", "reference_date"],
                  "distinct": True, "order_by": ["reference_date"]}),
        (RUNS, {"order_by": ["-built_at"], "limit": 1}),
    )  # fmt: skip
    if runs.empty:
        raise NotBuilt(NOT_BUILT)
    latest = runs.iloc[0].to_dict()
    purposes = {p.name: p.purpose.value for p in ws.config.indicators.packs}
    definitions = _definitions()
    found: dict[str, BuiltIndicator] = {}
    for name, rows in dates.groupby("indicator", sort=False):
        last = rows.iloc[-1]
        found[name] = _built(definitions, name, last["pack"], last["purpose"], rows)
    for name in filter(None, str(latest["indicators"]).split(",")):
        if name not in found and name in definitions:
            pack = definitions[name][0]
            found[name] = _built(definitions, name, pack, purposes.get(pack, ""), None)
    order = list(definitions)
    return Catalogue(sorted(found.values(), key=lambda b: order.index(b.name)), latest)


def _built(definitions, name: str, pack: str, purpose: str, rows) -> BuiltIndicator:
    _, indicator = definitions[name]
    days = () if rows is None else tuple(pd.to_datetime(rows["reference_date"]).dt.date)
    return BuiltIndicator(name, indicator.title, indicator.description, indicator.source,
                          indicator.reason, pack, purpose, days)  # fmt: skip


def figures(ws: Workspace, name: str, reference_date: dt.date | None = None) -> IndicatorFigures:
    """One indicator's funnels at `reference_date` (the latest, if not given) and its trend.
    LookupError if the programme has not built it, or not at that date."""
    built = {b.name: b for b in catalogue(ws).indicators}
    if name not in built or not built[name].dates:
        raise LookupError(f"indicator {name} has no counts: it was not built, or nobody was in "
                          "its denominator")  # fmt: skip
    indicator = built[name]
    day = reference_date or indicator.dates[-1]
    if day not in indicator.dates:
        raise LookupError(f"indicator {name} was not built at {day}")
    (counts,) = _read(
        ws,
        (COUNTS, {"columns": ["reference_date", "practice", "numerator", "denominator"],
                  "where": {"indicator": name}, "order_by": ["practice"]}),
    )  # fmt: skip
    counts["reference_date"] = pd.to_datetime(counts["reference_date"]).dt.date
    # An ICB level only where the programme spans two ICBs or more: one ICB holding every
    # practice is the programme's total, already the average every funnel is drawn around.
    levels = {
        level: areas
        for level, areas in areas_of(ws).items()
        if areas and (level != "icb" or len(set(areas.values())) > 1)
    }
    rules = rules_for(ws)
    published = {
        when: control_areas(
            rows[["practice", "numerator", "denominator"]].astype({"practice": "string"}),
            unit="practice",
            levels=levels,
            counts=["numerator", "denominator"],
            rules=rules,
        ).table
        for when, rows in counts.groupby("reference_date")
    }
    now = published[day]
    present = set(now["level"])  # a level none of whose practices has counts has no rows
    funnels = [_funnel(now, level) for level in ("practice", *levels) if level in present]
    return IndicatorFigures(indicator, day, funnels, _trend(published))


def _funnel(table: pd.DataFrame, level: str) -> Funnel:
    mine = table[table["level"] == level].drop(columns="level").reset_index(drop=True)
    total = mine[mine["area"] == TOTAL].iloc[0].to_dict()
    areas = mine[mine["area"] != TOTAL].reset_index(drop=True)
    average = _proportion(total["numerator"], total["denominator"])
    shown = areas["numerator"].notna() & areas["denominator"].notna()
    shown &= areas["denominator"].fillna(0) > 0
    placed = areas[shown].astype({"numerator": "int64", "denominator": "int64"})
    placed = against_limits(placed.assign(average=np.nan if average is None else average))
    if average is None:  # no published average: no limits, so nowhere to say it lies
        placed["funnel"] = ""
    areas = areas.merge(
        placed.drop(columns=["numerator", "denominator", "average"], errors="ignore"),
        on="area",
        how="left",
    )
    return Funnel(level, areas, total, average)


def _proportion(numerator, denominator) -> float | None:
    if pd.isna(numerator) or pd.isna(denominator) or denominator <= 0:
        return None
    return float(numerator) / float(denominator)


def _trend(published: dict[dt.date, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for day, table in sorted(published.items()):
        total = table[(table["level"] == "practice") & (table["area"] == TOTAL)].iloc[0]
        row = {"reference_date": day, "numerator": total["numerator"],
               "denominator": total["denominator"], "proportion": None, "lower_ci": None,
               "upper_ci": None}  # fmt: skip
        if _proportion(total["numerator"], total["denominator"]) is not None:
            value, lower, upper = wilson(float(total["numerator"]), float(total["denominator"]))
            row |= {"proportion": float(value), "lower_ci": float(lower),
                    "upper_ci": float(upper)}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
