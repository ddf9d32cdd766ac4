"""A real programme's workspace linked and analysed on DuckDB and on local Spark, timed and
compared table by table (the scale issue's "the Spark run of the 100k region completes and
matches DuckDB").

    phm bench --people 100000 --out /tmp/bench100k          # a region taken through link
    python benchmarks/spark_programme.py /tmp/bench100k/workspace --reference-date 2026-10-31

    # from an ingested, not yet linked, workspace: link too (tracing on each engine), and
    # train, score and build the example cohort on each engine after the analytics
    python benchmarks/spark_programme.py INGESTED --reference-date 2026-10-31 --link --risk

The workspace is copied twice (it is not changed). With --link each copy is set to its engine
and runs `phm link`'s own `link` (tracing on that engine), and every zone 3 table is compared
(tokens by who has one: each sealing is randomised). Then each copy runs `phm analyse`'s own
`build_on_engine`, and every analytics table is compared with `engine.compare` (rows as sets,
floats within 1e-9 relative). With --risk each copy then trains and scores the risk model with
its features built on its engine, and builds the example cohort there; the scores and the
members are compared too. Prints seconds and, per table, rows and "same" or the columns
that differ; never a value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path

from openphm.analytics.build import TABLES
from openphm.analytics.definitions import AnalyticsOptions
from openphm.analytics.stage import build_on_engine
from openphm.engine.compare import comparable, differences, every_zone_table, zone_tables
from openphm.governance.audit import Actor
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link


def tables(ws: Workspace) -> dict:
    con = ws.connect_linked(read_only=True)
    try:
        frames = zone_tables(con, TABLES)
    finally:
        con.close()
    runs = frames.pop("analytics_runs")  # when each build ran: its types only
    frames["analytics_runs (types)"] = runs.iloc[:0]
    return frames


def linked(ws: Workspace) -> dict:
    """Every zone 3 table, tokens as whether there is one."""
    con = ws.connect_linked(read_only=True)
    try:
        return every_zone_table(con)
    finally:
        con.close()


def link_on(root: Path, engine: str) -> None:
    config = root / "programme.toml"
    if engine == "spark":
        config.write_text(config.read_text() + '\n[engine]\nkind = "spark"\n')
    ws = Workspace.open(root)
    started = time.perf_counter()
    result = link(ws, Actor("bench", "processor-engineer"))
    print(f"{engine:6} {time.perf_counter() - started:7.1f} s to link ({result.traced:,} of "
          f"{result.records_to_trace:,} records traced)", flush=True)  # fmt: skip


def risk_and_cohort(ws: Workspace, engine: str, *, linked_here: bool) -> dict:
    """Train and score the risk model with features built on `engine`, then build the example
    cohort on it; the scores and the members, as comparable frames. When each copy was linked
    here (`linked_here`), each sealed its own tokens: members' tokens are then compared by
    whether they have one."""
    from openphm.cohorts.build import build_on_engine as cohort_on
    from openphm.cohorts.definition import load_definition
    from openphm.risk.score import score
    from openphm.risk.stage import features_on
    from openphm.risk.store import open_zone
    from openphm.risk.train import train

    started = time.perf_counter()
    with features_on(ws, engine) as (_, features), open_zone(ws) as con:
        trained = train(con, features=features)
    with features_on(ws, engine) as (_, features), open_zone(ws) as con:
        score(con, trained.model_id, features=features)
    risk_seconds = time.perf_counter() - started
    example = resources.files("openphm.cohorts") / "examples" / "frail-high-risk.toml"
    started = time.perf_counter()
    built = cohort_on(ws, engine, load_definition(Path(str(example))))
    print(f"{engine:6} {risk_seconds:7.1f} s to train and score ({trained.card['model']['trees']} "
          f"trees), {time.perf_counter() - started:.1f} s for the cohort "
          f"({len(built.members):,} members)", flush=True)  # fmt: skip
    con = ws.connect_linked(read_only=True)
    try:
        scores = con.execute(
            "SELECT pseudonym, risk, risk_percentile FROM linked.person_risk").df()  # fmt: skip
    finally:
        con.close()
    members = built.members
    if linked_here:
        members = members.assign(token=members["token"].notna())
    return {"person_risk (scores)": comparable(scores),
            "cohort members": comparable(members)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--reference-date", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--link", action="store_true", help="link each copy on its engine first")
    parser.add_argument(
        "--risk", action="store_true", help="then train, score and build the example cohort"
    )
    args = parser.parse_args()
    built, zones = {}, {}
    with tempfile.TemporaryDirectory(prefix="spark-programme-") as scratch:
        for engine in ("duckdb", "spark"):
            root = Path(scratch) / engine
            shutil.copytree(args.workspace, root)
            if args.link:
                link_on(root, engine)
                zones[engine] = linked(Workspace.open(root))
            ws = Workspace.open(root)
            started = time.perf_counter()
            summary = build_on_engine(ws, engine, args.reference_date, AnalyticsOptions())
            seconds = time.perf_counter() - started
            steps = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items())
            print(f"{engine:6} {seconds:7.1f} s in all (build {summary.total_seconds:.1f} s: "
                  f"{steps})", flush=True)  # fmt: skip
            built[engine] = tables(ws)
            if args.risk:
                built[engine] |= risk_and_cohort(ws, engine, linked_here=args.link)
            shutil.rmtree(root)
    for table, ours in zones.get("duckdb", {}).items():
        found = differences(ours, zones["spark"][table])
        print(f"{table:22} {len(ours):>10,} rows  {'same' if not found else '; '.join(found)}")
    for table, ours in built["duckdb"].items():
        found = differences(ours, built["spark"][table])
        print(f"{table:22} {len(ours):>10,} rows  {'same' if not found else '; '.join(found)}")


if __name__ == "__main__":
    main()
