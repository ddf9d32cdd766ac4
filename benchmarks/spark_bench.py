"""Time the analytics build on DuckDB and on local Spark over the same fabricated linked zone.

    python benchmarks/spark_bench.py --people 3000 30000 100000 [--master local[2]]

For each size: a linked zone fabricated by analytics_bench.py in an encrypted DuckDB file, the
copy to encrypted Parquet (engine.export_linked), then `analytics.build` on each engine through
engine.open_linked. Prints seconds per engine and per step; no person-level row. docs/spark.md
records the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

from openphm.analytics import AnalyticsOptions, build
from openphm.engine import attach_encrypted, connect, export_linked, open_linked
from openphm.engine.zones import LINKED_DB, SPARK_WORK

KEY_NAME = "data/linked"
HERE = Path(__file__).parent


def _fabricate():
    spec = importlib.util.spec_from_file_location("analytics_bench", HERE / "analytics_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fabricate, module.REFERENCE


def run(people: int, folder: Path, master: str | None, session) -> dict[str, float]:
    fabricate, reference = _fabricate()
    key = os.urandom(32)
    con = connect(temp_directory=folder / ".spill")
    attach_encrypted(con, folder / LINKED_DB, "linked", key)
    fabricate(con, people)
    con.close()
    started = time.perf_counter()
    export_linked(folder, KEY_NAME, key)
    times = {"export to Parquet": time.perf_counter() - started}
    options = AnalyticsOptions(sii_simulations=1000)
    for engine in ("duckdb", "spark"):
        extra = {} if engine == "duckdb" else {"spark_master": master, "spark_session": session}
        with open_linked(engine, folder, KEY_NAME, key, **extra) as zone:
            started = time.perf_counter()
            summary = build(zone.backend, reference, options)
            times[engine] = time.perf_counter() - started
            times.update({f"{engine}: {k}": v for k, v in summary.seconds.items()})
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[3000, 30000])
    parser.add_argument("--master", default=None, help="Spark master URL (default local[2])")
    args = parser.parse_args()
    from openphm.engine import spark

    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        started = time.perf_counter()
        session = spark.session(Path(tmp) / SPARK_WORK, master=args.master)
        session.sparkContext.setLogLevel("ERROR")
        print(f"Spark session started in {time.perf_counter() - started:.1f} s")
        for people in args.people:
            folder = Path(tmp) / f"zone-{people}"
            folder.mkdir()
            times = run(people, folder, args.master, session)
            print(f"\n{people:,} people")
            for name, seconds in times.items():
                print(f"  {name:40s} {seconds:8.1f} s")


if __name__ == "__main__":
    main()
