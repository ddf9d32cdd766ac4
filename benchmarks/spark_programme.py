"""The analytics of a real programme's workspace built on DuckDB and on local Spark, timed and
compared table by table (the scale issue's "the Spark run of the 100k region completes and
matches DuckDB").

    phm bench --people 100000 --out /tmp/bench100k          # a region taken through link
    python benchmarks/spark_programme.py /tmp/bench100k/workspace --reference-date 2026-10-31

The workspace is copied twice (it is not changed); each copy runs `phm analyse`'s own
`build_on_engine`, then every analytics table of the two copies is compared with
`engine.compare` (rows as sets, floats within 1e-9 relative). Prints seconds and, per table,
rows and "same" or the columns that differ; never a value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from openphm.analytics.build import TABLES
from openphm.analytics.commands import build_on_engine
from openphm.analytics.definitions import AnalyticsOptions
from openphm.engine.compare import differences, zone_tables
from openphm.programme.workspace import Workspace


def tables(ws: Workspace) -> dict:
    con = ws.connect_linked(read_only=True)
    try:
        frames = zone_tables(con, TABLES)
    finally:
        con.close()
    runs = frames.pop("analytics_runs")  # when each build ran: its types only
    frames["analytics_runs (types)"] = runs.iloc[:0]
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--reference-date", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args()
    built = {}
    with tempfile.TemporaryDirectory(prefix="spark-programme-") as scratch:
        for engine in ("duckdb", "spark"):
            root = Path(scratch) / engine
            shutil.copytree(args.workspace, root)
            ws = Workspace.open(root)
            started = time.perf_counter()
            summary = build_on_engine(ws, engine, args.reference_date, AnalyticsOptions())
            seconds = time.perf_counter() - started
            steps = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items())
            print(f"{engine:6} {seconds:7.1f} s in all (build {summary.total_seconds:.1f} s: "
                  f"{steps})", flush=True)  # fmt: skip
            built[engine] = tables(ws)
            shutil.rmtree(root)
    for table, ours in built["duckdb"].items():
        found = differences(ours, built["spark"][table])
        print(f"{table:22} {len(ours):>10,} rows  {'same' if not found else '; '.join(found)}")


if __name__ == "__main__":
    main()
