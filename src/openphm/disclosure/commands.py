"""`phm release …`: request, approve and list releases; nothing else leaves the outputs zone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from openphm.console import RoleOption, WorkspaceArgument, console

release_app = typer.Typer(
    help="Release disclosure-controlled tables for one of the programme's purposes."
)


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("extract")(extract)


@release_app.command("request")
def request(
    workspace: WorkspaceArgument,
    drafts: Annotated[list[str], typer.Argument(help="Names of the draft tables to release.")],
    purpose: Annotated[str, typer.Option(help="One of the programme's purposes.")],
    title: Annotated[str, typer.Option(help="What this release is, in a few words.")],
    role: RoleOption = None,
) -> None:
    """Apply disclosure control to drafts and stage them as a release (approval may follow)."""
    from openphm.disclosure.releases import request_release
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "release.request", purpose=purpose)
    manifest = request_release(ws, actor, drafts, purpose=purpose, title=title)
    console.print(f"Release [bold]{manifest['id']}[/]: {manifest['status']}")
    for item in manifest["contents"]:
        console.print(
            f"  {item['table']}: {item['rows']} rows, {item['primary_redactions']} cells "
            f"redacted, {item['secondary_redactions']} more to stop recovery by subtraction"
        )


@release_app.command("approve")
def approve(
    workspace: WorkspaceArgument,
    release_id: Annotated[str, typer.Argument(help="The release to approve.")],
    role: RoleOption = None,
) -> None:
    """Approve someone else's release after checking it (output checking)."""
    from openphm.disclosure.releases import approve_release
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "release.approve")
    manifest = approve_release(ws, actor, release_id)
    console.print(f"Release {release_id} [green]released[/], approved by {manifest['approved_by']}")


@release_app.command("list")
def list_(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """List releases with purpose, requester, status and approver."""
    from openphm.disclosure.releases import list_releases
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    ws.authorise(actor, "release.list")
    table = Table(title="Releases")
    for column in ("id", "title", "purpose", "requester", "status", "approved by"):
        table.add_column(column)
    for m in list_releases(ws):
        table.add_row(
            m["id"], m["title"], m["purpose"], m["requester"], m["status"], m["approved_by"] or ""
        )
    console.print(table)


def extract(
    workspace: WorkspaceArgument,
    recipient: Annotated[str, typer.Option(help="A recipient named in programme.toml.")],
    role: RoleOption = None,
) -> None:
    """Write a record-level extract for a recipient: only the fields its purpose needs, its
    own pseudonyms, k-anonymous. Refused once the recipient's access has expired."""
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise.extracts import make_extract

    ws = Workspace.open(workspace)
    actor = current_actor(role)
    made = make_extract(ws, actor, recipient)
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
        console.print(f"  {name}: {info['rows']:,} rows ({info['file']})")
