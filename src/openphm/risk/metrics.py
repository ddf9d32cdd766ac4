"""How good a risk score is: discrimination, calibration, and both per group.

Pure functions of (outcome, predicted probability) arrays; aggregates only. A group too small
for its metrics to be stable or safe to publish (fewer than MIN_GROUP_EVENTS people with the
outcome or without it) gets no metrics, only its (unrounded, zone 3) counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit
from sklearn.metrics import average_precision_score, roc_auc_score

MIN_GROUP_EVENTS = 20
CALIBRATION_BINS = 10
_EPS = 1e-6


def discrimination(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC (c-statistic) and average precision."""
    return {
        "auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
    }


def calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Slope and intercept of logit P(y) = a + b logit(p) (slope 1: spread right; below 1:
    too extreme), the calibration intercept with the slope held at 1 (0: right on average),
    and observed and mean predicted rates."""
    y = np.asarray(y, dtype=float)
    lp = logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS))

    def loss(ab):
        q = np.clip(expit(ab[0] + ab[1] * lp), _EPS, 1 - _EPS)
        return -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))

    slope_fit = minimize(loss, x0=[0.0, 1.0], method="BFGS")
    large = minimize_scalar(lambda a: loss([a, 1.0]), bounds=(-5, 5), method="bounded")
    return {
        "calibration_slope": float(slope_fit.x[1]),
        "calibration_intercept": float(large.x),
        "observed_rate": float(y.mean()),
        "mean_predicted": float(np.mean(p)),
    }


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Equal-sized groups by predicted risk: people, mean predicted, observed rate. For the
    plot; each bin holds a tenth of the people, far above any disclosure threshold."""
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, bins)
    return pd.DataFrame(
        [
            {
                "bin": i + 1,
                "people": len(idx),
                "mean_predicted": float(np.mean(p[idx])),
                "observed": float(np.mean(y[idx])),
            }
            for i, idx in enumerate(parts)
            if len(idx)
        ]
    )


def all_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {**discrimination(y, p), **calibration(y, p)}


def group_metrics(frame: pd.DataFrame, group: str, *, y="outcome", p="risk") -> pd.DataFrame:
    """One row per value of `group`: people, events, and the metrics where the group has at
    least MIN_GROUP_EVENTS people with and without the outcome."""
    rows = []
    for value, part in frame.groupby(group, dropna=False, sort=True):
        events = int(part[y].sum())
        row = {
            "group_by": group,
            "group": "Unknown" if _missing(value) else str(value),
            "people": len(part),
            "events": events,
        }
        if min(events, len(part) - events) >= MIN_GROUP_EVENTS:
            row |= all_metrics(part[y].to_numpy(), part[p].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
