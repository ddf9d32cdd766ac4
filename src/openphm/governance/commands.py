"""`phm audit show` and `phm audit verify`: the data protection officer's view of the log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openphm.console import RoleOption, WorkspaceArgument, console, literal

audit_app = typer.Typer(help="Read and verify the programme's hash-chained audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    _register_lifecycle(app)


@audit_app.command("show")
def show(
    workspace: WorkspaceArgument,
    last: Annotated[int, typer.Option(help="Show only the last N entries (0: all).")] = 50,
    role: RoleOption = None,
) -> None:
    """List audit entries: when, who, role, action, outcome, purpose, counts."""
    from openphm.governance.audit import AuditEntry
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "audit.show")
    entries = list(ws.audit.entries())
    table = Table(title=f"Audit log: {len(entries)} entries")
    for column in AuditEntry.COLUMNS:
        table.add_column(column)
    for entry in entries[-last:] if last else entries:
        # Entries quote what people typed (queries, names, comments): shown, never obeyed.
        table.add_row(*(literal(cell) for cell in entry.row()))
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


def _register_lifecycle(app: typer.Typer) -> None:
    app.command("close")(close)
    app.command("verify-certificate")(verify_certificate)
    app.command("notice")(notice)


def close(
    workspace: WorkspaceArgument,
    reason: Annotated[str, typer.Option(help="Why the programme is closing now.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: this destroys all programme data.")
    ] = False,
    role: RoleOption = None,
) -> None:
    """Close the programme: destroy every data key and zone file, keep released outputs and
    the audit log, and write a signed destruction certificate."""
    from openphm.governance.lifecycle import close_programme
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "programme.close")
    ws.require_open()
    if not yes:
        console.print("This destroys all of the programme's patient data. Add --yes to go ahead.")
        raise typer.Exit(1)
    closure = close_programme(ws, actor, reason=reason)
    console.print(
        f"[green]Closed[/]: {closure.keys_destroyed} keys destroyed, "
        f"{closure.files_deleted} files deleted. Certificate: {closure.certificate}"
    )


def verify_certificate(
    certificate_file: Annotated[Path, typer.Argument(help="The destruction certificate.")],
    workspace: Annotated[
        Path | None, typer.Option(help="Check it against this workspace's signing key.")
    ] = None,
) -> None:
    """Check a destruction certificate's signature (exit 1 if it does not verify)."""
    import json

    from openphm.governance.certificate import CertificateError, verify

    expected = None
    if workspace is not None:
        expected = json.loads((workspace / "workspace.json").read_text())["signing_public_key"]
    try:
        body = verify(certificate_file, expected)
    except CertificateError as err:
        console.print(f"[red]✗[/] {err}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]Certificate verifies[/]: {body['programme']} closed {body['closed_at']}; "
        f"{len(body['keys_destroyed'])} keys destroyed; audit head {body['audit_log_head']['seq']}"
    )


def notice(
    workspace: WorkspaceArgument,
    out: Annotated[
        Path | None, typer.Option(help="Write here instead of WORKSPACE/outputs/privacy-notice.md")
    ] = None,
    role: RoleOption = None,
) -> None:
    """Write the patient-facing privacy notice from the programme's own configuration."""
    from openphm.governance.notice import privacy_notice
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "programme.notice")
    path = out or ws.zone("outputs") / "privacy-notice.md"
    path.write_text(privacy_notice(ws.config))
    ws.audit.record(actor, "programme.notice", writes=(str(path.name),))
    console.print(f"Privacy notice written to {path}")
