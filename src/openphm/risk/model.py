"""The models: gradient-boosted trees (LightGBM) that score people, and a logistic regression
baseline (scikit-learn) that the card compares them with. Pure functions of feature frames.

Two threads, fixed seeds and LightGBM's deterministic mode: the same data give the same model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.risk.features import FEATURE_NAMES, LABELS

THREADS = 2
PARAMS = {
    "objective": "binary",
    # 0.1 rather than 0.05: the same validation AUC at 1M people (0.7962 both) with a quarter
    # of the trees (71 against 266), and every score's explanation (TreeSHAP) costs per tree.
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 100,  # no leaf is learnt from a handful of people
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "num_threads": THREADS,
    "seed": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
MAX_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 50
# A round counts as an improvement only when it lowers the early-stopping rows' log loss by
# this much (about 0.015% of it at 1M people). Without it, trees that gain a millionth each
# kept coming: one 1M-person split stopped at 228 trees, another at 81, with the same
# held-out AUC; at 3e-5 the first stops at 119 (AUC 0.79914 against 0.79918, calibration
# slope 0.9996 against 0.9943), and every cohort member's explanation costs per tree.
EARLY_STOPPING_MIN_GAIN = 3e-5
EARLY_STOPPING_SHARE = 0.15  # of the training people, to choose the number of trees
DRIVERS = 3
# Counts enter the baseline on a log scale, as a clinician would read "one vs two admissions".
_LOG_SCALED = ("count", "_3m", "_12m", "days_since", "hfrs", "charlson", "elixhauser")


def fit_gbm(x: pd.DataFrame, y: np.ndarray, *, seed: int = 1):
    """A LightGBM booster, its trees chosen by early stopping on a share of the training rows."""
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    stop = rng.random(len(x)) < EARLY_STOPPING_SHARE
    train = lgb.Dataset(x.loc[~stop, list(FEATURE_NAMES)], y[~stop], free_raw_data=True)
    valid = lgb.Dataset(x.loc[stop, list(FEATURE_NAMES)], y[stop], reference=train)
    return lgb.train(
        PARAMS,
        train,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid],
        callbacks=[
            lgb.early_stopping(
                EARLY_STOPPING_ROUNDS, verbose=False, min_delta=EARLY_STOPPING_MIN_GAIN
            )
        ],
    )


def load_gbm(text: str):
    import lightgbm as lgb

    return lgb.Booster(model_str=text)


def predict(booster, x: pd.DataFrame) -> np.ndarray:
    return booster.predict(x.loc[:, list(FEATURE_NAMES)], num_threads=THREADS)


def drivers(booster, x: pd.DataFrame, top: int = DRIVERS) -> pd.DataFrame:
    """Each person's `top` features that raise their score most (SHAP values from
    `pred_contrib`), as labels; fewer when fewer raise it."""
    contrib = booster.predict(
        x.loc[:, list(FEATURE_NAMES)], pred_contrib=True, num_threads=THREADS
    )[:, :-1]
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    labels = np.array([LABELS[n] for n in FEATURE_NAMES], dtype=object)
    picked = np.take_along_axis(contrib, order, axis=1)
    names = np.where(picked > 0, labels[order], None)
    return pd.DataFrame({f"driver_{i + 1}": names[:, i] for i in range(top)}, index=x.index)


def importance(booster) -> dict[str, float]:
    """Share of total gain per feature (for the card)."""
    gain = booster.feature_importance(importance_type="gain")
    total = gain.sum() or 1.0
    return {n: round(float(g / total), 4) for n, g in zip(FEATURE_NAMES, gain, strict=True)}


def _baseline_matrix(x: pd.DataFrame) -> np.ndarray:
    columns = []
    for name in FEATURE_NAMES:
        v = x[name].astype("float64")
        v = v.fillna(v.median() if v.notna().any() else 0.0)
        columns.append(np.log1p(v.clip(lower=0)) if name.endswith(_LOG_SCALED) else v)
    columns.append(x["age"].astype("float64") ** 2 / 100)  # risk rises faster than age
    return np.column_stack(columns)


def fit_baseline(x: pd.DataFrame, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(_baseline_matrix(x), y)


def predict_baseline(model, x: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(_baseline_matrix(x))[:, 1]
