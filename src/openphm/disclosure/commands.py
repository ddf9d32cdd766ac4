"""`phm release …`: request a release, check it (review, approve, return, reject), resubmit a
returned one, download an approved one, list them; and `phm export` of every approved release's
tables for analysts' own tools. (`phm extract`, a recipient's record-level extract, is the
pseudonymisation stage's: openphm.pseudonymise.commands.)"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, literal, print_json

release_app = typer.Typer(
    help="Release disclosure-controlled tables for one of the programme's purposes, after a "
    "second person has checked them."
)

ReleaseArgument = Annotated[str, typer.Argument(help="The release's id (phm release list).")]
DescribeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--describe",
        help="DRAFT=TEXT: what an output shows, for the output checker (repeat per draft; "
        "a draft's own description otherwise).",
    ),
]
ExceptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exception",
        help="DRAFT=TEXT: why an output that fails a disclosure check is safe to release; only "
        "the data protection officer may approve it.",
    ),
]
CommentOption = Annotated[str, typer.Option(help="Why, for the requester (recorded).")]


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("export")(export)


def export(
    workspace: WorkspaceArgument,
    to: Annotated[Path, typer.Option(help="A new folder to write the tables into.")],
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (one file a table), parquet (one file a table) or xlsx (one workbook, a "
            "sheet a table); each with the data dictionary.",
        ),
    ] = "csv",
    release: Annotated[
        list[str] | None,
        typer.Option(help="Only this approved release (repeat); every approved one otherwise."),
    ] = None,
    role: RoleOption = None,
) -> None:
    """Every approved release's tables, as released, for Power BI, Tableau, Excel or R, with a
    data dictionary (each column's type and disclosure control, each table's release, purpose
    and approver). Recorded in each release's history and the audit log."""
    from openphm.disclosure.export import export as export_tables

    ws, actor = _open(workspace, role)
    written = export_tables(ws, actor, to, format_, release)
    console.print(literal(f"Wrote {len(written)} file(s) to {to.absolute()}"))
    for path in written:
        console.print(literal(f"  {path.name}"))


@release_app.command("request")
def request(
    workspace: WorkspaceArgument,
    drafts: Annotated[list[str], typer.Argument(help="Names of the drafts to release.")],
    purpose: Annotated[str, typer.Option(help="One of the programme's purposes.")],
    title: Annotated[str, typer.Option(help="What this release is, in a few words.")],
    describe: DescribeOption = None,
    exception: ExceptionOption = None,
    role: RoleOption = None,
) -> None:
    """Apply disclosure control to drafts and ask for them to be released; an output checker
    reviews the request."""
    from openphm.disclosure.releases import request_release

    ws, actor = _open(workspace, role)
    manifest = request_release(
        ws,
        actor,
        drafts,
        purpose=purpose,
        title=title,
        descriptions=_named(describe, "--describe"),
        exceptions=_named(exception, "--exception"),
    )
    _print_staged(manifest)


@release_app.command("resubmit")
def resubmit(
    workspace: WorkspaceArgument,
    release_id: ReleaseArgument,
    describe: DescribeOption = None,
    exception: ExceptionOption = None,
    comment: Annotated[str, typer.Option(help="What you changed, for the checker.")] = "",
    role: RoleOption = None,
) -> None:
    """Send a returned release back for checking, with its drafts as they are now."""
    from openphm.disclosure.releases import resubmit_release

    ws, actor = _open(workspace, role)
    manifest = resubmit_release(
        ws,
        actor,
        release_id,
        descriptions=_named(describe, "--describe"),
        exceptions=_named(exception, "--exception"),
        comment=comment,
    )
    _print_staged(manifest)


@release_app.command("review")
def review(workspace: WorkspaceArgument, release_id: ReleaseArgument, role: RoleOption = None):
    """Show every cell of a release as it would be released, with what disclosure control did
    to it, and the release's history (output checkers and the DPO)."""
    from openphm.disclosure.checking import review_release

    ws, actor = _open(workspace, role)
    found = review_release(ws, actor, release_id)
    m = found.release
    console.print(
        literal(f"Release {m['id']}: {m['title']} (for {m['purpose']}), by {m['requester']}")
    )
    console.print(literal(f"Status: {m['status']}"))
    for item in m["contents"]:
        _print_output(item, found.tables[item["table"]])
    _print_history(m["history"])


@release_app.command("approve")
def approve(workspace: WorkspaceArgument, release_id: ReleaseArgument, role: RoleOption = None):
    """Approve another person's release after reviewing it (output checking)."""
    from openphm.disclosure.checking import approve_release

    ws, actor = _open(workspace, role)
    manifest = approve_release(ws, actor, release_id)
    console.print(
        Text("Release ") + literal(release_id) + Text(" released", style="green"),
        literal(f"approved by {manifest['approved_by']}"),
    )


