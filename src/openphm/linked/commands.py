"""`phm tables` and `phm sql`: what the linked zone holds, and analysts' read-only queries.

`phm sql` shows a bounded number of rows in the terminal and never writes a file: a result
leaves the zone only as a draft (`--save-draft`) that goes through a release request and output
checking (`phm release …`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, literal, print_json
from openphm.linked.query import MOST_SHOWN_ROWS, SHOWN_ROWS


def register(app: typer.Typer) -> None:
    app.command("tables")(tables_command)
    app.command("sql")(sql_command)


def tables_command(
    workspace: WorkspaceArgument, role: RoleOption = None, as_json: JsonOption = False
) -> None:
    """List the linked zone's tables with their row counts and columns."""
    from openphm.linked.query import list_tables
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "linked.tables")
    found = list_tables(ws, actor)
    if as_json:
        print_json([{"table": i.name, "rows": i.rows, "columns": list(i.columns)} for i in found])
        return
    table = Table(title="Linked zone")
    for column in ("table", "rows", "columns"):
        table.add_column(column, overflow="fold")
    for info in found:
        table.add_row(literal(info.name), f"{info.rows:,}", literal(", ".join(info.columns)))
    console.print(table)


def sql_command(
    workspace: WorkspaceArgument,
    query: Annotated[str, typer.Argument(help='A read-only query, e.g. "SELECT …".')],
    rows: Annotated[
        int,
        typer.Option(min=1, max=MOST_SHOWN_ROWS, help=f"Rows to show (at most {MOST_SHOWN_ROWS})."),
    ] = SHOWN_ROWS,
    save_draft: Annotated[
        str | None,
        typer.Option(
            help="Keep the whole result in the linked zone as a release draft of this name "
            "(lower case, digits, underscores), to request with `phm release request`."
        ),
    ] = None,
    counts: Annotated[
        str | None,
        typer.Option(help="With --save-draft: the columns that count people, e.g. people,n."),
    ] = None,
    totals_over: Annotated[
        str | None,
        typer.Option(help="With --save-draft: group columns to publish totals over."),
    ] = None,
    description: Annotated[
        str, typer.Option(help="With --save-draft: what the draft shows, for the checker.")
    ] = "",
    role: RoleOption = None,
) -> None:
    """Query the linked zone (one read-only statement; the linked zone only) and show the first
    rows. Analysts see pseudonyms, never identifiers. Nothing is written to a file: to take a
    result out, save it as a draft and request a release."""
    from openphm.linked.query import run_sql
    from openphm.programme.workspace import open_as

    if not save_draft and (counts or totals_over or description):
        raise typer.BadParameter("--counts, --totals-over and --description go with --save-draft")
    ws, actor = open_as(workspace, role)
    result = run_sql(ws, actor, query, keep=None if save_draft else rows)
    show(result.frame.head(rows), result.rows)
    if save_draft:
        _save(ws, actor, save_draft, result.frame, query, counts, totals_over, description)


def show(frame, total: int) -> None:
    """The rows in a terminal table, every value as literal text (openphm.console.literal)."""
    caption = f"{total:,} rows" + (f", first {len(frame):,} shown" if total > len(frame) else "")
    table = Table(caption=caption)
    for column in frame.columns:
        table.add_column(literal(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(literal(value) for value in row))
    console.print(table)


def _save(ws, actor, name, frame, query, counts, totals_over, description) -> None:
    from openphm.disclosure.releases import draft_from_query

    spec = draft_from_query(
        ws,
        actor,
        name,
        frame,
        query=query,
        counts=_columns(counts),
        totals_over=_columns(totals_over),
        description=description,
    )
    console.print(
        literal(
            f"Saved draft {spec.name}: {len(frame):,} rows; counts: "
            f"{', '.join(spec.counts) or 'none'}; cells named by: {', '.join(spec.groups)}"
        )
    )
    if not spec.counts:
        console.print(
            "[yellow]No count columns:[/] disclosure control cannot vouch for this draft; a "
            "release of it needs an exception the data protection officer approves."
        )


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]
