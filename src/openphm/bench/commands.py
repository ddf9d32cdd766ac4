"""`phm bench`: time every stage that exists on a synthetic region, with peak memory."""

from __future__ import annotations

import shutil
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
    from openphm.bench.measure import StageFailed, measure
    from openphm.bench.plan import plan
    from openphm.engine import engine_for

    engine = engine_for(engine).name
    if out.exists():
        if not (out / ".phm-bench").exists():
            raise UserFacingError(f"{out} exists and is not a bench folder; name another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".phm-bench").touch()
    results = []
    stages = plan(out.absolute(), people=people, seed=seed, engine=engine, movement=movement_floor)
    for name, target, kwargs in stages:
        with console.status(f"bench: {name}"):
            try:
                results.append(measure(name, target, **kwargs))
            except StageFailed as failed:
                _report(results, people, engine)
                write_figures(out / FIGURES, results, people, engine, failed=name)
                raise UserFacingError(f"bench: the {name} stage failed: {failed}") from None
    _report(results, people, engine)
    write_figures(out / FIGURES, results, people, engine)
    console.print(f"figures: {out / FIGURES}")


FIGURES = "bench.json"  # the run's figures as data, beside its scratch folders
# Making the region, and the floors the pipeline is compared with.
NOT_PIPELINE = ("synth", "io-floor", "movement-floor")


def figures(results, people: int, engine: str, failed: str | None = None) -> dict:
    """What the table and the lines under it say, as data: each stage's result, and the
    pipeline's totals and ratios to the I/O floor, and to the movement floor when it was
    measured (synth and the floors are not in the pipeline)."""
    import dataclasses

    floor = next((r for r in results if r.name == "io-floor"), None)
    moved = next((r for r in results if r.name == "movement-floor"), None)
    pipeline = [r for r in results if r.name not in NOT_PIPELINE]
    seconds = sum(r.seconds for r in pipeline)
    cpu = sum(r.cpu_seconds for r in pipeline)
    return {
        "people": people,
        "engine": engine,
        "failed_stage": failed,
        "stages": [dataclasses.asdict(r) for r in results],
        "pipeline_seconds": round(seconds, 2),
        "pipeline_cpu_seconds": round(cpu, 1),
        "peak_memory_mb": round(max((r.peak_rss_mb for r in pipeline), default=0.0)),
        "floor_cpu_seconds": round(floor.cpu_seconds, 1) if floor else None,
        "floor_ratio": round(seconds / floor.seconds, 2) if floor and floor.seconds else None,
        "floor_cpu_ratio": (
            round(cpu / floor.cpu_seconds, 2) if floor and floor.cpu_seconds else None
        ),
        "movement_floor_seconds": round(moved.seconds, 2) if moved else None,
        "movement_floor_to_floor": (
            round(moved.seconds / floor.seconds, 2) if moved and floor and floor.seconds else None
        ),
        "movement_ratio": round(seconds / moved.seconds, 2) if moved and moved.seconds else None,
        "movement_cpu_ratio": (
            round(cpu / moved.cpu_seconds, 2) if moved and moved.cpu_seconds else None
        ),
    }


def write_figures(path: Path, results, people: int, engine: str, failed=None) -> None:
    """The figures as JSON: a log's table folds long counts to the width of no terminal."""
    import json

    path.write_text(json.dumps(figures(results, people, engine, failed), indent=2) + "\n")


def _report(results, people: int, engine: str) -> None:
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
