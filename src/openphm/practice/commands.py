"""`phm practice …`: `keygen` and `reidentify`, which a GP practice runs on its own machine
(they read and write only the practice's own files). `phm provider …`: the same two for a
hospital provider (a trust), whose tokens hold its own local patient ids
(openphm.practice.provider).

`phm practice register` and `phm provider register`, which the programme runs to record an
organisation's public key in its workspace, are the pseudonymisation stage's commands
(openphm.pseudonymise.commands, beside the key registers they call): nothing here opens the
programme's workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openphm.practice.provider import LOCAL_PATIENT_COLUMNS

practice_app = typer.Typer(
    help="Practice keys and re-identification: keygen and reidentify (at the practice), "
    "register (in the programme's workspace).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(practice_app, name="practice")
    app.add_typer(provider_app, name="provider")


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


@practice_app.command("reidentify")
def reidentify(
    cohort_list: Annotated[
        Path,
        typer.Argument(
            help="The cohort list from the programme (CSV with a token column).",
            dir_okay=False,
            exists=True,
        ),
    ],
    key: Annotated[
        Path,
        typer.Option("--key", help="The practice's private key (practice.key).", dir_okay=False),
    ],
    patients: Annotated[
        Path,
        typer.Option(
            "--patients",
            help="The practice's own patient list (CSV: "
            "patient_ref, nhs_number, given_name, family_name, date_of_birth).",
            dir_okay=False,
            exists=True,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the worklist (default: <cohort list>-worklist.csv beside it).",
            dir_okay=False,
        ),
    ] = None,
    ods: Annotated[
        str | None,
        typer.Option(
            "--ods",
            help="Your ODS code: also refuse tokens naming another practice that shares your key.",
        ),
    ] = None,
) -> None:
    """At the practice: open the tokens in a cohort list with the practice's private key and
    join them to the practice's patient list, giving a worklist with NHS numbers and names for
    clinicians. Tokens for another practice, or that fail authentication, are counted and left
    out, never guessed; exits 1 if there were any."""
    from rich.console import Console

    from openphm.practice.keys import load_private_key
    from openphm.practice.worklist import (
        PATIENT_COLUMNS,
        about_lines,
        make_worklist,
        read_csv,
        write_worklist,
    )

    console = Console(highlight=False)
    private_key = load_private_key(key)
    rows = read_csv(cohort_list, ("token",), "cohort list")
    patient_list = read_csv(patients, PATIENT_COLUMNS, "patient list")
    worklist = make_worklist(
        rows, private_key, patient_list, ods_code=ods.strip().upper() if ods else None
    )
    worklist.about = about_lines(cohort_list)
    out = out or cohort_list.with_name(f"{cohort_list.stem}-worklist.csv")
    write_worklist(worklist, out)
    console.print(
        f"{len(worklist.rows):,} of {len(rows):,} patients in {cohort_list.name} "
        f"re-identified: worklist {out}"
    )
    if worklist.not_on_patient_list:
        console.print(
            f"{worklist.not_on_patient_list:,} tokens opened but are not on the patient "
            f"list given (left the practice since?): not on the worklist."
        )
    messages = {
        "for another practice": "were sealed for another practice: not opened. This list may "
        "have been sent to the wrong practice, or sealed to your practice's earlier key if "
        "its key was replaced since (open it with the earlier key, or wait for the list the "
        "programme seals to your new key at its next link); tell the programme",
        "failed authentication": "failed authentication (altered or damaged in transit): not "
        "opened. Ask the programme for a fresh copy",
        "malformed": "are not tokens this software reads: not opened",
    }
    for kind, count in sorted(worklist.failures.items()):
        console.print(f"[yellow]{count:,} tokens {messages.get(kind, kind)}.[/]")
    if worklist.refused:
        raise typer.Exit(1)


# ----- Hospital providers ------------------------------------------------------------

provider_app = typer.Typer(
    help="Hospital provider keys and re-identification: keygen and reidentify (at the "
    "provider), register (in the programme's workspace).",
    no_args_is_help=True,
)


@provider_app.command("keygen")
def provider_keygen(
    directory: Annotated[
        Path, typer.Argument(help="Folder at the provider to hold the key pair.", file_okay=False)
    ],
) -> None:
    """Make the provider's key pair (provider.key, provider.pub): send the public key to the
    programme; keep the private key at the provider, where it opens the tokens in its lists."""
    from rich.console import Console
    from rich.markup import escape

    from openphm.practice.keys import generate_keypair

    pair = generate_keypair(directory, stem="provider")
    console = Console(highlight=False)
    console.print(f"Public key:  {escape(str(pair.public_key))}  (send this to the programme)")
    console.print(f"Private key: {escape(str(pair.private_key))}")
    console.print(
        "[bold]The private key must never leave the provider.[/bold] It alone opens your "
        "patients' re-identification tokens; keep a backup, since a lost key cannot open "
        "tokens already issued."
    )


@provider_app.command("reidentify")
def provider_reidentify(
    cohort_list: Annotated[
        Path,
        typer.Argument(
            help="The cohort list from the programme (CSV with a token column).",
            dir_okay=False,
            exists=True,
        ),
    ],
    key: Annotated[
        Path,
        typer.Option("--key", help="The provider's private key (provider.key).", dir_okay=False),
    ],
    patients: Annotated[
        Path,
        typer.Option(
            "--patients",
            help="The provider's own patient-list export (CSV: "
            + ", ".join(LOCAL_PATIENT_COLUMNS)
            + ").",
            dir_okay=False,
            exists=True,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the worklist (default: <cohort list>-worklist.csv beside it).",
            dir_okay=False,
        ),
    ] = None,
    ods: Annotated[
        str | None,
        typer.Option("--ods", help="Your ODS code: also refuse tokens naming anyone else."),
    ] = None,
) -> None:
    """At the provider: open the tokens in a cohort list with the provider's private key and
    join them, by local patient id, to the provider's own patient list, giving a worklist with
    NHS numbers and names. Tokens for anyone else, or that fail authentication, are counted and
    left out, never guessed; exits 1 if there were any."""
    from rich.console import Console

    from openphm.practice.keys import load_private_key
    from openphm.practice.provider import provider_worklist
    from openphm.practice.worklist import about_lines, read_csv, write_worklist

    console = Console(highlight=False)
    private_key = load_private_key(key)
    rows = read_csv(cohort_list, ("token",), "cohort list")
    patient_list = read_csv(patients, LOCAL_PATIENT_COLUMNS, "patient list")
    worklist = provider_worklist(
        rows, private_key, patient_list, ods_code=ods.strip().upper() if ods else None
    )
    worklist.about = about_lines(cohort_list)
    out = out or cohort_list.with_name(f"{cohort_list.stem}-worklist.csv")
    write_worklist(worklist, out)
    console.print(
        f"{len(worklist.rows):,} of {len(rows):,} patients in {cohort_list.name} "
        f"re-identified: worklist {out}"
    )
    if worklist.not_on_patient_list:
        console.print(
            f"{worklist.not_on_patient_list:,} tokens opened but their local ids are not on "
            "the patient list given: not on the worklist."
        )
    messages = {
        "for another practice": "were sealed for another organisation's key: not opened. "
        "This list may have been sent to the wrong place, or sealed to your earlier key if it "
        "was replaced since; tell the programme",
        "failed authentication": "failed authentication (altered or damaged in transit): not "
        "opened. Ask the programme for a fresh copy",
        "malformed": "are not tokens this software reads: not opened",
    }
    for kind, count in sorted(worklist.failures.items()):
        console.print(f"[yellow]{count:,} tokens {messages.get(kind, kind)}.[/]")
    if worklist.refused:
        raise typer.Exit(1)
