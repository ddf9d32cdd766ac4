"""`phm refresh`: the monthly refresh, one command (docs/refresh.md). Parses, draws progress and
prints; `refresh.run` does the work."""

from __future__ import annotations

import time
import traceback
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console, literal


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
    role: RoleOption = None,
) -> None:
    """Run the programme's refresh as its processor: ingest what has arrived in the sources'
    inboxes, link, build the analytics and the indicators, score risk (training the first
    model if there is none) and build the standing cohorts, in that order, with progress and
    an estimate of the time left. Stops at the first failure, saying which stage and how to
    resume; exits 0 only when every stage is done."""
    from openphm.programme.workspace import open_as
    from openphm.refresh.run import RefreshFailed, refresh

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
        f"Refresh {done['id']} done in {_duration(seconds)}; data as at "
        f"{done['reference_date']}. Record: {ws.root / 'refresh' / (done['id'] + '.json')}",
        markup=False,
    )


def _user_facing(err: BaseException) -> bool:
    from openphm.errors import UserFacingError

    return isinstance(err, UserFacingError)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min" if hours else f"{m} min {s:02d} s" if m else f"{s} s"


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
        elapsed = _duration(time.monotonic() - self.began)
        console.print(
            literal(f"stage {k} of {n}: {name} ({TITLES[name]}); {elapsed} elapsed, {_left(left)}")
        )

    def say(self, text: str) -> None:
        self.progress.update(self.task, step=text)

    def done(self, k: int, n: int, name: str, stage: dict, left: float | None) -> None:
        self.progress.update(self.task, advance=1, left=_left(left))
        word = (
            "skipped" if stage["status"] == "skipped" else f"done in {_duration(stage['seconds'])}"
        )
        console.print(literal(f"  {name}: {word}: {stage['note']}"), soft_wrap=True)


def _left(seconds: float | None) -> str:
    return "time left: not known yet" if seconds is None else f"about {_duration(seconds)} left"
