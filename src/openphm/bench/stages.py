"""The benchmark's stages, in the order a programme runs them. Each is a plain function of
keyword arguments returning counts; later stages (ingest, trace, link, analyse, …) add theirs
to `STAGES` as they land."""

from __future__ import annotations

from pathlib import Path


def synthesise(region: Path, people: int, seed: int) -> dict[str, int]:
    from openphm.synth import RegionOptions, generate_region

    summary = generate_region(region, RegionOptions(people, practices_for(people), seed))
    return {"people": summary.people, "files": summary.files}


def practices_for(people: int) -> int:
    """About 10,000 registered patients per practice, as in England, and at least two."""
    return max(2, round(people / 10_000))


def io_floor(region: Path, scratch: Path) -> dict[str, int]:
    """The floor: DuckDB alone reading every extract once and writing it once as Parquet."""
    from openphm.engine import connect

    con = connect()
    out = scratch / "io-floor"
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((region / "extracts").rglob("*.csv"))
    rows = 0
    for number, path in enumerate(files):
        relation = con.read_csv(str(path), all_varchar=True, ignore_errors=True)
        relation.write_parquet(str(out / f"{number}.parquet"))
        rows += con.execute(f"SELECT count(*) FROM '{out / f'{number}.parquet'}'").fetchone()[0]
    return {"files": len(files), "rows": rows}


def init_workspace(region: Path, workspace: Path) -> dict[str, int]:
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

    actor = Actor(user="bench", role="processor-engineer")
    ws = Workspace.create(workspace, region / "programme.toml", actor)
    return {"sources": len(ws.config.sources)}


def analyse(workspace: Path) -> dict[str, int]:
    """Every analytics table as at the programme's clock."""
    from openphm import clock
    from openphm.analytics import build
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    con = ws.connect_linked()
    summary = build(con, clock.today())
    con.close()
    return {"tables": len(summary.rows), "rows": sum(summary.rows.values())}
