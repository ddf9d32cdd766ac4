"""`phm init`, `phm check-config`, `phm status`: setting up a programme and seeing where it is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openphm.console import (
    JsonOption,
    RoleOption,
    WorkspaceArgument,
    console,
    literal,
    print_json,
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check-config")(check_config)
    app.command("status")(status)
    custody_app = typer.Typer(help="Which operating-system account holds which key and zone.")
    custody_app.command("assign")(assign)
    app.add_typer(custody_app, name="custody")


def init(
    workspace: WorkspaceArgument,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The programme.toml that describes it.")
    ],
    keystore: Annotated[
        Path | None,
        typer.Option(help="Put the key store in this new folder instead of WORKSPACE/keys."),
    ] = None,
    role: RoleOption = "processor-engineer",
) -> None:
    """Create a programme's workspace: zones, key store and audit log."""
    from openphm.governance.roles import Refused, current_actor
    from openphm.programme.workspace import Workspace

    actor = current_actor(role)
    if actor.role != "processor-engineer":
        # No workspace yet, so no audit log to record the refusal in: say so plainly.
        raise Refused("only the processor-engineer role may create a workspace")
    ws = Workspace.create(workspace, config, actor, keystore_dir=keystore)
    programme = ws.config.programme
    from rich.markup import escape  # a path or name is shown as typed, never as markup

    console.print(
        f"[green]Created[/] workspace for [bold]{escape(programme.name)}[/] "
        f"at {escape(str(ws.root))}"
    )
    console.print(
        f"  runs {programme.start_date} to {programme.end_date} "
        f"({programme.duration_weeks} weeks); identifiable data kept at most "
        f"{programme.identifiable_retention_days} days"
    )
    console.print(
        f"  {len(ws.config.sources)} sources; key store: {ws.keystore.directory}", markup=False
    )


def check_config(
    config: Annotated[Path, typer.Argument(help="The programme.toml to check.")],
) -> None:
    """Check a programme.toml and say what is wrong with it, field by field."""
    from openphm.programme.config import load_config

    parsed = load_config(config)
    console.print(
        f"[green]OK[/] {config}: {parsed.programme.name}, {len(parsed.sources)} sources, "
        f"{len(parsed.programme.controllers)} controller practices"
    )


def status(
    workspace: WorkspaceArgument, role: RoleOption = None, as_json: JsonOption = False
) -> None:
    """Show the programme's dates, days left, what each zone and the key store hold, and the
    latest refresh: done, running or stopped (where, the failure's kind, how to resume), and the
    records kept in the landing zone because a sensitive list names their codes (counts)."""
    from openphm.governance.due import due_records, due_table
    from openphm.programme.workspace import open_as
    from openphm.refresh.status import programme_status

    ws, actor = open_as(workspace, role, "workspace.status")
    shown = programme_status(ws, actor)
    programme = shown.programme
    if as_json:
        print_json({
            "programme": programme.name, "start_date": programme.start_date,
            "end_date": programme.end_date, "days_left": shown.days_left,
            "identifiable_retention_days": programme.identifiable_retention_days,
            "zones": shown.zones, "keys_held": shown.keys_held,
            "keys_destroyed": shown.keys_destroyed, "due": due_records(shown.due),
            "refresh": shown.refresh_json, "sensitive_withheld": shown.withheld.as_dict(),
        })  # fmt: skip
        return
    table = Table(title=f"{programme.name}", show_header=False)
    table.add_row("runs", f"{programme.start_date} to {programme.end_date}")
    table.add_row("days left", str(shown.days_left))
    table.add_row("identifiable retention", f"{programme.identifiable_retention_days} days")
    for zone, held in shown.zones.items():
        table.add_row(f"zone {zone}", f"{held['files']} files, {held['bytes'] / 1e6:.1f} MB")
    table.add_row("keys held", str(shown.keys_held))
    table.add_row("keys destroyed", str(shown.keys_destroyed))
    for key, value in shown.refresh_rows:
        table.add_row(key, literal(value))
    console.print(table)
    if shown.resume:
        console.print(literal(shown.resume), soft_wrap=True)
    console.print(due_table(shown.due))
    console.print(_withheld_table(shown.withheld))


def _withheld_table(kept) -> Table:
    """Records kept in zone 1 by the sensitive lists, per list and source kind (counts only)."""
    table = Table(title="Sensitive records kept in the landing zone (never linked)")
    table.add_column("list")
    table.add_column("source")
    table.add_column("records", justify="right")
    for name, kind, n in kept.rows():
        table.add_row(name, kind, n)
    if not kept.per_list:
        table.add_row("none so far", "", "0")
    if kept.reason:
        from rich.text import Text

        table.caption = Text(kept.reason)  # programme.toml's words, never read as markup
    return table


def assign(
    workspace: WorkspaceArgument,
    processor: Annotated[str, typer.Option(help="The processor's engineering account.")],
    analytics: Annotated[str, typer.Option(help="The account the web service runs as.")],
    dpo: Annotated[str, typer.Option(help="The data protection officer's account.")],
    group: Annotated[str, typer.Option(help="A group of those three accounts, and no other.")],
    role: RoleOption = None,
) -> None:
    """Hand each key store and zone to the account whose role uses it (run as root), so the
    operating system refuses every other account: analysts never hold a key file."""
    from openphm.programme.custody import CustodyError, assign_custody
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    try:
        assign_custody(ws, actor, processor=processor, analytics=analytics, dpo=dpo, group=group)
    except CustodyError as err:
        from rich.markup import escape

        console.print(f"[red]Error:[/] {escape(str(err))}")
        raise typer.Exit(2) from None
    console.print(
        f"[green]Custody assigned[/]: keys/processor and landing/ to {processor}; "
        f"keys/analytics, linked/, outputs/ and audit/ to {analytics}; keys/dpo to {dpo}"
    )
