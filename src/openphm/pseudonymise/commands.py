"""`phm link`: build the de-identified linked population from what has landed; `phm extract`:
a recipient's record-level extract; `phm practice register` and `phm provider register`: an
organisation's public key, which its tokens are sealed to.

`phm link` reads zone 1 and the key store (through openphm.pseudonymise.link) and writes zone
3; `phm extract` reads zone 3 and the recipient's key and writes zone 4 (through
openphm.pseudonymise.extracts, which derives the recipient's pseudonyms from the linkage key);
the register commands write WORKSPACE/practices/ or providers/ (through
openphm.pseudonymise.practices and .providers). Each command parses, calls its stage and
prints: counts and rates only, never a patient's value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption, WorkspaceArgument, console


def register(app: typer.Typer) -> None:
    from openphm.practice.commands import practice_app, provider_app

    app.command("link")(link_command)
    app.command("extract")(extract_command)
    # `phm practice register` and `phm provider register`: the groups are the practice side's
    # (openphm.practice.commands); registering a key in the workspace is this stage's.
    practice_app.command("register")(practice_register_command)
    provider_app.command("register")(provider_register_command)


def link_command(workspace: WorkspaceArgument, role: RoleOption = None) -> None:
    """Link what has landed into the linked zone: check NHS numbers, trace records without
    one, pseudonymise, seal re-identification tokens, de-identify, apply objections. Only new
    files are linked; a resubmission replaces the file it supersedes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openphm.programme.workspace import open_as
    from openphm.pseudonymise.link import link

    ws, actor = open_as(workspace, role)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def show(step: str, done: int, total: int) -> None:
            if step not in tasks:
                for earlier in tasks.values():
                    progress.update(earlier, completed=1, total=1)
                tasks[step] = progress.add_task(step, total=total or None)
            progress.update(tasks[step], completed=done, total=total or None)

        result = link(ws, actor, progress=show)
    show_result(ws, result)


def show_result(ws, result) -> None:
    from rich.table import Table

    from openphm.pseudonymise.report import link_report, linkage_equity

    console.print(
        f"Linked {result.submissions_linked} new file(s), replaced {result.submissions_replaced}; "
        f"{result.people:,} people in the linked zone. Traced {result.traced:,} of "
        f"{result.records_to_trace:,} records without a valid NHS number. Sealed "
        f"{result.tokens_sealed:,} token(s)."
    )
    if result.provider_tokens_sealed:
        console.print(
            f"Sealed {result.provider_tokens_sealed:,} token(s) to hospital providers' keys "
            "(their local patient ids)."
        )
    if result.tracing and result.tracing.sources:
        show_tracing(result.tracing)
    if result.registered_without_key:
        console.print(
            f"[yellow]Warning:[/] {result.registered_without_key:,} people have a practice that "
            "has not registered its public key (phm practice register): they have no token."
        )
    for alert in unmatched_alerts(link_report(ws)):
        console.print(f"[red]Alert:[/] {alert}")
    removed = sum(result.objected_removed.values())
    excluded = sum(result.objected_excluded.values())
    console.print(
        f"Objections: {result.objectors:,} objector(s); {removed:,} row(s) removed from the "
        f"linked zone, {excluded:,} arriving row(s) kept out."
    )
    for title, frame in (("Link report", link_report(ws)), ("Linkage equity", linkage_equity(ws))):
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(
                str(column), justify="right" if frame[column].dtype.kind in "if" else "left"
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)


def unmatched_alerts(report) -> list[str]:
    """From the link report, each source and provider that left more than 2.2% of its
    records without an NHS number (neither valid nor traced)."""
    from openphm.identity.quality import unmatched_alert

    alerts = []
    for row in report.itertuples(index=False):
        alert = unmatched_alert(f"{row.source} {row.provider}", int(row.records), int(row.untraced))
        if alert:
            alerts.append(alert)
    return alerts


def show_tracing(report) -> None:
    """Per source: records that needed tracing, how many were traced, and the share of each
    field's values that could be read, with a warning for a field mostly unreadable."""
    from rich.table import Table

    from openphm.identity.tracing import FIELDS

    table = Table(title="Tracing (records without a valid NHS number; % of values readable)")
    for column in ("source", "provider", "to trace", "traced", *FIELDS):
        table.add_column(column, justify="left" if column in ("source", "provider") else "right")
    for source in report.sources:
        rates = {r.field: f"{r.rate:.0%}" if r.sent else "-" for r in source.rates}
        table.add_row(source.source, source.provider, f"{source.records:,}",
                      f"{source.traced:,}", *(rates.get(f, "-") for f in FIELDS))  # fmt: skip
    console.print(table)
    for source in report.sources:
        if source.model is not None:
            console.print(f"Tracing model, {source.source} {source.provider} {source.period}: "
                          f"{model_summary(source.model, source.changes)}; "
                          f"{source.threshold.describe()} of the records Splink scored "
                          "(the rest matched exactly)")  # fmt: skip
        for line in source.warnings():
            console.print(f"[yellow]Warning:[/] tracing {source.source} {source.provider}: {line}")


