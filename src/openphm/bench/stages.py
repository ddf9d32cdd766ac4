"""The benchmark's stages, in the order a programme runs them. Each is a plain function of
keyword arguments returning counts; later stages (ingest, trace, link, analyse, …) add theirs
to `STAGES` as they land."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def history_end() -> dt.date:
    """The last day of last month: a synthetic region's history ends there, so the programme
    it describes starts this month and is running today, whenever it is run."""
    from openphm import clock

    return clock.today().replace(day=1) - dt.timedelta(days=1)


def synthesise(region: Path, people: int, seed: int) -> dict[str, int]:
    from openphm.synth import RegionOptions, generate_region

    options = RegionOptions(people, practices_for(people), seed, end=history_end())
    summary = generate_region(region, options)
    return {"people": summary.people, "files": summary.files}


def practices_for(people: int) -> int:
    """About 10,000 registered patients per practice, as in England, and at least two."""
    return max(2, round(people / 10_000))


def io_floor(region: Path, scratch: Path) -> dict[str, int]:
    """The floor: DuckDB alone reading every extract once and writing it once as Parquet, as
    fast as DuckDB does it here: a file per core at once, each on one DuckDB thread, largest
    first. One file at a time on every thread, the floor until 2 December 2026, left a core
    idle for most small files: the 1M-person region's floor took 39.7 s that way and 22.7 s
    this way, for the same 45 CPU seconds (docs/benchmarks.md, run O)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from openphm.engine import connect

    con = connect(threads=1)
    out = scratch / "io-floor"
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((region / "extracts").rglob("*.csv"))

    def write(number: int) -> int:
        written = out / f"{number}.parquet"
        with con.cursor() as cursor:
            relation = cursor.read_csv(str(files[number]), all_varchar=True, ignore_errors=True)
            relation.write_parquet(str(written))
            (rows,) = cursor.execute(f"SELECT count(*) FROM '{written}'").fetchone()
            return rows

    largest_first = sorted(range(len(files)), key=lambda n: -files[n].stat().st_size)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        rows = sum(pool.map(write, largest_first))
    return {"files": len(files), "rows": rows}


def init_workspace(region: Path, workspace: Path, engine: str | None = None) -> dict[str, int]:
    """The programme of the region, on `engine` (a name; None: the default): its programme.toml
    as the region wrote it, with an [engine] table added naming the engine (so every later
    stage reads the engine from the workspace's configuration, as a programme's own commands
    do), written beside it (so that its relative inboxes still name the region's folders)."""
    from openphm.engine import engine_for
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

    actor = Actor(user="bench", role="processor-engineer")
    config = region / "programme.toml"
    chosen = engine_for(engine)
    text = config.read_text()
    if "[engine]" in text:
        raise ValueError(f"{config} already names an engine; bench sets it")
    config = region / f"programme-{chosen}.toml"
    config.write_text(f'{text.rstrip()}\n\n[engine]\nkind = "{chosen}"\n')
    ws = Workspace.create(workspace, config, actor)
    return {"sources": len(ws.config.sources)}


def analyse(workspace: Path) -> dict[str, int]:
    """Every analytics table as at the end of the region's history, on the programme's
    engine (`phm analyse`'s own code)."""
    from openphm.analytics.definitions import AnalyticsOptions
    from openphm.analytics.stage import build_on_engine
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    summary = build_on_engine(ws, None, history_end(), AnalyticsOptions())
    return {"tables": len(summary.rows), "rows": sum(summary.rows.values())}


def risk(workspace: Path) -> dict[str, int]:
    """Train the emergency-admission model and score everyone, with the features built on
    the programme's engine (on Spark, one Parquet copy of the zone serves both)."""
    from openphm.programme.workspace import Workspace
    from openphm.risk.score import score
    from openphm.risk.stage import features_on
    from openphm.risk.store import open_zone
    from openphm.risk.train import train

    ws = Workspace.open(workspace)
    with features_on(ws, None) as (_, features), open_zone(ws) as con:
        trained = train(con, features=features)
        summary = score(con, features=features)
    return {
        "training_people": trained.card["training"]["people"],
        "scored": summary.people,
        "auc_x1000": round(trained.card["metrics"]["model"]["auc"] * 1000),
    }


def cohorts(workspace: Path) -> dict[str, int]:
    """Build the example cohort on the programme's engine, keep its members and write its
    practice lists (`phm cohort`'s own code)."""
    from importlib import resources

    from openphm.cohorts.build import run_cohort
    from openphm.cohorts.definition import load_definition
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    example = resources.files("openphm.cohorts") / "examples" / "frail-high-risk.toml"
    definition = load_definition(Path(str(example)))
    actor = Actor(user="bench", role="analyst")
    ws.authorise(actor, "cohort.build", purpose=definition.purpose.value)
    built, lists = run_cohort(ws, actor, definition)
    return {"members": len(built.members), "lists": len(lists)}


def release(workspace: Path) -> dict[str, int]:
    """Every crude measure by practice through disclosure control into a release."""
    from openphm.analytics import read_measures
    from openphm.disclosure.releases import request_release, save_draft
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    con = ws.connect_linked()
    measures = read_measures(con)
    cells = measures[(measures["statistic"] == "crude") & (measures["group_by"] == "practice")]
    cells = cells.assign(
        practice=cells["group_value"],
        numerator=cells["numerator"].round().astype(int),
        denominator=cells["denominator"].round().astype(int),
    )
    save_draft(
        con,
        "measures_by_practice",
        cells,
        groups=["measure", "practice"],
        counts=["numerator", "denominator"],
        totals_over=["practice"],
        description="every crude measure by practice (benchmark)",
    )
    con.close()
    manifest = request_release(
        ws,
        Actor("bench", "analyst"),
        ["measures_by_practice"],
        purpose=ws.config.programme.purposes[0].value,
        title="bench",
    )
    item = manifest["contents"][0]
    return {"cells": item["rows"], "redacted": item["primary_redactions"]}
