"""The figures the analyst pages and API show, read from the tables the stages built in the
linked zone (zone 3: `analytics.figures`, which `phm analyse` builds) and put through
disclosure control (openphm.disclosure.control_table, with the programme's own rules) before
they leave this module: no caller ever holds an unrounded count.

A page view reads a small built table through `linked.built.read` and counts nothing itself
(no SQL in `web/`: tests/foundation/test_architecture.py). Who is counted and how old they are
is zone 3's one definition of each (openphm.linked.population), so these figures and
`phm measures` agree. Registers, prevalence, multimorbidity and segments are read by
openphm.web.measures; risk by openphm.web.risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from openphm.analytics import areas
from openphm.analytics import figures as built_figures
from openphm.analytics.runs import RUNS
from openphm.disclosure.releases import rules_for
from openphm.linked import built
from openphm.linked.population import AGE_BANDS
from openphm.programme.workspace import Workspace
from openphm.web.published import control_areas, control_table

IMD_ORDER = [str(d) for d in range(1, 11)] + ["Unknown"]
ACTIVITY = tuple(built_figures.ACTIVITY_COUNTS)  # the activity counted, and deaths
NOT_ANALYSED = (
    "the analytics tables have not been built yet. Run phm analyse WORKSPACE --role analyst "
    "(docs/analytics.md)"
)
NotBuilt = built.NotBuilt  # the tables a figure needs do not exist yet
__all__ = ["AGE_BANDS", "NotBuilt"]


@dataclass(frozen=True)
class Figure:
    """One disclosure-controlled table: group columns, then counts (None where redacted)."""

    title: str
    table: pd.DataFrame

    def records(self) -> list[dict]:
        """The rows as dictionaries of plain Python values, None where a value is missing."""
        return [
            {k: None if _missing(v) else v for k, v in row.items()}
            for row in self.table.to_dict(orient="records")
        ]


def _missing(value) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def built_coverage(ws: Workspace):
    """The latest analytics build's own dates, as a `Coverage` (reference date, window, the
    data's end), from linked.analytics_runs; None when nothing is built."""
    from openphm.analytics.period import Coverage

    try:
        runs = built.read(
            ws, RUNS, columns=["reference_date", "window_start", "data_end"],
            order_by=["-built_at"], limit=1,
        )  # fmt: skip
    except NotBuilt:
        return None
    if runs.empty:
        return None
    row = runs.iloc[0]
    end = None if pd.isna(row["data_end"]) else pd.Timestamp(row["data_end"]).date()
    day, start = (pd.Timestamp(row[c]).date() for c in ("reference_date", "window_start"))
    return Coverage(day, start, end)


def built_dating(ws: Workspace) -> str:
    """The latest analytics build's own dates, for the pages that show what it built: "as at
    … (data to …)", in the words of `Coverage.note`; "" when nothing is built."""
    cover = built_coverage(ws)
    return cover.note() if cover else ""


def tables(con) -> set[str]:
    """The tables of zone 3 on `con` (`linked.built.tables`)."""
    return built.tables(con)


