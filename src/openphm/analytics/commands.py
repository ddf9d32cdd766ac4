"""`phm analyse` and `phm measures`: build the analytics tables in the linked zone, and list the
measures built. Both print aggregates only (counts, seconds, group values), never a row about
a person; the audit log gets counts, never values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openphm.analytics.stage import BUILD_ACTION, READ_ACTION
from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, warn_coverage


def register(app: typer.Typer) -> None:
    app.command("analyse")(analyse_command)
    app.command("measures")(measures_command)


def analyse_command(
    workspace: WorkspaceArgument,
    reference_date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--reference-date",
            formats=["%Y-%m-%d"],
            help="Date the registers and scores are as at, and the activity window "
            "ends on (default: the end of the last complete month of data).",
        ),
    ] = None,
    window_months: Annotated[
        int,
        typer.Option(
            "--window-months",
            min=1,
            max=60,
            help="Length of the activity window before the reference date.",
        ),
    ] = 12,
    codelists: Annotated[
        Path | None,
        typer.Option(
            "--codelists",
            file_okay=False,
            exists=True,
            help="Folder of your own code lists (<name>.csv, OpenCodelists format); "
            "they add to and override the lists OpenPHM ships.",
        ),
    ] = None,
    tariff: Annotated[
        Path | None,
        typer.Option(
            "--tariff",
            dir_okay=False,
            exists=True,
            help="CSV of unit costs (activity,unit_cost_gbp) instead of the default.",
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
    """Build registers, scores, segments, activity and measures for a reference date into the
    linked zone (tables person_registers, person_scores, person_segments, person_activity,
    measures). Prints counts and timings only."""
    from rich.table import Table

    from openphm.analytics.definitions import AnalyticsOptions
    from openphm.analytics.stage import analyse, dated
    from openphm.engine import engine_for
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, BUILD_ACTION)
    kind = engine_for(ws, engine)
    day, cover = dated(ws, reference_date.date() if reference_date else None, window_months)
    warn_coverage(cover)  # at once, before the work, and again at the end
    options = AnalyticsOptions(
        window_months=window_months,
        codelist_folder=str(codelists) if codelists else None,
        tariff_path=str(tariff) if tariff else None,
    )
    with console.status("Building analytics…") as status:
        summary = analyse(ws, actor, day, cover, options, kind, status.update)
    table = Table(title=f"Analytics {cover.note()}, window from {summary.window_start}")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in summary.seconds.items():
        table.add_row(name, f"{seconds:.2f}")
    table.add_row("[bold]total[/]", f"[bold]{summary.total_seconds:.2f}[/]")
    console.print(table)
    rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    console.print(f"Rows written: {rows}.")
    if summary.missing_codelists:
        console.print(
            f"{len(summary.missing_codelists)} code lists named by definitions were not found "
            f"and were left out (add them with --codelists): "
            f"{', '.join(summary.missing_codelists)}",
            soft_wrap=True,
        )
    warn_coverage(cover)


def measures_command(
    workspace: WorkspaceArgument,
    measure: Annotated[
        str | None, typer.Option("--measure", help="Show one measure per group.")
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            help="With --measure: practice, age_band, sex, "
            "ethnic_group, imd_decile, imd_quintile, lsoa, segment or core20; pcn, place or "
            "icb where programme.toml's [indicators] draws them.",
        ),
    ] = "core20",
    role: RoleOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the measures built by phm analyse: overall value (crude and age-standardised) with
    95% limits, or one measure per group. Aggregates only, before disclosure control: do not
    publish them as they are (phm release applies disclosure control)."""
    from rich.table import Table

    from openphm.analytics.stage import measures_built
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, READ_ACTION)
    frame, end = measures_built(ws, actor)
    if as_json:
        _json(frame, measure, group_by, end)
        return
    if end is not None:
        console.print(f"Data to {end} (the data's end when phm analyse ran).")
    if measure is None:
        _overall(frame, Table)
    else:
        _per_group(frame, measure, group_by, Table)


def _json(frame, measure: str | None, group_by: str, end) -> None:
    """The measures (overall, or one measure per group) as JSON records; NaN as null."""
    from openphm.console import print_json

    part = frame[frame["group_by"] == "all"] if measure is None else frame[
        (frame["measure"] == measure) & (frame["group_by"] == group_by)]  # fmt: skip
    records = part.astype(object).where(part.notna(), None).to_dict(orient="records")
    print_json({"data_end": end, "measures": records})


def _fmt(value) -> str:
    return "–" if value != value else f"{value:,.2f}"  # NaN prints as a dash


def _overall(frame, Table) -> None:
    import pandas as pd

    overall = frame[frame["group_by"] == "all"]
    start, end = (pd.Timestamp(overall[c].iloc[0]).date() for c in ("period_start", "period_end"))
    period = f"{start} to {end}"
    table = Table(title=f"Measures, {period}")
    for column in ("measure", "per", "crude (95% CI)", "age-standardised (95% CI)"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name, part in overall.groupby("measure", sort=False):
        row = {s: r for s, r in zip(part["statistic"], part.itertuples(), strict=True)}
        crude, dsr = row.get("crude"), row.get("dsr")
        table.add_row(
            name,
            _fmt(crude.multiplier),
            f"{_fmt(crude.value)} ({_fmt(crude.lower_95)}–{_fmt(crude.upper_95)})",
            f"{_fmt(dsr.value)} ({_fmt(dsr.lower_95)}–{_fmt(dsr.upper_95)})" if dsr else "",
        )
    console.print(table)


def _per_group(frame, measure: str, group_by: str, Table) -> None:
    from openphm.errors import UserFacingError

    part = frame[(frame["measure"] == measure) & (frame["group_by"] == group_by)]
    if part.empty:
        raise UserFacingError(
            f"no rows for measure {measure!r} by {group_by!r}; measures: "
            f"{', '.join(sorted(frame['measure'].unique()))}"
        )
    table = Table(title=f"{measure} by {group_by}")
    for column in ("group", "statistic", "numerator", "denominator", "value", "95% CI"):
        table.add_column(column, justify="left" if column in ("group", "statistic") else "right")
    for r in part.itertuples():
        table.add_row(str(r.group_value), r.statistic, _fmt(r.numerator), _fmt(r.denominator),
                      _fmt(r.value), f"{_fmt(r.lower_95)}–{_fmt(r.upper_95)}")  # fmt: skip
    console.print(table)
