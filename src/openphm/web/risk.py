"""The risk figures the analyst page and API show: how risk of emergency admission is spread
over the population, how many people's risk rose since the last refresh, and the model card as
openphm.risk.card publishes it. Counts pass disclosure.control_table with the programme's
rules; nothing about one person leaves this module.

Reads what `phm risk score` built in zone 3 (openphm.risk.figures: figures_risk_deciles,
figures_risk_bands, figures_risk_rising) through `linked.built`, and the model card from
linked.risk_models (through openphm.risk.store).
"""

from __future__ import annotations

import pandas as pd

from openphm.disclosure.releases import rules_for
from openphm.linked import built
from openphm.programme.workspace import Workspace
from openphm.risk import figures as risk_figures
from openphm.risk.card import calibration_svg, publishable
from openphm.risk.figures import RISING_POINTS, RISING_TOP_PERCENT, band_labels
from openphm.risk.store import RiskError, latest_model
from openphm.web.figures import Figure, NotBuilt
from openphm.web.published import control_table

__all__ = ["RISING_POINTS", "RISING_TOP_PERCENT", "band_labels"]
NOT_SCORED = (
    "nobody has been scored yet (phm risk train, then phm risk score, which builds "
    "the figures this page reads)"
)


def distribution(ws: Workspace) -> dict:
    """Risk by decile of the population (10 = highest), by band of predicted risk, and rising
    risk; with the reference date and model scored."""
    rules = rules_for(ws)
    deciles, bands, rising = built.read_many(
        ws,
        [(risk_figures.DECILES, {"order_by": ["decile"]}), (risk_figures.BANDS, {}),
         (risk_figures.RISING, {})],
        missing=NOT_SCORED,
    )  # fmt: skip
    return {
        "reference_date": pd.Timestamp(rising["reference_date"].iloc[0]).date(),
        "previous_reference_date": _date(rising["previous_reference_date"].iloc[0]),
        "model_id": rising["model_id"].iloc[0],
        "deciles": _deciles(deciles, rules),
        "bands": _bands(bands, rules),
        "rising": _rising(rising, rules),
    }


def _date(value):
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _deciles(cells: pd.DataFrame, rules) -> Figure:
    """People per decile of risk, with the mean risk (%) of each shown decile. The mean is of
    hundreds of people; it is hidden with the decile's count."""
    cells = cells.assign(decile=cells["decile"].astype(str), people=cells["people"].astype("int64"))
    table = control_table(
        cells, groups=["decile"], counts=["people"], totals_over=["decile"], rules=rules
    ).table
    mean = dict(
        zip(cells["decile"], (100 * cells["risk_sum"] / cells["people"]).round(1), strict=True)
    )
    mean["Total"] = round(100 * cells["risk_sum"].sum() / cells["people"].sum(), 1)
    shown = table["decile"].map(mean).astype("Float64").mask(table["people"].isna())
    table = table.assign(mean_risk_percent=shown)
    return Figure("People by tenth of predicted risk (10 = highest)", table)


def _bands(cells: pd.DataFrame, rules) -> Figure:
    levels = band_labels()
    cells = cells.set_index("band").reindex(levels, fill_value=0).reset_index()
    cells["people"] = cells["people"].astype("int64")
    return Figure(
        "People by predicted risk of an emergency admission in the next 12 months",
        control_table(
            cells, groups=["band"], counts=["people"], totals_over=["band"], rules=rules
        ).table,
    )


RISING_LABELS = {
    "scored_both_times": "Scored at this and the previous refresh",
    "risk_rose": "Risk rose",
    "rose_by_points": f"Risk rose by {RISING_POINTS} percentage points or more",
    "top_rises": f"In the top {RISING_TOP_PERCENT}% of rises (rising risk)",
}


def _rising(row: pd.DataFrame, rules) -> Figure:
    cells = pd.DataFrame(
        {
            "measure": list(RISING_LABELS),
            "people": [int(row[k].iloc[0]) for k in RISING_LABELS],
        }
    )
    return Figure(
        "Rising risk since the previous refresh",
        control_table(cells, groups=["measure"], counts=["people"], rules=rules).table,
    )


def model_card(ws: Workspace) -> tuple[dict, str]:
    """The latest model's card as published (counts rounded, small groups' metrics dropped)
    and its calibration plot (SVG)."""
    with ws.reading_linked() as con:
        try:
            _, _, card = latest_model(con, source="linked")
        except RiskError as err:
            raise NotBuilt(str(err)) from None
    public = publishable(card, rules_for(ws))
    return public, calibration_svg(public["calibration_bins"])
