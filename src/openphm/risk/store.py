"""Where the risk stage keeps what it makes, all in zone 3 (the encrypted linked file).

A risk connection attaches the zone under the alias SOURCE, so that the engine's scratch
catalogue (`engine.duckdb.scratch_catalogue`) can take the name `linked`, its base tables views
of the zone's: `analytics.build` then runs at any past reference date into memory without
touching the zone's own analytics tables. Person-level
scratch never reaches disk except DuckDB's spill folder inside the linked zone.

| table | one row per |
|---|---|
| risk_models | trained model: booster text, card (JSON, aggregates only) |
| person_risk | person at the latest scoring: score, percentile, change, rising rank |
| person_risk_features | person at the latest scoring: the features scored, the model (explain.py) |
| person_risk_history | person and reference date scored (for rising risk) |
| figures_risk_deciles, _bands, _rising | the risk page's counts (`figures`) |
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator

import pandas as pd

from openphm.errors import UserFacingError
from openphm.risk import figures

SOURCE = "zone3"
MODELS = "risk_models"
PERSON_RISK = "person_risk"
PERSON_FEATURES = "person_risk_features"
HISTORY = "person_risk_history"


class RiskError(UserFacingError):
    """Something the analyst can fix: no model yet, too little history, no analytics."""


@contextlib.contextmanager
def open_zone(ws, *, read_only: bool = False) -> Iterator[object]:
    """A DuckDB connection with the workspace's linked zone attached as SOURCE."""
    con = ws.connect_linked(read_only=read_only, alias=SOURCE)
    try:
        yield con
    finally:
        con.close()


def tables(con, source: str = SOURCE) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?", [source]
    ).fetchall()
    return {r[0] for r in rows}


def save_model(con, model_id: str, booster_text: str, card: dict, source: str = SOURCE) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {source}.main.{MODELS} (model_id VARCHAR PRIMARY KEY, "
        "trained_at TIMESTAMP, booster VARCHAR, card VARCHAR)"
    )
    con.execute(
        f"INSERT OR REPLACE INTO {source}.main.{MODELS} VALUES (?, ?, ?, ?)",
        [
            model_id,
            dt.datetime.fromisoformat(card["trained_at"]),
            booster_text,
            json.dumps(card, default=str),
        ],
    )


def latest_model(con, model_id: str | None = None, source: str = SOURCE) -> tuple[str, str, dict]:
    """(model_id, booster text, card) of the named model, or the most recently trained."""
    if MODELS not in tables(con, source):
        raise RiskError("no risk model yet: run phm risk train first")
    where, args = ("WHERE model_id = ?", [model_id]) if model_id else ("", [])
    row = con.execute(
        f"SELECT model_id, booster, card FROM {source}.main.{MODELS} {where} "
        "ORDER BY trained_at DESC LIMIT 1",
        args,
    ).fetchone()
    if row is None:
        raise RiskError(f"no risk model {model_id!r}; phm risk card lists the latest")
    return row[0], row[1], json.loads(row[2])


def write_scores(con, frame: pd.DataFrame, source: str = SOURCE) -> None:
    """Replace person_risk with `frame`, put its scores into the history (replacing any
    earlier scoring of the same reference date), and build the risk page's counts from them
    (`risk.figures`)."""
    con.register("_risk_scores", frame)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {source}.main.{PERSON_RISK} AS SELECT * FROM _risk_scores"
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {source}.main.{HISTORY} (pseudonym VARCHAR, "
            "reference_date DATE, risk DOUBLE, model_id VARCHAR)"
        )
        day = frame["reference_date"].iloc[0] if len(frame) else None
        con.execute(f"DELETE FROM {source}.main.{HISTORY} WHERE reference_date = ?", [day])
        con.execute(
            f"INSERT INTO {source}.main.{HISTORY} "
            "SELECT pseudonym, reference_date, risk, model_id FROM _risk_scores"
        )
        figures.build(con, f"{source}.main.{PERSON_RISK}", source)
    finally:
        con.unregister("_risk_scores")


def write_features(con, frame: pd.DataFrame, source: str = SOURCE) -> None:
    """Replace person_risk_features with `frame` (pseudonym, every feature, model_id)."""
    con.register("_risk_features", frame)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {source}.main.{PERSON_FEATURES} AS "
            "SELECT * FROM _risk_features"
        )
    finally:
        con.unregister("_risk_features")


def previous_scores(con, reference_date: dt.date, source: str = SOURCE) -> pd.DataFrame:
    """The most recent earlier refresh's scores: pseudonym, previous_risk,
    previous_reference_date (empty if there was none)."""
    if HISTORY not in tables(con, source):
        return pd.DataFrame(columns=["pseudonym", "previous_risk", "previous_reference_date"])
    return con.execute(
        f"""SELECT pseudonym, risk AS previous_risk, reference_date AS previous_reference_date
            FROM {source}.main.{HISTORY}
            WHERE reference_date = (SELECT max(reference_date) FROM {source}.main.{HISTORY}
                                    WHERE reference_date < ?)""",
        [reference_date],
    ).df()
