"""When to take features and outcomes: the temporal design of training, from the data's own
span.

Features are as at a reference date T and use data on or before T; the outcome is an
emergency admission in (T, T + 12 months]. Training needs that window fully observed, so the
latest usable T is the data's end − 12 months. Then:

- with 36 months of history or more, the model trains at T0 = end − 24 months and is
  validated at T1 = end − 12 months: a temporal split, later people-time than it learnt from;
- with less (a 24-month synthetic region, a new programme), it trains and validates at the
  same T0 = end − 12 months on disjoint people (70% / 30%, by a hash of the pseudonym). The
  features never see the outcome period either way; what the person split cannot show is drift
  between years, and the model card says so.

Reads zone 3 (activity tables' date span) only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pandas as pd

from openphm import clock
from openphm.risk.store import SOURCE, RiskError

OUTCOME_MONTHS = 12
FEATURE_MONTHS = 12
HOLDOUT_SHARE = 0.3
# (table, date column) of the activity that spans the programme's history.
SPAN_TABLES = (
    ("consultations", "consultation_date"),
    ("apc_spells", "admission_date"),
    ("ec_attendances", "arrival_date"),
)


@dataclass(frozen=True)
class TrainingPlan:
    history_start: dt.date
    data_end: dt.date
    train_date: dt.date
    validation_date: dt.date
    split: str  # "temporal" or "person holdout"
    feature_history_months: int  # months of activity before train_date (12 when complete)

    def describe(self) -> str:
        if self.split == "temporal":
            return (
                f"trained at {self.train_date} (outcome to {add_months(self.train_date, 12)}), "
                f"validated at {self.validation_date} (outcome to {self.data_end})"
            )
        return (
            f"trained and validated at {self.train_date} (outcome to "
            f"{add_months(self.train_date, 12)}) on disjoint people "
            f"({int((1 - HOLDOUT_SHARE) * 100)}% / {int(HOLDOUT_SHARE * 100)}%)"
        )


def add_months(day: dt.date, months: int) -> dt.date:
    return (pd.Timestamp(day) + pd.DateOffset(months=months)).date()


def data_span(con, source: str = SOURCE) -> tuple[dt.date, dt.date]:
    """(history start, data end): the latest of the tables' first dates, so every source covers
    the history from there, and the latest date of any, but never after today."""
    firsts, lasts = [], []
    for table, column in SPAN_TABLES:
        first, last = con.execute(
            f"SELECT min({column}), max({column}) FROM {source}.main.{table}"
        ).fetchone()
        if first is not None:
            firsts.append(first)
            lasts.append(last)
    if not firsts:
        raise RiskError("the linked zone has no activity yet: run phm link first")
    return max(firsts), min(max(lasts), clock.today())


def plan_training(con, source: str = SOURCE) -> TrainingPlan:
    start, end = data_span(con, source)
    validation = add_months(end, -OUTCOME_MONTHS)
    if add_months(validation, -OUTCOME_MONTHS - FEATURE_MONTHS) >= start - dt.timedelta(days=1):
        train, split = add_months(validation, -OUTCOME_MONTHS), "temporal"
    else:
        train, split = validation, "person holdout"
    if train < start:
        raise RiskError(
            f"the linked zone holds {start} to {end}: a 12-month outcome needs at least 12 "
            "months of history (24 for full prior-activity features)"
        )
    months = (train.year - start.year) * 12 + train.month - start.month + 1
    return TrainingPlan(start, end, train, validation, split, min(months, FEATURE_MONTHS))


def in_holdout(pseudonym: str) -> bool:
    """Whether a person is in the validation share: a stable hash, so reruns agree."""
    digest = hashlib.blake2b(pseudonym.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < HOLDOUT_SHARE * 2**32


def emergency_outcome(con, reference_date: dt.date, source: str = SOURCE) -> pd.DataFrame:
    """pseudonym → 1 for everyone with an emergency admission in (T, T + 12 months]. The only
    function of the risk stage that reads after a reference date: outcomes, never features."""
    end = add_months(reference_date, OUTCOME_MONTHS)
    return con.execute(
        f"""SELECT DISTINCT pseudonym, 1 AS outcome FROM {source}.main.apc_spells
            WHERE emergency AND admission_date > ? AND admission_date <= ?""",
        [reference_date, end],
    ).df()
