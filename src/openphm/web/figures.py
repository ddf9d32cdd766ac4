"""The figures the analyst pages and API show, each counted in the linked zone (zone 3) and put
through disclosure control (openphm.disclosure.control_table, with the programme's own rules)
before it leaves this module: no caller ever holds an unrounded count.

Counted from the base tables of docs/linked-model.md (people, apc_spells, ec_attendances,
op_appointments, deaths). Registers, prevalence, multimorbidity and segments are read from
openphm.analytics' tables by openphm.web.measures; risk by openphm.web.risk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from openphm.disclosure import control_table
from openphm.disclosure.releases import rules_for
from openphm.programme.workspace import Workspace

AGE_BANDS = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85+"]
IMD_ORDER = [str(d) for d in range(1, 11)] + ["Unknown"]
# Age in whole years at the reference date, taking the 15th of the birth month as the birthday.
_AGE = "date_sub('year', CAST(birth_month + INTERVAL 14 DAY AS DATE), CAST($ref AS DATE))"
_BAND = f"CASE WHEN {_AGE} >= 85 THEN '85+' ELSE CAST({_AGE} // 5 * 5 AS VARCHAR) || '-' || CAST({_AGE} // 5 * 5 + 4 AS VARCHAR) END"  # noqa: E501
# The registered population at the reference date.
_POPULATION = (
    "FROM linked.people WHERE registered AND (date_of_death IS NULL OR date_of_death >= $ref)"
)
ACTIVITY = {
    # measure: (table, date column, extra condition)
    "emergency_admissions": ("apc_spells", "admission_date", "emergency"),
    "ec_attendances": ("ec_attendances", "arrival_date", "TRUE"),
    "outpatient_appointments": ("op_appointments", "appointment_date", "attended"),
}


class NotBuilt(LookupError):
    """The linked tables a figure needs do not exist yet."""


@dataclass(frozen=True)
class Figure:
    """One disclosure-controlled table: group columns, then counts (None where redacted)."""

    title: str
    table: pd.DataFrame

    def records(self) -> list[dict]:
        frame = self.table.astype(object).where(self.table.notna(), None)
        return frame.to_dict(orient="records")


def dating(ws: Workspace):
    """The pages' reference date by the one rule (`analytics.period`): the end of the last
    complete month of data, with the data's end, as a `Coverage` of the year before it. A
    zone with no activity yet falls back to the programme's start date (and says so)."""
    from openphm.analytics.period import Coverage, data_end, last_complete_month_end
    from openphm.analytics.zone import months_before

    con = ws.connect_linked(read_only=True)
    try:
        end = data_end(con)
    finally:
        con.close()
    day = last_complete_month_end(end.day) if end else ws.config.programme.start_date
    return Coverage(day, months_before(day, 12), end.day if end else None)


def built_dating(ws: Workspace) -> str:
    """The latest analytics build's own dates, for the pages that show what it built
    (registers, multimorbidity, risk, trends): "as at … (data to …)", in the words of
    `Coverage.note`, from linked.analytics_runs; "" when nothing is built."""
    from openphm.analytics.period import Coverage

    con = ws.connect_linked(read_only=True)
    try:
        if "analytics_runs" not in tables(con):
            return ""
        row = con.execute(
            "SELECT reference_date, window_start, data_end FROM linked.analytics_runs "
            "ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return Coverage(*row).note() if row else ""


def reference_date(ws: Workspace) -> dt.date:
    return dating(ws).reference_date


def tables(con) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'linked'"
    ).fetchall()
    return {name for (name,) in rows}


