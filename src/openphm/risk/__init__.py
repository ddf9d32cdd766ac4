"""Risk of emergency admission in the next 12 months (issue 7).

Reads zone 3 (the linked population and its analytics) and writes zone 3: the model, trained
on person-level data, in linked.risk_models; every person's score with its three main drivers
in linked.person_risk; each refresh's scores in linked.person_risk_history (for rising risk).
Only the model card, its counts disclosure-controlled, and the calibration plot go to zone 4.

    from openphm import risk
    with risk.open_zone(ws) as con:
        trained = risk.train(con)                 # features at T0, outcome in (T0, T0 + 12m]
        risk.score(con, trained.model_id)         # everyone at the latest reference date

docs/risk-and-cohorts.md explains the features, the split, the metrics and the card.
"""

from openphm.risk.features import FEATURES, feature_frame
from openphm.risk.metrics import calibration, discrimination, group_metrics
from openphm.risk.plan import TrainingPlan, plan_training
from openphm.risk.score import ScoreSummary, score
from openphm.risk.store import latest_model, open_zone
from openphm.risk.train import Trained, train

__all__ = [
    "FEATURES",
    "ScoreSummary",
    "Trained",
    "TrainingPlan",
    "calibration",
    "discrimination",
    "feature_frame",
    "group_metrics",
    "latest_model",
    "open_zone",
    "plan_training",
    "score",
    "train",
]
