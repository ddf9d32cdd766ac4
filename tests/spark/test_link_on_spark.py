"""`phm link` in a programme whose engine is Spark traces on Spark (Splink's Spark backend) and
builds the same linked zone as DuckDB: two copies of one ingested workspace (same keys, same
landed files) are linked, one per engine, and every table of zone 3 is compared. Tokens are
compared only by who has one: each sealing is randomised, by design."""

from __future__ import annotations

import shutil

import pandas as pd

from openphm.engine.compare import differences, every_zone_table
from openphm.governance.audit import Actor

ENGINEER = Actor(user="t", role="processor-engineer")
RANDOMISED = ("token",)  # sealed boxes: a fresh ephemeral key each time


def _tables(ws) -> dict[str, pd.DataFrame]:
    con = ws.connect_linked(read_only=True)
    try:
        return every_zone_table(con, randomised=RANDOMISED)
    finally:
        con.close()


def test_link_with_tracing_on_spark_builds_the_same_linked_zone(
    linked_workspace, spark_session, tmp_path, monkeypatch
):
    from openphm.landing.ingest import ingest
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise import resolve
    from openphm.pseudonymise.link import link
    from openphm.pseudonymise.practices import register_practice

    region = linked_workspace.region
    ws = Workspace.create(tmp_path / "duckdb", region / "programme.toml", ENGINEER)
    ingest(ws, [region / "extracts"], ENGINEER)
    for practice in ws.config.programme.controllers:
        register_practice(ws, ENGINEER, practice, region / "practices" / practice / "practice.pub")
    shutil.copytree(tmp_path / "duckdb", tmp_path / "spark")
    config = tmp_path / "spark" / "programme.toml"
    assert "[engine]" not in config.read_text()
    config.write_text(config.read_text() + '\n[engine]\nkind = "spark"\n')
    debris = tmp_path / "spark" / "landing" / ".spark-trace-killed"  # a killed link's folder
    (debris / "tmp").mkdir(parents=True)

    traced_on = []  # (engine, records) of each Splink pass
    real = resolve.trace_sources
    monkeypatch.setattr(
        resolve,
        "trace_sources",
        lambda *a, **k: traced_on.append((str(k["engine"]), len(a[0].frame))) or real(*a, **k),
    )
    results = {}
    for engine in ("duckdb", "spark"):
        opened = Workspace.open(tmp_path / engine)
        assert opened.config.engine.kind.value == engine
        results[engine] = link(opened, ENGINEER)
    on_spark = [records for engine, records in traced_on if engine == "spark"]
    assert len(on_spark) == 1 and on_spark[0] > 0  # the Spark link's Splink pass, only
    assert [engine for engine, _ in traced_on] == ["duckdb", "spark"]
    assert results["spark"].traced == results["duckdb"].traced > 0
    # Its own folder deleted after, and a killed earlier link's cleared.
    assert not list((tmp_path / "spark" / "landing").glob(".spark-trace-*"))

    ours, theirs = (_tables(Workspace.open(tmp_path / e)) for e in ("duckdb", "spark"))
    assert set(ours) == set(theirs) and "people" in ours
    found = {name: differences(ours[name], theirs[name]) for name in ours}
    assert {name: d for name, d in found.items() if d} == {}