def population(ws: Workspace) -> dict[str, Figure]:
    """Age-sex pyramid, ethnic group and IMD decile of the registered population."""
    rules = rules_for(ws)
    con = ws.connect_linked(read_only=True)
    try:
        if "people" not in tables(con):
            raise NotBuilt("the linked population (linked.people) has not been built yet")
        ref = {"ref": reference_date(ws)}
        age_sex = con.execute(
            f"SELECT {_BAND} AS age_band, sex, count(*) AS people {_POPULATION} "
            "AND sex IN ('M', 'F') GROUP BY ALL",
            ref,
        ).df()
        ethnicity = con.execute(
            f"SELECT coalesce(ethnic_group, 'Unknown') AS ethnic_group, count(*) AS people "
            f"{_POPULATION} GROUP BY ALL",
            ref,
        ).df()
        imd = con.execute(
            "SELECT coalesce(CAST(imd_decile AS VARCHAR), 'Unknown') AS imd_decile, "
            f"count(*) AS people {_POPULATION} GROUP BY ALL",
            ref,
        ).df()
    finally:
        con.close()
    age_sex = _complete(age_sex, {"age_band": AGE_BANDS, "sex": ["M", "F"]}, ["people"])
    imd = _complete(imd, {"imd_decile": IMD_ORDER}, ["people"])
    return {
        "age_sex": Figure(
            "Registered population by age band and sex",
            control_table(
                age_sex, groups=["age_band", "sex"], counts=["people"], rules=rules
            ).table,
        ),
        "ethnicity": Figure(
            "Registered population by ethnic group (2021 Census, 5 groups)",
            control_table(
                ethnicity.sort_values("ethnic_group"),
                groups=["ethnic_group"],
                counts=["people"],
                totals_over=["ethnic_group"],
                rules=rules,
            ).table,
        ),
        "imd": Figure(
            "Registered population by IMD 2019 decile (1 most deprived)",
            control_table(
                imd,
                groups=["imd_decile"],
                counts=["people"],
                totals_over=["imd_decile"],
                rules=rules,
            ).table,
        ),
    }


def activity(ws: Workspace, by: str = "imd_decile") -> Figure:
    """Activity in the year before the reference date, and deaths in it, per 1,000 registered
    people, by IMD decile (the inequality gradient) or by practice."""
    if by not in ("imd_decile", "practice"):
        raise ValueError("activity is shown by imd_decile or by practice")
    rules = rules_for(ws)
    con = ws.connect_linked(read_only=True)
    try:
        present = tables(con)
        if "people" not in present:
            raise NotBuilt("the linked population (linked.people) has not been built yet")
        measures = {m: spec for m, spec in ACTIVITY.items() if spec[0] in present}
        group = (
            "coalesce(CAST(p.imd_decile AS VARCHAR), 'Unknown')"
            if by == "imd_decile"
            else ("p.practice")
        )
        selects = [f"{group} AS {by}", "count(*) AS people"]
        for measure, (table, date, condition) in measures.items():
            selects.append(
                f"sum((SELECT count(*) FROM linked.{table} t WHERE t.pseudonym = p.pseudonym "
                f"AND t.{date} > CAST($ref AS DATE) - INTERVAL 1 YEAR AND t.{date} <= $ref "
                f"AND {condition}))::BIGINT AS {measure}"
            )
        selects.append(
            "count(*) FILTER (WHERE p.date_of_death > CAST($ref AS DATE) - INTERVAL 1 YEAR "
            "AND p.date_of_death <= $ref) AS deaths"
        )
        cells = con.execute(
            f"SELECT {', '.join(selects)} FROM linked.people p WHERE p.registered OR "
            "(p.practice IS NOT NULL AND p.date_of_death > CAST($ref AS DATE) - INTERVAL 1 YEAR"
            " AND p.date_of_death <= $ref) GROUP BY ALL",
            {"ref": reference_date(ws)},
        ).df()
    finally:
        con.close()
    counts = ["people", *measures, "deaths"]
    if by == "imd_decile":
        cells = _complete(cells, {by: IMD_ORDER}, counts)
    else:
        cells = cells.sort_values(by)
    controlled = control_table(
        cells,
        groups=[by],
        counts=counts,
        rates={f"{m}_per_1000": (m, "people") for m in counts[1:]},
        per=1000,
        totals_over=[by],
        rules=rules,
    )
    label = "IMD 2019 decile" if by == "imd_decile" else "practice"
    return Figure(
        f"Activity and deaths in the year before the reference date, by {label}", controlled.table
    )


def _complete(cells: pd.DataFrame, levels: dict[str, list[str]], counts: list[str]) -> pd.DataFrame:
    """Every combination of the given levels, in that order, with 0 where nobody was counted."""
    names = list(levels)
    index = (
        pd.MultiIndex.from_product(list(levels.values()), names=names)
        if len(names) > 1
        else pd.Index(levels[names[0]], name=names[0])
    )
    full = cells.set_index(names).reindex(index, fill_value=0).reset_index()
    for column in counts:
        full[column] = full[column].astype("int64")
    return full
