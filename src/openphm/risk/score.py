"""`score`: everyone's risk at a reference date (the latest data by default), and how it has
moved since the previous refresh.

Reads zone 3 and the model; writes zone 3 linked.person_risk (replaced),
linked.person_risk_features (the features scored, replaced: a cohort explains its members from
them, `risk.explain`) and linked.person_risk_history (this reference date's scores added).

Rising risk: the change in score since the most recent earlier refresh in the history.
`rising_percentile` ranks the rises (100 = the largest) among people scored both times; a
person with no earlier score has none. A change of model between refreshes moves scores too,
so the card of each is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from openphm.analytics.period import data_end, reference_date_for
from openphm.risk import model as models
from openphm.risk.features import FEATURE_NAMES, feature_frame
from openphm.risk.store import (
    SOURCE,
    latest_model,
    previous_scores,
    write_features,
    write_scores,
)


@dataclass(frozen=True)
class ScoreSummary:
    """Counts only, never a value: safe for the audit log and the terminal."""

    model_id: str
    reference_date: dt.date
    people: int
    previous_reference_date: dt.date | None
    with_previous: int
    data_end: dt.date | None = None


def score(
    con,
    model_id: str | None = None,
    *,
    reference_date: dt.date | None = None,
    source: str = SOURCE,
    features=None,
) -> ScoreSummary:
    """`features`: how the feature frame at a date is built (default: on DuckDB over `con`;
    Spark: risk.commands)."""
    model_id, booster_text, _ = latest_model(con, model_id, source)
    booster = models.load_gbm(booster_text)
    # The one reference-date rule (analytics.period): the end of the last complete month.
    end = data_end(con, source)
    day = reference_date or reference_date_for(end)
    x = features(day) if features else feature_frame(con, day, source=source)
    out = x.loc[:, ["pseudonym"]].copy()
    out["reference_date"] = day
    out["model_id"] = model_id
    out["risk"] = models.predict(booster, x)
    out["risk_percentile"] = (out["risk"].rank(pct=True, method="max") * 100).round(2)
    out = _rising(out, previous_scores(con, day, source))
    write_scores(con, out, source)
    write_features(con, x.loc[:, ["pseudonym", *FEATURE_NAMES]].assign(model_id=model_id), source)
    previous = out["previous_reference_date"].dropna()
    return ScoreSummary(
        model_id,
        day,
        len(out),
        previous.iloc[0] if len(previous) else None,
        int(out["previous_risk"].notna().sum()),
        end.day if end else None,
    )


def _rising(scores: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    out = scores.merge(previous, on="pseudonym", how="left")
    out["previous_risk"] = out["previous_risk"].astype("float64")
    out["previous_reference_date"] = pd.to_datetime(out["previous_reference_date"]).dt.date
    out["risk_change"] = out["risk"] - out["previous_risk"]
    ranked = out["risk_change"].rank(pct=True, method="max") * 100
    out["rising_percentile"] = ranked.round(2)
    return out
