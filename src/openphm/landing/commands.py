"""`phm ingest`, `phm quarantine`, `phm retention`: landing extracts and looking after zone 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from openphm.console import (
    JsonOption,
    RoleOption,
    WorkspaceArgument,
    console,
    literal,
    print_json,
)
from openphm.errors import UserFacingError


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("quarantine")(quarantine)
    app.command("retention")(retention)


class FilesRefused(UserFacingError):
    """Some files were refused whole; the others were loaded."""


def ingest(
    workspace: WorkspaceArgument,
    paths: Annotated[
        list[Path], typer.Argument(help="Extract files, or folders searched recursively.")
    ],
    role: RoleOption = "processor-engineer",
) -> None:
    """Land providers' extracts in the landing zone: validate, quarantine bad rows, refuse
    files the programme does not take. Loading the same file again changes nothing."""
    from rich.progress import Progress

    from openphm.landing.ingest import LOADED, REFUSED, UNCHANGED, ingest
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    colour = {LOADED: "green", UNCHANGED: "yellow", REFUSED: "red"}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("landing extracts", total=None)

        def show(outcome) -> None:
            # The message names the file: a path is printed as the text it is, never as Rich
            # markup (a folder named `x[/]y` made the line a MarkupError).
            line = (
                Text(outcome.status, style=colour[outcome.status]) + " " + literal(outcome.message)
            )
            progress.console.print(line, soft_wrap=True)
            progress.advance(task)

        report = ingest(ws, paths, actor, on_file=show)
    console.print(
        f"{report.count(LOADED)} file(s) loaded"
        + (f" in batch {report.batch_id}" if report.batch_id else "")
        + f", {report.count(UNCHANGED)} unchanged, {report.count(REFUSED)} refused"
    )
    if report.count(REFUSED):
        raise FilesRefused(
            f"{report.count(REFUSED)} file(s) refused whole (listed above, and in the audit log)"
        )


def quarantine(
    workspace: WorkspaceArgument,
    rows: Annotated[bool, typer.Option("--rows", help="List the row numbers too.")] = False,
    role: RoleOption = "processor-engineer",
    as_json: JsonOption = False,
) -> None:
    """List the rows held back at landing, per file, field and reason (never their values)."""
    from openphm.engine import connect
    from openphm.landing.read import quarantine as held_back
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    con = connect()
    held = held_back(ws, con, actor)
    if as_json:
        print_json([
            {"file": h.file, "submission_id": h.submission_id, "field": h.field,
             "reason": h.reason, "rows": h.rows,
             **({"row_numbers": list(h.row_numbers)} if rows else {})}
            for h in held
        ])  # fmt: skip
        return
    if not held:
        console.print("Nothing is held in quarantine.")
        return
    table = Table(title="Quarantine")
    for column in ("file", "field", "reason", "rows"):
        table.add_column(column)
    if rows:
        table.add_column("row numbers")
    for h in held:
        cells = [h.file, h.field, h.reason, str(h.rows)]
        if rows:
            cells.append(", ".join(map(str, h.row_numbers)))
        table.add_row(*map(literal, cells))  # a file name or a provider's field name, as text
    console.print(table)


def retention(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Destroy identifiable landing data older than the programme's retention period."""
    from openphm.landing.retention import run_retention
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    report = run_retention(ws, actor)
    console.print(
        f"Destroyed {report.batches} batch(es) ({report.files} file(s), {report.rows} rows) "
        f"that arrived on or before {report.cutoff:%Y-%m-%d %H:%M} UTC"
    )
