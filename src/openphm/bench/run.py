"""`phm bench` as a stage: empty the scratch folder, run each stage of the plan (`bench.plan`)
in a fresh process (`bench.measure`), stop at the first that fails, and write the run's figures
to OUT/bench.json. The command (bench.commands) calls it and prints the table."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openphm.errors import UserFacingError

MARK = ".phm-bench"  # what makes a folder one `phm bench` may empty
FIGURES = "bench.json"  # the run's figures as data, beside its scratch folders
# Making the region, and the floors the pipeline is compared with.
NOT_PIPELINE = ("synth", "io-floor", "movement-floor")


@dataclass(frozen=True)
class BenchRun:
    """The stages measured, where their figures were written, and the stage that failed (its
    name and error) when one did."""

    results: list = field(default_factory=list)
    figures: Path | None = None
    failed: str | None = None
    error: str = ""


def run_bench(
    out: Path,
    *,
    people: int,
    seed: int,
    engine: str,
    movement: bool = False,
    during: Callable[[str], contextlib.AbstractContextManager] = (
        lambda name: contextlib.nullcontext()
    ),
) -> BenchRun:
    """Run the benchmark in `out` (emptied first; a folder that exists must be one `phm bench`
    made). `during(name)` is entered while each stage runs (the command's spinner)."""
    from openphm.bench.measure import StageFailed, measure
    from openphm.bench.plan import plan

    if out.exists():
        if not (out / MARK).exists():
            raise UserFacingError(f"{out} exists and is not a bench folder; name another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARK).touch()
    results = []
    stages = plan(out.absolute(), people=people, seed=seed, engine=engine, movement=movement)
    for name, target, kwargs in stages:
        with during(name):
            try:
                results.append(measure(name, target, **kwargs))
            except StageFailed as failed:
                write_figures(out / FIGURES, results, people, engine, failed=name)
                return BenchRun(results, out / FIGURES, name, str(failed))
    write_figures(out / FIGURES, results, people, engine)
    return BenchRun(results, out / FIGURES)


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
