"""`phm audit show` and `phm audit verify`: the data protection officer's view of the log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from openphm.console import RoleOption, WorkspaceArgument, console

audit_app = typer.Typer(help="Read and verify the programme's hash-chained audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("show")
def show(
    workspace: WorkspaceArgument,
    last: Annotated[int, typer.Option(help="Show only the last N entries (0: all).")] = 50,
    role: RoleOption = None,
) -> None:
    """List audit entries: when, who, role, action, outcome, purpose, counts."""
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "audit.show")
    entries = list(ws.audit.entries())
    table = Table(title=f"Audit log: {len(entries)} entries")
    for column in ("#", "time", "user", "role", "action", "outcome", "purpose", "detail"):
        table.add_column(column)
    for entry in entries[-last:] if last else entries:
        detail = ", ".join(f"{k}={v}" for k, v in entry.counts.items())
        if entry.reason:
            detail = f"{detail}; {entry.reason}" if detail else entry.reason
        table.add_row(
            str(entry.seq),
            entry.time[:19],
            entry.user,
            entry.role,
            entry.action,
            entry.outcome,
            entry.purpose or "",
            detail,
        )
    console.print(table)
    shown = min(last or len(entries), len(entries))
    ws.audit.record(actor, "audit.show", counts={"entries_shown": shown})


@audit_app.command("verify")
def verify(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Check the chain: any edited, removed or reordered entry is named. Exit 1 if broken."""
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "audit.verify")
    result = ws.audit.verify()
    if result.ok:
        console.print(f"[green]Audit log intact[/]: {result.entries} entries")
        ws.audit.record(actor, "audit.verify", counts={"entries": result.entries})
        return
    for problem in result.problems:
        console.print(f"[red]✗[/] {problem}")
    ws.audit.record(
        actor, "audit.verify", outcome="failed", counts={"problems": len(result.problems)}
    )
    console.print(f"[red]The audit log has been tampered with[/]: {len(result.problems)} problems")
    raise typer.Exit(1)
