"""`phm practice …`: `keygen`, which a GP practice runs on its own machine (it reads and writes
only the practice's own folder), and `register`, which the programme runs to record a
controller practice's public key in its workspace (openphm.pseudonymise.practices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

practice_app = typer.Typer(
    help="Practice keys for re-identification tokens: keygen (at the practice), register "
    "(in the programme's workspace).",
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


@practice_app.command("register")
def register_key(
    workspace: Annotated[
        Path, typer.Argument(help="The programme's workspace folder (made by phm init).")
    ],
    ods: Annotated[str, typer.Option("--ods", help="The controller practice's ODS code.")],
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The practice.pub the practice sent.", dir_okay=False),
    ],
    role: Annotated[
        str | None,
        typer.Option("--role", envvar="PHM_ROLE", help="The role you act in (recorded)."),
    ] = None,
) -> None:
    """Run by the programme: register a controller practice's public key, so that `phm link`
    seals that practice's re-identification tokens to it."""
    from openphm.console import console
    from openphm.governance.roles import current_actor
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise.practices import register_practice

    ws = Workspace.open(workspace)
    kept = register_practice(ws, current_actor(role), ods, public_key)
    console.print(f"Registered the public key of practice {ods.strip().upper()} ({kept}).")
