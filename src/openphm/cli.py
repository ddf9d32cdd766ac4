"""The `phm` command line: one Typer application, with each stage's commands registered from the
module that owns the stage, so a reader finds a command beside the code it runs."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="phm",
    help="OpenPHM: run an NHS population health management programme end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    # Each stage adds its own commands. Imported here, not at module top, so `phm --help`
    # stays fast and a stage's heavy dependencies load only when its command runs.
    pass


def main() -> None:
    _register()
    app()
