"""`phm link`: build the de-identified linked population from what has landed; `phm extract`:
a recipient's record-level extract.

`phm link` reads zone 1 and the key store (through openphm.pseudonymise.link) and writes zone
3; `phm extract` reads zone 3 and the recipient's key and writes zone 4 (through
openphm.pseudonymise.extracts, which derives the recipient's pseudonyms from the linkage key).
Both print counts and rates only, never a patient's value.
"""

from __future__ import annotations

from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console


def register(app: typer.Typer) -> None:
    app.command("link")(link_command)
    app.command("extract")(extract_command)


def link_command(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Link what has landed into the linked zone: check NHS numbers, trace records without
    one, pseudonymise, seal re-identification tokens, de-identify, apply objections. Only new
    files are linked; a resubmission replaces the file it supersedes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openphm.programme.workspace import open_as
    from openphm.pseudonymise.link import link

    ws, actor = open_as(workspace, role)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def show(step: str, done: int, total: int) -> None:
            if step not in tasks:
                for earlier in tasks.values():
                    progress.update(earlier, completed=1, total=1)
                tasks[step] = progress.add_task(step, total=total or None)
            progress.update(tasks[step], completed=done, total=total or None)

        result = link(ws, actor, progress=show)
    show_result(ws, result)


def show_result(ws, result) -> None:
    from rich.table import Table

    from openphm.pseudonymise.report import link_report, linkage_equity

    console.print(
        f"Linked {result.submissions_linked} new file(s), replaced {result.submissions_replaced}; "
        f"{result.people:,} people in the linked zone. Traced {result.traced:,} of "
        f"{result.records_to_trace:,} records without a valid NHS number. Sealed "
        f"{result.tokens_sealed:,} token(s)."
    )
    if result.provider_tokens_sealed:
        console.print(
            f"Sealed {result.provider_tokens_sealed:,} token(s) to hospital providers' keys "
            "(their local patient ids)."
        )
    if result.tracing and result.tracing.sources:
        show_tracing(result.tracing)
    if result.registered_without_key:
        console.print(
            f"[yellow]Warning:[/] {result.registered_without_key:,} people have a practice that "
            "has not registered its public key (phm practice register): they have no token."
        )
    for alert in unmatched_alerts(link_report(ws)):
        console.print(f"[red]Alert:[/] {alert}")
    removed = sum(result.objected_removed.values())
    excluded = sum(result.objected_excluded.values())
    console.print(
        f"Objections: {result.objectors:,} objector(s); {removed:,} row(s) removed from the "
        f"linked zone, {excluded:,} arriving row(s) kept out."
    )
    for title, frame in (("Link report", link_report(ws)), ("Linkage equity", linkage_equity(ws))):
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(
                str(column), justify="right" if frame[column].dtype.kind in "if" else "left"
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)


def unmatched_alerts(report) -> list[str]:
    """From the link report, each source and provider that left more than 2.2% of its
    records without an NHS number (neither valid nor traced)."""
    from openphm.identity.quality import unmatched_alert

    alerts = []
    for row in report.itertuples(index=False):
        alert = unmatched_alert(f"{row.source} {row.provider}", int(row.records), int(row.untraced))
        if alert:
            alerts.append(alert)
    return alerts


def show_tracing(report) -> None:
    """Per source: records that needed tracing, how many were traced, and the share of each
    field's values that could be read, with a warning for a field mostly unreadable."""
    from rich.table import Table

    from openphm.identity.tracing import FIELDS

    table = Table(title="Tracing (records without a valid NHS number; % of values readable)")
    for column in ("source", "provider", "to trace", "traced", *FIELDS):
        table.add_column(column, justify="left" if column in ("source", "provider") else "right")
    for source in report.sources:
        rates = {r.field: f"{r.rate:.0%}" if r.sent else "-" for r in source.rates}
        table.add_row(source.source, source.provider, f"{source.records:,}",
                      f"{source.traced:,}", *(rates.get(f, "-") for f in FIELDS))  # fmt: skip
    console.print(table)
    for source in report.sources:
        if source.model is not None:
            console.print(f"Tracing model, {source.source} {source.provider} {source.period}: "
                          f"{model_summary(source.model, source.changes)}; "
                          f"{source.threshold.describe()} of the records Splink scored "
                          "(the rest matched exactly)")  # fmt: skip
        for line in source.warnings():
            console.print(f"[yellow]Warning:[/] tracing {source.source} {source.provider}: {line}")


def model_summary(model, changes) -> str:
    """Which parameters a source was traced with, from where, and what moved most."""
    text = f"{model.reason}; from {model.started_from}; expects {model.on_spine_share:.1%} of "
    text += "records on the spine"
    moved = [c for c in changes[:3] if abs(c.weight_change) >= 0.5]
    if moved:
        text += "; moved most: " + ", ".join(
            f"{c.comparison} '{c.level}' {c.weight_change:+.1f} bits" for c in moved
        )
    return text


def extract_command(
    workspace: WorkspaceArgument,
    recipient: Annotated[str, typer.Option(help="A recipient named in programme.toml.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (people.csv and a file per field group) or omop (OMOP CDM v5.4 tables "
            "and a DuckDB file made from OHDSI's DDL, in <date>/omop/).",
        ),
    ] = "csv",
    role: RoleOption = None,
) -> None:
    """Write a record-level extract for a recipient: only the fields its purpose needs, its
    own pseudonyms, k-anonymous. Refused once the recipient's access has expired."""
    from openphm.programme.workspace import open_as
    from openphm.pseudonymise.extracts import make_extract

    ws, actor = open_as(workspace, role)
    made = make_extract(ws, actor, recipient, format=format)
    m = made.manifest
    anonymity = m["k_anonymity"]
    console.print(
        f"Extract for {m['recipient']} ({m['purpose']}), until {m['expires']}: {made.folder}"
    )
    console.print(
        f"  k = {anonymity['k']} ({anonymity['generalisation']}); smallest group "
        f"{anonymity['smallest_group']}; {anonymity['people_suppressed']} people suppressed; "
        f"l-diversity of {m['l_diversity']['sensitive']}: {m['l_diversity']['l']}"
    )
    for name, info in m["files"].items():
        rows = f"{info['rows']:,} rows" if "rows" in info else "OMOP CDM v5.4, DuckDB"
        console.print(f"  {name}: {rows} ({info['file']})")
    if "omop" in m:
        checks = m["omop"]["constraints"]
        console.print(
            f"  OMOP constraints: {checks['foreign_keys_checked']} foreign keys and "
            f"{checks['lengths_checked']} column lengths checked, none broken; primary keys "
            "and NOT NULL enforced by DuckDB"
        )
