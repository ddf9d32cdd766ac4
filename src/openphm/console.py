"""What every command shares: the Rich console, the role option, showing a value as the literal
text it is, and turning the errors a user can fix into one clear line (file, field, what to do)
instead of a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from openphm.errors import UserFacingError

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        envvar="PHM_ROLE",
        help="The role you act in: processor-engineer, analyst, output-checker, practice, "
        "provider or data-protection-officer (or set PHM_ROLE). Recorded in the audit log.",
        show_default=False,
    ),
]
WorkspaceArgument = Annotated[
    Path, typer.Argument(help="The programme's workspace folder (made by phm init).")
]


# Exit codes: 1 for a check that found a problem (e.g. a broken audit chain), 2 for a request
# that could not be carried out as asked.
EXIT_REFUSED = 2


class PhmGroup(TyperGroup):
    """Maps errors that the person at the keyboard can fix (every `UserFacingError`,
    openphm.errors) onto a clear message and exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserFacingError as err:
            # The message can quote what the user typed (a query, a name): shown, not obeyed.
            lines = Text("\n").join(literal(line) for line in str(err).split("\n"))
            error_console.print(Text("Error: ", style="red") + lines, soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED) from err


# C0 and C1 control characters (escape sequences, carriage return, backspace) and the
# invisible bidirectional controls that reorder what a terminal shows ("Trojan Source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(value: object) -> str:
    """`value` as text with each control character shown as its escape (\\x1b, \\n, \\u202e):
    what the terminal (`literal`) and the web pages show of a value from the data."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def literal(value: object) -> Text:
    """`value` as the text it is: Rich markup in it is not interpreted (a drug name like
    "Co-codamol [/] 30/500" prints as typed) and each control character shows as its escape
    (\\x1b, \\n), so a value from the data can neither restyle nor rewrite the terminal."""
    return Text(visible(value))


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the listing as JSON (machine-readable: no colours, no table) on standard "
        "output.",
    ),
]


def print_json(data: object) -> None:
    """`data` as JSON on standard output, for scripts and BI tools: plain text, no Rich markup.
    Every string is escaped by JSON (control characters and non-ASCII as \\u escapes), so a
    value from the data cannot move the terminal; dates and paths are written as text."""
    import json

    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=True))


def warn_coverage(cover) -> None:
    """The warnings of a reference date's coverage (`analytics.period.Coverage`: a date past
    the data's end, a source that stops early), printed before a command's work and again at
    its end, so neither scrolls away."""
    for warning in (cover.warning(), cover.lagging):
        if warning:
            console.print(f"[bold yellow]Warning:[/] {warning}", soft_wrap=True)
