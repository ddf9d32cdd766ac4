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

from openphm.analytics import spc
from openphm.analytics.monthly import LABELS, TABLE
from openphm.disclosure.releases import rules_for
from openphm.disclosure.tables import TOTAL, control_areas
from openphm.programme.workspace import Workspace
from openphm.web.figures import NotBuilt, tables

PER = 1000
LEVELS = {"programme": "the whole programme", "pcn": "primary care network", "place": "place",
          "practice": "practice"}  # fmt: skip
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
    hierarchy = {lvl: areas for lvl, areas in ws.config.indicators.areas().items() if areas}
    rules = rules_for(ws)
    published = []
    for month, rows in counts.groupby("month", sort=True):
        table = control_areas(
            rows[["practice", "events", "registered"]].astype({"practice": "string"}),
            unit="practice",
            levels=hierarchy,
            counts=["events", "registered"],
            rules=rules,
        ).table
        published.append(table.assign(month=month))
    controlled = pd.concat(published, ignore_index=True)
    choices = {
        lvl: sorted(set(controlled.loc[controlled["level"] == lvl, "area"]) - {TOTAL})
        for lvl in ("pcn", "place", "practice")
        if lvl in set(controlled["level"])
    }
    if level == "programme" and area:  # the page's one list of areas names no level
        level = next((lvl for lvl, names in choices.items() if area in names), "")
        if not level:
            raise LookupError(f"no area {area}")
    if level == "programme":
        mine = controlled[(controlled["level"] == "practice") & (controlled["area"] == TOTAL)]
        area = ""
    else:
        if area not in choices.get(level, []):
            raise LookupError(f"no {level} {area}")
        mine = controlled[(controlled["level"] == level) & (controlled["area"] == area)]
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


def _read(ws: Workspace, measure: str) -> pd.DataFrame:
    con = ws.connect_linked(read_only=True)
    try:
        if TABLE not in tables(con):
            raise NotBuilt(NOT_BUILT)
        frame = con.execute(
            f"SELECT month, practice, events, registered FROM linked.{TABLE} "
            "WHERE measure = $measure ORDER BY month, practice",
            {"measure": measure},
        ).df()
    finally:
        con.close()
    if frame.empty:
        raise NotBuilt(NOT_BUILT)
    frame["month"] = pd.to_datetime(frame["month"]).dt.date.astype(str)
    return frame
