"""Landing benchmark: time `phm ingest` on a synthetic region against DuckDB alone reading the
same CSV files once, and report ingest's peak memory.

    python benchmarks/landing_bench.py REGION_DIR [--people 1000000] [--threads 2]

REGION_DIR is made with `phm synth` if it does not exist. Each measurement runs in a fresh
process so that peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import json, sys, time
from pathlib import Path
from openphm.engine import connect
con = connect(threads={threads})
files = sorted(Path(sys.argv[1]).rglob("*.csv"))
start = time.perf_counter()
rows = sum(con.execute("SELECT count(*) FROM read_csv(?, all_varchar=true, ignore_errors=true)",
                       [str(f)]).fetchone()[0] for f in files)
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": rows, "files": len(files)}}))
"""

INGEST = """
import json, sys, time
from pathlib import Path
from openphm.landing.bench import ingest_region
start = time.perf_counter()
counts = ingest_region(Path(sys.argv[1]), Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start, **counts}))
"""


def _child(code: str, *args: str) -> tuple[dict, float]:
    """The child's JSON line, with its CPU seconds (user + system) and load averages added,
    and its peak RSS in GiB. On a shared machine CPU seconds say more than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["load"] = (load, os.getloadavg()[0])
    return result, max(after.ru_maxrss, before.ru_maxrss) / 1024 / 1024


def _cpu_and_load(result: dict) -> str:
    start, end = result["load"]
    return f"; {result['cpu']:.1f} CPU s; load average {start:.1f} at start, {end:.1f} at end"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region", type=Path)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--practices", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.region.exists():
        subprocess.run(
            [
                "phm",
                "synth",
                str(args.region),
                "--people",
                str(args.people),
                "--practices",
                str(args.practices),
                "--seed",
                "1",
            ],
            check=True,
        )
    floor, _ = _child(FLOOR.format(threads=args.threads), str(args.region / "extracts"))
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        subprocess.run(
            ["phm", "init", str(workspace), "--config", str(args.region / "programme.toml")],
            check=True,
            capture_output=True,
        )
        started = time.perf_counter()
        ingest, peak_gib = _child(INGEST, str(args.region), str(workspace))
        wall = time.perf_counter() - started
    print(f"extract files:     {floor['files']} ({floor['rows']:,} rows)")
    print(f"DuckDB read once:  {floor['seconds']:.1f} s{_cpu_and_load(floor)}")
    print(
        f"phm ingest:        {ingest['seconds']:.1f} s ({wall:.1f} s with start-up), "
        f"{ingest['rows']:,} rows, {ingest['quarantined']:,} quarantined, "
        f"{ingest['refused']} file(s) refused{_cpu_and_load(ingest)}"
    )
    print(f"ratio:             {ingest['seconds'] / floor['seconds']:.1f}x DuckDB alone")
    print(f"ingest peak RSS:   {peak_gib:.2f} GiB")


if __name__ == "__main__":
    main()
