"""`phm indicators`: build every indicator of the programme's packs into the linked zone and
print how many people each flags. Prints and audits counts only, never a row about a person;
practices get their people through a cohort that selects by indicator (`phm cohort`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console, warn_coverage
from openphm.indicators.stage import ACTION


def register(app: typer.Typer) -> None:
    app.command("indicators")(indicators_command)


def indicators_command(
    workspace: WorkspaceArgument,
    reference_date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--reference-date",
            formats=["%Y-%m-%d"],
            help="The date flags are as at and look-back windows end on (default: the end "
            "of the last complete month of data).",
        ),
    ] = None,
    codelists: Annotated[
        Path | None,
        typer.Option(
            "--codelists",
            file_okay=False,
            exists=True,
            help="Folder of your own code lists (<name>.csv, OpenCodelists format): they add to "
            "and override the shipped lists (a newer QOF cluster, a local list).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb or spark (default: the programme's [engine] kind). On spark the zone "
            "is copied to encrypted Parquet, built there, and the tables brought back.",
        ),
    ] = None,
    role: RoleOption = None,
) -> None:
    """Build the indicators of the packs programme.toml chooses ([[indicators.packs]]) into the
    linked zone: person_indicators (per person flagged: indicator, reason, date due),
    indicator_counts and indicator_rates (per practice, PCN and place, with funnel limits).
    Prints counts before disclosure control: do not publish them as they are."""
    from rich.table import Table

    from openphm.analytics.stage import dated
    from openphm.engine import engine_for
    from openphm.indicators.stage import build_indicators, chosen_packs
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, ACTION)
    chosen = chosen_packs(ws)
    # The one reference-date rule (analytics.period); coverage of a 12-month look-back.
    kind = engine_for(ws, engine)
    day, cover = dated(ws, reference_date.date() if reference_date else None, 12)
    warn_coverage(cover)  # at once, before the work, and again at the end
    with console.status("Building indicators…") as status:
        summary = build_indicators(ws, actor, day, chosen, codelists, kind, status.update)
    table = Table(title=f"Indicators {cover.note()} (counts before disclosure control)")
    for column in ("pack", "indicator"):
        table.add_column(column)
    for column in ("in denominator", "flagged"):
        table.add_column(column, justify="right")
    for c in chosen:
        name = c.indicator.name
        if name in summary.flagged:
            table.add_row(c.pack, name, f"{summary.denominators[name]:,}",
                          f"{summary.flagged[name]:,}")  # fmt: skip
    console.print(table)
    outliers = summary.outliers
    if outliers:
        console.print(
            "Practices outside the 99.8% funnel limits: "
            + ", ".join(f"{name} {n}" for name, n in outliers.items()),
            soft_wrap=True,
        )
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    console.print(f"Built in {sum(summary.seconds.values()):.1f} s ({seconds}).")
    for name, lists in summary.left_out.items():
        console.print(
            f"[yellow]Left out:[/] {name} needs code list(s) {', '.join(lists)}, which were not "
            "found: supply them with --codelists (docs/indicators.md names each).",
            soft_wrap=True,
        )
    warn_coverage(cover)
