"""Movement floor: the data movement the design itself requires, and nothing else, against the
I/O floor `phm bench` divides by, on an existing region.

    python benchmarks/movement_floor.py REGION_DIR [--scratch DIR]

REGION_DIR is a synthetic region (`phm synth`, or a `phm bench --out` folder's `region`). Three
measurements, one after the other, on the same files, each in a fresh process: the I/O floor as
`phm bench` measures it (`bench.stages.io_floor`), then the movement floor (`bench.movement`:
the extracts landed in an encrypted DuckDB file with no checks, then copied once into a
second), then the same movement with both zones as encrypted Parquet files. `phm bench
--movement-floor` runs the first two on a region it makes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from openphm.bench.measure import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region", type=Path)
    parser.add_argument("--scratch", type=Path, default=None, help="where files are written")
    args = parser.parse_args()
    region = args.region.absolute()
    if not any((region / "extracts").rglob("*.csv")):
        raise SystemExit(f"{args.region}: no extracts/**/*.csv (make one with phm synth)")
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        where = {"region": region, "scratch": Path(scratch)}
        floor = measure("io-floor", "openphm.bench.stages:io_floor", **where)
        moved = {
            "movement floor, DuckDB files": measure(
                "movement-floor", "openphm.bench.movement:movement_floor", **where
            ),
            "movement floor, Parquet files": measure(
                "movement-floor-parquet", "openphm.bench.movement:movement_floor_parquet", **where
            ),
        }
    print(
        f"extract files:                  {floor.counts['files']} ({floor.counts['rows']:,} rows)"
    )
    for name, result in (("I/O floor (CSV -> Parquet)", floor), *moved.items()):
        print(
            f"{name + ':':<32}{result.seconds:6.1f} s, {result.cpu_seconds:6.1f} CPU s, "
            f"{result.seconds / floor.seconds:4.2f}x floor "
            f"({result.cpu_seconds / floor.cpu_seconds:.2f}x in CPU s)"
        )
        if result is not floor:
            counts = result.counts
            print(
                f"{'':<32}landing, no checks {counts['landing_s']} s, {counts['landing_mb']} MB; "
                f"linked zone, a copy {counts['copy_s']} s, {counts['linked_mb']} MB"
            )


if __name__ == "__main__":
    main()
