"""The `phm` command line: one Typer application, with each stage's commands registered from the
module that owns the stage, so a reader finds a command beside the code it runs."""

from __future__ import annotations

import typer

from openphm.console import PhmGroup

app = typer.Typer(
    name="phm",
    cls=PhmGroup,
    help="OpenPHM: run an NHS population health management programme end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"phm (openphm) {version('openphm')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed package's version (importlib.metadata) and exit.",
    ),
) -> None:
    """OpenPHM: run an NHS population health management programme end to end."""


# Each stage that has commands keeps them in `openphm/<stage>/commands.py`, which defines
# `register(app)`. One line per stage here.
STAGES: list[str] = [
    # in the order of the data flow
    "programme",
    "synth",
    "landing",
    "identity",
    "pseudonymise",
    "practice",
    "linked",
    "analytics",
    "indicators",
    "risk",
    "cohorts",
    "disclosure",
    "refresh",
    "governance",
    "web",
    "demo",
    "bench",
]


def _register() -> None:
    import importlib

    for stage in STAGES:
        importlib.import_module(f"openphm.{stage}.commands").register(app)


def main() -> None:
    _register()
    app()
