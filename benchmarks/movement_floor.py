"""Movement floor: the data movement the design itself requires, and nothing else, against the
I/O floor `phm bench` divides by.

    python benchmarks/movement_floor.py REGION_DIR [--scratch DIR]

REGION_DIR is a synthetic region (`phm synth`, or a `phm bench --out` folder's `region`). Three
measurements, one after the other, on the same files:

1. the I/O floor, as `phm bench` measures it (`bench.stages.io_floor`: each extract read once
   and written once as Parquet, a file per core, one DuckDB thread each, largest first);
2. landing without checking: each extract read once and appended, every field as text, to one
   table per table and column layout in a new encrypted DuckDB file, two files at a time on one
   thread each, largest first, with one checkpoint at DETACH (what `phm ingest` does, less
   every check, canonical value, quarantine and fingerprint);
3. linking without linking: every table of that file copied once into a second encrypted
   DuckDB file (what `phm link` writes, less tracing, pseudonyms, tokens, objections and the
   de-identification itself).

Zones 1 and 3 are encrypted DuckDB files by design (shared/DESIGN.md), so 2 + 3 is the least
any pipeline keeping that design does before it checks, traces, pseudonymises, analyses or
trains anything. Keys are random, used once and never stored; everything written goes at the
end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openphm.bench.stages import io_floor
from openphm.engine import attach_encrypted, connect


def _layout(path: Path) -> str:
    """A table name per source kind, table and header (flavours differ in their columns)."""
    kind = path.parent.parent.name.replace("-", "_")
    table = path.name.split("_")[1]
    with path.open("rb") as text:
        header = text.readline()
    return f"{kind}_{table}_{zlib.crc32(header):08x}"


def land(files: list[Path], batch: Path, key: bytes, spill: Path) -> None:
    con = connect(threads=1, memory_limit="3GB", temp_directory=spill)
    con.execute("SET checkpoint_threshold = '1TB'")
    attach_encrypted(con, batch, "batch", key)
    layouts = {f: _layout(f) for f in files}
    for layout in sorted(set(layouts.values())):
        first = next(f for f in files if layouts[f] == layout)
        con.execute(
            f"CREATE TABLE batch.{layout} AS SELECT * FROM read_csv(?, all_varchar = true) LIMIT 0",
            [str(first)],
        )

    def append(path: Path) -> None:
        with con.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO batch.{layouts[path]} BY NAME SELECT * FROM "
                "read_csv(?, all_varchar = true, ignore_errors = true)",
                [str(path)],
            )

    largest_first = sorted(files, key=lambda f: -f.stat().st_size)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(append, largest_first))
    con.execute("DETACH batch")
    con.close()


def copy(batch: Path, batch_key: bytes, linked: Path, spill: Path) -> None:
    con = connect(memory_limit="3GB", temp_directory=spill)
    attach_encrypted(con, batch, "batch", batch_key, read_only=True)
    attach_encrypted(con, linked, "linked", secrets.token_bytes(32))
    tables = [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'batch' ORDER BY 1"
        ).fetchall()
    ]
    con.execute("BEGIN")
    for table in tables:
        con.execute(f"CREATE TABLE linked.{table} AS SELECT * FROM batch.{table}")
    con.execute("COMMIT")
    con.execute("DETACH linked")
    con.close()


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    before, started = os.times(), time.perf_counter()
    work()
    after = os.times()
    cpu = (after.user + after.system) - (before.user + before.system)
    return time.perf_counter() - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region", type=Path)
    parser.add_argument("--scratch", type=Path, default=None, help="where files are written")
    args = parser.parse_args()
    files = sorted((args.region / "extracts").rglob("*.csv"))
    if not files:
        raise SystemExit(f"{args.region}: no extracts/**/*.csv (make one with phm synth)")
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        work = Path(scratch)
        key = secrets.token_bytes(32)
        batch, linked = work / "landing.duckdb", work / "linked.duckdb"
        floor = _timed(lambda: io_floor(args.region, work))
        shutil.rmtree(work / "io-floor")
        landing = _timed(lambda: land(files, batch, key, work / "spill-1"))
        linking = _timed(lambda: copy(batch, key, linked, work / "spill-2"))
        sizes = batch.stat().st_size, linked.stat().st_size
    print(f"extract files:              {len(files)}")
    rows = (
        ("I/O floor (CSV -> Parquet)", floor),
        ("landing, no checks", landing),
        ("linked zone, a copy", linking),
    )
    for name, (seconds, cpu) in rows:
        ratio = seconds / floor[0]
        print(f"{name + ':':<28}{seconds:6.1f} s, {cpu:6.1f} CPU s, {ratio:4.2f}x floor")
    moved = landing[0] + linking[0]
    moved_cpu = landing[1] + linking[1]
    print(
        f"{'movement floor:':<28}{moved:6.1f} s, {moved_cpu:6.1f} CPU s, "
        f"{moved / floor[0]:4.2f}x floor ({moved_cpu / floor[1]:.2f}x in CPU s)"
    )
    landing_mb, linked_mb = (size / 1e6 for size in sizes)
    print(f"encrypted files:            {landing_mb:.0f} MB landing, {linked_mb:.0f} MB linked")


if __name__ == "__main__":
    main()
