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
    app.command("layouts")(layouts)
    layout_app = typer.Typer(help="Layouts of published data sets (docs/extract-formats.md).")
    layout_app.command("check")(layout_check)
    app.add_typer(layout_app, name="layout")


def layouts(as_json: JsonOption = False) -> None:
    """List the built-in layouts: the published data sets OpenPHM reads as they are sent, with
    their specification and version."""
    from openphm.programme.layouts import builtin, datasets

    found = builtin().values()
    if as_json:
        print_json([
            {"name": x.name, "title": x.title, "kind": x.kind, "specification": x.specification,
             "version": x.version, "versions": [v.name for v in x.versions],
             "dataset": x.dataset, "table": x.table}
            for x in found
        ])  # fmt: skip
        return
    table = Table(title="Built-in layouts")
    for column in ("layout", "data set", "source kind", "specification", "version"):
        table.add_column(column, overflow="fold")
    for x in found:
        table.add_row(*map(literal, (x.name, x.title, x.kind, x.specification, x.version)))
    console.print(table)
    for name, tables in datasets().items():
        console.print(
            literal(
                f"{name}: a data set sent as {len(tables)} tables, each its own file "
                f"({', '.join(t.table for t in tables)}); a source names it whole "
                f'(layout = "{name}")'
            ),
            soft_wrap=True,
        )


class LayoutRefused(UserFacingError):
    """The file could not be loaded under the layout as it is."""


def layout_check(
    file: Annotated[Path, typer.Argument(help="The file as it arrived.")],
    layout: Annotated[
        str,
        typer.Option("--layout", help="A built-in layout (phm layouts) or a local layout file."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Show what a file would become under a layout (encoding, delimiter, header version,
    columns mapped, missing and extra, the first problems by row and field) without loading
    anything. Never shows a value from the file."""
    from openphm.landing.files import Refused
    from openphm.landing.layout_check import check
    from openphm.programme.layouts import resolve

    chosen = resolve(layout, Path.cwd())
    try:
        report = check(file, chosen)
    except Refused as refused:
        raise LayoutRefused(str(refused)) from None
    if as_json:
        print_json(report.as_dict())
    else:
        _print_layout_report(report)
    if report.refusal:
        raise LayoutRefused(f"{file}: would be refused whole: {report.refusal}")


def _some(names, what: str, shown: int = 24) -> str:
    listed = ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
    return f"{len(names)} {what}: {listed}"


def _print_layout_report(r) -> None:
    shown = {",": "comma", "|": "pipe (|)", "\t": "tab", ";": "semicolon"}
    encoding = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}.get(r.encoding, r.encoding)
    lines = [
        ("file", r.file),
        ("layout", f"{r.layout.name}: {r.layout.title}"
         + (f", as {r.layout.source} adapts it" if r.layout.local else "")),
        ("specification", f"{r.layout.specification} ({r.layout.version})"),
        ("encoding", encoding + (" with a byte order mark" if r.byte_order_mark else "")),
        ("delimiter", shown.get(r.delimiter, repr(r.delimiter))),
        ("header", f"{r.columns} columns; version found: {r.version or '(none)'}"
         + (f" ({r.version_title})" if r.version_title else "")),
        ("kept fields", f"{len(r.mapped)} of {len(r.layout.fields)} mapped: "
         + (", ".join(r.mapped) or "none")),
        ("missing", _some(r.missing, "of that version's columns (only the kept fields are "
                   "needed)") if r.missing else "none (of that version's columns)"),
        ("unknown", ", ".join(r.unknown) or "none"),
    ]  # fmt: skip
    if r.elsewhere:
        what = "column(s) that version lacks and another declared version has (several years?)"
        lines.append(("other versions", _some(r.elsewhere, what)))
    if not r.refusal:
        lines.append(
            ("rows", f"{r.received} received: {r.loaded} would load, "
             f"{r.quarantined} would be quarantined")
        )  # fmt: skip
    for label, value in lines:
        console.print(Text(f"{label:>14}: ", style="bold") + literal(value), soft_wrap=True)
    if r.refusal:
        console.print(Text("   refused: ", style="bold red") + literal(r.refusal), soft_wrap=True)
    if r.problems:
        table = Table(title=f"First problems (up to {len(r.problems)})")
        for column in ("row", "field", "reason"):
            table.add_column(column)
        for row, field, reason in r.problems:
            table.add_row(*map(literal, (str(row), field, reason)))
        console.print(table)


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
