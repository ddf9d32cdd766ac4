"""`phm analyse` and `phm measures`: build the analytics tables in the linked zone, and list the
measures built. Both print aggregates only (counts, seconds, group values), never a row about
a person; the audit log gets counts, never values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console

BUILD_ACTION = "analytics.build"
READ_ACTION = "analytics.read"


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
            "ends on (default: today).",
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

    from openphm import clock
    from openphm.analytics.build import TABLES
    from openphm.analytics.definitions import AnalyticsOptions
    from openphm.engine import check_engine
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    action = BUILD_ACTION
    ws.authorise(actor, action)
    day = reference_date.date() if reference_date else clock.today()
    options = AnalyticsOptions(
        window_months=window_months,
        codelist_folder=str(codelists) if codelists else None,
        tariff_path=str(tariff) if tariff else None,
    )
    kind = check_engine(engine or ws.config.engine.kind.value)
    try:
        with console.status("Building analytics…") as status:
            summary = build_on_engine(ws, kind, day, options, status.update)
    except Exception:
        ws.audit.record(actor, action, outcome="failed", reads=("linked",),
                        reason=f"analytics build failed on {kind}")  # fmt: skip
        raise
    ws.audit.record(
        actor, action, reads=("linked",), writes=tuple(f"linked.{t}" for t in TABLES),
        counts={**summary.rows, "missing_codelists": len(summary.missing_codelists)},
        reason=f"engine {kind}",
    )  # fmt: skip
    table = Table(title=f"Analytics as at {day} (window from {summary.window_start})")
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


def build_on_engine(ws, kind: str, day: dt.date, options, say=lambda text: None):
    """Build the analytics into the linked zone on `kind`. The zone of record is the DuckDB
    file, which the other stages read; on Spark the zone is exported to encrypted Parquet
    under the same data key, built there, the analytics tables are copied back into the file,
    and the Parquet copy is deleted (a copy left behind would keep rows that a later objection
    removes from the file)."""
    from openphm.analytics.build import TABLES, build
    from openphm.analytics.runs import RUNS, inputs_fingerprint
    from openphm.engine import import_linked
    from openphm.keystore import KeyName

    progress = lambda step: say(f"{step}…")  # noqa: E731
    if kind == "duckdb":
        con = ws.connect_linked()
        try:
            # The record goes first and comes back last: a build that fails part way leaves
            # no record claiming its tables (analytics.runs).
            con.execute(f"DROP TABLE IF EXISTS linked.main.{RUNS}")
            inputs = inputs_fingerprint(con, "linked")
            return build(con, day, options, progress=progress, inputs=inputs)
        finally:
            con.close()
    con = ws.connect_linked(read_only=True)
    try:
        inputs = inputs_fingerprint(con, "linked")  # what the Parquet copy will hold
    finally:
        con.close()
    say("Copying the linked zone to encrypted Parquet for Spark…")
    with ws.linked_on_spark(read_only=False) as zone:
        summary = build(zone.backend, day, options, progress=progress, inputs=inputs)
        say("Bringing the analytics tables back into the zone…")
        import_linked(ws.zone("linked"), KeyName.LINKED_DATA,
                      ws.keystore.get(KeyName.LINKED_DATA), TABLES,
                      before_commit=copy_back_check(inputs))  # fmt: skip
    return summary


def copy_back_check(inputs: str, tables: tuple[str, ...] | None = None, rerun: str = "phm analyse"):
    """The check on the tables brought back from Spark, in the copy-back's transaction: the
    zone file must hold what the Parquet copy held (`inputs`, its fingerprint when copied).
    A `phm link` since (new rows, re-keyed or objectors' rows removed) would make the tables
    describe a population the zone no longer holds, so nothing comes back and the build must
    be run again (`rerun` names the command). Then the objections hook on `tables` (default:
    the analytics tables), as a second guard."""
    from openphm.analytics.runs import ZoneChangedError, inputs_fingerprint

    def check(con) -> None:
        if inputs_fingerprint(con, "linked") != inputs:
            raise ZoneChangedError(
                "the linked zone changed while Spark was building (phm link ran since the copy "
                f"was taken); nothing was brought back: run {rerun} again"
            )
        _objections(con, tables)

    return check


def _objections(con, tables: tuple[str, ...] | None = None) -> None:
    """The objections hook on the tables brought back from Spark (default: the analytics
    tables): an objection `phm link` applied to the zone file while Spark was building must not
    come back with them."""
    from openphm.analytics.build import TABLES
    from openphm.identity.objections import apply_objections

    tables = TABLES if tables is None else tables
    from openphm.pseudonymise.link import OBJECTORS

    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE database_name = 'linked' "
            "AND column_name = 'pseudonym'"
        ).fetchall()
    }
    if OBJECTORS.removeprefix("linked.") in present:
        apply_objections(con, OBJECTORS, {f"linked.{t}": None for t in tables if t in present})


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
            "ethnic_group, imd_decile, imd_quintile, lsoa, segment or core20.",
        ),
    ] = "core20",
    role: RoleOption = None,
) -> None:
    """List the measures built by phm analyse: overall value (crude and age-standardised) with
    95% limits, or one measure per group. Aggregates only, before disclosure control: do not
    publish them as they are (phm release applies disclosure control)."""
    from rich.table import Table

    from openphm.analytics.build import read_measures
    from openphm.analytics.zone import LinkedZoneError
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    action = READ_ACTION
    ws.authorise(actor, action)
    con = ws.connect_linked(read_only=True)
    try:
        try:
            frame = read_measures(con)
        except Exception as err:  # the table is missing: nothing built yet
            raise LinkedZoneError("no measures yet: run phm analyse first") from err
    finally:
        con.close()
    ws.audit.record(actor, action, reads=("linked.measures",), counts={"rows": len(frame)})
    if measure is None:
        _overall(frame, Table)
    else:
        _per_group(frame, measure, group_by, Table)


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
    from openphm.console import UserFacingError

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
