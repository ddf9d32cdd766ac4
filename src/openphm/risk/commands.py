"""`phm risk train | score | card`: the emergency-admission risk model. Each prints aggregates
only (counts, metrics, seconds); the audit log gets counts, never a value about a person."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console

risk_app = typer.Typer(
    help="Risk of emergency admission in the next 12 months: train, score, card.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


def _open(workspace, role, action):
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, action)
    return ws, actor


EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="duckdb or spark (default: the programme's [engine] kind). On spark the features "
        "are built on Spark over an encrypted Parquet copy of the zone, deleted afterwards; "
        "the model is fitted and stored as on duckdb.",
    ),
]


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


@risk_app.command("train")
def train_command(
    workspace: WorkspaceArgument, engine: EngineOption = None, role: RoleOption = None
) -> None:
    """Train the model (LightGBM) and its baseline (logistic regression) on features at the
    training date and emergency admissions in the 12 months after it; validate, store the model
    and its card in the linked zone, and print the validation metrics."""
    from openphm.engine import engine_for
    from openphm.risk.store import open_zone
    from openphm.risk.train import train

    ws, actor = _open(workspace, role, "risk.train")
    kind = engine_for(ws, engine)
    try:
        # The Parquet copy (Spark) is made before the zone file is opened for writing.
        with (
            console.status("Training…") as status,
            features_on(ws, engine) as (kind, features),
            open_zone(ws) as con,
        ):
            trained = train(con, progress=lambda s: status.update(f"{s}…"), features=features)
    except Exception:
        ws.audit.record(
            actor,
            "risk.train",
            outcome="failed",
            reads=("linked",),
            reason=f"risk model training failed on {kind}",
        )
        raise
    card = trained.card
    ws.audit.record(
        actor,
        "risk.train",
        reads=("linked",),
        writes=("linked.risk_models",),
        counts={
            "training_people": card["training"]["people"],
            "validation_people": card["validation"]["people"],
            "trees": card["model"]["trees"],
        },
        reason=f"engine {kind}",
    )
    console.print(f"Model {trained.model_id}: {card['plan']['description']}.")
    _print_metrics(card)
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in trained.seconds.items())
    console.print(f"Seconds: {seconds}. Next: phm risk score {workspace}", markup=False)


def _print_metrics(card: dict) -> None:
    from rich.table import Table

    table = Table(title="Validation (held-out people)")
    for column in ("model", "AUC", "avg precision", "cal. slope", "cal. intercept"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, key in (("LightGBM", "model"), ("logistic regression", "baseline")):
        m = card["metrics"][key]
        table.add_row(
            name,
            f"{m['auc']:.3f}",
            f"{m['average_precision']:.3f}",
            f"{m['calibration_slope']:.3f}",
            f"{m['calibration_intercept']:.3f}",
        )
    console.print(table)


@risk_app.command("score")
def score_command(
    workspace: WorkspaceArgument,
    reference_date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--reference-date",
            formats=["%Y-%m-%d"],
            help="Score as at this date (default: the end of the last complete month of data).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="A model id (default: the latest trained).")
    ] = None,
    engine: EngineOption = None,
    role: RoleOption = None,
) -> None:
    """Score everyone in the linked zone with the latest model into linked.person_risk: risk,
    percentile, and the change since the previous refresh (rising risk); the features scored
    go to linked.person_risk_features, from which a cohort explains its members' drivers."""
    from openphm.risk.score import score
    from openphm.risk.store import open_zone

    ws, actor = _open(workspace, role, "risk.score")
    day = reference_date.date() if reference_date else None
    with (
        console.status("Scoring…"),
        features_on(ws, engine) as (kind, features),
        open_zone(ws) as con,
    ):
        summary = score(con, model, reference_date=day, features=features)
    ws.audit.record(
        actor,
        "risk.score",
        reads=("linked",),
        writes=("linked.person_risk", "linked.person_risk_features", "linked.person_risk_history"),
        counts={"people": summary.people, "with_previous": summary.with_previous},
        reason=f"engine {kind}",
    )
    from openphm.analytics.commands import warn_coverage
    from openphm.analytics.period import Coverage
    from openphm.analytics.zone import months_before

    day = summary.reference_date  # features count activity in the 12 months to it
    cover = Coverage(day, months_before(day, 12), summary.data_end)
    console.print(
        f"Scored {summary.people:,} people {cover.note()} with "
        f"{summary.model_id} into linked.person_risk."
    )
    warn_coverage(cover)
    if summary.previous_reference_date:
        console.print(
            f"Rising risk: {summary.with_previous:,} people also scored at the previous "
            f"refresh ({summary.previous_reference_date})."
        )
    else:
        console.print(
            "Rising risk: no earlier refresh yet, so no change to rank (score an "
            "earlier --reference-date first, or wait for the next refresh)."
        )


@risk_app.command("card")
def card_command(
    workspace: WorkspaceArgument,
    model: Annotated[
        str | None, typer.Option("--model", help="A model id (default: the latest trained).")
    ] = None,
    role: RoleOption = None,
) -> None:
    """Write the model card (counts rounded and suppressed by the programme's disclosure rules)
    and its calibration plot to WORKSPACE/outputs/risk/, and print where."""
    from openphm.disclosure.releases import rules_for
    from openphm.risk.card import calibration_svg, markdown, publishable
    from openphm.risk.store import latest_model, open_zone

    ws, actor = _open(workspace, role, "risk.card")
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
    console.print(f"Model card: {page}\nCalibration plot: {plot}", markup=False)
    _print_metrics(public)
