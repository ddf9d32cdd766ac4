"""`phm practice …`: what a GP practice runs on its own machine.

Reads and writes only the practice's own folder; never touches the programme's workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

practice_app = typer.Typer(
    help="Run at a GP practice: make its key pair for re-identification tokens.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(practice_app, name="practice")


@practice_app.command("keygen")
def keygen(
    directory: Annotated[
        Path, typer.Argument(help="Folder at the practice to hold the key pair.", file_okay=False)
    ],
) -> None:
    """Make the practice's key pair: send the public key to the programme; keep the private key
    at the practice, where it opens the tokens in cohort lists."""
    from rich.console import Console

    from openphm.practice.keys import generate_keypair

    # A PracticeKeyError (a key pair already there) reaches the user as one clear line.
    pair = generate_keypair(directory)
    console = Console(highlight=False)
    console.print(f"Public key:  {pair.public_key}  (send this to the programme)")
    console.print(f"Private key: {pair.private_key}")
    console.print(
        "[bold]The private key must never leave the practice.[/bold] It alone opens your "
        "patients' re-identification tokens; keep a backup at the practice, since a lost key "
        "cannot open tokens already issued."
    )
