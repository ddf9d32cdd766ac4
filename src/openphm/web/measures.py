"""The analyst figures read from openphm.analytics (zone 3): recorded prevalence per register
with its inequality gradient, multimorbidity, frailty and segments. Each passes
disclosure.control_table with the programme's rules before it leaves this module.

What is published, and from what:
- numerator and denominator: redacted 1–7, else rounded; totals from the true counts, with
  secondary suppression so no hidden cell can be worked out from its total;
- the crude proportion and its Wilson interval: from the published counts, as the other pages'
  rates are (a value from the true counts, given to many places, would give the count away);
- the age-standardised rate (DSR), SII and RII: from `measures` as analytics built them (they
  cannot be worked out from rounded counts), to one or two places, and hidden wherever the
  numerator or denominator of their row is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.analytics import REGISTERS, SEGMENTS, areas, wilson
from openphm.analytics import figures as built_figures
from openphm.disclosure.releases import rules_for
from openphm.linked import built
from openphm.programme.workspace import Workspace
from openphm.web.figures import NOT_ANALYSED, Figure, area_levels
from openphm.web.published import control_areas, control_table

# The groupings the pages show, in order; the PCN, place and ICB only where the build drew
# them (programme.toml names areas of that level: analytics.areas).
GROUPINGS = {
    "imd_decile": "IMD 2019 decile (1 most deprived)",
    "imd_quintile": "IMD 2019 quintile (1 most deprived)",
    "practice": "practice",
    **areas.TITLES,
}
GROUP_HEADINGS = {
    "imd_decile": "IMD decile",
    "imd_quintile": "IMD quintile",
    "practice": "Practice",
    **areas.HEADINGS,
}
REGISTER_LABELS = {r.name: r.label for r in REGISTERS}
# Proportions of the reference population the multimorbidity page shows as gradients.
MULTIMORBIDITY_MEASURES = {
    "multimorbidity_2plus": "Two or more long-term conditions",
    "multimorbidity_4plus": "Four or more long-term conditions",
    "frailty_moderate_severe_65plus": "Moderate or severe frailty (eFI), aged 65 and over",
}
LTC_GROUPS = ["0", "1", "2-3", "4+"]
CMS_BANDS = list(built_figures.CMS_BANDS)
EFI_CATEGORIES = ["fit", "mild", "moderate", "severe"]
SEGMENT_ORDER = [s.name for s in SEGMENTS]
_DISTRIBUTIONS = {
    # key: (title, levels in order), as analytics.figures.multimorbidity counted them
    "ltc_group": (
        "Long-term conditions per person (registers, palliative care excepted)",
        LTC_GROUPS,
    ),
    "cms_band": ("Cambridge Multimorbidity Score", CMS_BANDS),
    "efi_category": (
        "Electronic Frailty Index category, people aged 65 and over",
        EFI_CATEGORIES,
    ),
    "segment": ("Bridges to Health segment", SEGMENT_ORDER),
}


@dataclass(frozen=True)
class Proportion:
    """One proportion measure by each grouping: controlled counts, crude % with a Wilson
    interval from the published counts, DSR where analytics gave one, and SII/RII."""

    measure: str
    label: str
    by: dict[str, Figure]  # grouping -> rows: group, numerator, denominator, crude, ..., dsr
    inequality: dict[str, dict | None]  # "sii", "rii" -> value and limits, or None if hidden

    def overall(self) -> dict:
        return next(r for r in self.by["imd_decile"].records() if r["group"] == "Total")


def _measures(ws: Workspace, names: list[str]) -> pd.DataFrame:
    """The rows of `measures` the pages show of the named measures: by each grouping, and
    overall."""
    return built.read(
        ws, "measures", where={"measure": names, "group_by": [*GROUPINGS, "all"]},
        missing=NOT_ANALYSED,
    )  # fmt: skip


def proportions(ws: Workspace, names: list[str]) -> dict[str, Proportion]:
    """The named proportion measures (prevalence_<register>, multimorbidity_2plus, ...)."""
    rules = rules_for(ws)
    measures = _measures(ws, names)
    crude = measures[
        (measures["statistic"] == "crude") & measures["group_by"].isin(list(GROUPINGS))
    ].rename(columns={"group_value": "group"})
    crude = crude.assign(
        numerator=crude["numerator"].astype("int64"),
        denominator=crude["denominator"].astype("int64"),
    )
    apart = crude[~crude["group_by"].isin(["practice", *areas.LEVELS])]
    controlled = control_table(
        apart,
        groups=["measure", "group_by", "group"],
        counts=["numerator", "denominator"],
        rates={"crude": ("numerator", "denominator")},
        per=100,
        totals_over=["group"],
        rules=rules,
    ).table
    by_area, covering = _by_area(ws, crude[crude["group_by"] == "practice"], rules)
    controlled = pd.concat([controlled, by_area], ignore_index=True)
    controlled = _with_interval(controlled)
    controlled = _with_dsr(controlled, measures, covering)
    controlled = _ordered(controlled)
    # Row positions of each (measure, grouping), in the groups' order.
    parts = controlled.groupby(["measure", "group_by"], sort=False).indices
    indices: dict[str, list[dict]] = {}
    kept = measures[measures["statistic"].isin(["sii", "rii"])]
    for row in kept[["measure", "statistic", "value", "lower_95", "upper_95"]].to_dict("records"):
        indices.setdefault(row["measure"], []).append(row)
    out = {}
    body = controlled.drop(columns=["measure", "group_by"])
    empty = body.iloc[0:0]
    for name in names:
        if not any((name, g) in parts for g in GROUPINGS):
            continue
        by = {
            g: Figure(
                f"{_label(name)}, by {title}",
                body.iloc[parts[(name, g)]].reset_index(drop=True) if (name, g) in parts else empty,
            )
            for g, title in GROUPINGS.items()
            if g not in areas.LEVELS or (name, g) in parts
        }
        table = by["imd_decile"].table
        published = table[table["group"] == "Total"].iloc[0]
        shown = bool(published[["numerator", "denominator"]].notna().all())
        out[name] = Proportion(name, _label(name), by, _inequality(indices.get(name, []), shown))
    return out


def _by_area(ws: Workspace, practices: pd.DataFrame, rules) -> tuple[pd.DataFrame, set[str]]:
    """Each measure by practice and by the programme's areas above it (web.figures.area_levels),
    the practices and areas controlled as one table (an area is the total of its practices);
    the crude % from the published counts. Also the levels whose areas hold every practice (so
    that their Total is the programme's). One control for every measure: control_areas
    controls each count column on its own, so a column per measure's numerator and
    denominator is the same as a table per measure, worked out (and kept) once."""
    columns = ["measure", "group_by", "group", "numerator", "denominator", "crude"]
    units = sorted(set(practices["group"].astype(str)))
    levels = area_levels(ws, units)
    covering = {"practice"} | {lvl for lvl, of in levels.items() if set(units) <= set(of)}
    if practices.empty:
        return pd.DataFrame(columns=columns), covering
    wide = practices.pivot_table(
        index="group", columns="measure", values=["numerator", "denominator"],
        aggfunc="sum", fill_value=0,
    )  # fmt: skip
    wide.columns = [f"{count}\t{measure}" for count, measure in wide.columns]
    cells = wide.astype("int64").rename_axis("practice").reset_index()
    table = control_areas(
        cells.astype({"practice": "string"}), unit="practice", levels=levels,
        counts=[c for c in cells.columns if c != "practice"], rules=rules,
    ).table  # fmt: skip
    # Back to one row per (measure, level, area), measure by measure in wide's order.
    names = list(dict.fromkeys(c.split("\t", 1)[1] for c in wide.columns))
    rows = len(table)
    out = pd.DataFrame(
        {
            "measure": pd.array(np.repeat(names, rows), dtype="string"),
            "group_by": pd.array(np.tile(table["level"].to_numpy(str), len(names)), dtype="string"),
            "group": pd.array(np.tile(table["area"].to_numpy(str), len(names)), dtype="string"),
            **{
                count: pd.array(
                    np.concatenate([table[f"{count}\t{m}"].to_numpy(object) for m in names]),
                    dtype="Int64",
                )
                for count in ("numerator", "denominator")
            },
        }
    )
    num, den = out["numerator"].astype("Float64"), out["denominator"].astype("Float64")
    out["crude"] = (num / den * 100).where(den > 0).round(2)  # as control_table's rates
    return out.loc[:, columns], covering


def _label(name: str) -> str:
    register = name.removeprefix("prevalence_")
    if register in REGISTER_LABELS:
        return f"{REGISTER_LABELS[register]}: recorded prevalence"
    return MULTIMORBIDITY_MEASURES.get(name, name)


def _with_interval(table: pd.DataFrame) -> pd.DataFrame:
    """The Wilson interval of each published proportion, from the published counts."""
    shown = table["numerator"].notna() & table["denominator"].notna() & (table["denominator"] > 0)
    lower = pd.Series(pd.NA, index=table.index, dtype="Float64")
    upper = lower.copy()
    if shown.any():
        _, lo, hi = wilson(
            table.loc[shown, "numerator"].astype(float).to_numpy(),
            table.loc[shown, "denominator"].astype(float).to_numpy(),
        )
        lower[shown], upper[shown] = (lo * 100).round(2), (hi * 100).round(2)
    return table.assign(crude_lower_95=lower, crude_upper_95=upper)


def _with_dsr(table: pd.DataFrame, measures: pd.DataFrame, covering: set[str]) -> pd.DataFrame:
    """The DSR per 100 and its limits, from analytics (an area's over its own people: a DSR is
    not a sum of its practices'); the Total row takes the overall DSR, but for a level whose
    areas leave a practice out (`covering` names the others). Hidden wherever the row's
    numerator or denominator is."""
    dsr = measures[measures["statistic"] == "dsr"].copy()
    overall = dsr[dsr["group_by"] == "all"]
    whole = [g for g in GROUPINGS if g not in ("practice", *areas.LEVELS) or g in covering]
    dsr = pd.concat(
        [
            dsr[dsr["group_by"].isin(list(GROUPINGS))],
            *(overall.assign(group_by=g, group_value="Total") for g in whole),
        ]
    )
    dsr = dsr.rename(
        columns={
            "group_value": "group",
            "value": "dsr",
            "lower_95": "dsr_lower_95",
            "upper_95": "dsr_upper_95",
        }
    )
    keys = ["measure", "group_by", "group"]
    out = table.merge(
        dsr[[*keys, "dsr", "dsr_lower_95", "dsr_upper_95"]].astype({"group": "string"}),
        on=keys,
        how="left",
    )
    hidden = out["numerator"].isna() | out["denominator"].isna()
    for column in ("dsr", "dsr_lower_95", "dsr_upper_95"):
        out[column] = out[column].astype("Float64").round(2).mask(hidden)
    return out


def _inequality(rows: list[dict], published: bool) -> dict[str, dict | None]:
    """SII and RII with their limits (`rows`: the measure's rows of those statistics), to two
    places; None for both when the measure's overall counts are hidden."""
    out: dict[str, dict | None] = {"sii": None, "rii": None}
    if not published:
        return out
    for row in rows:
        out[row["statistic"]] = {
            "value": round(float(row["value"]), 2),
            "lower_95": round(float(row["lower_95"]), 2),
            "upper_95": round(float(row["upper_95"]), 2),
        }
    return out


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Groups in their natural order within each measure and grouping (deciles 1-10, not 1,
    10, 2), Total last."""
    group = table["group"].astype(str)
    number = pd.to_numeric(group.where(group.str.isdigit()), errors="coerce").fillna(0)
    keys = pd.DataFrame({"measure": table["measure"].astype(str),
                         "group_by": table["group_by"].astype(str), "total": group == "Total",
                         "number": number, "group": group})  # fmt: skip
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return table.loc[order].reset_index(drop=True)


def distributions(ws: Workspace) -> dict[str, Figure]:
    """Counts of the reference population by long-term conditions, CMS band, eFI category
    (aged 65+) and segment, each with its total (analytics.figures.multimorbidity)."""
    rules = rules_for(ws)
    counted = built.read(ws, built_figures.MULTIMORBIDITY, missing=NOT_ANALYSED)
    out = {}
    for key, (title, levels) in _DISTRIBUTIONS.items():
        mine = counted[counted["distribution"] == key].rename(columns={"level": key})
        cells = mine[[key, "people"]].set_index(key).reindex(levels, fill_value=0).reset_index()
        cells["people"] = cells["people"].astype("int64")
        out[key] = Figure(
            title,
            control_table(
                cells, groups=[key], counts=["people"], totals_over=[key], rules=rules
            ).table,
        )
    return out
