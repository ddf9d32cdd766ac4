"""Why someone is on a list: the features that raise their score most, explained when a cohort
is built rather than for everyone at scoring.

An explanation (TreeSHAP, LightGBM's `pred_contrib`) costs per tree for every person explained:
at 1M people and 150 trees it took 119 s on two cores, most of the risk stage, while the only
explanations anyone reads are those of a cohort's members (the `main_drivers` of a practice's
list). So scoring keeps everyone's features beside their score (linked.person_risk_features,
zone 3, with the id of the model that scored them) and a cohort explains its own members from
them: the same three drivers the whole population's explanation would give each of them
(tests/risk/test_model.py checks this), for a few thousand rows.

A person's features are derived values (counts, flags, age in years), already pseudonymised like
every other zone 3 table; the objections hook removes them with the rest of an objector's rows.
"""

from __future__ import annotations

import pandas as pd

from openphm.risk import model as models
from openphm.risk.features import FEATURE_NAMES
from openphm.risk.store import MODELS, PERSON_FEATURES

FEATURES = PERSON_FEATURES
DRIVER_COLUMNS = tuple(f"driver_{i + 1}" for i in range(models.DRIVERS))
# Feature columns as they travel beside a cohort's own columns (several share names: age,
# ltc_count), so that one query brings members and their features together.
_PREFIX = "feature__"


def feature_columns(zone):
    """person_risk_features as (pseudonym, feature__<name>…, model_id) for a join."""
    t = zone.table(FEATURES)
    return t.select(
        "pseudonym",
        features_model_id=t.model_id,
        **{_PREFIX + name: t[name] for name in FEATURE_NAMES},
    )


def drivers(zone, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (rows joined with `feature_columns`) without the feature columns and with
    DRIVER_COLUMNS: each row's three features that raise its score most, by the model that
    scored it; none for a row without features."""
    columns = [_PREFIX + name for name in FEATURE_NAMES]
    out = frame.drop(columns=[*columns, "features_model_id"])
    for column in DRIVER_COLUMNS:
        out[column] = pd.Series(None, index=out.index, dtype="object")
    for model_id, rows in frame.groupby("features_model_id", sort=True):
        booster = models.load_gbm(_booster_text(zone, str(model_id)))
        x = rows.loc[:, columns].set_axis(list(FEATURE_NAMES), axis=1).astype("float64")
        out.loc[rows.index, list(DRIVER_COLUMNS)] = models.drivers(booster, x).to_numpy()
    return out


def _booster_text(zone, model_id: str) -> str:
    t = zone.table(MODELS)
    return str(t.filter(t.model_id == model_id).select("booster").to_pandas()["booster"].iloc[0])
