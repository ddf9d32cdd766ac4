"""The data protection officer's commands: `phm audit show|verify` (the log), `phm close`,
`phm verify-certificate`, `phm notice`, and `phm schedule show|run|rehearse|units` (the
promises time brings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, literal, print_json
from openphm.governance.due import due_records, due_table

audit_app = typer.Typer(help="Read and verify the programme's hash-chained audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    _register_lifecycle(app)
    _register_schedule(app)


@audit_app.command("show")
def show(
    workspace: WorkspaceArgument,
    last: Annotated[int, typer.Option(help="Show only the last N entries (0: all).")] = 50,
    role: RoleOption = None,
    as_json: JsonOption = False,
) -> None:
    """List audit entries: when, who, role, action, outcome, purpose, counts."""
    from openphm.governance.audit import AuditEntry
    from openphm.governance.oversight import read_log
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "audit.show")
    entries, shown = read_log(ws, actor, last)
    if as_json:
        print_json([{**e.body(), "hash": e.hash} for e in shown])
        return
    table = Table(title=f"Audit log: {len(entries)} entries")
    for column in AuditEntry.COLUMNS:
        table.add_column(column)
    for entry in shown:
        # Entries quote what people typed (queries, names, comments): shown, never obeyed.
        table.add_row(*(literal(cell) for cell in entry.row()))
    console.print(table)


@audit_app.command("verify")
def verify(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Check the chain: any edited, removed or reordered entry is named. Exit 1 if broken."""
    from openphm.governance.oversight import verify_log
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "audit.verify")
    result = verify_log(ws, actor)
    if result.ok:
        console.print(f"[green]Audit log intact[/]: {result.entries} entries")
        return
    for problem in result.problems:
        console.print(f"[red]✗[/] {escape(str(problem))}")  # may name a file
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
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "programme.close")
    ws.require_not_closed()
    if not yes:
        console.print("This destroys all of the programme's patient data. Add --yes to go ahead.")
        raise typer.Exit(1)
    closure = close_programme(ws, actor, reason=reason)
    console.print(
        f"[green]Closed[/]: {closure.keys_destroyed} keys destroyed, "
        f"{closure.files_deleted} files deleted. Certificate: {closure.certificate}"
    )


def verify_certificate(
    certificate_file: Annotated[
        Path, typer.Argument(help="The destruction certificate (.json, or its printable .html).")
    ],
    workspace: Annotated[
        Path | None,
        typer.Option(help="Check it against this workspace: its key, and exactly what remains."),
    ] = None,
) -> None:
    """Check a destruction certificate's signature and, with --workspace, that the workspace
    holds exactly what it says was kept (exit 1 if anything does not match)."""
    from openphm.governance.certificate import CertificateError
    from openphm.governance.remains import checked

    try:
        body, problems = checked(certificate_file, workspace)
    except CertificateError as err:
        console.print(f"[red]✗[/] {escape(str(err))}")
        raise typer.Exit(1) from None
    for problem in problems:
        console.print(f"[red]✗[/] {escape(problem)}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print(
        f"[green]Certificate verifies[/]: {escape(body['programme'])} closed {body['closed_at']}; "
        f"{len(body['keys_destroyed'])} keys destroyed; {len(body.get('kept', []))} files kept"
        + (" and exactly those remain" if workspace is not None else "")
        + f"; audit head {body['audit_log_head']['seq']}",
        soft_wrap=True,
    )


def notice(
    workspace: WorkspaceArgument,
    out: Annotated[
        Path | None, typer.Option(help="Write here instead of WORKSPACE/outputs/privacy-notice.md")
    ] = None,
    role: RoleOption = None,
) -> None:
    """Write the patient-facing privacy notice from the programme's own configuration."""
    from openphm.governance.notice import write_notice
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "programme.notice")
    path = write_notice(ws, actor, out)
    console.print(f"Privacy notice written to {path}", markup=False)


schedule_app = typer.Typer(
    help="The promises time brings: retention, recipients' expiry and the programme's close."
)


def _register_schedule(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")


@schedule_app.command("show")
def schedule_show(
    workspace: WorkspaceArgument, role: RoleOption = None, as_json: JsonOption = False
) -> None:
    """What will be destroyed, and when (what is due now first). Changes nothing."""
    from openphm.governance.schedule import shown_timetable
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "schedule.show")
    plan = shown_timetable(ws, actor)
    if as_json:
        print_json(due_records(plan))
    else:
        console.print(due_table(plan))


@schedule_app.command("run")
def schedule_run(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Keep every promise that has fallen due: destroy landing data past its retention and
    what interrupted ingests left, expired recipients' keys, and, once the end date is
    reached, close the programme. Run it from the DPO's timer (`phm schedule units`)."""
    from openphm.governance.schedule import keep_promises
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    kept = keep_promises(ws, actor)
    _print_kept(kept)


@schedule_app.command("rehearse")
def schedule_rehearse(
    workspace: WorkspaceArgument,
    at: Annotated[str, typer.Option(help="The date (and time) to rehearse at, e.g. 2027-03-23.")],
    role: RoleOption = None,
) -> None:
    """Show what the schedule would do at a later date, by running it on a throw-away copy
    of the workspace; the programme itself is not touched."""
    import datetime as dt

    from openphm import clock
    from openphm.governance.schedule import rehearse
    from openphm.programme.workspace import open_as

    try:
        moment = clock.as_utc(at)
    except ValueError:
        console.print(f"[red]--at {at!r} is not a date[/]: write it as YYYY-MM-DD[THH:MM]")
        raise typer.Exit(2) from None
    if moment < clock.now() - dt.timedelta(minutes=1):
        console.print("[red]--at is in the past[/]: a rehearsal looks ahead")
        raise typer.Exit(2)
    ws, actor = open_as(workspace, role)
    plan, kept = rehearse(ws, actor, moment)
    console.print(f"Rehearsal on a copy, as at {moment:%Y-%m-%d %H:%M} (nothing here changed):")
    console.print(due_table(plan))
    _print_kept(kept)


@schedule_app.command("units")
def schedule_units(
    workspace: WorkspaceArgument,
    user: Annotated[str, typer.Option(help="The account the timer runs as.")] = "phm-dpo",
) -> None:
    """Print a systemd service and timer (and the equivalent cron line) that run `phm
    schedule run` for this workspace every hour, as the data protection officer's job."""
    from openphm.governance.units import systemd_units

    for name, text in systemd_units(workspace.absolute(), user).items():
        typer.echo(f"# {name}\n{text}")  # plain: a unit file must not be wrapped


def _print_kept(kept) -> None:
    if kept.closure:
        closure = kept.closure
        console.print(
            f"[green]Closed[/]: {closure.keys_destroyed} keys destroyed, "
            f"{closure.files_deleted} files deleted. Certificate: {closure.certificate}"
        )
        return
    if kept.recipients_expired:
        console.print(f"Recipients' access ended: {', '.join(kept.recipients_expired)}")
    if kept.landing_busy:
        console.print("[yellow]The landing zone is busy[/] (an ingest is running): retention "
                      "runs at the next scheduled run")  # fmt: skip
    elif kept.retention:
        console.print(
            f"Retention: {kept.retention.batches} batch(es) destroyed, "
            f"{kept.retention.leftovers} leftover file(s) and key(s) destroyed"
        )
    if not kept.anything:
        console.print("Nothing was due.")
