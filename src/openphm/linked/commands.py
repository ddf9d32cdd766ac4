"""`phm tables` and `phm sql`: what the linked zone holds, and analysts' read-only queries."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from openphm.console import RoleOption, WorkspaceArgument, console


def register(app: typer.Typer) -> None:
    app.command("tables")(tables_command)
    app.command("sql")(sql_command)


def tables_command(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """List the linked zone's tables with their row counts and columns."""
    from openphm.governance.roles import current_actor
    from openphm.linked.query import tables
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "linked.query")
    found = tables(ws)
    table = Table(title="Linked zone")
    for column in ("table", "rows", "columns"):
        table.add_column(column, overflow="fold")
    for info in found:
        table.add_row(info.name, f"{info.rows:,}", ", ".join(info.columns))
    console.print(table)
    ws.audit.record(actor, "linked.tables", counts={"tables": len(found)})


def sql_command(
    workspace: WorkspaceArgument,
    query: Annotated[str, typer.Argument(help='A read-only query, e.g. "SELECT …".')],
    csv: Annotated[bool, typer.Option("--csv", help="Write CSV to standard output.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show in the table view.")] = 50,
    role: RoleOption = None,
) -> None:
    """Query the linked zone (read-only; the linked zone only). Analysts see pseudonyms,
    never identifiers; to take results out of the zone, make a release."""
    from openphm.governance.roles import current_actor
    from openphm.linked.query import run_sql
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "linked.query")
    result = run_sql(ws, query)
    # The query text can hold literal values an analyst typed; the audit keeps its shape only.
    ws.audit.record(actor, "linked.query", counts={"rows": len(result)})
    if csv:
        result.to_csv(sys.stdout, index=False)
        return
    table = Table(
        caption=f"{len(result):,} rows" + (f", first {limit}" if len(result) > limit else "")
    )
    for column in result.columns:
        table.add_column(str(column))
    for row in result.head(limit).itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
