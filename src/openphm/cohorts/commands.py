"""`phm cohort` (build a cohort and write its practice lists) and `phm evaluate` (compare a
cohort's activity before and after an intervention with a matched comparison group). Both
print disclosure-controlled aggregates only; the audit log gets counts, never values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console


def register(app: typer.Typer) -> None:
    app.command("cohort")(cohort_command)
    app.command("evaluate")(evaluate_command)


def cohort_command(
    workspace: WorkspaceArgument,
    definition: Annotated[
        Path,
        typer.Argument(
            help="The cohort definition (TOML; see docs/risk-and-cohorts.md).",
            dir_okay=False,
            exists=True,
        ),
    ],
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb or spark (default: the programme's [engine] kind). On spark the zone "
            "is copied to encrypted Parquet, the cohort built there, and the copy deleted.",
        ),
    ] = None,
    role: RoleOption = None,
) -> None:
    """Build a cohort from its definition, show its size and make-up (disclosure-controlled),
    and write one list per practice to WORKSPACE/outputs/cohorts/<ODS>/<name>.csv: tokens,
    risk score, segment and reasons, never a pseudonym or an identifier."""
    from rich.table import Table

    from openphm.cohorts.build import make_up, run_cohort
    from openphm.cohorts.definition import load_definition
    from openphm.disclosure.releases import rules_for
    from openphm.engine import engine_for
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    purposes = tuple(p.value for p in ws.config.programme.purposes)
    cohort = load_definition(definition, purposes)
    ws.authorise(actor, "cohort.build", purpose=cohort.purpose.value)
    kind = engine_for(ws, engine)
    with console.status(f"Building the cohort on {kind}…"):
        built, paths = run_cohort(ws, actor, cohort, kind)
    rules = rules_for(ws)
    size = rules.publish(len(built.members)) if len(built.members) else 0
    console.print(
        f"Cohort {cohort.name} ({cohort.purpose.label}): {_shown(size, rules)} "
        f"people (risk as at {built.risk_date}, analytics as at "
        f"{built.analytics_date}; counts rounded to {rules.multiple})."
    )
    if built.risk_date != built.analytics_date:
        console.print(
            "[yellow]Note:[/] risk scores and analytics are as at different dates; "
            "rerun phm analyse or phm risk score so that they match."
        )
    for column, table in make_up(built, rules).items():
        shown = Table(title=f"by {column.replace('_', ' ')}")
        shown.add_column(column)
        shown.add_column("people", justify="right")
        for value, people in zip(table[column], table["people"], strict=True):
            shown.add_row(str(value), _shown(people, rules))
        console.print(shown)
    for ods, path in paths.items():
        console.print(f"List for {ods}: {path}", markup=False)
    if built.without_token and cohort.provider:
        console.print(
            f"{_shown(rules.publish(built.without_token), rules)} members seen at "
            f"{cohort.provider} have no token sealed to its key (it has not registered one, or "
            "their records carried no local patient id) and are not listed."
        )
    elif built.without_token:
        console.print(
            f"{_shown(rules.publish(built.without_token), rules)} members are at practices "
            "with no registered key and are not listed."
        )


def _shown(count, rules) -> str:
    """A published count, or how small a suppressed one is."""
    import pandas as pd

    return f"1–{rules.threshold}" if count is None or pd.isna(count) else f"{int(count):,}"


def evaluate_command(
    workspace: WorkspaceArgument,
    cohort: Annotated[str, typer.Option("--cohort", help="A cohort built with phm cohort.")],
    start: Annotated[
        dt.datetime,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="The date the cohort's intervention began."
        ),
    ],
    months: Annotated[
        int,
        typer.Option("--months", min=1, max=24, help="Length of each period, before and after."),
    ] = 12,
    role: RoleOption = None,
) -> None:
    """Difference-in-differences of the cohort's activity before and after --from, against a
    comparison group matched exactly on age band, sex, IMD quintile, segment and risk decile.
    Writes the method, its assumptions and the disclosure-controlled results to
    WORKSPACE/outputs/evaluations/."""
    from openphm.cohorts.evaluate import evaluate_cohort
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "cohort.evaluate")
    done = evaluate_cohort(ws, actor, cohort, start.date(), months)
    console.print(done.text, soft_wrap=True)
    console.print(f"Written to {done.report.with_suffix('')}.md and .csv", markup=False)
