"""What every command shares: the Rich console, the role option, and turning the errors a user
can fix into one clear line (file, field, what to do) instead of a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        envvar="PHM_ROLE",
        help="The role you act in: processor-engineer, analyst, practice or "
        "data-protection-officer (or set PHM_ROLE). Recorded in the audit log.",
        show_default=False,
    ),
]
WorkspaceArgument = Annotated[
    Path, typer.Argument(help="The programme's workspace folder (made by phm init).")
]


# Exit codes: 1 for a check that found a problem (e.g. a broken audit chain), 2 for a request
# that could not be carried out as asked.
EXIT_REFUSED = 2


def _user_error_types() -> tuple[type[BaseException], ...]:
    from openphm.engine import EngineError
    from openphm.governance.roles import Refused
    from openphm.keystore import KeyStoreError
    from openphm.practice.keys import PracticeKeyError
    from openphm.programme.config import ConfigError
    from openphm.programme.workspace import WorkspaceError

    return (ConfigError, WorkspaceError, KeyStoreError, Refused, EngineError, PracticeKeyError)


class PhmGroup(TyperGroup):
    """Maps errors that the person at the keyboard can fix onto a clear message and exit 2.
    Stages add their own error types by subclassing `UserFacingError`."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (*_user_error_types(), UserFacingError) as err:
            error_console.print(f"[red]Error:[/] {err}", soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED) from err


class UserFacingError(RuntimeError):
    """Base for a stage's errors that should reach the user as a message, not a traceback."""
