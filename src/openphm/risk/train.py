"""`train`: features at the training date, outcomes after it, a fitted model and its card.

Reads zone 3; writes zone 3 linked.risk_models (booster and card). Returns the card, which
holds aggregates only (counts, metrics), so the command can print it and audit its counts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm import clock
from openphm.risk import model as models
from openphm.risk.card import build_card
from openphm.risk.features import feature_frame
from openphm.risk.metrics import all_metrics, calibration_bins, group_metrics
from openphm.risk.plan import TrainingPlan, emergency_outcome, in_holdout, plan_training
from openphm.risk.store import SOURCE, RiskError, save_model

GROUPS = ("imd_quintile", "ethnic_group", "sex", "age_band")


@dataclass
class Trained:
    model_id: str
    card: dict
    seconds: dict[str, float]


Features = Callable[[dt.date], pd.DataFrame]  # the feature frame at a date, on some engine


def labelled(con, day: dt.date, source: str = SOURCE, features: Features | None = None):
    """Features at `day` with the outcome in (day, day + 12 months] beside them. `features`:
    how the feature frame is built (default: on DuckDB, over `con`)."""
    frame = (features or (lambda d: feature_frame(con, d, source=source)))(day)
    outcome = emergency_outcome(con, day, source)
    frame = frame.merge(outcome, on="pseudonym", how="left")
    frame["outcome"] = frame["outcome"].fillna(0).astype("int8")
    return frame


def split(
    con, plan: TrainingPlan, source: str = SOURCE, features: Features | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, validation rows) as the plan says."""
    train = labelled(con, plan.train_date, source, features)
    if plan.split == "temporal":
        return train, labelled(con, plan.validation_date, source, features)
    held = train["pseudonym"].map(in_holdout).to_numpy(dtype=bool)
    return train.loc[~held].reset_index(drop=True), train.loc[held].reset_index(drop=True)


def train(
    con,
    *,
    plan: TrainingPlan | None = None,
    source: str = SOURCE,
    progress: Callable[[str], None] | None = None,
    features: Features | None = None,
) -> Trained:
    """Fit the model and the baseline, validate both, store the model and its card. The
    features are built on DuckDB over `con`, or by `features` (Spark: risk.commands)."""
    plan = plan or plan_training(con, source)
    seconds: dict[str, float] = {}

    def step(name, work):
        if progress:
            progress(name)
        started = time.perf_counter()
        out = work()
        seconds[name] = round(time.perf_counter() - started, 2)
        return out

    training, validation = step("features", lambda: split(con, plan, source, features))
    for name, part in (("training", training), ("validation", validation)):
        events = int(part["outcome"].sum())
        if min(events, len(part) - events) < 1:
            raise RiskError(
                f"the {name} people have no one with (or without) an emergency "
                "admission: too few people to train a risk model"
            )
    y = training["outcome"].to_numpy()
    booster = step("gradient boosting", lambda: models.fit_gbm(training, y))
    baseline = step("baseline", lambda: models.fit_baseline(training, y))

    def evaluate():
        v = validation.copy()
        v["risk"] = models.predict(booster, v)
        yv = v["outcome"].to_numpy()
        return {
            "model": all_metrics(yv, v["risk"].to_numpy()),
            "baseline": all_metrics(yv, models.predict_baseline(baseline, v)),
            "groups": pd.concat([group_metrics(v, g) for g in GROUPS], ignore_index=True),
            "bins": calibration_bins(yv, v["risk"].to_numpy()),
        }

    results = step("validation", evaluate)
    trained_at = clock.now().replace(microsecond=0, tzinfo=None)
    model_id = f"risk-{trained_at:%Y%m%dT%H%M%S}"
    card = build_card(model_id, trained_at, plan, training, validation, booster, results, seconds)
    save_model(con, model_id, booster.model_to_string(), card, source)
    return Trained(model_id, card, seconds)


def rate(frame: pd.DataFrame) -> float:
    return float(np.mean(frame["outcome"])) if len(frame) else float("nan")
