"""`phm indicators`: build every indicator of the programme's packs into the linked zone and
print how many people each flags. Prints and audits counts only, never a row about a person;
practices get their people through a cohort that selects by indicator (`phm cohort`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console

# Indicators are analytics work (zone 3 to zone 3), granted to the same roles: the action is
# analytics.build, and the audit's reason says it was the indicators.
ACTION = "analytics.build"


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

    from openphm.analytics.commands import dated, warn_coverage
    from openphm.engine import engine_for
    from openphm.indicators.build import TABLES, choose
    from openphm.indicators.packs import PackError
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, ACTION)
    packs = [(p.name, p.purpose.value) for p in ws.config.indicators.packs]
    if not packs:
        raise PackError(
            "programme.toml chooses no indicator packs: add [indicators] packs = "
            '[{ name = "pincer", purpose = "safety-monitoring" }] (docs/indicators.md)'
        )
    chosen = choose(packs)
    areas = hierarchy_of(ws)
    # The one reference-date rule (analytics.period); coverage of a 12-month look-back.
    kind = engine_for(ws, engine)
    day, cover = dated(ws, reference_date, 12)
    try:
        with console.status("Building indicators…") as status:
            summary = build_on_engine(ws, kind, day, chosen, codelists, areas, status.update)
    except Exception:
        ws.audit.record(actor, ACTION, outcome="failed", reads=("linked",),
                        reason=f"indicators build failed on {kind}")  # fmt: skip
        raise
    for purpose in sorted({c.purpose for c in chosen}):
        mine = [c.indicator.name for c in chosen if c.purpose == purpose]
        ws.audit.record(
            actor, ACTION, purpose=purpose, reads=("linked",),
            writes=tuple(f"linked.{t}" for t in TABLES),
            counts={f"flagged_{n}": summary.flagged[n] for n in mine if n in summary.flagged},
            reason=f"indicators as at {day} ({', '.join(sorted({c.pack for c in chosen}))}); "
                   f"engine {kind}",
        )  # fmt: skip
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


def areas_of(ws) -> dict[str, dict[str, str]]:
    """The programme's PCNs and places as {level: {practice: area}}."""
    return ws.config.indicators.areas()


def hierarchy_of(ws) -> dict[str, dict[str, str]]:
    """The programme's PCNs, places and ICBs as {level: {practice: area}}, for indicator_rates
    (an ICB level only where programme.toml names one)."""
    icb = ws.config.indicators.icb_areas(ws.config.programme.controllers)
    return {**areas_of(ws), "icb": icb} if icb else areas_of(ws)


def build_on_engine(ws, engine, day: dt.date, chosen, codelists: Path | None, areas=None,
                    say=print):  # fmt: skip
    """Build on `engine` (an engine, its name, or None: the programme's), as `phm analyse` does
    (analytics.commands.build_on_engine): in the zone file, or on a copy of the zone whose
    tables come back into the file under the same checks."""
    from openphm.analytics.commands import copy_back_check
    from openphm.analytics.runs import inputs_fingerprint
    from openphm.engine import engine_for
    from openphm.indicators.build import TABLES, build

    folder = str(codelists) if codelists else None
    progress = lambda step: say(f"{step}…")  # noqa: E731
    building = engine_for(ws, engine).building(
        ws, TABLES, copy_back_check(TABLES, "phm indicators"),
        taken=lambda con: inputs_fingerprint(con, "linked"), say=say,
    )  # fmt: skip
    with building as zone:
        return build(
            zone.backend, day, chosen, codelist_folder=folder, areas=areas, progress=progress
        )
