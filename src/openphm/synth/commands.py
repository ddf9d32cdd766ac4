"""`phm synth`: write a synthetic region's extracts, keys, programme.toml and truth (test data
only)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command(name="synth")(synth)


def synth(
    directory: Annotated[Path, typer.Argument(help="new or empty directory for the region")],
    people: Annotated[int, typer.Option(help="people ever registered in the region")] = 10_000,
    practices: Annotated[int, typer.Option(help="GP practices (half flavour A, half B)")] = 4,
    seed: Annotated[int, typer.Option(help="the same seed gives the same files")] = 0,
    months: Annotated[int, typer.Option(help="months of history up to the end date")] = 24,
    end: Annotated[
        str, typer.Option(help="the region's last day, YYYY-MM-DD (never today's date)")
    ] = "2026-10-31",
    format: Annotated[str, typer.Option(help="csv or parquet")] = "csv",
    objection_rate: Annotated[float, typer.Option(help="share with a Type 1 opt-out")] = 0.03,
    missing_nhs_rate: Annotated[
        float, typer.Option(help="share of non-GP rows with no NHS number")
    ] = 0.05,
    invalid_nhs_rate: Annotated[
        float, typer.Option(help="share of non-GP rows with a mistyped NHS number")
    ] = 0.01,
    identity_noise: Annotated[
        str,
        typer.Option(
            help="faults in non-GP records' names, dates of birth and postcodes: low, nhs (as "
            "NHS demographic data), or high (several errors in many records, as linkage "
            "benchmarks)"
        ),
    ] = "nhs",
    layouts: Annotated[
        str,
        typer.Option(
            help="own: every extract in the project's own tables (docs/extract-formats.md); "
            "real: hospital data as HES APC, OP and A&E, community data as CSDS v1.6 (MPI, "
            "referral, care contact), programme.toml naming those layouts"
        ),
    ] = "own",
) -> None:
    """Generate a synthetic region: GP, hospital, community, social care and deaths extracts
    in the shapes of docs/extract-formats.md (hospital and community data in the published
    HES and CSDS layouts with --layouts real), with noise, faults and a ground truth."""
    import time

    from openphm.synth import RegionOptions, generate_region

    try:
        options = RegionOptions(
            people=people,
            practices=practices,
            seed=seed,
            months=months,
            end=dt.date.fromisoformat(end),
            format=format,
            objection_rate=objection_rate,
            missing_nhs_rate=missing_nhs_rate,
            invalid_nhs_rate=invalid_nhs_rate,
            identity_noise=identity_noise,
            layouts=layouts,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    began = time.perf_counter()
    try:
        summary = generate_region(directory, options, progress=lambda s: typer.echo(f"  {s}"))
    except FileExistsError as err:
        raise typer.BadParameter(str(err)) from None
    typer.echo(
        f"Wrote {summary.files} extract files for {summary.people:,} people at "
        f"{len(summary.practices)} practices into {summary.directory} "
        f"({summary.faults} injected faults; {time.perf_counter() - began:.1f} s)"
    )