def model_summary(model, changes) -> str:
    """Which parameters a source was traced with, from where, and what moved most."""
    text = f"{model.reason}; from {model.started_from}; expects {model.on_spine_share:.1%} of "
    text += "records on the spine"
    moved = [c for c in changes[:3] if abs(c.weight_change) >= 0.5]
    if moved:
        text += "; moved most: " + ", ".join(
            f"{c.comparison} '{c.level}' {c.weight_change:+.1f} bits" for c in moved
        )
    return text


def extract_command(
    workspace: WorkspaceArgument,
    recipient: Annotated[str, typer.Option(help="A recipient named in programme.toml.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (people.csv and a file per field group) or omop (OMOP CDM v5.4 tables "
            "and a DuckDB file made from OHDSI's DDL, in <date>/omop/).",
        ),
    ] = "csv",
    role: RoleOption = None,
) -> None:
    """Write a record-level extract for a recipient: only the fields its purpose needs, its
    own pseudonyms, k-anonymous. Refused once the recipient's access has expired."""
    from openphm.programme.workspace import open_as
    from openphm.pseudonymise.extracts import make_extract

    ws, actor = open_as(workspace, role)
    made = make_extract(ws, actor, recipient, format=format)
    m = made.manifest
    anonymity = m["k_anonymity"]
    console.print(
        f"Extract for {m['recipient']} ({m['purpose']}), until {m['expires']}: {made.folder}"
    )
    console.print(
        f"  k = {anonymity['k']} ({anonymity['generalisation']}); smallest group "
        f"{anonymity['smallest_group']}; {anonymity['people_suppressed']} people suppressed; "
        f"l-diversity of {m['l_diversity']['sensitive']}: {m['l_diversity']['l']}"
    )
    for name, info in m["files"].items():
        rows = f"{info['rows']:,} rows" if "rows" in info else "OMOP CDM v5.4, DuckDB"
        console.print(f"  {name}: {rows} ({info['file']})")
    if "omop" in m:
        checks = m["omop"]["constraints"]
        console.print(
            f"  OMOP constraints: {checks['foreign_keys_checked']} foreign keys and "
            f"{checks['lengths_checked']} column lengths checked, none broken; primary keys "
            "and NOT NULL enforced by DuckDB"
        )


def practice_register_command(
    workspace: WorkspaceArgument,
    ods: Annotated[str, typer.Option("--ods", help="The controller practice's ODS code.")],
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The practice.pub the practice sent.", dir_okay=False),
    ],
    role: RoleOption = None,
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
    from openphm.pseudonymise.practices import PRACTICES, register_practice

    _register_key(
        workspace, ods, public_key, role, replace, yes, kind=PRACTICES,
        register=register_practice,
        resealed="They become readable again only when the next phm link seals the practice's "
        "tokens to the new key and phm cohort writes its lists again. If the practice still "
        "holds its old private key, it can open the old lists with it until then.",
    )  # fmt: skip


def provider_register_command(
    workspace: WorkspaceArgument,
    ods: Annotated[str, typer.Option("--ods", help="The provider's (trust's) ODS code.")],
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The provider.pub the provider sent.", dir_okay=False),
    ],
    role: RoleOption = None,
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
    from openphm.pseudonymise.providers import PROVIDERS, register_provider

    _register_key(
        workspace, ods, public_key, role, replace, yes, kind=PROVIDERS,
        register=register_provider,
        resealed="A list is sealed to the new key again for the people whose local ids are in "
        "the landing zone at the next phm link, then phm cohort writes it again.",
    )  # fmt: skip


def _register_key(workspace: Path, ods: str, public_key: Path, role: str | None,
                  replace: bool, yes: bool, *, kind, register, resealed: str) -> None:  # fmt: skip
    """Register (or, with `replace`, replace after a warning) a practice's or a provider's
    public key, and say what was done. `kind`: which register (pseudonymise.practices'
    PRACTICES, pseudonymise.providers' PROVIDERS); `register(ws, actor, code, path, replace=)`:
    its registration, which decides and audits; `resealed`: what becomes of the lists already
    sent after a replacement."""
    from rich.markup import escape

    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role)
    code = ods.strip().upper()
    shown = escape(code)  # typed by a person: printed as typed, never read as markup
    noun = kind.noun
    replacing = kind.replacing(ws, code, public_key) if replace else None
    if replacing is not None:
        old, new = replacing
        console.print(
            f"[bold yellow]Warning:[/] this replaces {noun} {shown}'s key {old} with {new}. "
            f"The lists already sent to {shown} were sealed to the old key: the new private "
            f"key cannot open them. {resealed}"
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
