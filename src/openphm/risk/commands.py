"""`phm risk train | score | card`: the emergency-admission risk model. Each prints aggregates
only (counts, metrics, seconds); the audit log gets counts, never a value about a person."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console, warn_coverage

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


@risk_app.command("train")
def train_command(
    workspace: WorkspaceArgument, engine: EngineOption = None, role: RoleOption = None
) -> None:
    """Train the model (LightGBM) and its baseline (logistic regression) on features at the
    training date and emergency admissions in the 12 months after it; validate, store the model
    and its card in the linked zone, and print the validation metrics."""
    from openphm.risk.stage import train_model

    ws, actor = _open(workspace, role, "risk.train")
    with console.status("Training…") as status:
        trained = train_model(ws, actor, engine, status.update)
    card = trained.card
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
    from openphm.risk.stage import score_people

    ws, actor = _open(workspace, role, "risk.score")
    day = reference_date.date() if reference_date else None
    with console.status("Scoring…"):
        summary = score_people(ws, actor, day, model, engine)
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
    from openphm.risk.stage import write_card

    ws, actor = _open(workspace, role, "risk.card")
    public, page, plot = write_card(ws, actor, model)
    console.print(f"Model card: {page}\nCalibration plot: {plot}", markup=False)
    _print_metrics(public)
