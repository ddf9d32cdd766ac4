"""`phm practice …`: `keygen` and `reidentify`, which a GP practice runs on its own machine
(they read and write only the practice's own files), and `register`, which the programme runs
to record a controller practice's public key in its workspace (openphm.pseudonymise.practices).
`phm provider …`: the same three for a hospital provider (a trust), whose tokens hold its own
local patient ids (openphm.practice.provider).
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
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the practice's registered key (data protection officer only): lists "
            "already sent become unreadable with the new key until sealed again.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace without asking (after the warning).")
    ] = False,
) -> None:
    """Run by the programme: register a controller practice's public key, so that `phm link`
    seals that practice's re-identification tokens to it. A practice's key is never replaced
    silently: a different key is refused unless the data protection officer replaces it
    (--replace --role data-protection-officer), and another practice's key is always refused."""
    from openphm.pseudonymise.practices import register_practice, registered_keys

    _register_key(
        workspace, ods, public_key, role, replace, yes, noun="practice",
        registered=registered_keys, register=register_practice,
        resealed="They become readable again only when the next phm link seals the practice's "
        "tokens to the new key and phm cohort writes its lists again. If the practice still "
        "holds its old private key, it can open the old lists with it until then.",
    )  # fmt: skip


def _register_key(workspace: Path, ods: str, public_key: Path, role: str | None,
                  replace: bool, yes: bool, *, noun: str, registered, register,
                  resealed: str) -> None:  # fmt: skip
    """Register (or, with `replace`, replace after a warning) a practice's or a provider's
    public key, and say what was done. `registered(ws)`: the keys held; `register(ws, actor,
    code, path, replace=)`: the stage's registration (pseudonymise.practices, .providers);
    `resealed`: what becomes of the lists already sent after a replacement."""
    from rich.markup import escape

    from openphm.console import console
    from openphm.practice.keys import load_public_key
    from openphm.programme.workspace import open_as
    from openphm.pseudonymise.practices import key_id

    ws, actor = open_as(workspace, role)
    code = ods.strip().upper()
    shown = escape(code)  # typed by a person: printed as typed, never read as markup
    if replace:
        old = registered(ws).get(code)
        new = load_public_key(public_key)
        if old is not None and bytes(old) != bytes(new):
            console.print(
                f"[bold yellow]Warning:[/] this replaces {noun} {shown}'s key "
                f"{key_id(old)} with {key_id(new)}. The lists already sent to {shown} were "
                f"sealed to the old key: the new private key cannot open them. {resealed}"
            )
            if not yes and not typer.confirm(f"Replace {code}'s key?", default=False):
                console.print("Not replaced.")
                raise typer.Exit(1)
    done = register(ws, actor, code, public_key, replace=replace)
    title = noun.capitalize()
    if done.unchanged:
        console.print(f"{title} {shown}'s key {done.fingerprint} was already registered.")
    elif done.replaced:
        console.print(
            f"Replaced {noun} {shown}'s key {done.replaced} with {done.fingerprint} "
            f"({escape(str(done.path))}); run phm link, then phm cohort, to seal its lists to "
            "the new key."
        )
    else:
        console.print(
            f"Registered the public key of {noun} {shown} ({escape(str(done.path))}, "
            f"fingerprint {done.fingerprint})."
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


@provider_app.command("register")
def provider_register(
    workspace: Annotated[
        Path, typer.Argument(help="The programme's workspace folder (made by phm init).")
    ],
    ods: Annotated[str, typer.Option("--ods", help="The provider's (trust's) ODS code.")],
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The provider.pub the provider sent.", dir_okay=False),
    ],
    role: Annotated[
        str | None,
        typer.Option("--role", envvar="PHM_ROLE", help="The role you act in (recorded)."),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the provider's registered key (data protection officer only): lists "
            "already sent become unreadable with the new key until sealed again.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace without asking (after the warning).")
    ] = False,
) -> None:
    """Run by the programme: register a hospital provider's public key, so that `phm link`
    seals tokens of the provider's own local patient ids to it and `phm cohort` can send it
    lists (a definition with provider = "CODE"). The practices' rules: a different key is
    refused unless the data protection officer replaces it, and another organisation's key is
    always refused."""
    from openphm.pseudonymise.providers import register_provider, registered_provider_keys

    _register_key(
        workspace, ods, public_key, role, replace, yes, noun="provider",
        registered=registered_provider_keys, register=register_provider,
        resealed="A list is sealed to the new key again for the people whose local ids are in "
        "the landing zone at the next phm link, then phm cohort writes it again.",
    )  # fmt: skip


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