@release_app.command("return")
def return_(
    workspace: WorkspaceArgument,
    release_id: ReleaseArgument,
    comment: CommentOption,
    role: RoleOption = None,
):
    """Return a release to its analyst to change and resubmit."""
    from openphm.disclosure.checking import return_release

    ws, actor = _open(workspace, role)
    return_release(ws, actor, release_id, comment)
    console.print(literal(f"Release {release_id} returned to its requester"))


@release_app.command("reject")
def reject(
    workspace: WorkspaceArgument,
    release_id: ReleaseArgument,
    comment: CommentOption,
    role: RoleOption = None,
):
    """Reject a release for good."""
    from openphm.disclosure.checking import reject_release

    ws, actor = _open(workspace, role)
    reject_release(ws, actor, release_id, comment)
    console.print(literal(f"Release {release_id} rejected"))


@release_app.command("download")
def download(
    workspace: WorkspaceArgument,
    release_id: ReleaseArgument,
    to: Annotated[Path, typer.Option(help="The folder to copy the release into.")],
    role: RoleOption = None,
):
    """Copy an approved release out: its tables, results.json and checksums."""
    from openphm.disclosure.checking import download_release

    ws, actor = _open(workspace, role)
    target = download_release(ws, actor, release_id, to)
    console.print(literal(f"Release {release_id} copied to {target}"))


@release_app.command("list")
def list_(
    workspace: WorkspaceArgument, role: RoleOption = None, as_json: JsonOption = False
) -> None:
    """List releases with purpose, requester, status and approver."""
    from openphm.disclosure.releases import list_releases

    ws, actor = _open(workspace, role)
    ws.authorise(actor, "release.list")
    if as_json:
        keys = ("id", "title", "purpose", "requester", "status", "approved_by")
        print_json([{k: m.get(k) for k in keys} for m in list_releases(ws)])
        return
    table = Table(title="Releases")
    for column in ("id", "title", "purpose", "requester", "status", "approved by"):
        table.add_column(column)
    for m in list_releases(ws):
        fields = (m["id"], m["title"], m["purpose"], m["requester"], m["status"], m["approved_by"])
        table.add_row(*(literal(value) for value in fields))
    console.print(table)


def _open(workspace: Path, role: str | None):
    from openphm.programme.workspace import open_as

    return open_as(workspace, role)


def _named(values: list[str] | None, option: str) -> dict[str, str]:
    """DRAFT=TEXT options as {draft: text}."""
    named = {}
    for value in values or []:
        name, equals, text = value.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{value!r}: write DRAFT=TEXT", param_hint=option)
        named[name.strip()] = text
    return named


def _print_staged(manifest: dict) -> None:
    console.print(literal(f"Release {manifest['id']}: {manifest['status']}"))
    for item in manifest["contents"]:
        console.print(
            literal(
                f"  {item['table']}: {item['rows']} rows, {item['primary_redactions']} cells "
                f"redacted, {item['secondary_redactions']} more to stop recovery by subtraction"
                + (f"; exception asked: {item['exception']}" if item["exception"] else "")
            )
        )


# How a review marks what disclosure control did to a cell.
MARKS = {
    "suppressed": Text("[suppressed]", style="bold red"),
    "rounded": Text(" (r)", style="dim"),
}


def _print_output(item: dict, cells) -> None:
    console.rule(literal(f"{item['table']} ({item['file']})"))
    console.print(literal(f"What it shows: {item['description']}"))
    if item["query"]:
        console.print(literal(f"Made by: {item['query']}"))
    check = "; ".join(item["failures"]) if item["failures"] else "passes disclosure control"
    console.print(literal(f"Check: {item['check']}: {check}"))
    if item["exception"]:
        console.print(literal(f"Exception asked (the DPO decides): {item['exception']}"))
    outcome = [item["outcome"][column] for column in item["outcome"]]
    legend = Text("[suppressed]: blank in the released file; (r): count rounded")
    table = Table(caption=legend, caption_justify="left")
    for column in cells.columns:
        table.add_column(literal(column))
    for row, values in enumerate(cells.itertuples(index=False)):
        table.add_row(*(_marked(v, outcome[c][str(row)]) for c, v in enumerate(values)))
    console.print(table)


def _marked(value: str, outcome: str) -> Text:
    if outcome == "suppressed":
        return MARKS["suppressed"].copy()
    shown = literal(value)
    return shown + MARKS["rounded"] if outcome == "rounded" else shown


def _print_history(history: list[dict]) -> None:
    table = Table(title="History")
    for column in ("at", "what", "who", "role", "comment"):
        table.add_column(column)
    for e in history:
        fields = (e["at"], e["action"], e["user"], e["role"], e.get("comment", ""))
        table.add_row(*(literal(value) for value in fields))
    console.print(table)
