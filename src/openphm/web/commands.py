"""`phm serve` runs the web service; `phm user add|list|disable|enable|unlock|reset-password`
manage its local accounts (all but `add` the data protection officer's, audited)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, literal

user_app = typer.Typer(help="Local accounts for the web service (phm serve).", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens with which Power BI, Tableau or a script reads the approved releases' "
    "tables from the web service (the data protection officer's).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="api-token")


def serve(
    workspace: WorkspaceArgument,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    idle_minutes: Annotated[
        float, typer.Option(help="Sign a user out after this many idle minutes.")
    ] = 30,
    session_hours: Annotated[
        float, typer.Option(help="Sign a user out this many hours after sign-in, however busy.")
    ] = 12,
    schedule_minutes: Annotated[
        float,
        typer.Option(
            help="Keep the promises that fall due (retention, recipients' expiry, the close) "
            "at start and every this many minutes, as the DPO's scheduled job; 0 leaves it to "
            "the timer (phm schedule units).",
        ),
    ] = 60,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Behind a reverse proxy: the proxy's address(es), comma-separated, whose "
            "X-Forwarded-For is trusted. Without it every user appears to come from the proxy, "
            "and sign-in locking by address would lock them all out together.",
        ),
    ] = None,
) -> None:
    """Serve the analyst, practice and data protection officer pages and the JSON API."""
    import uvicorn

    from openphm.errors import UserFacingError

    if forwarded_allow_ips is not None and "*" in forwarded_allow_ips:
        raise UserFacingError(
            "--forwarded-allow-ips must name the proxy's own address(es), not '*': trusting "
            "every client's X-Forwarded-For lets anyone choose the address sign-in locking counts"
        )

    from openphm.web import assets
    from openphm.web.app import create_app

    app = create_app(
        workspace,
        idle_minutes=idle_minutes,
        session_hours=session_hours,
        schedule_minutes=schedule_minutes,
    )
    if not assets.installed():
        console.print(
            "[yellow]Warning:[/] the NHS.UK frontend assets are not installed; pages will be "
            "unstyled. Run `make web-assets`."
        )
    console.print(f"OpenPHM web service on http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@user_app.command("add")
def add(
    workspace: WorkspaceArgument,
    username: Annotated[str, typer.Argument(help="The new user's name, e.g. a.smith.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="The new user's role: analyst, practice, provider, output-checker, "
            "data-protection-officer or processor-engineer.",
        ),
    ],
    ods: Annotated[
        str | None,
        typer.Option(
            help="For a practice user: its ODS code, one of the programme's controllers; for a "
            "provider user: the trust's, one of the programme's providers."
        ),
    ] = None,
) -> None:
    """Add a local account. The password is asked for (or read from standard input)."""
    from openphm.governance.audit import Actor
    from openphm.governance.roles import Refused, Role, current_user
    from openphm.programme.workspace import Workspace
    from openphm.web import account_admin

    ws = Workspace.open(workspace)
    try:
        new_role = Role(role)
    except ValueError:
        raise Refused(
            f"{role!r} is not a role; roles are: {', '.join(r.value for r in Role)}"
        ) from None
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    # Whoever can write the workspace's files administers its accounts (docs/web.md).
    admin = Actor(current_user(), "account-administrator")
    user = account_admin.add(ws, admin, username, password, new_role, ods)
    console.print(
        f"[green]Added[/] {user.name} ({user.role.value}{', ' + user.ods if user.ods else ''})"
    )


UserName = Annotated[str, typer.Argument(help="The account's user name.")]


def _managing(workspace, role: str | None, action: str):
    """The workspace and the acting DPO (a refusal is audited by `authorise`)."""
    from openphm.programme.workspace import open_as

    return open_as(workspace, role, action)


@user_app.command("list")
def list_users(workspace: WorkspaceArgument, role: RoleOption = None,
               as_json: JsonOption = False) -> None:  # fmt: skip
    """List the accounts: name, role, practice, standing (active, disabled, must change
    password) and failed sign-ins counting towards a lock (locked at 5). No password hash."""
    from rich.table import Table

    from openphm.console import print_json
    from openphm.web.account_admin import account_list

    ws, actor = _managing(workspace, role, "web.user.list")
    records = account_list(ws, actor)
    if as_json:
        print_json(records)
        return
    table = Table(title=f"Accounts: {len(records)}")
    for column in ("name", "role", "practice", "standing", "failed sign-ins"):
        table.add_column(column)
    for r in records:
        failures = f"{r['failed_sign_ins']}" + (" (locked)" if r["locked"] else "")
        table.add_row(literal(r["name"]), r["role"], r["ods"] or "", r["standing"], failures)
    console.print(table)


@user_app.command("disable")
def disable(workspace: WorkspaceArgument, username: UserName, role: RoleOption = None) -> None:
    """Stop an account signing in; a session it has ends at its next request. The account is
    kept (the audit log names it): `phm user enable` restores it."""
    from openphm.web import account_admin

    account_admin.disable(*_managing(workspace, role, "web.user.disable"), username)
    console.print(literal(f"Disabled {username}: it can no longer sign in."))


@user_app.command("enable")
def enable(workspace: WorkspaceArgument, username: UserName, role: RoleOption = None) -> None:
    """Let a disabled account sign in again."""
    from openphm.web import account_admin

    account_admin.enable(*_managing(workspace, role, "web.user.enable"), username)
    console.print(literal(f"Enabled {username}."))


@user_app.command("unlock")
def unlock(workspace: WorkspaceArgument, username: UserName, role: RoleOption = None) -> None:
    """Clear an account's failed sign-ins, lifting its lock at once (a running server reads
    the count from sign_in_failures.sqlite at every sign-in). A lock on a client address is
    left: it guards every account from that address."""
    from openphm.web import account_admin

    cleared = account_admin.unlock(*_managing(workspace, role, "web.user.unlock"), username)
    console.print(literal(f"Unlocked {username}: {cleared} failed sign-in(s) cleared."))


@user_app.command("reset-password")
def reset_password(workspace: WorkspaceArgument, username: UserName,
                   role: RoleOption = None) -> None:  # fmt: skip
    """Set a new password for an account (asked for, or read from standard input) to hand to
    its user, who must choose their own at their next sign-in before any page opens."""
    from openphm.web import account_admin

    ws, actor = _managing(workspace, role, "web.user.reset_password")
    if sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    account_admin.reset_password(ws, actor, username, password)
    console.print(literal(f"Password of {username} reset: they must choose a new one at sign-in."))


@token_app.command("create")
def token_create(
    workspace: WorkspaceArgument,
    username: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for, e.g. 'Power BI: ICB board'.")],
    days: Annotated[
        int, typer.Option(help="Days until it expires (never after the programme's end).")
    ] = 90,
    role: RoleOption = None,
) -> None:
    """Make an API token for an account. The token is printed once and never again: only its
    SHA-256 is kept. It reads the approved releases' tables (GET /api/released…), nothing else."""
    from openphm.web.api_tokens import create_token

    ws, actor = _managing(workspace, role, "web.api_token.create")
    issued = create_token(ws, actor, username, label, days)
    console.print(literal(f"API token {issued.id} for {issued.user}, expires {issued.expires}."))
    console.print("Copy it now: it is not shown again.")
    print(issued.token)


