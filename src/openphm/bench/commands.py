"""`phm bench`: time every stage that exists on a synthetic region, with peak memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openphm.console import console
from openphm.errors import UserFacingError


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    people: Annotated[int, typer.Option(help="People in the synthetic region.")] = 10_000,
    out: Annotated[Path, typer.Option(help="Scratch folder (emptied first).")] = Path(
        "bench-output"
    ),
    seed: Annotated[int, typer.Option(help="Seed for the synthetic region.")] = 1,
    engine: Annotated[
        str | None,
        typer.Option(
            help="duckdb (default) or spark: the programme's engine, written into the "
            "workspace. On "
            "spark, link traces on Spark and analyse, risk and cohorts build there (a local "
            "session, local[2]); ingest and the rest of link run on DuckDB either way.",
        ),
    ] = None,
    movement_floor: Annotated[
        bool,
        typer.Option(
            "--movement-floor",
            help="Also measure the movement floor: the extracts landed in an encrypted DuckDB "
            "file with no checks and copied once into a second, the least the design's "
            "encrypted zones move (about twice the I/O floor), and divide the pipeline by it.",
        ),
    ] = False,
) -> None:
    """Run each stage in a fresh process; print its time, CPU time, share of the run and peak
    memory, and the whole run's ratio to the I/O floor (DuckDB reading the extracts once)."""
    from openphm.bench.run import run_bench
    from openphm.engine import engine_for

    engine = engine_for(engine).name
    run = run_bench(out, people=people, seed=seed, engine=engine, movement=movement_floor,
                    during=lambda name: console.status(f"bench: {name}"))  # fmt: skip
    _report(run.results, people, engine)
    if run.failed:
        raise UserFacingError(f"bench: the {run.failed} stage failed: {run.error}")
    console.print(f"figures: {run.figures}")


def _report(results, people: int, engine: str) -> None:
    from openphm.bench.run import NOT_PIPELINE, figures

    shown = figures(results, people, engine)
    total = shown["pipeline_seconds"]
    table = Table(title=f"phm bench: {people:,} people on {engine} (one run)")
    columns = ("stage", "seconds", "CPU s", "share of pipeline", "peak memory MB", "counts")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column != "counts" else "left",
            overflow="fold",  # every count whole, never cut short with an ellipsis
        )
    for r in results:
        share = f"{r.seconds / total:.0%}" if r.name not in NOT_PIPELINE and total else ""
        counts = ", ".join(f"{k}={v:,}" for k, v in r.counts.items())
        table.add_row(
            r.name, f"{r.seconds:.2f}", f"{r.cpu_seconds:.1f}", share, f"{r.peak_rss_mb:,.0f}",
            counts,
        )  # fmt: skip
    console.print(table)
    console.print(
        f"pipeline total {total:.2f} s ({shown['pipeline_cpu_seconds']:.1f} CPU s); "
        f"peak memory of any stage {shown['peak_memory_mb']:,} MB"
    )
    if shown["floor_ratio"] is not None:
        console.print(f"ratio of pipeline to the I/O floor: {shown['floor_ratio']:.2f}×")
    if shown["floor_cpu_ratio"] is not None:
        console.print(
            f"in CPU seconds: {shown['floor_cpu_ratio']:.2f}× the floor's "
            f"{shown['floor_cpu_seconds']:.1f} (moves less with other jobs' load than wall time)"
        )
    if shown["movement_ratio"] is not None and shown["movement_floor_to_floor"] is not None:
        console.print(
            f"ratio of pipeline to the movement floor: {shown['movement_ratio']:.2f}× "
            f"({shown['movement_cpu_ratio']:.2f}× in CPU seconds); the movement floor is "
            f"{shown['movement_floor_to_floor']:.2f}× the I/O floor"
        )