def population(ws: Workspace) -> dict[str, Figure]:
    """Age-sex pyramid, ethnic group and IMD decile of the registered population at the
    reference date of the latest `phm analyse`."""
    rules = rules_for(ws)
    cells = built.read(ws, built_figures.POPULATION, missing=NOT_ANALYSED)
    cells["people"] = cells["people"].astype("int64")

    def part(figure: str, column: str) -> pd.DataFrame:
        mine = cells[cells["figure"] == figure].rename(columns={"group": column})
        return mine.drop(columns=["figure"] + (["sex"] if figure != "age_sex" else []))

    age_sex = _complete(part("age_sex", "age_band"), {"age_band": list(AGE_BANDS),
                                                      "sex": ["M", "F"]}, ["people"])  # fmt: skip
    ethnicity = part("ethnicity", "ethnic_group").sort_values("ethnic_group")
    imd = _complete(part("imd", "imd_decile"), {"imd_decile": IMD_ORDER}, ["people"])
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
                ethnicity.reset_index(drop=True),
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
    """Activity in the window before the reference date of the latest `phm analyse`, and
    deaths in it, per 1,000 people registered in the window, by IMD decile (the inequality
    gradient), or by practice or one of the programme's levels above it (`activity_by_area`)."""
    if by != "imd_decile":
        by_area = activity_by_area(ws)
        if by not in by_area:
            raise ValueError(f"activity is shown by imd_decile or {', '.join(by_area)}")
        return by_area[by]
    rules = rules_for(ws)
    cells = built.read(
        ws, built_figures.ACTIVITY, columns=["group", "people", *ACTIVITY],
        where={"grouping": by}, missing=NOT_ANALYSED,
    ).rename(columns={"group": by})  # fmt: skip
    counts = ["people", *ACTIVITY]
    controlled = control_table(
        _complete(cells, {by: IMD_ORDER}, counts),
        groups=[by],
        counts=counts,
        rates=_per_1000(),
        per=1000,
        totals_over=[by],
        rules=rules,
    )
    return Figure(_activity_title(ws, "IMD 2019 decile"), controlled.table)


def activity_by_area(ws: Workspace) -> dict[str, Figure]:
    """Activity and deaths per 1,000 by practice and by each of the programme's areas above it
    (PCN, place, ICB: `area_levels`), the practices and areas controlled as one table; the
    rates from the published counts."""
    cells = built.read(
        ws, built_figures.ACTIVITY, columns=["group", "people", *ACTIVITY],
        where={"grouping": "practice"}, missing=NOT_ANALYSED,
    ).rename(columns={"group": "practice"})  # fmt: skip
    counts = ["people", *ACTIVITY]
    cells = cells.sort_values("practice").reset_index(drop=True)
    cells = cells.astype({"practice": "string", **{c: "int64" for c in counts}})
    levels = area_levels(ws, cells["practice"].tolist())
    table = control_areas(
        cells, unit="practice", levels=levels, counts=counts, rules=rules_for(ws)
    ).table
    for rate, (numerator, people) in _per_1000().items():
        num, den = table[numerator].astype("Float64"), table[people].astype("Float64")
        table[rate] = (num / den * 1000).where(den > 0).round(2)  # as control_table's rates
    titles = {"practice": "practice", **{level: areas.TITLES[level] for level in levels}}
    return {
        level: Figure(
            _activity_title(ws, title),
            table[table["level"] == level]
            .drop(columns="level")
            .rename(columns={"area": level})
            .reset_index(drop=True),
        )
        for level, title in titles.items()
        if (table["level"] == level).any()
    }


def _per_1000() -> dict[str, tuple[str, str]]:
    return {f"{m}_per_1000": (m, "people") for m in ACTIVITY}


def _activity_title(ws: Workspace, by: str) -> str:
    """The title names the build's own window (`phm analyse --window-months`: a year by
    default, but not always)."""
    cover = built_coverage(ws)
    window = f"from {cover.window_start} to {cover.reference_date}" if cover else "in the window"
    return f"Activity and deaths {window}, by {by}"


def area_levels(ws: Workspace, practices: list[str]) -> dict[str, dict[str, str]]:
    """The programme's areas above the practice ({level: {practice: area}}, programme.toml's
    PCNs, places and ICBs over `practices`) that a page shows beside its practices. They are
    controlled with the practices as one table (disclosure.tables.control_areas): an area is
    the total of its practices, so controlled apart a PCN of two practices, one hidden, would
    give it away. An ICB that holds every practice is the programme's total, not a level."""
    levels = ws.config.indicators.hierarchy(practices)
    if one_icb_for_all(levels.get("icb", {}), practices):
        del levels["icb"]
    return levels


def one_icb_for_all(icb: dict[str, str], practices: list[str]) -> bool:
    """Whether one ICB holds every practice ({practice: ICB}): it is then the programme."""
    return bool(icb) and len(set(icb.values())) == 1 and set(practices) <= set(icb)


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