@token_app.command("list")
def token_list(workspace: WorkspaceArgument, role: RoleOption = None,
               as_json: JsonOption = False) -> None:  # fmt: skip
    """List the API tokens: id, account, label, made by and when, expiry, standing. Never the
    token itself."""
    from rich.table import Table

    from openphm.console import print_json
    from openphm.web.api_tokens import token_records

    ws, actor = _managing(workspace, role, "web.api_token.list")
    records = token_records(ws, actor)
    if as_json:
        print_json(records)
        return
    table = Table(title=f"API tokens: {len(records)}")
    for column in ("id", "account", "label", "made by", "made", "expires", "standing"):
        table.add_column(column)
    for r in records:
        cells = (r["id"], r["user"], r["label"], r["created_by"], r["created_at"], r["expires"])
        table.add_row(*(literal(c) for c in cells), r["standing"])
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    workspace: WorkspaceArgument,
    token_id: Annotated[str, typer.Argument(help="The token's id (phm api-token list).")],
    role: RoleOption = None,
) -> None:
    """Revoke an API token: the next request with it is refused (401)."""
    from openphm.web.api_tokens import revoke_token

    ws, actor = _managing(workspace, role, "web.api_token.revoke")
    record = revoke_token(ws, actor, token_id)
    console.print(literal(f"Revoked token {token_id} of {record['user']}."))
