"""Measures over the programme's refreshes: every measure's headline values at each reference
date built, kept as a series.

`measures` holds one build's values and is replaced by the next build. `measure_history` keeps
them: each build appends its `measures` rows for the whole programme (group_by "all"), per
practice (group_by "practice", from which the Trends pages sum PCNs, places and ICBs as
programme.toml draws them when viewed) and per PCN, place and ICB as they were drawn when
built (analytics.areas; their standardised rates cannot be summed from practices), every
statistic (crude, DSR, SII, RII), with the reference date and the time it was built. A
rebuild at a reference date already held replaces that date's rows, so running `phm analyse`
again is idempotent; other dates' rows are left as they were.

It is a table of the linked zone like any other: the build rewrites only the tables it names
(analytics.build.TABLES) and never drops another, so the history survives every rebuild, and it
goes with the zone when the programme is destroyed. Aggregates only (no pseudonym): an objection
applied later removes the person from later builds, not from the counts of earlier ones, as
indicator_counts (docs/indicators.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from openphm.analytics import areas
from openphm.analytics.measures import COLUMNS
from openphm.analytics.zone import Zone, memtable

HISTORY = "measure_history"
KEPT_GROUPINGS = ("all", "practice", *areas.LEVELS)
KEYS = ("reference_date", "built_at")
HISTORY_COLUMNS = (*KEYS, "period_start", "period_end", *COLUMNS)


def record(zone: Zone, reference_date: dt.date, built_at: dt.datetime) -> int:
    """Add the `measures` just built to the history at `reference_date` (replacing that date's
    rows); the number of rows the history holds after."""
    built = zone.table("measures")
    new = built.filter(built["group_by"].isin(list(KEPT_GROUPINGS))).to_pandas()
    new.insert(0, "built_at", pd.Timestamp(built_at).tz_localize(None).floor("s"))
    new.insert(0, "reference_date", reference_date)
    kept = read(zone)
    if len(kept):
        kept = kept[kept["reference_date"] != reference_date]
    both = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    both = typed(both.loc[:, list(HISTORY_COLUMNS)])
    dates = {c: "date" for c in ("reference_date", "period_start", "period_end")}
    return zone.write(HISTORY, memtable(both).cast(dates))


def read(zone_or_con) -> pd.DataFrame:
    """The history as kept (empty, with its columns, before the first build)."""
    zone = zone_or_con if isinstance(zone_or_con, Zone) else Zone.over(zone_or_con)
    if HISTORY not in zone.tables():
        return typed(pd.DataFrame({c: [] for c in HISTORY_COLUMNS}))
    frame = zone.table(HISTORY).to_pandas()
    return typed(frame)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The history's columns in their types (dates as dates, the build time as a timestamp),
    however it was read (the zone, or the web's `linked.built`)."""
    frame = frame.copy()
    frame["reference_date"] = pd.to_datetime(frame["reference_date"]).dt.date
    frame["built_at"] = pd.to_datetime(frame["built_at"]).astype("datetime64[us]")
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c]).dt.date
    for c in ("measure", "statistic", "group_by", "group_value", "method", "flag"):
        frame[c] = frame[c].astype("string")
    for c in ("numerator", "denominator", "value", "lower_95", "upper_95", "multiplier"):
        frame[c] = frame[c].astype(float)
    return frame.sort_values(["reference_date", "measure", "statistic", "group_by",
                              "group_value"]).reset_index(drop=True)  # fmt: skip
