"""`phm risk train`, `phm risk score` and `phm risk card` as stages: the features on the
programme's engine, the model fitted or applied in the zone file, the card written to the
outputs, and the audit entry. The commands (risk.commands), the refresh (openphm.refresh), the
benchmark and the demo call these; the commands only parse and print. The caller authorises
(risk.train, risk.score, risk.card)."""

from __future__ import annotations

import contextlib
import datetime as dt


@contextlib.contextmanager
def features_on(ws, engine):
    """How the feature frames are built, on `engine` (a name, or None: the programme's): the
    engine and None (the stage's own connection to the zone file reads the zone, as on
    DuckDB), or a function of the reference date over the engine's own view of the zone, taken
    now and released on the way out (Spark's Parquet copy). Entered before the stage opens
    the zone file for writing."""
    from openphm.analytics.runs import current_date
    from openphm.engine import engine_for
    from openphm.risk.features import FEATURE_BUILD, feature_frame_on

    chosen = engine_for(ws, engine)
    with chosen.alongside(ws, taken=lambda con: current_date(con, FEATURE_BUILD, "linked")) as zone:
        if zone is None:
            yield chosen, None
            return
        current = zone.taken
        # Checked again once copied: a build current before and after the copy is current in it.
        if current is not None and _current_build_date(ws) != current:
            current = None
        yield chosen, lambda day: feature_frame_on(zone.backend, day, built=day == current)


def _current_build_date(ws) -> dt.date | None:
    """The reference date of the zone file's analytics build if it is current for the risk
    features (`analytics.runs`), else None."""
    from openphm.analytics.runs import current_date
    from openphm.risk.features import FEATURE_BUILD

    con = ws.connect_linked(read_only=True)
    try:
        return current_date(con, FEATURE_BUILD, "linked")
    finally:
        con.close()


def train_model(ws, actor, engine=None, say=lambda text: None, by: str = ""):
    """Train the model and its baseline, store them with the card in the linked zone, and
    audit it (risk.train, counts only); a failure is audited too. `by` says on whose behalf,
    when not the actor's own command (the scheduled refresh)."""
    from openphm.engine import engine_for
    from openphm.risk.store import open_zone
    from openphm.risk.train import train

    kind = engine_for(ws, engine)
    try:
        # The Parquet copy (Spark) is made before the zone file is opened for writing.
        with features_on(ws, engine) as (kind, features), open_zone(ws) as con:
            trained = train(con, progress=lambda s: say(f"{s}…"), features=features)
    except Exception:
        ws.audit.record(actor, "risk.train", outcome="failed", reads=("linked",),
                        reason=f"risk model training failed on {kind}{by}")  # fmt: skip
        raise
    card = trained.card
    ws.audit.record(
        actor, "risk.train", reads=("linked",), writes=("linked.risk_models",),
        counts={"training_people": card["training"]["people"],
                "validation_people": card["validation"]["people"],
                "trees": card["model"]["trees"]},
        reason=f"engine {kind}{by}",
    )  # fmt: skip
    return trained


def score_people(ws, actor, reference_date: dt.date | None = None, model: str | None = None,
                 engine=None, by: str = ""):  # fmt: skip
    """Score everyone in the linked zone with `model` (default: the latest trained) as at
    `reference_date` (default: the one rule's), and audit it (risk.score, counts only)."""
    from openphm.risk.score import score
    from openphm.risk.store import open_zone

    with features_on(ws, engine) as (kind, features), open_zone(ws) as con:
        summary = score(con, model, reference_date=reference_date, features=features)
    ws.audit.record(
        actor, "risk.score", reads=("linked",),
        writes=("linked.person_risk", "linked.person_risk_features", "linked.person_risk_history"),
        counts={"people": summary.people, "with_previous": summary.with_previous},
        reason=f"engine {kind}{by}",
    )  # fmt: skip
    return summary


def write_card(ws, actor, model: str | None = None):
    """Write `model`'s card (default: the latest trained), its counts rounded and suppressed by
    the programme's disclosure rules, and its calibration plot to WORKSPACE/outputs/risk/, and
    audit it (risk.card). The card as published, and the two files."""
    from openphm.disclosure.releases import rules_for
    from openphm.risk.card import calibration_svg, markdown, publishable
    from openphm.risk.store import latest_model, open_zone

    with open_zone(ws, read_only=True) as con:
        model_id, _, card = latest_model(con, model)
    public = publishable(card, rules_for(ws))
    folder = ws.zone("outputs") / "risk"
    folder.mkdir(parents=True, exist_ok=True)
    page, plot = folder / f"{model_id}.md", folder / f"{model_id}-calibration.svg"
    page.write_text(markdown(public))
    plot.write_text(calibration_svg(public["calibration_bins"]))
    ws.audit.record(
        actor,
        "risk.card",
        reads=("linked.risk_models",),
        writes=(f"outputs/risk/{page.name}", f"outputs/risk/{plot.name}"),
        counts={"groups": len(public["groups"])},
    )
    return public, page, plot


def has_model(ws) -> bool:
    """Whether the linked zone holds a trained risk model."""
    from openphm.risk.store import MODELS, open_zone, tables

    with open_zone(ws, read_only=True) as con:
        return MODELS in tables(con)
