"""Time `phm risk train` and `phm risk score` on a linked synthetic region, and compare the
model with the generator's true risk (the oracle).

    phm synth R --people 100000 --practices 10 --seed 1      # then init, ingest, register, link
    python benchmarks/risk_bench.py R WORKSPACE

The truth (R/truth) is read here, in benchmark code, never by the product: each true person is
mapped to their linkage pseudonym with the workspace's linkage key, and the validation people's
realised outcomes are scored with the model and with the true probability. Prints aggregates
only: seconds, counts, AUCs, calibration, and the AUC per IMD quintile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def oracle_frame(region: Path, ws, con, card: dict) -> pd.DataFrame:
    """The validation people with the model's risk, the true probability and the outcome."""
    from openphm.keystore import KeyName
    from openphm.pseudonymise.pseudonyms import linkage_pseudonyms
    from openphm.risk import model as models
    from openphm.risk.plan import TrainingPlan
    from openphm.risk.store import latest_model
    from openphm.risk.train import split

    plan_fields = {k: card["plan"][k] for k in ("split", "feature_history_months")}
    dates = {
        k: pd.Timestamp(card["plan"][k]).date()
        for k in ("history_start", "data_end", "train_date", "validation_date")
    }
    plan = TrainingPlan(**dates, **plan_fields)
    _, _, validation = None, *split(con, plan)
    _, booster_text, _ = latest_model(con, card["model_id"])
    validation["risk"] = models.predict(models.load_gbm(booster_text), validation)
    people = pd.read_parquet(
        region / "truth" / "people.parquet", columns=["person_id", "nhs_number"]
    )
    truth = pd.read_parquet(region / "truth" / "risk.parquet")
    people["pseudonym"] = linkage_pseudonyms(
        people["nhs_number"].astype(str).tolist(), ws.keystore.get(KeyName.LINKAGE)
    ).to_pylist()
    truth = truth.merge(people[["person_id", "pseudonym"]], on="person_id")
    column = (
        "p_emergency_from_previous_year"
        if plan.validation_date < plan.data_end
        else "p_emergency_from_end"
    )
    joined = validation.merge(truth[["pseudonym", column]], on="pseudonym", how="inner")
    return joined.rename(columns={column: "p_true"}).dropna(subset=["p_true"])


def main() -> None:
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace
    from openphm.risk import score, train
    from openphm.risk.metrics import calibration
    from openphm.risk.store import open_zone

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region", type=Path)
    parser.add_argument("workspace", type=Path)
    args = parser.parse_args()
    ws = Workspace.open(args.workspace)
    actor = Actor(user="bench", role="analyst")
    ws.authorise(actor, "risk.train")
    with open_zone(ws) as con:
        started = time.perf_counter()
        trained = train(con)
        train_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = score(con, trained.model_id)
        score_s = time.perf_counter() - started
        frame = oracle_frame(args.region, ws, con, trained.card)
    card = trained.card
    m, b = card["metrics"]["model"], card["metrics"]["baseline"]
    y = frame["outcome"].to_numpy()
    model_auc = roc_auc_score(y, frame["risk"])
    oracle_auc = roc_auc_score(y, frame["p_true"])
    print(f"plan: {card['plan']['description']}")
    print(
        f"training people {card['training']['people']:,} (outcome rate "
        f"{card['training']['outcome_rate']:.4f}), validation {card['validation']['people']:,}"
    )
    print(
        f"train {train_s:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in trained.seconds.items())}); "
        f"score {score_s:.1f} s for {summary.people:,} people; total {train_s + score_s:.1f} s"
    )
    print(
        f"LightGBM            AUC {m['auc']:.4f}  AP {m['average_precision']:.4f}  "
        f"slope {m['calibration_slope']:.3f}  intercept {m['calibration_intercept']:.3f}"
    )
    print(
        f"logistic regression AUC {b['auc']:.4f}  AP {b['average_precision']:.4f}  "
        f"slope {b['calibration_slope']:.3f}  intercept {b['calibration_intercept']:.3f}"
    )
    print(
        f"oracle (true risk)  AUC {oracle_auc:.4f} on {len(frame):,} validation people "
        f"matched to the truth; model {model_auc:.4f} = {model_auc / oracle_auc:.3f} x oracle"
    )
    oracle_cal = calibration(y, frame["p_true"].to_numpy())
    print(f"oracle calibration slope {oracle_cal['calibration_slope']:.3f}")
    quintiles = {}
    for q, part in frame.groupby("imd_quintile"):
        if part["outcome"].nunique() == 2:
            quintiles[q] = (
                roc_auc_score(part["outcome"], part["risk"]),
                roc_auc_score(part["outcome"], part["p_true"]),
            )
    for q, (a, o) in sorted(quintiles.items()):
        print(f"  IMD quintile {q}: model AUC {a:.4f}, oracle {o:.4f}")
    gap = max(a for a, _ in quintiles.values()) - min(a for a, _ in quintiles.values())
    ogap = max(o for _, o in quintiles.values()) - min(o for _, o in quintiles.values())
    print(f"AUC gap between IMD quintiles: model {gap:.4f}, oracle {ogap:.4f}")
    print(f"people per quintile: {frame.groupby('imd_quintile').size().to_dict()}")
    _ = np


if __name__ == "__main__":
    main()
