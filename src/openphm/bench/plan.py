"""Which stages `phm bench` runs, with their arguments. Stages that have not landed yet are
simply absent: the benchmark always measures what exists."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def plan(
    out: Path, *, people: int, seed: int, engine: str | None = None, movement: bool = False
) -> list[tuple[str, str, dict[str, Any]]]:
    """The stages in order. `engine` is the programme's ([engine] kind, written into the
    workspace at init; None: the default): on Spark, link traces there and analyse, risk and
    cohorts build there.
    `movement`: measure the movement floor (`bench.movement`) after the I/O floor."""
    region, workspace = out / "region", out / "workspace"
    stages: list[tuple[str, str, dict[str, Any]]] = []
    if importlib.util.find_spec("openphm.synth") is not None:
        stages.append(
            (
                "synth",
                "openphm.bench.stages:synthesise",
                {"region": region, "people": people, "seed": seed},
            )
        )
        floor_args = {"region": region, "scratch": out}
        stages.append(("io-floor", "openphm.bench.stages:io_floor", floor_args))
        if movement:
            stages.append(("movement-floor", "openphm.bench.movement:movement_floor", floor_args))
    both = {"region": region, "workspace": workspace}
    stages += [
        ("init", "openphm.bench.stages:init_workspace", {**both, "engine": engine}),
        ("ingest", "openphm.landing.bench:ingest_region", both),
        ("link", "openphm.pseudonymise.bench:link_stage", both),
        ("analyse", "openphm.bench.stages:analyse", {"workspace": workspace}),
        ("risk", "openphm.bench.stages:risk", {"workspace": workspace}),
        ("cohorts", "openphm.bench.stages:cohorts", {"workspace": workspace}),
        ("release", "openphm.bench.stages:release", {"workspace": workspace}),
    ]
    return stages
