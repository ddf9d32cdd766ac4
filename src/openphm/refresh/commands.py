"""`phm refresh`: the monthly refresh, one command (docs/refresh.md). Parses, draws progress and
prints; `refresh.run` does the work. `phm refresh WORKSPACE --history` lists the refreshes
recorded (the processor engineer's and the DPO's: record.HISTORY), in `refresh.shown`'s words."""

from __future__ import annotations

import time
import traceback
from typing import Annotated

import typer

from openphm.console import JsonOption, RoleOption, WorkspaceArgument, console, literal, print_json
from openphm.refresh import shown as shown_words
from openphm.refresh.record import HISTORY, duration


def register(app: typer.Typer) -> None:
    app.command("refresh")(refresh_command)


def refresh_command(
    workspace: WorkspaceArgument,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the refresh that stopped, from its first stage "
            "not done (which runs again from its start).",
        ),
    ] = False,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Abandon the refresh that stopped and start a new one from the first stage.",
        ),
    ] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Run nothing: list every refresh recorded, newest first, with each stage's "
            "status and time (processor engineer, data protection officer).",
        ),
    ] = False,
    role: RoleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the programme's refresh as its processor: ingest what has arrived in the sources'
    inboxes, link, build the analytics and the indicators, score risk (training the first
    model if there is none) and build the standing cohorts, in that order, with progress and
    an estimate of the time left. Stops at the first failure, saying which stage and how to
    resume; exits 0 only when every stage is done. With --history, lists the refreshes."""
    from openphm.programme.workspace import open_as
    from openphm.refresh.record import RefreshRefused
    from openphm.refresh.run import RefreshFailed, refresh

    if history:
        if resume or restart:
            raise RefreshRefused("--history runs nothing: leave out --resume and --restart")
        _history(*open_as(workspace, role, HISTORY), as_json)
        return
    if as_json:
        raise RefreshRefused("--json is for --history (a refresh prints its progress)")
    ws, actor = open_as(workspace, role)
    with _Shown() as shown:
        try:
            done = refresh(ws, actor, resume=resume, restart=restart, reporter=shown)
        except RefreshFailed as failed:
            if not isinstance(failed.__cause__, Exception) or _user_facing(failed.__cause__):
                raise
            # An unexpected error: where it happened and its kind, for whoever reads the job's
            # log (journald, cron's mail: kept), never its message, which a library may have
            # written with a value from the data in it; the record keeps the kind too.
            cause = failed.__cause__
            where = "".join(traceback.format_tb(cause.__traceback__))
            console.print(
                f"Traceback (most recent call last):\n{where}{type(cause).__name__} (its "
                "message is not shown: it may quote the data)",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            raise
    seconds = sum(s["seconds"] or 0 for s in done["stages"])
    console.print(
        f"Refresh {done['id']} done in {duration(seconds)}; data as at "
        f"{done['reference_date']}. Record: {ws.root / 'refresh' / (done['id'] + '.json')}",
        markup=False,
    )


def _history(ws, actor, as_json: bool) -> None:
    from rich import box
    from rich.table import Table

    from openphm.refresh.record import refreshes_read

    shown = refreshes_read(ws, actor)
    if as_json:
        print_json(shown)
        return
    if not shown:
        console.print(literal(f"No refresh of {ws.root} is recorded yet."))
        return
    table = Table(
        title="Refreshes, newest first (started: UTC; --json gives every time)",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Refresh / stage", no_wrap=True)
    table.add_column("Status", min_width=18)
    table.add_column("Started")
    table.add_column("Took", justify="right", min_width=7)
    for r in shown:
        at = f" at {r['at']['stage']}" if r["at"] else ""
        data = f"\ndata as at {r['reference_date']}" if r["reference_date"] else ""
        table.add_row(
            literal(r["id"]),
            literal(r["status"] + at) + data,
            literal(shown_words.minute(r["started"])),
            duration(r["seconds"]),
            style="bold",
        )
        for k, s in enumerate(r["stages"], start=1):
            table.add_row(
                literal(f"  {k} {s['name']}"),
                literal(shown_words.stage_words(s)),
                "",
                "" if s["seconds"] is None else f"{s['seconds']:g} s",
                end_section=k == len(r["stages"]),
            )
    console.print(table)
    _say_resume(ws, shown[0])


def _say_resume(ws, latest: dict) -> None:
    from openphm.refresh.record import STOPPED, UNFINISHED

    if latest["status"] in (STOPPED, UNFINISHED):
        console.print(literal(shown_words.resume_words(ws, latest)), soft_wrap=True)


def _user_facing(err: BaseException) -> bool:
    from openphm.errors import UserFacingError

    return isinstance(err, UserFacingError)


class _Shown:
    """The refresh's progress: a live line (stage k of n, elapsed, estimate of time left, the
    stage's current step) and a printed line per stage, which a job's log keeps."""

    def __enter__(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[left]}"),
            TextColumn("{task.fields[step]}"),
            console=console,
            transient=True,
        )
        self.progress.__enter__()
        self.began = time.monotonic()
        self.task = self.progress.add_task("refresh", total=None, left="", step="")
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def starting(self, refresh: dict, resumed: bool) -> None:
        from openphm.refresh.record import DONE, SKIPPED

        done = sum(s["status"] in (DONE, SKIPPED) for s in refresh["stages"])
        self.progress.update(self.task, total=len(refresh["stages"]), completed=done)
        what = f"Resuming refresh {refresh['id']}" if resumed else f"Refresh {refresh['id']}"
        console.print(literal(f"{what}: {len(refresh['stages'])} stages, {done} done"))

    def stage(self, k: int, n: int, name: str, left: float | None) -> None:
        from openphm.refresh.run import TITLES

        self.progress.update(
            self.task, description=f"stage {k} of {n}: {name}", left=_left(left), step=""
        )
        elapsed = duration(time.monotonic() - self.began)
        console.print(
            literal(f"stage {k} of {n}: {name} ({TITLES[name]}); {elapsed} elapsed, {_left(left)}")
        )

    def say(self, text: str) -> None:
        self.progress.update(self.task, step=text)

    def done(self, k: int, n: int, name: str, stage: dict, left: float | None) -> None:
        self.progress.update(self.task, advance=1, left=_left(left))
        word = (
            "skipped" if stage["status"] == "skipped" else f"done in {duration(stage['seconds'])}"
        )
        console.print(literal(f"  {name}: {word}: {stage['note']}"), soft_wrap=True)


def _left(seconds: float | None) -> str:
    return "time left: not known yet" if seconds is None else f"about {duration(seconds)} left"
