"""`phm bench`: time every stage that exists on a synthetic region, with peak memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openphm.console import UserFacingError, console


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    people: Annotated[int, typer.Option(help="People in the synthetic region.")] = 10_000,
    out: Annotated[Path, typer.Option(help="Scratch folder (emptied first).")] = Path(
        "bench-output"
    ),
    seed: Annotated[int, typer.Option(help="Seed for the synthetic region.")] = 1,
    engine: Annotated[
        str,
        typer.Option(
            help="duckdb or spark: the programme's engine, written into the workspace. On "
            "spark, link traces on Spark and analyse, risk and cohorts build there (a local "
            "session, local[2]); ingest and the rest of link run on DuckDB either way.",
        ),
    ] = "duckdb",
) -> None:
    """Run each stage in a fresh process; print its time, CPU time, share of the run and peak
    memory, and the whole run's ratio to the I/O floor (DuckDB reading the extracts once)."""
    from openphm.bench.measure import StageFailed, measure
    from openphm.bench.plan import plan
    from openphm.engine import check_engine

    engine = check_engine(engine)
    if out.exists():
        if not (out / ".phm-bench").exists():
            raise UserFacingError(f"{out} exists and is not a bench folder; name another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".phm-bench").touch()
    results = []
    for name, target, kwargs in plan(out.absolute(), people=people, seed=seed, engine=engine):
        with console.status(f"bench: {name}"):
            try:
                results.append(measure(name, target, **kwargs))
            except StageFailed as failed:
                _report(results, people, engine)
                raise UserFacingError(f"bench: the {name} stage failed: {failed}") from None
    _report(results, people, engine)


def _report(results, people: int, engine: str) -> None:
    floor = next((r for r in results if r.name == "io-floor"), None)
    pipeline = [r for r in results if r.name not in ("io-floor", "synth")]
    total = sum(r.seconds for r in pipeline)
    table = Table(title=f"phm bench: {people:,} people on {engine} (one run)")
    columns = ("stage", "seconds", "CPU s", "share of pipeline", "peak memory MB", "counts")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column != "counts" else "left",
            overflow="fold",  # every count whole, never cut short with an ellipsis
        )
    for r in results:
        share = f"{r.seconds / total:.0%}" if r in pipeline and total else ""
        counts = ", ".join(f"{k}={v:,}" for k, v in r.counts.items())
        table.add_row(
            r.name, f"{r.seconds:.2f}", f"{r.cpu_seconds:.1f}", share, f"{r.peak_rss_mb:,.0f}",
            counts,
        )  # fmt: skip
    console.print(table)
    peak = max((r.peak_rss_mb for r in pipeline), default=0.0)
    cpu = sum(r.cpu_seconds for r in pipeline)
    console.print(
        f"pipeline total {total:.2f} s ({cpu:.1f} CPU s); peak memory of any stage {peak:,.0f} MB"
    )
    if floor and floor.seconds:
        console.print(f"ratio of pipeline to the I/O floor: {total / floor.seconds:.2f}×")
        if floor.cpu_seconds:
            console.print(
                f"in CPU seconds: {cpu / floor.cpu_seconds:.2f}× the floor's "
                f"{floor.cpu_seconds:.1f} (moves less with other jobs' load than wall time)"
            )
