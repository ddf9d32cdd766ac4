"""`phm demo`: run every stage that exists on a synthetic region and say where to look."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from openphm.errors import UserFacingError

MARKER = ".phm-demo"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    people: Annotated[int, typer.Option(help="People in the synthetic region.")] = 20_000,
    workspace: Annotated[
        Path, typer.Option(help="Folder for the demo (region and workspace); emptied first.")
    ] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Seed for the synthetic region.")] = 42,
    layouts: Annotated[
        str,
        typer.Option(
            help="own: the region's extracts in the project's own tables; real: its hospital "
            "data as HES and community data as CSDS (phm synth --layouts)"
        ),
    ] = "own",
) -> None:
    """Run the programme end to end on a synthetic region: every stage that exists today."""
    from openphm.demo.run import run_demo
    from openphm.synth.layouts import LAYOUTS

    if layouts not in LAYOUTS:
        raise typer.BadParameter(f"--layouts must be one of {', '.join(LAYOUTS)}")
    if workspace.exists():
        if not (workspace / MARKER).exists():
            raise UserFacingError(
                f"{workspace} exists and was not made by phm demo; name another --workspace"
            )
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    (workspace / MARKER).touch()
    run_demo(workspace.absolute(), people=people, seed=seed, layouts=layouts)
